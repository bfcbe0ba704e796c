/**
 * IPv4 addresses and Linux interface names as the rules accept them.
 *
 * Addresses are strict dotted quads: four decimal octets 0-255, no leading zeros (so "010.0.0.1",
 * which inet_aton would read as octal, is refused), no spaces, no shorthand ("10.1"). A valid address
 * therefore has exactly one spelling, and rules can compare addresses as strings.
 */

/** The address as an unsigned 32-bit number (network order read as big-endian), or undefined. */
export function parseIPv4(text: string): number | undefined {
  // By hand rather than by a regular expression: rules validate tens of thousands of addresses.
  let value = 0;
  let octets = 0;
  let i = 0;
  while (octets < 4) {
    const start = i;
    let octet = 0;
    while (i < text.length && i - start < 3) {
      const digit = text.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) break;
      octet = octet * 10 + digit;
      i++;
    }
    const digits = i - start;
    if (digits === 0 || (digits > 1 && text.charCodeAt(start) === 48) || octet > 255) return undefined;
    value = value * 256 + octet;
    octets++;
    if (octets < 4) {
      if (text.charCodeAt(i) !== 46 /* . */) return undefined;
      i++;
    }
  }
  return i === text.length ? value : undefined;
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
  if (name === '.' || name === '..') return false;
  if (name.length >= 1 && name.length <= MAX_INTERFACE_NAME_BYTES && isPlainAscii(name)) return true;
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length < 1 || bytes.length > MAX_INTERFACE_NAME_BYTES) return false;
  return bytes.every((byte) => byte !== 0 && byte !== 0x2f /* / */ && byte !== 0x3a /* : */ && !isKernelSpace(byte));
}

/** Only ASCII letters, digits, '.', '_' and '-' (a name every check above accepts): no need to encode it. */
function isPlainAscii(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const plain = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2e || c === 0x5f || c === 0x2d;
    if (!plain) return false;
  }
  return true;
}
