/**
 * The addresses of capture targets (bpf.ts, capture-filter.ts) as the capture filters compare them:
 * an IPv4 dotted quad as one 32-bit word, an IPv6 address as four (each four of its bytes read
 * big-endian), which is how both filters load and store them. See docs/decisions/0066.
 *
 * IPv6 text must be canonical (RFC 5952): the filters key their books by the targets' own strings, so
 * two spellings of one address would be two keys of which removing one would unadmit the other. The
 * rules hand canonical text over; anything else is refused here rather than silently doubled.
 */
import { isIPv6 } from 'node:net';

import { isMulticast, isUnicast, parseIPv4 } from '../formats/addresses';

export type Family = 4 | 6;

/** An address as the filters compare it: one word (IPv4) or four (IPv6). */
export interface CaptureAddress {
  family: Family;
  words: number[];
}

const IPV6_GROUPS = 8;

/** RFC 5952 section 4: lowercase hex without leading zeros, the longest run (>= 2, first of equals) of zero groups as `::`. */
function formatIPv6(groups: number[]): string {
  let [start, length] = [-1, 1];
  for (let i = 0; i < IPV6_GROUPS; ) {
    let j = i;
    while (j < IPV6_GROUPS && groups[j] === 0) j++;
    if (j - i > length) [start, length] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  return start < 0 ? hex(0, IPV6_GROUPS) : `${hex(0, start)}::${hex(start + length, IPV6_GROUPS)}`;
}

/**
 * The four words of an IPv6 address written canonically, else undefined (other spellings, and the
 * embedded-IPv4 forms, which no multicast group and no source a rule can name needs).
 */
export function parseCanonicalIPv6(text: string): number[] | undefined {
  if (!isIPv6(text) || text.includes('.')) return undefined;
  const [head, tail] = text.split('::');
  const part = (half: string | undefined) => (half ? half.split(':').map((g) => parseInt(g, 16)) : []);
  const [front, back] = [part(head), part(tail)];
  const groups = tail === undefined ? front : [...front, ...Array<number>(IPV6_GROUPS - front.length - back.length).fill(0), ...back];
  if (formatIPv6(groups) !== text) return undefined;
  return [0, 2, 4, 6].map((i) => (groups[i] * 0x1_0000 + groups[i + 1]) >>> 0);
}

/** ff00::/8. */
const isIPv6Multicast = (words: number[]) => words[0] >>> 24 === 0xff;
const isIPv6Unspecified = (words: number[]) => words.every((w) => w === 0);

/** A target's group: IPv4 (dotted quad) or IPv6 (canonical) multicast; TypeError otherwise. */
export function captureGroup(text: string): CaptureAddress {
  if (text.includes(':')) {
    const words = parseCanonicalIPv6(text);
    if (words === undefined || !isIPv6Multicast(words)) throw new TypeError(`capture target group ${JSON.stringify(text)} is not an IPv6 multicast address in canonical form`);
    return { family: 6, words };
  }
  const address = parseIPv4(text);
  if (address === undefined || !isMulticast(address)) throw new TypeError(`capture target group ${JSON.stringify(text)} is not an IPv4 multicast address`);
  return { family: 4, words: [address] };
}

/** A target's source ('': any, all words 0) in its group's family; TypeError unless a unicast address of it. */
export function captureSource(text: string, family: Family): number[] {
  if (family === 4) {
    if (!text) return [0];
    const address = parseIPv4(text);
    if (address === undefined || !isUnicast(address)) throw new TypeError(`capture target source ${JSON.stringify(text)} is not a unicast IPv4 address`);
    return [address];
  }
  if (!text) return [0, 0, 0, 0];
  const words = parseCanonicalIPv6(text);
  if (words === undefined || isIPv6Multicast(words) || isIPv6Unspecified(words)) {
    throw new TypeError(`capture target source ${JSON.stringify(text)} is not a unicast IPv6 address in canonical form`);
  }
  return words;
}
