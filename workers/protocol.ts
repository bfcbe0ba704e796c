/**
 * Messages between the supervisor and a worker over their SEQPACKET control channel.
 * Each message is one JSON object; fds travel beside it (SCM_RIGHTS). Counters are
 * decimal strings so that uint64 values survive JSON.
 *
 * Supervisor -> worker: requests carry `seq`; the worker answers each with a reply of the same seq.
 * Worker -> supervisor: replies, plus unsolicited `ready`, `log`, `fatal` and `trace`.
 */
import { createHash } from 'crypto';

import type { DataplaneRule, DataplaneTrace, SenderPolicy, TracedPacket } from '../native';

export const PROTOCOL_VERSION = 3;

/** The most descriptors one control message carries (native/control/chunk_protocol.h kMaxMessageFds). */
export const MAX_FDS_PER_MESSAGE = 64;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * Faults a worker injects (mcrd --test-hooks only): exit at once after its hello; refuse every
 * addOutputs message naming one of `refuseOutputsTo`'s addresses.
 */
export interface TestHooks {
  crashOnStart: boolean;
  refuseOutputsTo?: string[];
}

export interface HelloRequest {
  type: 'hello';
  seq: number;
  index: number;
  core: number;
  batch: number;
  logLevel: LogLevel;
  /** Only when mcrd runs with --test-hooks: fault injection for the resilience tests. */
  testHooks?: TestHooks;
  /** fds[0] is the counter region (see native createCounterRegion) when true. */
  counters?: boolean;
}
/** fds[0] is the AF_PACKET socket for this input; its counters take region slots counterSlot and the next. */
export interface AddInputRequest { type: 'addInput'; seq: number; handle: number; interface: string; counterSlot?: number }
/** An egress socket (unconnected, one per interface, TTL and TOS policy) as addSenders describes it. */
export interface SenderDescription extends SenderPolicy {
  handle: number;
  interface: string;
  /** The interface's MTU (0: unknown): payloads above mtu - 28 bytes are fragmented or, dontFragment, not sent. */
  mtu: number;
}
/** fds[i] is the UDP socket of senders[i] (at most MAX_FDS_PER_MESSAGE of them). */
export interface AddSendersRequest { type: 'addSenders'; seq: number; senders: SenderDescription[] }
/** A destination reached through a sender (no fd of its own). */
export interface OutputDescription { handle: number; sender: number; address: string; port: number }
/** All or nothing: an unknown sender, a handle in use or a bad address refuses the whole message. */
export interface AddOutputsRequest { type: 'addOutputs'; seq: number; outputs: OutputDescription[] }
export interface RemoveInputRequest { type: 'removeInput'; seq: number; handle: number }
export interface RemoveOutputsRequest { type: 'removeOutputs'; seq: number; handles: number[] }
/** Senders no output uses any more (the supervisor removes their outputs first). */
export interface RemoveSendersRequest { type: 'removeSenders'; seq: number; handles: number[] }
/**
 * One bounded piece of a change to the worker's rule table: `upserts` replace the rules of the same id
 * or are added, `removes` go. A change of any size travels as several pieces, each applied at once
 * (so the worker's thread is never busy long, and its heartbeats keep being answered). The last piece
 * of a change carries `hash`, the ruleset hash the table must have after it: the worker checks it
 * before applying that piece and refuses it (changing nothing) on a mismatch.
 * `resend`: a full resend (drift repair) travels as upserts of every rule, the first piece with
 * resend 'first', and the last with resend 'last' (or 'only'), which removes every rule that no
 * piece of the resend named.
 */
export interface UpdateRulesRequest {
  type: 'updateRules';
  seq: number;
  upserts: DataplaneRule[];
  removes: string[];
  hash?: string;
  resend?: 'first' | 'middle' | 'last' | 'only';
}
export interface HeartbeatRequest { type: 'heartbeat'; seq: number }
export interface CountersRequest { type: 'counters'; seq: number }
export interface SetLogLevelRequest { type: 'setLogLevel'; seq: number; level: LogLevel }
export interface ShutdownRequest { type: 'shutdown'; seq: number }

export type WorkerRequest =
  | HelloRequest
  | AddInputRequest
  | AddSendersRequest
  | AddOutputsRequest
  | RemoveInputRequest
  | RemoveOutputsRequest
  | RemoveSendersRequest
  | UpdateRulesRequest
  | HeartbeatRequest
  | CountersRequest
  | SetLogLevelRequest
  | ShutdownRequest;

/** Counters with bigint fields turned into decimal strings. */
export type Wire<T> = { [K in keyof T]: T[K] extends bigint ? string : T[K] extends Array<infer U> ? Array<Wire<U>> : T[K] };

export interface OkReply { type: 'reply'; seq: number; ok: true }
export interface ErrorReply { type: 'reply'; seq: number; ok: false; error: string }
/** Answered in O(1): the hash is kept up to date as the table changes. */
export interface HeartbeatReply {
  type: 'reply';
  seq: number;
  ok: true;
  /** Hash of the rule table the data plane really has installed. */
  hash: string;
  rules: number;
  /** Trace records dropped so far because the channel to the supervisor was full. */
  channelDropped: number;
}
export interface CountersReply {
  type: 'reply';
  seq: number;
  ok: true;
  rules: Array<Wire<import('../native').RuleCounters>>;
  inputs: Array<Wire<import('../native').InputCounters>>;
}

