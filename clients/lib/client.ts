/**
 * McrClient: one channel to mcrd and a promise method per RPC of mcr.v1, each with a deadline.
 */
import * as grpc from '@grpc/grpc-js';

import {
  ApplyRulesRequest,
  ApplyRulesResponse,
  CreateRuleRequest,
  CreateRuleResponse,
  DeepPartial,
  DeleteRuleRequest,
  DeleteRuleResponse,
  GetRuleRequest,
  GetRuleResponse,
  ListRulesRequest,
  ListRulesResponse,
  RuleServiceClient,
  RuleServiceService,
  UpdateRuleRequest,
  UpdateRuleResponse,
} from '../../gen/mcr/v1/rules';
import {
  GetStatsRequest,
  GetStatsResponse,
  GetWorkerStatsRequest,
  GetWorkerStatsResponse,
  StatsServiceClient,
  WatchStatsRequest,
  WatchStatsResponse,
} from '../../gen/mcr/v1/stats';
import {
  GetLogLevelsRequest,
  GetLogLevelsResponse,
  GetVersionRequest,
  GetVersionResponse,
  ListInterfacesRequest,
  ListInterfacesResponse,
  ListWorkersRequest,
  ListWorkersResponse,
  SetLogLevelRequest,
  SetLogLevelResponse,
  SystemServiceClient,
  WatchEventsRequest,
  WatchEventsResponse,
} from '../../gen/mcr/v1/system';
import {
  DisableTraceRequest,
  DisableTraceResponse,
  EnableTraceRequest,
  EnableTraceResponse,
  GetTraceRequest,
  GetTraceResponse,
  ListTracesRequest,
  ListTracesResponse,
  TraceServiceClient,
  WatchTracesRequest,
  WatchTracesResponse,
} from '../../gen/mcr/v1/trace';
import { encodeApplyRulesRequest } from './apply-rules-encoding';
import { DEFAULT_TIMEOUT_MS, MAX_RESPONSE_BYTES } from './defaults';
import { McrCallError } from './errors';
import { collectPages, collectStorePages, StoreWalk, walkPages } from './pages';
import { McrStream, StreamOptions, streamOf } from './stream';
import { resolveTarget, TargetOptions } from './target';
import { PROTOCOL_HEADER, PROTOCOL_MAJOR } from './version';

export { DEFAULT_TIMEOUT_MS };

export interface ConnectOptions extends TargetOptions {
  /** Deadline of each call, in milliseconds (default 5000). */
  timeoutMs?: number;
  /** Channel credentials; insecure (plaintext) unless given. */
  credentials?: grpc.ChannelCredentials;
  /** Sent as "authorization: Bearer TOKEN" with every call (mcrd --token-file / --read-only-token-file). */
  token?: string;
}

/**
 * What every call's metadata carries: the protocol major version (so that an mcrd of another major says
 * so plainly) and the bearer token when there is one (works over unix sockets and TLS alike). Set on
 * each call's metadata directly: an interceptor would add a layer of call objects to every call.
 */
function callMetadata(token: string | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(PROTOCOL_HEADER, String(PROTOCOL_MAJOR));
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

export interface CallOptions {
  /** This call's deadline in milliseconds, instead of the client's default. */
  timeoutMs?: number;
}

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: Callback<Res>,
) => grpc.ClientUnaryCall;

/**
 * RuleService.ApplyRules as a method of the rules stub, sending the caller's partial request encoded
 * by encodeApplyRulesRequest (the generated encoder's bytes, without fromPartial's copy of every rule
 * and the generated writer's per-message work: a large rule set is encoded two to three times faster).
 * Encoded inside the call, as the generated method does: a value that cannot be encoded fails the
 * call with INTERNAL ("Request message serialization failure: ..." naming the field), including the
 * 64-bit values BigInt() refuses, which fromPartial used to throw before the call.
 */
function applyRulesMethod(
  this: grpc.Client,
  request: DeepPartial<ApplyRulesRequest>,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: Callback<ApplyRulesResponse>,
): grpc.ClientUnaryCall {
  const { path, responseDeserialize } = RuleServiceService.applyRules;
  return this.makeUnaryRequest(path, encodeApplyRulesRequest, responseDeserialize, request, metadata, options, (err, response) => callback(err, response!));
}

