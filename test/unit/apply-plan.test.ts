/** The ApplyRules diff: identity (id, name, derived id), classification, conflicts and limits. */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { DeepPartial, Rule } from '../../gen/mcr/v1/rules';
import { ApiError, toApiError } from '../../server/api/errors';
import { RuleError } from '../../server/rules/errors';
import { ApplyPlan, planApply, sameDefinition } from '../../server/rules/apply-plan';
import { deriveRuleId } from '../../server/rules/id';
import { RuleSet } from '../../server/rules/rule-set';
import { RuleLimits } from '../../server/rules/validate';

const LIMITS: RuleLimits = { maxRules: 4, maxOutputsPerRule: 4 };
const T0 = 1_000n;
const NOW = 2_000n;

/** A definition capturing 239.1.1.<n>:5000 on eth0, sending to 239.9.9.<n>:6000 on eth1. */
function def(n: number, spec: DeepPartial<Rule> = {}): Rule {
  return Rule.fromPartial({
    input: { interface: 'eth0', group: `239.1.1.${n}`, port: 5000 },
    outputs: [{ interface: 'eth1', address: `239.9.9.${n}`, port: 6000 }],
    ...spec,
  });
}

/** A stored rule: the definition with an id (derived unless given), generation and timestamps. */
function stored(n: number, spec: DeepPartial<Rule> = {}, generation = 3n): Rule {
  const rule = def(n, spec);
  return { ...rule, id: rule.id || deriveRuleId(rule.input!), generation, createdUnixNanos: T0, updatedUnixNanos: T0 };
}

function setOf(...rules: Rule[]): RuleSet {
  return RuleSet.of(rules);
}

function plan(current: RuleSet, desired: Rule[], replace = false): ApplyPlan {
  return planApply(current, desired, { replace, limits: LIMITS, now: NOW });
}

const ids = (rules: Rule[]) => rules.map((r) => r.id);

function refusal(run: () => unknown, code: status, field: string): ApiError {
  try {
    run();
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(RuleError);
    const error = toApiError(err) as ApiError;
    expect(status[error.code], error.message).to.equal(status[code]);
    expect(error.field, error.message).to.equal(field);
    return error;
  }
  return expect.fail('the apply was not refused');
}

