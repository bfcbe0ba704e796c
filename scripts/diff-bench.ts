/**
 * The per-change cost of the control plane on a real mcrd holding N rules x K outputs whose outputs
 * go to K shared destinations (rule i sends to 239.255.0.k port 6000 on out k, k = 1..K), so that the
 * set installs whatever the open-file limit (one egress socket per destination today):
 *
 *   node -r ts-node/register/transpile-only scripts/diff-bench.ts [--rules 20000] [--outputs 4]
 *       [--diffs 5] [--views whole,changes] [--pairs 100] [--clients 50] [--client-pairs 500]
 *       [--cpu-prof DIR] [--node-flags '--trace-gc ...'] [--mcrd-log FILE] [--unique] [--rss-after S]
 *
 * - ApplyRules of all N, until installed (ListWorkers);
 * - `--diffs` one-rule diffs: ApplyRules of the same N with rule 0's input port moved back and forth
 *   (the RPC answers once the forwarding pass that installs it has finished), answered whole (the
 *   default view) and then in the CHANGES view (`--views`: any of whole, changes, counts); through
 *   the client library, taking turns with the same diffs sent with the request encoded beforehand
 *   (the round trip without the client's encoding), and again with the answer not decoded (then
 *   decoded apart); and that encoding alone;
 * - CreateRule/DeleteRule, one client: `--pairs` delete+create pairs, p50 / p99 of each, and the CPU
 *   mcrd and the workers spent per write;
 * - the same with `--clients` clients at once, `--client-pairs` pairs in all.
 *
 * Runs as root (namespaces). `--cpu-prof DIR` starts mcrd with node's --cpu-prof (written at exit);
 * `--node-flags` adds node flags to mcrd's, `--mcrd-log FILE` writes what mcrd printed to FILE.
 */
import { writeFileSync } from 'fs';

import { connect, McrClient } from '../clients/lib';
import { ApplyRulesResponse, ApplyRulesView, DeepPartial, Rule } from '../gen/mcr/v1/rules';
import { workersInstalled } from '../bench/control-plane/daemon';
import { cpuDuring, residentMb } from '../bench/control-plane/process-cpu';
import { percentile } from '../bench/control-plane/latency';
import { encodeApplyRules, PreEncodedApply } from '../bench/control-plane/pre-encoded';
import { ControlPlaneNamespaces } from '../bench/control-plane/namespaces';
import { groupOf, INPUT_IFNAME, outputIfname, PORT } from '../bench/control-plane/rule-set';
import { mcrdArgsFor } from '../bench/control-plane/shape';
import { Mcrd } from '../test/support/mcrd';
import { numberOption, textOption } from './lib/argv';


const RULES = numberOption('rules', 20_000);
const OUTPUTS = numberOption('outputs', 4);
/** `--unique`: each rule sends to its own group on every output (the control-plane bench's rule set), not to K shared destinations. */
const UNIQUE = process.argv.includes('--unique');
const DIFFS = numberOption('diffs', 5);
const PAIRS = numberOption('pairs', 100);
const CLIENTS = numberOption('clients', 50);
const CLIENT_PAIRS = numberOption('client-pairs', 500);
const PROFILE_DIR = textOption('cpu-prof');
/** `--rss-after S`: mcrd's and its workers' RSS S seconds after the writes. */
const RSS_AFTER = textOption('rss-after') === undefined ? undefined : numberOption('rss-after', 30);
const NODE_FLAGS = (textOption('node-flags') ?? '').split(' ').filter(Boolean);
const MCRD_LOG = textOption('mcrd-log');
/** The answer views the diffs are asked in, each in turn (a profile of one view's diffs: `--views changes`). */
const VIEWS = { whole: ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED, changes: ApplyRulesView.APPLY_RULES_VIEW_CHANGES, counts: ApplyRulesView.APPLY_RULES_VIEW_COUNTS };
const LABELS = { whole: 'whole answer', changes: 'CHANGES view', counts: 'COUNTS view' };
const views = (textOption('views') ?? 'whole,changes').split(',') as Array<keyof typeof VIEWS>;
for (const view of views) if (!(view in VIEWS)) throw new Error(`--views: ${view} is not one of ${Object.keys(VIEWS).join(', ')}`);

