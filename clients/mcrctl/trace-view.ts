/**
 * Text views of packet traces: one line per record (`mcrctl trace RULE`), the comment a record gets
 * in a pcapng capture, the `trace list` table, the `trace show` status block, and the notes mcrctl
 * writes on stderr while it follows a trace (started, records lost, ended and why).
 */
import { OutputResult, TraceOutput, TraceRecord, TraceState, TraceStatus, Verdict } from '../../gen/mcr/v1/trace';
import { IpProtocol } from '../../gen/mcr/v1/rules';
import { PROTOCOL_ESP } from '../../server/formats/protocol-word';
import { formatAddress, formatEndpoint, formatNanos, formatTime, formatTimeOfDay } from './format';
import { renderFields, renderTable } from './table';

const STATE_WORDS: Record<TraceState, string> = {
  [TraceState.TRACE_STATE_UNSPECIFIED]: 'unknown',
  [TraceState.TRACE_STATE_RUNNING]: 'running',
  [TraceState.TRACE_STATE_STOPPED]: 'stopped',
  [TraceState.TRACE_STATE_RECORD_LIMIT]: 'record-limit',
  [TraceState.TRACE_STATE_TIME_LIMIT]: 'time-limit',
  [TraceState.TRACE_STATE_RULE_GONE]: 'rule-gone',
  [TraceState.UNRECOGNIZED]: 'unknown',
};

const RESULT_WORDS: Record<OutputResult, string> = {
  [OutputResult.OUTPUT_RESULT_UNSPECIFIED]: 'unknown',
  [OutputResult.OUTPUT_RESULT_SENT]: 'sent',
  [OutputResult.OUTPUT_RESULT_WOULD_BLOCK]: 'would-block',
  [OutputResult.OUTPUT_RESULT_UNREACHABLE]: 'unreachable',
  [OutputResult.OUTPUT_RESULT_ERROR]: 'error',
  [OutputResult.OUTPUT_RESULT_TTL_EXPIRED]: 'ttl-expired',
  [OutputResult.OUTPUT_RESULT_TOO_BIG]: 'too-big',
  [OutputResult.UNRECOGNIZED]: 'unknown',
};

/** "running", "record-limit", ...: the words of `trace list`'s STATE column. */
export function traceStateWord(state: TraceState): string {
  return STATE_WORDS[state] ?? `state ${state}`;
}

/** What a packet arrived with, to which what each output sent it with is compared. */
export type Received = Pick<TraceRecord, 'ttl' | 'dscp' | 'ecn'>;

/**
 * "out1 wg0 10.0.0.9:7000 unreachable ECONNREFUSED", "out0 eth1 239.9.9.9:6000 sent ttl 63",
 * "out0 eth1 239.9.9.9:6000 too-big EMSGSIZE", "out0 eth1 10.0.0.9 sent" (an ESP rule's, port 0):
 * for an output that sent the packet, the TTL, DSCP and ECN it sent that differ from those
 * `received`, then how it went out (see sendShape).
 */
export function outputResultText(output: TraceOutput, received?: Received): string {
  const destination = output.interface ? formatEndpoint(output.interface, output.address, output.port) : formatAddress(output.address, output.port);
  const result = RESULT_WORDS[output.result] ?? `result ${output.result}`;
  const sent = output.result === OutputResult.OUTPUT_RESULT_SENT;
  const marking = received && sent ? changedMarking(output, received) : '';
  return `out${output.index} ${destination} ${output.error ? `${result} ${output.error}` : result}${marking}${sent ? sendShape(output) : ''}`;
}

/**
 * " fragmented", " in a GSO send of 12": how the packet left, when not as one IP packet sent on its
 * own; "" otherwise, and from an mcrd that does not say (segments 0).
 */
function sendShape(output: TraceOutput): string {
  let text = output.fragmented ? ' fragmented' : '';
  if (output.segments > 1) text += ` in a GSO send of ${output.segments}`;
  return text;
}

/**
 * " ttl 63 dscp 46": what the packet was sent with that it did not arrive with; "" when it left as it
 * came, or when mcrd did not say (TTL 0, never sent: an mcrd from before TraceOutput had them).
 */
