/**
 * Heartbeats: every 250 ms each running worker is asked for its ruleset hash. A worker that leaves 3
 * in a row unanswered is hung and is restarted. Only ticks that came on time count: a tick that comes
 * late means the supervisor itself was busy (a large collection, a big change), and the worker's answer
 * may be waiting unread behind that work; a slow supervisor must not take its workers for dead. A late
 * answer still counts as an answer. A worker whose JavaScript thread answers but whose data-plane
 * thread has not turned its loop for DATAPLANE_STALL_LIMIT_MS (its heartbeat in the counter region)
 * has a dead or stalled data plane and is restarted too. A worker whose hash differs from the one the
 * supervisor expects has drifted: its rules are sent again (resync); if the next heartbeat still
 * differs, it is restarted. Every drift and its outcome is counted and logged.
 */
import { EventKind } from '../../gen/mcr/v1/system';
import type { HeartbeatReply } from '../../workers/protocol';
import type { EventBus } from '../events/bus';
import { logger } from '../log';
import { dataplaneThreadRun } from './dataplane-thread';
import type { SlotSync, WorkerPool, WorkerSlot } from './pool';

export const HEARTBEAT_INTERVAL_MS = 250;
export const MISSED_HEARTBEATS_LIMIT = 3;
/**
 * The data-plane loop bumps its heartbeat in the counter region at least every 100 ms; one this stale
 * means the thread has died or stalled (the JavaScript thread answering heartbeats proves nothing
 * about it). With the 250 ms tick, a stall is acted on within STALL_LIMIT_MS + 250 ms.
 */
export const DATAPLANE_STALL_LIMIT_MS = 600;
/** How long an answer is awaited: long, so that one read late (the supervisor was busy) still counts. */
const HEARTBEAT_ANSWER_MS = 30_000;

const log = logger('workers');

export class HeartbeatMonitor<S extends SlotSync> {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly pool: WorkerPool<S>,
    /** Sends the worker its whole rule slice again. */
    private readonly resync: (slot: WorkerSlot<S>) => Promise<void>,
    private readonly events: EventBus,
    private readonly intervalMs = HEARTBEAT_INTERVAL_MS,
  ) {}

  start(): void {
    let lastTick = Date.now();
    // The first beat at once: ListWorkers tells each worker's ruleset hash (whether its rules are
    // installed) from the start, not an interval later.
    for (const slot of this.pool.slots) if (slot.running) this.beat(slot, true);
    this.timer = setInterval(() => {
      const now = Date.now();
      const onTime = now - lastTick < this.intervalMs * 2;
      lastTick = now;
      for (const slot of this.pool.slots) if (slot.running) this.beat(slot, onTime);
    }, this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private beat(slot: WorkerSlot<S>, onTime: boolean): void {
    const health = slot.health;
    // Only while the JavaScript thread answers: a process that answers nothing (SIGSTOP) is a hung
    // worker, found out by its missed heartbeats below.
    if (onTime && !health.pending && this.dataplaneStalled(slot)) return;
    if (health.pending) {
      if (!onTime) return;
      health.missed++;
      if (health.missed >= MISSED_HEARTBEATS_LIMIT) this.pool.recycle(slot, `missed ${health.missed} heartbeats`);
      return;
    }
    health.pending = true;
    const process = slot.process!;
    process.request({ type: 'heartbeat' }, [], HEARTBEAT_ANSWER_MS).then(
      (reply) => {
        if (slot.health !== health) return; // the worker was replaced meanwhile
        health.pending = false;
        health.missed = 0;
        health.lastHeartbeatUnixNanos = BigInt(Date.now()) * 1_000_000n;
        const answer = reply as HeartbeatReply;
        health.reportedHash = answer.hash;
        // Cumulative per process: the slot keeps the sum over its processes.
        slot.channelDropped += Math.max(0, answer.channelDropped - health.channelDropped);
        health.channelDropped = answer.channelDropped;
        this.checkDrift(slot, health.reportedHash);
      },
      () => {
        // Unanswered (the worker went, or not even within HEARTBEAT_ANSWER_MS): `pending` stays set, so
        // every tick on time counts a miss until the worker is restarted. A heartbeat is never re-sent to
        // a worker that has not answered.
      },
    );
  }

  /** Restarts the worker if its data-plane thread has not turned its loop for DATAPLANE_STALL_LIMIT_MS. */
  private dataplaneStalled(slot: WorkerSlot<S>): boolean {
    const region = slot.region;
    const beat = region?.heartbeatNs ?? 0;
    if (beat === 0) return false; // not started yet
    // Both sides read CLOCK_MONOTONIC (libuv's hrtime is that clock).
    const ageMs = (Number(process.hrtime.bigint()) - beat) / 1e6;
    if (ageMs < DATAPLANE_STALL_LIMIT_MS) {
      slot.health.staleCpuTicks = undefined;
      return false;
    }
    // Stale. Gone, sleeping or blocked (S, D...): stalled. Runnable (R): either it loops without
    // coming back (its CPU time grows: stalled) or the machine gives it no CPU (starved, not stalled:
    // it turns its loop as soon as it runs). Told apart by a second look one tick later.
    const run = dataplaneThreadRun(slot.process?.pid ?? 0);
    if (run?.state === 'R') {
      const before = slot.health.staleCpuTicks;
      slot.health.staleCpuTicks = run.cpuTicks;
      if (before === undefined || run.cpuTicks === before) return false;
    }
    slot.dataplaneStalls++;
    this.announce(slot, `data-plane thread stalled (no turn of its loop for ${Math.round(ageMs)} ms): restarting the worker`);
    this.pool.recycle(slot, `data-plane thread stalled (no turn of its loop for ${Math.round(ageMs)} ms)`);
    return true;
  }

  private announce(slot: WorkerSlot<S>, what: string): void {
    const pid = slot.process?.pid ?? 0;
    this.events.publish(EventKind.EVENT_KIND_WORKER_DRIFT, `worker ${slot.index}: ${what}`, { worker: { index: slot.index, pid, reason: what } });
  }

  private checkDrift(slot: WorkerSlot<S>, reported: string): void {
    const sync = slot.sync!;
    const health = slot.health;
    if (sync.busy || health.drift === 'resyncing') return; // the expected hash is moving, or a repair runs
    if (reported === sync.expectedHash) {
      if (health.drift === 'resynced') {
        slot.driftRepairs++;
        log.info('drift repaired by resync', { worker: slot.index, hash: reported });
        this.announce(slot, 'drift repaired by resync');
      }
      health.drift = 'none';
      return;
    }
    if (health.drift === 'resynced') {
      slot.driftRestarts++;
      health.drift = 'none';
      this.announce(slot, 'drift not repaired by resync: restarting the worker');
      this.pool.recycle(slot, `drift not repaired by resync (reports ${reported}, expected ${sync.expectedHash})`);
      return;
    }
    slot.drifts++;
    health.drift = 'resyncing';
    log.warn('worker drifted: resending its rules', { worker: slot.index, reported, expected: sync.expectedHash });
    this.announce(slot, `drifted (reports ${reported}, expected ${sync.expectedHash}): resending its rules`);
    this.resync(slot).then(
      () => {
        if (slot.health === health) health.drift = 'resynced';
      },
      (err: Error) => {
        if (slot.health !== health) return;
        health.drift = 'none';
        this.pool.recycle(slot, `resync failed: ${err.message}`);
      },
    );
  }
}
