/**
 * mcr as the relay: the real mcrd (dist/server/main.js) in the relay namespace, started by the e2e
 * tests' Mcrd helper, with one rule per flow created over gRPC (input in0 group:port, one output per
 * output link to the same group:port).
 */
import path from 'path';

import { McrClient } from '../../../test/support/grpc';
import { Mcrd } from '../../../test/support/mcrd';
import { RuleState } from '../../../gen/mcr/v1/rules';
import { waitFor } from '../../../test/support/poll';
import { waitForWorkersInSync } from '../../../test/support/rules';
import { CAPTURE_FILTER_ENV } from '../../../server/net/capture-filter';
import { residentByLabel } from '../memory';
import { outputLink, RELAY_IN } from '../topology';
import { BULK_PIECE, BulkRules, maxRulesArgs } from './mcr-bulk';
import { Flow, Relay, RelayContext, RelaySetup } from './relay';

/** Rules are created this many at a time (the store persists each change). */
const CREATE_CONCURRENCY = 16;
const INSTALL_TIMEOUT_MS = 120_000;
/**
 * mcr-w1-trace traces every traffic rule, recording one packet in this many: at the NDR that is tens
 * of thousands of records a second through the worker and the supervisor, within a trace's record
 * limit (100,000) for a probe; the traces are re-enabled (fresh limits) before every probe.
 */
export const TRACE_SAMPLE_EVERY = 10;
const TRACE_RECORD_LIMIT = 100_000;
const TRACE_TIME_LIMIT_MS = 3_600_000;

export interface McrRelayOptions {
  trace?: { sampleEvery: number };
  /** MCR_CAPTURE_FILTER for mcrd: 'classic' forces the classic capture filter (a diagnostic, docs/decisions/0029). */
  captureFilter?: 'classic';
  /** The TOS byte the sender marks every packet with, which mcr's outputs preserve (docs/decisions/0058). */
  markedTos?: number;
}

/** DSCP EF (46) with ECT(0): what mcr-w1-dscp's packets carry, and every output sends per packet. */
export const MARKED_TOS = (46 << 2) | 2;

export class McrRelay implements Relay {
  readonly name: string;
  readonly description: string;
  private mcrd: Mcrd | null = null;
  private client: McrClient | null = null;
  private tracedRules: string[] = [];
  /** Set when more than BULK_PIECE rules were installed (see mcr-bulk.ts). */
  private bulk: BulkRules | null = null;
  private readonly trace?: { sampleEvery: number };
  readonly trafficTos?: number;

  constructor(
    private readonly ctx: RelayContext,
    private readonly workers: number,
    private readonly options: McrRelayOptions = {},
  ) {
    const trace = (this.trace = options.trace);
    this.trafficTos = options.markedTos;
    const suffixes = [trace ? 'trace' : '', options.captureFilter ?? '', options.markedTos ? 'dscp' : ''];
    this.name = [`mcr-w${workers}`, ...suffixes.filter((x) => x)].join('-');
    this.description =
      `mcrd --workers ${workers} (worker i pinned to CPU i by mcrd), rules created over gRPC` +
      (trace ? `, every traffic rule traced (1 packet in ${trace.sampleEvery} recorded, snap 128 bytes)` : '') +
      (options.captureFilter ? `, MCR_CAPTURE_FILTER=${options.captureFilter}` : '') +
      (options.markedTos ? `, every packet sent with TOS 0x${options.markedTos.toString(16)} (DSCP ${options.markedTos >> 2}), preserved per packet` : '');
  }

  /** The environment mcrd starts with beyond the harness's own (its diagnostics). */
  private mcrdEnvironment(): Record<string, string> {
    const env: Record<string, string> = {};
    if (this.options.captureFilter) env[CAPTURE_FILTER_ENV] = this.options.captureFilter;
    return env;
  }

  /** Enables (again: with fresh limits) the traces of the traffic rules. */
  async beforeProbe(): Promise<void> {
    const client = this.client;
    if (!client || !this.trace) return;
    const settings = { sampleEvery: this.trace.sampleEvery, recordLimit: TRACE_RECORD_LIMIT, timeLimitMs: TRACE_TIME_LIMIT_MS };
    await Promise.all(this.tracedRules.map((id) => client.enableTrace(id, settings)));
  }

  unsupported(): string | null {
    return null;
  }

