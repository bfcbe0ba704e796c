/**
 * An address and a UDP port as one text: `239.1.1.1:5000`, and for IPv6 `[ff3e::1]:5000`, the
 * brackets keeping the port apart from the address's own colons (RFC 3986's host form, which URLs,
 * ss and most tools write). How mcrd's messages and mcrctl's views write them, and how mcrctl reads
 * --in and --out.
 */
import { formatIPv4, parseIPv4 } from './addresses';
import { addressSyntaxProblem } from './ip-address';
import { formatIPv6, ipv6Problem, parseIPv6 } from './ipv6';
import { quote } from './quote';

/** `239.1.1.1:5000` or `[ff3e::1]:5000`: `address` is either family's text. */
export function formatAddressPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export interface AddressPort {
  /** Canonical (ip-address.ts). */
  address: string;
  /** 1-65535. */
  port: number;
}

/** An example of each form, for messages. */
export const ADDRESS_PORT_FORMS = 'ADDRESS:PORT (e.g. 239.1.1.1:5000, or [ff3e::1]:5000 for IPv6)';

/**
 * `239.1.1.1:5000` or `[ff3e::1]:5000` read: the address in its canonical form and the port; else
 * what is wrong, to follow the caller's naming of where the text was given. An IPv6 address without
 * brackets is refused even when it reads as address and port, as `ff3e::1:5000` does: the last
 * group may as well be part of the address (ff3e::1:5000 is one), so the text is ambiguous.
 */
export function parseAddressPort(text: string): AddressPort | string {
  const quoted = quote(text);
  let address: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return `${quoted} has no "]": expected ${ADDRESS_PORT_FORMS}`;
    const host = text.slice(1, close);
    if (text.charCodeAt(close + 1) !== 0x3a /* : */) return `${quoted} has no :PORT after its "]": expected ${ADDRESS_PORT_FORMS}`;
    portText = text.slice(close + 2);
    const bytes = parseIPv6(host);
    if (!bytes) {
      if (parseIPv4(host) !== undefined) return `${quoted}: brackets go around an IPv6 address only; write ${host}:${/^\d{1,5}$/.test(portText) ? portText : 'PORT'}`;
      return `${quote(host)} in ${quoted} ${host.includes(':') ? ipv6Problem(host) : 'is not an IPv6 address'}`;
    }
    address = formatIPv6(bytes);
  } else {
    const colon = text.indexOf(':');
    if (colon < 0) return `expected ${ADDRESS_PORT_FORMS}, got ${quoted}`;
    if (colon !== text.lastIndexOf(':')) return `${quoted} is ambiguous: ${bracketedForm(text)}`;
    const host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    const value = parseIPv4(host);
    if (value === undefined) return host === '' ? `${quoted} has no address before :PORT` : `${addressSyntaxProblem(host)} (in ${quoted})`;
    address = formatIPv4(value);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) return `port ${quote(portText)} in ${quoted} must be 1-65535`;
  return { address, port };
}

/**
 * How to write `text`, an IPv6 address and a port without brackets: `[ff3e::1]:5000` for
 * `ff3e::1:5000` when its last group reads as a port of an address, else the form in general.
 */
function bracketedForm(text: string): string {
  const colon = text.lastIndexOf(':');
  const [host, port] = [text.slice(0, colon), text.slice(colon + 1)];
  const bytes = /^\d{1,5}$/.test(port) ? parseIPv6(host) : undefined;
  const general = 'an IPv6 address and its port are written [ADDRESS]:PORT';
  return bytes ? `${general}: [${formatIPv6(bytes)}]:${port} if ${port} is the port` : `${general}, e.g. [ff3e::1]:5000`;
}
