/**
 * The supervisor: opens the rule store, starts the workers, keeps them in line with the store and
 * serves the API. start() leaves it serving; stop() takes it down in order.
 */
import http from 'http';
import path from 'path';

import { native } from '../native';
import { ApiServer } from './api/server';
import { KnownRules } from './api/known-rules';
import { ruleService } from './api/rule-service';
import { statsService } from './api/stats-service';
import { interfaceMessage, interfaceUsers, InterfaceUsers, systemService } from './api/system-service';
import { traceService } from './api/trace-service';
import type { CallGate } from './api/unary';
import type { ConfigFile } from './config/config-file';
import { applyConfigRules, ConfigReloader } from './config/daemon-config';
import type { DaemonOptions } from './config/options';
import { formatCpuList } from './formats/cpu-list';
import { Forwarder } from './forwarding/forwarder';
import { logger } from './log';
import { RuleStore } from './rules/store';
import { RuleLimits } from './rules/validate';
import { AccessControl } from './api/access';
import { StatsCollector } from './stats/collector';
import { metricsRegistry, serveMetrics } from './stats/metrics';
import type { Rule } from '../gen/mcr/v1/rules';
import { EventKind } from '../gen/mcr/v1/system';
import { EventBus } from './events/bus';
import { captureFilterChoice } from './net/capture-filter';
import { InterfaceChange, InterfaceTable } from './net/interfaces';
import { HeartbeatMonitor } from './workers/health';
import { chooseCpus } from './workers/cpu-choice';
import { raiseFileLimit } from './workers/file-limit';
import { WorkerPool } from './workers/pool';
import { ForwardingPool, ForwardingSlot, WorkerSync } from './forwarding/worker-sync';
import { RulePlacement } from './rules/placement';
import { CONFIG_RULES_FEATURE, FEATURES, SERVER_VERSION } from './version';
import { connectTraces } from './trace/connect';
import { TraceManager } from './trace/manager';

/** How long health reports NOT_SERVING before the listeners close at shutdown. */
const NOT_SERVING_GRACE_MS = 300;

/** How often the counts deleted rules' slots left behind are dropped. */
const FORGET_DELETED_MS = 30_000;

export class Daemon {
  private readonly log = logger('supervisor');
  private readonly netLog = logger('net');
  private readonly gate: CallGate = { closing: false };
  private pool?: ForwardingPool;
  private forwarder?: Forwarder;
  private api?: ApiServer;
  private counterPoll?: NodeJS.Timeout;
  private metrics?: http.Server;
  private heartbeats?: HeartbeatMonitor<WorkerSync>;
  private collector?: StatsCollector;
  private interfaces?: InterfaceTable;
  private traces?: TraceManager;
  private configReloader?: ConfigReloader;

  /** `config`: the file options.config names, already read (its settings already in `options`). */
  constructor(
    private readonly options: DaemonOptions,
    private readonly config?: ConfigFile,
  ) {}

