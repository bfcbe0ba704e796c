/**
 * What one worker has installed, as an immutable snapshot its WorkerSync publishes after every change
 * the worker confirmed: each rule with its input handle and its outputs (rule output index, native
 * handle, egress key), and the input handles' interface names. Stats, trace and health read
 * snapshots only, with indexed lookups: nothing walks a list per rule or per handle.
 */
import type { DataplaneRule } from '../../native';
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
  /** The data-plane rule as sent (see sameDataplaneRule: whether the worker sees a change). */
  readonly dataplane: DataplaneRule;
  /** The rule's share of the ruleset hash. */
  readonly digest: bigint;
}

/**
 * An installed rule as WorkerSync makes it. Its outputs are read by stats and traces only, so they are
 * made from the plan and the data-plane rule when first read, not per output at every install.
 */
export class InstalledEntry implements InstalledRule {
  private outputList?: readonly InstalledOutput[];

  constructor(
    readonly planned: PlannedRule,
    readonly inputHandle: number,
    readonly counterSlot: number,
    /** Its outputs' handles and slots are those of the planned outputs installed, in order. */
    readonly dataplane: DataplaneRule,
    readonly digest: bigint,
    /** Where in `planned.outputs` each installed output is (undefined: every planned output is installed). */
    private readonly positions: readonly number[] | undefined,
  ) {}

  get outputs(): readonly InstalledOutput[] {
    this.outputList ??= this.dataplane.outputs.map((handle, i) => {
      const at = this.positions ? this.positions[i] : i;
      const { outputIndexes, outputIdentities, outputs } = this.planned;
      return { index: outputIndexes[at], handle, key: outputs[at], identity: outputIdentities[at], slot: this.dataplane.outputSlots![i] };
    });
    return this.outputList;
  }
}

/** Whether two data-plane rules are the same to the worker (the same id, match, handles and slots, trace). */
export function sameDataplaneRule(a: DataplaneRule, b: DataplaneRule): boolean {
  return (
    a.id === b.id &&
    a.input === b.input &&
    a.group === b.group &&
    a.port === b.port &&
    a.source === b.source &&
    a.vlan === b.vlan &&
    a.counterSlot === b.counterSlot &&
    sameNumbers(a.outputs, b.outputs) &&
    sameNumbers(a.outputSlots, b.outputSlots) &&
    a.trace?.sampleEvery === b.trace?.sampleEvery &&
    a.trace?.snapLength === b.trace?.snapLength
  );
}

function sameNumbers(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
