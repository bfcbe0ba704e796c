/** What freed counter slots counted, by owner (server/workers/counter-totals.ts). */
import { expect } from 'chai';

import type { CounterRegion } from '../../server/workers/counter-region';
import { CounterTotals, inputOwner, outputOwner, ruleOwner } from '../../server/workers/counter-totals';

/** A region whose every slot holds `value` in each word. */
function regionOf(value: number): CounterRegion {
  return {
    isZero: () => value === 0,
    addInto(_slot: number, count: number, into: number[], maxWord = -1) {
      for (let w = 0; w < count; w++) into[w] = w === maxWord ? Math.max(into[w], value) : into[w] + value;
    },
  } as unknown as CounterRegion;
}

describe('counter totals', () => {
  it('adds what a freed slot counted to its owner, keeping the latest last-packet time', () => {
    const totals = new CounterTotals();
    totals.fold(ruleOwner('a'), regionOf(5), 1, 5, 'a');
    totals.fold(ruleOwner('a'), regionOf(3), 2, 5, 'a');
    expect(totals.get(ruleOwner('a'))).to.deep.equal([8, 8, 8, 8, 5]);
  });

  it('makes no entry for a slot that counted nothing', () => {
    const totals = new CounterTotals();
    const before = totals.version;
    totals.fold(ruleOwner('a'), regionOf(0), 1, 5, 'a');
    totals.fold(outputOwner('a', 'out1|239.1.1.1|5000||'), regionOf(0), 2, 5, 'a');
    expect(totals.get(ruleOwner('a'))).to.equal(undefined);
    expect(totals.hasRule('a')).to.equal(false);
    expect(totals.version).to.equal(before);
  });

  it('knows which rules have folded counts, their own or an output\'s, until the rule is forgotten', () => {
    const totals = new CounterTotals();
    expect(totals.hasRule('a')).to.equal(false);
    totals.fold(outputOwner('a', 'out1|239.1.1.1|5000||'), regionOf(2), 1, 5, 'a');
    totals.fold(ruleOwner('b'), regionOf(1), 2, 5, 'b');
    totals.add(inputOwner(0, 'eth0'), 10, 7, 11);
    expect(totals.hasRule('a')).to.equal(true);
    expect(totals.hasRule('b')).to.equal(true);
    expect(totals.hasRule('c')).to.equal(false);
    expect([...totals.rules()].sort()).to.deep.equal(['a', 'b']);
    const before = totals.version;
    totals.forgetRule('a');
    expect(totals.version).to.be.greaterThan(before);
    expect(totals.hasRule('a')).to.equal(false);
    expect(totals.get(outputOwner('a', 'out1|239.1.1.1|5000||'))).to.equal(undefined);
    expect([...totals.rules()]).to.deep.equal(['b']);
    expect(totals.inputsOf(0).has('eth0')).to.equal(true);
  });
});
