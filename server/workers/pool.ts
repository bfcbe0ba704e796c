/**
 * The worker processes: one per CPU mcrd may use by default, each with its data-plane thread pinned to
 * its CPU (see cpu-choice.ts), started at boot, restarted with exponential backoff
 * when one exits or is recycled. Emits 'started' (slot) whenever a worker is (re)started and ready for
 * its state, and 'exited' (slot) when one has gone.
 */
import { EventEmitter } from 'events';
import fs from 'fs';

import { WorkerState } from '../../gen/mcr/v1/system';
import { addonFile, Native } from '../../native';
import type { LogLevel, TestHooks } from '../../workers/protocol';
import { logger } from '../log';
import { assertWorldReadable } from './code-access';
import { CounterRegion } from './counter-region';
import { CounterTotals } from './counter-totals';
import { workerEntry, WorkerProcess } from './worker-process';

export const BACKOFF_INITIAL_MS = 250;
export const BACKOFF_MAX_MS = 16_000;
/** A worker must stay up this long before its backoff resets. */
export const BACKOFF_RESET_AFTER_MS = 30_000;

export interface PoolOptions {
  workers: number;
  /** The CPU each worker's data-plane thread is pinned to, by index, one per worker (chooseCpus). */
  workerCpus: readonly number[];
  batch: number;
  logLevel: LogLevel;
  requestTimeoutMs: number;
  startTimeoutMs: number;
  /** mcrd --test-hooks: a JSON file {"crashOnStart": [worker indexes]} read at every start. */
  testHooksFile?: string;
}

/**
 * What keeps a running worker's installed state in step with the plan (forwarding's WorkerSync,
 * attached by whoever builds the pool): what the pool and its heartbeat monitor need of it.
 */
export interface SlotSync {
  /** The hash of the rule set the worker should report. */
  readonly expectedHash: string;
  /** True while a change is being applied: the reported hash may lag the expected one meanwhile. */
  readonly busy: boolean;
  /** Forgets everything without talking to the worker: it has gone. */
  reset(): void;
}

/** What a new worker process comes with, for attaching its sync. */
export interface LaunchedWorker<S extends SlotSync> {
  slot: WorkerSlot<S>;
  process: WorkerProcess;
  /** Its counter region (the supervisor's mapping). */
  region: CounterRegion;
  /** Where the counts of its freed counter slots go. */
  totals: CounterTotals;
}

/** Makes the sync of a worker process just launched. */
export type AttachSync<S extends SlotSync> = (worker: LaunchedWorker<S>) => S;

/** What the heartbeat monitor knows of one worker process; fresh for every process. */
export class WorkerHealth {
  missed = 0;
  pending = false;
  lastHeartbeatUnixNanos = 0n;
  reportedHash = '';
  /** Drift handling: none, a resync is running, or a resync has been done and must have fixed it. */
  drift: 'none' | 'resyncing' | 'resynced' = 'none';
  /** The data-plane thread's CPU time when its heartbeat was last seen stale while it was runnable. */
  staleCpuTicks?: number;
  /** The process's count of records dropped at its channel, as last reported. */
  channelDropped = 0;
}

export class WorkerSlot<S extends SlotSync = SlotSync> {
  process?: WorkerProcess;
  sync?: S;
  /** The current process's counter region: its data plane's counters and heartbeat. */
  region?: CounterRegion;
  health = new WorkerHealth();
  state = WorkerState.WORKER_STATE_STARTING;
  restarts = 0;
  backoffMs = BACKOFF_INITIAL_MS;
  restartTimer?: NodeJS.Timeout;
  /** When the pending restart is due (Date.now() ms), while restarting. */
  restartDueMs = 0;
  lastExit = '';
  lastRestartReason = '';
  drifts = 0n;
  /** Times its data-plane thread was found stalled (the process was then restarted). */
  dataplaneStalls = 0;
  /** Trace records its processes dropped because the channel to mcrd was full (all processes). */
  channelDropped = 0;
  driftRepairs = 0n;
  driftRestarts = 0n;

  constructor(
    readonly index: number,
    readonly core: number,
  ) {}

  get running(): boolean {
    return this.state === WorkerState.WORKER_STATE_RUNNING && this.process?.alive === true;
  }
}

export class WorkerPool<S extends SlotSync = SlotSync> extends EventEmitter {
  readonly slots: WorkerSlot<S>[];
  /** What the counter slots of every worker counted before they were freed (see CounterTotals). */
  readonly totals = new CounterTotals();
  private stopping = false;
  private readonly log = logger('workers');

