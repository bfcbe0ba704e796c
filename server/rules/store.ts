/**
 * The rule store: the supervisor's desired state, persisted so a restart loses nothing.
 *
 * Mutations run one at a time (a promise chain). Each builds the next state, writes it to disk
 * atomically and only then makes it the current state, so memory never holds a change the disk does
 * not, and a failed write changes nothing. Reads are synchronous and see committed state only.
 */
import { promises as fs } from 'fs';
import path from 'path';

import type { Rule } from '../../gen/mcr/v1/rules';
import { aborted, alreadyExists, ApiError, exhausted, invalid, notFound, quote, RULE_RESOURCE } from '../api/errors';
import { planApply } from './apply-plan';
import { removeStaleTemporary } from './atomic-file';
import { deriveRuleId } from './id';
import { describeRule, RuleSet, RuleView } from './rule-set';
import { readStore, writeStore } from './store-file';
import { applyUpdateMask, RuleMaskPath } from './update-mask';
import { RuleLimits, validateRuleDefinition } from './validate';

export { StoreCorruptError } from './store-file';

export const STORE_FILE_NAME = 'rules.json';
/** Created when missing: only the supervisor may read the state directory. */
const STATE_DIR_MODE = 0o700;

export interface MutationOptions {
  /** Run every check and return the would-be result without changing anything. */
  dryRun?: boolean;
}

/** What an apply did (or, dry, would do): the rules by what happens to them, and the generation after. */
export interface AppliedRules {
  added: Rule[];
  changed: Rule[];
  removed: Rule[];
  unchanged: Rule[];
  /** The store's generation after the apply: unchanged by a dry run or an apply that changes nothing. */
  generation: bigint;
}

/** What a mutation changes: rules put in place (added or replacing the rule with their id), ids removed. */
interface RuleChange {
  put: Rule[];
  remove: string[];
}

/** Request fields the errors name (those of CreateRuleRequest, UpdateRuleRequest and DeleteRuleRequest). */
const CREATE_FIELD = 'rule';
const UPDATE_FIELD = 'definition';
const REF_FIELD = 'rule';
const GENERATION_FIELD = 'expected_generation';

