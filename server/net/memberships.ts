/**
 * IGMP group memberships on the input interfaces, so snooping switches and NIC filters deliver the
 * streams. The kernel caps what one socket may hold: memberships (net.ipv4.igmp_max_memberships, 20
 * by default) and sources of one source-specific group (net.ipv4.igmp_max_msf, 10), and one socket
 * cannot join a group both for any source and for given sources. Memberships are spread over as many
 * sockets as these take.
 */
import fs from 'fs';

import type { Native } from '../../native';
import type { Logger } from '../log';

/** A group membership a rule needs: joined on its input interface (source-specific when source is set). */
export interface Membership {
  key: string;
  ifindex: number;
  group: string;
  source: string;
}

function readLimit(name: string, fallback: number): number {
  try {
    const value = Number.parseInt(fs.readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8'), 10);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

export function readMaxMemberships(): number {
  return readLimit('igmp_max_memberships', 20);
}

export function readMaxSourcesPerGroup(): number {
  return readLimit('igmp_max_msf', 10);
}

/** What one socket holds of one group on one interface. */
interface GroupUse {
  anySource: boolean;
  sources: number;
}

interface MembershipSocket {
  fd: number;
  keys: Set<string>;
  /** By "group|ifindex". */
  groups: Map<string, GroupUse>;
}

function groupKey(membership: Membership): string {
  return `${membership.group}|${membership.ifindex}`;
}

export class Memberships {
  private readonly sockets: MembershipSocket[] = [];
  private readonly joined = new Map<string, { membership: Membership; socket: MembershipSocket }>();
  /** Memberships that could not be joined, with the reason (retried on every sync). */
  readonly failures = new Map<string, string>();

  constructor(
    private readonly addon: Native,
    private readonly log: Logger,
    private readonly perSocket = readMaxMemberships(),
    private readonly sourcesPerGroup = readMaxSourcesPerGroup(),
  ) {}

  /** Joins what is wanted and not joined, leaves what is joined and no longer wanted. */
  sync(wanted: Map<string, Membership>): void {
    for (const [key, entry] of this.joined) if (!wanted.has(key)) this.leave(key, entry.membership, entry.socket);
    this.failures.clear();
    for (const [key, membership] of wanted) if (!this.joined.has(key)) this.join(key, membership);
  }

  close(): void {
    this.sync(new Map());
    for (const socket of this.sockets.splice(0)) this.addon.closeFd(socket.fd);
  }

  private join(key: string, membership: Membership): void {
    const socket = this.socketFor(membership);
    try {
      this.addon.joinGroup(socket.fd, membership.group, membership.ifindex, membership.source || undefined);
    } catch (err) {
      const reason = (err as Error).message;
      this.failures.set(key, reason);
      this.log.warn('cannot join group', { group: membership.group, ifindex: membership.ifindex, error: reason });
      return;
    }
    socket.keys.add(key);
    const use = socket.groups.get(groupKey(membership)) ?? { anySource: false, sources: 0 };
    if (membership.source) use.sources++;
    else use.anySource = true;
    socket.groups.set(groupKey(membership), use);
    this.joined.set(key, { membership, socket });
  }

  private leave(key: string, membership: Membership, socket: MembershipSocket): void {
    try {
      this.addon.leaveGroup(socket.fd, membership.group, membership.ifindex, membership.source || undefined);
    } catch (err) {
      // The interface may have gone, taking the membership with it.
      this.log.debug('leave group failed', { group: membership.group, error: (err as Error).message });
    }
    socket.keys.delete(key);
    const use = socket.groups.get(groupKey(membership));
    if (use) {
      if (membership.source) use.sources--;
      else use.anySource = false;
      if (!use.anySource && use.sources === 0) socket.groups.delete(groupKey(membership));
    }
    this.joined.delete(key);
  }

  /** Whether `socket` can take `membership` within the kernel's per-socket limits. */
  private fits(socket: MembershipSocket, membership: Membership): boolean {
    if (socket.keys.size >= this.perSocket) return false;
    const use = socket.groups.get(groupKey(membership));
    if (!use) return true;
    if (!membership.source) return false; // the group is joined for given sources here already
    return !use.anySource && use.sources < this.sourcesPerGroup;
  }

  private socketFor(membership: Membership): MembershipSocket {
    const free = this.sockets.find((s) => this.fits(s, membership));
    if (free) return free;
    const socket = { fd: this.addon.openMembershipSocket(), keys: new Set<string>(), groups: new Map<string, GroupUse>() };
    this.sockets.push(socket);
    return socket;
  }
}
