/**
 * The supervisor: opens the rule store, starts the workers, keeps them in line with the store and
 * serves the API. start() leaves it serving; stop() takes it down in order.
 */
import http from 'http';
import path from 'path';

import { native } from '../native';
import { ApiServer } from './api/server';
import { ruleService } from './api/rule-service';
import { statsService } from './api/stats-service';
import { systemService } from './api/system-service';
import type { CallGate } from './api/unary';
import type { DaemonOptions } from './config/options';
import { Forwarder } from './forwarding/forwarder';
import { logger } from './log';
import { RuleStore } from './rules/store';
import { DEFAULT_RULE_LIMITS } from './rules/validate';
import { StatsCollector } from './stats/collector';
import { metricsRegistry, serveMetrics } from './stats/metrics';
import { HeartbeatMonitor } from './workers/health';
import { WorkerPool } from './workers/pool';
import { SERVER_VERSION } from './version';

/** How often counters are read to keep each rule's last-packet time current. */
const COUNTER_POLL_MS = 1000;

export class Daemon {
  private readonly log = logger('supervisor');
  private readonly gate: CallGate = { closing: false };
  private pool?: WorkerPool;
  private forwarder?: Forwarder;
  private api?: ApiServer;
  private counterPoll?: NodeJS.Timeout;
  private metrics?: http.Server;
  private heartbeats?: HeartbeatMonitor;
  private collector?: StatsCollector;

  constructor(private readonly options: DaemonOptions) {}

  async start(): Promise<void> {
    const { options } = this;
    const addon = native();
    const limits = DEFAULT_RULE_LIMITS;
    const store = await RuleStore.open(options.stateDir, limits);
    this.log.info('rule store opened', { path: store.path, rules: store.list().length, version: SERVER_VERSION });

    const pool = new WorkerPool(addon, {
      workers: options.workers,
      batch: options.batch,
      logLevel: options.logLevel,
      sockets: { rcvbuf: options.rcvbuf, sndbuf: options.sndbuf },
      requestTimeoutMs: 2000,
      startTimeoutMs: 10_000,
      testHooksFile: options.testHooks ? path.join(options.stateDir, 'test-hooks.json') : undefined,
    });
    this.pool = pool;
    const forwarder = new Forwarder(() => store.list(), pool, addon);
    this.forwarder = forwarder;
    await pool.start();
    await forwarder.sync();
    forwarder.start(options.fullSyncInterval * 1000);
    this.heartbeats = new HeartbeatMonitor(pool, (slot) => forwarder.resync(slot));
    this.heartbeats.start();
    if (options.testHooks) this.log.warn('test hooks enabled: fault injection is armed (never use this in production)');

    const collector = new StatsCollector(pool, () => store.list(), (id, lastNs) => forwarder.notePackets(id, lastNs));
    this.collector = collector;
    // Regular readings keep last-packet times and rates current and limit what a crash can lose.
    this.counterPoll = setInterval(() => void collector.collect(), COUNTER_POLL_MS);

    const gate = this.gate;
    const api = new ApiServer({
      'mcr.v1.RuleService': ruleService({ store, forwarder, limits, gate }),
      'mcr.v1.SystemService': systemService({ pool, gate, startedUnixNanos: BigInt(Date.now()) * 1_000_000n }),
      'mcr.v1.StatsService': statsService({ store, collector, gate }),
    });
    this.api = api;
    await api.listen(options.listen, options.tls, options.insecure);
    if (options.metrics) {
      const registry = metricsRegistry({
        stats: () => collector.collect(),
        ruleStates: () => store.list().map((rule) => forwarder.status(rule).state),
        workers: () => pool.slots.map((slot) => ({ index: slot.index, state: slot.state, restarts: slot.restarts })),
      });
      this.metrics = await serveMetrics(options.metrics, registry);
    }
    api.setServing(true);
    this.log.info('mcrd ready', { workers: pool.size, rules: store.list().length });
  }

  /** Refuses new calls, lets calls in flight finish, stops the workers, leaves the groups. */
  async stop(): Promise<void> {
    this.gate.closing = true;
    clearInterval(this.counterPoll);
    this.heartbeats?.stop();
    this.api?.setServing(false);
    await this.api?.close(2000);
    this.metrics?.close();
    this.forwarder?.stop();
    await this.logFinalCounters();
    await this.pool?.stop(3000);
    this.log.info('mcrd stopped');
  }

  /** The last word on every rule's counters, so nothing counted is lost at shutdown. */
  private async logFinalCounters(): Promise<void> {
    if (!this.collector) return;
    try {
      const { rules } = await this.collector.collect();
      for (const r of rules) {
        this.log.info('final counters', {
          rule: r.ruleId,
          received: String(r.packetsReceived),
          forwarded: String(r.packetsForwarded),
          outputs: r.outputs.map((o) => String(o.packets)),
        });
      }
    } catch (err) {
      this.log.warn('cannot read final counters', { error: (err as Error).message });
    }
  }
}
