/**
 * Group memberships on the input interfaces (IGMP for IPv4 groups, MLD for IPv6), so snooping
 * switches and NIC filters deliver the streams. A membership socket holds memberships of its own
 * family only, and the kernel caps what one may hold (readSocketLimits()): memberships (IPv4:
 * net.ipv4.igmp_max_memberships, 20 by default; IPv6: no count, only the socket's option memory,
 * net.core.optmem_max), sources of one source-specific group (net.ipv4.igmp_max_msf, 10;
 * net.ipv6.mld_max_msf, 64), and one socket cannot join a group both for any source and for given
 * sources. Memberships are spread over as many sockets as these take (docs/decisions/0038, 0068).
 *
 * The system calls run in batches on a background thread (membership-batch.ts, docs/decisions/0045):
 * with 20,000 groups joined on an interface each join or leave costs the kernel up to a millisecond,
 * which the event loop does not wait for. Leaves are not waited for at all (docs/decisions/0051): a
 * change resolves once its joins are done, and what it leaves is left afterwards, a few at a time.
 */
import fs from 'fs';

import type { Native } from '../../native';
import type { Logger } from '../log';
import type { IpFamily } from '../formats/ip-address';
import { applySteps, familyOf, Membership, MembershipStep, StepResult } from './membership-batch';

export type { Membership } from './membership-batch';

