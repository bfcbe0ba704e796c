/**
 * Test hook (mcrd --test-hooks only): the worker tries, from inside, what its confinement forbids
 * (native probeConfinement) on one of the capture sockets it was given, so an end-to-end test can
 * prove each attempt fails while forwarding goes on.
 */
import fs from 'fs';

import type { ConfinementAttempt, Native } from '../native';

/** The inode of each socket this process holds, by fd (from the /proc/self/fd links "socket:[INODE]"). */
function socketInodes(): Map<number, string> {
  const inodes = new Map<number, string>();
  for (const entry of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${entry}`);
    } catch {
      continue; // closed meanwhile (e.g. the fd readdir itself used)
    }
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.set(Number(entry), match[1]);
  }
  return inodes;
}

/** Inodes of the AF_PACKET sockets of this network namespace (/proc/net/packet, last column). */
function packetSocketInodes(): Set<string> {
  const lines = fs.readFileSync('/proc/net/packet', 'utf8').trim().split('\n').slice(1);
  return new Set(lines.map((line) => line.trim().split(/\s+/).pop()!));
}

/** This process's AF_PACKET sockets (its capture sockets), lowest fd first. */
export function packetSocketFds(): number[] {
  const packet = packetSocketInodes();
  return [...socketInodes()].filter(([, inode]) => packet.has(inode)).map(([fd]) => fd).sort((a, b) => a - b);
}

export interface ConfinementProbeReport {
  /** The capture socket the socket-level attempts used. */
  packetFd: number;
  attempts: ConfinementAttempt[];
}

/** Runs the probe on the first capture socket; throws when the worker holds none yet. */
export function probeConfinement(addon: Native): ConfinementProbeReport {
  const [packetFd] = packetSocketFds();
  if (packetFd === undefined) throw new Error('no capture socket to probe: the worker has no input yet');
  return { packetFd, attempts: addon.probeConfinement(packetFd) };
}
