/**
 * A set of stored rules with its unique indexes: id, match key and name. Ids and names share one
 * namespace (a client may refer to a rule by either), so a name may not be another rule's id and an
 * id may not be another rule's name.
 *
 * A set is changed in place, in O(1) per rule (docs/decisions/0022): the store keeps one for what is
 * on disk. A set made `over` another is a layer of changes on top of it, which reads through to the
 * set below for every rule it does not change: planning a change (or a whole ApplyRules) against
 * 20,000 rules costs what the change touches, not a copy of the 20,000. A layer stays valid while
 * the set below it does not change.
 */
import type { Input, Rule } from '../../gen/mcr/v1/rules';
import { alreadyExists, ErrorExtras, RULE_RESOURCE, RuleError } from './errors';
import { matchKey } from './id';
import { inputDestination } from '../formats/input-protocol';

/** The details of an ALREADY_EXISTS naming the rule in the way. */
function exists(id: string): ErrorExtras {
  return { reason: 'RULE_EXISTS', resource: { type: RULE_RESOURCE, name: id } };
}

/** What a rule set answers; a layer reads its base through this. */
export interface RuleView {
  readonly size: number;
  /** By id only. */
  get(id: string): Rule | undefined;
  /** By name only. */
  named(name: string): Rule | undefined;
  /** By match key (id.ts matchKey). */
  keyed(key: string): Rule | undefined;
  /** Every rule, in no particular order. */
  rules(): IterableIterator<Rule>;
}

/** Changes to the sort order past which it is cheaper to sort again than to keep it in place. */
const ORDER_EDITS_LIMIT = 256;

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Index of `id` in the sorted `ids`, or where it would go. */
function searchSorted(ids: readonly string[], id: string): number {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ids[middle] < id) low = middle + 1;
    else high = middle;
  }
  return low;
}

export class RuleSet implements RuleView {
  /** In a layer, `null` marks what the layer removed from the base. */
  private readonly byId = new Map<string, Rule | null>();
  private readonly byKey = new Map<string, Rule | null>();
  private readonly byName = new Map<string, Rule | null>();
  /** Rules added minus rules removed, relative to the base. */
  private sizeDelta = 0;
  /** Ids in order, kept up to date while few changes come between two sorted() (never in a layer). */
  private order: string[] | undefined;
  private orderEdits = 0;
  /** The rules in id order, as sortedShared() last made them: until the next put or remove (never in a layer). */
  private shared: readonly Rule[] | undefined;

  private constructor(private readonly base: RuleView | undefined) {}

  /** An empty set of its own. */
  static empty(): RuleSet {
    return new RuleSet(undefined);
  }

  /** A set holding `rules` (whose ids, names and match keys the caller knows to be distinct). */
  static of(rules: Iterable<Rule>): RuleSet {
    const set = RuleSet.empty();
    for (const rule of rules) set.put(rule);
    return set;
  }

  /** A layer of changes over `base` (see the file comment). */
  static over(base: RuleView): RuleSet {
    return new RuleSet(base);
  }

  get size(): number {
    return (this.base?.size ?? 0) + this.sizeDelta;
  }

  /** By id, else by name. */
  find(ref: string): Rule | undefined {
    return this.get(ref) ?? this.named(ref);
  }

  get(id: string): Rule | undefined {
    const own = this.byId.get(id);
    if (own !== undefined) return own ?? undefined;
    return this.base?.get(id);
  }

  named(name: string): Rule | undefined {
    const own = this.byName.get(name);
    if (own !== undefined) return own ?? undefined;
    return this.base?.named(name);
  }

  keyed(key: string): Rule | undefined {
    const own = this.byKey.get(key);
    if (own !== undefined) return own ?? undefined;
    return this.base?.keyed(key);
  }

  *rules(): IterableIterator<Rule> {
    if (this.base) {
      for (const rule of this.base.rules()) {
        const own = this.byId.get(rule.id);
        if (own === undefined) yield rule;
      }
    }
    for (const rule of this.byId.values()) if (rule) yield rule;
  }

  /** Sorted by id. */
  sorted(): Rule[] {
    if (this.base) return [...this.rules()].sort((a, b) => compareIds(a.id, b.id));
    if (!this.order) this.order = [...this.byId.keys()].sort(compareIds);
    this.orderEdits = 0;
    return this.order.map((id) => this.byId.get(id)!);
  }

