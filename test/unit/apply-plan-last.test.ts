/**
 * planApply from the last apply's plan (decision 0046): with the memo of the apply before, a plan is
 * exactly the plan made without it (the same rules, the very same stored objects, the same refusal),
 * over random sequences of applies that repeat most of their rules as the same objects.
 */
import { expect } from 'chai';

import { DeepPartial, Rule } from '../../gen/mcr/v1/rules';
import { ApiError, toApiError } from '../../server/api/errors';
import { ApplyMemo, ApplyPlan, planApply, planFromLast } from '../../server/rules/apply-plan';
import { RuleError } from '../../server/rules/errors';
import { RuleSet } from '../../server/rules/rule-set';
import { RuleLimits } from '../../server/rules/validate';
import { SeededRandom } from '../support/seeded-random';

const LIMITS: RuleLimits = { maxRules: 40, maxOutputsPerRule: 4 };
const SEED = Number(process.env.APPLY_PLAN_SEED ?? Math.floor(Math.random() * 0xffff_ffff));

/** A definition from a small space, so that names, match keys and ids collide now and then. */
function randomRule(random: SeededRandom): Rule {
  const spec: DeepPartial<Rule> = {
    input: { interface: 'eth0', group: `239.1.${random.int(1, 2)}.${random.int(1, 60)}`, port: 5000 },
    outputs: [{ interface: 'eth1', address: `239.9.9.${random.int(1, 3)}`, port: 6000, ...(random.chance(0.2) ? { ttl: 4 } : {}) }],
  };
  if (random.chance(0.8)) spec.name = `cam${random.int(1, 120)}`;
  if (random.chance(0.05)) spec.id = `id${random.int(1, 5)}`;
  if (random.chance(0.02)) spec.outputs = [];
  return Rule.fromPartial(spec);
}

/** What a plan or its refusal says, with the stored rules by identity where they are stored ones. */
function outcome(run: () => ApplyPlan): { plan?: ApplyPlan; refusal?: unknown } {
  try {
    return { plan: run() };
  } catch (err) {
    if (!(err instanceof RuleError)) throw err;
    const error = toApiError(err) as ApiError;
    return { refusal: { code: error.code, message: error.message, extras: err.extras } };
  }
}

function expectSamePlan(fast: ApplyPlan, slow: ApplyPlan, context: string): void {
  for (const list of ['added', 'changed'] as const) expect(fast[list], `${context}: ${list}`).to.deep.equal(slow[list]);
  for (const list of ['removed', 'unchanged'] as const) {
    expect(fast[list].length, `${context}: ${list}`).to.equal(slow[list].length);
    fast[list].forEach((rule, i) => expect(rule, `${context}: ${list}[${i}] is the stored object`).to.equal(slow[list][i]));
  }
  expect(fast.next?.sorted(), `${context}: the set after`).to.deep.equal(slow.next?.sorted());
  expect(fast.memo === undefined, `${context}: a memo`).to.equal(slow.memo === undefined);
  if (fast.memo && slow.memo) {
    expect(fast.memo.wholeSet).to.equal(slow.memo.wholeSet);
    fast.memo.desired.forEach((rule, i) => expect(rule).to.equal(slow.memo!.desired[i]));
    expect(fast.memo.resolved.map((r) => r.id)).to.deep.equal(slow.memo.resolved.map((r) => r.id));
    // Added and changed rules are made anew by each plan; the others are the stored objects.
    fast.memo.resolved.forEach((rule, i) => {
      if (!slow.added.includes(slow.memo!.resolved[i]) && !slow.changed.includes(slow.memo!.resolved[i])) expect(rule).to.equal(slow.memo!.resolved[i]);
    });
  }
}

/** `current` with `plan` made, the stored objects kept (as the store does). */
function made(current: RuleSet, plan: ApplyPlan): RuleSet {
  const next = RuleSet.of(current.sorted());
  for (const rule of plan.removed) next.remove(rule.id);
  for (const rule of plan.changed) next.remove(rule.id);
  for (const rule of [...plan.added, ...plan.changed]) next.put(rule);
  return next;
}

/** The desired set of the next apply: the last one's objects with a few edits. */
function edited(random: SeededRandom, last: readonly Rule[], pool: readonly Rule[]): Rule[] {
  const rules = last.slice();
  const edits = random.int(0, 3);
  for (let e = 0; e < edits; e++) {
    const at = random.int(0, rules.length);
    const kind = random.int(0, 6);
    if (kind === 0 || rules.length === 0) rules.splice(at, 0, randomRule(random));
    else if (kind === 1) rules.splice(at % rules.length, 1);
    else if (kind === 2) rules[at % rules.length] = randomRule(random);
    else if (kind === 3) rules[at % rules.length] = Rule.fromPartial(rules[at % rules.length]); // equal, another object
    else if (kind === 4) rules.splice(at, 0, random.pick(rules)); // the same object twice
    else if (kind === 5 && pool.length > 0) rules.splice(at, 0, random.pick(pool)); // a rule sent before
    else {
      const [i, j] = [at % rules.length, random.int(0, rules.length - 1)];
      [rules[i], rules[j]] = [rules[j], rules[i]];
    }
  }
  return rules;
}