/** Rule i: group 239.0.0.0 + 1 + i on in0, sent to the K shared destinations. */
function ruleAt(i: number, inputPort = PORT): DeepPartial<Rule> {
  const group = groupOf(i);
  return {
    name: `cp-${i}`,
    input: { interface: INPUT_IFNAME, group, port: inputPort },
    outputs: Array.from({ length: OUTPUTS }, (_, k) => ({ interface: outputIfname(k + 1), address: UNIQUE ? group : `239.255.0.${k + 1}`, port: 6000 })),
  };
}

function ruleSet(changedPort?: number): DeepPartial<Rule>[] {
  const rules = Array.from({ length: RULES }, (_, i) => ruleAt(i));
  if (changedPort !== undefined) rules[0] = ruleAt(0, changedPort);
  return rules;
}

const ms = (v: number) => `${v.toFixed(1)} ms`;

async function timed(call: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await call();
  return performance.now() - t0;
}

async function waitInstalled(client: McrClient, rules: number, boundMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    try {
      if (workersInstalled((await client.listWorkers({}, { timeoutMs: 5000 })).workers, rules)) return performance.now() - t0;
    } catch {
      // busy: poll again
    }
    if (performance.now() - t0 > boundMs) throw new Error(`not installed within ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function writes(socket: string, clients: number, pairs: number): Promise<{ create: number[]; del: number[]; seconds: number }> {
  const create: number[] = [];
  const del: number[] = [];
  const list = Array.from({ length: clients }, () => connect({ socket }));
  const t0 = performance.now();
  try {
    await Promise.all(
      list.map(async (client, c) => {
        for (let i = c; i < pairs; i += clients) {
          const rule = ruleAt(i);
          del.push(await timed(() => client.deleteRule({ rule: rule.name }, { timeoutMs: 60_000 })));
          create.push(await timed(() => client.createRule({ rule }, { timeoutMs: 60_000 })));
        }
      }),
    );
  } finally {
    for (const client of list) client.close();
  }
  return { create, del, seconds: (performance.now() - t0) / 1000 };
}

function describe(label: string, w: { create: number[]; del: number[]; seconds: number }): string {
  return (
    `${label}: create p50 ${ms(percentile(w.create, 50))} p99 ${ms(percentile(w.create, 99))}, ` +
    `delete p50 ${ms(percentile(w.del, 50))} p99 ${ms(percentile(w.del, 99))}, ${((w.create.length + w.del.length) / w.seconds).toFixed(0)} writes/s`
  );
}

async function main(): Promise<void> {
  const ns = ControlPlaneNamespaces.create(OUTPUTS, RULES);
  const nodeFlags = [...(PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : []), ...NODE_FLAGS];
  const mcrd = new Mcrd(ns.mcrd, { workers: undefined, logLevel: 'warn', extraArgs: mcrdArgsFor(RULES), nodeFlags });
  let client: McrClient | undefined;
  try {
    await mcrd.start(60_000);
    client = connect({ socket: mcrd.socketPath });
    console.log(`${RULES} rules x ${OUTPUTS} outputs (${UNIQUE ? 'each rule its own destinations' : 'shared destinations'})`);
    const apply = await timed(() => client!.applyRules({ rules: ruleSet(), replace: true }, { timeoutMs: 600_000 }));
    const installed = await waitInstalled(client, RULES, 600_000);
    console.log(`ApplyRules all: ${ms(apply)}, then installed after ${ms(installed)} more`);
    // The same diffs answered whole (every rule, the default view, what the bench's control-plane
    // section asks) and in the CHANGES view (the changed rule whole, the others counted).
    for (const [label, view] of views.map((name) => [LABELS[name], VIEWS[name]] as const)) {
      const diffs: number[] = [];
      const preDiffs: number[] = [];
      const rawDiffs: number[] = [];
      const decodes: number[] = [];
      let answerBytes = 0;
      const encodings: number[] = [];
      // The two sets are made before the clock starts: the figure is the call's (the client's
      // encoding included), not the making of 20,000 rule objects. Taking turns with those calls,
      // the same diffs with the request encoded beforehand on a channel of their own (the client's
      // share out); and what that encoding costs here.
      const requests = [ruleSet(PORT + 1), ruleSet()].map((rules) => ({ rules, replace: true, view }));
      for (let d = 0; d < DIFFS; d++) encodings.push(await timed(async () => encodeApplyRules(requests[d % 2])));
      const preEncoded = encodeApplyRules(requests[1]);
      const pre = new PreEncodedApply(mcrd.socketPath);
      try {
        for (let d = 0; d < DIFFS; d++) {
          diffs.push(await timed(() => client!.applyRules(requests[0], { timeoutMs: 600_000 })));
          preDiffs.push(await timed(() => pre.call(preEncoded, 600_000)));
          const t0 = performance.now();
          const answer = await pre.raw(preEncoded, 600_000);
          rawDiffs.push(performance.now() - t0);
          answerBytes = answer.length;
          decodes.push(await timed(async () => ApplyRulesResponse.decode(answer)));
        }
      } finally {
        pre.close();
      }
      await waitInstalled(client, RULES, 60_000);
      const summary = (values: number[]) => `median ${ms(percentile(values, 50))}, p90 ${ms(percentile(values, 90))}`;
      console.log(`ApplyRules one-rule diff, ${label} (${DIFFS}): ${diffs.map(ms).join(', ')}; ${summary(diffs)}`);
      console.log(`  the same, the request encoded beforehand: ${preDiffs.map(ms).join(', ')}; ${summary(preDiffs)}; the client's encoding of it: ${summary(encodings)}`);
      console.log(`  the same, the answer not decoded: ${summary(rawDiffs)}; decoding its ${(answerBytes / 1e6).toFixed(2)} MB: ${summary(decodes)}`);
    }
    for (const [label, clients, pairs] of [['one client', 1, PAIRS], [`${CLIENTS} clients`, CLIENTS, CLIENT_PAIRS]] as const) {
      const ownBefore = process.cpuUsage();
      const { cpu, value } = await cpuDuring(ns.mcrd, mcrd.pid!, () => writes(mcrd.socketPath, clients, pairs));
      const own = process.cpuUsage(ownBefore);
      const perWrite = (percent: number) => `${((percent / 100) * cpu.seconds * 1000 / (2 * pairs)).toFixed(2)} ms`;
      const clientPerWrite = `${((own.user + own.system) / 1000 / (2 * pairs)).toFixed(2)} ms`;
      console.log(`${describe(`CreateRule/DeleteRule, ${label}`, value)}; CPU per write: mcrd ${perWrite(cpu.mcrd)}, workers ${perWrite(cpu.workers)}, the clients (this process) ${clientPerWrite}`);
    }
    await waitInstalled(client, RULES, 60_000);
    if (RSS_AFTER !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, RSS_AFTER * 1000));
      const rss = residentMb(ns.mcrd, mcrd.pid!);
      console.log(`RSS ${RSS_AFTER} s after the writes: mcrd ${rss.mcrd.toFixed(0)} MB, workers ${rss.workers.map((w) => w.toFixed(0)).join(' / ')} MB`);
    }
  } finally {
    client?.close();
    await mcrd.stop();
    if (MCRD_LOG) writeFileSync(MCRD_LOG, mcrd.logs());
    const warnings = mcrd.logs().split('\n').filter((line) => /"level":"(warn|error)"/.test(line));
    if (warnings.length > 0) console.log(`mcrd logged ${warnings.length} warnings or errors, the first:\n${warnings.slice(0, 5).join('\n')}`);
    await mcrd.dispose();
    ns.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
