/**
 * The plan of an ApplyRules (pure): which stored rules a desired rule set adds, changes, removes or
 * leaves as they are, and the rule set that results, or the error that refuses the whole set.
 *
 * Identity: a desired rule is the stored rule with its id when it gives one; else the stored rule
 * with its name when it gives one and such a rule exists; else the rule whose id is derived from its
 * match key (a new rule when there is none). A changed rule keeps its id and creation time, so the
 * workers, which key counters by rule id, keep its counters; its generation goes up by one. A rule
 * whose definition (name, input, outputs in order) is the same is left exactly as it is.
 */
import type { Rule } from '../../gen/mcr/v1/rules';
import { exhausted, invalid, quote, reasonOf, RuleError, violationsError } from './errors';
import { deriveRuleId, matchKey } from './id';
import { relaysEsp } from '../formats/input-protocol';
import { decrementsTtl, dropsOversize, preservesTos } from './output-policy';
import { describeInput, RuleSet, RuleView } from './rule-set';
import { RuleLimits, ruleViolations, validateRuleDefinition } from './validate';

/** The request field holding the desired rules (ApplyRulesRequest.rules). */
export const RULES_FIELD = 'rules';

export interface ApplyOptions {
  /** Stored rules the desired set does not identify are removed (true) or kept (false: merge). */
  replace: boolean;
  limits: RuleLimits;
  /** Time of the change: the timestamps of added and changed rules. */
  now: bigint;
}

export interface ApplyPlan {
  /** New rules as they will be stored (generation 1), in request order. */
  added: Rule[];
  /** Rules whose definition changes, in their new stored form, in request order. */
  changed: Rule[];
  /** Stored rules that go (replace only), sorted by id. */
  removed: Rule[];
  /** Stored rules the desired set leaves as they are, in request order. */
  unchanged: Rule[];
  /**
   * The rule set after the apply, as a layer over `current` (valid while `current` does not change);
   * undefined when the apply changes nothing.
   */
  next: RuleSet | undefined;
  /**
   * What this plan is for the next one to start from (see ApplyMemo), or undefined when it cannot
   * serve (a rule left unchanged that is not stored exactly as given).
   */
  memo: ApplyMemo | undefined;
}

/**
 * What an apply planned, for the next apply against the same rules to recognize what it repeats
 * (decision 0046): the desired rules as given (the very objects: the ApplyRules deserializer hands the
 * same object for the same bytes), and for each the stored rule it is once the apply is made: a
 * desired rule that is the same object as one of `desired` is, as long as the rules have not changed
 * since, exactly `resolved` at that index (storedAsIs would find it). Never modified.
 */
export interface ApplyMemo {
  readonly desired: readonly Rule[];
  readonly resolved: readonly Rule[];
  /** `resolved` is every rule of the set after the apply (it replaced the set). */
  readonly wholeSet: boolean;
}

/** "rules[3]": the request field of the desired rule at `index`. */
export function ruleField(index: number, field = RULES_FIELD): string {
  return `${field}[${index}]`;
}

/**
 * Plans making `current` hold `desired`. Throws RuleError: INVALID_ARGUMENT naming `rules[i].field`
 * (a bad definition, or two desired rules that are one: every such clash in the details),
 * ALREADY_EXISTS (desired rules that collide with stored rules that stay: every one in the details),
 * RESOURCE_EXHAUSTED (more rules than the limit).
 *
 * Costs what changes, not what is stored (docs/decisions/0022): a desired rule that is a stored rule
 * as it is (the common case of a diff) is recognised by one lookup and not validated again (a stored
 * rule is valid), and the result is a layer over `current`, not a copy of it.
 */
export function planApply(current: RuleView, desired: readonly Rule[], options: ApplyOptions, last?: ApplyMemo): ApplyPlan {
  const { limits } = options;
  if (desired.length > limits.maxRules) {
    throw exhausted(RULES_FIELD, `${desired.length} rules, more than the limit of ${limits.maxRules}`, '--max-rules');
  }
  return (last && planFromLast(current, desired, options, last)) ?? planEach(current, desired, options);
}

