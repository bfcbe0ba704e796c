/**
 * Keeps the workers, the group memberships and the rule statuses in line with the rule store and the
 * interfaces that exist. Passes are coalescing: callers wait for a pass that started after their call.
 *
 * A pass is full (every rule planned, every worker's table, filters, memberships and statuses compared
 * whole) after an interface or trace change, a worker start, on the periodic drift repair and whenever
 * asked by sync(); otherwise it is incremental: only the rules the store reported changed (rulesChanged)
 * and those whose last status carried a problem of their own are planned again, and the workers, the
 * memberships and the statuses are changed by the difference (docs/decisions/0037).
 */
import type { Rule, RuleStatus } from '../../gen/mcr/v1/rules';
import { RuleState } from '../../gen/mcr/v1/rules';
import { EventKind } from '../../gen/mcr/v1/system';
import type { Native } from '../../native';
import type { EventBus } from '../events/bus';
import { gather } from '../gather';
import { logger } from '../log';
import { Memberships } from '../net/memberships';
import type { RulePlacement } from '../rules/placement';
import type { ForwardingPool, ForwardingSlot } from './worker-sync';
import type { InterfaceLookup } from '../net/interfaces';
import { ForwardingState, planForwarding, PlannedStatus, TraceLookup, WorkerDelta, WorkerPlan } from './plan';
import { ruleErrorKey } from './worker-sync';

/** Rule states as short words, the way mcrctl shows them. */
const STATE_WORDS: Partial<Record<RuleState, string>> = {
  [RuleState.RULE_STATE_ACTIVE]: 'active',
  [RuleState.RULE_STATE_WAITING_FOR_INTERFACE]: 'waiting',
  [RuleState.RULE_STATE_INTERFACE_DOWN]: 'down',
  [RuleState.RULE_STATE_ERROR]: 'error',
};

/** How soon a pass follows one in which a worker failed to take its change. */
const RETRY_MS = 1000;
/**
 * How soon the rules in trouble (a failed install or join) are planned again: by a pass of their own,
 * not by the passes of rule changes, so that a standing problem of many rules (outputs past the
 * open-file limit, say) does not make every one-rule change cost them all.
 */
const TROUBLED_RETRY_MS = 1000;
/** The retries of a trouble that stays come twice as late each time, up to this. */
const TROUBLED_RETRY_MAX_MS = 60_000;

/** Where the forwarder reads the rules: all of them (a full pass), or one by id (an incremental one). */
export interface RuleSource {
  list(): readonly Rule[];
  get(id: string): Rule | undefined;
}

interface Waiter {
  target: number;
  resolve: () => void;
}

export class Forwarder {
  private readonly log = logger('net');
  private readonly memberships: Memberships;
  private statuses = new Map<string, PlannedStatus>();
  /** The time of a rule's last packet (set by whoever reads the counters: see useLastPackets). */
  private lastPacketOf: (ruleId: string) => bigint = () => 0n;
  private requested = 0;
  private completed = 0;
  private loop?: Promise<void>;
  private waiters: Waiter[] = [];
  private fullSync?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  /** The plan as of the last pass; undefined until the first (full) pass. */
  private state?: ForwardingState;
  /** The next pass must be full. */
  private full = true;
  /** Rules changed in the store since the last pass started. */
  private dirty = new Set<string>();
  /** Rules whose status carries a problem the plan does not (an install error, a failed join): planned again on every pass. */
  private troubled = new Set<string>();
  /** The next incremental pass plans the rules in trouble again (set by troubledRetry). */
  private retryTroubledNow = false;
  private troubledRetry?: NodeJS.Timeout;
  private troubledDelay = TROUBLED_RETRY_MS;
  /**
   * False until start(): passes asked for before (interfaces found, each worker's start) wait for the
   * first pass start() runs once every worker is up, instead of planning 20,000 rules once per event.
   */
  private started = false;
  /** Rules changed in the last pass (0 after a full one): how long the next one gathers (server/gather.ts). */
  private lastChanges = 0;

  constructor(
    private readonly rules: RuleSource,
    private readonly pool: ForwardingPool,
    /** Which worker owns each rule. */
    private readonly placement: RulePlacement,
    private readonly interfaces: InterfaceLookup,
    private readonly events: EventBus,
    addon: Native,
    /** Which rules are traced (their data-plane rules then carry the trace settings). */
    private readonly traces: TraceLookup = () => undefined,
  ) {
    this.memberships = new Memberships(addon, this.log);
    pool.on('started', () => void this.sync());
  }

  /**
   * Runs the first (full) pass, resolving when it is done, and from then on every fullSyncMs resends every
   * worker its whole rule set (the drift safety net).
   */
  start(fullSyncMs: number): Promise<void> {
    this.started = true;
    const first = this.sync();
    this.fullSync = setInterval(() => {
      this.log.debug('periodic full sync');
      for (const slot of this.pool.slots) slot.sync?.resendRules();
      void this.sync();
    }, fullSyncMs);
    return first;
  }

