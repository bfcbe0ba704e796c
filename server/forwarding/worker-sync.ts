/**
 * Makes one running worker match its plan: opens the privileged sockets it needs (the worker cannot),
 * hands them over, installs the rule table, narrows or widens the capture filters, and closes what is
 * no longer needed. Order keeps traffic of untouched rules flowing: new sockets first, then the new
 * table, then filters, then removals.
 *
 * The table travels as a diff (the rules added, changed and removed since the installed snapshot), in
 * bounded pieces (see UpdateRulesRequest), so a change of 20,000 rules never holds the worker's thread
 * for long and a slow change is never taken for a dead worker: requests that carry a change wait as long
 * as it takes (liveness is the heartbeat monitor's business). Egress sockets (senders: one per output
 * interface, TTL and TOS, docs/decisions/0035-shared-egress-sockets.md) travel up to
 * MAX_FDS_PER_MESSAGE per message; outputs (a destination through a sender, no fd) in large batches;
 * both pipelined. The last outputs of a change go with its rules, awaited together, and the removals
 * of what no rule uses are not awaited (docs/decisions/0047): a small change costs one round trip.
 * After every confirmed change the sync publishes an immutable InstalledSnapshot.
 */
import type { DataplaneRule, Native } from '../../native';
import { canonicalOutput, CanonicalOutput, hashFromSum, MAX_FDS_PER_MESSAGE, OutputDescription, ruleDigest, SenderDescription, UpdateRulesReply, UpdateRulesRequest } from '../../workers/protocol';
import { CounterRegion, INPUT_FIELDS, OUTPUT_FIELDS, RULE_FIELDS } from '../workers/counter-region';
import { CounterTotals, inputOwner, outputOwner, ruleOwner } from '../workers/counter-totals';
import { CaptureFilters } from '../net/capture-filter';
import { CaptureSwitch } from './capture-switch';
import type { Logger } from '../log';
import { InstalledEntry, InstalledRule, InstalledSnapshot, sameDataplaneRule } from './installed';
import { PersistentMap } from './persistent-map';
import type { CaptureSpec, EgressSpec, PlannedRule, SenderSpec, TargetChanges, WorkerDelta, WorkerPlan } from './plan';
import { senderPolicyOf } from './plan';
import type { WorkerPool, WorkerSlot } from '../workers/pool';
import type { WorkerProcess } from '../workers/worker-process';

export interface SocketSettings {
  rcvbuf: number;
  /** Send buffer per destination of an egress socket (see senderBuffer). */
  sndbuf: number;
  /**
   * The open-file limit the worker runs with (inherited from mcrd: raiseFileLimit). The sync never
   * hands it more sockets than fit under it (with FD_RESERVE to spare): a socket past it would make
   * the worker fail to receive the message; the outputs of senders past it get an error status instead.
   */
  fileLimit: number;
}

/** Descriptors a worker keeps for itself (its channel, its runtime, the counter region...). */
const FD_RESERVE = 256;

interface InstalledCapture {
  handle: number;
  /** First of its two counter slots. */
  slot: number;
  ifindex: number;
  /** The supervisor keeps its own copy of the fd: filters are changed and kernel drops read through it. */
  fd: number;
  /** Kernel drops read so far (PACKET_STATISTICS resets on read). */
  kernelDrops: bigint;
  /** The CaptureSwitch options on (receive times, VLAN tags). */
  switched: Set<string>;
}

interface InstalledSender {
  handle: number;
  spec: SenderSpec;
  /** Installed outputs that send through it: removed with the last of them. */
  users: number;
  /** The supervisor's copy of the socket, through which it grows the send buffer (see fitBuffer). */
  fd: number;
  /** The send buffer set (bytes). */
  buffer: number;
}

interface InstalledEgress {
  handle: number;
  spec: EgressSpec;
  /** The sender it goes through (installed as long as an output uses it). */
  sender: InstalledSender;
  /** The output as the ruleset hash covers it, made once (the worker makes it alike from what it was sent). */
  canonical: CanonicalOutput;
}

/**
 * The most send buffer one egress socket gets (bytes): it carries every destination on its interface
 * with its TTL and TOS, so it gets `sndbuf` per destination up to this (docs/decisions/0035). It grows
 * as outputs are added, never shrinks.
 */
export const SENDER_BUFFER_CAP = 64 << 20;

/** The send buffer of an egress socket opened for `destinations` outputs. */
export function senderBuffer(sndbuf: number, destinations: number): number {
  return Math.max(sndbuf, Math.min(sndbuf * Math.max(1, destinations), SENDER_BUFFER_CAP));
}

/** A problem installing something a rule needs, keyed by capture interface or egress key. */
export type SyncErrors = Map<string, string>;

/** The key of a rule's own problem in SyncErrors. */
export const ruleErrorKey = (ruleId: string): string => `rule:${ruleId}`;

/** The most a piece of a rule change weighs: one per rule plus one per output. */
export const PIECE_WEIGHT = 8192;
/** Output handles removed per message. */
const REMOVALS_PER_MESSAGE = 8192;
/** Outputs added per message (no fds: only the message size bounds them, about 80 bytes each). */
const OUTPUTS_PER_MESSAGE = 8192;
/**
 * How long a request that carries part of a change may take. Generous on purpose: a worker that is
 * alive answers its heartbeats meanwhile, and one that is not is restarted by the heartbeat monitor.
 */
