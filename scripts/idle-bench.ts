/**
 * Idle CPU, stats CPU and RSS of a real mcrd holding N rules x K outputs whose outputs go to K shared
 * destinations (rule i sends to 239.255.0.k:6000 on out k), the shape that installs within the
 * open-file limit while each rule x output still has counters of its own (issue 15; the bench's
 * control-plane section measures distinct destinations):
 *
 *   node -r ts-node/register/transpile-only scripts/idle-bench.ts [--rules 20000] [--outputs 4] \
 *       [--idle 30] [--stats 30] [--settle 5] [--metrics] [--timeline] [--distinct] [--trace-gc] [--cpu-prof DIR]
 *
 * Builds the control-plane namespaces (bench/control-plane/namespaces.ts), starts dist/server/main.js
 * in them, applies the rules, waits until every worker holds them, then measures, from /proc/PID/stat:
 *   - idle: mcrd and its workers over `--idle` s with no client;
 *   - stats: the same with a WatchStats stream of every rule at 1 s (and its cost over idle);
 *   - metrics (with --metrics): the same with a Prometheus scrape each second;
 * and the RSS of mcrd and its workers. `--timeline` prints the CPU of each 5 s of the idle and stats windows; `--distinct` uses
 * the bench's rule set instead (every rule x output its own destination and socket: within the
 * open-file limit only up to about 4,000 x 4); `--trace-gc` prints mcrd's GC trace; `--cpu-prof DIR` runs mcrd with node's --cpu-prof (the
 * profile is written to DIR when mcrd stops).
 */
import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';

import type { DeepPartial, Rule } from '../gen/mcr/v1/rules';
import { sleep } from '../bench/control-plane/bounded';
import { MeasuredMcrd } from '../bench/control-plane/daemon';
import { ControlPlaneNamespaces } from '../bench/control-plane/namespaces';
import { cpuDuring, residentMb } from '../bench/control-plane/process-cpu';
import type { CpuWindow } from '../bench/control-plane/results';
import { groupOf, INPUT_IFNAME, outputIfname, PORT, ruleSet } from '../bench/control-plane/rule-set';
import { mcrdArgsFor } from '../bench/control-plane/shape';
import { numberOption, textOption } from './lib/argv';


const RULES = numberOption('rules', 20_000);
const OUTPUTS = numberOption('outputs', 4);
const IDLE_S = numberOption('idle', 30);
const STATS_S = numberOption('stats', 30);
const SETTLE_S = numberOption('settle', 5);
const METRICS = process.argv.includes('--metrics');
const TIMELINE = process.argv.includes('--timeline');
const TRACE_GC = process.argv.includes('--trace-gc');
/** The bench's own rule set: every rule x output its own destination (and socket). */
const DISTINCT = process.argv.includes('--distinct');
const CPU_PROF = textOption('cpu-prof');
const METRICS_PORT = 9464;

/** Rule i: group 239.0.0.1 + i on in0, sent to 239.255.0.k:6000 on out k (K destinations in all). */
function sharedRuleSet(rules: number, outputs: number): DeepPartial<Rule>[] {
  return Array.from({ length: rules }, (_, i) => ({
    name: `cp-${i}`,
    input: { interface: INPUT_IFNAME, group: groupOf(i), port: PORT },
    outputs: Array.from({ length: outputs }, (_, k) => ({ interface: outputIfname(k + 1), address: `239.255.0.${k + 1}`, port: 6000 })),
  }));
}

const cpuText = (c: CpuWindow) => `total ${c.total.toFixed(2)}% (mcrd ${c.mcrd.toFixed(2)}%, workers ${c.workers.toFixed(2)}%) over ${c.seconds.toFixed(1)} s`;

async function watchStats(d: MeasuredMcrd, during: () => Promise<void>): Promise<{ updates: number; rules: number; error?: string }> {
  const stream = d.client.watchStats({ intervalMs: 1000 });
  let updates = 0;
  let rules = 0;
  let error: string | undefined;
  const reader = (async () => {
    try {
      for await (const update of stream) {
        updates++;
        rules += (update as { rules?: unknown[] }).rules?.length ?? 0;
      }
    } catch (err) {
      if (!/cancel/i.test((err as Error).message)) error = (err as Error).message;
    }
  })();
  await during();
  stream.cancel();
  await reader;
  return { updates, rules, error };
}

