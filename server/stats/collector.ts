/**
 * Shapes the counters as the API reports them: per rule (each output in the rule's own order) and per
 * worker input, plus the kernel's drops. It asks no worker anything: the counters are read from each
 * worker's counter region (the installed snapshot says which slot is whose) and added to what freed
 * slots counted (the pool's CounterTotals), so totals never go backwards nor count twice when a worker
 * restarts, an output or a rule goes, or a rule moves. Rates come from successive collections (at least
 * 0.5 s apart). Nothing runs unless a client asks: a collection is O(rules + outputs), no I/O.
 */
import type { Rule } from '../../gen/mcr/v1/rules';
import type { InputStats, OutputStats, RuleStats } from '../../gen/mcr/v1/stats';
import type { InstalledRule, InstalledSnapshot } from '../forwarding/installed';
import { outputIdentity } from '../forwarding/plan';
import { KERNEL_DROPS_FIELD } from '../forwarding/worker-sync';
import { INPUT_FIELDS, INPUT_WORDS, OUTPUT_FIELDS, OUTPUT_WORDS, RULE_FIELDS, RULE_WORDS } from '../workers/counter-region';
import { CounterTotals, inputOwner, outputOwner, ruleOwner } from '../workers/counter-totals';
import { RestingReading, sameSnapshots } from './resting-reading';
import type { ForwardingPool, ForwardingSlot } from '../forwarding/worker-sync';

export interface CollectedStats {
  /** By rule id; the same array as the last collection's while nothing in it changed (never modify it). */
  rules: readonly RuleStats[];
  inputs: InputStats[];
  collectedUnixNanos: bigint;
}

/** Rates are recomputed from samples at least this far apart. */
const MIN_RATE_WINDOW_NS = 500_000_000;

/**
 * A rule's last answer, reused while nothing it is made of changed: the same rule definition, the same
 * installation, the same totals, the same live packet count, and rates already at 0. An idle rule then
 * costs a map look-up and one counter read per collection.
 */
interface CachedRule {
  rule: Rule;
  /** Where it was installed (undefined: nowhere), as of the snapshots of `snapshots`. */
  found: Installation | undefined;
  totalsVersion: number;
  packets: number;
  stats: RuleStats;
  /** Every rate of `stats` is 0 (so nothing moves while the counts do not). */
  resting: boolean;
}

/** Where a rule is installed: the worker's slot, its snapshot, the rule in it. */
interface Installation {
  slot: ForwardingSlot;
  snapshot: InstalledSnapshot;
  installed: InstalledRule;
}

/** The previous sample of a rule's packet and byte totals (the rule's, then each output's). */
interface RateSample {
  atNs: number;
  values: number[];
  rates: number[];
}

const zeros = (n: number): number[] => new Array<number>(n).fill(0);

const ZERO = 0n;
/**
 * A counter as the API's uint64: 0 as one shared value (every BigInt is an object of its own, and a
 * rule of 4 outputs that counted nothing has 27 zeros: half a million objects at 20,000 rules).
 */
const count = (n: number): bigint => (n === 0 ? ZERO : BigInt(n));

/** Whether two versions of a rule read the same (the same object unless the rule was changed). */
function sameDefinition(a: Rule, b: Rule): boolean {
  if (a === b) return true;
  if (a.name !== b.name || a.outputs.length !== b.outputs.length) return false;
  return a.outputs.every((o, i) => outputIdentity(o) === outputIdentity(b.outputs[i]));
}

export class StatsCollector {
  private readonly totals: CounterTotals;
  private readonly samples = new Map<string, RateSample>();
  private readonly cache = new Map<string, CachedRule>();
  private readonly identities = new WeakMap<Rule, readonly string[]>();

  /** The totals' version when deleted rules were last forgotten. */
  private forgottenAt = -1;
  /** Each worker's snapshot at the last collection: while none changes, where a rule is does not either. */
  private snapshots: Array<InstalledSnapshot | undefined> = [];
  /** The last collection's answer when every rule in it was resting: handed out again while it holds. */
  private resting: RestingReading | undefined;