export const CHANGE_TIMEOUT_MS = 120_000;


/** Messages of egress sockets (or of outputs) in flight at once. */
const EGRESS_WINDOW = 16;

/** Splits `items` into runs whose weights add up to at most `limit` (an item heavier alone gets its own). */
export function pieces<T>(items: readonly T[], weight: (item: T) => number, limit: number): T[][] {
  const result: T[][] = [];
  let current: T[] = [];
  let load = 0;
  for (const item of items) {
    const w = weight(item);
    if (current.length > 0 && load + w > limit) {
      result.push(current);
      current = [];
      load = 0;
    }
    current.push(item);
    load += w;
  }
  if (current.length > 0) result.push(current);
  return result;
}

/** Outputs sent to the worker: `refused` resolves once their answers are in the books, true when it refused some. */
interface OutputsSent {
  refused: Promise<boolean>;
}

/** A rule change the worker took: the rules it has now, their digests' sum and its hash. */
interface ChangedRules {
  rules: PersistentMap<string, InstalledRule>;
  sum: bigint;
  hash: string;
}

/** A rule worked out for the worker: its installed entry, its counter slots, whether the worker has it so already. */
interface RuleToInstall {
  entry: InstalledEntry;
  slots: RuleSlots;
  unchanged: boolean;
}

/**
 * The counter slots assigned to a rule: its own, and each output's by identity (slots[i] is that of
 * identities[i], the planned rule's outputIdentities; an identity repeated shares one slot).
 */
interface RuleSlots {
  counterSlot: number;
  identities: readonly string[];
  /** Never changed once made: a data-plane rule may share it as its outputSlots. */
  slots: number[];
  /** Whether an identity repeats (a slot then appears more than once). */
  shared: boolean;
}

/**
 * Slots no longer named by the rules sent, to fold into the totals and free once out of use: an
 * input's pair, or a rule's (its own slot when it went, and outputs' slots as in RuleSlots).
 */
type DroppedSlots =
  | { kind: 'input'; owner: string; slot: number }
  | { kind: 'rule'; ruleId: string; counterSlot: number | undefined; identities: readonly string[]; slots: readonly number[]; shared: boolean };

/** The slots of a rule's assignment `had` that `now` does not keep (undefined: none). */
function droppedOf(ruleId: string, had: RuleSlots, now: RuleSlots | undefined): DroppedSlots | undefined {
  if (!now) return { kind: 'rule', ruleId, counterSlot: had.counterSlot, identities: had.identities, slots: had.slots, shared: had.shared };
  if (now === had) return undefined;
  // Slots follow their identity: one still assigned is kept, whatever its position now.
  const kept = new Set(now.slots);
  const identities: string[] = [];
  const slots: number[] = [];
  had.slots.forEach((slot, i) => {
    if (kept.has(slot)) return;
    kept.add(slot); // once, however often its identity repeats
    identities.push(had.identities[i]);
    slots.push(slot);
  });
  return slots.length > 0 ? { kind: 'rule', ruleId, counterSlot: undefined, identities, slots, shared: false } : undefined;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((s, i) => s === b[i]));
}

/** Index of the kernel-drop count after an input's region counters in its totals. */
export const KERNEL_DROPS_FIELD = INPUT_FIELDS;

export class WorkerSync {
  private nextHandle = 1;
  private captures = new Map<string, InstalledCapture>();
  /** Kernel receive times (SO_TIMESTAMPNS) on the captures of traced rules (docs/decisions/0057). */
  private readonly receiveTimes: CaptureSwitch;
  /** VLAN tags (PACKET_AUXDATA) on the captures of rules that name a VLAN (docs/decisions/0061). */
  private readonly vlanTags: CaptureSwitch;
  private readonly switches: readonly CaptureSwitch[];
  private senders = new Map<string, InstalledSender>();
  private egress = new Map<string, InstalledEgress>();
  private installed = InstalledSnapshot.EMPTY;
  /** The sum of the installed rules' digests (the hash is made of it). */
  private sum = 0n;
  private applying = false;
  private forceRules = false;
  /** Counter slots of every rule sent to the worker (confirmed or not). */
  private assigned = new Map<string, RuleSlots>();
  /** Slots dropped by changes the worker confirmed: free once its data plane has passed `epoch`. */
  private releases: Array<{ epoch: number; slots: DroppedSlots[] }> = [];
  /** Slots dropped by a change not confirmed (yet): released with the next confirmed change. */
  private limbo: DroppedSlots[] = [];
  private readonly filters: CaptureFilters;