  /** Stops the timers; resolves once every group membership is gone (their sockets closed). */
  stop(): Promise<void> {
    clearInterval(this.fullSync);
    clearTimeout(this.retry);
    clearTimeout(this.troubledRetry);
    return this.memberships.close();
  }

  /** Sends one worker its whole rule slice again (drift repair). */
  resync(slot: ForwardingSlot): Promise<void> {
    slot.sync?.resendRules();
    return this.sync();
  }

  /** Notes rules the store changed (put or removed): the next pass plans them again. */
  rulesChanged(ids: Iterable<string>): void {
    for (const id of ids) this.dirty.add(id);
  }

  /** Resolves once a full pass that started after this call has finished. */
  sync(): Promise<void> {
    this.full = true;
    return this.request();
  }

  /**
   * Resolves once a pass that started after this call has finished: one that installs every rule
   * change reported so far (incremental, unless something else asked for a full one).
   */
  syncChanges(): Promise<void> {
    return this.request();
  }

  private request(): Promise<void> {
    const target = ++this.requested;
    const done = new Promise<void>((resolve) => this.waiters.push({ target, resolve }));
    if (!this.loop && this.started) this.loop = this.run();
    return done;
  }

  status(rule: Rule): RuleStatus {
    const planned = this.statuses.get(rule.id);
    return {
      state: planned?.state ?? RuleState.RULE_STATE_PENDING,
      reason: planned?.reason ?? 'being installed',
      worker: planned?.worker ?? 0,
      lastPacketUnixNanos: this.lastPacketOf(rule.id),
    };
  }

  /** Where rule statuses read the time of a rule's last packet (the stats collector: O(1) per rule). */
  useLastPackets(lastPacketOf: (ruleId: string) => bigint): void {
    this.lastPacketOf = lastPacketOf;
  }

  private async run(): Promise<void> {
    while (this.completed < this.requested) {
      await gather(this.lastChanges);
      const target = this.requested;
      try {
        await this.pass();
      } catch (err) {
        this.log.error('forwarding sync failed', { error: (err as Error).message });
      }
      this.completed = target;
      this.waiters = this.waiters.filter((w) => (w.target <= target ? (w.resolve(), false) : true));
    }
    this.loop = undefined;
  }

  private async pass(): Promise<void> {
    // Taken at once (before any await): what changes from here on is for the next pass.
    const full = this.full || !this.state || this.pool.slots.some((slot) => !slot.running || !slot.sync);
    this.full = false;
    const dirty = this.dirty;
    this.dirty = new Set();
    this.lastChanges = full ? 0 : dirty.size;
    if (full) await this.fullPass();
    else await this.incrementalPass(this.state!, dirty);
  }

  private async fullPass(): Promise<void> {
    const plan = planForwarding(this.rules.list(), this.placement, this.interfaces, this.traces);
    this.state = plan;
    const statuses = new Map(plan.statuses);
    // The memberships change on a background thread meanwhile (docs/decisions/0045).
    await Promise.all([
      ...this.pool.slots.map((slot) => this.applyToWorker(slot.index, plan.workers[slot.index], undefined, statuses)),
      this.memberships.sync(plan.memberships),
    ]);
    this.troubled = new Set();
    this.settleStatuses(plan, statuses, [...this.statuses.keys()].filter((id) => !statuses.has(id)));
    this.statuses = statuses;
  }

  /** Plans again the rules changed and those in trouble, and applies the difference. */
  private async incrementalPass(state: ForwardingState, dirty: Set<string>): Promise<void> {
    if (this.retryTroubledNow) for (const id of this.troubled) dirty.add(id);
    this.retryTroubledNow = false;
    for (const id of dirty) {
      const rule = this.rules.get(id);
      if (rule) state.set(rule);
      else state.remove(id);
    }
    const delta = state.take();
    const statuses = new Map<string, PlannedStatus>();
    for (const id of dirty) {
      const status = state.statuses.get(id);
      if (status) statuses.set(id, status);
    }
    await Promise.all([
      ...this.pool.slots.map((slot) => this.applyToWorker(slot.index, state.workers[slot.index], delta.workers[slot.index], statuses)),
      this.memberships.change(delta.join.values(), delta.leave),
    ]);
    const removed = [...dirty].filter((id) => !statuses.has(id));
    for (const id of dirty) this.troubled.delete(id);
    this.settleStatuses(state, statuses, removed);
    for (const id of removed) this.statuses.delete(id);
    for (const [id, status] of statuses) this.statuses.set(id, status);
  }

