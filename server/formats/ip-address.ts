/**
 * An IP address of either family, as a rule's address fields hold them: IPv4 (addresses.ts) or IPv6
 * (ipv6.ts). The two are told apart by a ':', which no dotted quad has, so each text is parsed once.
 * Canonical text: a valid IPv4 address has one spelling already; an IPv6 one is written per RFC 5952.
 */
import { formatIPv4, isUnicast, parseIPv4 } from './addresses';
import { formatIPv6, ipv6Problem, isLoopback6, isMulticast6, isUnspecified6, isV4Mapped6, lastIPv4, parseIPv6 } from './ipv6';
import { quote } from './quote';

export type IpFamily = 4 | 6;

/** The family an address's text is written in: IPv6 text has colons, a dotted quad none. */
export function familyOfText(text: string): IpFamily {
  return text.includes(':') ? 6 : 4;
}

export type IpAddress = { family: 4; value: number } | { family: 6; bytes: Uint8Array };

/** The address `text` is (either family), or undefined. */
export function parseIpAddress(text: string): IpAddress | undefined {
  if (familyOfText(text) === 6) {
    const bytes = parseIPv6(text);
    return bytes && { family: 6, bytes };
  }
  const value = parseIPv4(text);
  return value === undefined ? undefined : { family: 4, value };
}

/** The canonical text of `address`. */
export function formatIpAddress(address: IpAddress): string {
  return address.family === 4 ? formatIPv4(address.value) : formatIPv6(address.bytes);
}

/** "IPv4" or "IPv6". */
export function familyName(family: IpFamily): string {
  return family === 4 ? 'IPv4' : 'IPv6';
}

/**
 * The one spelling of the address `text` (`FF3E:0::1` -> `ff3e::1`); a text that is no address is
 * returned as it is (validation refuses it). An IPv4 address costs a search for ':', no parse.
 */
export function canonicalAddress(text: string): string {
  if (!text.includes(':')) return text;
  const bytes = parseIPv6(text);
  return bytes ? formatIPv6(bytes) : text;
}

/**
 * Why `text` is neither an IPv4 nor an IPv6 address (the caller knows it is not), the text quoted:
 * `"fe80::1%eth0" takes no zone id ...`, `"239.1.1" is not an IPv4 address ...`.
 */
export function addressSyntaxProblem(text: string): string {
  if (text === '') return 'required: an IPv4 or IPv6 address';
  const quoted = quote(text);
  // A ':' (or a zone or brackets, which only IPv6 takes) says which family was meant.
  if (/[:%[\]]/.test(text)) return `${quoted} ${ipv6Problem(text)}`;
  const slash = text.indexOf('/');
  if (slash >= 0) return `${quoted} is a prefix, not an address: leave out ${quote(text.slice(slash))}`;
  return `${quoted} is not an IPv4 address (a dotted quad such as 192.0.2.1) nor an IPv6 address (such as 2001:db8::1)`;
}

/**
 * What makes the IPv6 address `bytes` (not multicast) no host's address, to send to or from: the
 * unspecified address, loopback, an IPv4 address in IPv6 form; undefined when it is one. `text` is
 * the address as given.
 */
export function ipv6HostProblem(bytes: Uint8Array, text: string): string | undefined {
  if (isUnspecified6(bytes)) return `${text} is the unspecified address, no host's`;
  if (isLoopback6(bytes)) return `${text} is the loopback address: packets to or from it never cross an interface`;
  if (isV4Mapped6(bytes)) return `${text} is an IPv4-mapped address (::ffff:0:0/96): write it as IPv4 ${formatIPv4(lastIPv4(bytes))}`;
  return undefined;
}

/**
 * What keeps `address` (given as `text`) from being a unicast host address, the source of a packet
 * or a unicast destination: multicast, and the addresses of no single host (0.0.0.0 and
 * 255.255.255.255; ::, ::1 and v4-mapped addresses, see ipv6HostProblem). Undefined when it is one.
 */
export function unicastProblem(address: IpAddress, text: string): string | undefined {
  if (address.family === 4) return isUnicast(address.value) ? undefined : `${text} is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)`;
  if (isMulticast6(address.bytes)) return `${text} is not a unicast address: it is multicast (ff00::/8)`;
  return ipv6HostProblem(address.bytes, text);
}
