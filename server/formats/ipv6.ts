/**
 * IPv6 addresses as rules take them and write them (docs/decisions/0067-ipv6-rule-addresses.md).
 *
 * Read (RFC 4291 section 2.2): eight groups of 1-4 hex digits (either case) separated by ':', at
 * most one '::' standing for one or more groups of zeros, and optionally the last 32 bits as a
 * strict IPv4 dotted quad (parseIPv4: no leading zeros). Nothing else: no zone id (`fe80::1%eth0`:
 * a rule's interface field already says which link), no brackets (they belong to ADDRESS:PORT, see
 * address-port.ts), no prefix length, no spaces. ipv6Problem says which of these a refused text is.
 *
 * Written (RFC 5952 section 4): lowercase hex without leading zeros, the longest run of two or more
 * zero groups as '::' (the first such run on a tie), a single zero group as '0', never dotted: so an
 * address has exactly one spelling, which rules store and compare as text.
 */
import { parseIPv4 } from './addresses';
import { quote } from './quote';

/** The bytes of an IPv6 address, network order. */
export const IPV6_BYTES = 16;

const COLON = 0x3a;
const DOT = 0x2e;

/** The value of a hex digit's character code, or -1. */
function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20; // 'A'-'F' to 'a'-'f'; no other character lands in 'a'-'f'
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** The groups read by the last parse (so a parse allocates only its result). */
const groups = new Uint16Array(8);

/** The 16 bytes of `text`, or undefined when it is not an IPv6 address in the form above. */
export function parseIPv6(text: string): Uint8Array | undefined {
  // By hand rather than by a regular expression, as parseIPv4: rules validate tens of thousands.
  const n = text.length;
  let count = 0;
  /** Where the '::' stands among the groups (the count before it), -1 without one. */
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === COLON) {
    if (text.charCodeAt(1) !== COLON) return undefined;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    if (count === 8) return undefined;
    const start = i;
    let value = 0;
    // Five digits at most: a fifth one makes the group too long, which is all there is to know.
    while (i < n && i - start < 5) {
      const digit = hexDigit(text.charCodeAt(i));
      if (digit < 0) break;
      value = value * 16 + digit;
      i++;
    }
    if (text.charCodeAt(i) === DOT) {
      // The last 32 bits as a dotted quad: the rest of the text must be one.
      if (count > 6) return undefined;
      const v4 = parseIPv4(text.slice(start));
      if (v4 === undefined) return undefined;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      break;
    }
    const digits = i - start;
    if (digits === 0 || digits > 4) return undefined;
    groups[count++] = value;
    if (i === n) break;
    if (text.charCodeAt(i) !== COLON) return undefined;
    i++;
    if (text.charCodeAt(i) === COLON) {
      if (gap >= 0) return undefined;
      gap = count;
      i++;
    } else if (i === n) {
      return undefined; // a single trailing ':'
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return undefined;
  const bytes = new Uint8Array(IPV6_BYTES);
  // The groups after the '::' go to the end; the ones it stands for stay 0.
  const shift = gap < 0 ? 0 : 8 - count;
  for (let g = 0; g < count; g++) {
    const at = 2 * (gap >= 0 && g >= gap ? g + shift : g);
    bytes[at] = groups[g] >>> 8;
    bytes[at + 1] = groups[g] & 0xff;
  }
  return bytes;
}

/** The group `g` (0-7) of `bytes`. */
function group(bytes: Uint8Array, g: number): number {
  return (bytes[2 * g] << 8) | bytes[2 * g + 1];
}

/** The RFC 5952 spelling of `bytes` (16 of them). */
export function formatIPv6(bytes: Uint8Array): string {
  // The longest run of zero groups, of two at least (a single zero group is written "0").
  let bestStart = -1;
  let bestLength = 1;
  let runStart = -1;
  for (let g = 0; g < 8; g++) {
    if (group(bytes, g) !== 0) {
      runStart = -1;
      continue;
    }
    if (runStart < 0) runStart = g;
    // Strictly longer: on a tie the first run stays.
    if (g - runStart + 1 > bestLength) {
      bestStart = runStart;
      bestLength = g - runStart + 1;
    }
  }
  let text = '';
  for (let g = 0; g < 8; ) {
    if (g === bestStart) {
      text += '::';
      g += bestLength;
      continue;
    }
    if (g > 0 && g !== bestStart + bestLength) text += ':';
    text += group(bytes, g).toString(16);
    g++;
  }
  return text;
}

/**
 * The 16 bytes as four 32-bit words, each four bytes read big-endian (as the capture filters and the
 * addon's membership batches carry an IPv6 address), written at `words[at]` (a new array of four by
 * default).
 */
export function ipv6Words(bytes: Uint8Array, words: Uint32Array = new Uint32Array(4), at = 0): Uint32Array {
  for (let i = 0; i < 4; i++) words[at + i] = (bytes[4 * i] << 24) | (bytes[4 * i + 1] << 16) | (bytes[4 * i + 2] << 8) | bytes[4 * i + 3];
  return words;
}

/** The 16 bytes of four words as ipv6Words writes them. */
export function ipv6FromWords(words: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(IPV6_BYTES);
  for (let i = 0; i < IPV6_BYTES; i++) bytes[i] = words[i >> 2] >>> (24 - 8 * (i & 3));
  return bytes;
}

/** The longest IPv6 text with a zone id: 45 characters (6 groups and a dotted quad), '%', 15 (IFNAMSIZ - 1). */
const MAX_TEXT_WITH_ZONE = 61;

/**
 * Why `text` is not an IPv6 address as parseIPv6 reads it (the caller knows it is not), as what
 * follows the quoted text in a message: `"fe80::1%eth0" takes no zone id ...`. Only ever called on
 * a refusal, so written for the reader rather than for speed.
 */
export function ipv6Problem(text: string): string {
  // Parts of `text` are quoted below: a text longer than any address with a zone is just too long.
  if (text.length > MAX_TEXT_WITH_ZONE) return `is not an IPv6 address: it is ${text.length} characters long`;
  const zone = text.indexOf('%');
  if (zone >= 0) {
    return `takes no zone id (${text.slice(zone)}): the interface comes from the rule's interface field; write ${text.slice(0, zone)}`;
  }
  if (text.startsWith('[') || text.endsWith(']')) return 'is written without brackets here (they go around an IPv6 address only before :PORT)';
  const slash = text.indexOf('/');
  if (slash >= 0) return `is a prefix, not an address: leave out ${text.slice(slash)}`;
  const not = 'is not an IPv6 address:';
  if (/\s/.test(text)) return `${not} it has white space in it`;
  const stray = /[^0-9A-Fa-f:.]/.exec(text);
  if (stray) return `${not} ${quote(stray[0])} is neither a hex digit, ":" nor "."`;
  if (text.includes(':::')) return `${not} it has ":::"`;
  if (text.indexOf('::') !== text.lastIndexOf('::')) return `${not} "::" may stand for one run of zero groups only, and it is there twice`;
  if (/[0-9A-Fa-f]{5}/.test(text)) return `${not} a group has more than 4 hex digits`;
  if (text.includes('.')) return `${not} only its last 32 bits may be a dotted quad (a.b.c.d, no leading zeros), after at most 6 groups`;
  const singleAtStart = text.startsWith(':') && !text.startsWith('::');
  const singleAtEnd = text.endsWith(':') && !text.endsWith('::');
  if (text === ':' || singleAtStart || singleAtEnd) return `${not} it starts or ends with a single ":"`;
  return `${not} it needs 8 groups of 1-4 hex digits, or "::" for a run of zero groups and at most 7 besides`;
}

/** ff00::/8. */
export function isMulticast6(bytes: Uint8Array): boolean {
  return bytes[0] === 0xff;
}

/**
 * The names of the 16 values of a multicast address's scope (its 4th nibble), RFC 7346 section 2:
 * 0 and f are reserved; 6, 7 and 9-d are unassigned (administrators may define regions with them).
 */
const SCOPE_NAMES = [
  'reserved',
  'interface-local',
  'link-local',
  'realm-local',
  'admin-local',
  'site-local',
  'unassigned',
  'unassigned',
  'organization-local',
  'unassigned',
  'unassigned',
  'unassigned',
  'unassigned',
  'unassigned',
  'global',
  'reserved',
] as const;

export type MulticastScope = (typeof SCOPE_NAMES)[number];

/** The scope field (0-15) of a multicast address. */
export function multicastScopeValue(bytes: Uint8Array): number {
  return bytes[1] & 0x0f;
}

/** The name of a multicast address's scope: "link-local" for ff02::fb, "global" for ff3e::1. */
export function multicastScope(bytes: Uint8Array): MulticastScope {
  return SCOPE_NAMES[multicastScopeValue(bytes)];
}

/** The source-specific multicast range ff3x::/32 (RFC 4607 section 1). */
export function isSsm6(bytes: Uint8Array): boolean {
  return bytes[0] === 0xff && (bytes[1] & 0xf0) === 0x30 && bytes[2] === 0 && bytes[3] === 0;
}

/** Whether the first `bits` bits of `bytes` are those of `network` (both IPv6, 16 bytes). */
export function inPrefix6(bytes: Uint8Array, network: Uint8Array, bits: number): boolean {
  const whole = bits >>> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== network[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole] & mask) === (network[whole] & mask);
}