  async start(): Promise<void> {
    const { options } = this;
    const addon = native();
    captureFilterChoice(addon); // probes eBPF and logs which capture filter is used, and why
    const fileLimit = raiseFileLimit(addon, this.log); // the workers inherit it
    // Before anything is opened or started: a CPU setting that cannot be honoured refuses the start.
    const allowedCpus = addon.allowedCpus();
    const settingName = (key: 'cpus' | 'interfaceCpus', flag: string) => (options.commandLine.has(key) || !options.config ? flag : `${key} (config ${options.config})`);
    const cpus = chooseCpus(
      {
        workers: options.workers,
        cpus: options.cpus,
        interfaceCpus: options.interfaceCpus,
        cpusName: settingName('cpus', '--cpus'),
        interfaceCpusName: settingName('interfaceCpus', '--interface-cpus'),
      },
      allowedCpus,
    );
    this.log.info('worker CPUs', {
      allowed: formatCpuList(allowedCpus),
      workers: cpus.workerCpus,
      ...(cpus.interfaceWorkers.size > 0 ? { interfaceWorkers: Object.fromEntries(cpus.interfaceWorkers) } : {}),
    });
    const sockets = { rcvbuf: options.rcvbuf, sndbuf: options.sndbuf, fileLimit };
    const pool: ForwardingPool = new WorkerPool(
      addon,
      {
        workers: options.workers,
        workerCpus: cpus.workerCpus,
        batch: options.batch,
        logLevel: options.logLevel,
        requestTimeoutMs: 2000,
        startTimeoutMs: 10_000,
        testHooksFile: options.testHooks ? path.join(options.stateDir, 'test-hooks.json') : undefined,
      },
      // Forwarding keeps each worker process's installed state in step (sockets, table, filters).
      ({ slot, process, region, totals }) => new WorkerSync(process, addon, sockets, process.log, region, totals, slot.index),
    );
    this.pool = pool;
    // The workers boot (each a node process: a few hundred ms, on another CPU) while the store is read.
    // Nothing listens to their start yet: the first pass below installs whatever they need.
    const workersUp = pool.start();
    workersUp.catch(() => undefined); // awaited below, unless the store fails first
    const limits: RuleLimits = { maxRules: options.limits.maxRules, maxOutputsPerRule: options.limits.maxOutputsPerRule };
    const events = new EventBus();
    let store: RuleStore;
    try {
      store = await RuleStore.open(options.stateDir, limits);
      this.log.info('rule store opened', { path: store.path, rules: store.size, version: SERVER_VERSION });
      // The file's rules are the desired state: in the store before the first sync installs them.
      if (this.config) await applyConfigRules(this.config, { store, events, sync: async () => undefined }, 'at start', this.log);
    } catch (err) {
      await pool.stop(3000);
      throw err;
    }
    const placement = new RulePlacement(options.workers, cpus.interfaceWorkers);
    const interfaces = new InterfaceTable(addon, (change) => {
      this.announceInterfaces(events, interfaces, change, () => store.listShared());
      void forwarder.sync();
    });
    this.interfaces = interfaces;
    const traces: TraceManager = new TraceManager({
      findRule: (ref) => store.find(ref),
      apply: (): Promise<void> => forwarder.sync(),
      limits: options.limits,
    });
    this.traces = traces;
    connectTraces(traces, { pool, events, findRule: (ref) => store.find(ref) });
    const forwarder = new Forwarder({ list: () => store.listShared(), get: (id) => store.get(id) }, pool, placement, interfaces, events, addon, traces.traceOf);
    this.forwarder = forwarder;
    // Rule changes are planned by difference: the store says which rules each change touched.
    store.onChange((ids) => forwarder.rulesChanged(ids));
    if (options.config) {
      const target = { store, events, sync: () => forwarder.sync() };
      this.configReloader = new ConfigReloader(options.config, target, options, this.config?.rules !== undefined);
    }
    pool.on('started', (slot: ForwardingSlot) =>
      events.publish(EventKind.EVENT_KIND_WORKER_STARTED, `worker ${slot.index} started (pid ${slot.process?.pid})`, {
        worker: { index: slot.index, pid: slot.process?.pid ?? 0, reason: slot.lastRestartReason },
      }),
    );
    pool.on('exited', (slot: ForwardingSlot) =>
      events.publish(EventKind.EVENT_KIND_WORKER_EXITED, `worker ${slot.index} exited (${slot.lastExit}); restarting in ${slot.backoffMs} ms`, {
        worker: { index: slot.index, pid: slot.process?.pid ?? 0, reason: slot.lastExit },
      }),
    );
    interfaces.start();
    await workersUp;
    await forwarder.start(options.fullSyncInterval * 1000);
    this.heartbeats = new HeartbeatMonitor(pool, (slot) => forwarder.resync(slot), events);
    this.heartbeats.start();
    if (options.testHooks) {
      this.log.warn('test hooks enabled: fault injection is armed (never use this in production)');
      process.on('SIGUSR2', () => this.reportHeap());
    }

    const collector = new StatsCollector(pool, () => store.listShared(), (rule) => forwarder.status(rule).worker);
    this.collector = collector;
    forwarder.useLastPackets((id) => collector.lastPacket(id));
    // Counters are read where the data plane writes them, when asked: nothing to poll. Only what
    // deleted rules counted after their deletion is dropped now and then.
    this.counterPoll = setInterval(() => collector.forgetDeletedRules(), FORGET_DELETED_MS);

    const gate = this.gate;
    // Stored rules an ApplyRules body is read against, their encodings made ahead as they change
    // (those of the rules opened with the store are made by the first ApplyRules that needs them).
    const knownRules = new KnownRules((name) => store.namedAsStored(name));
    store.onChange((ids) => knownRules.warm(ids.map((id) => store.asStored(id))));
    const api = new ApiServer({
      'mcr.v1.RuleService': ruleService({ store, forwarder, gate, events }),
      'mcr.v1.SystemService': systemService({
        pool,
        gate,
        startedUnixNanos: BigInt(Date.now()) * 1_000_000n,
        interfaces,
        rules: () => store.listShared(),
        events,
        features: () => (this.configReloader?.managesRules ? [...FEATURES, CONFIG_RULES_FEATURE] : FEATURES),
      }),
      'mcr.v1.StatsService': statsService({ store, collector, gate, ruleState: (rule) => forwarder.status(rule).state, maxWatchers: options.limits.maxStatsWatchers }),
      'mcr.v1.TraceService': traceService({ traces, gate }),
    }, {
      access: new AccessControl(options.tokens),
      maxStreams: options.limits.maxStreams,
      maxRequestBytes: options.limits.maxRequestBytes,
    }, knownRules);
    this.api = api;
    await api.listen(options.listen, options.tls, options.insecure, options.socketGroup);
    if (options.metrics) {
      const registry = metricsRegistry({
        stats: () => collector.collect(),
        ruleStates: () => store.listShared().map((rule) => forwarder.status(rule).state),
        rules: () => store.listShared().map((rule) => ({ id: rule.id, name: rule.name, inputInterface: rule.input?.interface ?? '' })),
        workers: () =>
          pool.slots.map((slot) => ({
            index: slot.index,
            state: slot.state,
            restarts: slot.restarts,
            channelDropped: slot.channelDropped,
            dataplaneStalls: slot.dataplaneStalls,
          })),
      });
      this.metrics = await serveMetrics(options.metrics, registry);
    }
    api.setServing(true);
    this.log.info('mcrd ready', { workers: pool.size, rules: store.size });
  }

