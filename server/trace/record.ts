/**
 * Turns what the data plane recorded for a packet (handles and errno numbers) into a TraceRecord
 * (interface names, rule output positions, verdict, per-output results and errno names).
 */
import os from 'os';

import { IpProtocol } from '../../gen/mcr/v1/rules';
import { OutputResult, TraceOutput, TraceRecord, Verdict } from '../../gen/mcr/v1/trace';
import { SEND_TTL_EXPIRED } from '../../native';
import type { TracedPacket, TracedSend } from '../../native';

/** A rule output as the supervisor knows it, found from the output handle a packet was sent on. */
export interface ResolvedOutput {
  /** Position of the output in the rule. */
  index: number;
  interface: string;
  address: string;
  port: number;
}

/** Names the handles of one worker's data plane. */
export interface HandleResolver {
  inputInterface(handle: number): string | undefined;
  output(ruleId: string, handle: number): ResolvedOutput | undefined;
  /** Whether the rule is installed in this worker. */
  owns(ruleId: string): boolean;
}

export const DROP_NOT_ACCEPTED = 'no output accepted it';
export const DROP_NO_OUTPUT = 'no usable output';
export const DROP_TTL_EXPIRED = 'its TTL expired (every output decrements it)';
export const DROP_TOO_BIG = 'too big for the MTU (no output fragments it)';

/**
 * Node's errno constants plus the Linux ones a send can return that Node does not list (mcr runs on
 * Linux only; the values are those of the Linux UAPI asm-generic/errno.h).
 */
/** IP protocol 50, as the data plane reports an ESP packet's. */
const IPPROTO_ESP = 50;

const E: Readonly<Record<string, number>> = { ...os.constants.errno, ENONET: 64, ESHUTDOWN: 108, EHOSTDOWN: 112 };
/** The same classes as the output counters (native/index.ts OutputCounters). */
const WOULD_BLOCK = new Set([E.EAGAIN, E.ENOBUFS]);
const UNREACHABLE = new Set([E.ECONNREFUSED, E.EHOSTUNREACH, E.ENETUNREACH, E.EHOSTDOWN, E.ENETDOWN]);

/** errno number -> name; where two names share a number (EAGAIN, EWOULDBLOCK) the first listed wins. */
const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(E)) if (!ERRNO_NAMES.has(value)) ERRNO_NAMES.set(value, name);

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

export function outputResult(errno: number): OutputResult {
  if (errno === 0) return OutputResult.OUTPUT_RESULT_SENT;
  if (errno === SEND_TTL_EXPIRED) return OutputResult.OUTPUT_RESULT_TTL_EXPIRED;
  if (errno === E.EMSGSIZE) return OutputResult.OUTPUT_RESULT_TOO_BIG;
  if (WOULD_BLOCK.has(errno)) return OutputResult.OUTPUT_RESULT_WOULD_BLOCK;
  if (UNREACHABLE.has(errno)) return OutputResult.OUTPUT_RESULT_UNREACHABLE;
  return OutputResult.OUTPUT_RESULT_ERROR;
}

function traceOutput(ruleId: string, send: TracedSend, position: number, handles: HandleResolver): TraceOutput {
  // A handle the supervisor no longer knows (its socket was replaced while the record was on its
  // way) keeps its position and goes unnamed rather than being misattributed.
  const output = handles.output(ruleId, send.handle) ?? { index: position, interface: '', address: '', port: 0 };
  return {
    ...output,
    result: outputResult(send.errno),
    error: send.errno === 0 || send.errno === SEND_TTL_EXPIRED ? '' : errnoName(send.errno),
    ttl: send.ttl,
    dscp: send.tos >> 2,
    ecn: send.tos & 3,
    fragmented: send.fragmented,
    segments: send.segments,
  };
}

/** Why no output sent a packet. */
function dropReason(sends: readonly TracedSend[]): string {
  if (sends.length === 0) return DROP_NO_OUTPUT;
  if (sends.every((send) => send.errno === SEND_TTL_EXPIRED)) return DROP_TTL_EXPIRED;
  return sends.every((send) => send.errno === E.EMSGSIZE) ? DROP_TOO_BIG : DROP_NOT_ACCEPTED;
}

export function toTraceRecord(packet: TracedPacket, worker: number, handles: HandleResolver): TraceRecord {
  const forwarded = packet.sends.some((send) => send.errno === 0);
  return {
    timestampUnixNanos: packet.timestampNs,
    ruleId: packet.ruleId,
    worker,
    inputInterface: handles.inputInterface(packet.input) ?? '',
    sourceAddress: packet.source,
    sourcePort: packet.sourcePort,
    destinationAddress: packet.destination,
    destinationPort: packet.destinationPort,
    ipLength: packet.ipLength,
    ttl: packet.ttl,
    dscp: packet.tos >> 2,
    ecn: packet.tos & 3,
    vlan: packet.vlan,
    protocol: packet.protocol === IPPROTO_ESP ? IpProtocol.IP_PROTOCOL_ESP : IpProtocol.IP_PROTOCOL_UDP,
    verdict: forwarded ? Verdict.VERDICT_FORWARDED : Verdict.VERDICT_DROPPED,
    dropReason: forwarded ? '' : dropReason(packet.sends),
    outputs: packet.sends.map((send, position) => traceOutput(packet.ruleId, send, position, handles)),
    timeInMcrNanos: BigInt(packet.timeInMcrNs),
    frameLength: packet.frameLength,
    frame: packet.frame,
  };
}

/**
 * An upper bound of the record's protobuf size inside a repeated field: fixed fields at their
 * widest varints, plus its strings and frame. Cheap enough to run on every record.
 */
export function encodedSizeBound(record: TraceRecord): number {
  let size = 102 + record.ruleId.length + record.inputInterface.length + record.sourceAddress.length;
  size += record.destinationAddress.length + record.dropReason.length + record.frame.length;
  for (const output of record.outputs) size += 42 + output.interface.length + output.address.length + output.error.length;
  return size;
}
