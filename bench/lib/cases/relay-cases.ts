/**
 * The main cases for one relay, one flow (239.1.1.1:5000) from in0 to out1, at each payload size:
 * NDR, CPU per packet at the NDR, overload at 2x the NDR, latency (and CPU) at the latency rate; then
 * the unroutable-source case (rp_filter 1 and 2).
 */
import { Bench, trafficFlows } from '../harness';
import type { Traffic } from '../probe';
import { formatRate } from '../progress';
import type { Relay, RelaySetup } from '../relays';
import type { CeilingResult, RelayResult, SizeResult, UnroutableResult } from '../results';
import type { BenchTopology } from '../topology';

const UNROUTABLE_RATE = 10_000;

/**
 * The rate every relay's CPU per packet is also measured at: 150,000 packets/s (issue 20's figure),
 * or three quarters of the harness ceiling when that is lower, in steps of 5,000.
 */
export function commonCpuRate(ceiling: CeilingResult): number {
  return Math.min(150_000, Math.floor((ceiling.ndr.ndr * 0.75) / 5_000) * 5_000);
}

async function measureSize(bench: Bench, relay: Relay, setup: RelaySetup, ceiling: CeilingResult): Promise<SizeResult> {
  const { plan, progress } = bench;
  const size = ceiling.size;
  const label = `${relay.name} ${size}B`;
  progress.section(`${relay.name}, ${size}-byte payloads`);
  const traffic: Traffic = { path: 'relay', flows: setup.flows, outputs: setup.outputs, size };
  const result: SizeResult = { size, ndr: await bench.measureNdr(label, traffic, relay, ceiling.ndr.ndr) };
  const ndr = result.ndr.ndr;
  if (ndr > 0) {
    if (plan.cpuAtNdr) {
      result.cpuAtNdr = await bench.cpuPerPacket(`${label} at NDR`, traffic, relay, ndr);
      progress.line(`  ${label} CPU at NDR: ${result.cpuAtNdr.totalUs.toFixed(2)} us/packet (relay processes ${result.cpuAtNdr.processUs.toFixed(2)})`);
    }
    const common = commonCpuRate(ceiling);
    if (plan.cpuAtNdr && ndr >= common) {
      result.cpuAtCommonRate = { rate: common, ...(await bench.cpuPerPacket(`${label} at ${formatRate(common)} pps`, traffic, relay, common)) };
      progress.line(`  ${label} CPU at ${formatRate(common)} pps: ${result.cpuAtCommonRate.totalUs.toFixed(2)} us/packet (relay processes ${result.cpuAtCommonRate.processUs.toFixed(2)})`);
    }
    // Twice the NDR, or flat out when that is more than the generator can pace.
    const overloadRate = 2 * ndr <= ceiling.flatOut.offeredPps ? 2 * ndr : 0;
    result.overload = await bench.probe(`${label} overload (2x NDR)`, traffic, overloadRate, plan.overloadSeconds, relay);
    progress.line(`  ${label} overload: delivered ${formatRate(result.overload.deliveredPps)} pps = ${((result.overload.deliveredPps / ndr) * 100).toFixed(0)}% of NDR`);
  }
  const latency = await bench.latency(label, traffic, relay);
  result.latency = latency.median;
  result.latencyP99Samples = latency.samples.map((r) => r.latencyNs.p99);
  result.cpuAtLatencyRate = await bench.cpuPerPacket(`${label} at ${formatRate(plan.latencyRate)} pps`, traffic, relay, plan.latencyRate, latency.samples);
  const l = result.latency.latencyNs;
  progress.line(
    `  ${label} latency at ${formatRate(plan.latencyRate)} pps: p50 ${(l.p50 / 1e3).toFixed(0)} us, p99 ${(l.p99 / 1e3).toFixed(0)} us, p99.9 ${(l.p999 / 1e3).toFixed(0)} us; CPU ${result.cpuAtLatencyRate.totalUs.toFixed(2)} us/packet`,
  );
  return result;
}

async function measureUnroutable(bench: Bench, relay: Relay, setup: RelaySetup, topology: BenchTopology): Promise<UnroutableResult[]> {
  const { plan, progress } = bench;
  progress.section(`${relay.name}, unroutable source (rp_filter 1 and 2)`);
  const traffic: Traffic = { path: 'relay', flows: setup.flows, outputs: setup.outputs, size: plan.sizes[0] };
  const results: UnroutableResult[] = [];
  try {
    for (const mode of [1, 2] as const) {
      topology.setRpFilter(mode);
      const r = await bench.probe(`${relay.name} rp_filter ${mode}`, traffic, UNROUTABLE_RATE, plan.unroutablePackets / UNROUTABLE_RATE, relay);
      results.push({ rpFilter: mode, sent: r.expected, delivered: r.delivered, relayCounters: r.relayCounters });
    }
  } finally {
    topology.setRpFilter(0);
  }
  return results;
}

/** Every main case for `relay`; a relay that fails is recorded as failed and stopped. */
export async function measureRelay(
  bench: Bench,
  relay: Relay,
  ceilings: CeilingResult[],
  topology: BenchTopology,
  unroutable: boolean,
): Promise<RelayResult> {
  const setup: RelaySetup = { flows: trafficFlows(1), outputs: [1], idleFlows: [] };
  const result: RelayResult = { relay: relay.name, description: relay.description, sizes: [], unroutable: [] };
  const unsupported = relay.unsupported(setup);
  if (unsupported) return { ...result, skipped: unsupported };
  bench.progress.section(`starting ${relay.name}: ${relay.description}`);
  try {
    await relay.start(setup);
    await bench.warmUp(relay.name, { path: 'relay', flows: setup.flows, outputs: setup.outputs, size: bench.plan.sizes[0] }, relay);
    for (const ceiling of ceilings) result.sizes.push(await measureSize(bench, relay, setup, ceiling));
    if (unroutable) result.unroutable = await measureUnroutable(bench, relay, setup, topology);
  } catch (err) {
    result.failed = (err as Error).message;
    bench.progress.line(`  ${relay.name} FAILED: ${result.failed}`);
  } finally {
    await relay.stop();
  }
  return result;
}
