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

/**
 * Memberships one socket takes at most, whatever igmp_max_memberships allows: the kernel walks a
 * socket's list on every join and leave. (Its option memory, net.core.optmem_max, usually caps a
 * socket lower still: a join refused with ENOBUFS marks the socket full, see join().)
 */
export const MAX_PER_SOCKET = 1024;

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
  /** The kernel refused a join for want of room: it takes no more. */
  full: boolean;
}

interface Joined {
  membership: Membership;
  socket: MembershipSocket;
  /** Order of joining: leaving newest first keeps the kernel's walk of its list short. */
  seq: number;
}

function groupKey(membership: Membership): string {
  return `${membership.group}|${membership.ifindex}`;
}

/**
 * Joins and leaves by difference: sync() with the whole wanted set (a full pass), change() with what
 * a change adds and removes (O(change)). A membership that could not be joined stays wanted and is
 * tried again on every sync() or change() until it is joined or no longer wanted.
 */
export class Memberships {
  private readonly sockets: MembershipSocket[] = [];
  /** Sockets with room left (not full by count nor refused by the kernel). */
  private readonly roomy = new Set<MembershipSocket>();
  private readonly joined = new Map<string, Joined>();
  /** Wanted but not joined (refused so far). */
  private readonly pending = new Map<string, Membership>();
  private seq = 0;
  /** Memberships that could not be joined, with the reason (retried on every sync or change). */
  readonly failures = new Map<string, string>();

  constructor(
    private readonly addon: Native,
    private readonly log: Logger,
    private readonly perSocket = Math.min(readMaxMemberships(), MAX_PER_SOCKET),
    private readonly sourcesPerGroup = readMaxSourcesPerGroup(),
  ) {}

  /** Joins what is wanted and not joined, leaves what is joined and no longer wanted. */
  sync(wanted: ReadonlyMap<string, Membership>): void {
    const leave = [...this.joined.keys(), ...this.pending.keys()].filter((key) => !wanted.has(key));
    const join = [...wanted.values()].filter((m) => !this.joined.has(m.key));
    this.change(join, leave);
  }

  /**
   * Leaves `leave` (keys), joins `join`, and tries again what was refused before: the cost of the
   * change alone (and of the refusals), whatever the number of memberships held.
   */
  change(join: Iterable<Membership>, leave: Iterable<string>): void {
    const leaving: Joined[] = [];
    for (const key of leave) {
      this.pending.delete(key);
      this.failures.delete(key);
      const entry = this.joined.get(key);
      if (entry) leaving.push(entry);
    }
    // Newest first: the kernel keeps an interface's groups newest first and walks the list to leave one.
    leaving.sort((a, b) => b.seq - a.seq);
    for (const entry of leaving) this.leave(entry);
    for (const membership of join) if (!this.joined.has(membership.key)) this.pending.set(membership.key, membership);
    for (const membership of [...this.pending.values()]) this.join(membership);
  }

  /** Leaves every group (newest first), then closes the sockets. */
  close(): void {
    this.change([], [...this.joined.keys(), ...this.pending.keys()]);
    for (const socket of this.sockets.splice(0)) this.addon.closeFd(socket.fd);
    this.roomy.clear();
  }

  private join(membership: Membership): void {
    const { key } = membership;
    for (;;) {
      const socket = this.socketFor(membership);
      try {
        this.addon.joinGroup(socket.fd, membership.group, membership.ifindex, membership.source || undefined);
      } catch (err) {
        // Out of option memory (net.core.optmem_max), usually well before igmp_max_memberships: the
        // socket is full, the next one takes it. A socket with nothing refusing is a real failure.
        if ((err as { code?: string }).code === 'ENOBUFS' && socket.keys.size > 0 && this.sourcesFit(socket, membership)) {
          socket.full = true;
          this.roomy.delete(socket);
          continue;
        }
        const reason = (err as Error).message;
        if (this.failures.get(key) !== reason) this.log.warn('cannot join group', { group: membership.group, ifindex: membership.ifindex, error: reason });
        this.failures.set(key, reason);
        return;
      }
      this.pending.delete(key);
      this.failures.delete(key);
      socket.keys.add(key);
      if (socket.keys.size >= this.perSocket) this.roomy.delete(socket);
      const use = socket.groups.get(groupKey(membership)) ?? { anySource: false, sources: 0 };
      if (membership.source) use.sources++;
      else use.anySource = true;
      socket.groups.set(groupKey(membership), use);
      this.joined.set(key, { membership, socket, seq: this.seq++ });
      return;
    }
  }

  private leave({ membership, socket }: Joined): void {
    try {
      this.addon.leaveGroup(socket.fd, membership.group, membership.ifindex, membership.source || undefined);
    } catch (err) {
      // The interface may have gone, taking the membership with it.
      this.log.debug('leave group failed', { group: membership.group, error: (err as Error).message });
    }
    socket.keys.delete(membership.key);
    const use = socket.groups.get(groupKey(membership));
    if (use) {
      if (membership.source) use.sources--;
      else use.anySource = false;
      if (!use.anySource && use.sources === 0) socket.groups.delete(groupKey(membership));
    }
    if (!socket.full) this.roomy.add(socket);
    this.joined.delete(membership.key);
  }

  /** Whether the group's own limits (one mode per group, sources per group) let `socket` take it. */
  private sourcesFit(socket: MembershipSocket, membership: Membership): boolean {
    const use = socket.groups.get(groupKey(membership));
    if (!use) return true;
    if (!membership.source) return false; // the group is joined for given sources here already
    return !use.anySource && use.sources < this.sourcesPerGroup;
  }

  /** A socket with room that can take `membership` within the kernel's per-socket limits, else a new one. */
  private socketFor(membership: Membership): MembershipSocket {
    for (const socket of this.roomy) if (this.sourcesFit(socket, membership)) return socket;
    const socket: MembershipSocket = { fd: this.addon.openMembershipSocket(), keys: new Set<string>(), groups: new Map<string, GroupUse>(), full: false };
    this.sockets.push(socket);
    this.roomy.add(socket);
    return socket;
  }
}