/** planApply looking at every desired rule: the reference, and the only path that refuses. */
function planEach(current: RuleView, desired: readonly Rule[], options: ApplyOptions): ApplyPlan {
  const { limits, now } = options;
  const same = desired.map((rule) => storedAsIs(current, rule));
  /** The desired index of each stored rule a desired rule is as it is. */
  const sameAt = new Map<Rule, number>();
  same.forEach((rule, index) => rule && sameAt.set(rule, index));
  // Every violation of every rule in the details (the first one is the message).
  const violations: RuleError[] = [];
  desired.forEach((rule, index) => {
    if (!same[index]) violations.push(...ruleViolations(rule, limits, ruleField(index)));
  });
  if (violations.length > 0) throw violationsError(violations, 'INVALID_RULE');
  // A rule as it is stored stands as given (its id, name and input are those of a valid rule).
  const definitions = desired.map((rule, index) => (same[index] ? rule : validateRuleDefinition(rule, limits, ruleField(index))));
  checkDistinctAgainst(current, definitions, same, sameAt);
  const ids = identify(current, definitions, same, sameAt);

  const plan: ApplyPlan = { added: [], changed: [], removed: [], unchanged: [], next: undefined, memo: undefined };
  /** The stored rule each desired rule is after the apply (undefined: one that storedAsIs would not find). */
  const resolved: Array<Rule | undefined> = new Array(desired.length);
  /** Added and changed rules with their index in the request, for conflict errors. */
  const stored: Array<{ rule: Rule; index: number }> = [];
  /** Ids of stored rules the desired set names, other than those in sameAt. */
  const named = new Set<string>();
  definitions.forEach((definition, index) => {
    const kept = same[index];
    if (kept) {
      plan.unchanged.push(kept);
      resolved[index] = kept;
      return;
    }
    const id = ids[index];
    named.add(id);
    const before = current.get(id);
    if (!before) {
      const rule = { ...definition, id, generation: 1n, createdUnixNanos: now, updatedUnixNanos: now };
      plan.added.push(rule);
      stored.push({ rule, index });
      resolved[index] = rule;
    } else if (sameDefinition(before, definition)) {
      plan.unchanged.push(before);
    } else {
      const rule = { ...definition, id, generation: before.generation + 1n, createdUnixNanos: before.createdUnixNanos, updatedUnixNanos: now };
      plan.changed.push(rule);
      stored.push({ rule, index });
      resolved[index] = rule;
    }
  });
  if (options.replace) {
    for (const rule of current.rules()) if (!sameAt.has(rule) && !named.has(rule.id)) plan.removed.push(rule);
    plan.removed.sort(byId);
  }
  plan.next = nextSet(current, plan, stored, options);
  if (!resolved.includes(undefined)) plan.memo = { desired: desired.slice(), resolved: resolved as Rule[], wholeSet: options.replace };
  return plan;
}

const byId = (a: Rule, b: Rule): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The set after `plan` (its removed and changed rules out, then the added and changed ones in, each
 * checked against what is there), undefined when nothing changes; throws the conflicts.
 */
function nextSet(current: RuleView, plan: ApplyPlan, stored: ReadonlyArray<{ rule: Rule; index: number }>, { limits }: ApplyOptions): RuleSet | undefined {
  if (stored.length === 0 && plan.removed.length === 0) return undefined;
  // Everything that goes or changes leaves first, so rules may trade names or match keys.
  const next = RuleSet.over(current);
  for (const rule of plan.removed) next.remove(rule.id);
  for (const rule of plan.changed) next.remove(rule.id);
  const conflicts: RuleError[] = [];
  for (const { rule, index } of stored) {
    const conflict = next.conflict(rule, ruleField(index), false);
    // A rule in conflict stays out, so that each conflict is named once, against a stored rule.
    if (conflict) conflicts.push(conflict);
    else next.put(rule);
  }
  if (conflicts.length > 0) throw violationsError(conflicts, reasonOf(conflicts[0]));
  if (next.size > limits.maxRules) {
    throw exhausted(RULES_FIELD, `the store would hold ${next.size} rules, more than the limit of ${limits.maxRules}`, '--max-rules');
  }
  return next;
}

