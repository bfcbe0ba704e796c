/**
 * Promise-returning access to mcrd's gRPC API for the end-to-end tests, over the generated clients
 * (gen/mcr/v1) and the standard health service. Every call has a deadline.
 */
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

import {
  DeepPartial,
  ListRulesRequest,
  ListRulesResponse,
  Rule,
  RuleServiceClient,
} from '../../gen/mcr/v1/rules';
import { GetStatsRequest, GetStatsResponse, InputStats, RuleStats, StatsServiceClient, WatchStatsRequest, WatchStatsResponse } from '../../gen/mcr/v1/stats';
import { GetVersionResponse, SystemServiceClient, Worker } from '../../gen/mcr/v1/system';
import { EnableTraceRequest, GetTraceResponse, ListTracesRequest, TraceServiceClient, TraceStatus, WatchTracesResponse } from '../../gen/mcr/v1/trace';

export type RuleSpec = DeepPartial<Rule>;

const DEFAULT_DEADLINE_MS = 10_000;

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;
type UnaryMethod<Req, Res> = (request: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: Callback<Res>) => grpc.ClientUnaryCall;

function unary<Req, Res>(client: grpc.Client, method: UnaryMethod<Req, Res>, request: Req, deadlineMs = DEFAULT_DEADLINE_MS): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, request, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** The slice of the health client the tests use (the constructor from grpc-js is untyped). */
interface HealthClient extends grpc.Client {
  check: UnaryMethod<{ service: string }, { status: string }>;
}
const HealthClientConstructor = grpc.makeClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'grpc.health.v1.Health');

export interface McrClientOptions {
  /**
   * Use connections of its own instead of those grpc-js shares between clients of the same target
   * (so that a stream this client leaves unread holds back no other client's calls).
   */
  ownConnection?: boolean;
}

export class McrClient {
  readonly address: string;
  private readonly rules: RuleServiceClient;
  private readonly system: SystemServiceClient;
  private readonly stats: StatsServiceClient;
  private readonly traces: TraceServiceClient;
  private readonly health: HealthClient;

  constructor(socketPath: string, options: McrClientOptions = {}) {
    this.address = `unix:${socketPath}`;
    const credentials = grpc.credentials.createInsecure();
    const channelOptions: grpc.ClientOptions = options.ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {};
    this.rules = new RuleServiceClient(this.address, credentials, channelOptions);
    this.system = new SystemServiceClient(this.address, credentials, channelOptions);
    this.stats = new StatsServiceClient(this.address, credentials, channelOptions);
    this.traces = new TraceServiceClient(this.address, credentials, channelOptions);
    this.health = new HealthClientConstructor(this.address, credentials, channelOptions) as unknown as HealthClient;
  }

  /** The overall serving status ("SERVING", "NOT_SERVING", ...). */
  async healthStatus(deadlineMs = 1000): Promise<string> {
    return (await unary(this.health, this.health.check, { service: '' }, deadlineMs)).status;
  }

  async createRule(rule: RuleSpec, validateOnly = false): Promise<Rule> {
    const res = await unary(this.rules, this.rules.createRule, { rule: Rule.fromPartial(rule), validateOnly });
    return required(res.rule, 'CreateRule');
  }

  async getRule(rule: string): Promise<Rule> {
    return required((await unary(this.rules, this.rules.getRule, { rule })).rule, 'GetRule');
  }

  /** One page (the first, as large as fits, unless `request` says otherwise). */
  listRules(request: DeepPartial<ListRulesRequest> = {}): Promise<ListRulesResponse> {
    return unary(this.rules, this.rules.listRules, ListRulesRequest.fromPartial(request));
  }

  /** With `updateMask`, only those paths of `definition` are taken (partial update); without, it replaces the rule. */
  async updateRule(
    rule: string,
    definition: RuleSpec,
    options: { expectedGeneration?: bigint; validateOnly?: boolean; updateMask?: string[] } = {},
  ): Promise<Rule> {
    const request = {
      rule,
      definition: Rule.fromPartial(definition),
      expectedGeneration: options.expectedGeneration,
      validateOnly: options.validateOnly ?? false,
      updateMask: options.updateMask,
    };
    return required((await unary(this.rules, this.rules.updateRule, request)).rule, 'UpdateRule');
  }

  async deleteRule(rule: string, expectedGeneration?: bigint): Promise<Rule> {
    return required((await unary(this.rules, this.rules.deleteRule, { rule, expectedGeneration })).rule, 'DeleteRule');
  }

