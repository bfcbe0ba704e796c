/**
 * Address prefixes, `239.1.0.0/16` or `ff3e::/16` (a bare address: the address alone, /32 or /128),
 * as RuleFilter.group_prefix takes them. A prefix selects addresses of its own family only.
 */
import { formatIPv4, parseIPv4 } from './addresses';
import { addressSyntaxProblem } from './ip-address';
import { formatIPv6, inPrefix6, IPV6_BYTES, parseIPv6 } from './ipv6';
import { quote } from './quote';

export type IpPrefix = { family: 4; network: number; mask: number } | { family: 6; network: Uint8Array; bits: number };

/** The netmask of a /bits IPv4 prefix. */
function mask4(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** `bytes` with every bit after the first `bits` cleared (a copy). */
function network6(bytes: Uint8Array, bits: number): Uint8Array {
  const network = new Uint8Array(IPV6_BYTES);
  for (let i = 0; i < IPV6_BYTES; i++) {
    const kept = Math.min(8, Math.max(0, bits - 8 * i));
    network[i] = bytes[i] & ((0xff << (8 - kept)) & 0xff);
  }
  return network;
}

/** ADDRESS/LENGTH or a bare address, without host bits; what is wrong with it otherwise. */
export function parseIpPrefix(text: string): IpPrefix | string {
  const quoted = quote(text);
  const [address, length, ...rest] = text.split('/');
  if (rest.length > 0) return `${quoted} is not a prefix: expected ADDRESS/LENGTH, e.g. 239.1.0.0/16 or ff3e::/16`;
  const v6 = address.includes(':');
  const bytes = v6 ? parseIPv6(address) : undefined;
  const value = v6 ? undefined : parseIPv4(address);
  if (bytes === undefined && value === undefined) return `${quoted} is not a prefix: ${addressSyntaxProblem(address)}`;
  const most = v6 ? 128 : 32;
  let bits = most;
  if (length !== undefined) {
    // Decimal without leading zeros, as ip(8) writes it.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(length) || Number(length) > most) return `${quoted}: the prefix length must be 0-${most}, got ${quote(length)}`;
    bits = Number(length);
  }
  if (bytes) {
    const network = network6(bytes, bits);
    // The address is its network (all 128 bits alike) only when it has no host bits.
    if (!inPrefix6(network, bytes, 128)) return `${quoted} has host bits set: did you mean ${formatIPv6(network)}/${bits}?`;
    return { family: 6, network, bits };
  }
  const mask = mask4(bits);
  const network = (value! & mask) >>> 0;
  if (network !== value) return `${quoted} has host bits set: did you mean ${formatIPv4(network)}/${bits}?`;
  return { family: 4, network, mask };
}

/** Whether the address `text` is inside `prefix` (an address of the other family, or none, never is). */
export function prefixContains(prefix: IpPrefix, text: string): boolean {
  if (prefix.family === 4) {
    const value = text.includes(':') ? undefined : parseIPv4(text);
    return value !== undefined && ((value & prefix.mask) >>> 0) === prefix.network;
  }
  const bytes = text.includes(':') ? parseIPv6(text) : undefined;
  return bytes !== undefined && inPrefix6(bytes, prefix.network, prefix.bits);
}