/** `prefix` (an address, parsed once) for inPrefix6. */
function constant(text: string): Uint8Array {
  const bytes = parseIPv6(text);
  if (!bytes) throw new Error(`ipv6: ${text} is not an address`);
  return bytes;
}

const UNSPECIFIED = constant('::');
const LOOPBACK = constant('::1');
const V4_MAPPED = constant('::ffff:0:0');
const ALL_NODES = constant('ff02::1');
const SOLICITED_NODE = constant('ff02::1:ff00:0');

/** ::, the unspecified address (no host's). */
export function isUnspecified6(bytes: Uint8Array): boolean {
  return inPrefix6(bytes, UNSPECIFIED, 128);
}

/** ::1, the loopback address. */
export function isLoopback6(bytes: Uint8Array): boolean {
  return inPrefix6(bytes, LOOPBACK, 128);
}

/** ::ffff:0:0/96, an IPv4 address written as IPv6 (RFC 4291 section 2.5.5.2). */
export function isV4Mapped6(bytes: Uint8Array): boolean {
  return inPrefix6(bytes, V4_MAPPED, 96);
}

/** The IPv4 address in the last 32 bits (of a v4-mapped address), as parseIPv4 returns one. */
export function lastIPv4(bytes: Uint8Array): number {
  return ((bytes[12] << 24) | (bytes[13] << 16) | (bytes[14] << 8) | bytes[15]) >>> 0;
}

/** ff02::1, all nodes on the link (RFC 4291 section 2.7.1). */
export function isAllNodes6(bytes: Uint8Array): boolean {
  return inPrefix6(bytes, ALL_NODES, 128);
}

/** ff02::1:ff00:0/104, the solicited-node groups of neighbour discovery (RFC 4291 section 2.7.1). */
export function isSolicitedNode6(bytes: Uint8Array): boolean {
  return inPrefix6(bytes, SOLICITED_NODE, 104);
}
