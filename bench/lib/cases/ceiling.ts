/**
 * The harness alone: generator to sink on the direct path (sender d0 -> receiver d1, no relay), flat
 * out and by NDR search, and its latency at the latency rate. A relay figure near these is the
 * harness's limit, not the relay's.
 */
import { Bench, trafficFlows } from '../harness';
import type { Traffic } from '../probe';
import type { CeilingResult } from '../results';

/** Flat-out probe length: long enough for the sink's buffer not to hide a shortfall. */
const FLAT_OUT_SECONDS = 2;

export async function measureCeiling(bench: Bench, size: number): Promise<CeilingResult> {
  const { progress } = bench;
  progress.section(`harness ceiling, ${size}-byte payloads (generator -> sink directly)`);
  const traffic: Traffic = { path: 'direct', flows: trafficFlows(1), outputs: [], size };
  const flatOut = await bench.probe(`direct ${size}B flat out`, traffic, 0, FLAT_OUT_SECONDS, null);
  const ndr = await bench.measureNdr(`direct ${size}B`, traffic, null, flatOut.offeredPps);
  const latency = await bench.latency(`direct ${size}B`, traffic, null);
  return { size, flatOut, ndr, latency: latency.median, latencyP99Samples: latency.samples.map((r) => r.latencyNs.p99) };
}