  constructor(
    private readonly worker: WorkerProcess,
    private readonly addon: Native,
    private readonly sockets: SocketSettings,
    private readonly log: Logger,
    /** The worker's counter region (handed over in its hello). */
    readonly region: CounterRegion,
    /** Where the counts of freed slots go. */
    private readonly totals: CounterTotals,
    private readonly workerIndex: number,
  ) {
    this.filters = new CaptureFilters(addon);
    this.receiveTimes = new CaptureSwitch('receive times', (rule) => rule.trace !== undefined, (fd, on) => addon.setReceiveTimestamps(fd, on), log);
    this.vlanTags = new CaptureSwitch('VLAN tags', (rule) => rule.vlan !== undefined, (fd, on) => addon.setVlanTags(fd, on), log);
    this.switches = [this.receiveTimes, this.vlanTags];
  }

  /**
   * Folds into the totals and frees the slots no table the data plane may still use names (its loop
   * has passed the epoch of the change that dropped them). Cheap when there is nothing to do.
   */
  releaseSlots(): void {
    if (this.releases.length === 0) return;
    const quiesced = this.region.quiescedEpoch;
    const due = this.releases.filter((r) => r.epoch <= quiesced);
    if (due.length === 0) return;
    this.releases = this.releases.filter((r) => r.epoch > quiesced);
    for (const { slots } of due) for (const dropped of slots) this.foldAndFree(dropped);
  }

  private foldAndFree(dropped: DroppedSlots): void {
    if (dropped.kind === 'input') {
      this.totals.fold(dropped.owner, this.region, dropped.slot, INPUT_FIELDS);
      this.region.release(dropped.slot, true);
      return;
    }
    const { ruleId, counterSlot, identities, slots, shared } = dropped;
    if (counterSlot !== undefined) {
      this.totals.fold(ruleOwner(ruleId), this.region, counterSlot, RULE_FIELDS, ruleId);
      this.region.release(counterSlot);
    }
    slots.forEach((slot, i) => {
      if (shared && slots.indexOf(slot) < i) return; // a repeated identity's slot: done already
      // Most slots counted nothing (fold adds nothing then): no owner key to make for them.
      if (!this.region.isZero(slot, OUTPUT_FIELDS)) this.totals.fold(outputOwner(ruleId, identities[i]), this.region, slot, OUTPUT_FIELDS, ruleId);
      this.region.release(slot);
    });
  }

  /** What the worker has installed, as it confirmed it last. */
  get snapshot(): InstalledSnapshot {
    return this.installed;
  }

  /** The hash of the rule set this worker should report. */
  get expectedHash(): string {
    return this.installed.hash;
  }

  get rules(): readonly PlannedRule[] {
    return this.installed.planned;
  }

  /** True while apply() runs: the worker's reported hash may lag the expected one meanwhile. */
  get busy(): boolean {
    return this.applying;
  }

  /** Makes the next apply() send the whole rule set again even if it looks unchanged (drift repair). */
  resendRules(): void {
    this.forceRules = true;
  }

  /** Capture interface name of an input handle. */
  captureInterface(handle: number): string | undefined {
    return this.installed.inputs.get(handle);
  }

  /** Accumulated kernel drops per capture interface. */
  kernelDrops(): Map<string, bigint> {
    const drops = new Map<string, bigint>();
    for (const [ifname, capture] of this.captures) {
      try {
        capture.kernelDrops += BigInt(this.addon.packetStatistics(capture.fd).drops);
      } catch (err) {
        this.log.warn('cannot read packet statistics', { interface: ifname, error: (err as Error).message });
      }
      drops.set(ifname, capture.kernelDrops);
    }
    return drops;
  }

  /**
   * Makes the worker match `plan`. With `change` (what changed in the plan since the last apply), only
   * the rules, targets and egress keys it names are looked at: O(change). Without it, or when the
   * whole rule set is to be sent again (resendRules, a failed change), every rule of the plan is.
   */
  async apply(plan: WorkerPlan, change?: WorkerDelta): Promise<SyncErrors> {
    this.applying = true;
    try {
      return await this.applyPlan(plan, change);
    } finally {
      this.applying = false;
    }
  }

  private async applyPlan(plan: WorkerPlan, change: WorkerDelta | undefined): Promise<SyncErrors> {
    const errors: SyncErrors = new Map();
    const incremental = change !== undefined && !this.forceRules;
    const opened = new Set<string>();
    for (const spec of plan.captures.values()) if (await this.ensureCapture(spec, errors)) opened.add(spec.ifname);
    const outputs = await this.ensureEgress(this.missingEgress(plan, incremental ? change.rules : undefined), errors);
    const capturesChanged = opened.size > 0;

    const force = this.forceRules;
    this.forceRules = false;
    const rulesChange = incremental ? change : undefined;
    let changed: ChangedRules;
    try {
      changed = await this.changeRules(plan, rulesChange, force, errors);
    } catch (err) {
      // A change naming outputs the worker refused is refused too: once more without them (errors say why).
      if (!(await outputs.refused)) {
        this.forceRules = true; // what the worker has is not known now: the next pass resends it all
        throw err;
      }
      try {
        changed = await this.changeRules(plan, rulesChange, force, errors);
      } catch (again) {
        this.forceRules = true;
        throw again;
      }
    }
    await outputs.refused;
    const { rules, sum, hash } = changed;
    this.sum = sum;
    this.publish(rules, hash, capturesChanged);
    this.releaseSlots();

    if (incremental) {
      for (const [ifname, targets] of change.targets) if (!opened.has(ifname)) this.patchFilter(ifname, targets, errors);
    } else {
      for (const spec of plan.captures.values()) if (!opened.has(spec.ifname)) this.updateFilter(spec, errors);
    }
    const staleCaptures = [...this.captures.keys()].filter((ifname) => !plan.captures.has(ifname));
    for (const ifname of staleCaptures) await this.removeCapture(ifname);
    // After the filters: a frame of a VLAN no rule names any more is no longer admitted when its
    // socket stops giving VLAN tags (it would otherwise read as untagged).
    for (const option of this.switches) option.switchOffUnneeded(this.captures);
    // The snapshot names inputs, not outputs: only a capture gone makes a new one.
    if (staleCaptures.length > 0) this.publish(rules, hash, true);
    // A change's egressGone keys are out of the plan (the plan takes a key out of it when it comes back).
    if (incremental) this.removeEgress(change.egressGone);
    else this.removeEgress([...this.egress.keys()].filter((key) => !plan.egress.has(key)));
    return errors;
  }

