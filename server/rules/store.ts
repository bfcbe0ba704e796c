/**
 * The rule store: the supervisor's desired state, persisted so a restart loses nothing.
 *
 * On disk (store-file.ts, docs/decisions/0023): a snapshot (rules.json) and a journal of the changes
 * since (rules.journal). A change is one journal record; it is acknowledged (its promise resolves)
 * only once fdatasync'd, and only then do reads see it, so memory never holds a change the disk does
 * not, and a failed write changes nothing. Mutations are planned one after the other, each on top of
 * the ones before it (also those still being written); those that arrive while the journal syncs go
 * to disk together in the next frame (group commit), in order.
 *
 * When the journal outgrows the snapshot it is compacted beside the writes (journal.ts,
 * docs/decisions/0048): between two frames the journal marks a cut and the store reads the durable
 * generation and rules there (the rules are never changed in place, only replaced, so the sorted
 * list of them is the state at the cut); the snapshot of them is encoded a slice at a time and
 * written atomically while changes go on being journaled and acknowledged; then the journal is
 * replaced by its records after the cut. Opening skips journal records the snapshot has, so a crash
 * between the two renames loses nothing. One compaction at a time.
 *
 * Reads are synchronous and see durable state only.
 *
 * Stored rules are never modified: a change replaces a rule's object, never alters it (the
 * compaction above, and the caches keyed by stored rules elsewhere, count on it). Reads that hand
 * a rule to a caller who may keep or change it copy it (get, find, list, update, apply's lists);
 * those whose callers only read or encode it hand out the stored object, typed Readonly and
 * documented never to be modified: listShared, asStored, namedAsStored, findAsStored, and the rule
 * create and delete resolve to (the API encodes it, after a `{ ...rule, status }`, and nothing else).
 */
import { promises as fs } from 'fs';
import path from 'path';

import type { Rule } from '../../gen/mcr/v1/rules';
import { aborted, alreadyExists, exhausted, invalid, RuleError, unknownRule } from './errors';
import { logger } from '../log';
import { ApplyMemo, planApply } from './apply-plan';
import { removeStaleTemporary } from '../files/atomic-file';
import { deriveRuleId } from './id';
import { Journal, JournalProblem, readJournal } from './journal';
import { conflictIn, describeRule, RuleSet, RuleView } from './rule-set';
import {
  changeGeneration,
  decodeChange,
  encodeChange,
  readStore,
  StoreChange,
  StoreCorruptError,
  StoreProblem,
  STORE_FILE_MODE,
  STORE_VERSION,
  writeStore,
} from './store-file';
import { applyUpdateMask, RuleMaskPath } from './update-mask';
import { RuleLimits, validateRuleDefinition } from './validate';

export { StoreCorruptError } from './store-file';

export const STORE_FILE_NAME = 'rules.json';
export const JOURNAL_FILE_NAME = 'rules.journal';
/**
 * The journal is compacted into a new snapshot once it is this many times the snapshot's size (and
 * at least COMPACT_MIN_BYTES): writing snapshots costs O(1) per change amortized, and opening reads
 * at most this much more than the snapshot.
 */
export const COMPACT_FACTOR = 1;
export const COMPACT_MIN_BYTES = 1 << 20;
/** Created when missing: only the supervisor may read the state directory. */
const STATE_DIR_MODE = 0o700;

/** Settings tests change. */
export interface StoreTuning {
  /** The least journal size that is compacted (COMPACT_MIN_BYTES). */
  compactMinBytes?: number;
  /** Awaited by a compaction once it has read the state to snapshot, before it writes it: tests hold a compaction there. */
  beforeSnapshot?: () => Promise<void>;
}

export interface MutationOptions {
  /** Run every check and return the would-be result without changing anything. */
  dryRun?: boolean;
}

/** What an apply did (or, dry, would do): the rules by what happens to them, and the generation after. */
export interface AppliedRules {
  added: Rule[];
  changed: Rule[];
  removed: Rule[];
  /**
   * The stored rules themselves, not copies (an apply of 20,000 rules that changes one must not copy
   * the other 19,999): read only.
   */
  unchanged: readonly Readonly<Rule>[];
  /** The store's generation after the apply: unchanged by a dry run or an apply that changes nothing. */
  generation: bigint;
}

