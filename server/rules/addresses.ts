/**
 * IPv4 addresses and Linux interface names as the rules accept them.
 *
 * Addresses are strict dotted quads: four decimal octets 0-255, no leading zeros (so "010.0.0.1",
 * which inet_aton would read as octal, is refused), no spaces, no shorthand ("10.1"). A valid address
 * therefore has exactly one spelling, and rules can compare addresses as strings.
 */

const DOTTED_QUAD = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/;

/** The address as an unsigned 32-bit number (network order read as big-endian), or undefined. */
export function parseIPv4(text: string): number | undefined {
  const match = DOTTED_QUAD.exec(text);
  if (!match) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(match[i]);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** Dotted-quad spelling of an unsigned 32-bit address. */
export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/** Network-order bytes of an unsigned 32-bit address. */
export function ipv4Bytes(value: number): [number, number, number, number] {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

/** 224.0.0.0/4. */
export function isMulticast(value: number): boolean {
  return value >>> 28 === 0xe;
}

export const IPV4_ANY = 0; // 0.0.0.0
export const IPV4_BROADCAST = 0xffffffff; // 255.255.255.255

/** A single host that can be a source or a unicast destination: not multicast, 0.0.0.0 or broadcast. */
export function isUnicast(value: number): boolean {
  return !isMulticast(value) && value !== IPV4_ANY && value !== IPV4_BROADCAST;
}

/** IFNAMSIZ - 1: the kernel keeps names in 16 bytes including the terminating NUL. */
export const MAX_INTERFACE_NAME_BYTES = 15;

/** The kernel's isspace() on a byte: \t \n \v \f \r, space and, in its Latin-1 table, 0xa0. */
function isKernelSpace(byte: number): boolean {
  return (byte >= 0x09 && byte <= 0x0d) || byte === 0x20 || byte === 0xa0;
}

/**
 * Whether Linux would accept `name` for a network interface (dev_valid_name): 1-15 bytes, not "." or
 * "..", and no '/', ':', whitespace or NUL in its bytes.
 */
export function isValidInterfaceName(name: string): boolean {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length < 1 || bytes.length > MAX_INTERFACE_NAME_BYTES) return false;
  if (name === '.' || name === '..') return false;
  return bytes.every((byte) => byte !== 0 && byte !== 0x2f /* / */ && byte !== 0x3a /* : */ && !isKernelSpace(byte));
}