  /**
   * Works out the worker's rules from `plan` (with `change`, only the rules it names) and sends what
   * differs from what it has installed; resolves once the worker took it. Nothing of the books changes
   * but the counter slots' assignment, so that a refused change can be worked out again.
   */
  private async changeRules(plan: WorkerPlan, change: WorkerDelta | undefined, force: boolean, errors: SyncErrors): Promise<ChangedRules> {
    const previous = this.installed;
    let rules: PersistentMap<string, InstalledRule>;
    let sum: bigint;
    const upserts: InstalledRule[] = [];
    const removes: string[] = [];
    if (change) {
      // The published snapshot stays as it was: the new one shares what did not change.
      const changed = new Map<string, InstalledRule | undefined>();
      sum = this.sum;
      for (const id of change.rules) {
        const before = previous.rules.get(id);
        if (before) {
          changed.set(id, undefined);
          sum -= before.digest;
        }
        const planned = plan.rules.get(id);
        const installing = planned && this.install(planned, previous, errors);
        this.reassign(id, installing?.slots);
        if (installing) {
          const { entry } = installing;
          changed.set(id, entry);
          sum += entry.digest;
          if (!installing.unchanged) upserts.push(entry);
        } else if (before) {
          removes.push(id);
        }
      }
      rules = previous.rules.with(changed);
    } else {
      const all = new Map<string, InstalledRule>();
      sum = 0n;
      const assigned = new Map<string, RuleSlots>();
      for (const rule of plan.rules.values()) {
        const installing = this.install(rule, previous, errors);
        if (!installing) continue;
        const { entry } = installing;
        assigned.set(rule.id, installing.slots);
        all.set(rule.id, entry);
        sum += entry.digest;
        if (!installing.unchanged || force) upserts.push(entry);
      }
      this.dropSlots(assigned);
      if (!force) for (const id of previous.rules.keys()) if (!all.has(id)) removes.push(id);
      rules = PersistentMap.of(all);
    }
    const hash = hashFromSum(sum);
    // A capture gets an option before a rule that needs it is installed (and loses it once the
    // filters no longer admit what needed it: switchOffUnneeded).
    const switches = this.switches.map((option) => ({ option, change: option.after(upserts, removes, force) }));
    for (const { option, change } of switches) option.switchOn(this.captures, change);
    if (upserts.length > 0 || removes.length > 0 || force || hash !== previous.hash) {
      const retired = await this.sendChange(upserts, removes, hash, force);
      if (this.limbo.length > 0) this.releases.push({ epoch: retired, slots: this.limbo.splice(0) });
    }
    for (const { option, change } of switches) option.commit(change);
    return { rules, sum, hash };
  }

  /** The outputs of `plan` not installed (with `ids`, only those the rules `ids` of it use). */
  private missingEgress(plan: WorkerPlan, ids: Iterable<string> | undefined): EgressSpec[] {
    if (!ids) return [...plan.egress.values()].filter((spec) => !this.egress.has(spec.key));
    // Built as it goes, nothing after the loops (decisions/0055).
    const specs: EgressSpec[] = [];
    const listed = new Set<string>();
    for (const id of ids) {
      const rule = plan.rules.get(id);
      if (!rule) continue;
      for (const key of rule.outputs) {
        if (this.egress.has(key) || listed.has(key)) continue;
        const spec = plan.egress.get(key);
        if (!spec) continue;
        listed.add(key);
        specs.push(spec);
      }
    }
    return specs;
  }