export class RuleStore {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    /** <stateDir>/rules.json */
    readonly path: string,
    private readonly limits: RuleLimits,
    /** What is on disk: changed in place once a change is. */
    private readonly rules: RuleSet,
    private generationOnDisk: bigint,
  ) {}

  /**
   * Opens (creating the directory when missing) the store in `stateDir`. A missing file is an empty
   * store; a file that is not a valid store throws StoreCorruptError.
   */
  static async open(stateDir: string, limits: RuleLimits): Promise<RuleStore> {
    await fs.mkdir(stateDir, { recursive: true, mode: STATE_DIR_MODE });
    const file = path.join(stateDir, STORE_FILE_NAME);
    await removeStaleTemporary(file);
    const { rules, generation } = await readStore(file, limits);
    return new RuleStore(file, limits, rules, generation);
  }

  /** Generation of the whole store: +1 per change. */
  get generation(): bigint {
    return this.generationOnDisk;
  }

  /** Number of rules. */
  get size(): number {
    return this.rules.size;
  }

  /** Every rule, sorted by id (copies). */
  list(): Rule[] {
    return this.rules.sorted().map(copyRule);
  }

  /** The rule with this id, else with this name (a copy). */
  find(ref: string): Rule | undefined {
    const rule = this.rules.find(ref);
    return rule && copyRule(rule);
  }

  /** Adds a rule; its id is derived from the match key when `def.id` is empty. Resolves to the stored rule. */
  create(def: Rule, now: bigint, options: MutationOptions = {}): Promise<Rule> {
    return this.mutate(options, (rules) => {
      const definition = validateRuleDefinition(def, this.limits, CREATE_FIELD);
      const rule: Rule = {
        ...definition,
        id: definition.id || deriveRuleId(definition.input!),
        generation: 1n,
        createdUnixNanos: now,
        updatedUnixNanos: now,
      };
      const conflict = conflictIn(rules, rule, CREATE_FIELD, false);
      if (conflict) throw definition.id ? conflict : explainDerivedId(conflict);
      if (rules.size >= this.limits.maxRules) {
        throw exhausted(CREATE_FIELD, `the store already holds ${rules.size} rules, its limit`, '--max-rules');
      }
      return { change: { put: [rule], remove: [] }, result: rule };
    }).then(copyRule);
  }

  /**
   * Replaces the definition (name, input, outputs) of the rule `ref` names, or with `options.mask`
   * only those fields of it (merged into the rule as it is when the change runs, not as a caller read
   * it). Its id never changes; its generation goes up by one. With `expectedGeneration`, refuses
   * (ABORTED) unless it is current.
   */
  update(
    ref: string,
    def: Rule | undefined,
    expectedGeneration: bigint | undefined,
    now: bigint,
    options: MutationOptions & { mask?: readonly RuleMaskPath[] } = {},
  ): Promise<{ before: Rule; after: Rule }> {
    return this.mutate(options, (rules) => {
      const { mask } = options;
      const current = mask && findOrThrow(rules, ref);
      const definition = validateRuleDefinition(current ? applyUpdateMask(current, def, mask) : def, this.limits, UPDATE_FIELD);
      const before = current ?? findOrThrow(rules, ref);
      checkGeneration(before, expectedGeneration);
      if (definition.id && definition.id !== before.id) {
        throw invalid(`${UPDATE_FIELD}.id`, `is ${definition.id}, but the rule is ${before.id}: a rule's id never changes`);
      }
      const after: Rule = {
        ...definition,
        id: before.id,
        generation: before.generation + 1n,
        createdUnixNanos: before.createdUnixNanos,
        updatedUnixNanos: now,
      };
      const conflict = conflictIn(rules, after, UPDATE_FIELD, true);
      if (conflict) throw conflict;
      return { change: { put: [after], remove: [] }, result: { before, after } };
    }).then((result) => ({ before: copyRule(result.before), after: copyRule(result.after) }));
  }

  /**
   * Makes the store hold `desired` in one write, all or nothing (see apply-plan.ts for how rules are
   * identified); `replace` removes the rules `desired` does not identify. A set that changes nothing
   * writes nothing and keeps the generation. With `expectedGeneration`, refuses (ABORTED) unless the
   * store is at that generation.
   */
  apply(
    desired: readonly Rule[],
    request: { replace: boolean; expectedGeneration?: bigint },
    now: bigint,
    options: MutationOptions = {},
  ): Promise<AppliedRules> {
    return this.mutate(options, (rules, current) => {
      const expected = request.expectedGeneration;
      if (expected !== undefined && expected !== current) {
        throw aborted(GENERATION_FIELD, `is ${expected}, but the rule store is at generation ${current}`);
      }
      const plan = planApply(rules, desired, { replace: request.replace, limits: this.limits, now });
      // mutate() adds one to the generation when it writes, which it does for a real change only.
      const generation = plan.next && !options.dryRun ? current + 1n : current;
      const { added, changed, removed, unchanged } = plan;
      const change = plan.next && { put: [...added, ...changed], remove: removed.map((rule) => rule.id) };
      return { change, result: { added, changed, removed, unchanged, generation } };
    }).then((result) => ({
      added: result.added.map(copyRule),
      changed: result.changed.map(copyRule),
      removed: result.removed.map(copyRule),
      unchanged: result.unchanged.map(copyRule),
      generation: result.generation,
    }));
  }

  /** Removes the rule `ref` names; resolves to it as it was. */
  delete(ref: string, expectedGeneration: bigint | undefined): Promise<Rule> {
    return this.mutate({}, (rules) => {
      const rule = findOrThrow(rules, ref);
      checkGeneration(rule, expectedGeneration);
      return { change: { put: [], remove: [rule.id] }, result: rule };
    }).then(copyRule);
  }

  /**
   * Runs `plan` after every earlier mutation has settled; unless dry, persists its change and then
   * makes it current (`change` undefined: nothing changes, nothing is written). Callers copy the
   * rules in the result before handing them out.
   */
  private mutate<T>(
    options: MutationOptions,
    plan: (rules: RuleView, generation: bigint) => { change: RuleChange | undefined; result: T },
  ): Promise<T> {
    const run = this.queue.then(async () => {
      const { change, result } = plan(this.rules, this.generationOnDisk);
      if (!options.dryRun && change) {
        const next = RuleSet.over(this.rules);
        applyChange(next, change);
        await writeStore(this.path, { generation: this.generationOnDisk + 1n, rules: next });
        applyChange(this.rules, change);
        this.generationOnDisk++;
      }
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** NOT_FOUND for a rule reference (id or name) that names no rule; `field` is the request's. */
export function unknownRule(field: string, ref: string): ApiError {
  return notFound(field, `no rule with id or name ${quote(ref)}`, { reason: 'RULE_NOT_FOUND', resource: { type: RULE_RESOURCE, name: ref } });
}

function findOrThrow(rules: RuleView, ref: string): Rule {
  const rule = rules.get(ref) ?? rules.named(ref);
  if (!rule) throw unknownRule(REF_FIELD, ref);
  return rule;
}

function applyChange(rules: RuleSet, change: RuleChange): void {
  for (const id of change.remove) rules.remove(id);
  for (const rule of change.put) rules.put(rule);
}

/** RuleSet.conflict against a view (a layer over it answers just as the view would). */
function conflictIn(rules: RuleView, rule: Rule, field: string, replacing: boolean): ApiError | undefined {
  return RuleSet.over(rules).conflict(rule, field, replacing);
}

function checkGeneration(rule: Rule, expected: bigint | undefined): void {
  if (expected !== undefined && expected !== rule.generation) {
    throw aborted(GENERATION_FIELD, `is ${expected}, but rule ${describeRule(rule)} is at generation ${rule.generation}`);
  }
}

/**
 * A derived id can be taken although no rule has this match key: ids never change, so a rule created
 * with this match key and updated to another keeps it. The client has to choose an id then.
 */
function explainDerivedId(conflict: ApiError): ApiError {
  if (conflict.field !== `${CREATE_FIELD}.id`) return conflict;
  return alreadyExists(
    conflict.field,
    `${conflict.detail} (the id derived from this match key is kept by a rule whose match key was changed since): choose an id for this rule`,
    conflict.extras,
  );
}

function copyRule(rule: Rule): Rule {
  return {
    ...rule,
    input: rule.input && { ...rule.input },
    outputs: rule.outputs.map((output) => ({ ...output })),
    status: rule.status && { ...rule.status },
  };
}
