/**
 * No-drop rate by search: the highest offered rate whose probe loses at most `maxLoss` of the packets.
 *
 * The ceiling itself is probed flat out (rate 0): the generator then offers all it can, which is a
 * little more than it can pace.
 *
 * A search keeps a rate known to pass (lo) and one known to fail (hi), each established by a probe, and
 * bisects geometrically (sqrt(lo * hi)) until hi / lo <= 1 + precision. It starts from a bracket
 * guess; a guess that turns out wrong is widened (lo halved, hi doubled up to the ceiling) by further
 * probes. The result is the offered rate (what the generator achieved) of the best passing probe.
 * Every search is bounded by maxProbes.
 *
 * A probe whose generator fell short of the requested rate (by more than SHORT_FRACTION) while nothing
 * was lost is repeated once, in case something else on the machine held the generator back; if it
 * stays short, the relay is at least that good and the harness cannot show more (generatorLimited).
 */
import type { ProbeResult } from './probe';

export interface SearchOptions {
  /** The highest rate worth offering (the harness's own limit). */
  ceiling: number;
  /** Below this the search gives up and reports 0 (the relay forwards almost nothing losslessly). */
  floor: number;
  /** Starting bracket. */
  lo: number;
  hi: number;
  precision: number;
  maxLoss: number;
  maxProbes: number;
}

/** A probe is short when the generator achieved less than this fraction of the requested rate. */
const SHORT_FRACTION = 0.95;

export interface SearchResult {
  /** Offered rate of the best passing probe; 0 if none passed. */
  ndr: number;
  /** The loss limit was met at the ceiling: the relay may do better than the harness can show. */
  atCeiling: boolean;
  /** The bracket did not close within maxProbes. */
  unfinished: boolean;
  /** The best passing probe offered less than was asked: the generator, not the relay, was the limit. */
  generatorLimited: boolean;
  probes: ProbeResult[];
}

export type ProbeAt = (rate: number) => Promise<ProbeResult>;

export async function searchNdr(probeAt: ProbeAt, o: SearchOptions): Promise<SearchResult> {
  const probes: ProbeResult[] = [];
  let best: ProbeResult | null = null;
  const exhausted = () => probes.length >= o.maxProbes;
  const isShort = (r: ProbeResult) => r.requestedPps > 0 && r.offeredPps < SHORT_FRACTION * r.requestedPps;
  const run = async (requested: number): Promise<boolean> => {
    const rate = requested >= o.ceiling ? 0 : requested;
    let result = await probeAt(rate);
    probes.push(result);
    if (result.loss <= o.maxLoss && isShort(result) && !exhausted()) {
      const again = await probeAt(rate);
      probes.push(again);
      if (again.loss > o.maxLoss || again.offeredPps > result.offeredPps) result = again;
    }
    const pass = result.loss <= o.maxLoss;
    if (pass && (best === null || result.offeredPps > best.offeredPps)) best = result;
    return pass;
  };
  const finish = (atCeiling: boolean, unfinished: boolean): SearchResult => {
    const found = best as ProbeResult | null;
    return { ndr: found?.offeredPps ?? 0, atCeiling, unfinished, generatorLimited: found !== null && isShort(found), probes };
  };

  let hi = Math.min(o.hi, o.ceiling);
  let lo = Math.max(Math.min(o.lo, hi / (1 + o.precision)), o.floor);

  // Establish hi as failing: widen upwards while it passes.
  for (;;) {
    if (exhausted()) return finish(false, true);
    if (!(await run(hi))) break;
    if (hi >= o.ceiling) return finish(true, false);
    lo = hi;
    hi = Math.min(o.ceiling, hi * 2);
  }
  // Establish lo as passing (unless hi's widening already did): widen downwards while it fails.
  if (lo < hi && !probes.some((p) => p.requestedPps === lo && p.loss <= o.maxLoss)) {
    for (;;) {
      if (exhausted()) return finish(false, true);
      if (await run(lo)) break;
      hi = lo;
      if (lo <= o.floor) return finish(false, false);
      lo = Math.max(o.floor, lo / 2);
    }
  }
  // Bisect.
  while (hi / lo > 1 + o.precision) {
    if (exhausted()) return finish(false, true);
    const mid = Math.sqrt(lo * hi);
    if (await run(mid)) lo = mid;
    else hi = mid;
  }
  return finish(false, false);
}

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