  /**
   * The installed entry of a planned rule (its data-plane rule, digest, counter slots), or undefined
   * when it cannot be installed (no capture, no output socket, no counter slot: `errors` says why).
   */
  private install(rule: PlannedRule, previous: InstalledSnapshot, errors: SyncErrors): RuleToInstall | undefined {
    const capture = this.captures.get(rule.ifname);
    if (!capture || errors.has(rule.ifname)) return undefined;
    const egress: InstalledEgress[] = [];
    let positions: number[] | undefined; // made only once an output is missing (seldom)
    rule.outputs.forEach((key, position) => {
      const installed = this.egress.get(key);
      if (installed) {
        egress.push(installed);
        positions?.push(position);
      } else {
        positions ??= egress.map((_, i) => i);
      }
    });
    if (egress.length === 0) return undefined;
    const slots = this.slotsFor(rule);
    if (!slots) {
      errors.set(ruleErrorKey(rule.id), `no counter slot left for rule ${rule.id} in worker ${this.workerIndex}'s counter region`);
      return undefined;
    }
    const dataplane: DataplaneRule = {
      id: rule.id,
      input: capture.handle,
      group: rule.group,
      port: rule.port,
      source: rule.source,
      ...(rule.vlan ? { vlan: rule.vlan } : {}),
      outputs: egress.map((o) => o.handle),
      counterSlot: slots.counterSlot,
      outputSlots: positions ? positions.map((position) => slots.slots[position]) : slots.slots,
      ...(rule.trace ? { trace: rule.trace } : {}),
    };
    const before = previous.rules.get(rule.id);
    const unchanged = before !== undefined && sameDataplaneRule(before.dataplane, dataplane);
    const digest = unchanged ? before.digest : this.digestOf(rule, egress);
    return { entry: new InstalledEntry(rule, capture.handle, slots.counterSlot, dataplane, digest, positions), slots, unchanged };
  }

  /** A rule's share of the ruleset hash, its outputs being `egress`. */
  private digestOf(rule: PlannedRule, egress: InstalledEgress[]): bigint {
    const { id, ifname: input, group, port, source, vlan, trace } = rule;
    return ruleDigest({ id, input, group, port, source, vlan, outputs: egress.map((o) => o.canonical), trace });
  }

  /**
   * Sends a change in bounded pieces, one at a time (the worker answers heartbeats between them): the
   * upserts, then the removes, as many to a piece as PIECE_WEIGHT allows (a small change is one
   * message); the last carries the hash. A full resend (force) names every rule and lets the worker
   * drop the rest.
   */
  private async sendChange(upserts: InstalledRule[], removes: string[], hash: string, force: boolean): Promise<number> {
    const bodies: Array<Omit<UpdateRulesRequest, 'seq'>> = [{ type: 'updateRules', upserts: [], removes: [] }];
    let load = 0;
    const room = (weight: number): Omit<UpdateRulesRequest, 'seq'> => {
      if (load > 0 && load + weight > PIECE_WEIGHT) {
        bodies.push({ type: 'updateRules', upserts: [], removes: [] });
        load = 0;
      }
      load += weight;
      return bodies[bodies.length - 1];
    };
    for (const { dataplane } of upserts) room(1 + dataplane.outputs.length).upserts.push(dataplane);
    for (const id of removes) room(1).removes.push(id);
    bodies[bodies.length - 1].hash = hash;
    if (force) {
      bodies.forEach((body, i) => {
        body.resend = bodies.length === 1 ? 'only' : i === 0 ? 'first' : i === bodies.length - 1 ? 'last' : 'middle';
      });
    }
    // A resend names every rule: only what changed is worth a debug line.
    if (bodies.length > 1) this.log.debug('rule change in pieces', { pieces: bodies.length, upserts: upserts.length, removes: removes.length });
    let retired = 0;
    for (const body of bodies) retired = ((await this.worker.request(body, [], CHANGE_TIMEOUT_MS)) as UpdateRulesReply).retired;
    return retired;
  }

  /**
   * The slots of a rule about to be sent: those it had (its own, and each output's by identity),
   * new ones for new outputs; undefined when the region is full (nothing is then allocated for it).
   */
  private slotsFor(rule: PlannedRule): RuleSlots | undefined {
    const had = this.assigned.get(rule.id);
    const identities = rule.outputIdentities;
    if (had && sameStrings(had.identities, identities)) return had; // unchanged: the same object (nothing allocated per pass)
    const fresh: number[] = [];
    const allocate = (): number | undefined => {
      const slot = this.region.allocate();
      if (slot !== undefined) fresh.push(slot);
      return slot;
    };
    const counterSlot = had?.counterSlot ?? allocate();
    const kept = had && new Map(had.identities.map((identity, i) => [identity, had.slots[i]])); // its outputs changed (seldom)
    const given = new Map<string, number>();
    const slots: number[] = [];
    for (const identity of identities) {
      const slot = given.get(identity) ?? kept?.get(identity) ?? allocate();
      if (slot === undefined || counterSlot === undefined) {
        for (const s of fresh) this.region.release(s);
        return undefined;
      }
      given.set(identity, slot);
      slots.push(slot);
    }
    return { counterSlot: counterSlot!, identities, slots, shared: given.size < identities.length };
  }

  /** Makes `assigned` the assignment; the slots of the previous one it no longer has go to limbo. */
  private dropSlots(assigned: Map<string, RuleSlots>): void {
    for (const [ruleId, had] of this.assigned) {
      const dropped = droppedOf(ruleId, had, assigned.get(ruleId));
      if (dropped) this.limbo.push(dropped);
    }
    this.assigned = assigned;
  }

