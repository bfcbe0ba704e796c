/** Percentiles of call latencies (pure: unit-tested). */
import type { LatencySummary } from './results';

/**
 * The p-th percentile (0 < p <= 100) of `values` by the nearest-rank method: the smallest value such
 * that at least p% of the values are at or below it. NaN for no values.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is not in (0, 100]`);
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}

/** Latencies of the calls that answered (ms) and the error code of each that failed. */
export function summarize(latenciesMs: readonly number[], errorCodes: readonly string[] = []): LatencySummary {
  const errors: Record<string, number> = {};
  for (const code of errorCodes) errors[code] = (errors[code] ?? 0) + 1;
  return {
    count: latenciesMs.length,
    failed: errorCodes.length,
    p50: percentile(latenciesMs, 50),
    p99: percentile(latenciesMs, 99),
    max: latenciesMs.length ? Math.max(...latenciesMs) : NaN,
    errors,
  };
}