describe(`apply plan from the last apply (seed ${SEED}; APPLY_PLAN_SEED replays)`, () => {
  it('plans exactly what planning every rule plans, refusals included, and serves most repeated applies', () => {
    const random = new SeededRandom(SEED);
    let served = 0;
    let steps = 0;
    for (let run = 0; run < 20; run++) {
      let current = RuleSet.empty();
      let memo: ApplyMemo | undefined;
      let desired: Rule[] = [];
      const pool: Rule[] = [];
      for (let step = 0; step < 60; step++) {
        const candidate = edited(random, desired, pool);
        const replace = random.chance(0.8);
        const options = { replace, limits: LIMITS, now: BigInt(step + 10) };
        const context = `run ${run} step ${step}`;
        const slow = outcome(() => planApply(current, candidate, options));
        const fast = outcome(() => planApply(current, candidate, options, memo));
        expect(fast.refusal, context).to.deep.equal(slow.refusal);
        const shortcut = memo && candidate.length <= LIMITS.maxRules ? planFromLast(current, candidate, options, memo) : undefined;
        if (shortcut) {
          served++;
          expect(slow.plan, `${context}: the shortcut planned what is refused`).to.not.equal(undefined);
          expectSamePlan(shortcut, slow.plan!, `${context} (shortcut)`);
        }
        if (slow.plan) {
          expectSamePlan(fast.plan!, slow.plan, context);
          steps++;
          current = made(current, fast.plan!);
          memo = fast.plan!.memo;
          desired = candidate;
          pool.push(...candidate.slice(0, 2));
        } else if (desired.length === 0 || random.chance(0.3)) {
          desired = candidate.filter((rule, i) => candidate.indexOf(rule) === i).slice(0, 10);
        }
        // Now and then the set changes outside the applies: the memo is dropped, as the store drops it.
        if (random.chance(0.05)) {
          const stranger = randomRule(random);
          const add = outcome(() => planApply(current, [stranger], { replace: false, limits: LIMITS, now: 1n }));
          if (add.plan) {
            current = made(current, add.plan);
            memo = undefined;
          }
        }
      }
    }
    console.log(`      ${steps} applies planned, ${served} by the shortcut`);
    expect(steps, 'applies planned').to.be.greaterThan(300);
    expect(served, 'applies planned from the last one').to.be.greaterThan(100);
  });

  it('a one-rule change against a large set: the repeated rules are the stored objects, the changed one is changed', () => {
    const rules = Array.from({ length: 30 }, (_, i) =>
      Rule.fromPartial({ name: `r${i}`, input: { interface: 'eth0', group: `239.1.2.${i + 1}`, port: 5000 }, outputs: [{ interface: 'eth1', address: '239.9.9.9', port: 6000 }] }),
    );
    const limits = { ...LIMITS, maxRules: 100 };
    const first = planApply(RuleSet.empty(), rules, { replace: true, limits, now: 1n });
    const current = made(RuleSet.empty(), first);
    const next = rules.slice();
    next[7] = Rule.fromPartial({ ...rules[7], outputs: [{ interface: 'eth1', address: '239.9.9.8', port: 6000 }] });
    const plan = planApply(current, next, { replace: true, limits, now: 2n }, first.memo);
    expect(plan.changed.map((r) => r.name)).to.deep.equal(['r7']);
    expect(plan.changed[0].generation).to.equal(2n);
    expect(plan.changed[0].id).to.equal(first.added[7].id);
    expect(plan.unchanged.length).to.equal(29);
    plan.unchanged.forEach((rule) => expect(current.get(rule.id)).to.equal(rule));
    expect(plan.removed).to.deep.equal([]);
    expect(plan.memo!.resolved[7]).to.equal(plan.changed[0]);
    // A rule dropped from the set is removed; one sent twice is refused, as without the memo.
    const shorter = planApply(current, rules.slice(1), { replace: true, limits, now: 3n }, first.memo);
    expect(shorter.removed.map((r) => r.name)).to.deep.equal(['r0']);
    const twice = [...rules, rules[3]];
    expect(() => planApply(current, twice, { replace: true, limits, now: 3n }, first.memo)).to.throw(RuleError, /rules\[30\]/);
  });
});