  /** Makes `now` the slots of one rule (undefined: it has none); those it no longer has go to limbo. */
  private reassign(ruleId: string, now: RuleSlots | undefined): void {
    const had = this.assigned.get(ruleId);
    const dropped = had && droppedOf(ruleId, had, now);
    if (dropped) this.limbo.push(dropped);
    if (now) this.assigned.set(ruleId, now);
    else this.assigned.delete(ruleId);
  }

  /**
   * Publishes a snapshot of `rules`; the input maps (a handful of entries) are made again when
   * `capturesChanged`.
   */
  private publish(rules: PersistentMap<string, InstalledRule>, hash: string, capturesChanged: boolean): void {
    const previous = this.installed;
    if (!capturesChanged) {
      this.installed = new InstalledSnapshot(rules, previous.inputs, hash, previous.inputSlots, this.region);
      return;
    }
    const inputs = new Map<number, string>();
    const inputSlots = new Map<number, number>();
    for (const [ifname, capture] of this.captures) {
      inputs.set(capture.handle, ifname);
      inputSlots.set(capture.handle, capture.slot);
    }
    this.installed = new InstalledSnapshot(rules, inputs, hash, inputSlots, this.region);
  }

  /**
   * Forgets everything without talking to the worker (it has gone); closes the supervisor's fds. What
   * its data plane counted is still in the region: every slot is folded into the totals first, and the
   * kernel drops read so far with them.
   */
  reset(): void {
    const drops = this.kernelDrops();
    for (const [ifname, capture] of this.captures) {
      this.filters.close(capture.fd);
      this.limbo.push({ kind: 'input', owner: inputOwner(this.workerIndex, ifname), slot: capture.slot });
      this.totals.add(inputOwner(this.workerIndex, ifname), KERNEL_DROPS_FIELD, Number(drops.get(ifname) ?? 0n), INPUT_FIELDS + 1);
    }
    this.dropSlots(new Map());
    for (const { slots } of this.releases) this.limbo.push(...slots);
    this.releases = [];
    for (const dropped of this.limbo.splice(0)) this.foldAndFree(dropped);
    this.captures.clear();
    this.receiveTimes.reset();
    this.vlanTags.reset();
    for (const sender of this.senders.values()) this.addon.closeFd(sender.fd);
    this.senders.clear();
    this.egress.clear();
    this.installed = InstalledSnapshot.EMPTY;
    this.sum = 0n;
  }

  /** Opens the capture `spec` needs unless it is open; true when it opened one (with spec's targets). */
  private async ensureCapture(spec: CaptureSpec, errors: SyncErrors): Promise<boolean> {
    const existing = this.captures.get(spec.ifname);
    if (existing && existing.ifindex === spec.ifindex) return false;
    if (existing) await this.removeCapture(spec.ifname); // same name, new interface
    let fd: number;
    try {
      fd = this.filters.open({ ifname: spec.ifname, ifindex: spec.ifindex, rcvbuf: this.sockets.rcvbuf }, spec.targets.values());
    } catch (err) {
      errors.set(spec.ifname, `cannot capture on ${spec.ifname}: ${(err as Error).message}`);
      return false;
    }
    const slot = this.region.allocatePair();
    if (slot === undefined) {
      this.filters.close(fd);
      errors.set(spec.ifname, `no counter slot left for input ${spec.ifname} in worker ${this.workerIndex}'s counter region`);
      return false;
    }
    const handle = this.nextHandle++;
    try {
      await this.worker.request({ type: 'addInput', handle, interface: spec.ifname, counterSlot: slot }, [fd]);
    } catch (err) {
      this.filters.close(fd);
      this.region.release(slot, true);
      throw err;
    }
    this.captures.set(spec.ifname, { handle, slot, ifindex: spec.ifindex, fd, kernelDrops: 0n, switched: new Set() });
    return true;
  }

  /**
   * Installs the outputs of `specs` (none installed yet): first the senders they need that the worker
   * lacks (see ensureSenders), then the outputs whose sender it has, OUTPUTS_PER_MESSAGE per message,
   * EGRESS_WINDOW messages pipelined. Installs nothing per output but a handle: no syscall, no fd.
   * Resolves once every window of outputs but the last was answered; the last is in the books at once
   * and its answers come with the rule change that follows it (docs/decisions/0047).
   */
  private async ensureEgress(specs: EgressSpec[], errors: SyncErrors): Promise<OutputsSent> {
    if (specs.length === 0) return { refused: Promise.resolve(false) };
    const opened = await this.ensureSenders(specs, errors);
    const ready: InstalledEgress[] = [];
    for (const spec of specs) {
      const sender = this.senders.get(spec.sender);
      if (!sender) continue;
      const canonical = canonicalOutput({ ...senderPolicyOf(spec), interface: spec.ifname, address: spec.address, port: spec.port });
      ready.push({ handle: this.nextHandle++, spec, sender, canonical });
    }
    const windows = pieces(ready, () => 1, EGRESS_WINDOW * OUTPUTS_PER_MESSAGE);
    let refused = false;
    for (const window of windows.slice(0, -1)) refused = (await this.addOutputs(window, errors)) || refused;
    const last = windows.length > 0 ? this.addOutputs(windows[windows.length - 1], errors) : Promise.resolve(false);
    return {
      refused: last.then((lastRefused) => {
        this.unawaited(this.removeSenders(opened.filter((key) => this.senders.get(key)?.users === 0)), 'remove senders no output uses');
        return refused || lastRefused;
      }),
    };
  }