describe('apply plan', () => {
  it('adds new rules with derived ids at generation 1', () => {
    const result = plan(RuleSet.empty(), [def(1), def(2, { id: 'chosen' })]);
    expect(ids(result.added)).to.deep.equal([deriveRuleId(def(1).input!), 'chosen']);
    expect(result.added.every((r) => r.generation === 1n && r.createdUnixNanos === NOW && r.updatedUnixNanos === NOW)).to.equal(true);
    expect(result.next?.size).to.equal(2);
  });

  it('leaves rules with the same definition untouched: applying twice changes nothing', () => {
    const a = stored(1, { name: 'cam1' });
    const b = stored(2, { outputs: [{ interface: 'eth1', address: '239.9.9.2', port: 6000, ttl: 4 }] });
    const result = plan(setOf(a, b), [def(1, { name: 'cam1' }), def(2, { outputs: [{ interface: 'eth1', address: '239.9.9.2', port: 6000, ttl: 4 }] })], true);
    expect(result.unchanged).to.deep.equal([a, b]);
    expect([result.added, result.changed, result.removed]).to.deep.equal([[], [], []]);
    expect(result.next).to.equal(undefined);
  });

  it('changes a rule in place: same id and creation time, next generation', () => {
    const a = stored(1, { name: 'cam1' });
    const result = plan(setOf(a), [def(1, { name: 'cam1', outputs: [{ interface: 'eth2', address: '239.9.9.1', port: 6000 }] })]);
    expect(result.changed).to.have.length(1);
    expect(result.changed[0]).to.include({ id: a.id, generation: 4n, createdUnixNanos: T0, updatedUnixNanos: NOW });
    expect(result.changed[0].outputs[0].interface).to.equal('eth2');
  });

  it('identifies a rule by name, so its match key can change and its id stays', () => {
    const a = stored(1, { name: 'cam1' });
    const result = plan(setOf(a), [def(7, { name: 'cam1' })]);
    expect(ids(result.changed)).to.deep.equal([a.id]);
    expect(result.changed[0].input!.group).to.equal('239.1.1.7');
    expect(result.added).to.deep.equal([]);
  });

  it('identifies an unnamed rule by its derived id: a new match key is a new rule', () => {
    const a = stored(1);
    const result = plan(setOf(a), [def(7)], true);
    expect(ids(result.added)).to.deep.equal([deriveRuleId(def(7).input!)]);
    expect(ids(result.removed)).to.deep.equal([a.id]);
  });

  it('renames a rule that keeps its match key (a new name falls back to the derived id)', () => {
    const a = stored(1, { name: 'old' });
    const result = plan(setOf(a), [def(1, { name: 'new' })], true);
    expect(ids(result.changed)).to.deep.equal([a.id]);
    expect(result.changed[0].name).to.equal('new');
    expect(result.removed).to.deep.equal([]);
  });

  it('an output order, ttl or dscp that differs is a change', () => {
    const two = [
      { interface: 'eth1', address: '239.9.9.1', port: 6000 },
      { interface: 'eth2', address: '239.9.9.1', port: 6000 },
    ];
    const a = stored(1, { outputs: two });
    expect(sameDefinition(a, def(1, { outputs: [...two].reverse() }))).to.equal(false);
    expect(sameDefinition(a, def(1, { outputs: [{ ...two[0], ttl: 1 }, two[1]] }))).to.equal(false);
    expect(sameDefinition(a, def(1, { outputs: [two[0], { ...two[1], dscp: 0 }] }))).to.equal(false);
    expect(sameDefinition(a, def(1, { outputs: two }))).to.equal(true);
  });

  it('merge keeps the rules the set does not name; replace removes them', () => {
    const [a, b, c] = [stored(1), stored(2), stored(3)];
    expect(plan(setOf(a, b, c), [def(2)]).removed).to.deep.equal([]);
    const replaced = plan(setOf(c, a, b), [def(2)], true);
    expect(ids(replaced.removed)).to.deep.equal([a.id, c.id].sort());
    expect(ids(replaced.next!.sorted())).to.deep.equal([b.id]);
  });

  it('replace with an empty set removes everything', () => {
    const result = plan(setOf(stored(1), stored(2)), [], true);
    expect(result.removed).to.have.length(2);
    expect(result.next!.size).to.equal(0);
  });

  it('lets rules trade names in one apply', () => {
    const a = stored(1, { name: 'left' });
    const b = stored(2, { name: 'right' });
    const result = plan(setOf(a, b), [def(1, { id: a.id, name: 'right' }), def(2, { id: b.id, name: 'left' })]);
    expect(ids(result.changed)).to.deep.equal([a.id, b.id]);
    expect(result.next!.named('right')!.id).to.equal(a.id);
  });

  it('names the rule at fault for a bad definition (INVALID_ARGUMENT rules[i].field)', () => {
    refusal(() => plan(RuleSet.empty(), [def(1), def(2, { outputs: [{ interface: 'eth1', address: '239.9.9.2', port: 0 }] })]), status.INVALID_ARGUMENT, 'rules[1].outputs[0].port');
    refusal(() => plan(RuleSet.empty(), [def(1, { input: { interface: 'eth0', group: '10.0.0.1', port: 5000 } })]), status.INVALID_ARGUMENT, 'rules[0].input.group');
  });

  it('refuses two desired rules with one id, name or match key (INVALID_ARGUMENT on the later one)', () => {
    refusal(() => plan(RuleSet.empty(), [def(1, { id: 'x' }), def(2, { id: 'x' })]), status.INVALID_ARGUMENT, 'rules[1].id');
    refusal(() => plan(RuleSet.empty(), [def(1, { name: 'x' }), def(2, { name: 'x' })]), status.INVALID_ARGUMENT, 'rules[1].name');
    refusal(() => plan(RuleSet.empty(), [def(1), def(1, { name: 'other', outputs: [{ interface: 'eth2', address: '239.9.9.9', port: 1 }] })]), status.INVALID_ARGUMENT, 'rules[1].input');
  });

  it('names every clash inside one set, each on the later rule (BadRequest)', () => {
    const error = refusal(
      () => plan(RuleSet.empty(), [def(1, { id: 'x', name: 'a' }), def(2, { id: 'x' }), def(3, { name: 'a' }), def(1, { name: 'b', outputs: [{ interface: 'eth2', address: '239.9.9.9', port: 1 }] })]),
      status.INVALID_ARGUMENT,
      'rules[1].id',
    );
    expect(error.extras.violations?.map((v) => v.field)).to.deep.equal(['rules[1].id', 'rules[2].name', 'rules[3].input']);
    expect(error.extras.violations?.[2].description).to.include('as rules[0] does');
  });

  it('names every pair of desired rules that are one stored rule, also against rules that stay as they are', () => {
    const a = stored(1, { name: 'cam1' });
    const b = stored(2, { name: 'cam2' });
    // rules[0] is cam1 as it is; rules[2] is cam1 by its id; rules[1] and rules[3] are cam2 by name and by id.
    const error = refusal(
      () => plan(RuleSet.of([a, b]), [def(1, { name: 'cam1' }), def(5, { name: 'cam2' }), def(6, { id: a.id }), def(7, { id: b.id })]),
      status.INVALID_ARGUMENT,
      'rules[2].id',
    );
    expect(error.extras.violations?.map((v) => v.field)).to.deep.equal(['rules[2].id', 'rules[3].id']);
    expect(error.extras.violations?.[0].description).to.include('and so is rules[0] by its name');
  });

  it('names every collision with stored rules that stay (ALREADY_EXISTS, each in the BadRequest)', () => {
    const one = stored(1, { id: 'one', name: 'cam1' });
    const two = stored(2, { id: 'two', name: 'cam2' });
    const error = refusal(() => plan(RuleSet.of([one, two]), [def(1, { name: 'mine' }), def(3, { name: 'ok' }), def(4, { id: 'cam2' })]), status.ALREADY_EXISTS, 'rules[0].input');
    expect(error.extras.violations?.map((v) => v.field)).to.deep.equal(['rules[0].input', 'rules[2].id']);
    expect(error.extras.resource).to.deep.equal({ type: 'mcr.v1.Rule', name: 'one' });
  });

  it('refuses one stored rule sent twice as it is, as it refuses the same two rules against an empty set', () => {
    const one = stored(1, { name: 'cam1' });
    const twice = [def(1, { name: 'cam1' }), def(1, { name: 'cam1' })];
    const error = refusal(() => plan(setOf(one), twice, true), status.INVALID_ARGUMENT, 'rules[1].name');
    const fresh = refusal(() => plan(RuleSet.empty(), twice, true), status.INVALID_ARGUMENT, 'rules[1].name');
    expect(error.extras.violations).to.deep.equal(fresh.extras.violations);
  });

  it('refuses two desired rules that are one stored rule (by name and by derived id)', () => {
    // The rule named cam1 was made on match key 1 and moved to 9 since: it kept match key 1's id.
    const moved = { ...stored(9, { name: 'cam1' }), id: deriveRuleId(def(1).input!) };
    const error = refusal(() => plan(setOf(moved), [def(9, { name: 'cam1' }), def(1)]), status.INVALID_ARGUMENT, 'rules[1]');
    expect(error.detail).to.include('rules[0]').and.include('give one of them an id');
  });

  it('refuses a collision with a rule that stays (ALREADY_EXISTS), but not with one that goes', () => {
    const other = stored(1, { id: 'other', name: 'cam1' });
    refusal(() => plan(setOf(other), [def(1, { name: 'mine' })]), status.ALREADY_EXISTS, 'rules[0].input');
    refusal(() => plan(setOf(other), [def(2, { id: 'cam1' })]), status.ALREADY_EXISTS, 'rules[0].id');
    const replaced = plan(setOf(other), [def(1, { name: 'mine' })], true);
    expect(ids(replaced.removed)).to.deep.equal(['other']);
    expect(ids(replaced.added)).to.deep.equal([deriveRuleId(def(1).input!)]);
  });

  it('refuses more rules than the limit (RESOURCE_EXHAUSTED), counting the rules that stay', () => {
    const four = [1, 2, 3, 4].map((n) => stored(n));
    refusal(() => plan(setOf(...four), [def(5)]), status.RESOURCE_EXHAUSTED, 'rules');
    refusal(() => plan(RuleSet.empty(), [1, 2, 3, 4, 5].map((n) => def(n)), true), status.RESOURCE_EXHAUSTED, 'rules');
    expect(plan(setOf(...four), [def(5)], true).next!.size).to.equal(1);
  });

  it('does not change the rule set it plans from', () => {
    const current = setOf(stored(1), stored(2));
    plan(current, [def(3)], true);
    expect(current.size).to.equal(2);
    expect(current.get(stored(1).id)).to.not.equal(undefined);
  });
});