  /**
   * While rules are in trouble, a pass that plans them again follows: in TROUBLED_RETRY_MS, then twice
   * as late each time while some stay in trouble (up to TROUBLED_RETRY_MAX_MS), so that a standing
   * problem costs little when idle.
   */
  private scheduleTroubledRetry(): void {
    if (this.troubled.size === 0) {
      this.troubledDelay = TROUBLED_RETRY_MS;
      return;
    }
    if (this.troubledRetry) return;
    const delay = this.troubledDelay;
    this.troubledDelay = Math.min(delay * 2, TROUBLED_RETRY_MAX_MS);
    this.troubledRetry = setTimeout(() => {
      this.troubledRetry = undefined;
      this.retryTroubledNow = true;
      void this.syncChanges();
    }, delay);
    this.troubledRetry.unref();
  }

  /**
   * Adds what the memberships tell to `statuses` (the statuses this pass decided), notes the rules in
   * trouble among them, and reports those that changed.
   */
  private settleStatuses(state: ForwardingState, statuses: Map<string, PlannedStatus>, removed: string[]): void {
    for (const [id, status] of statuses) {
      const failure = status.membership && this.memberships.failures.get(status.membership);
      if (failure && status.state === RuleState.RULE_STATE_ACTIVE) {
        statuses.set(id, { ...status, reason: [status.reason, `IGMP join failed: ${failure}`].filter(Boolean).join('; ') });
      }
      if (statuses.get(id) !== state.statuses.get(id)) this.troubled.add(id);
    }
    for (const id of removed) this.troubled.delete(id);
    this.scheduleTroubledRetry();
    this.reportChanges(this.statuses, statuses);
  }

  /** One more pass in a moment (after a worker failed to take a change). */
  private retryLater(): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.sync();
    }, RETRY_MS);
  }

  /** Publishes a RULE_STATUS_CHANGED event for every rule whose state or reason changed. */
  private reportChanges(before: Map<string, PlannedStatus>, after: Map<string, PlannedStatus>): void {
    for (const [id, status] of after) {
      const old = before.get(id);
      if (old && old.state === status.state && old.reason === status.reason) continue;
      const state = STATE_WORDS[status.state] ?? 'unknown';
      this.events.publish(EventKind.EVENT_KIND_RULE_STATUS_CHANGED, `rule ${id}: ${state}${status.reason ? ` (${status.reason})` : ''}`, {
        rule: { ruleId: id, status: { state: status.state, reason: status.reason, worker: status.worker, lastPacketUnixNanos: this.lastPacketOf(id) }, change: '' },
      });
    }
  }

  /**
   * Makes one worker match its plan (`change`: what changed in it, for an incremental pass) and puts
   * in `statuses` what that tells of its rules (those of the change only, when incremental).
   */
  private async applyToWorker(index: number, workerPlan: WorkerPlan, change: WorkerDelta | undefined, statuses: Map<string, PlannedStatus>): Promise<void> {
    const slot = this.pool.slots[index];
    const markAll = (reason: string) => {
      for (const rule of workerPlan.rules.values()) statuses.set(rule.id, { state: RuleState.RULE_STATE_ERROR, reason, worker: index });
    };
    if (!slot.running || !slot.sync) {
      markAll(`worker ${index} is not running`);
      return;
    }
    try {
      const errors = await slot.sync.apply(workerPlan, change);
      const looked = change ? [...change.rules].map((id) => workerPlan.rules.get(id)).filter((r) => r !== undefined) : workerPlan.rules.values();
      for (const rule of looked) {
        const inputError = errors.get(rule.ifname) ?? errors.get(ruleErrorKey(rule.id));
        const outputErrors = rule.outputs.map((key) => errors.get(key)).filter((e): e is string => !!e);
        if (inputError || outputErrors.length === rule.outputs.length) {
          statuses.set(rule.id, { state: RuleState.RULE_STATE_ERROR, reason: inputError ?? outputErrors.join('; '), worker: index });
        } else if (outputErrors.length > 0) {
          const current = statuses.get(rule.id)!;
          statuses.set(rule.id, { ...current, reason: [current.reason, ...outputErrors].filter(Boolean).join('; ') });
        }
      }
      // A capture interface in trouble concerns every rule on it, changed or not: a full pass tells them.
      if (change && [...errors.keys()].some((key) => workerPlan.captures.has(key))) {
        this.full = true;
        this.retryLater();
      }
    } catch (err) {
      // Not a reason to restart the worker: whether it is alive is the heartbeats' call (a large or slow
      // change is not a dead worker). Its whole rule set is sent again shortly.
      const reason = `worker ${index} failed to apply its rules: ${(err as Error).message}; retrying`;
      markAll(reason);
      this.log.warn('worker rule change failed: retrying', { worker: index, error: (err as Error).message });
      this.full = true;
      this.retryLater();
    }
  }
}
