/** Small text forms of API values shared by the views. */
import { Input, OversizePolicy, Output, TtlPolicy } from '../../gen/mcr/v1/rules';
import { inputDestination } from '../../server/formats/input-protocol';
import { OVERSIZE_DROP } from '../../server/formats/oversize-word';

/**
 * "239.9.9.9:6000", or "10.0.0.9" for port 0: no port, as an ESP rule's outputs have (a UDP port is
 * never 0), and as the counters and traces of its outputs carry them.
 */
export function formatAddress(address: string, port: number): string {
  return port === 0 ? address : `${address}:${port}`;
}

/** "eth1 239.9.9.9:6000" ("eth1 10.0.0.9" for an ESP rule's output): the command-line form of --in and --out. */
export function formatEndpoint(iface: string, address: string, port: number): string {
  return `${iface} ${formatAddress(address, port)}`;
}

/**
 * "eth0 239.0.0.1:5000", "eth0 239.0.0.1:5000 from 10.10.1.100", "eth0 vlan 100 239.0.0.1:5000",
 * "eth0 239.1.1.1 esp" (an ESP rule's: a group, no port): the VLAN beside the interface, since it
 * narrows where the rule captures, as a VLAN sub-interface (eth0.100) would.
 */
export function formatInput(input: Input | undefined): string {
  if (input === undefined) return '-';
  const where = input.vlan === undefined ? input.interface : `${input.interface} vlan ${input.vlan}`;
  const endpoint = `${where} ${inputDestination(input)}`;
  return input.source ? `${endpoint} from ${input.source}` : endpoint;
}

/**
 * "eth1 239.9.9.9:6000 ttl 4 dscp 46", "wg0 10.20.0.7:6000 from 10.20.0.1 ttl decrement tos fixed
 * oversize drop", "eth1 10.0.0.9 ttl 8" (an ESP rule's output, which has no port): what is not the
 * default is shown (the words of --from, --ttl, --no-preserve-tos and --oversize), the source
 * address beside the destination as an input's is; no source, unset ttl and dscp, a fixed TTL
 * policy, preserve_tos unset or true and oversize fragment are not.
 */
export function formatOutput(output: Output): string {
  const parts = [formatEndpoint(output.interface, output.address, output.port)];
  if (output.source) parts.push(`from ${output.source}`);
  if (output.ttlPolicy === TtlPolicy.TTL_POLICY_DECREMENT) parts.push('ttl decrement');
  if (output.ttl !== undefined) parts.push(`ttl ${output.ttl}`);
  if (output.dscp !== undefined) parts.push(`dscp ${output.dscp}`);
  if (output.preserveTos === false) parts.push('tos fixed');
  if (output.oversize === OversizePolicy.OVERSIZE_POLICY_DROP) parts.push(`oversize ${OVERSIZE_DROP}`);
  return parts.join(' ');
}

/** Unix nanoseconds as an ISO-8601 UTC time; 0 means it never happened. */
export function formatTime(unixNanos: bigint, never = 'never'): string {
  if (unixNanos === 0n) return never;
  return new Date(Number(unixNanos / 1_000_000n)).toISOString();
}

/**
 * Unix nanoseconds as the local time to the millisecond, "2025-01-02 15:04:05.678": for lines a
 * person reads as they happen (`mcrctl events`), where UTC would need converting in one's head.
 */
export function formatLocalTime(unixNanos: bigint): string {
  const t = new Date(Number(unixNanos / 1_000_000n));
  const two = (n: number) => String(n).padStart(2, '0');
  const date = `${t.getFullYear()}-${two(t.getMonth() + 1)}-${two(t.getDate())}`;
  return `${date} ${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}.${String(t.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * Unix nanoseconds as the local time of day to the microsecond, "15:04:05.678901": for one line per
 * packet (`mcrctl trace`), as tcpdump prints it.
 */
export function formatTimeOfDay(unixNanos: bigint): string {
  const t = new Date(Number(unixNanos / 1_000_000n));
  const two = (n: number) => String(n).padStart(2, '0');
  const micros = String((unixNanos % 1_000_000_000n) / 1000n).padStart(6, '0');
  return `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}.${micros}`;
}

/** Decimal (SI) prefixes for rates, in steps of 1000. */
const PREFIXES = ['', 'k', 'M', 'G'] as const;

/** Three significant digits: "7.50", "12.3", "950". */
function threeDigits(value: number): string {
  return value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0);
}

/** Units of a duration in nanoseconds, smallest first. */
const DURATION_UNITS: ReadonlyArray<readonly [number, string]> = [
  [1, 'ns'],
  [1e3, 'us'],
  [1e6, 'ms'],
  [1e9, 's'],
];

/**
 * A short duration given in nanoseconds, in the largest unit it reaches, with three significant
 * digits: 850 -> "850 ns", 12_345 -> "12.3 us", 1_500_000 -> "1.50 ms", 2_000_000_000 -> "2.00 s".
 */
export function formatNanos(nanos: bigint): string {
  const value = Number(nanos);
  let step = DURATION_UNITS.length - 1;
  while (step > 0 && value < DURATION_UNITS[step][0]) step--;
  if (step === 0) return `${nanos} ns`;
  let text = threeDigits(value / DURATION_UNITS[step][0]);
  // Rounding can reach the next unit (999_999 ns -> "1000 us"): say "1.00 ms" instead.
  if (Number(text) >= 1000 && step < DURATION_UNITS.length - 1) text = threeDigits(value / DURATION_UNITS[++step][0]);
  return `${text} ${DURATION_UNITS[step][1]}`;
}

/**
 * A rate with an SI prefix and three significant digits: 0 -> "0 pps", 950 -> "950 pps",
 * 1234 -> "1.23 kpps", 999_960 -> "1.00 Mpps". `unit` follows the prefix ("pps" -> "kpps").
 */
export function formatRate(perSecond: number, unit: string): string {
  if (!Number.isFinite(perSecond) || perSecond < 0) return '-';
  if (perSecond === 0) return `0 ${unit}`;
  let step = Math.min(PREFIXES.length - 1, Math.max(0, Math.floor(Math.log10(perSecond) / 3)));
  let text = threeDigits(perSecond / 1000 ** step);
  // Rounding can reach the next prefix (999.6 -> "1000"): say "1.00 k" instead.
  if (Number(text) >= 1000 && step < PREFIXES.length - 1) text = threeDigits(perSecond / 1000 ** ++step);
  return `${text} ${PREFIXES[step]}${unit}`;
}

/** Packets per second: "0 pps", "950 pps", "12.3 kpps", "1.48 Mpps". */
export function formatPacketRate(packetsPerSecond: number): string {
  return formatRate(packetsPerSecond, 'pps');
}

/** Bits per second: "0 bit/s", "800 bit/s", "12.3 kbit/s", "9.41 Gbit/s". */
export function formatBitRate(bitsPerSecond: number): string {
  return formatRate(bitsPerSecond, 'bit/s');
}

/**
 * Counters by reason for one table cell: "0" when every one is zero, otherwise the non-zero ones as
 * "reason count", one per line ("no-buffer 40\nunreachable 3").
 */
export function formatReasons(counts: ReadonlyArray<readonly [string, bigint]>): string {
  const nonZero = counts.filter(([, count]) => count !== 0n);
  return nonZero.length === 0 ? '0' : nonZero.map(([reason, count]) => `${reason} ${count}`).join('\n');
}