  /**
   * Puts the outputs in the books and sends them, one message per OUTPUTS_PER_MESSAGE; once answered,
   * those of a message the worker refused leave the books again (errors say why). Resolves to whether
   * any was refused.
   */
  private async addOutputs(window: InstalledEgress[], errors: SyncErrors): Promise<boolean> {
    this.book(window);
    const batches = pieces(window, () => 1, OUTPUTS_PER_MESSAGE);
    const results = await Promise.allSettled(
      batches.map((batch) => {
        const outputs: OutputDescription[] = batch.map((o) => ({ handle: o.handle, sender: o.sender.handle, address: o.spec.address, port: o.spec.port }));
        return this.worker.request({ type: 'addOutputs', outputs }, [], CHANGE_TIMEOUT_MS);
      }),
    );
    const grown = new Set<InstalledSender>();
    let refused = false;
    results.forEach((result, i) => {
      for (const o of batches[i]) {
        if (result.status === 'fulfilled') {
          grown.add(o.sender);
          continue;
        }
        refused = true;
        this.egress.delete(o.spec.key);
        o.sender.users--;
        errors.set(o.spec.key, `cannot add the output ${o.spec.address}:${o.spec.port} on ${o.spec.ifname} to worker ${this.workerIndex}: ${(result.reason as Error).message}`);
      }
    });
    for (const sender of grown) this.fitBuffer(sender);
    return refused;
  }

  /**
   * Puts the outputs of `window` in the books. A function of its own, the loop alone: a long window
   * (the first install) has V8 compile the loop while it runs (on-stack replacement), and that code,
   * kept for the loop, would leave at every later call for what follows the loop, which it was
   * compiled without having seen (decisions/0055).
   */
  private book(window: readonly InstalledEgress[]): void {
    for (const o of window) {
      this.egress.set(o.spec.key, o);
      o.sender.users++;
    }
  }

  /** Grows the sender's send buffer to senderBuffer for the outputs it now carries. */
  private fitBuffer(sender: InstalledSender): void {
    const wanted = senderBuffer(this.sockets.sndbuf, sender.users);
    if (wanted <= sender.buffer) return;
    try {
      this.addon.setSendBuffer(sender.fd, wanted);
      sender.buffer = wanted;
    } catch (err) {
      this.log.warn('cannot grow an egress socket\'s send buffer', { sender: sender.spec.key, bytes: wanted, error: (err as Error).message });
    }
  }

  /**
   * Opens the senders `specs` need that are not installed, and hands them over, MAX_FDS_PER_MESSAGE per
   * message, EGRESS_WINDOW messages pipelined; the supervisor keeps its copy of each (to grow its send
   * buffer later: few descriptors). A sender that cannot be opened, does not fit under the worker's
   * open-file limit or is refused by the worker sets an error on each of its outputs. Returns the keys
   * of the senders it installed.
   */
  private async ensureSenders(specs: EgressSpec[], errors: SyncErrors): Promise<string[]> {
    const needed = new Map<string, { spec: SenderSpec; destinations: number }>();
    for (const spec of specs) {
      if (this.senders.has(spec.sender)) continue;
      const entry = needed.get(spec.sender);
      if (entry) entry.destinations++;
      else needed.set(spec.sender, { spec: { key: spec.sender, ifname: spec.ifname, ifindex: spec.ifindex, mtu: spec.mtu, source: spec.source, protocol: spec.protocol, ...senderPolicyOf(spec) }, destinations: 1 });
    }
    if (needed.size === 0) return [];
    const failed = new Map<string, string>();
    const room = this.sockets.fileLimit - FD_RESERVE - this.senders.size - this.captures.size;
    const wanted = [...needed.values()];
    const fitting = wanted.slice(0, Math.max(0, room));
    for (const { spec } of wanted.slice(fitting.length)) {
      failed.set(
        spec.key,
        `worker ${this.workerIndex} holds as many sockets as its open-file limit (${this.sockets.fileLimit}) allows ` +
          '(one per output interface, TTL and TOS policy; see docs/troubleshooting.md)',
      );
    }
    const installed: string[] = [];
    for (const window of pieces(fitting, () => 1, EGRESS_WINDOW * MAX_FDS_PER_MESSAGE)) {
      const opened: Array<{ spec: SenderSpec; fd: number; handle: number; buffer: number }> = [];
      for (const { spec, destinations } of window) {
        try {
          const buffer = senderBuffer(this.sockets.sndbuf, destinations);
          const { ifname, ifindex, ttl, tos, dontFragment, source, protocol } = spec;
          const fd = this.addon.openEgressSocket({ ifname, ifindex, ttl, tos, dontFragment, source, protocol, sndbuf: buffer });
          opened.push({ spec, fd, handle: this.nextHandle++, buffer });
        } catch (err) {
          failed.set(spec.key, (err as Error).message);
        }
      }
      const batches = pieces(opened, () => 1, MAX_FDS_PER_MESSAGE);
      const results = await Promise.allSettled(
        batches.map((batch) => {
          const senders: SenderDescription[] = batch.map((o) => ({ handle: o.handle, interface: o.spec.ifname, mtu: o.spec.mtu, ...senderPolicyOf(o.spec) }));
          return this.worker.request({ type: 'addSenders', senders }, batch.map((o) => o.fd), CHANGE_TIMEOUT_MS);
        }),
      );
      results.forEach((result, i) => {
        for (const o of batches[i]) {
          if (result.status === 'fulfilled') {
            this.senders.set(o.spec.key, { handle: o.handle, spec: o.spec, users: 0, fd: o.fd, buffer: o.buffer });
            installed.push(o.spec.key);
          } else {
            this.addon.closeFd(o.fd);
            failed.set(o.spec.key, `cannot hand the socket to the worker: ${(result.reason as Error).message}`);
          }
        }
      });
    }
    for (const spec of specs) {
      const reason = failed.get(spec.sender);
      if (reason !== undefined) errors.set(spec.key, `cannot send to ${spec.address}:${spec.port} on ${spec.ifname}: ${reason}`);
    }
    return installed;
  }