function changedMarking(output: TraceOutput, received: Received): string {
  if (output.ttl === 0) return '';
  let text = '';
  if (output.ttl !== received.ttl) text += ` ttl ${output.ttl}`;
  if (output.dscp !== received.dscp) text += ` dscp ${output.dscp}`;
  if (output.ecn !== received.ecn) text += ` ecn ${output.ecn}`;
  return text;
}

/**
 * What mcr did with the packet: "forwarded: out0 eth1 239.9.9.9:6000 sent; out1 ..." or
 * "dropped (no usable output)".
 */
export function verdictText(record: TraceRecord): string {
  let verdict: string;
  if (record.verdict === Verdict.VERDICT_FORWARDED) verdict = 'forwarded';
  else if (record.verdict === Verdict.VERDICT_DROPPED) verdict = record.dropReason ? `dropped (${record.dropReason})` : 'dropped';
  else verdict = 'verdict unknown';
  return record.outputs.length === 0 ? verdict : `${verdict}: ${record.outputs.map((output) => outputResultText(output, record)).join('; ')}`;
}

/** Whether the record is of an ESP packet, which has no ports (they are 0 in the record). */
function isEsp(record: TraceRecord): boolean {
  return record.protocol === IpProtocol.IP_PROTOCOL_ESP;
}

/** "10.1.0.2:40000 -> 239.1.2.3:5000", or for an ESP packet "10.1.0.2 -> 239.1.1.1 esp". */
function addresses(record: TraceRecord): string {
  if (isEsp(record)) return `${record.sourceAddress} -> ${record.destinationAddress} ${PROTOCOL_ESP}`;
  return `${record.sourceAddress}:${record.sourcePort} -> ${record.destinationAddress}:${record.destinationPort}`;
}

/**
 * One line per packet: local time of day to the microsecond, the VLAN (when the frame had one and
 * mcr read it: only inputs with a VLAN rule read tags), source -> destination ("esp" in place of the
 * ports for an ESP packet), TTL, DSCP (and ECN when it is not 0), IPv4 length, verdict and per-output
 * results, time spent in mcr:
 * "15:04:05.678901  10.1.0.2:40000 -> 239.1.2.3:5000  ttl 64  dscp 0  len 44  forwarded: out0 eth1 239.9.9.9:6000 sent ttl 1  12.3 us in mcr"
 * "15:04:05.678901  vlan 100  10.1.0.2:40000 -> 239.1.2.3:5000  ttl 64  ..."
 * "15:04:05.678901  10.1.0.2 -> 239.1.1.1 esp  ttl 64  dscp 0  len 120  forwarded: out0 eth1 10.0.0.9 sent ttl 63  ..."
 */
export function traceLine(record: TraceRecord): string {
  return [
    formatTimeOfDay(record.timestampUnixNanos),
    ...(record.vlan === 0 ? [] : [`vlan ${record.vlan}`]),
    addresses(record),
    `ttl ${record.ttl}`,
    record.ecn === 0 ? `dscp ${record.dscp}` : `dscp ${record.dscp}  ecn ${record.ecn}`,
    `len ${record.ipLength}`,
    verdictText(record),
    `${formatNanos(record.timeInMcrNanos)} in mcr`,
  ].join('  ');
}

/**
 * The pcapng packet comment: "rule r-abc forwarded: out0 eth1 239.9.9.9:6000 sent; 12.3 us in mcr",
 * with "; vlan 100" for a frame of a VLAN (the kernel took the tag out of the frame it captured), and
 * "; esp" for an ESP packet (its outputs, without ports, are shown as addresses alone).
 */
export function traceComment(record: TraceRecord): string {
  const vlan = record.vlan ? `; vlan ${record.vlan}` : '';
  const esp = isEsp(record) ? `; ${PROTOCOL_ESP}` : '';
  return `rule ${record.ruleId} ${verdictText(record)}; ${formatNanos(record.timeInMcrNanos)} in mcr${vlan}${esp}`;
}

