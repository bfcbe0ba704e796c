/** RestingReading (server/stats/resting-reading.ts): when a collection may hand out its last answer again. */
import { expect } from 'chai';

import { Rule } from '../../gen/mcr/v1/rules';
import { RuleStats } from '../../gen/mcr/v1/stats';
import type { InstalledSnapshot } from '../../server/forwarding/installed';
import { RestingReading } from '../../server/stats/resting-reading';
import type { CounterRegion } from '../../server/workers/counter-region';
import { RULE_WORDS } from '../../server/workers/counter-region';

/** A region whose counters are `counts[slot]` (the packets word; every other word reads 0). */
function region(counts: number[]): CounterRegion {
  return { read: (slot: number, word: number) => (word === RULE_WORDS.packets ? counts[slot] : 0) } as unknown as CounterRegion;
}

describe('RestingReading', () => {
  const rules = [Rule.fromPartial({ id: 'a' }), Rule.fromPartial({ id: 'b' }), Rule.fromPartial({ id: 'c' })];
  const stats = rules.map((r) => RuleStats.fromPartial({ ruleId: r.id }));
  const snapshots = [{} as InstalledSnapshot, undefined];

  function reading(counts: number[]): RestingReading {
    const r = new RestingReading(rules, snapshots, 7, stats);
    r.set(0, region(counts), 1, counts[1]);
    r.set(1, undefined, -1, -1); // installed nowhere
    r.set(2, region(counts), 2, counts[2]);
    return r;
  }

  it('holds while the rule list, snapshots, totals and every packet count are the same', () => {
    const counts = [0, 5, 0];
    const r = reading(counts);
    expect(r.holds(rules, [...snapshots], 7)).to.equal(true);
    counts[2]++;
    expect(r.holds(rules, snapshots, 7)).to.equal(false);
  });

  it('does not hold for another rule list (even with the same rules), snapshot or totals version', () => {
    const r = reading([0, 0, 0]);
    expect(r.holds([...rules], snapshots, 7)).to.equal(false);
    expect(r.holds(rules, [snapshots[0], {} as InstalledSnapshot], 7)).to.equal(false);
    expect(r.holds(rules, [snapshots[0]], 7)).to.equal(false);
    expect(r.holds(rules, snapshots, 8)).to.equal(false);
  });
});
