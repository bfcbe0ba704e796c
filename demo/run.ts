/**
 * `npm run demo`: mcr relaying a stream the kernel will not route, in namespaces built for the demo.
 *
 *   sender 10.1.0.2 ── in0 [relay] out1 ── r1 10.11.0.2 receiver
 *
 * The relay has no route back to 10.1.0.0/24 and rp_filter 1, and the stream is sent with TTL 1:
 * the kernel's own multicast routing (an MFC entry installed for the flow) delivers nothing; mcrd,
 * with one rule created over gRPC, delivers it. Shows live stats and a few traced packets, then
 * deletes everything it built (also on Ctrl-C or failure).
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
import { KernelRelay } from '../bench/lib/relays/kernel';
import { BenchTopology, outputLink, RELAY_IN, SOURCE } from '../bench/lib/topology';
import { resolveTools, ToolName } from '../bench/lib/tools';
import { runGen, Sink } from '../bench/lib/traffic';
import { Mcrd, MCRD_MAIN } from '../test/support/mcrd';
import { waitFor } from '../test/support/poll';

const GROUP = '239.1.1.1';
const PORT = 5000;
const RATE = 1000;
const SECONDS = 4;
const OUT = outputLink(1);

interface Summary {
  event: 'demo';
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

async function kernelAlone(topology: BenchTopology, tools: Record<ToolName, string>): Promise<{ sent: number; delivered: number }> {
  say('== 2. The kernel alone: its multicast routing, with an MFC entry in0 -> out1 for the flow');
  const kernel = new KernelRelay({ topology, tools, relayCpu: 0, log: (line) => say(line) });
  await kernel.start({ flows: [{ group: GROUP, port: PORT }], outputs: [1], idleFlows: [] });
  try {
    const result = await stream(topology, tools, 1);
    say(`   sent ${result.sent}, delivered ${result.delivered} (reverse-path check and TTL 1: dropped)`);
    return result;
  } finally {
    await kernel.stop();
  }
}

function traceLine(record: TraceRecord): string {
  const outputs = record.outputs.map((o) => `${o.interface} ${o.address}:${o.port} ${o.error || 'sent'}`).join(', ');
  const verdict = record.verdict === Verdict.VERDICT_FORWARDED ? 'forwarded' : `dropped (${record.dropReason})`;
  return `   ${record.sourceAddress}:${record.sourcePort} -> ${record.destinationAddress}:${record.destinationPort} ttl ${record.ttl} len ${record.ipLength}: ${verdict} to ${outputs}, ${(Number(record.timeInMcrNanos) / 1000).toFixed(1)} us in mcr`;
}

async function withMcr(topology: BenchTopology, tools: Record<ToolName, string>, interactive: boolean): Promise<Omit<Summary, 'event' | 'sent' | 'delivered'> & { sent: number; delivered: number }> {
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

    await mcr.enableTrace({ ruleId: id, recordLimit: 5 });
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
    const { records } = await mcr.getTrace({ ruleId: id });
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
    await pause(interactive);
    const kernel = await kernelAlone(topology, tools);
    await pause(interactive);
    const mcr = await withMcr(topology, tools, interactive);
    const summary: Summary = {
      event: 'demo',
      sent: { kernel: kernel.sent, mcr: mcr.sent },
      delivered: { kernel: kernel.delivered, mcr: mcr.delivered },
      mcrForwarded: mcr.mcrForwarded,
      traced: mcr.traced,
    };
    say(`== Kernel alone delivered ${kernel.delivered} of ${kernel.sent}; mcr delivered ${mcr.delivered} of ${mcr.sent}.`);
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
