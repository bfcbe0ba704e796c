/** mcr.v1.SystemService: versions and workers. */
import { ServerWritableStream, status } from '@grpc/grpc-js';

import type { Rule } from '../../gen/mcr/v1/rules';

import {
  GetLogLevelsResponse,
  GetVersionRequest,
  GetVersionResponse,
  ListWorkersResponse,
  Event,
  EventKind,
  Interface,
  ListInterfacesRequest,
  ListInterfacesResponse,
  SetLogLevelRequest,
  SetLogLevelResponse,
  SystemServiceServer,
  WatchEventsRequest,
  WatchEventsResponse,
  Worker,
  WorkerState,
} from '../../gen/mcr/v1/system';
import type { EventBus } from '../events/bus';
import type { InterfaceInfo } from '../net/interfaces';
import { BoundedWriter } from './bounded-writer';
import { Facility, FACILITIES, getLogLevels, isFacility, isLogLevel, LOG_LEVELS, setLogLevel } from '../log';
import { dataplaneThread } from '../workers/dataplane-thread';
import type { ForwardingPool, ForwardingSlot } from '../forwarding/worker-sync';
import { FEATURES, PROTOCOL_MAJOR, PROTOCOL_MINOR, SERVER_VERSION } from '../version';
import { ApiError, quote, shuttingDown } from './errors';
import { compareKeys, pageCursor, sizeInList, SortKey, takePage } from './paging';
import { CallGate, unary } from './unary';

export interface SystemServiceDeps {
  pool: ForwardingPool;
  gate: CallGate;
  startedUnixNanos: bigint;
  interfaces: { all(): InterfaceInfo[]; get(name: string): InterfaceInfo | undefined };
  /** The stored rules, not copies (only read). */
  rules: () => readonly Rule[];
  events: EventBus;
  /** GetVersion's features, when they change at run time (default FEATURES). */
  features?: () => string[];
}

/** Events a WatchEvents subscriber may have waiting before further ones are dropped. */
export const EVENT_BACKLOG = 1024;
/** Concurrent WatchEvents streams. */
export const MAX_EVENT_WATCHERS = 64;

/** The rules that use an interface: by input, by some output (ids, in rule order). */
export interface InterfaceUsers {
  inputRules: string[];
  outputRules: string[];
}

/**
 * Every interface the rules name, with the rules using it: one pass over the rules and their outputs,
 * so that describing every interface costs O(rules x outputs), not that times the interfaces.
 */
export function interfaceUsers(rules: readonly Rule[]): Map<string, InterfaceUsers> {
  const users = new Map<string, InterfaceUsers>();
  const of = (name: string) => {
    let entry = users.get(name);
    if (!entry) users.set(name, (entry = { inputRules: [], outputRules: [] }));
    return entry;
  };
  for (const rule of rules) {
    of(rule.input!.interface).inputRules.push(rule.id);
    for (const output of rule.outputs) {
      const { outputRules } = of(output.interface);
      // Once per rule, however many of its outputs leave there (the rule's id is then the last one).
      if (outputRules[outputRules.length - 1] !== rule.id) outputRules.push(rule.id);
    }
  }
  return users;
}

export function interfaceMessage(name: string, info: InterfaceInfo | undefined, users: ReadonlyMap<string, InterfaceUsers>): Interface {
  const { inputRules, outputRules } = users.get(name) ?? { inputRules: [], outputRules: [] };
  return {
    name,
    index: info?.index ?? 0,
    exists: info !== undefined,
    up: info?.up ?? false,
    running: info?.running ?? false,
    mtu: info?.mtu ?? 0,
    mac: info?.mac ?? '',
    addresses: (info?.addresses ?? []).map((a) => {
      const [address, length] = a.split('/');
      return { address, prefixLength: Number(length) };
    }),
    inputRules,
    outputRules,
  };
}

/** Where an interface is listed: by index, those that do not exist (index 0) last, then by name. */
export function interfaceKey(item: Pick<Interface, 'index' | 'name'>): SortKey {
  return [item.index || 2 ** 32, item.name];
}

/** Every interface that exists, plus those rules name that do not (yet), in interfaceKey order. */
export function listInterfaces(deps: Pick<SystemServiceDeps, 'interfaces' | 'rules'>): Interface[] {
  const users = interfaceUsers(deps.rules());
  const names = new Set([...deps.interfaces.all().map((i) => i.name), ...users.keys()]);
  const key = (i: Interface) => interfaceKey(i);
  return [...names].map((name) => interfaceMessage(name, deps.interfaces.get(name), users)).sort((a, b) => compareKeys(key(a), key(b)));
}

