/**
 * What a collection's rule stats were made from, packed so that the next collection can tell in one
 * pass whether it would make the very same answer: the same rule list (the store's array, kept while
 * no rule changes), the same worker snapshots and folded totals, every rule resting (its rates at 0)
 * and each rule's packet count where it was read, unchanged (the count a rule's cached stats are
 * checked by: see StatsCollector). Then the collector hands out the same array of the same RuleStats
 * objects again, and a WatchStats stream sends the bytes it made of them last time
 * (api/stats-service.ts): with no traffic, an update of 20,000 rules reads 20,000 counters and
 * builds nothing (docs/decisions/0053).
 */
import type { Rule } from '../../gen/mcr/v1/rules';
import type { RuleStats } from '../../gen/mcr/v1/stats';
import type { InstalledSnapshot } from '../forwarding/installed';
import { CounterRegion, RULE_WORDS } from '../workers/counter-region';

/** Whether two lists of worker snapshots are the same snapshots (so nothing was installed or removed). */
export function sameSnapshots(a: ReadonlyArray<InstalledSnapshot | undefined>, b: ReadonlyArray<InstalledSnapshot | undefined>): boolean {
  return a.length === b.length && a.every((snapshot, k) => snapshot === b[k]);
}

export class RestingReading {
  /** Where rule i's packet count was read: its region (undefined: installed nowhere) and slot. */
  private readonly regions: Array<CounterRegion | undefined>;
  private readonly slots: Int32Array;
  /** Rule i's packet count as read. */
  private readonly packets: Float64Array;

  constructor(
    /** The rule list the stats were made of (the store's, by identity). */
    readonly rules: readonly Rule[],
    /** Each worker's snapshot then. */
    readonly snapshots: ReadonlyArray<InstalledSnapshot | undefined>,
    /** The folded totals' version then. */
    readonly totalsVersion: number,
    /** The answer: rule i's stats at i. */
    readonly stats: readonly RuleStats[],
  ) {
    this.regions = new Array<CounterRegion | undefined>(rules.length).fill(undefined);
    this.slots = new Int32Array(rules.length);
    this.packets = new Float64Array(rules.length);
  }

  /** Records that rule i's packet count was `packets`, read from `slot` of `region` (none: not installed). */
  set(i: number, region: CounterRegion | undefined, slot: number, packets: number): void {
    this.regions[i] = region;
    this.slots[i] = slot;
    this.packets[i] = packets;
  }

  /** Whether a collection of `rules` now, over these snapshots and totals, would answer `stats` again. */
  holds(rules: readonly Rule[], snapshots: ReadonlyArray<InstalledSnapshot | undefined>, totalsVersion: number): boolean {
    if (rules !== this.rules || totalsVersion !== this.totalsVersion || !sameSnapshots(snapshots, this.snapshots)) return false;
    const { regions, slots, packets } = this;
    for (let i = 0; i < regions.length; i++) {
      const region = regions[i];
      if (region !== undefined && region.read(slots[i], RULE_WORDS.packets) !== packets[i]) return false;
    }
    return true;
  }
}
