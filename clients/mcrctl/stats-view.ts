/**
 * Text views of `mcrctl stats`: counters per rule then per output (totals, with the rates over
 * mcrd's latest sampling window next to them), and with --inputs the counters per worker input.
 */
import { GetStatsResponse, GetWorkerStatsResponse, InputStats, RuleDrops, RuleStats } from '../../gen/mcr/v1/stats';
import { formatBitRate, formatEndpoint, formatPacketRate, formatReasons, formatTime } from './format';
import { renderTable } from './table';

const right = 'right' as const;

/** Why packets of a rule did not reach every output, by reason (see RuleDrops). */
function dropReasons(drops: RuleDrops | undefined): Array<[string, bigint]> {
  return [
    ['send-failed', drops?.sendFailed ?? 0n],
    ['no-buffer', drops?.noBuffer ?? 0n],
    ['unreachable', drops?.unreachable ?? 0n],
    ['send-error', drops?.sendError ?? 0n],
    ['ttl-expired', drops?.ttlExpired ?? 0n],
    ['too-big', drops?.tooBig ?? 0n],
  ];
}

function rulesTable(rules: readonly RuleStats[]): string {
  return renderTable(
    [
      { header: 'RULE' },
      { header: 'NAME' },
      { header: 'WORKER', align: right },
      { header: 'RECEIVED', align: right },
      { header: 'BYTES', align: right },
      { header: 'PKT RATE', align: right },
      { header: 'BIT RATE', align: right },
      { header: 'FORWARDED', align: right },
      { header: 'DROPS' },
      { header: 'LAST PACKET' },
    ],
    rules.map((rule) => [
      rule.ruleId,
      rule.name || '-',
      String(rule.worker),
      rule.packetsReceived.toString(),
      rule.bytesReceived.toString(),
      formatPacketRate(rule.packetsPerSecond),
      formatBitRate(rule.bitsPerSecond),
      rule.packetsForwarded.toString(),
      formatReasons(dropReasons(rule.drops)),
      formatTime(rule.lastPacketUnixNanos),
    ]),
  );
}

function outputsTable(rules: readonly RuleStats[]): string {
  return renderTable(
    [
      { header: 'RULE' },
      { header: 'OUT', align: right },
      { header: 'DESTINATION' },
      { header: 'SENT', align: right },
      { header: 'BYTES', align: right },
      { header: 'PKT RATE', align: right },
      { header: 'BIT RATE', align: right },
      { header: 'WOULD-BLOCK', align: right },
      { header: 'UNREACHABLE', align: right },
      { header: 'OTHER-ERRORS', align: right },
      { header: 'TTL-EXPIRED', align: right },
      { header: 'FRAGMENTED', align: right },
      { header: 'TOO-BIG', align: right },
    ],
    rules.flatMap((rule) =>
      rule.outputs.map((output) => [
        rule.ruleId,
        String(output.index),
        formatEndpoint(output.interface, output.address, output.port),
        output.packets.toString(),
        output.bytes.toString(),
        formatPacketRate(output.packetsPerSecond),
        formatBitRate(output.bitsPerSecond),
        output.errorsWouldBlock.toString(),
        output.errorsUnreachable.toString(),
        output.errorsOther.toString(),
        output.ttlExpired.toString(),
        output.fragmented.toString(),
        output.tooBig.toString(),
      ]),
    ),
  );
}

/** The rules table, a blank line, the outputs table. */
export function statsView(response: Pick<GetStatsResponse, 'rules'>): string {
  return `${rulesTable(response.rules)}\n${outputsTable(response.rules)}`;
}

/** Frames that could not be parsed, by reason (see ParseErrors). */
function parseErrorReasons(input: InputStats): Array<[string, bigint]> {
  const e = input.parseErrors;
  return [
    ['truncated', e?.truncated ?? 0n],
    ['not-ipv4', e?.notIpv4 ?? 0n],
    ['bad-header', e?.badHeader ?? 0n],
    ['bad-length', e?.badLength ?? 0n],
    ['fragment', e?.fragment ?? 0n],
    ['not-udp', e?.notUdp ?? 0n],
  ];
}

/** `stats --inputs`: one row per worker and capture interface. */
export function inputsView(response: Pick<GetWorkerStatsResponse, 'inputs'>): string {
  return renderTable(
    [
      { header: 'WORKER', align: right },
      { header: 'INTERFACE' },
      { header: 'FRAMES', align: right },
      { header: 'BYTES', align: right },
      { header: 'UNMATCHED', align: right },
      { header: 'PARSE ERRORS' },
      { header: 'KERNEL DROPS', align: right },
      { header: 'MERGED FRAMES', align: right },
      { header: 'MERGED DATAGRAMS', align: right },
    ],
    response.inputs.map((input) => [
      String(input.worker),
      input.interface,
      input.frames.toString(),
      input.bytes.toString(),
      input.unmatched.toString(),
      formatReasons(parseErrorReasons(input)),
      input.kernelDrops.toString(),
      input.mergedFrames.toString(),
      input.mergedDatagrams.toString(),
    ]),
  );
}

export interface WatchUpdate {
  intervalMs: number;
  collectedUnixNanos: bigint;
  /** Updates mcrd could not send because this client read too slowly (cumulative). */
  droppedUpdates?: bigint;
}

/** The line above each `--watch` update: "Every 1000 ms, collected 2024-...Z[, dropped updates: 3]". */
export function watchHeading(update: WatchUpdate): string {
  const dropped = update.droppedUpdates ?? 0n;
  const base = `Every ${update.intervalMs} ms, collected ${formatTime(update.collectedUnixNanos, '-')}`;
  return dropped > 0n ? `${base}, dropped updates: ${dropped} (this client read too slowly)` : base;
}
