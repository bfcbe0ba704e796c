/**
 * What one worker has installed, as an immutable snapshot its WorkerSync publishes after every change
 * the worker confirmed: each rule with its input handle and its outputs (rule output index, native
 * handle, egress key), and the handles' names. Stats, trace and health read snapshots only, with
 * indexed lookups: nothing walks a list per rule or per handle.
 */
import { hashFromSum } from '../../workers/protocol';
import type { CounterRegion } from '../workers/counter-region';
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

/**
 * An immutable map that a change copies in O(change + sqrt(size)), not O(size): the entries of a base
 * map, with the entries changed since on top (undefined: removed). Once those outnumber the square root
 * of the size, a change makes a new base of all (so an entry is copied about sqrt(size) times less
 * often than with a whole copy per change, and a lookup looks in two maps at most).
 */
export class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  private constructor(
    private readonly base: ReadonlyMap<K, V>,
    private readonly own: ReadonlyMap<K, V | undefined>,
    readonly size: number,
  ) {}

  static of<K, V>(map: ReadonlyMap<K, V>): LayeredMap<K, V> {
    return new LayeredMap(map, new Map(), map.size);
  }

  /** A map with `changes` made (undefined: the key removed); this one stays as it is. */
  with(changes: ReadonlyMap<K, V | undefined>): LayeredMap<K, V> {
    if (changes.size === 0) return this;
    const own = new Map(this.own);
    let size = this.size;
    for (const [key, value] of changes) {
      const had = this.has(key);
      if (value === undefined) {
        if (!had) continue;
        size--;
        if (this.base.has(key)) own.set(key, undefined);
        else own.delete(key);
      } else {
        if (!had) size++;
        own.set(key, value);
      }
    }
    if (own.size <= Math.max(32, Math.sqrt(size))) return new LayeredMap(this.base, own, size);
    const base = new Map<K, V>();
    for (const [key, value] of this.base) if (!own.has(key)) base.set(key, value);
    for (const [key, value] of own) if (value !== undefined) base.set(key, value);
    return new LayeredMap(base, new Map(), size);
  }

  get(key: K): V | undefined {
    return this.own.has(key) ? this.own.get(key) : this.base.get(key);
  }

  has(key: K): boolean {
    return this.own.has(key) ? this.own.get(key) !== undefined : this.base.has(key);
  }

  *entries(): MapIterator<[K, V]> {
    for (const entry of this.base) if (!this.own.has(entry[0])) yield entry;
    for (const [key, value] of this.own) if (value !== undefined) yield [key, value];
  }

  *keys(): MapIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }
}

export class InstalledSnapshot {
  static readonly EMPTY = new InstalledSnapshot(LayeredMap.of(new Map()), new Map(), LayeredMap.of(new Map()), hashFromSum(0n), new Map(), undefined);

  private plannedList?: readonly PlannedRule[];

  constructor(
    readonly rules: LayeredMap<string, InstalledRule>,
    /** Input handle -> capture interface name. */
    readonly inputs: ReadonlyMap<number, string>,
    /** Output handle -> egress key (changed by difference from one snapshot to the next). */
    readonly outputs: LayeredMap<number, string>,
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
