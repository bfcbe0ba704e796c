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
import { describeRule } from './rule-set';
import { readStore, StoreContents, writeStore } from './store-file';
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

/** Request fields the errors name (those of CreateRuleRequest, UpdateRuleRequest and DeleteRuleRequest). */
const CREATE_FIELD = 'rule';
const UPDATE_FIELD = 'definition';
const REF_FIELD = 'rule';
const GENERATION_FIELD = 'expected_generation';

export class RuleStore {
  private state: StoreContents;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    /** <stateDir>/rules.json */
    readonly path: string,
    private readonly limits: RuleLimits,
    initial: StoreContents,
  ) {
    this.state = initial;
  }

  /**
   * Opens (creating the directory when missing) the store in `stateDir`. A missing file is an empty
   * store; a file that is not a valid store throws StoreCorruptError.
   */
  static async open(stateDir: string, limits: RuleLimits): Promise<RuleStore> {
    await fs.mkdir(stateDir, { recursive: true, mode: STATE_DIR_MODE });
    const file = path.join(stateDir, STORE_FILE_NAME);
    await removeStaleTemporary(file);
    return new RuleStore(file, limits, await readStore(file, limits));
  }

  /** Generation of the whole store: +1 per change. */
  get generation(): bigint {
    return this.state.generation;
  }

  /** Every rule, sorted by id (copies). */
  list(): Rule[] {
    return this.state.rules.sorted().map(copyRule);
  }

  /** The rule with this id, else with this name (a copy). */
  find(ref: string): Rule | undefined {
    const rule = this.state.rules.find(ref);
    return rule && copyRule(rule);
  }

  /** Adds a rule; its id is derived from the match key when `def.id` is empty. Resolves to the stored rule. */
  create(def: Rule, now: bigint, options: MutationOptions = {}): Promise<Rule> {
    return this.mutate(options, (state) => {
      const definition = validateRuleDefinition(def, this.limits, CREATE_FIELD);
      const rule: Rule = {
        ...definition,
        id: definition.id || deriveRuleId(definition.input!),
        generation: 1n,
        createdUnixNanos: now,
        updatedUnixNanos: now,
      };
      const conflict = state.rules.conflict(rule, CREATE_FIELD, false);
      if (conflict) throw definition.id ? conflict : explainDerivedId(conflict);
      if (state.rules.size >= this.limits.maxRules) {
        throw exhausted(CREATE_FIELD, `the store already holds ${state.rules.size} rules, its limit`, '--max-rules');
      }
      return { next: state.rules.with(rule), result: rule };
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
    return this.mutate(options, (state) => {
      const { mask } = options;
      const current = mask && findOrThrow(state, ref);
      const definition = validateRuleDefinition(current ? applyUpdateMask(current, def, mask) : def, this.limits, UPDATE_FIELD);
      const before = current ?? findOrThrow(state, ref);
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
      const conflict = state.rules.conflict(after, UPDATE_FIELD, true);
      if (conflict) throw conflict;
      return { next: state.rules.with(after), result: { before, after } };
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
    return this.mutate(options, (state) => {
      const expected = request.expectedGeneration;
      if (expected !== undefined && expected !== state.generation) {
        throw aborted(GENERATION_FIELD, `is ${expected}, but the rule store is at generation ${state.generation}`);
      }
      const plan = planApply(state.rules, desired, { replace: request.replace, limits: this.limits, now });
      // mutate() adds one to the generation when it writes, which it does for a real change only.
      const generation = plan.next && !options.dryRun ? state.generation + 1n : state.generation;
      const { added, changed, removed, unchanged } = plan;
      return { next: plan.next, result: { added, changed, removed, unchanged, generation } };
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
    return this.mutate({}, (state) => {
      const rule = findOrThrow(state, ref);
      checkGeneration(rule, expectedGeneration);
      return { next: state.rules.without(rule.id), result: rule };
    }).then(copyRule);
  }

  /**
   * Runs `change` after every earlier mutation has settled; unless dry, persists its result and then
   * makes it current (`next` undefined: nothing changes, nothing is written). Callers copy the rules
   * in the result before handing them out.
   */
  private mutate<T>(
    options: MutationOptions,
    change: (state: StoreContents) => { next: StoreContents['rules'] | undefined; result: T },
  ): Promise<T> {
    const run = this.queue.then(async () => {
      const { next, result } = change(this.state);
      if (!options.dryRun && next) {
        const nextState: StoreContents = { generation: this.state.generation + 1n, rules: next };
        await writeStore(this.path, nextState);
        this.state = nextState;
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

function findOrThrow(state: StoreContents, ref: string): Rule {
  const rule = state.rules.find(ref);
  if (!rule) throw unknownRule(REF_FIELD, ref);
  return rule;
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
