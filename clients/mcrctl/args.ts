/**
 * Parsers for mcrctl's option values. Each names the flag it parses in its error, so that a mistake
 * on the command line is reported as, e.g., "--out wg0 10.0.0.7: expected ADDR:PORT". The addresses
 * of an ESP rule (--protocol esp) have no port: its --in and --out take GROUP and ADDR alone.
 */
import { InvalidArgumentError } from 'commander';
import net from 'net';

import { isUnicast, parseIPv4 } from '../../server/formats/addresses';
import { TTL_DECREMENT } from '../../server/formats/ttl-word';

/** A command line mcrctl cannot act on; exits 2 with a usage message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface AddrPort {
  address: string;
  port: number;
}

/** An interface and an ADDR:PORT, as given to --in and --out; port 0 for an ESP rule's, which have none. */
export interface Endpoint extends AddrPort {
  interface: string;
}

/** "239.0.0.1:5000" -> { address, port }; the address must be a dotted-quad IPv4 address. */
export function parseAddrPort(flag: string, value: string): AddrPort {
  const match = /^([^:]*):([^:]*)$/.exec(value);
  if (!match) {
    // An address alone is what an ESP rule takes.
    const hint = net.isIPv4(value) ? ' (or --protocol esp)' : '';
    throw new UsageError(`${flag}: expected ADDR:PORT (IPv4 address and UDP port), got "${value}"${hint}`);
  }
  const [, address, portText] = match;
  if (!net.isIPv4(address)) throw new UsageError(`${flag}: "${address}" in "${value}" is not an IPv4 address`);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new UsageError(`${flag}: port "${portText}" in "${value}" must be 1-65535`);
  }
  return { address, port };
}

/**
 * An ESP rule's address (--in's group, --out's address): a dotted-quad IPv4 address without a port,
 * as { address, port: 0 }. `flag` names the option alone ("--in: an ESP rule's group has no port:
 * 239.1.1.1:5000"), `place` the option and its values.
 */
export function parseEspAddress(flag: string, place: string, value: string): AddrPort {
  const match = /^([^:]*):([^:]*)$/.exec(value);
  if (match && net.isIPv4(match[1])) {
    throw new UsageError(`${flag}: an ESP rule's ${flag === '--in' ? 'group' : 'address'} has no port: ${value}`);
  }
  if (!net.isIPv4(value)) throw new UsageError(`${place}: "${value}" is not an IPv4 address (an ESP rule's addresses have no port)`);
  return { address: value, port: 0 };
}

/** An interface name as given on the command line; ifname syntax itself is left to mcrd. */
function parseInterfaceName(flag: string, value: string, address: string, esp: boolean): string {
  if (value === '') throw new UsageError(`${flag}: the interface name is empty`);
  if (/^[\d.]+:\d*$/.test(value) || (esp && net.isIPv4(value))) {
    throw new UsageError(`${flag} ${value} ${address}: expected INTERFACE ${esp ? 'ADDR' : 'ADDR:PORT'} (the interface comes first)`);
  }
  return value;
}

/**
 * The values collected from every occurrence of a two-value option (--in IF ADDR:PORT, --out ...),
 * taken in pairs. commander has no two-value options, so these are variadic options whose values
 * arrive as one flat list; a missing or extra value shows up as an odd count or as a pair whose
 * second half is not ADDR:PORT. With `esp` (--protocol esp) the second of each pair is an address
 * alone, and its port 0.
 */
export function parseEndpoints(flag: string, values: readonly string[], esp = false): Endpoint[] {
  const form = esp ? 'INTERFACE ADDR' : 'INTERFACE ADDR:PORT';
  if (values.length % 2 !== 0) {
    throw new UsageError(`${flag} takes two values, ${form}, each time it is given; got ${values.length} value(s): ${values.join(' ')}`);
  }
  const endpoints: Endpoint[] = [];
  for (let i = 0; i < values.length; i += 2) {
    const [name, address] = [values[i], values[i + 1]];
    const iface = parseInterfaceName(flag, name, address, esp);
    const place = `${flag} ${name} ${address}`;
    endpoints.push({ interface: iface, ...(esp ? parseEspAddress(flag, place, address) : parseAddrPort(place, address)) });
  }
  return endpoints;
}

/** The single endpoint of --in (given once, with exactly two values); with `esp`, GROUP has no port. */
export function parseInputEndpoint(values: readonly string[], esp = false): Endpoint {
  if (values.length !== 2) {
    throw new UsageError(`--in takes exactly two values, INTERFACE ${esp ? 'GROUP' : 'GROUP:PORT'}, and is given once; got: ${values.join(' ')}`);
  }
  return parseEndpoints('--in', values, esp)[0];
}

/**
 * --source (the input's) and --from (the outputs'): a unicast IPv4 address, read as mcrd reads it
 * (a strict dotted quad; not multicast, 0.0.0.0 or 255.255.255.255), or "" to clear it on update.
 */
export function parseSource(flag: '--source' | '--from', value: string): string {
  if (value === '') return value;
  const address = parseIPv4(value);
  if (address === undefined) throw new UsageError(`${flag}: "${value}" is not an IPv4 address in dotted-quad form (e.g. 10.20.0.1)`);
  if (!isUnicast(address)) throw new UsageError(`${flag}: ${value} is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)`);
  return value;
}

/** A commander argParser for an integer option in [min, max] (commander adds the flag to the message). */
export function integerArg(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}.`);
    return n;
  };
}

/** A commander argParser for --ttl: a TTL 1-255, or "decrement". */
export function ttlArg(value: string): number | typeof TTL_DECREMENT {
  if (value === TTL_DECREMENT) return TTL_DECREMENT;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 255) throw new InvalidArgumentError(`must be an integer from 1 to 255, or ${TTL_DECREMENT}.`);
  return n;
}

/** A commander argParser for a uint64 option (a rule generation). */
export function uint64Arg(value: string): bigint {
  if (!/^\d+$/.test(value) || BigInt(value) >= 1n << 64n) throw new InvalidArgumentError('must be an unsigned 64-bit integer.');
  return BigInt(value);
}

/** A commander argParser for --address: a host name or IPv4 address, or [IPv6], and a port 1-65535. */
export function hostPortArg(value: string): string {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) throw new InvalidArgumentError('expected HOST:PORT (port 1-65535).');
  return value;
}

/** A commander argParser for RULE arguments (an id or a name). */
export function ruleArgument(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('must be a rule id or name, not empty.');
  return value;
}
