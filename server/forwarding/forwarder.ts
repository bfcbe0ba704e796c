/**
 * Keeps the workers, the group memberships and the rule statuses in line with the rule store and the
 * interfaces that exist. sync() is coalescing: callers wait for a pass that started after their call.
 */
import type { Rule, RuleStatus } from '../../gen/mcr/v1/rules';
import { RuleState } from '../../gen/mcr/v1/rules';
import { EventKind } from '../../gen/mcr/v1/system';
import type { Native } from '../../native';
import type { EventBus } from '../events/bus';
import { logger } from '../log';
import { Memberships } from '../net/memberships';
import type { RulePlacement } from '../rules/placement';
import type { ForwardingPool, ForwardingSlot } from './worker-sync';
import type { InterfaceLookup } from '../net/interfaces';
import { ForwardingPlan, planForwarding, PlannedStatus, TraceLookup } from './plan';
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

  constructor(
    private readonly rules: () => Rule[],
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

  /** Every fullSyncMs, resends every worker its whole rule set (the drift safety net). */
  start(fullSyncMs: number): void {
    this.fullSync = setInterval(() => {
      this.log.debug('periodic full sync');
      for (const slot of this.pool.slots) slot.sync?.resendRules();
      void this.sync();
    }, fullSyncMs);
  }

  stop(): void {
    clearInterval(this.fullSync);
    clearTimeout(this.retry);
    this.memberships.close();
  }

  /** Sends one worker its whole rule slice again (drift repair). */
  resync(slot: ForwardingSlot): Promise<void> {
    slot.sync?.resendRules();
    return this.sync();
  }

  /** Resolves once a full pass that started after this call has finished. */
  sync(): Promise<void> {
    const target = ++this.requested;
    const done = new Promise<void>((resolve) => this.waiters.push({ target, resolve }));
    if (!this.loop) this.loop = this.run();
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
    const rules = this.rules();
    const plan = planForwarding(rules, this.placement, this.interfaces, this.traces);
    const statuses = new Map(plan.statuses);
    await Promise.all(this.pool.slots.map((slot) => this.applyToWorker(slot.index, plan, statuses)));
    this.memberships.sync(plan.memberships);
    for (const [id, status] of statuses) {
      const failure = status.membership && this.memberships.failures.get(status.membership);
      if (failure && status.state === RuleState.RULE_STATE_ACTIVE) {
        statuses.set(id, { ...status, reason: [status.reason, `IGMP join failed: ${failure}`].filter(Boolean).join('; ') });
      }
    }
    this.reportChanges(this.statuses, statuses);
    this.statuses = statuses;
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

  private async applyToWorker(index: number, plan: ForwardingPlan, statuses: Map<string, PlannedStatus>): Promise<void> {
    const slot = this.pool.slots[index];
    const workerPlan = plan.workers[index];
    const markAll = (reason: string) => {
      for (const rule of workerPlan.rules) statuses.set(rule.id, { state: RuleState.RULE_STATE_ERROR, reason, worker: index });
    };
    if (!slot.running || !slot.sync) {
      markAll(`worker ${index} is not running`);
      return;
    }
    try {
      const errors = await slot.sync.apply(workerPlan);
      for (const rule of workerPlan.rules) {
        const inputError = errors.get(rule.ifname) ?? errors.get(ruleErrorKey(rule.id));
        const outputErrors = rule.outputs.map((key) => errors.get(key)).filter((e): e is string => !!e);
        if (inputError || outputErrors.length === rule.outputs.length) {
          statuses.set(rule.id, { state: RuleState.RULE_STATE_ERROR, reason: inputError ?? outputErrors.join('; '), worker: index });
        } else if (outputErrors.length > 0) {
          const current = statuses.get(rule.id)!;
          statuses.set(rule.id, { ...current, reason: [current.reason, ...outputErrors].filter(Boolean).join('; ') });
        }
      }
    } catch (err) {
      // Not a reason to restart the worker: whether it is alive is the heartbeats' call (a large or slow
      // change is not a dead worker). Its whole rule set is sent again shortly.
      const reason = `worker ${index} failed to apply its rules: ${(err as Error).message}; retrying`;
      markAll(reason);
      this.log.warn('worker rule change failed: retrying', { worker: index, error: (err as Error).message });
      this.retryLater();
    }
  }
}
