/**
 * The IPv4 multicast groups a namespace's kernel has joined, per interface, from /proc/net/igmp:
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