/**
 * planApply in what differs from the last apply `last`, when `current` is the set that apply left
 * (decision 0046): the desired rules that are, at the start and at the end of the list, the very
 * objects `last.desired` had there are the stored rules `last.resolved` has there, with no lookup; only
 * the rules between are planned one by one, and only the stored rules the last apply resolved them
 * to can go. Undefined, for planEach to decide, whenever the answer is anything but a plan that
 * refuses nothing and that this shortcut can prove is planEach's: a rule between that is, clashes
 * with or is identified as a rule it cannot place (one the repeated part may hold), any refusal, a
 * replace whose last apply did not replace. Costs what differs plus two pointer scans. Exported for
 * its tests (planApply is the entry point).
 */
export function planFromLast(current: RuleView, desired: readonly Rule[], options: ApplyOptions, last: ApplyMemo): ApplyPlan | undefined {
  if (options.replace && !last.wholeSet) return undefined;
  const { limits, now } = options;
  const [n, m] = [desired.length, last.desired.length];
  const most = Math.min(n, m);
  let head = 0;
  while (head < most && desired[head] === last.desired[head]) head++;
  let tail = 0;
  while (tail < most - head && desired[n - 1 - tail] === last.desired[m - 1 - tail]) tail++;
  if (head + tail === 0 && m > 0) return undefined;
  /** The stored rules the part of the last apply that is not repeated resolved to: the only ones a rule between may be or touch. */
  const between = new Set(last.resolved.slice(head, m - tail));
  const sameBetween = new Set<Rule>();
  /** Whether `rule` (a stored rule found by a lookup) is no desired rule as it is, as far as this shortcut can tell. */
  const free = (rule: Rule | undefined): boolean => !rule || (between.has(rule) && !sameBetween.has(rule));
  const plan: ApplyPlan = { added: [], changed: [], removed: [], unchanged: [], next: undefined, memo: undefined };
  const unchanged: Rule[] = [];
  const resolved: Rule[] = [];
  const fresh: Array<{ definition: Rule; index: number }> = [];
  try {
    for (let index = head; index < n - tail; index++) {
      const rule = desired[index];
      const kept = storedAsIs(current, rule);
      if (kept) {
        if (!free(kept)) return undefined;
        sameBetween.add(kept);
        unchanged.push(kept);
        resolved.push(kept);
      } else {
        fresh.push({ definition: validateRuleDefinition(rule, limits, ruleField(index)), index });
        resolved.push(rule); // replaced below by what it becomes
      }
    }
    if (distinctViolations(fresh.map((f) => f.definition)).length > 0) return undefined;
    const stored: Array<{ rule: Rule; index: number }> = [];
    const named = new Set<string>();
    for (const { definition, index } of fresh) {
      const byName = definition.name ? current.named(definition.name) : undefined;
      if (!free(definition.id ? current.get(definition.id) : undefined) || !free(byName) || !free(current.keyed(matchKey(definition.input!)))) return undefined;
      const id = definition.id || byName?.id || deriveRuleId(definition.input!);
      if (named.has(id)) return undefined;
      named.add(id);
      const before = current.get(id);
      if (!free(before)) return undefined;
      let rule: Rule;
      if (!before) {
        rule = { ...definition, id, generation: 1n, createdUnixNanos: now, updatedUnixNanos: now };
        plan.added.push(rule);
      } else if (sameDefinition(before, definition)) {
        return undefined; // unchanged but not as given: planEach says so (and keeps no memo)
      } else {
        rule = { ...definition, id, generation: before.generation + 1n, createdUnixNanos: before.createdUnixNanos, updatedUnixNanos: now };
        plan.changed.push(rule);
      }
      stored.push({ rule, index });
      resolved[index - head] = rule;
    }
    if (options.replace) {
      for (const rule of between) if (!sameBetween.has(rule) && !named.has(rule.id)) plan.removed.push(rule);
      plan.removed.sort(byId);
    }
    plan.next = nextSet(current, plan, stored, options);
  } catch (err) {
    // A refusal is planEach's to make, with every rule's part in it.
    if (err instanceof RuleError) return undefined;
    throw err;
  }
  plan.unchanged = last.resolved.slice(0, head).concat(unchanged, last.resolved.slice(m - tail));
  plan.memo = { desired: desired.slice(), resolved: last.resolved.slice(0, head).concat(resolved, last.resolved.slice(m - tail)), wholeSet: options.replace };
  return plan;
}