  async start(setup: RelaySetup): Promise<void> {
    const all = [...setup.flows, ...setup.idleFlows];
    const mcrd = new Mcrd(this.ctx.topology.ns.relay, { workers: this.workers, logLevel: 'warn', extraArgs: maxRulesArgs(all.length) });
    this.mcrd = mcrd;
    // mcrd inherits the environment when it is spawned (at the start of start()).
    const extra = this.mcrdEnvironment();
    const saved = Object.keys(extra).map((name): [string, string | undefined] => [name, process.env[name]]);
    Object.assign(process.env, extra);
    try {
      await mcrd.start();
    } finally {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    const client = new McrClient(mcrd.socketPath);
    this.client = client;
    const outputs = setup.outputs.map((k) => ({ interface: outputLink(k).relay.ifname, address: '', port: 0 }));
    const rule = (flow: Flow) => ({
      input: { interface: RELAY_IN.ifname, group: flow.group, port: flow.port },
      outputs: outputs.map((o) => ({ ...o, address: flow.group, port: flow.port })),
    });
    if (all.length > BULK_PIECE) {
      const started = Date.now();
      this.bulk = await BulkRules.install(mcrd.socketPath, all.map(rule), setup.flows.length, this.workers);
      this.ctx.log(`  ${this.name}: ${all.length} rules installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return;
    }
    const created: string[] = [];
    for (let i = 0; i < all.length; i += CREATE_CONCURRENCY) {
      created.push(...(await Promise.all(all.slice(i, i + CREATE_CONCURRENCY).map((flow) => client.createRule(rule(flow))))).map((r) => r.id));
    }
    this.tracedRules = this.trace ? created.slice(0, setup.flows.length) : [];
    if (all.length > CREATE_CONCURRENCY) this.ctx.log(`  ${this.name}: ${all.length} rules created`);
    await waitForWorkersInSync(client, this.workers, INSTALL_TIMEOUT_MS);
    await waitFor(
      `all ${all.length} rules to be active`,
      () => client.listRules(),
      (list) => list.rules.length === all.length && list.rules.every((r) => r.status?.state === RuleState.RULE_STATE_ACTIVE),
      INSTALL_TIMEOUT_MS,
      250,
    );
  }

  async stop(): Promise<void> {
    this.client?.close();
    this.client = null;
    this.bulk?.close();
    this.bulk = null;
    const mcrd = this.mcrd;
    this.mcrd = null;
    if (!mcrd) return;
    const status = await mcrd.stop();
    const logs = mcrd.logs();
    await mcrd.dispose();
    if (status.killed) this.ctx.log(`  ${this.name}: mcrd needed SIGKILL to stop`);
    if (status.code !== 0 && status.signal === null) this.ctx.log(`  ${this.name}: mcrd exited with code ${status.code}; its output:\n${logs}`);
  }

  pids(): number[] {
    return this.ctx.topology.pids('relay');
  }

  /** Capture frames and kernel drops of the workers' sockets, forwarded packets and send errors of the rules. */
  async counters(): Promise<Record<string, number>> {
    const client = this.client;
    if (!client) return {};
    const [inputs, rules] = this.bulk ? await this.bulk.counters() : await Promise.all([client.getWorkerStats(), client.getStats()]);
    const sum = <T>(list: T[], value: (item: T) => bigint | number) => list.reduce((total, item) => total + Number(value(item)), 0);
    const outputs = rules.flatMap((r) => r.outputs);
    return {
      captured: sum(inputs, (i) => i.frames),
      captureKernelDrops: sum(inputs, (i) => i.kernelDrops),
      unmatched: sum(inputs, (i) => i.unmatched),
      forwarded: sum(rules, (r) => r.packetsForwarded),
      sendFailed: sum(rules, (r) => r.drops?.sendFailed ?? 0),
      sendWouldBlock: sum(outputs, (o) => o.errorsWouldBlock),
      sendOtherErrors: sum(outputs, (o) => o.errorsUnreachable + o.errorsOther),
    };
  }

  /** How many rules each worker owns (a flow's rule decides which worker, hence which CPU, forwards it). */
  async rulesPerWorker(): Promise<number[]> {
    if (!this.client) return [];
    if (this.bulk) return this.bulk.rulesPerWorker();
    return (await this.client.listWorkers()).sort((a, b) => a.index - b.index).map((w) => w.rules);
  }

  memory(): Record<string, number> {
    return residentByLabel(this.pids(), (argv) => {
      // mcrd and its workers set their titles ("mcrd", "mcrd-worker N"); a worker not yet started has its path.
      if (argv[0] === 'mcrd' || argv.some((a) => a.endsWith(path.join('server', 'main.js')))) return 'mcrd';
      if (/^mcrd-worker \d+$/.test(argv[0] ?? '') || argv.some((a) => /workers[/\\]main\.(js|ts)$/.test(a))) return 'worker';
      return path.basename(argv[0] ?? '?');
    });
  }
}