  constructor(
    private readonly addon: Native,
    private readonly options: PoolOptions,
    private readonly attach: AttachSync<S>,
  ) {
    super();
    if (options.workerCpus.length !== options.workers) {
      throw new RangeError(`WorkerPool: ${options.workerCpus.length} CPUs for ${options.workers} workers`);
    }
    this.slots = Array.from({ length: options.workers }, (_, i) => new WorkerSlot<S>(i, options.workerCpus[i]));
  }

  get size(): number {
    return this.slots.length;
  }

  /** Starts every worker; rejects if any cannot start (e.g. setpriv missing, or privilege left). */
  async start(): Promise<void> {
    assertWorldReadable([workerEntry(), addonFile()]);
    await Promise.all(this.slots.map((slot) => this.launch(slot)));
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        clearTimeout(slot.restartTimer);
        await slot.process?.stop(graceMs);
        slot.sync?.reset();
        slot.state = WorkerState.WORKER_STATE_STOPPED;
      }),
    );
  }

  /** Sets the workers' own log level, now in every running worker and for every worker started later. */
  async setWorkerLogLevel(level: LogLevel): Promise<void> {
    this.options.logLevel = level;
    await Promise.all(
      this.slots
        .filter((slot) => slot.running)
        .map((slot) =>
          slot.process!.request({ type: 'setLogLevel', level }).catch((err: Error) => {
            this.log.warn('cannot set worker log level', { worker: slot.index, error: err.message });
          }),
        ),
    );
  }

  /** Kills a worker that misbehaves; it is restarted like one that crashed. */
  recycle(slot: WorkerSlot<S>, reason: string): void {
    if (!slot.process?.alive) return;
    this.log.warn('restarting worker', { worker: slot.index, reason });
    slot.lastRestartReason = reason;
    slot.process.kill();
  }

  private async launch(slot: WorkerSlot<S>): Promise<void> {
    const { batch, logLevel, requestTimeoutMs, startTimeoutMs } = this.options;
    // A region of its own for every process: the previous one's slots were folded when it went.
    const region = new CounterRegion(this.addon);
    const process = new WorkerProcess({
      index: slot.index,
      core: slot.core,
      batch,
      logLevel,
      requestTimeoutMs,
      startTimeoutMs,
      testHooks: this.testHooksFor(slot.index),
      countersFd: region.handle,
    });
    slot.process = process;
    slot.region = region;
    slot.sync = this.attach({ slot, process, region, totals: this.totals });
    slot.health = new WorkerHealth();
    slot.state = WorkerState.WORKER_STATE_STARTING;
    process.once('exit', (code: number | null, signal: string | null) => this.onExit(slot, process, code, signal));
    try {
      await process.start();
    } finally {
      region.closeFd(); // the worker has its own copy (or is gone); the mapping stays
    }
    slot.state = WorkerState.WORKER_STATE_RUNNING;
    this.log.info('worker started', { worker: slot.index, pid: process.pid, uid: process.uid, core: slot.core });
    this.emit('started', slot);
  }

  private testHooksFor(index: number): TestHooks | undefined {
    const file = this.options.testHooksFile;
    if (!file) return undefined;
    try {
      const hooks = JSON.parse(fs.readFileSync(file, 'utf8')) as { crashOnStart?: number[]; refuseOutputsTo?: string[] };
      return { crashOnStart: (hooks.crashOnStart ?? []).includes(index), refuseOutputsTo: hooks.refuseOutputsTo };
    } catch {
      return { crashOnStart: false };
    }
  }

  private onExit(slot: WorkerSlot<S>, process: WorkerProcess, code: number | null, signal: string | null): void {
    if (slot.process !== process) return;
    slot.sync?.reset();
    slot.lastExit = signal ? `signal ${signal}` : `exit code ${code}`;
    if (this.stopping) return;
    this.emit('exited', slot);
    const uptime = Number(globalThis.process.hrtime.bigint() - process.startedAt) / 1e6;
    if (uptime >= BACKOFF_RESET_AFTER_MS) slot.backoffMs = BACKOFF_INITIAL_MS;
    slot.state = WorkerState.WORKER_STATE_RESTARTING;
    slot.restartDueMs = Date.now() + slot.backoffMs;
    this.log.error('worker exited', { worker: slot.index, exit: slot.lastExit, restartInMs: slot.backoffMs });
    slot.restartTimer = setTimeout(() => {
      slot.restarts++;
      this.launch(slot).catch((err: Error) => {
        this.log.error('worker restart failed', { worker: slot.index, error: err.message });
      });
    }, slot.backoffMs);
    slot.backoffMs = Math.min(slot.backoffMs * 2, BACKOFF_MAX_MS);
  }
}