  /** The server's version; `clientProtocolMajor` 0 asks mcrd not to check the client's protocol. */
  getVersion(clientProtocolMajor = 0): Promise<GetVersionResponse> {
    return unary(this.system, this.system.getVersion, { clientProtocolMajor });
  }

  async listWorkers(): Promise<Worker[]> {
    return (await unary(this.system, this.system.listWorkers, {})).workers;
  }

  /** Counters of one rule (id or name) or, by default, of every rule. */
  async getStats(rule = ''): Promise<RuleStats[]> {
    return (await this.getStatsPage({ rule })).rules;
  }

  /** One page of GetStats. */
  getStatsPage(request: DeepPartial<GetStatsRequest> = {}): Promise<GetStatsResponse> {
    return unary(this.stats, this.stats.getStats, GetStatsRequest.fromPartial(request));
  }

  async getWorkerStats(): Promise<InputStats[]> {
    return (await unary(this.stats, this.stats.getWorkerStats, {})).inputs;
  }

  /**
   * A raw WatchStats call, without deadline: the caller reads it (or leaves it unread, which makes
   * HTTP/2 flow control hold mcrd back), and cancels it.
   */
  watchStats(rule = '', intervalMs = 0): grpc.ClientReadableStream<WatchStatsResponse> {
    return this.stats.watchStats(WatchStatsRequest.fromPartial({ rule, intervalMs }));
  }

  /** Starts (or restarts) tracing a rule; unset settings are 0 (the defaults). */
  async enableTrace(rule: string, settings: Partial<Omit<EnableTraceRequest, 'rule'>> = {}): Promise<TraceStatus> {
    return required((await unary(this.traces, this.traces.enableTrace, EnableTraceRequest.fromPartial({ ...settings, rule }))).status, 'EnableTrace');
  }

  async disableTrace(rule: string): Promise<TraceStatus> {
    return required((await unary(this.traces, this.traces.disableTrace, { rule })).status, 'DisableTrace');
  }

  getTrace(rule: string): Promise<GetTraceResponse> {
    return unary(this.traces, this.traces.getTrace, { rule });
  }

  async listTraces(): Promise<TraceStatus[]> {
    return (await unary(this.traces, this.traces.listTraces, ListTracesRequest.fromPartial({}))).traces;
  }

  /** A raw WatchTraces call, without deadline (see watchStats); the caller cancels it. */
  watchTraces(rules: string[] = []): grpc.ClientReadableStream<WatchTracesResponse> {
    return this.traces.watchTraces({ rules });
  }

  /** Sets a facility's log level ("" = every facility); resolves with every facility's level. */
  async setLogLevel(facility: string, level: string): Promise<Record<string, string>> {
    return (await unary(this.system, this.system.setLogLevel, { facility, level })).levels;
  }

  async getLogLevels(): Promise<Record<string, string>> {
    return (await unary(this.system, this.system.getLogLevels, {})).levels;
  }

  close(): void {
    for (const client of [this.rules, this.system, this.stats, this.traces, this.health]) client.close();
  }
}

function required<T>(value: T | undefined, call: string): T {
  if (value === undefined) throw new Error(`${call} answered without a rule`);
  return value;
}

/** Awaits a call that must fail and returns its gRPC error (fails if it succeeds or fails otherwise). */
export async function grpcFailure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  let result: unknown;
  try {
    result = await call;
  } catch (err) {
    if (typeof (err as grpc.ServiceError).code !== 'number') throw err;
    return err as grpc.ServiceError;
  }
  throw new Error(`expected the call to fail, but it succeeded with ${JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
}

/** Name of a gRPC status code, for messages ("INVALID_ARGUMENT"). */
export function statusName(code: number): string {
  return grpc.status[code] ?? String(code);
}

/** How `call` ended: "OK", or the name of its gRPC status ("UNAUTHENTICATED"). */
export async function grpcCode(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    if (typeof (err as grpc.ServiceError).code !== 'number') throw err;
    return statusName((err as grpc.ServiceError).code);
  }
  return 'OK';
}

/**
 * Whether `details` names the field `path` exactly: "rule.outputs" is not named by
 * "rule.outputs[0].port: ..." (the character after the path must not continue it).
 */
export function namesField(details: string, path: string): boolean {
  for (let at = details.indexOf(path); at >= 0; at = details.indexOf(path, at + 1)) {
    const before = at === 0 ? '' : details[at - 1];
    const after = details[at + path.length] ?? '';
    if (!/[\w.\]]/.test(before) && !/[\w.[]/.test(after)) return true;
  }
  return false;
}