/**
 * The stored rule `desired` is when it is one exactly as it is (same definition, and identified as
 * planApply identifies: by id, else by name, else by the id derived from its match key), else
 * undefined. One or two lookups: what lets a diff skip the rules it does not change.
 */
function storedAsIs(current: RuleView, desired: Rule): Rule | undefined {
  let candidate: Rule | undefined;
  const named = !desired.id && desired.name ? current.named(desired.name) : undefined;
  if (desired.id) candidate = current.get(desired.id);
  else if (named) candidate = named;
  else if (desired.input) {
    const keyed = current.keyed(matchKey(desired.input));
    candidate = keyed && keyed.id === derivedIdOf(keyed) ? keyed : undefined;
  }
  return candidate && desired.input && sameDefinition(candidate, desired) ? candidate : undefined;
}

/** The id derived from a stored rule's match key, computed once per stored rule. */
const derivedIds = new WeakMap<Rule, string>();
function derivedIdOf(rule: Rule): string {
  let id = derivedIds.get(rule);
  if (id === undefined) {
    id = deriveRuleId(rule.input!);
    derivedIds.set(rule, id);
  }
  return id;
}

/**
 * checkDistinct, in what the rules other than those in `sameAt` (stored rules as they are, which
 * are distinct from each other) cost: those are checked among themselves and, by a lookup in
 * `current`, against the others. Only when one clashes with a stored rule as it is are all checked.
 */
function checkDistinctAgainst(current: RuleView, definitions: readonly Rule[], same: ReadonlyArray<Rule | undefined>, sameAt: ReadonlyMap<Rule, number>): void {
  // Two desired rules that are one stored rule as it is (the same definition sent twice) are two
  // rules with one name or match key: all are checked, which names the later one.
  const sameCount = same.reduce((count, rule) => (rule ? count + 1 : count), 0);
  if (sameAt.size === 0 || sameAt.size !== sameCount) return checkDistinct(definitions);
  const fresh = definitions.map((definition, index) => (same[index] ? undefined : definition));
  const clashesWithSame = fresh.some((definition) => {
    if (!definition) return false;
    const byId = definition.id ? current.get(definition.id) : undefined;
    const byName = definition.name ? current.named(definition.name) : undefined;
    const byKey = current.keyed(matchKey(definition.input!));
    return (byId && byId.id === definition.id && sameAt.has(byId) && definitions[sameAt.get(byId)!].id !== '') || (byName && sameAt.has(byName)) || (byKey && sameAt.has(byKey));
  });
  if (clashesWithSame) return checkDistinct(definitions);
  const violations = distinctViolations(fresh);
  if (violations.length > 0) throw violationsError(violations, reasonOf(violations[0]));
}

/**
 * Refuses (INVALID_ARGUMENT, naming the later one) two rules of one set that give the same id, the
 * same name or the same match key: every such clash is in the details, the first is the message.
 * `field` is the field holding the set.
 */
export function checkDistinct(definitions: readonly Rule[], field = RULES_FIELD): void {
  const violations = distinctViolations(definitions, field);
  if (violations.length > 0) throw violationsError(violations, reasonOf(violations[0]));
}

/** What makes a rule one of a kind in a set; a part left out (not valid, say) clashes with nothing. */
export type RuleIdentity = Partial<Pick<Rule, 'id' | 'name' | 'input'>>;

/** Every clash of checkDistinct, in order, each naming the later rule. An undefined entry takes part in none. */
export function distinctViolations(definitions: ReadonlyArray<RuleIdentity | undefined>, field = RULES_FIELD): RuleError[] {
  const violations: RuleError[] = [];
  const ids = new Map<string, number>();
  const names = new Map<string, number>();
  const keys = new Map<string, number>();
  /** The index of the first rule with `value` in `seen`, else undefined after noting `index` as that rule. */
  const earlier = (seen: Map<string, number>, value: string, index: number): number | undefined => {
    const first = seen.get(value);
    if (first === undefined) seen.set(value, index);
    return first;
  };
  definitions.forEach((definition, index) => {
    if (!definition) return;
    const at = ruleField(index, field);
    const firstId = definition.id ? earlier(ids, definition.id, index) : undefined;
    if (firstId !== undefined) violations.push(invalid(`${at}.id`, `${quote(definition.id!)} is also the id of ${ruleField(firstId, field)}`));
    const firstName = definition.name ? earlier(names, definition.name, index) : undefined;
    if (firstName !== undefined) violations.push(invalid(`${at}.name`, `${quote(definition.name!)} is also the name of ${ruleField(firstName, field)}`));
    const input = definition.input;
    const firstKey = input ? earlier(keys, matchKey(input), index) : undefined;
    if (input && firstKey !== undefined) {
      violations.push(invalid(`${at}.input`, `captures ${describeInput(input)}, as ${ruleField(firstKey, field)} does: two rules cannot capture the same`));
    }
  });
  return violations;
}

