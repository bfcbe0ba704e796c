/**
 * The multicast groups a namespace's kernel has joined, per interface: IPv4 from /proc/net/igmp,
 * IPv6 from /proc/net/igmp6 and its source filters from /proc/net/mcfilter6 (parseIgmp6 and
 * parseMcfilter6 below). /proc/net/igmp:
 *
 *   Idx	Device    : Count Querier	Group    Users Timer	Reporter
 *   3	in0       :     2      V3
 *   				0A0A0AEF     1 0:00000000		0
 *
 * Each group line follows its device's line. The group is the address as stored (network byte
 * order) printed as a host-order 32-bit number, so on a little-endian host 239.10.10.10 reads
 * 0A0A0AEF.
 */
import os from 'os';

import { formatIPv6 } from '../../server/formats/ipv6';
import { runIn } from './netns';

/** "0A0A0AEF" -> "239.10.10.10" on this host's byte order. */
export function groupFromHex(hex: string): string {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) throw new Error(`not a /proc/net/igmp group: ${JSON.stringify(hex)}`);
  const value = Number.parseInt(hex, 16);
  const raw = Buffer.alloc(4);
  if (os.endianness() === 'LE') raw.writeUInt32LE(value);
  else raw.writeUInt32BE(value);
  return Array.from(raw).join('.');
}

/** Groups by device name, from the text of /proc/net/igmp. */
export function parseIgmp(text: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  let device: string | null = null;
  for (const line of text.split('\n').slice(1)) {
    if (!line.trim()) continue;
    const header = /^\d+\s+(\S+)\s*:/.exec(line);
    if (header) {
      device = header[1];
      groups.set(device, []);
    } else if (device !== null) {
      groups.get(device)!.push(groupFromHex(line.trim().split(/\s+/)[0]));
    } else {
      throw new Error(`/proc/net/igmp: a group line before any device: ${JSON.stringify(line)}`);
    }
  }
  return groups;
}

/** The groups joined on `device` inside namespace `ns` (none if the device has no IGMP state). */
export async function joinedGroups(ns: string, device: string): Promise<string[]> {
  return parseIgmp(await runIn(ns, ['cat', '/proc/net/igmp'])).get(device) ?? [];
}

/** "ff3e0000000000000000000000000001" (an address as /proc/net/igmp6 and mcfilter6 print it) -> "ff3e::1". */
export function ipv6FromHex(hex: string): string {
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error(`not a /proc/net IPv6 address: ${JSON.stringify(hex)}`);
  return formatIPv6(Uint8Array.from(Buffer.from(hex, 'hex')));
}

/**
 * The IPv6 groups joined, per interface, from the text of /proc/net/igmp6 (one line per group:
 * "3    mb0             ff3e0000000000000000000000000001     1 00000004 0", index, device, group,
 * users, flags, timer).
 */
export function parseIgmp6(text: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 3) continue;
    const [, device, group] = fields;
    if (!groups.has(device)) groups.set(device, []);
    groups.get(device)!.push(ipv6FromHex(group));
  }
  return groups;
}

/**
 * The (source, group) filters per interface, as "source>group", from the text of /proc/net/mcfilter6
 * (a header, then "  3   mb0 ff3e...0001 2001...0001      1      0": index, device, group, source,
 * include and exclude counts). Beware: the kernel's listing starts at the first interface whose
 * newest group has a source, so an interface listed before it (lo, in a namespace) is skipped
 * entirely when its newest group has none.
 */
export function parseMcfilter6(text: string): Map<string, string[]> {
  const filters = new Map<string, string[]>();
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4) continue;
    const [, device, group, source] = fields;
    if (!filters.has(device)) filters.set(device, []);
    filters.get(device)!.push(`${ipv6FromHex(source)}>${ipv6FromHex(group)}`);
  }
  return filters;
}
