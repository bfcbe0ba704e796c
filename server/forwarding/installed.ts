/**
 * What one worker has installed, as an immutable snapshot its WorkerSync publishes after every change
 * the worker confirmed: each rule with its input handle and its outputs (rule output index, native
 * handle, egress key), and the input handles' interface names. Stats, trace and health read
 * snapshots only, with indexed lookups: nothing walks a list per rule or per handle.
 */
import { hashFromSum } from '../../workers/protocol';
import type { CounterRegion } from '../workers/counter-region';
import { PersistentMap } from './persistent-map';
import type { PlannedRule } from './plan';

/** One output of an installed rule. */
export interface InstalledOutput {
  /** Index of the output in the rule's definition. */
  readonly index: number;
  /** The worker's egress handle. */
  readonly handle: number;
  /** Its counters' slot in the worker's counter region. */
  readonly slot: number;
  /** What it sends to (outputIdentity): the owner of its counters. */
  readonly identity: string;
  /** The egress socket's key (see egressKey). */
  readonly key: string;
}

export interface InstalledRule {
  readonly planned: PlannedRule;
  readonly inputHandle: number;
  /** The rule's counters' slot in the worker's counter region. */
  readonly counterSlot: number;
  /** The outputs installed, in rule order (outputs whose interface is missing are absent). */
  readonly outputs: readonly InstalledOutput[];
  /** The data-plane rule as sent (JSON): equal when nothing the worker sees has changed. */
  readonly wire: string;
  /** The rule's share of the ruleset hash. */
  readonly digest: bigint;
}

export class InstalledSnapshot {
  static readonly EMPTY = new InstalledSnapshot(PersistentMap.of(new Map()), new Map(), hashFromSum(0n), new Map(), undefined);

  private plannedList?: readonly PlannedRule[];

  constructor(
    readonly rules: PersistentMap<string, InstalledRule>,
    /** Input handle -> capture interface name. */
    readonly inputs: ReadonlyMap<number, string>,
    /** The ruleset hash the worker reports for this table. */
    readonly hash: string,
    /** Input handle -> the first of its two counter slots. */
    readonly inputSlots: ReadonlyMap<number, number>,
    /** Where the slots are (undefined: no worker process). */
    readonly region: CounterRegion | undefined,
  ) {}

  /** The installed rules as planned (built once per snapshot, on demand). */
  get planned(): readonly PlannedRule[] {
    this.plannedList ??= [...this.rules.values()].map((r) => r.planned);
    return this.plannedList;
  }
}