/** How a desired rule found its id, for errors. */
type IdSource = 'its id' | 'its name' | 'its match key (the derived id)';

/**
 * The id of each desired rule (see the file comment; `same[i]` is the stored rule the i-th already
 * is, see storedAsIs). Refuses two desired rules that are one stored rule, naming every such pair.
 */
function identify(current: RuleView, definitions: readonly Rule[], same: ReadonlyArray<Rule | undefined>, sameAt: ReadonlyMap<Rule, number>): string[] {
  // Rules in `same` are distinct stored rules: they claim their own ids without a clash among them.
  const claimed = new Map<string, { index: number; source: IdSource }>();
  const claimOf = (id: string): { index: number; source: IdSource } | undefined => {
    const own = claimed.get(id);
    if (own) return own;
    const rule = current.get(id);
    const index = rule && sameAt.get(rule);
    if (index === undefined) return undefined;
    const definition = definitions[index];
    return { index, source: definition.id ? 'its id' : definition.name ? 'its name' : 'its match key (the derived id)' };
  };
  const clashes: Array<{ index: number; error: RuleError }> = [];
  const ids = definitions.map((definition, index) => {
    const kept = same[index];
    if (kept) return kept.id;
    const named = !definition.id && definition.name ? current.named(definition.name) : undefined;
    const [id, source]: [string, IdSource] = definition.id
      ? [definition.id, 'its id']
      : named
        ? [named.id, 'its name']
        : [deriveRuleId(definition.input!), 'its match key (the derived id)'];
    const first = claimOf(id);
    if (first) {
      // Named on the later of the two, as if the set were read in order.
      const [later, earlier, laterSource, earlierSource] = first.index < index ? [index, first.index, source, first.source] : [first.index, index, first.source, source];
      clashes.push({
        index: later,
        error: invalid(
          laterSource === 'its id' ? `${ruleField(later)}.id` : ruleField(later),
          `is rule ${id} by ${laterSource}, and so is ${ruleField(earlier)} by ${earlierSource}: give one of them an id of its own`,
        ),
      });
    } else claimed.set(id, { index, source });
    return id;
  });
  if (clashes.length > 0) {
    clashes.sort((a, b) => a.index - b.index);
    throw violationsError(
      clashes.map((c) => c.error),
      reasonOf(clashes[0].error),
    );
  }
  return ids;
}

/**
 * Same name, input and outputs (in order, with the same ttl and dscp, set or not, and the same TTL and
 * TOS policies by meaning: TTL_POLICY_FIXED is the unset policy, preserve_tos true the unset one, as a
 * config file writes them; and the same oversize policy, OVERSIZE_POLICY_FRAGMENT being the unset one).
 */
export function sameDefinition(a: Rule, b: Rule): boolean {
  const [x, y] = [a.input!, b.input!];
  const sameInput =
    x.interface === y.interface && x.group === y.group && x.port === y.port && x.source === y.source && x.vlan === y.vlan && relaysEsp(x) === relaysEsp(y);
  if (a.name !== b.name || !sameInput || a.outputs.length !== b.outputs.length) return false;
  return a.outputs.every((o, i) => {
    const p = b.outputs[i];
    return (
      o.interface === p.interface &&
      o.address === p.address &&
      o.port === p.port &&
      o.ttl === p.ttl &&
      o.dscp === p.dscp &&
      decrementsTtl(o) === decrementsTtl(p) &&
      preservesTos(o) === preservesTos(p) &&
      dropsOversize(o) === dropsOversize(p) &&
      o.source === p.source
    );
  });
}
