/**
 * IGMP group memberships on the input interfaces, so snooping switches and NIC filters deliver the
 * streams. The kernel caps memberships per socket (net.ipv4.igmp_max_memberships, 20 by default), so
 * memberships are spread over as many sockets as needed.
 */
import fs from 'fs';

import type { Native } from '../../native';
import type { Logger } from '../log';
import type { Membership } from '../forwarding/plan';

const MAX_MEMBERSHIPS_PATH = '/proc/sys/net/ipv4/igmp_max_memberships';

export function readMaxMemberships(): number {
  try {
    const value = Number.parseInt(fs.readFileSync(MAX_MEMBERSHIPS_PATH, 'utf8'), 10);
    return Number.isFinite(value) && value > 0 ? value : 20;
  } catch {
    return 20;
  }
}

interface MembershipSocket {
  fd: number;
  keys: Set<string>;
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
    const socket = this.socketWithRoom();
    try {
      this.addon.joinGroup(socket.fd, membership.group, membership.ifindex, membership.source || undefined);
    } catch (err) {
      const reason = (err as Error).message;
      this.failures.set(key, reason);
      this.log.warn('cannot join group', { group: membership.group, ifindex: membership.ifindex, error: reason });
      return;
    }
    socket.keys.add(key);
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
    this.joined.delete(key);
  }

  private socketWithRoom(): MembershipSocket {
    const free = this.sockets.find((s) => s.keys.size < this.perSocket);
    if (free) return free;
    const socket = { fd: this.addon.openMembershipSocket(), keys: new Set<string>() };
    this.sockets.push(socket);
    return socket;
  }
}
