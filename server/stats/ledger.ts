/**
 * Counters that never go backwards. A worker's counters start again from zero when it restarts, and a
 * rule's counters move when the rule moves to another worker or its outputs change; the ledger keeps,
 * per counter, an offset (everything counted by earlier sources) so that what clients read only grows.
 * It also derives rates from successive readings.
 */

/** Where a reading comes from: a reading from another source starts a new series. */
export type CounterSource = string;

interface Series {
  source: CounterSource;
  /** Sum of every earlier source's last value. */
  offset: bigint;
  /** The last value read from the current source. */
  last: bigint;
  /** Total and time of the previous rate sample. */
  sampleTotal: bigint;
  sampleNs: bigint;
  /** Per second, from the two latest samples at least `minRateWindowNs` apart. */
  rate: number;
}

export class CounterLedger {
  private readonly series = new Map<string, Series>();

  constructor(private readonly minRateWindowNs = 500_000_000n) {}

  /**
   * Records a reading and returns the cumulative total. A reading lower than the previous one from
   * the same source means that source started again from zero.
   */
  record(key: string, source: CounterSource, value: bigint, nowNs: bigint): bigint {
    let s = this.series.get(key);
    if (!s) {
      s = { source, offset: 0n, last: value, sampleTotal: value, sampleNs: nowNs, rate: 0 };
      this.series.set(key, s);
      return value;
    }
    if (s.source !== source || value < s.last) {
      s.offset += s.last;
      s.source = source;
    }
    s.last = value;
    const total = s.offset + value;
    const elapsed = nowNs - s.sampleNs;
    if (elapsed >= this.minRateWindowNs) {
      s.rate = Number(total - s.sampleTotal) / (Number(elapsed) / 1e9);
      s.sampleTotal = total;
      s.sampleNs = nowNs;
    }
    return total;
  }

  /** The cumulative total without a new reading (0 when never seen). */
  total(key: string): bigint {
    const s = this.series.get(key);
    return s ? s.offset + s.last : 0n;
  }

  /** Per-second rate of the key over the latest window (0 when unknown). */
  rate(key: string): number {
    return this.series.get(key)?.rate ?? 0;
  }

  /** Drops series whose key starts with `prefix` (e.g. a deleted rule's). */
  forget(prefix: string): void {
    for (const key of this.series.keys()) if (key.startsWith(prefix)) this.series.delete(key);
  }

  get size(): number {
    return this.series.size;
  }
}
