/**
 * What counter slots counted before they were freed (a rule or an output removed, an input closed, a
 * worker gone), by owner: a rule, an output of a rule (by what it sends to, not by its index, so that
 * removing another output does not move its count), an input of a worker. What a client reads is the
 * owner's total here plus its live slot, if it has one: each slot's count is in exactly one of the two
 * places at any time, so nothing is lost and nothing counted twice.
 */
import { CounterRegion, RULE_WORDS } from './counter-region';

export const ruleOwner = (ruleId: string): string => `rule|${ruleId}`;
export const outputOwner = (ruleId: string, identity: string): string => `out|${ruleId}|${identity}`;
export const inputOwner = (worker: number, ifname: string): string => `in|${worker}|${ifname}`;

export class CounterTotals {
  private readonly base = new Map<string, number[]>();
  /** Output owners by rule id, so that a deleted rule's go with it. */
  private readonly outputsOf = new Map<string, Set<string>>();
  /** Rules with folded counts of their own or of an output. */
  private readonly folded = new Set<string>();
  /** Interfaces with folded input counts, by worker. */
  private readonly inputs = new Map<number, Set<string>>();
  private changes = 0;

  /** Grows whenever any total changes (cached views compare it). */
  get version(): number {
    return this.changes;
  }

  /** The folded counts of `owner` (undefined: none). */
  get(owner: string): readonly number[] | undefined {
    return this.base.get(owner);
  }

  /**
   * Adds the final counts of a slot (its `fields` words) to `owner`: a rule's lastPacketNs keeps the
   * latest. A slot that counted nothing adds nothing (and makes no entry: rules created and deleted
   * without traffic leave no trace here).
   */
  fold(owner: string, region: CounterRegion, slot: number, fields: number, ruleId?: string): void {
    if (region.isZero(slot, fields)) return;
    const values = this.entry(owner, fields, ruleId);
    this.changes++;
    region.addInto(slot, fields, values, ruleId !== undefined && owner === ruleOwner(ruleId) ? RULE_WORDS.lastPacketNs : -1);
  }

  private entry(owner: string, fields: number, ruleId?: string): number[] {
    let values = this.base.get(owner);
    if (!values) {
      values = new Array<number>(fields).fill(0);
      this.base.set(owner, values);
      if (ruleId !== undefined) this.folded.add(ruleId);
      if (ruleId !== undefined && owner !== ruleOwner(ruleId)) {
        let set = this.outputsOf.get(ruleId);
        if (!set) this.outputsOf.set(ruleId, (set = new Set()));
        set.add(owner);
      }
      const input = owner.startsWith('in|') ? /^in\|(\d+)\|(.*)$/.exec(owner) : null;
      if (input) {
        const worker = Number(input[1]);
        if (!this.inputs.has(worker)) this.inputs.set(worker, new Set());
        this.inputs.get(worker)!.add(input[2]);
      }
    }
    while (values.length < fields) values.push(0);
    return values;
  }

  /** Interfaces of worker `worker` with folded counts. */
  inputsOf(worker: number): ReadonlySet<string> {
    return this.inputs.get(worker) ?? new Set();
  }

  /** Adds `value` to field `field` of `owner` (counts read elsewhere, such as kernel drops). */
  add(owner: string, field: number, value: number, fields: number): void {
    if (value === 0) return;
    this.entry(owner, fields)[field] += value;
    this.changes++;
  }

  /** Whether the rule has folded counts, its own or an output's (if not, none of its owners has any). */
  hasRule(ruleId: string): boolean {
    return this.folded.has(ruleId);
  }

  /** Drops a deleted rule's counts. */
  forgetRule(ruleId: string): void {
    this.changes++;
    this.folded.delete(ruleId);
    this.base.delete(ruleOwner(ruleId));
    for (const owner of this.outputsOf.get(ruleId) ?? []) this.base.delete(owner);
    this.outputsOf.delete(ruleId);
  }

  /** Rule ids with folded counts (their own or their outputs'). */
  rules(): Set<string> {
    const ids = new Set(this.outputsOf.keys());
    for (const owner of this.base.keys()) if (owner.startsWith('rule|')) ids.add(owner.slice(5));
    return ids;
  }
}
