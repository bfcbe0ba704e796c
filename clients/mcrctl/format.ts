/** Small text forms of API values shared by the views. */
import { Input, Output } from '../../gen/mcr/v1/rules';

/** "eth1 239.9.9.9:6000": the command-line form of --in and --out. */
export function formatEndpoint(iface: string, address: string, port: number): string {
  return `${iface} ${address}:${port}`;
}

/** "eth0 239.0.0.1:5000 from 10.10.1.100" */
export function formatInput(input: Input | undefined): string {
  if (input === undefined) return '-';
  const endpoint = formatEndpoint(input.interface, input.group, input.port);
  return input.source ? `${endpoint} from ${input.source}` : endpoint;
}

/** "eth1 239.9.9.9:6000 ttl 4 dscp 46"; unset ttl/dscp (the defaults) are not shown. */
export function formatOutput(output: Output): string {
  const parts = [formatEndpoint(output.interface, output.address, output.port)];
  if (output.ttl !== undefined) parts.push(`ttl ${output.ttl}`);
  if (output.dscp !== undefined) parts.push(`dscp ${output.dscp}`);
  return parts.join(' ');
}

/** Unix nanoseconds as an ISO-8601 UTC time; 0 means it never happened. */
export function formatTime(unixNanos: bigint, never = 'never'): string {
  if (unixNanos === 0n) return never;
  return new Date(Number(unixNanos / 1_000_000n)).toISOString();
}
