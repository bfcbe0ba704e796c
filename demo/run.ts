/**
 * `npm run demo`: mcr relaying a stream the kernel will not route, in namespaces built for the demo.
 *
 *   sender 10.1.0.2 ── in0 [relay] out1 ── r1 10.11.0.2 receiver
 *
 * The relay has no route back to 10.1.0.0/24 and rp_filter 1, and the stream is sent with TTL 1.
 * The kernel alone delivers nothing: where it has multicast routing (CONFIG_IP_MROUTE, detected by
 * trying MRT_INIT), an MFC entry installed for the flow still drops it (reverse-path check, TTL 1);
 * where it has none, it cannot forward multicast at all (see kernel-alone.ts). mcrd, which needs no
 * multicast routing, delivers it with one rule created over gRPC. Shows live stats and a few traced
 * packets, then deletes everything it built (also on Ctrl-C or failure).
 *
 *   sudo npm run demo                        # pauses between steps on a terminal
 *   sudo npm run demo -- --non-interactive   # straight through (CI); prints a JSON summary last
 *
 * Exit status 0 when mcr forwarded packets and the kernel alone delivered none.
 */
import fs from 'fs';
import readline from 'readline';

import { connect, McrClient } from '../clients/lib';
import { RuleState } from '../gen/mcr/v1/rules';
import { TraceRecord, Verdict } from '../gen/mcr/v1/trace';
import { KernelCapability, kernelMulticastRouting } from '../bench/lib/kernel-capabilities';
import { KernelRelay } from '../bench/lib/relays/kernel';
import { BenchTopology, outputLink, RELAY_IN, SOURCE } from '../bench/lib/topology';
import { resolveTools, ToolName } from '../bench/lib/tools';
import { runGen, Sink } from '../bench/lib/traffic';
import { Mcrd, MCRD_MAIN } from '../test/support/mcrd';
import { waitFor } from '../test/support/poll';
import { kernelAlonePlan } from './kernel-alone';

const GROUP = '239.1.1.1';
const PORT = 5000;
const RATE = 1000;
const SECONDS = 4;
const OUT = outputLink(1);

interface Summary {
  event: 'demo';
  /** Whether the relay's kernel can route multicast, and how that was found out. */
  kernelMulticastRouting: KernelCapability;
  /** What the kernel could and could not do with the stream. */
  kernel: string;
  sent: { kernel: number; mcr: number };
  delivered: { kernel: number; mcr: number };
  mcrForwarded: number;
  traced: number;
}

const say = (line = '') => process.stdout.write(`${line}\n`);

async function pause(interactive: boolean): Promise<void> {
  if (!interactive) return;
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  await new Promise<void>((resolve) => rl.question('  (Enter to go on) ', () => resolve()));
  rl.close();
}

/** Sends the demo stream (TTL 1, from the unroutable source) and returns what was sent and received. */
async function stream(topology: BenchTopology, tools: Record<ToolName, string>, run: number): Promise<{ sent: number; delivered: number }> {
  const sink = await Sink.start(tools.sink, topology.ns.receiver, {
    port: PORT,
    groups: [GROUP],
    joins: [OUT.receiver.address],
    run,
    seconds: SECONDS + 20,
    idleMs: 500,
  });
  const sent = await runGen(tools.gen, topology.ns.sender, {
    destinations: [`${GROUP}:${PORT}`],
    bind: SOURCE.address,
    size: 200,
    rate: RATE,
    seconds: SECONDS,
    run,
    ttl: 1,
  });
  const received = await sink.finish();
  return { sent: sent.sent, delivered: received.streams.reduce((sum, s) => sum + s.unique, 0) };
}

async function kernelAlone(topology: BenchTopology, tools: Record<ToolName, string>, routing: KernelCapability): Promise<{ sent: number; delivered: number; explanation: string }> {
  const plan = kernelAlonePlan(routing);
  say(`== 2. ${plan.heading}`);
  say(`   multicast routing in this kernel: ${routing.available ? 'yes' : 'no'} (${routing.reason})`);
  const kernel = plan.installMfc ? new KernelRelay({ topology, tools, relayCpu: 0, log: (line) => say(line) }) : null;
  await kernel?.start({ flows: [{ group: GROUP, port: PORT }], outputs: [1], idleFlows: [] });
  try {
    const result = await stream(topology, tools, 1);
    say(`   sent ${result.sent}, delivered ${result.delivered} (${plan.verdict})`);
    return { ...result, explanation: plan.explanation };
  } finally {
    await kernel?.stop();
  }
}

function traceLine(record: TraceRecord): string {
  const outputs = record.outputs.map((o) => `${o.interface} ${o.address}:${o.port} ${o.error || 'sent'}`).join(', ');
  const verdict = record.verdict === Verdict.VERDICT_FORWARDED ? 'forwarded' : `dropped (${record.dropReason})`;
  return `   ${record.sourceAddress}:${record.sourcePort} -> ${record.destinationAddress}:${record.destinationPort} ttl ${record.ttl} len ${record.ipLength}: ${verdict} to ${outputs}, ${(Number(record.timeInMcrNanos) / 1000).toFixed(1)} us in mcr`;
}