  constructor(
    private readonly pool: ForwardingPool,
    /** Every rule, sorted by id: the store's own objects (read, never changed; see RuleStore.listShared). */
    private readonly rules: () => readonly Rule[],
    /** The worker a rule belongs to when no running worker reports it (e.g. while it restarts). */
    private readonly plannedWorker: (rule: Rule) => number,
  ) {
    this.totals = pool.totals;
  }

  /** Reads every counter now (synchronously: there is nothing to wait for). */
  collect(): Promise<CollectedStats> {
    for (const slot of this.pool.slots) slot.sync?.releaseSlots();
    const rules = this.rules();
    const snapshots = this.pool.slots.map((slot) => slot.sync?.snapshot);
    if (this.resting?.holds(rules, snapshots, this.totals.version)) return this.answer(this.resting.stats);
    const nowNs = Number(process.hrtime.bigint());
    const placed = sameSnapshots(snapshots, this.snapshots);
    this.snapshots = snapshots;
    const cachedBefore = this.cache.size;
    let hits = 0;
    const stats = new Array<RuleStats>(rules.length);
    let reading: RestingReading | undefined = new RestingReading(rules, snapshots, this.totals.version, stats);
    for (let i = 0; i < rules.length; i++) {
      const cached = this.cache.get(rules[i].id);
      if (cached) hits++;
      const entry = this.ruleStats(rules[i], cached, placed, nowNs);
      stats[i] = entry.stats;
      if (!entry.resting) reading = undefined;
      else reading?.set(i, entry.found?.snapshot.region, entry.found?.installed.counterSlot ?? -1, entry.packets);
    }
    // Only when something may be left of a deleted rule: an entry no rule of the store had, or totals
    // that changed (a slot folded) since the last time.
    if (hits < cachedBefore || this.totals.version !== this.forgottenAt) this.forgetDeleted(rules);
    // Made with the totals' version before any forgetting: forgetting changes no live rule's stats,
    // but a reading that no longer holds only costs the next collection its full pass.
    this.resting = reading;
    return this.answer(stats);
  }

  private answer(rules: readonly RuleStats[]): Promise<CollectedStats> {
    return Promise.resolve({ rules, inputs: this.inputStats(), collectedUnixNanos: BigInt(Date.now()) * 1_000_000n });
  }

  /** The time of a rule's last packet (0: never), read on its own: O(1). */
  lastPacket(ruleId: string): bigint {
    let latest = this.totals.get(ruleOwner(ruleId))?.[RULE_WORDS.lastPacketNs] ?? 0;
    for (const slot of this.pool.slots) {
      const snapshot = slot.sync?.snapshot;
      const installed = snapshot?.rules.get(ruleId);
      if (installed && snapshot!.region) latest = Math.max(latest, snapshot!.region.read(installed.counterSlot, RULE_WORDS.lastPacketNs));
    }
    return BigInt(latest);
  }

  /**
   * Where a rule is installed now: the worker that holds it; while it moves and two do, the one it is
   * planned on (asked only then: the plan costs more than a look-up in each worker's snapshot).
   */
  private installedOf(rule: Rule): Installation | undefined {
    let found: Installation | undefined;
    for (const slot of this.pool.slots) {
      const snapshot = slot.sync?.snapshot;
      const installed = snapshot?.rules.get(rule.id);
      if (!installed || !snapshot!.region) continue;
      if (!found) found = { slot, snapshot: snapshot!, installed };
      else if (slot.index === this.plannedWorker(rule)) return { slot, snapshot: snapshot!, installed };
    }
    return found;
  }

  /**
   * A rule's stats now, with what they were made from. `placed`: no worker's snapshot changed since
   * the last collection (so `cached.found` still holds).
   */
  private ruleStats(rule: Rule, cached: CachedRule | undefined, placed: boolean, nowNs: number): CachedRule {
    const found = cached && placed ? cached.found : this.installedOf(rule);
    const packets = found ? found.snapshot.region!.read(found.installed.counterSlot, RULE_WORDS.packets) : -1;
    if (
      cached &&
      cached.resting &&
      cached.packets === packets &&
      cached.found?.installed === found?.installed &&
      cached.totalsVersion === this.totals.version &&
      sameDefinition(cached.rule, rule)
    ) {
      cached.found = found; // the same rule, maybe in a newer snapshot of its worker
      return cached;
    }
    const stats = this.buildRuleStats(rule, found, nowNs);
    const resting = stats.packetsPerSecond === 0 && stats.outputs.every((o) => o.packetsPerSecond === 0);
    const entry = { rule, found, totalsVersion: this.totals.version, packets, stats, resting };
    this.cache.set(rule.id, entry);
    return entry;
  }

