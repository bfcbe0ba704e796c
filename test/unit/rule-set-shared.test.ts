/** RuleSet.sortedShared (server/rules/rule-set.ts): one array while no rule changes, a new one after. */
import { expect } from 'chai';

import { Rule } from '../../gen/mcr/v1/rules';
import { RuleSet } from '../../server/rules/rule-set';

const rule = (id: string, port = 5000): Rule => Rule.fromPartial({ id, input: { interface: 'in0', group: '239.1.1.1', port: port + Number(id.slice(1)) } });

describe('RuleSet.sortedShared', () => {
  it('is the same array, in id order, until a rule is put or removed', () => {
    const set = RuleSet.of([rule('r2'), rule('r1'), rule('r3')]);
    const first = set.sortedShared();
    expect(first.map((r) => r.id)).to.deep.equal(['r1', 'r2', 'r3']);
    expect(set.sortedShared()).to.equal(first);

    set.put(rule('r2', 6000)); // the same id, a new object
    const second = set.sortedShared();
    expect(second).not.to.equal(first);
    expect(second[1].input!.port).to.equal(6002);
    expect(first[1].input!.port).to.equal(5002); // the array handed out before is left as it was

    set.remove('r1');
    expect(set.sortedShared().map((r) => r.id)).to.deep.equal(['r2', 'r3']);
    expect(set.remove('absent')).to.equal(undefined);
    expect(set.sortedShared()).to.equal(set.sortedShared());
  });

  it('is made anew each time in a layer (its base may change under it)', () => {
    const layer = RuleSet.over(RuleSet.of([rule('r1')]));
    expect(layer.sortedShared()).not.to.equal(layer.sortedShared());
  });
});