/** "every packet" or "1 in 10 packets". */
function sampling(status: TraceStatus): string {
  return status.sampleEvery <= 1 ? 'every packet' : `1 in ${status.sampleEvery} packets`;
}

/** A time limit given in milliseconds: "60 s", "1500 ms". */
function formatLimitMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** "1000 records or 60 s" */
function limits(status: TraceStatus): string {
  return `${status.recordLimit} records or ${formatLimitMs(status.timeLimitMs)}`;
}

/** One row per trace mcrd knows. */
export function tracesTable(traces: readonly TraceStatus[]): string {
  const right = 'right' as const;
  return renderTable(
    [
      { header: 'RULE' },
      { header: 'STATE' },
      { header: 'SAMPLE', align: right },
      { header: 'SNAP', align: right },
      { header: 'RECORDS', align: right },
      { header: 'LOST', align: right },
      { header: 'LIMITS' },
      { header: 'STARTED' },
      { header: 'STOPPED' },
    ],
    traces.map((status) => [
      status.ruleId,
      traceStateWord(status.state),
      status.sampleEvery <= 1 ? 'all' : `1/${status.sampleEvery}`,
      String(status.snapLength),
      status.records.toString(),
      status.recordsLost.toString(),
      limits(status),
      formatTime(status.startedUnixNanos, '-'),
      formatTime(status.stoppedUnixNanos, '-'),
    ]),
  );
}

/** Everything about one trace, one field per line (`trace show`). */
export function traceDetail(status: TraceStatus): string {
  return renderFields([
    ['Rule', status.ruleId],
    ['State', traceStateWord(status.state)],
    ['Sampling', sampling(status)],
    ['Snap length', `${status.snapLength} bytes`],
    ['Limits', limits(status)],
    ['Records', status.records.toString()],
    ['Lost in mcrd', status.recordsLost.toString()],
    ['Started', formatTime(status.startedUnixNanos, '-')],
    ['Stopped', formatTime(status.stoppedUnixNanos, '-')],
  ]);
}

/** "Tracing rule r-abc (cam1): every packet, first 128 bytes of each, until 1000 records or 60 s. Ctrl-C stops it." */
export function traceStartedNote(label: string, status: TraceStatus): string {
  return `Tracing rule ${label}: ${sampling(status)}, first ${status.snapLength} bytes of each, until ${limits(status)}. Ctrl-C stops it.`;
}

/** Why a trace is no longer running. */
function endReason(status: TraceStatus): string {
  switch (status.state) {
    case TraceState.TRACE_STATE_STOPPED:
      return 'was stopped';
    case TraceState.TRACE_STATE_RECORD_LIMIT:
      return `reached its record limit (${status.recordLimit})`;
    case TraceState.TRACE_STATE_TIME_LIMIT:
      return `reached its time limit (${formatLimitMs(status.timeLimitMs)})`;
    case TraceState.TRACE_STATE_RULE_GONE:
      return 'ended: the rule was deleted or its match changed';
    default:
      return `ended (${traceStateWord(status.state)})`;
  }
}

/**
 * "Trace of rule r-abc reached its record limit (1000): 1000 records, 3 lost in mcrd (a worker's
 * trace ring or queue was full)."
 */
export function traceEndedNote(label: string, status: TraceStatus): string {
  const lost = status.recordsLost > 0n ? `, ${status.recordsLost} lost in mcrd (a worker's trace ring or queue was full)` : '';
  return `Trace of rule ${label} ${endReason(status)}: ${status.records} records${lost}.`;
}

/** Says how many records mcrd dropped for this client since the previous note, and in all. */
export function recordsLostNote(lost: bigint, total: bigint): string {
  const records = lost === 1n ? '1 record' : `${lost} records`;
  return `note: ${records} dropped because this client read too slowly (${total} in all)`;
}

/** Records mcrd delivered that this client neither received nor was told it lost. */
export function recordsMissedNote(missed: bigint, rule: string): string {
  return `note: mcrd recorded ${missed} more record(s) than this client received; \`mcrctl trace show ${rule}\` shows those mcrd kept`;
}