export class McrClient {
  /** The gRPC target, e.g. "unix:/run/mcr/mcr.sock". */
  readonly target: string;
  /** Default deadline of each call, in milliseconds. */
  readonly timeoutMs: number;
  private readonly channel: grpc.Channel;
  private readonly rules: RuleServiceClient;
  private readonly system: SystemServiceClient;
  private readonly stats: StatsServiceClient;
  private readonly traces: TraceServiceClient;
  private readonly token: string | undefined;

  constructor(options: ConnectOptions = {}) {
    this.target = resolveTarget(options);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new RangeError(`timeoutMs must be a positive integer, got ${this.timeoutMs}`);
    }
    const credentials = options.credentials ?? grpc.credentials.createInsecure();
    // One channel shared by the service stubs. Retries are off: a mutation whose answer was lost
    // must not be sent again behind the caller's back (it may have been applied).
    // Channelz (grpc-js's introspection service, which mcr does not serve) off: it tracks every call.
    this.channel = new grpc.Channel(this.target, credentials, {
      'grpc.enable_retries': 0,
      'grpc.enable_channelz': 0,
      'grpc.max_receive_message_length': MAX_RESPONSE_BYTES,
    });
    this.token = options.token;
    const shared = { channelOverride: this.channel };
    this.rules = new RuleServiceClient(this.target, credentials, shared);
    this.system = new SystemServiceClient(this.target, credentials, shared);
    this.stats = new StatsServiceClient(this.target, credentials, shared);
    this.traces = new TraceServiceClient(this.target, credentials, shared);
  }

  /**
   * Makes mcrd's rules match `request.rules` in one step, all or nothing: merged into the rules it has,
   * or, with `replace`, replacing them. `dryRun` only computes the diff (added, changed, removed,
   * unchanged); `expectedGeneration` (a store_generation read earlier) makes a concurrent change
   * refuse the apply with ABORTED. Applying the same set again changes nothing.
   */
  applyRules(request: DeepPartial<ApplyRulesRequest>, options?: CallOptions): Promise<ApplyRulesResponse> {
    return this.unary('ApplyRules', this.rules, applyRulesMethod, request, options);
  }

  createRule(request: DeepPartial<CreateRuleRequest>, options?: CallOptions): Promise<CreateRuleResponse> {
    return this.unary('CreateRule', this.rules, this.rules.createRule, CreateRuleRequest.fromPartial(request), options);
  }

  getRule(request: DeepPartial<GetRuleRequest>, options?: CallOptions): Promise<GetRuleResponse> {
    return this.unary('GetRule', this.rules, this.rules.getRule, GetRuleRequest.fromPartial(request), options);
  }

  /** One page of rules (see listAllRules for all of them). */
  listRules(request: DeepPartial<ListRulesRequest> = {}, options?: CallOptions): Promise<ListRulesResponse> {
    return this.unary('ListRules', this.rules, this.rules.listRules, ListRulesRequest.fromPartial(request), options);
  }

  /**
   * Every rule `request.filter` selects (all without one), page by page (each call with its own
   * deadline), as one response; `storeChanged` says whether the rules changed during the walk.
   */
  listAllRules(request: DeepPartial<ListRulesRequest> = {}, options?: CallOptions): Promise<ListRulesResponse & StoreWalk> {
    const pages = walkPages('ListRules', (page: ListRulesRequest) => this.listRules(page, options), ListRulesRequest.fromPartial(request));
    return collectStorePages(pages, 'rules');
  }

  updateRule(request: DeepPartial<UpdateRuleRequest>, options?: CallOptions): Promise<UpdateRuleResponse> {
    return this.unary('UpdateRule', this.rules, this.rules.updateRule, UpdateRuleRequest.fromPartial(request), options);
  }

  deleteRule(request: DeepPartial<DeleteRuleRequest>, options?: CallOptions): Promise<DeleteRuleResponse> {
    return this.unary('DeleteRule', this.rules, this.rules.deleteRule, DeleteRuleRequest.fromPartial(request), options);
  }

  /** Sends PROTOCOL_MAJOR unless the request sets clientProtocolMajor (0 = do not check). */
  getVersion(request: DeepPartial<GetVersionRequest> = {}, options?: CallOptions): Promise<GetVersionResponse> {
    const full = GetVersionRequest.fromPartial({ clientProtocolMajor: PROTOCOL_MAJOR, ...request });
    return this.unary('GetVersion', this.system, this.system.getVersion, full, options);
  }

  listWorkers(request: DeepPartial<ListWorkersRequest> = {}, options?: CallOptions): Promise<ListWorkersResponse> {
    return this.unary('ListWorkers', this.system, this.system.listWorkers, ListWorkersRequest.fromPartial(request), options);
  }

  /** Sets a facility's log level (every facility when `facility` is empty); answers with all levels. */
  setLogLevel(request: DeepPartial<SetLogLevelRequest>, options?: CallOptions): Promise<SetLogLevelResponse> {
    return this.unary('SetLogLevel', this.system, this.system.setLogLevel, SetLogLevelRequest.fromPartial(request), options);
  }

  getLogLevels(request: DeepPartial<GetLogLevelsRequest> = {}, options?: CallOptions): Promise<GetLogLevelsResponse> {
    return this.unary('GetLogLevels', this.system, this.system.getLogLevels, GetLogLevelsRequest.fromPartial(request), options);
  }

  /** The interfaces mcrd sees and those rules name but that do not exist, with the rules using each: one page. */
  listInterfaces(request: DeepPartial<ListInterfacesRequest> = {}, options?: CallOptions): Promise<ListInterfacesResponse> {
    return this.unary('ListInterfaces', this.system, this.system.listInterfaces, ListInterfacesRequest.fromPartial(request), options);
  }

  /** Every interface (see listInterfaces), page by page, as one response. */
  listAllInterfaces(request: DeepPartial<ListInterfacesRequest> = {}, options?: CallOptions): Promise<ListInterfacesResponse> {
    const pages = walkPages('ListInterfaces', (page: ListInterfacesRequest) => this.listInterfaces(page, options), ListInterfacesRequest.fromPartial(request));
    return collectPages(pages, 'interfaces');
  }

  /**
   * What happens in mcrd (interface changes, rule status changes and rule changes, worker starts,
   * exits and drift), as an async iterator; `request.kinds` limits it to those kinds (empty = all).
   * Events are not replayed: the stream starts with the first event after mcrd accepted the call.
   * Cancelled and ended like watchStats; `droppedEvents` counts events mcrd could not send because
   * this consumer read too slowly.
   */
  watchEvents(request: DeepPartial<WatchEventsRequest> = {}, options: StreamOptions = {}): McrStream<WatchEventsResponse> {
    const start = () => this.system.watchEvents(WatchEventsRequest.fromPartial(request), callMetadata(this.token));
    return streamOf(start, { target: this.target, rpc: 'WatchEvents', timeoutMs: 0 }, options);
  }

  /** One page of counters per rule (see getAllStats). */
  getStats(request: DeepPartial<GetStatsRequest> = {}, options?: CallOptions): Promise<GetStatsResponse> {
    return this.unary('GetStats', this.stats, this.stats.getStats, GetStatsRequest.fromPartial(request), options);
  }

  /**
   * The counters of every rule `request` selects (`rule`, `filter`; all by default), page by page, as
   * one response. Each page is read when it is asked for: collected_unix_nanos is the last page's.
   */
  getAllStats(request: DeepPartial<GetStatsRequest> = {}, options?: CallOptions): Promise<GetStatsResponse & StoreWalk> {
    const pages = walkPages('GetStats', (page: GetStatsRequest) => this.getStats(page, options), GetStatsRequest.fromPartial(request));
    return collectStorePages(pages, 'rules');
  }

  getWorkerStats(request: DeepPartial<GetWorkerStatsRequest> = {}, options?: CallOptions): Promise<GetWorkerStatsResponse> {
    return this.unary('GetWorkerStats', this.stats, this.stats.getWorkerStats, GetWorkerStatsRequest.fromPartial(request), options);
  }

  /**
   * Counters at `intervalMs` (clamped by mcrd to 100-60000; 0 = 1000), as an async iterator:
   *
   *   for await (const update of mcr.watchStats({ intervalMs: 500 })) { ... }
   *
   * The stream has no deadline: it runs until the consumer leaves the loop, calls cancel(), or aborts
   * `options.signal` (each cancels the call), or until mcrd ends it (next() then rejects with
   * McrCallError, e.g. UNAVAILABLE when mcrd shuts down). An update larger than one message comes
   * as several (`continued` on all but the last): wholeStatsUpdates(stream) joins them.
   */
  watchStats(request: DeepPartial<WatchStatsRequest> = {}, options: StreamOptions = {}): McrStream<WatchStatsResponse> {
    const start = () => this.stats.watchStats(WatchStatsRequest.fromPartial(request), callMetadata(this.token));
    return streamOf(start, { target: this.target, rpc: 'WatchStats', timeoutMs: 0 }, options);
  }

  /**
   * Starts tracing the rule `request.rule` (id or name; settings left at 0 take mcrd's defaults), or
   * restarts its running trace with new settings; resolves to the trace's status (`status`: RUNNING,
   * with the settings in force and its start time).
   */
  enableTrace(request: DeepPartial<EnableTraceRequest>, options?: CallOptions): Promise<EnableTraceResponse> {
    return this.unary('EnableTrace', this.traces, this.traces.enableTrace, EnableTraceRequest.fromPartial(request), options);
  }

  /** Stops a trace; its records stay readable with getTrace. Resolves to its final status (`status`). */
  disableTrace(request: DeepPartial<DisableTraceRequest>, options?: CallOptions): Promise<DisableTraceResponse> {
    return this.unary('DisableTrace', this.traces, this.traces.disableTrace, DisableTraceRequest.fromPartial(request), options);
  }

  /** A trace's status and the records it buffered, oldest first. */
  getTrace(request: DeepPartial<GetTraceRequest>, options?: CallOptions): Promise<GetTraceResponse> {
    return this.unary('GetTrace', this.traces, this.traces.getTrace, GetTraceRequest.fromPartial(request), options);
  }

  /** The status of the traces mcrd knows, running or stopped with records: one page. */
  listTraces(request: DeepPartial<ListTracesRequest> = {}, options?: CallOptions): Promise<ListTracesResponse> {
    return this.unary('ListTraces', this.traces, this.traces.listTraces, ListTracesRequest.fromPartial(request), options);
  }

  /** Every trace (see listTraces), page by page, as one response. */
  listAllTraces(request: DeepPartial<ListTracesRequest> = {}, options?: CallOptions): Promise<ListTracesResponse> {
    const pages = walkPages('ListTraces', (page: ListTracesRequest) => this.listTraces(page, options), ListTracesRequest.fromPartial(request));
    return collectPages(pages, 'traces');
  }

  /**
   * Trace records as they happen, of the rules in `request.rules` (ids or names; empty = every traced rule), as an
   * async iterator; each event may also carry a trace's new status (enabled, or switched off and why).
   * Cancelled and ended like watchStats. `lost` counts the records mcrd dropped for this consumer
   * since the previous event because it read too slowly. To see a new trace from its first record,
   * subscribe before calling enableTrace (mcrd sends only what happens after it accepted the call).
   */
  watchTraces(request: DeepPartial<WatchTracesRequest> = {}, options: StreamOptions = {}): McrStream<WatchTracesResponse> {
    const start = () => this.traces.watchTraces(WatchTracesRequest.fromPartial(request), callMetadata(this.token));
    return streamOf(start, { target: this.target, rpc: 'WatchTraces', timeoutMs: 0 }, options);
  }

  /**
   * Resolves once the channel is connected; rejects with a connect-failure McrCallError if it is not
   * within `deadlineMs` milliseconds (default: the client's timeout). Calls do not wait by themselves:
   * without this, a call made while mcrd is unreachable fails at once with UNAVAILABLE.
   */
  waitForReady(deadlineMs: number = this.timeoutMs): Promise<void> {
    return new Promise((resolve, reject) => {
      this.system.waitForReady(Date.now() + deadlineMs, (err) => {
        if (!err) return resolve();
        const context = { target: this.target, rpc: 'connect', timeoutMs: deadlineMs };
        reject(new McrCallError({ code: grpc.status.DEADLINE_EXCEEDED, details: err.message }, context, true));
      });
    });
  }

  /** Closes the channel; calls made afterwards reject with an Error ("Channel has been shut down"). */
  close(): void {
    this.channel.close();
  }

  private unary<Req, Res>(rpc: string, stub: grpc.Client, method: UnaryMethod<Req, Res>, request: Req, options: CallOptions = {}): Promise<Res> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      method.call(stub, request, callMetadata(this.token), { deadline: Date.now() + timeoutMs }, (err, response) => {
        if (err) reject(new McrCallError(err, { target: this.target, rpc, timeoutMs }));
        else resolve(response);
      });
    });
  }
}

/** A client for the mcrd at `options.socket` or `options.address` (default: the default socket). */
export function connect(options: ConnectOptions = {}): McrClient {
  return new McrClient(options);
}