/** A sysctl under /proc/sys/net ("ipv4/igmp_max_msf"), or `fallback` when it cannot be read. */
function readLimit(name: string, fallback: number): number {
  try {
    const value = Number.parseInt(fs.readFileSync(`/proc/sys/net/${name}`, 'utf8'), 10);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

/**
 * Memberships one socket takes at most, whatever the kernel allows: the kernel walks a socket's list
 * on every join and leave. (Its option memory, net.core.optmem_max, may cap a socket lower still: a
 * join refused for want of it marks the socket full, see settleJoins().)
 */
export const MAX_PER_SOCKET = 1024;

/**
 * Option memory (net.core.optmem_max) an MLD membership costs its socket at most in normal use,
 * measured on Linux 6.18 (docs/decisions/0068): 56 bytes for any source, 240 for a source-specific
 * group's first source (its entry and a source list with room for 10), rounded up to leave room for
 * source lists that grow.
 */
export const MLD_MEMBERSHIP_BYTES = 256;

/** What the kernel lets one membership socket hold. */
export interface SocketLimits {
  /** Memberships. */
  perSocket: number;
  /** Sources of one group. */
  sourcesPerGroup: number;
}

/**
 * MLD memberships per socket at `optmemMax` bytes of option memory: as many as fit at the most
 * they cost (so that a socket is never refused for want of it in normal use), MAX_PER_SOCKET at most.
 */
export function mldPerSocket(optmemMax: number): number {
  return Math.max(1, Math.min(MAX_PER_SOCKET, Math.floor(optmemMax / MLD_MEMBERSHIP_BYTES)));
}

/**
 * The per-socket limits of each family, from the namespace's sysctls. IPv4: igmp_max_memberships
 * (which counts) and igmp_max_msf. IPv6 has no count (MLD's only bound is the option memory) and
 * mld_max_msf is the host's alone (a namespace other than the first has no such file: its default,
 * 64, then; a lower one set on the host shows as refusals, taken as a full socket).
 */
export function readSocketLimits(): Record<IpFamily, SocketLimits> {
  return {
    4: { perSocket: Math.min(readLimit('ipv4/igmp_max_memberships', 20), MAX_PER_SOCKET), sourcesPerGroup: readLimit('ipv4/igmp_max_msf', 10) },
    // 20,480 bytes when it cannot be read: optmem_max's default on older kernels (131,072 on 6.18).
    6: { perSocket: mldPerSocket(readLimit('core/optmem_max', 20_480)), sourcesPerGroup: readLimit('ipv6/mld_max_msf', 64) },
  };
}

/**
 * Refusals that mean a socket is out of option memory: IPv4 says ENOBUFS; IPv6 ENOMEM for a group's
 * entry and ENOBUFS for a source list (measured on 6.18; mld_max_msf exceeded is ENOBUFS too).
 */
const OUT_OF_ROOM = new Set(['ENOBUFS', 'ENOMEM']);

/**
 * Steps per batch at most: planning one costs the event loop about 3 µs a step (a few ms a batch),
 * so that start-up's 20,000 joins never hold it for long (docs/decisions/0045).
 */
export const BATCH_STEPS = 1024;

/**
 * Leaves per batch of the background drain. The kernel walks the interface's list of groups to leave
 * one (newest first: an old group among 20,000 costs about half a millisecond), and a change's joins
 * wait for the batch under way: this bounds that wait to a few milliseconds.
 */
export const LEAVE_BATCH = 16;

/** What one socket holds of one group on one interface. */
interface GroupUse {
  anySource: boolean;
  sources: number;
}

interface MembershipSocket {
  fd: number;
  /** Of its memberships, all of them. */
  family: IpFamily;
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

/** A join of a batch: the socket chosen, and how many memberships it held before (the batch's earlier joins counted). */
interface PlannedJoin {
  membership: Membership;
  socket: MembershipSocket;
  heldBefore: number;
}

function groupKey(membership: Membership): string {
  return `${membership.group}|${membership.ifindex}`;
}

/**
 * Joins and leaves by difference: sync() with the whole wanted set (a full pass), change() with what
 * a change adds and removes (O(change)). A membership that could not be joined stays wanted and is
 * tried again on every sync() or change() until it is joined or no longer wanted.
 *
 * sync(), change() and close() run one after the other, in the order called, each once the previous
 * one's batches are done (so a leave then a join of the same group ends joined, and no two batches
 * ever run at once); each resolves when its own system calls are done and `failures` tells of them.
 * The book-keeping is changed as a batch is planned (as if every step succeeded) and put right for
 * the steps that failed when the results come back.
 */
export class Memberships {
  private readonly sockets: MembershipSocket[] = [];
  /** Sockets with room left (not full by count nor refused by the kernel), by family. */
  private readonly roomy: Record<IpFamily, Set<MembershipSocket>> = { 4: new Set(), 6: new Set() };
  private readonly joined = new Map<string, Joined>();
  /** No longer wanted, still held: the drain leaves them (a join wanting one again takes it back). */
  private readonly leaving = new Map<string, Joined>();
  /** The drain's order (newest first), taken from `leaving` when it runs out; entries taken back are skipped. */
  private drainOrder: Joined[] = [];
  /** The next entry of drainOrder to leave. */
  private drainAt = 0;
  private draining = false;
  /** Wanted but not joined (refused so far). */
  private readonly pending = new Map<string, Membership>();
  private seq = 0;
  /** The operation last queued: the next one starts when it is done. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  /** Memberships that could not be joined, with the reason (retried on every sync or change). */
  readonly failures = new Map<string, string>();

  constructor(
    private readonly addon: Native,
    private readonly log: Logger,
    private readonly limits: Record<IpFamily, SocketLimits> = readSocketLimits(),
  ) {}

  /**
   * Joins what is wanted and not joined, leaves what is joined and no longer wanted (resolving once
   * the joins are done; the leaves follow).
   */
  sync(wanted: ReadonlyMap<string, Membership>): Promise<void> {
    const snapshot = new Map(wanted); // the caller may change its map before this runs
    return this.serially(() => {
      const leave = [...this.joined.keys(), ...this.pending.keys()].filter((key) => !snapshot.has(key));
      const join = [...snapshot.values()].filter((m) => !this.joined.has(m.key));
      return this.apply(join, leave);
    });
  }

  /**
   * Leaves `leave` (keys), joins `join`, and tries again what was refused before: the cost of the
   * change alone (and of the refusals), whatever the number of memberships held. Resolves once the
   * joins are done; the leaves follow in the background, and a group left and joined again before
   * its leave ran is simply kept.
   */
  change(join: Iterable<Membership>, leave: Iterable<string>): Promise<void> {
    const joining = [...join];
    const leaving = [...leave];
    return this.serially(() => this.apply(joining, leaving));
  }

  /** Resolves once every leave asked for before this call has been made (or given up at close). */
  leavesDone(): Promise<void> {
    return this.serially(async () => {
      while (this.leaving.size > 0 && !this.closed) await this.drainBatch();
    });
  }

  /**
   * Leaves every group, newest first, then closes the sockets. (Closing a socket leaves
   * what it holds, but in its own order: once rules have come and gone, far slower, see
   * docs/decisions/0045.) Changes asked for afterwards do nothing.
   */
  close(): Promise<void> {
    return this.serially(async () => {
      this.closed = true;
      const leaving = [...this.joined.values(), ...this.leaving.values()].sort((a, b) => b.seq - a.seq);
      this.leaving.clear();
      this.drainOrder = [];
      this.drainAt = 0;
      const steps: MembershipStep[] = [
        ...leaving.map(({ membership, socket }): MembershipStep => ({ kind: 'leave', fd: socket.fd, membership })),
        ...this.sockets.splice(0).map(({ fd }): MembershipStep => ({ kind: 'close', fd })),
      ];
      this.roomy[4].clear();
      this.roomy[6].clear();
      this.joined.clear();
      this.pending.clear();
      this.failures.clear();
      for (let at = 0; at < steps.length; at += BATCH_STEPS) {
        const results = await this.run(steps.slice(at, at + BATCH_STEPS));
        results.forEach((failure) => failure && this.log.debug('leaving a group at shutdown failed', { error: failure.message }));
      }
    });
  }

  /** Runs `operation` once the ones queued before are done (and not at all once closed). */
  private serially(operation: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() => (this.closed ? undefined : operation()));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(join: Membership[], leave: string[]): Promise<void> {
    for (const key of leave) {
      this.pending.delete(key);
      this.failures.delete(key);
      const entry = this.joined.get(key);
      if (!entry) continue;
      this.joined.delete(key);
      this.leaving.set(key, entry);
    }
    for (const membership of join) {
      const held = this.leaving.get(membership.key);
      if (held) {
        // Its leave has not run: it is still joined, in its place in the kernel's list.
        this.leaving.delete(membership.key);
        this.joined.set(membership.key, held);
      } else if (!this.joined.has(membership.key)) {
        this.pending.set(membership.key, membership);
      }
    }
    const joining = [...this.pending.values()];
    // BATCH_STEPS at a time. A join refused for want of room goes to another socket, which depends on
    // that refusal: it is tried again in the next batch (each such refusal leaves one more socket
    // full, so this ends).
    while (joining.length > 0) {
      const planned = joining.splice(0, BATCH_STEPS).map((membership) => this.reserve(membership));
      const results = await this.run(planned.map(({ membership, socket }): MembershipStep => ({ kind: 'join', fd: socket.fd, membership })));
      joining.unshift(...this.settleJoins(planned, results));
    }
    this.drainSoon();
  }

  /** Queues the next batch of leaves, unless one is queued already or nothing is to be left. */
  private drainSoon(): void {
    if (this.draining || this.leaving.size === 0 || this.closed) return;
    this.draining = true;
    void this.serially(() => this.drainBatch()).finally(() => {
      this.draining = false;
      this.drainSoon();
    });
  }

  /** Leaves up to LEAVE_BATCH of the memberships no longer wanted, newest first. */
  private async drainBatch(): Promise<void> {
    if (this.drainAt >= this.drainOrder.length) {
      this.drainOrder = [...this.leaving.values()].sort((a, b) => b.seq - a.seq);
      this.drainAt = 0;
    }
    const batch: Joined[] = [];
    while (batch.length < LEAVE_BATCH && this.drainAt < this.drainOrder.length) {
      const entry = this.drainOrder[this.drainAt++];
      if (this.leaving.get(entry.membership.key) !== entry) continue; // wanted again meanwhile
      this.leaving.delete(entry.membership.key);
      batch.push(entry);
    }
    if (batch.length === 0) return;
    const results = await this.run(batch.map(({ membership, socket }): MembershipStep => ({ kind: 'leave', fd: socket.fd, membership })));
    batch.forEach((entry, i) => {
      // The interface may have gone, taking the membership with it.
      const failure = results[i];
      if (failure) this.log.debug('leave group failed', { group: entry.membership.group, error: failure.message });
      this.release(entry);
    });
  }

  /**
   * Runs a batch. One that cannot run at all (a step the addon refuses as malformed: a bug) counts as
   * every step failing for that reason, so that the book-keeping stays true and its joins are
   * reported and tried again, as a join that throws was before batching.
   */
  private async run(steps: MembershipStep[]): Promise<StepResult[]> {
    try {
      return await applySteps(this.addon, steps);
    } catch (err) {
      const { code = 'EINVAL', message } = err as Error & { code?: string };
      this.log.error('membership batch could not run', { steps: steps.length, error: message });
      return steps.map(() => ({ code, message }));
    }
  }

  /** Chooses the socket of a join and books it there, as if the kernel took it. */
  private reserve(membership: Membership): PlannedJoin {
    const socket = this.socketFor(membership);
    const heldBefore = socket.keys.size;
    socket.keys.add(membership.key);
    if (socket.keys.size >= this.limits[socket.family].perSocket) this.roomy[socket.family].delete(socket);
    const use = socket.groups.get(groupKey(membership)) ?? { anySource: false, sources: 0 };
    if (membership.source) use.sources++;
    else use.anySource = true;
    socket.groups.set(groupKey(membership), use);
    this.joined.set(membership.key, { membership, socket, seq: this.seq++ });
    return { membership, socket, heldBefore };
  }

  /**
   * Takes the results of a batch's joins, in order: the book-keeping of those refused is undone, and
   * those refused for want of room are returned, to be tried on another socket.
   */
  private settleJoins(planned: PlannedJoin[], results: StepResult[]): Membership[] {
    const again: Membership[] = [];
    const refusedOn = new Map<MembershipSocket, number>();
    planned.forEach(({ membership, socket, heldBefore }, i) => {
      const { key } = membership;
      const failure = results[i];
      if (!failure) {
        this.pending.delete(key);
        this.failures.delete(key);
        return;
      }
      const refusedBefore = refusedOn.get(socket) ?? 0;
      refusedOn.set(socket, refusedBefore + 1);
      // Out of option memory (net.core.optmem_max), for IPv4 often well before igmp_max_memberships:
      // the socket is full, the next one takes it. A socket holding nothing that refuses is a real
      // failure. (The group's own limits fit, as far as they could be read: reserve() chose a
      // socket where they do.)
      const held = heldBefore - refusedBefore;
      if (OUT_OF_ROOM.has(failure.code) && held > 0) {
        socket.full = true;
        this.roomy[socket.family].delete(socket);
        this.release(this.joined.get(key)!);
        again.push(membership);
        return;
      }
      this.release(this.joined.get(key)!);
      if (this.failures.get(key) !== failure.message) {
        this.log.warn('cannot join group', { group: membership.group, ifindex: membership.ifindex, error: failure.message });
      }
      this.failures.set(key, failure.message);
    });
    return again;
  }

  /** Forgets a membership of a socket (left, or refused by the kernel). */
  private release(entry: Joined): void {
    const { membership, socket } = entry;
    socket.keys.delete(membership.key);
    const use = socket.groups.get(groupKey(membership));
    if (use) {
      if (membership.source) use.sources--;
      else use.anySource = false;
      if (!use.anySource && use.sources === 0) socket.groups.delete(groupKey(membership));
    }
    if (!socket.full) this.roomy[socket.family].add(socket);
    if (this.joined.get(membership.key) === entry) this.joined.delete(membership.key);
  }

  /** Whether the group's own limits (one mode per group, sources per group) let `socket` take it. */
  private sourcesFit(socket: MembershipSocket, membership: Membership): boolean {
    const use = socket.groups.get(groupKey(membership));
    if (!use) return true;
    if (!membership.source) return false; // the group is joined for given sources here already
    return !use.anySource && use.sources < this.limits[socket.family].sourcesPerGroup;
  }

  /**
   * A socket of the membership's family with room that can take it within the kernel's per-socket
   * limits, else a new one. (An IPv6 socket could hold IPv4 memberships too, but then its option
   * memory and counts would be shared by two sets of limits.)
   */
  private socketFor(membership: Membership): MembershipSocket {
    const family = familyOf(membership);
    for (const socket of this.roomy[family]) if (this.sourcesFit(socket, membership)) return socket;
    const socket: MembershipSocket = { fd: this.addon.openMembershipSocket(family), family, keys: new Set<string>(), groups: new Map<string, GroupUse>(), full: false };
    this.sockets.push(socket);
    this.roomy[family].add(socket);
    return socket;
  }
}