  /** What each output of a rule sends to (outputIdentity), kept with the rule object (never changed). */
  private identitiesOf(rule: Rule): readonly string[] {
    let ids = this.identities.get(rule);
    if (!ids) {
      ids = rule.outputs.map(outputIdentity);
      this.identities.set(rule, ids);
    }
    return ids;
  }

  private buildRuleStats(rule: Rule, found: Installation | undefined, nowNs: number): RuleStats {
    const region = found?.snapshot.region;
    const ids = this.identitiesOf(rule);
    // Most rules have nothing folded (no output or worker of theirs went): no owner keys to build then.
    const folded = this.totals.hasRule(rule.id);
    const counts = folded ? [...(this.totals.get(ruleOwner(rule.id)) ?? zeros(RULE_FIELDS))] : zeros(RULE_FIELDS);
    if (found) region!.addInto(found.installed.counterSlot, RULE_FIELDS, counts, RULE_WORDS.lastPacketNs);

    // The installed outputs by rule index, checked against the definition (which may have changed since).
    const live: Array<number | undefined> = new Array<number | undefined>(ids.length);
    if (found) {
      for (const output of found.installed.outputs) {
        if (ids[output.index] === output.identity) live[output.index] = output.slot;
        else {
          const index = ids.indexOf(output.identity);
          if (index >= 0) live[index] = output.slot;
        }
      }
    }
    const values = [counts[RULE_WORDS.packets], counts[RULE_WORDS.bytes]];
    const outputCounts: number[][] = [];
    const sums = [0, 0, 0, 0, 0];
    for (let index = 0; index < ids.length; index++) {
      const o = folded ? [...(this.totals.get(outputOwner(rule.id, ids[index])) ?? zeros(OUTPUT_FIELDS))] : zeros(OUTPUT_FIELDS);
      if (live[index] !== undefined) region!.addInto(live[index]!, OUTPUT_FIELDS, o);
      outputCounts.push(o);
      values.push(o[OUTPUT_WORDS.packets], o[OUTPUT_WORDS.bytes]);
      sums[0] += o[OUTPUT_WORDS.errWouldBlock];
      sums[1] += o[OUTPUT_WORDS.errUnreachable];
      sums[2] += o[OUTPUT_WORDS.errOther];
      sums[3] += o[OUTPUT_WORDS.ttlExpired];
      sums[4] += o[OUTPUT_WORDS.tooBig];
    }
    const rates = this.rates(rule.id, nowNs, values);
    const outputs: OutputStats[] = rule.outputs.map((output, index) => {
      const o = outputCounts[index];
      return {
        index,
        interface: output.interface,
        address: output.address,
        port: output.port,
        packets: count(o[OUTPUT_WORDS.packets]),
        bytes: count(o[OUTPUT_WORDS.bytes]),
        errorsWouldBlock: count(o[OUTPUT_WORDS.errWouldBlock]),
        errorsUnreachable: count(o[OUTPUT_WORDS.errUnreachable]),
        errorsOther: count(o[OUTPUT_WORDS.errOther]),
        ttlExpired: count(o[OUTPUT_WORDS.ttlExpired]),
        fragmented: count(o[OUTPUT_WORDS.fragmented]),
        tooBig: count(o[OUTPUT_WORDS.tooBig]),
        packetsPerSecond: rates[2 + 2 * index],
        bitsPerSecond: rates[3 + 2 * index] * 8,
      };
    });
    return {
      ruleId: rule.id,
      name: rule.name,
      worker: found?.slot.index ?? this.plannedWorker(rule),
      packetsReceived: count(counts[RULE_WORDS.packets]),
      bytesReceived: count(counts[RULE_WORDS.bytes]),
      packetsForwarded: count(counts[RULE_WORDS.forwarded]),
      drops: {
        sendFailed: count(counts[RULE_WORDS.sendFailed]),
        noBuffer: count(sums[0]),
        unreachable: count(sums[1]),
        sendError: count(sums[2]),
        ttlExpired: count(sums[3]),
        tooBig: count(sums[4]),
      },
      lastPacketUnixNanos: count(counts[RULE_WORDS.lastPacketNs]),
      outputs,
      packetsPerSecond: rates[0],
      bitsPerSecond: rates[1] * 8,
    };
  }