  /**
   * sorted(), the same array from one call to the next while no rule is put or removed: for readers
   * that only read, and may tell by its identity that no rule changed (the stats collector, each
   * second). Never to be modified. A layer, whose base may change under it, makes a new one each time.
   */
  sortedShared(): readonly Rule[] {
    if (this.base) return this.sorted();
    this.shared ??= this.sorted();
    return this.shared;
  }

  /**
   * The ALREADY_EXISTS error `rule` would cause next to the other rules (a rule with the same id as
   * `rule` is the one being replaced, not a conflict when `replacing`), or undefined. `field` is
   * the request field holding the definition.
   */
  conflict(rule: Rule, field: string, replacing: boolean): RuleError | undefined {
    return conflictIn(this, rule, field, replacing);
  }

  /** Adds `rule`, or replaces the rule with its id. The caller has checked conflict(). */
  put(rule: Rule): void {
    this.shared = undefined;
    const old = this.get(rule.id);
    if (old) this.unindex(old);
    else {
      this.sizeDelta++;
      this.editOrder(rule.id, true);
    }
    this.byId.set(rule.id, rule);
    this.byKey.set(matchKey(rule.input!), rule);
    if (rule.name) this.byName.set(rule.name, rule);
  }

  /** Removes the rule with this id; returns it (undefined when there is none). */
  remove(id: string): Rule | undefined {
    const old = this.get(id);
    if (!old) return undefined;
    this.shared = undefined;
    this.unindex(old);
    this.forget(this.byId, id);
    this.sizeDelta--;
    this.editOrder(id, false);
    return old;
  }

  /** Drops `old`'s match key and name from the indexes (its id is overwritten or forgotten by the caller). */
  private unindex(old: Rule): void {
    const key = matchKey(old.input!);
    if (this.keyed(key) === old) this.forget(this.byKey, key);
    if (old.name && this.named(old.name) === old) this.forget(this.byName, old.name);
  }

  /** Removes `key` from an index: deleted in a set of its own, marked removed in a layer. */
  private forget(index: Map<string, Rule | null>, key: string): void {
    if (this.base) index.set(key, null);
    else index.delete(key);
  }

  private editOrder(id: string, added: boolean): void {
    if (!this.order) return;
    if (++this.orderEdits > ORDER_EDITS_LIMIT) {
      this.order = undefined;
      return;
    }
    const at = searchSorted(this.order, id);
    if (added) this.order.splice(at, 0, id);
    else if (this.order[at] === id) this.order.splice(at, 1);
  }
}

/** RuleSet.conflict, asked of any view (the store asks its planning view, with no layer over it to make). */
export function conflictIn(rules: RuleView, rule: Rule, field: string, replacing: boolean): RuleError | undefined {
  const other = (found: Rule | undefined) => (found && found.id !== rule.id ? found : undefined);
  const input = rule.input!;
  const sameKey = rules.keyed(matchKey(input));
  if (sameKey && (sameKey.id !== rule.id || !replacing)) {
    return alreadyExists(`${field}.input`, `rule ${describeRule(sameKey)} already captures ${describeInput(input)}`, exists(sameKey.id));
  }
  if (!replacing && rules.get(rule.id)) {
    return alreadyExists(`${field}.id`, `a rule with id ${rule.id} already exists`, exists(rule.id));
  }
  const idAsName = other(rules.named(rule.id));
  if (idAsName) return alreadyExists(`${field}.id`, `${rule.id} is the name of rule ${idAsName.id}`, exists(idAsName.id));
  if (rule.name) {
    const sameName = other(rules.named(rule.name));
    if (sameName) return alreadyExists(`${field}.name`, `rule ${sameName.id} is already named ${JSON.stringify(rule.name)}`, exists(sameName.id));
    const nameAsId = other(rules.get(rule.name));
    if (nameAsId) return alreadyExists(`${field}.name`, `${JSON.stringify(rule.name)} is the id of another rule`, exists(nameAsId.id));
  }
  return undefined;
}

/**
 * What an input captures: `eth0 239.1.1.1:5000` (`eth0 239.1.1.1 esp` for ESP), with ` from 10.0.0.1`
 * for a source-specific one and `eth0 vlan 100 ...` for one of a VLAN.
 */
export function describeInput(input: Input): string {
  const iface = input.vlan === undefined ? input.interface : `${input.interface} vlan ${input.vlan}`;
  return `${iface} ${inputDestination(input)}` + (input.source ? ` from ${input.source}` : '');
}

/** `r-0123456789ab ("name")` or just the id. */
export function describeRule(rule: Rule): string {
  return rule.name ? `${rule.id} (${JSON.stringify(rule.name)})` : rule.id;
}