function describeWorker(slot: ForwardingSlot): Worker {
  const process = slot.process;
  const alive = process?.alive === true;
  const restarting = slot.state === WorkerState.WORKER_STATE_RESTARTING;
  const thread = alive ? dataplaneThread(process!.pid) : undefined;
  return {
    index: slot.index,
    pid: alive ? process!.pid : 0,
    uid: alive && process!.uid >= 0 ? process!.uid : 0,
    core: slot.core,
    state: slot.state,
    rules: slot.sync?.rules.length ?? 0,
    rulesetHash: slot.running ? slot.health.reportedHash : '',
    expectedRulesetHash: slot.sync?.expectedHash ?? '',
    restarts: slot.restarts,
    startedUnixNanos: process?.startedUnixNanos ?? 0n,
    backoffMs: restarting ? Math.max(0, slot.restartDueMs - Date.now()) : 0,
    missedHeartbeats: slot.health.missed,
    lastHeartbeatUnixNanos: slot.health.lastHeartbeatUnixNanos,
    drifts: slot.drifts,
    driftRepairs: slot.driftRepairs,
    driftRestarts: slot.driftRestarts,
    lastExit: slot.lastExit,
    lastRestartReason: slot.lastRestartReason,
    dataplaneThreadId: thread?.threadId,
    lastCpu: thread?.lastCpu,
    allowedCpus: thread?.allowedCpus ?? '',
  };
}

export function systemService(deps: SystemServiceDeps): SystemServiceServer {
  const { pool, gate, startedUnixNanos, events } = deps;
  let eventWatchers = 0;

  const watchEvents = (call: ServerWritableStream<WatchEventsRequest, WatchEventsResponse>): void => {
    const refuse = (err: ApiError): void => {
      call.emit('error', err.toServiceError());
    };
    if (gate.closing) return refuse(shuttingDown());
    if (eventWatchers >= MAX_EVENT_WATCHERS) {
      return refuse(new ApiError(status.RESOURCE_EXHAUSTED, undefined, `too many event watchers (limit ${MAX_EVENT_WATCHERS})`, { limit: 'event watchers' }));
    }
    const unknown = call.request.kinds.find((k) => EventKind[k] === undefined || k === EventKind.EVENT_KIND_UNSPECIFIED);
    if (unknown !== undefined) return refuse(new ApiError(status.INVALID_ARGUMENT, 'kinds', `unknown event kind ${unknown}`));
    eventWatchers++;
    const writer = new BoundedWriter<Event, WatchEventsResponse>(call, EVENT_BACKLOG, (event, dropped) => ({ event, droppedEvents: dropped }));
    const unsubscribe = events.subscribe(call.request.kinds, (event) => writer.push(event));
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      unsubscribe();
      writer.close();
      eventWatchers--;
    };
    for (const event of ['cancelled', 'close', 'error']) call.on(event, finish);
  };

  return {
    getVersion: unary(gate, 'GetVersion', (req: GetVersionRequest): GetVersionResponse => {
      if (req.clientProtocolMajor !== 0 && req.clientProtocolMajor !== PROTOCOL_MAJOR) {
        throw new ApiError(
          status.FAILED_PRECONDITION,
          'client_protocol_major',
          `client speaks mcr protocol ${req.clientProtocolMajor}.x, this mcrd ${SERVER_VERSION} speaks ${PROTOCOL_MAJOR}.${PROTOCOL_MINOR}: use a client of the same major version`,
        );
      }
      return {
        serverVersion: SERVER_VERSION,
        protocolMajor: PROTOCOL_MAJOR,
        protocolMinor: PROTOCOL_MINOR,
        features: deps.features?.() ?? FEATURES,
        startedUnixNanos,
      };
    }),

    listWorkers: unary(gate, 'ListWorkers', (): ListWorkersResponse => ({ workers: pool.slots.map(describeWorker) })),

    setLogLevel: unary(gate, 'SetLogLevel', async (req: SetLogLevelRequest): Promise<SetLogLevelResponse> => {
      const { facility, level } = req;
      let target: Facility | undefined;
      if (facility) {
        if (!isFacility(facility)) {
          throw new ApiError(status.INVALID_ARGUMENT, 'facility', `unknown facility ${quote(facility)}: one of ${FACILITIES.join(', ')}, or empty for all`);
        }
        target = facility;
      }
      if (!isLogLevel(level)) throw new ApiError(status.INVALID_ARGUMENT, 'level', `unknown level ${quote(level)}: one of ${LOG_LEVELS.join(', ')}`);
      setLogLevel(level, target);
      if (!target || target === 'worker') await pool.setWorkerLogLevel(level);
      return { levels: getLogLevels() };
    }),

    getLogLevels: unary(gate, 'GetLogLevels', (): GetLogLevelsResponse => ({ levels: getLogLevels() })),

    listInterfaces: unary(gate, 'ListInterfaces', (req: ListInterfacesRequest): ListInterfacesResponse => {
      const cursor = pageCursor(req, 'ListInterfaces', {}, 2);
      const page = takePage(cursor, {
        sorted: listInterfaces(deps),
        keyOf: interfaceKey,
        select: (item) => item,
        sizeOf: (item) => sizeInList(Interface.encode(item).finish().length),
      });
      return { interfaces: page.items, nextPageToken: page.nextPageToken };
    }),

    watchEvents,
  };
}
