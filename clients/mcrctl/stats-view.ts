/** Text view of `mcrctl stats`: counters per rule, then per output. */
import { GetStatsResponse } from '../../gen/mcr/v1/stats';
import { formatEndpoint, formatTime } from './format';
import { renderTable } from './table';

const right = 'right' as const;

export function statsView(response: GetStatsResponse): string {
  const rules = renderTable(
    [
      { header: 'RULE' },
      { header: 'NAME' },
      { header: 'WORKER', align: right },
      { header: 'RECEIVED', align: right },
      { header: 'BYTES', align: right },
      { header: 'FORWARDED', align: right },
      { header: 'DROPS', align: right },
      { header: 'LAST PACKET' },
    ],
    response.rules.map((rule) => [
      rule.ruleId,
      rule.name || '-',
      String(rule.worker),
      rule.packetsReceived.toString(),
      rule.bytesReceived.toString(),
      rule.packetsForwarded.toString(),
      (rule.drops?.sendFailed ?? 0n).toString(),
      formatTime(rule.lastPacketUnixNanos),
    ]),
  );
  const outputs = renderTable(
    [
      { header: 'RULE' },
      { header: 'OUT', align: right },
      { header: 'DESTINATION' },
      { header: 'SENT', align: right },
      { header: 'BYTES', align: right },
      { header: 'WOULD-BLOCK', align: right },
      { header: 'UNREACHABLE', align: right },
      { header: 'OTHER-ERRORS', align: right },
    ],
    response.rules.flatMap((rule) =>
      rule.outputs.map((output) => [
        rule.ruleId,
        String(output.index),
        formatEndpoint(output.interface, output.address, output.port),
        output.packets.toString(),
        output.bytes.toString(),
        output.errorsWouldBlock.toString(),
        output.errorsUnreachable.toString(),
        output.errorsOther.toString(),
      ]),
    ),
  );
  return `${rules}\n${outputs}`;
}
