/**
 * Scale cases, at the first payload size, each an NDR (in input packets per second) with its own setup:
 *   - rules: traffic on `scaleFlows` flows with only their rules installed, then with `manyRules` rules
 *     installed in total (the rest idle); compared with the one-rule NDR of the main cases; each also
 *     with the relay's CPU per packet at the plan's latency rate (sensitive where the NDR is the
 *     harness's ceiling);
 *   - fan-out: one flow sent out on `fanOut` output links (every relay);
 *   - workers: `scaleFlows` flows through mcr with 1 and with 2 workers (each flow's rule is placed
 *     on a worker by hash, so the load spreads over both only with several flows).
 */
import { Bench, idleFlows, trafficFlows } from '../harness';
import { formatRate } from '../progress';
import type { RelayName } from '../plan';
import type { Relay, RelaySetup } from '../relays';
import { McrRelay } from '../relays/mcr';
import type { CeilingResult, ScaleKind, ScaleResult } from '../results';

export interface ScaleCase {
  kinds: ScaleKind[];
  label: string;
  relay: RelayName;
  setup: RelaySetup;
}

function scaleCases(flows: number, manyRules: number, fanOut: number): ScaleCase[] {
  const many = (relay: RelayName): ScaleCase => ({
    kinds: ['rules'],
    label: `${flows} flows, ${manyRules} rules`,
    relay,
    setup: { flows: trafficFlows(flows), outputs: [1], idleFlows: idleFlows(manyRules - flows) },
  });
  const few = (relay: RelayName, kinds: ScaleKind[]): ScaleCase => ({
    kinds,
    label: `${flows} flows, ${flows} rules`,
    relay,
    setup: { flows: trafficFlows(flows), outputs: [1], idleFlows: [] },
  });
  const fan = (relay: RelayName): ScaleCase => ({
    kinds: ['fanout'],
    label: `1 flow, ${fanOut} outputs`,
    relay,
    setup: { flows: trafficFlows(1), outputs: Array.from({ length: fanOut }, (_, i) => i + 1), idleFlows: [] },
  });
  return [
    few('mcr-w1', ['rules', 'workers']),
    many('mcr-w1'),
    few('mcr-w2', ['workers']),
    few('kernel', ['rules']),
    many('kernel'),
    fan('mcr-w1'),
    fan('kernel'),
    fan('socat'),
  ];
}

/** `relay`: the name of the relay that runs the case (`kernel` resolves to `kernel-unicast` without multicast routing). */
function describeCase(c: ScaleCase, size: number, relay: string): ScaleResult {
  return {
    kind: c.kinds[0],
    label: c.label,
    relay,
    size,
    flows: c.setup.flows.length,
    outputs: c.setup.outputs.length,
    installedRules: c.setup.flows.length + c.setup.idleFlows.length,
  };
}

export async function measureCase(bench: Bench, c: ScaleCase, relay: Relay, ceiling: CeilingResult): Promise<ScaleResult> {
  const size = ceiling.size;
  const result = describeCase(c, size, relay.name);
  const unsupported = relay.unsupported(c.setup);
  if (unsupported) return { ...result, skipped: unsupported };
  bench.progress.section(`scale: ${relay.name}, ${c.label}, ${size}-byte payloads`);
  try {
    await relay.start(c.setup);
    const traffic = { path: 'relay' as const, flows: c.setup.flows, outputs: c.setup.outputs, size };
    await bench.warmUp(relay.name, traffic, relay);
    result.memoryKb = relay.memory();
    if (relay instanceof McrRelay) result.rulesPerWorker = await relay.rulesPerWorker();
    result.ndr = await bench.measureNdr(`${relay.name} ${c.label}`, traffic, relay, ceiling.ndr.ndr);
    result.deliveredAtNdr = result.ndr.ndr * c.setup.outputs.length;
    bench.progress.line(`  ${relay.name} ${c.label}: NDR ${formatRate(result.ndr.ndr)} input pps, ${formatRate(result.deliveredAtNdr)} copies/s delivered`);
    // The NDR of a rules case often sits at the harness's ceiling; the CPU a packet costs at a fixed rate
    // still tells whether the rules installed make matching dearer.
    if (c.kinds.includes('rules')) {
      const rate = bench.plan.latencyRate;
      result.cpuAtRate = await bench.cpuPerPacket(`${relay.name} ${c.label} at ${formatRate(rate)} pps`, traffic, relay, rate);
      bench.progress.line(`  ${relay.name} ${c.label}: ${result.cpuAtRate.totalUs.toFixed(2)} µs of CPU per packet at ${formatRate(rate)} pps`);
    }
  } catch (err) {
    result.failed = (err as Error).message;
    bench.progress.line(`  ${relay.name} ${c.label} FAILED: ${result.failed}`);
  } finally {
    await relay.stop();
  }
  return result;
}

/**
 * Every scale case whose relay exists (`relays` gives the relay of each name, or why it was skipped);
 * a case measured for several kinds is listed once per kind.
 */
export async function measureScale(bench: Bench, relays: (name: RelayName) => Relay | { skipped: string }, ceiling: CeilingResult): Promise<ScaleResult[]> {
  const { plan } = bench;
  const results: ScaleResult[] = [];
  for (const c of scaleCases(plan.scaleFlows, plan.manyRules, plan.fanOut)) {
    const relay = relays(c.relay);
    const measured = 'skipped' in relay ? { ...describeCase(c, ceiling.size, c.relay), skipped: relay.skipped } : await measureCase(bench, c, relay, ceiling);
    for (const kind of c.kinds) results.push({ ...measured, kind });
  }
  return results;
}