  /** Makes the capture filter admit exactly the targets of `spec` (a full pass). */
  private updateFilter(spec: CaptureSpec, errors: SyncErrors): void {
    const capture = this.captures.get(spec.ifname);
    if (!capture) return;
    try {
      this.filters.update(capture.fd, spec.targets.values());
    } catch (err) {
      errors.set(spec.ifname, `cannot update the capture filter on ${spec.ifname}: ${(err as Error).message}`);
    }
  }

  /** Adds and removes the targets of a change in the capture filter on `ifname` (O(change)). */
  private patchFilter(ifname: string, targets: TargetChanges, errors: SyncErrors): void {
    const capture = this.captures.get(ifname);
    if (!capture) return;
    try {
      this.filters.patch(capture.fd, targets.added, targets.removed);
    } catch (err) {
      errors.set(ifname, `cannot update the capture filter on ${ifname}: ${(err as Error).message}`);
    }
  }

  private async removeCapture(ifname: string): Promise<void> {
    const capture = this.captures.get(ifname)!;
    const drops = this.kernelDrops().get(ifname) ?? 0n;
    this.captures.delete(ifname);
    this.filters.close(capture.fd);
    const owner = inputOwner(this.workerIndex, ifname);
    this.totals.add(owner, KERNEL_DROPS_FIELD, Number(drops), INPUT_FIELDS + 1);
    const dropped: DroppedSlots = { kind: 'input', owner, slot: capture.slot };
    try {
      const { retired } = (await this.worker.request({ type: 'removeInput', handle: capture.handle })) as UpdateRulesReply;
      this.releases.push({ epoch: retired, slots: [dropped] });
    } catch (err) {
      this.limbo.push(dropped);
      throw err;
    }
  }

  /**
   * Removes the outputs of `keys` (keys the plan does not name any more) that are installed, then the
   * senders none of the outputs left uses. Its own books change at once; the worker's removals are
   * sent and not awaited (docs/decisions/0047): the worker takes its messages in order, so they come
   * before any later change, and nothing anyone waits for depends on them. A removal the worker
   * refuses leaves a handle it holds and no table names: it is logged.
   */
  private removeEgress(keys: Iterable<string>): void {
    const handles: number[] = [];
    const unused: string[] = [];
    for (const key of keys) {
      const egress = this.egress.get(key);
      if (!egress) continue;
      handles.push(egress.handle);
      this.egress.delete(key);
      if (--egress.sender.users === 0) unused.push(egress.spec.sender);
    }
    const sent: Array<Promise<unknown>> = pieces(handles, () => 1, REMOVALS_PER_MESSAGE).map((piece) => this.worker.request({ type: 'removeOutputs', handles: piece }, [], CHANGE_TIMEOUT_MS));
    sent.push(this.removeSenders(unused));
    this.unawaited(Promise.all(sent), 'remove outputs no rule uses');
  }

  /** Logs the failure of a request nothing waits for (but for a worker that has gone: its restart says it). */
  private unawaited(request: Promise<unknown>, what: string): void {
    request.catch((err: Error) => {
      if (this.worker.alive) this.log.warn(`the worker did not ${what}`, { worker: this.workerIndex, error: err.message });
    });
  }

  /**
   * Removes the senders of these keys (no installed output uses them): at once from the books, then in
   * the worker (a sender lives there as long as an output uses it, so it may go before them).
   */
  private removeSenders(keys: string[]): Promise<unknown> {
    const handles: number[] = [];
    for (const key of keys) {
      const sender = this.senders.get(key);
      if (!sender) continue;
      handles.push(sender.handle);
      this.senders.delete(key);
      this.addon.closeFd(sender.fd);
    }
    return handles.length > 0 ? this.worker.request({ type: 'removeSenders', handles }, [], CHANGE_TIMEOUT_MS) : Promise.resolve();
  }
}

/** The worker pool as mcrd runs it: the sync of every worker is a WorkerSync (forwarding attaches it). */
export type ForwardingPool = WorkerPool<WorkerSync>;
export type ForwardingSlot = WorkerSlot<WorkerSync>;