/**
 * A piece applied: `retired` is the epoch tag of the table it replaced. Once the data-plane loop has
 * passed that epoch (the counter region's header says so), no table in use names a counter slot
 * that the new table does not.
 */
export interface UpdateRulesReply { type: 'reply'; seq: number; ok: true; retired: number }

export type WorkerReply = OkReply | ErrorReply | HeartbeatReply | CountersReply | UpdateRulesReply;

/** Omit distributed over a union, so each member keeps its own fields. */
export type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request as the supervisor writes it (the channel adds seq). */
export type RequestBody = Without<WorkerRequest, 'seq'>;
/** A reply as the worker writes it (the runtime adds type and seq). */
export type ReplyBody = Without<WorkerReply, 'type' | 'seq'>;

/** Sent once the worker has checked its privileges and loaded the addon. */
export interface ReadyEvent { type: 'ready'; pid: number; uid: number; gid: number; protocol: number }
/** A log line from the worker, written to the supervisor's log tagged with the worker. */
export interface LogEvent { type: 'log'; level: LogLevel; message: string; meta?: Record<string, unknown> }
/** The worker cannot run (e.g. it still holds a privilege); it exits right after. */
export interface FatalEvent { type: 'fatal'; message: string }

/** A traced packet as it crosses the channel: the timestamp as a decimal string, the frame in base64. */
export type WireTracedPacket = Omit<TracedPacket, 'timestampNs' | 'frame'> & { timestampNs: string; frame: string };
/**
 * The traced packets of one data-plane callback, oldest first. `lost` counts the records the data
 * plane dropped since the previous batch because its trace ring was full.
 */
export interface TraceBatchEvent { type: 'trace'; records: WireTracedPacket[]; lost: number }

export type WorkerEvent = ReadyEvent | LogEvent | FatalEvent | TraceBatchEvent;
export type WorkerMessage = WorkerReply | WorkerEvent;

export function encode(message: WorkerRequest | WorkerMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

export function decode<T>(data: Buffer): T {
  return JSON.parse(data.toString('utf8')) as T;
}

export function tracedPacketToWire(packet: TracedPacket): WireTracedPacket {
  return { ...packet, timestampNs: packet.timestampNs.toString(), frame: packet.frame.toString('base64') };
}

export function tracedPacketFromWire(wire: WireTracedPacket): TracedPacket {
  return { ...wire, timestampNs: BigInt(wire.timestampNs), frame: Buffer.from(wire.frame, 'base64') };
}

/** Where and how an output sends (its sender's interface and TTL and TOS policy, its destination); part of the canonical form of a rule. */
export interface EgressDescription extends SenderPolicy {
  interface: string;
  address: string;
  port: number;
}

/**
 * An output as the ruleset hash covers it: an EgressDescription's fields in that order. A tuple, so
 * that each side makes it once per output (canonicalOutput, when the output is added) and keeps it.
 */
export type CanonicalOutput = readonly [
  iface: string,
  address: string,
  port: number,
  ttl: number,
  tos: number,
  keepTos: number,
  decrementTtl: boolean,
  dontFragment: boolean,
];

export function canonicalOutput(o: EgressDescription): CanonicalOutput {
  return [o.interface, o.address, o.port, o.ttl, o.tos, o.keepTos, o.decrementTtl, o.dontFragment];
}

/** A rule as both sides can describe it without handle numbers: what the ruleset hash covers. */
export interface CanonicalRule {
  id: string;
  input: string;
  group: string;
  port: number;
  source: string;
  /** Present when the rule names a VLAN. */
  vlan?: number;
  outputs: readonly CanonicalOutput[];
  /** Present while the rule is traced. */
  trace?: DataplaneTrace;
}

/** The canonical form of one rule, as the ruleset hash covers it. */
function canonicalEntry(r: CanonicalRule): string {
  const entry: unknown[] = [r.id, r.input, r.group, r.port, r.source, r.outputs];
  if (r.trace) entry.push([r.trace.sampleEvery, r.trace.snapLength]);
  if (r.vlan) entry.push({ vlan: r.vlan });
  return JSON.stringify(entry);
}

/** One rule's share of the ruleset hash: the first 64 bits of the SHA-256 of its canonical form. */
export function ruleDigest(rule: CanonicalRule): bigint {
  return createHash('sha256').update(canonicalEntry(rule)).digest().readBigUInt64BE(0);
}

/** A ruleset hash from the sum of its rules' digests. */
export function hashFromSum(sum: bigint): string {
  return BigInt.asUintN(64, sum).toString(16).padStart(16, '0');
}

/**
 * Hash of a rule set's full content (ids, input interfaces, match keys, every output's interface,
 * destination, TTL and TOS, and the trace settings of traced rules), computed identically by
 * supervisor and worker, in any order: the sum modulo 2^64 of every rule's digest, so that either
 * side keeps it current in O(change) (add a rule's digest, subtract the one it replaces). An untraced
 * rule hashes as it did before tracing existed.
 */
export function rulesetHash(rules: CanonicalRule[]): string {
  let sum = 0n;
  for (const rule of rules) sum += ruleDigest(rule);
  return hashFromSum(sum);
}