/** What a mutation changes: rules put in place (added or replacing the rule with their id), ids removed. */
type RuleChange = Omit<StoreChange, 'generation'>;

/** A mutation's plan: its change (undefined: none), its result, and what to do once it is taken (not dry, not planned again). */
interface Planned<T> {
  change: RuleChange | undefined;
  result: T;
  taken?: () => void;
}

/** Request fields the errors name (those of CreateRuleRequest, UpdateRuleRequest and DeleteRuleRequest). */
const CREATE_FIELD = 'rule';
const UPDATE_FIELD = 'definition';
const REF_FIELD = 'rule';
const GENERATION_FIELD = 'expected_generation';

export class RuleStore {
  private readonly log = logger('store');
  /** Changes planned (the planning view has them) but not yet durable, oldest first. */
  private readonly pending: StoreChange[] = [];
  /** The durable rules with the pending changes on top; rebuilt when undefined. */
  private planning: RuleSet | undefined;
  /** Settles once every change planned so far is durable or failed. */
  private settled: Promise<void> = Promise.resolve();
  /** Journal size at which to compact next. */
  private compactAt: number;
  /**
   * The last apply's plan, while the planning view is the set it left (no other change planned since,
   * none dropped): the next apply plans only what differs from it (apply-plan.ts planFromLast).
   */
  private lastApply: ApplyMemo | undefined;
  /** Told the ids of the rules each change put or removed, as it becomes durable. */
  private readonly changeListeners: Array<(ids: string[]) => void> = [];

  private constructor(
    /** <stateDir>/rules.json: the snapshot. */
    readonly path: string,
    private readonly limits: RuleLimits,
    /** What is on disk: changed in place once a change is. */
    private readonly rules: RuleSet,
    private generationOnDisk: bigint,
    private readonly journal: Journal,
    private snapshotBytes: number,
    private readonly tuning: StoreTuning,
  ) {
    this.compactAt = this.compactionThreshold();
  }

  /**
   * Opens (creating the directory when missing) the store in `stateDir`: the snapshot, then the
   * journal's changes after it. A missing snapshot is an empty store. A torn end of the journal (a
   * crash in the middle of a write, never acknowledged) is cut off and logged; anything else that is
   * not a valid store throws StoreCorruptError, and nothing is written. A snapshot of the format
   * before the journal is written again in the current one.
   */
  static async open(stateDir: string, limits: RuleLimits, tuning: StoreTuning = {}): Promise<RuleStore> {
    await fs.mkdir(stateDir, { recursive: true, mode: STATE_DIR_MODE });
    const file = path.join(stateDir, STORE_FILE_NAME);
    const journalFile = path.join(stateDir, JOURNAL_FILE_NAME);
    await removeStaleTemporary(file);
    await removeStaleTemporary(journalFile); // a journal's tail a crash left before its rename
    const snapshot = await readStore(file, limits);
    let journal;
    try {
      journal = await readJournal(journalFile);
    } catch (err) {
      if (err instanceof JournalProblem) throw new StoreCorruptError(journalFile, err.message);
      throw err;
    }
    const { rules } = snapshot;
    let generation = snapshot.generation;
    try {
      journal.records.forEach((record, index) => {
        const where = `record ${index + 1}`;
        const recordGeneration = changeGeneration(record, where);
        if (recordGeneration <= snapshot.generation) return; // in the snapshot already
        if (recordGeneration !== generation + 1n) {
          throw new StoreProblem(`${where} is generation ${recordGeneration}, but the store is at ${generation}: records are missing`);
        }
        replay(rules, decodeChange(record, where, limits), where);
        generation = recordGeneration;
      });
      if (rules.size > limits.maxRules) throw new StoreProblem(`${rules.size} rules, more than the limit of ${limits.maxRules}`);
    } catch (err) {
      if (err instanceof StoreProblem) throw new StoreCorruptError(journalFile, err.message);
      throw err;
    }
    const log = logger('store');
    if (journal.tornBytes > 0) {
      log.warn(`rule store journal ${journalFile}: cut off ${journal.tornBytes} bytes at its end, a write a crash interrupted (never acknowledged)`, {
        tornBytes: journal.tornBytes,
        keptBytes: journal.goodBytes,
      });
      await Journal.cutTornEnd(journalFile, journal.goodBytes);
    }
    let snapshotBytes = snapshot.bytes;
    if (snapshot.bytes > 0 && snapshot.version !== STORE_VERSION) {
      snapshotBytes = await writeStore(file, { generation: snapshot.generation, rules: snapshot.rules.sorted() });
      log.info(`rule store ${file} migrated from version ${snapshot.version} to ${STORE_VERSION}`, { rules: snapshot.rules.size });
    }
    return new RuleStore(file, limits, rules, generation, new Journal(journalFile, journal.goodBytes, STORE_FILE_MODE), snapshotBytes, tuning);
  }