async function withMcr(topology: BenchTopology, tools: Record<ToolName, string>, interactive: boolean): Promise<Pick<Summary, 'mcrForwarded' | 'traced'> & { sent: number; delivered: number }> {
  say('== 3. mcr: mcrd in the relay namespace, one rule created over gRPC');
  const mcrd = new Mcrd(topology.ns.relay, { workers: 1, logLevel: 'warn' });
  let client: McrClient | null = null;
  try {
    await mcrd.start();
    client = connect({ socket: mcrd.socketPath });
    const { rule } = await client.createRule({
      rule: { name: 'demo', input: { interface: RELAY_IN.ifname, group: GROUP, port: PORT }, outputs: [{ interface: OUT.relay.ifname, address: GROUP, port: PORT }] },
    });
    const id = rule!.id;
    const mcr = client;
    await waitFor('the rule to be active', () => mcr.getRule({ rule: id }), (r) => r.rule?.status?.state === RuleState.RULE_STATE_ACTIVE, 10_000, 50);
    say(`   rule ${id} "demo": ${RELAY_IN.ifname} ${GROUP}:${PORT} -> ${OUT.relay.ifname} ${GROUP}:${PORT} (active)`);
    await pause(interactive);

    await mcr.enableTrace({ rule: id, recordLimit: 5 });
    const ticker = setInterval(() => {
      void mcr.getStats({}).then(({ rules }) => {
        const stats = rules.find((r) => r.ruleId === id);
        if (stats) say(`   stats: received ${stats.packetsReceived}, forwarded ${stats.packetsForwarded}, ${Math.round(stats.packetsPerSecond)} packets/s`);
      }, () => undefined);
    }, 1000);
    let result: { sent: number; delivered: number };
    try {
      result = await stream(topology, tools, 2);
    } finally {
      clearInterval(ticker);
    }
    const { rules } = await mcr.getStats({});
    const forwarded = Number(rules.find((r) => r.ruleId === id)?.packetsForwarded ?? 0);
    say(`   sent ${result.sent}, delivered ${result.delivered}; mcr forwarded ${forwarded}`);
    await pause(interactive);

    say('== 4. The first packets of the stream, traced (mcrctl trace RULE shows them live)');
    const { records } = await mcr.getTrace({ rule: id });
    for (const record of records) say(traceLine(record));
    return { ...result, mcrForwarded: forwarded, traced: records.length };
  } finally {
    client?.close();
    await mcrd.stop().catch(() => undefined);
    await mcrd.dispose();
  }
}

async function main(): Promise<number> {
  const interactive = !process.argv.includes('--non-interactive') && process.stdin.isTTY === true;
  if (process.getuid?.() !== 0) throw new Error('the demo needs root (network namespaces, veth pairs, AF_PACKET)');
  if (!fs.existsSync(MCRD_MAIN)) throw new Error(`mcrd is not built: ${MCRD_MAIN} does not exist (run \`npm run build\`)`);
  const tools = resolveTools(() => undefined);

  say('== 1. A network the kernel cannot route across');
  say(`   sender ${SOURCE.address} -- ${RELAY_IN.ifname} [relay] ${OUT.relay.ifname} -- ${OUT.receiver.address} receiver`);
  say(`   stream ${GROUP}:${PORT}, TTL 1, ${RATE} packets/s for ${SECONDS} s; the relay has no route back to ${SOURCE.address}, rp_filter 1`);
  const topology = BenchTopology.create({ relay: 0, harness: 0 });
  try {
    topology.setRpFilter(1);
    const routing = kernelMulticastRouting(topology.ns.relay, tools.mroute);
    await pause(interactive);
    const kernel = await kernelAlone(topology, tools, routing);
    await pause(interactive);
    const mcr = await withMcr(topology, tools, interactive);
    const summary: Summary = {
      event: 'demo',
      kernelMulticastRouting: routing,
      kernel: kernel.explanation,
      sent: { kernel: kernel.sent, mcr: mcr.sent },
      delivered: { kernel: kernel.delivered, mcr: mcr.delivered },
      mcrForwarded: mcr.mcrForwarded,
      traced: mcr.traced,
    };
    say(`== Kernel alone delivered ${kernel.delivered} of ${kernel.sent}; mcr delivered ${mcr.delivered} of ${mcr.sent}.`);
    say(`   The kernel: ${kernel.explanation}.`);
    say(JSON.stringify(summary));
    return mcr.mcrForwarded > 0 && mcr.delivered > 0 && kernel.delivered === 0 ? 0 : 1;
  } finally {
    topology.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