async function main(): Promise<void> {
  const ns = ControlPlaneNamespaces.create(OUTPUTS, RULES);
  const args = [...mcrdArgsFor(RULES), ...(METRICS ? ['--metrics', `127.0.0.1:${METRICS_PORT}`] : [])];
  const d = new MeasuredMcrd(ns.mcrd, args, [...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : []), ...(TRACE_GC ? ['--trace-gc'] : [])]);
  try {
    await d.start(60_000);
    const applyStart = Date.now();
    await d.client.applyRules({ rules: DISTINCT ? ruleSet(RULES, OUTPUTS) : sharedRuleSet(RULES, OUTPUTS), replace: true }, { timeoutMs: 300_000 });
    await d.waitInstalled(RULES, () => 300_000);
    console.log(`${RULES} x ${OUTPUTS} (${DISTINCT ? 'distinct' : 'shared'} destinations) installed in ${((Date.now() - applyStart) / 1000).toFixed(1)} s`);
    await sleep(SETTLE_S * 1000);
    const idle = (await cpuDuring(ns.mcrd, d.pid, () => timeline(ns.mcrd, d.pid, IDLE_S, 'idle'))).cpu;
    const rss = residentMb(ns.mcrd, d.pid);
    console.log(`idle: ${cpuText(idle)}`);
    console.log(`RSS: mcrd ${rss.mcrd.toFixed(0)} MB (${memoryLines(d.pid)}), workers ${rss.workers.map((w) => w.toFixed(0)).join(' / ')} MB`);
    if (STATS_S > 0) {
      const stats = await cpuDuring(ns.mcrd, d.pid, () => watchStats(d, () => timeline(ns.mcrd, d.pid, STATS_S, 'WatchStats')));
      console.log(`WatchStats at 1 s: ${cpuText(stats.cpu)}; over idle ${(stats.cpu.total - idle.total).toFixed(2)}%; ${stats.value.updates} updates, ${stats.value.rules} rule records${stats.value.error ? `; error ${stats.value.error}` : ''}`);
      const rssAfter = residentMb(ns.mcrd, d.pid);
      console.log(`RSS after WatchStats: mcrd ${rssAfter.mcrd.toFixed(0)} MB`);
    }
    if (METRICS) {
      let bytes = 0;
      const m = await cpuDuring(ns.mcrd, d.pid, async () => {
        const end = Date.now() + STATS_S * 1000;
        let n = 0;
        while (Date.now() < end) {
          const started = Date.now();
          bytes = scrape(ns.mcrd);
          n++;
          await sleep(Math.max(0, 1000 - (Date.now() - started)));
        }
        return n;
      });
      console.log(`metrics scrape each second: ${cpuText(m.cpu)}; over idle ${(m.cpu.total - idle.total).toFixed(2)}%; ${m.value} scrapes of ${bytes} bytes`);
    }
  } finally {
    if (TRACE_GC) console.log(d.mcrd.logs().split('\n').filter((l) => /Mark-Compact|Scavenge|Mark-Sweep/.test(l)).join('\n'));
    await d.stop();
    await d.dispose();
    ns.destroy();
  }
}

/** Sleeps `seconds`, printing the CPU of each 5 s with --timeline. */
async function timeline(ns: string, pid: number, seconds: number, what: string): Promise<void> {
  if (!TIMELINE) return sleep(seconds * 1000);
  const parts: string[] = [];
  for (let left = seconds; left > 0; left -= 5) {
    const { cpu } = await cpuDuring(ns, pid, () => sleep(Math.min(5, left) * 1000));
    parts.push(`${cpu.mcrd.toFixed(1)}+${cpu.workers.toFixed(1)}`);
  }
  console.log(`${what} by 5 s (mcrd+workers %): ${parts.join(' ')}`);
}

/** mcrd's resident memory by kind (/proc/PID/status). */
function memoryLines(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return ['RssAnon', 'RssFile', 'RssShmem'].map((k) => `${k} ${Math.round(Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) / 1024)} MB`).join(', ');
}

/** GET /metrics from inside the namespace (mcrd listens there); the size of the answer. */
function scrape(ns: string): number {
  return execFileSync('ip', ['netns', 'exec', ns, 'curl', '-sf', `http://127.0.0.1:${METRICS_PORT}/metrics`], { maxBuffer: 1 << 30 }).length;
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