  /** Waits for the changes being written and a compaction under way, then closes the journal. */
  async close(): Promise<void> {
    await this.settled;
    await this.journal.close(); // it waits for a compaction under way
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

  /** The rule with this id (a copy). */
  get(id: string): Rule | undefined {
    const rule = this.rules.get(id);
    return rule && copyRule(rule);
  }

  /**
   * Calls `listener` with the ids of the rules each change puts or removes, once it is durable (in the
   * order of the changes), before whoever made the change hears that it is.
   */
  onChange(listener: (ids: string[]) => void): void {
    this.changeListeners.push(listener);
  }

  /**
   * Every rule, sorted by id, as the store holds them: no copies, for readers that only read (the
   * stats collector reads every rule each second, and copying 20,000 rules costs more than the rest of
   * its work). A change replaces a rule's object, never alters it, so an unchanged rule is the same
   * object from one call to the next, and the array itself is the same while no rule changed (see
   * RuleSet.sortedShared). Never to be modified.
   */
  listShared(): readonly Rule[] {
    return this.rules.sortedShared();
  }

  /** The durable rule with this id itself, not a copy (see namedAsStored). */
  asStored(id: string): Readonly<Rule> | undefined {
    return this.rules.get(id);
  }

  /**
   * The durable rule named `name` itself, not a copy: for readers that only compare with it (the
   * ApplyRules decoder recognizing stored rules, api/known-rules.ts). Never modify it or hand it out.
   */
  namedAsStored(name: string): Readonly<Rule> | undefined {
    return this.rules.named(name);
  }

  /** The rule with this id, else with this name (a copy). */
  find(ref: string): Rule | undefined {
    const rule = this.rules.find(ref);
    return rule && copyRule(rule);
  }

  /** The durable rule with this id, else with this name, itself, not a copy (see namedAsStored). */
  findAsStored(ref: string): Readonly<Rule> | undefined {
    return this.rules.find(ref);
  }

  /**
   * Adds a rule; its id is derived from the match key when `def.id` is empty. Resolves to the stored
   * rule itself, not a copy (never to be modified: see the file comment); a dry run's is its own.
   */
  create(def: Rule | undefined, now: bigint, options: MutationOptions = {}): Promise<Readonly<Rule>> {
    // Validated before the change is planned: a definition does not depend on the store, so it is
    // looked at once however often mutate() plans the change, and a refusal does not wait for the
    // changes pending. The API leaves it to the store rather than validating it twice.
    let definition: Rule;
    try {
      definition = validateRuleDefinition(def, this.limits, CREATE_FIELD);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.mutate(options, (rules) => {
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
    }).then(readOnly);
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
    const { mask } = options;
    // A whole definition is validated before the change is planned (see create), a partial one once
    // merged into the rule as it is when the change runs.
    let whole: Rule | undefined;
    try {
      whole = mask ? undefined : validateRuleDefinition(def, this.limits, UPDATE_FIELD);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.mutate(options, (rules) => {
      const current = mask && findOrThrow(rules, ref);
      const definition = whole ?? validateRuleDefinition(current ? applyUpdateMask(current, def, mask) : def, this.limits, UPDATE_FIELD);
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
      const plan = planApply(rules, desired, { replace: request.replace, limits: this.limits, now }, this.lastApply);
      // mutate() adds one to the generation when it writes, which it does for a real change only.
      const generation = plan.next && !options.dryRun ? current + 1n : current;
      const { added, changed, removed, unchanged } = plan;
      const change = plan.next && { put: [...added, ...changed], remove: removed.map((rule) => rule.id) };
      // Kept once the plan is taken (mutate calls `taken`), whether it changes anything or not.
      return { change, result: { added, changed, removed, unchanged, generation }, taken: () => (this.lastApply = plan.memo) };
    }).then((result) => ({
      added: result.added.map(copyRule),
      changed: result.changed.map(copyRule),
      removed: result.removed.map(copyRule),
      unchanged: result.unchanged,
      generation: result.generation,
    }));
  }

  /** Removes the rule `ref` names; resolves to it as it was: the object the store held, not a copy (never to be modified). */
  delete(ref: string, expectedGeneration: bigint | undefined): Promise<Readonly<Rule>> {
    return this.mutate({}, (rules) => {
      const rule = findOrThrow(rules, ref);
      checkGeneration(rule, expectedGeneration);
      return { change: { put: [], remove: [rule.id] }, result: rule };
    }).then(readOnly);
  }

  /**
   * Plans a mutation on top of every earlier one (durable or not); unless dry, journals its change
   * and resolves once it is durable (`change` undefined: nothing changes, nothing is written). What
   * does not write (a dry run, a mutation that changes nothing, a refusal) waits for the changes
   * pending when it came to settle and is planned again, so that what it answers was planned on
   * what clients can read (once: under a steady stream of changes it would wait forever). Callers
   * copy the rules in the result before handing them out, or hand them out read only (see the file comment).
   */
  private mutate<T>(
    options: MutationOptions,
    plan: (rules: RuleView, generation: bigint) => Planned<T>,
    waited = false,
  ): Promise<T> {
    const again = () => this.settled.then(() => this.mutate(options, plan, true));
    const wait = !waited && this.pending.length > 0;
    if (wait && options.dryRun) return again();
    let planned: Planned<T>;
    try {
      planned = plan(this.view(), this.plannedGeneration());
    } catch (err) {
      return wait ? again() : Promise.reject(err);
    }
    const { change, result } = planned;
    if (options.dryRun) return Promise.resolve(result);
    if (!change) {
      if (wait) return again();
      planned.taken?.();
      return Promise.resolve(result);
    }
    // The planning view changes: the last apply's plan no longer describes it, unless this is one.
    this.lastApply = undefined;
    planned.taken?.();
    const stored: StoreChange = { generation: this.plannedGeneration() + 1n, ...change };
    const record = encodeChange(stored);
    applyChange(this.view(), stored);
    this.pending.push(stored);
    const done = new Promise<T>((resolve, reject) => {
      this.journal.append(record, {
        durable: () => {
          this.commit(stored);
          resolve(result);
        },
        failed: (err) => {
          this.drop(stored);
          reject(err);
        },
      });
    });
    this.settled = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  /** The durable rules with the pending changes on top. */
  private view(): RuleSet {
    if (!this.planning) {
      this.planning = RuleSet.over(this.rules);
      for (const change of this.pending) applyChange(this.planning, change);
    }
    return this.planning;
  }

  private plannedGeneration(): bigint {
    return this.generationOnDisk + BigInt(this.pending.length);
  }

  /** `change` is on disk (the oldest pending one: the journal acknowledges in order). */
  private commit(change: StoreChange): void {
    this.pending.shift();
    applyChange(this.rules, change);
    this.generationOnDisk = change.generation;
    if (this.changeListeners.length > 0) {
      const ids = [...change.put.map((rule) => rule.id), ...change.remove];
      for (const listener of this.changeListeners) listener(ids);
    }
    // The layer counted the change against the rules below it, which now have it: build it again.
    this.planning = undefined;
    if (this.journal.size >= this.compactAt && !this.journal.compacting) this.compact();
  }

  /** `change` could not be written: neither could any after it (the journal fails those too). */
  private drop(change: StoreChange): void {
    const at = this.pending.indexOf(change);
    if (at >= 0) this.pending.splice(at);
    this.planning = undefined;
    this.lastApply = undefined;
  }

  /**
   * Writes a snapshot of the durable rules at a cut of the journal, beside the changes still being
   * journaled, then has the journal replaced by its records after the cut (see the file comment).
   */
  private compact(): void {
    const journalBytes = this.journal.size;
    // Not again before the journal has grown as much again, unless it is replaced by its tail.
    this.compactAt = journalBytes + this.compactionThreshold();
    const started = Date.now();
    let generation = 0n;
    let rules = 0;
    const replaced = this.journal.compact(async () => {
      // The journal calls this at the cut: what is durable now is what the records before it built.
      generation = this.generationOnDisk;
      const snapshot = this.rules.sorted();
      rules = snapshot.length;
      await this.writeSnapshot(generation, snapshot, journalBytes);
    });
    void replaced.then((done) => {
      if (!done) return;
      this.compactAt = this.compactionThreshold();
      const fields = { generation: String(generation), rules, snapshotBytes: this.snapshotBytes, journalBytes, tailBytes: this.journal.size, ms: Date.now() - started };
      this.log.debug('rule store compacted', fields);
    });
  }

  /** The snapshot of `rules` at `generation`, durable once this resolves (`rules` never change: see compact). */
  private async writeSnapshot(generation: bigint, rules: readonly Rule[], journalBytes: number): Promise<void> {
    try {
      await this.tuning.beforeSnapshot?.();
      this.snapshotBytes = await writeStore(this.path, { generation, rules });
    } catch (err) {
      this.log.warn(`rule store ${this.path}: could not write a snapshot, the journal goes on (${(err as Error).message})`, { journalBytes });
      throw err;
    }
  }

  private compactionThreshold(): number {
    return Math.max(this.tuning.compactMinBytes ?? COMPACT_MIN_BYTES, this.snapshotBytes * COMPACT_FACTOR);
  }
}

/** Applies a journal record read back to `rules`, refusing (StoreProblem) one that does not fit. */
function replay(rules: RuleSet, change: StoreChange, where: string): void {
  for (const id of change.remove) {
    if (!rules.remove(id)) throw new StoreProblem(`${where} removes rule ${id}, which the store does not hold`);
  }
  change.put.forEach((rule, index) => {
    const conflict = rules.conflict(rule, `${where}.put[${index}]`, true);
    if (conflict) throw new StoreProblem(conflict.message);
    rules.put(rule);
  });
}

function findOrThrow(rules: RuleView, ref: string): Rule {
  const rule = rules.get(ref) ?? rules.named(ref);
  if (!rule) throw unknownRule(REF_FIELD, ref);
  return rule;
}

function applyChange(rules: RuleSet, change: RuleChange): void {
  // Removed first, so that rules may trade names or match keys in one change.
  for (const id of change.remove) rules.remove(id);
  for (const rule of change.put) rules.put(rule);
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
function explainDerivedId(conflict: RuleError): RuleError {
  if (conflict.field !== `${CREATE_FIELD}.id`) return conflict;
  return alreadyExists(
    conflict.field,
    `${conflict.detail} (the id derived from this match key is kept by a rule whose match key was changed since): choose an id for this rule`,
    conflict.extras,
  );
}

/**
 * A stored rule handed out as it is, read only (see the file comment). A step of its own, as the
 * copies of the other mutations are, so that callers hear of changes in the order they were made.
 */
function readOnly(rule: Rule): Readonly<Rule> {
  return rule;
}

function copyRule(rule: Rule): Rule {
  return {
    ...rule,
    input: rule.input && { ...rule.input },
    outputs: rule.outputs.map((output) => ({ ...output })),
    status: rule.status && { ...rule.status },
  };
}
