/**
 * ApplyRules' answer is never larger than one message (server/api/apply-answer.ts): whole rules
 * while they fit, else the BASIC view (id, name, generation), else counts only; a client may ask for
 * the smaller views itself. Sizes are measured by encoding the real messages.
 */
import { expect } from 'chai';

import { ApplyRulesResponse, ApplyRulesView, Rule, RuleState } from '../../gen/mcr/v1/rules';
import { applyAnswer } from '../../server/api/apply-answer';
import { MAX_RESPONSE_BYTES } from '../../server/api/message-limits';

function rule(i: number, outputs: number, name = `cam-${i}`): Rule {
  return Rule.fromPartial({
    id: `r-${i.toString(16).padStart(12, '0')}`,
    name,
    input: { interface: 'eth0', group: `239.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 5000 },
    outputs: Array.from({ length: outputs }, (_, k) => ({ interface: `eth${1 + (k % 8)}`, address: `10.${k}.${(i >> 8) & 255}.${i & 255}`, port: 6000 + k, ttl: 8 })),
    generation: 1n,
    status: { state: RuleState.RULE_STATE_ACTIVE, reason: '', worker: 1, lastPacketUnixNanos: 0n },
    createdUnixNanos: 1_700_000_000_000_000_000n,
    updatedUnixNanos: 1_700_000_000_000_000_000n,
  });
}

const rules = (n: number, outputs: number, name?: (i: number) => string) => Array.from({ length: n }, (_, i) => rule(i, outputs, name?.(i)));
const FIELDS = { storeGeneration: 3n, dryRun: false };
const size = (answer: ApplyRulesResponse) => ApplyRulesResponse.encode(answer).finish().length;

describe('ApplyRules answer views', () => {
  it('answers whole rules when they fit, with the counts', () => {
    const added = rules(100, 4);
    const answer = applyAnswer({ added, changed: [], removed: [], unchanged: [] }, FIELDS, ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED);
    expect(answer.view).to.equal(ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED);
    expect(answer.added).to.deep.equal(added);
    expect([answer.addedCount, answer.changedCount, answer.removedCount, answer.unchangedCount]).to.deep.equal([100, 0, 0, 0]);
  });

  it('answers 3,000 rules of 64 outputs, whole more than 4 MiB, in the BASIC view', () => {
    const added = rules(3_000, 64);
    const whole = ApplyRulesResponse.fromPartial({ added, ...FIELDS, addedCount: added.length });
    expect(size(whole), 'the whole answer would not fit').to.be.above(MAX_RESPONSE_BYTES);
    const answer = applyAnswer({ added, changed: [], removed: [], unchanged: [] }, FIELDS, ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED);
    expect(answer.view).to.equal(ApplyRulesView.APPLY_RULES_VIEW_BASIC);
    expect(size(answer)).to.be.at.most(MAX_RESPONSE_BYTES);
    expect(answer.added[7]).to.deep.equal(Rule.fromPartial({ id: added[7].id, name: added[7].name, generation: 1n }));
    expect(answer.addedCount).to.equal(3_000);
  });

  it('answers counts only when even ids and names would not fit (100,000 rules with 63-character names)', () => {
    const changed = rules(100_000, 1, (i) => `n${String(i).padStart(62, '0')}`);
    const answer = applyAnswer({ added: [], changed, removed: [], unchanged: [] }, FIELDS, ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED);
    expect(answer.view).to.equal(ApplyRulesView.APPLY_RULES_VIEW_COUNTS);
    expect([answer.changed.length, answer.changedCount, answer.storeGeneration]).to.deep.equal([0, 100_000, 3n]);
    expect(size(answer)).to.be.below(100);
  });

  it('answers in the smaller view a client asks for, however few the rules', () => {
    const lists = { added: rules(2, 4), changed: [], removed: rules(1, 1), unchanged: rules(3, 2) };
    const basic = applyAnswer(lists, FIELDS, ApplyRulesView.APPLY_RULES_VIEW_BASIC);
    expect(basic.view).to.equal(ApplyRulesView.APPLY_RULES_VIEW_BASIC);
    expect(basic.unchanged.map((r) => [r.id, r.outputs.length, r.input, r.status])).to.deep.equal(lists.unchanged.map((r) => [r.id, 0, undefined, undefined]));
    const counts = applyAnswer(lists, { storeGeneration: 3n, dryRun: true }, ApplyRulesView.APPLY_RULES_VIEW_COUNTS);
    expect([counts.view, counts.added, counts.addedCount, counts.removedCount, counts.unchangedCount, counts.dryRun]).to.deep.equal([
      ApplyRulesView.APPLY_RULES_VIEW_COUNTS,
      [],
      2,
      1,
      3,
      true,
    ]);
  });

  it('answers the CHANGES view with what changed whole and the unchanged rules only counted', () => {
    const lists = { added: rules(1, 4), changed: rules(2, 2), removed: rules(1, 1), unchanged: rules(20_000, 4) };
    const answer = applyAnswer(lists, FIELDS, ApplyRulesView.APPLY_RULES_VIEW_CHANGES);
    expect(answer.view).to.equal(ApplyRulesView.APPLY_RULES_VIEW_CHANGES);
    expect([answer.added, answer.changed, answer.removed, answer.unchanged]).to.deep.equal([lists.added, lists.changed, lists.removed, []]);
    expect([answer.addedCount, answer.changedCount, answer.removedCount, answer.unchangedCount]).to.deep.equal([1, 2, 1, 20_000]);
    expect(size(answer)).to.be.below(2_000);
  });

  it('answers the CHANGES view in counts only when the changes themselves would not fit', () => {
    const added = rules(3_000, 64);
    const answer = applyAnswer({ added, changed: [], removed: [], unchanged: rules(5, 1) }, FIELDS, ApplyRulesView.APPLY_RULES_VIEW_CHANGES);
    expect(answer.view).to.equal(ApplyRulesView.APPLY_RULES_VIEW_COUNTS);
    expect([answer.added.length, answer.addedCount, answer.unchangedCount]).to.deep.equal([0, 3_000, 5]);
  });
});