  /**
   * Test hook (SIGUSR2 with --test-hooks): collects garbage when node runs with --expose-gc and logs
   * the heap in use, so that a test can tell memory held from garbage not yet collected.
   */
  private reportHeap(): void {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const { heapUsed, rss } = process.memoryUsage();
    this.log.info('heap', { heapUsed, rss, collected: gc !== undefined });
  }

  /** SIGHUP: re-applies the config file (see ConfigReloader); resolves when done, never rejects. */
  async reload(): Promise<void> {
    if (!this.options.config) return void this.log.info('SIGHUP received: no configuration file to reload (start mcrd with --config FILE)');
    if (this.gate.closing) return void this.log.info('SIGHUP received while shutting down: ignored');
    if (!this.configReloader) return void this.log.warn('SIGHUP received while starting: ignored (the file was read at start)');
    await this.configReloader.reload();
  }

  /** Refuses new calls, lets calls in flight finish, stops the workers, leaves the groups. */
  async stop(): Promise<void> {
    this.gate.closing = true;
    clearInterval(this.counterPoll);
    this.heartbeats?.stop();
    if (this.api) {
      // Health says NOT_SERVING (and mcr calls UNAVAILABLE) for a moment before the listeners close,
      // so health checkers and load balancers see the daemon going rather than just a dead socket.
      this.api.setServing(false);
      // Streams end at once with UNAVAILABLE, not with the OK a finished stream has: watchers learn
      // that mcrd is going (and mcrctl says "mcrd shut down") instead of taking it for an end.
      this.api.endStreams();
      await new Promise((resolve) => setTimeout(resolve, NOT_SERVING_GRACE_MS));
    }
    this.traces?.close(); // stops the trace timers (their streams were ended above)
    await this.api?.close(2000);
    this.metrics?.close();
    await this.forwarder?.stop();
    this.interfaces?.stop();
    await this.logFinalCounters();
    await this.pool?.stop(3000);
    this.log.info('mcrd stopped');
  }

  /**
   * Logs each interface change and publishes it; the events name the rules using the interface, worked
   * out once per change and only when someone watches (at start, with 20,000 rules, nobody does yet).
   */
  private announceInterfaces(events: EventBus, interfaces: InterfaceTable, change: InterfaceChange, rules: () => readonly Rule[]): void {
    const users: ReadonlyMap<string, InterfaceUsers> | undefined = events.subscribers > 0 ? interfaceUsers(rules()) : undefined;
    for (const name of change.changed) {
      const info = interfaces.get(name);
      if (change.removed.has(name) || !info) {
        this.netLog.info('interface removed', { interface: name });
        if (users) events.publish(EventKind.EVENT_KIND_INTERFACE_REMOVED, `interface ${name} removed`, { interface: interfaceMessage(name, undefined, users) });
        continue;
      }
      const state = `${info.up ? 'up' : 'down'}${info.up && !info.running ? ' (no carrier)' : ''}`;
      this.netLog.info('interface changed', { interface: name, index: info.index, state, addresses: info.addresses });
      if (users) {
        events.publish(EventKind.EVENT_KIND_INTERFACE_CHANGED, `interface ${name} (index ${info.index}) ${state}`, {
          interface: interfaceMessage(name, info, users),
        });
      }
    }
  }

  /**
   * The last word on every rule's counters, so nothing counted is lost at shutdown: a line per rule that
   * counted anything (a table of 20,000 idle rules is not 20,000 lines), then one with the totals.
   */
  private async logFinalCounters(): Promise<void> {
    if (!this.collector) return;
    try {
      const { rules } = await this.collector.collect();
      let received = 0n;
      let forwarded = 0n;
      let quiet = 0;
      for (const r of rules) {
        received += BigInt(r.packetsReceived);
        forwarded += BigInt(r.packetsForwarded);
        if (BigInt(r.packetsReceived) === 0n && r.outputs.every((o) => BigInt(o.packets) === 0n)) {
          quiet++;
          continue;
        }
        this.log.info('final counters', {
          rule: r.ruleId,
          received: String(r.packetsReceived),
          forwarded: String(r.packetsForwarded),
          outputs: r.outputs.map((o) => String(o.packets)),
        });
      }
      this.log.info('final counters of all rules', { rules: rules.length, withoutPackets: quiet, received: String(received), forwarded: String(forwarded) });
    } catch (err) {
      this.log.warn('cannot read final counters', { error: (err as Error).message });
    }
  }
}