  /** Per-second rates of `values` over the latest window of at least MIN_RATE_WINDOW_NS. */
  private rates(ruleId: string, nowNs: number, values: number[]): number[] {
    const sample = this.samples.get(ruleId);
    if (!sample || sample.values.length !== values.length) {
      this.samples.set(ruleId, { atNs: nowNs, values, rates: values.map(() => 0) });
      return values.map(() => 0);
    }
    const elapsed = nowNs - sample.atNs;
    if (elapsed >= MIN_RATE_WINDOW_NS) {
      sample.rates = values.map((v, i) => Math.max(0, v - sample.values[i]) / (elapsed / 1e9));
      sample.values = values;
      sample.atNs = nowNs;
    }
    return sample.rates;
  }

  private inputStats(): InputStats[] {
    const inputs: InputStats[] = [];
    for (const slot of this.pool.slots) {
      const snapshot = slot.sync?.snapshot;
      const drops = slot.sync?.kernelDrops() ?? new Map<string, bigint>();
      const live = new Map<string, number>();
      for (const [handle, ifname] of snapshot?.inputs ?? []) live.set(ifname, snapshot!.inputSlots.get(handle)!);
      // Inputs of earlier processes of this worker too (their counts are in the totals).
      const names = new Set([...live.keys(), ...this.totals.inputsOf(slot.index)]);
      for (const ifname of [...names].sort()) {
        const owner = inputOwner(slot.index, ifname);
        const values = [...(this.totals.get(owner) ?? [])];
        while (values.length < INPUT_FIELDS + 1) values.push(0);
        const regionSlot = live.get(ifname);
        if (regionSlot !== undefined) snapshot!.region!.addInto(regionSlot, INPUT_FIELDS, values);
        const kernelDrops = values[KERNEL_DROPS_FIELD] + Number(drops.get(ifname) ?? 0n);
        inputs.push({
          worker: slot.index,
          interface: ifname,
          frames: BigInt(values[INPUT_WORDS.frames]),
          bytes: BigInt(values[INPUT_WORDS.bytes]),
          unmatched: BigInt(values[INPUT_WORDS.unmatched]),
          parseErrors: {
            truncated: BigInt(values[INPUT_WORDS.truncated]),
            notIpv4: BigInt(values[INPUT_WORDS.notIpv4]),
            badHeader: BigInt(values[INPUT_WORDS.badHeader]),
            badLength: BigInt(values[INPUT_WORDS.badLength]),
            fragment: BigInt(values[INPUT_WORDS.fragment]),
            notUdp: BigInt(values[INPUT_WORDS.notUdp]),
          },
          kernelDrops: BigInt(kernelDrops),
          mergedFrames: BigInt(values[INPUT_WORDS.mergedFrames]),
          mergedDatagrams: BigInt(values[INPUT_WORDS.mergedDatagrams]),
        });
      }
    }
    return inputs;
  }

  /**
   * A deleted rule's totals and rate samples go (a rule created again with its id starts from zero),
   * including counts folded after its deletion (its slots are freed once out of use).
   */
  forgetDeletedRules(): void {
    this.forgetDeleted(this.rules());
  }

  private forgetDeleted(rules: readonly Rule[]): void {
    const live = new Set(rules.map((r) => r.id));
    for (const id of this.totals.rules()) if (!live.has(id)) this.totals.forgetRule(id);
    for (const id of this.samples.keys()) if (!live.has(id)) this.samples.delete(id);
    for (const id of this.cache.keys()) if (!live.has(id)) this.cache.delete(id);
    this.forgottenAt = this.totals.version;
  }
}
