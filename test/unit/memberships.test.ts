/**
 * Memberships spreads joins over sockets within the kernel's per-socket rules, which the fake addon
 * below enforces as the kernel does: at most `perSocket` memberships (refused with ENOBUFS on an IPv4
 * socket, ENOMEM on an IPv6 one, as each runs out of option memory), at most `sourcesPerGroup`
 * sources of one group, no group joined both for any source and for given sources, and (unlike the
 * kernel, which lets an IPv6 socket hold IPv4 memberships) memberships of the socket's family only. Its batches
 * (applyMemberships) resolve on a later turn of the event loop, as the addon's thread does, and it
 * refuses a batch asked for while another runs. (test/unit/memberships-kernel.test.ts: the same
 * against the kernel.)
 */
import { expect } from 'chai';

import type { MembershipFailure, MembershipResults, Native } from '../../native';
import { MEMBERSHIP_OP_WORDS, MEMBERSHIP_OP_WORDS_IPV6, MembershipOpKind } from '../../native';
import { formatIPv4 } from '../../server/formats/addresses';
import { formatIPv6, ipv6FromWords } from '../../server/formats/ipv6';
import type { IpFamily } from '../../server/formats/ip-address';
import type { Membership, SocketLimits } from '../../server/net/memberships';
import { logger } from '../../server/log';
import { LEAVE_BATCH, MAX_PER_SOCKET, Memberships, mldPerSocket } from '../../server/net/memberships';

/** The same limits for both families. */
function limits(perSocket: number, sourcesPerGroup: number): Record<IpFamily, SocketLimits> {
  return { 4: { perSocket, sourcesPerGroup }, 6: { perSocket, sourcesPerGroup } };
}

const refusal = (code: string, text: string) => Object.assign(new Error(`setsockopt: ${text}`), { code });

class KernelLikeAddon {
  private nextFd = 100;
  readonly sockets = new Map<number, Array<{ group: string; ifindex: number; source: string }>>();
  readonly families = new Map<number, IpFamily>();

  openMembershipSocket(family: IpFamily = 4): number {
    const fd = this.nextFd++;
    this.sockets.set(fd, []);
    this.families.set(fd, family);
    return fd;
  }

  joinGroup(fd: number, group: string, ifindex: number, source?: string): void {
    const held = this.sockets.get(fd)!;
    const same = held.filter((m) => m.group === group && m.ifindex === ifindex);
    const family = this.families.get(fd);
    if ((family === 6) !== group.includes(':')) throw refusal('EAFNOSUPPORT', `a group of the other family on an IPv${family} socket`);
    if (held.length >= 4) throw family === 6 ? refusal('ENOMEM', 'Cannot allocate memory') : refusal('ENOBUFS', 'No buffer space available');
    if (same.some((m) => (m.source === '') !== (source === undefined))) throw refusal('EINVAL', 'Invalid argument');
    if (source !== undefined && same.length >= 3) throw refusal('ENOBUFS', 'No buffer space available');
    held.push({ group, ifindex, source: source ?? '' });
  }

  leaveGroup(fd: number, group: string, ifindex: number, source?: string): void {
    const held = this.sockets.get(fd)!;
    const at = held.findIndex((m) => m.group === group && m.ifindex === ifindex && m.source === (source ?? ''));
    if (at < 0) throw new Error('setsockopt: Cannot assign requested address');
    held.splice(at, 1);
  }

  closeFd(fd: number): void {
    this.sockets.delete(fd);
  }

  /** Batches run so far. */
  batches = 0;
  private running = false;

  async applyMemberships(ops: Uint32Array): Promise<MembershipResults> {
    if (this.running) throw new Error('a batch was asked for while another runs');
    this.running = true;
    this.batches++;
    await new Promise((resolve) => setImmediate(resolve));
    const errno: number[] = [];
    const failures: MembershipFailure[] = [];
    for (let at = 0; at < ops.length; ) {
      const i = errno.length;
      const ipv6 = (ops[at] & MembershipOpKind.ipv6) !== 0;
      const step = ops.subarray(at, (at += ipv6 ? MEMBERSHIP_OP_WORDS_IPV6 : MEMBERSHIP_OP_WORDS));
      const kind = step[0] & ~MembershipOpKind.ipv6;
      const fd = step[1];
      // [kind, fd, group, ifindex, source], an address in 1 word or (IPv6) 4.
      const [group, ifindex, source] = ipv6
        ? [formatIPv6(ipv6FromWords(step.subarray(2, 6))), step[6], step.subarray(7).some((w) => w !== 0) ? formatIPv6(ipv6FromWords(step.subarray(7))) : undefined]
        : [formatIPv4(step[2]), step[3], step[4] ? formatIPv4(step[4]) : undefined];
      errno.push(0);
      try {
        if (kind === MembershipOpKind.close) this.closeFd(fd);
        else if (kind === MembershipOpKind.join) this.joinGroup(fd, group, ifindex, source);
        else this.leaveGroup(fd, group, ifindex, source);
      } catch (err) {
        const { code = 'EIO', message } = err as Error & { code?: string };
        errno[i] = 1;
        failures.push({ index: i, code, errno: 1, message });
      }
    }
    this.running = false;
    return { errno: Int32Array.from(errno), failures };
  }
}

function membership(group: string, source = '', ifindex = 2): [string, Membership] {
  const key = `${ifindex}|${group}|${source}`;
  return [key, { key, ifindex, group, source }];
}

describe('IGMP and MLD memberships', () => {
  it('spreads joins within the per-socket limits: memberships, sources per group, one mode per group', async () => {
    const addon = new KernelLikeAddon();
    const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(4, 3));
    const wanted = new Map([
      ...Array.from({ length: 7 }, (_, i) => membership('232.1.1.1', `10.0.0.${i + 1}`)),
      membership('232.1.1.1', '', 3), // the same group on another interface, any source
      membership('239.1.1.1'),
      membership('239.1.1.2'),
      membership('232.1.1.1'), // any source of a group others join for given sources
    ]);
    await memberships.sync(wanted);
    expect([...memberships.failures]).to.deep.equal([]);
    const held = [...addon.sockets.values()].flat();
    expect(held).to.have.length(wanted.size);

    // Leaving and joining again reuses the room left.
    const fewer = new Map([...wanted].filter(([key]) => !key.endsWith('10.0.0.1') && !key.endsWith('10.0.0.2')));
    await memberships.sync(fewer);
    await memberships.sync(new Map([...fewer, membership('232.1.1.1', '10.0.0.99')]));
    expect([...memberships.failures]).to.deep.equal([]);
    expect([...addon.sockets.values()].flat()).to.have.length(fewer.size + 1);

    await memberships.close();
    expect(addon.sockets.size).to.equal(0);
  });

  it('takes a refusal for want of room (ENOBUFS, option memory) as a full socket and goes on in another', async () => {
    const addon = new KernelLikeAddon(); // refuses a fifth membership per socket
    const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(100, 3));
    const wanted = new Map(Array.from({ length: 10 }, (_, i) => membership(`239.1.1.${i + 1}`)));
    await memberships.sync(wanted);
    expect([...memberships.failures]).to.deep.equal([]);
    expect([...addon.sockets.values()].map((held) => held.length)).to.deep.equal([4, 4, 2]);
  });

  it('joins and leaves by difference, as a full sync would, leaving newest first', async () => {
    const addon = new KernelLikeAddon();
    const left: string[] = [];
    const leaveGroup = addon.leaveGroup.bind(addon);
    addon.leaveGroup = (fd, group, ifindex, source) => {
      left.push(group);
      leaveGroup(fd, group, ifindex, source);
    };
    const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(4, 3));
    const all = Array.from({ length: 9 }, (_, i) => membership(`239.1.1.${i + 1}`));
    await memberships.change(
      all.map(([, m]) => m),
      [],
    );
    expect([...addon.sockets.values()].flat()).to.have.length(9);
    await memberships.change([], [all[2][0], all[7][0], all[5][0]]);
    await memberships.leavesDone();
    expect(left).to.deep.equal(['239.1.1.8', '239.1.1.6', '239.1.1.3']);
    const held = () => new Set([...addon.sockets.values()].flat().map((m) => m.group));
    expect(held()).to.deep.equal(new Set(all.filter((_, i) => ![2, 5, 7].includes(i)).map(([, m]) => m.group)));
    await memberships.sync(new Map(all));
    expect(held()).to.deep.equal(new Set(all.map(([, m]) => m.group)));
    await memberships.close();
    expect(addon.sockets.size).to.equal(0);
  });

  it('tries a refused membership again on the next change until it is joined or no longer wanted', async () => {
    const addon = new KernelLikeAddon();
    let refuse = true;
    const joinGroup = addon.joinGroup.bind(addon);
    addon.joinGroup = (fd, group, ifindex, source) => {
      if (refuse && group === '239.9.9.9') throw refusal('ENODEV', 'No such device');
      joinGroup(fd, group, ifindex, source);
    };
    const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(4, 3));
    const [key, m] = membership('239.9.9.9');
    await memberships.change([m], []);
    expect([...memberships.failures.keys()]).to.deep.equal([key]);
    refuse = false;
    await memberships.change([], []);
    expect([...memberships.failures.keys()]).to.deep.equal([]);
    expect([...addon.sockets.values()].flat().map((x) => x.group)).to.deep.equal(['239.9.9.9']);
    await memberships.close();
  });

  it('runs changes in the order asked, one batch at a time, even when not awaited; leaves after the joins', async () => {
    const addon = new KernelLikeAddon(); // throws if a batch is asked for while another runs
    const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(4, 3));
    const [a, ma] = membership('239.5.5.1');
    const [b, mb] = membership('239.5.5.2');
    const held = () => [...addon.sockets.values()].flat().map((m) => m.group);
    // A change resolves once its joins are made; its leaves follow.
    await memberships.change([ma, mb], []);
    const joined = addon.batches;
    await memberships.change([], [b]);
    expect(held(), 'right after the leave of b was asked for').to.deep.equal(['239.5.5.1', '239.5.5.2']);
    await memberships.leavesDone();
    expect(held()).to.deep.equal(['239.5.5.1']);
    expect(addon.batches - joined, 'the leave: a batch of its own').to.equal(1);
    // DeleteRule then CreateRule of the same group, before the leave ran: kept, no system call.
    let before = addon.batches;
    await Promise.all([memberships.change([], [a]), memberships.change([ma], [])]);
    await memberships.leavesDone();
    expect(held()).to.deep.equal(['239.5.5.1']);
    expect(addon.batches - before, 'left and wanted again before the leave ran').to.equal(0);
    // Left and joined by one change: kept likewise.
    before = addon.batches;
    await memberships.change([ma], [a]);
    await memberships.leavesDone();
    expect(held()).to.deep.equal(['239.5.5.1']);
    expect(addon.batches - before, 'left and joined by one change').to.equal(0);
    // Join then leave, not awaited in between: joined, then left.
    await Promise.all([memberships.change([mb], []), memberships.change([], [b])]);
    await memberships.leavesDone();
    expect(held()).to.deep.equal(['239.5.5.1']);
    // sync() reads the book-keeping the change before it left, not the one it found when called.
    await Promise.all([memberships.change([mb], []), memberships.sync(new Map([membership('239.5.5.2')])), memberships.change([], [b])]);
    await memberships.leavesDone();
    expect(held()).to.deep.equal([]);
    expect([...memberships.failures]).to.deep.equal([]);
    // Once closed, nothing more happens.
    await Promise.all([memberships.close(), memberships.change([ma], [])]);
    expect(addon.sockets.size).to.equal(0);
  });

  it('leaves in the background a few at a time, newest first, and close() leaves what is still to be left', async () => {
    const addon = new KernelLikeAddon();
    const batchSizes: number[] = [];
    const apply = addon.applyMemberships.bind(addon);
    addon.applyMemberships = (ops: Uint32Array) => {
      batchSizes.push(ops.length / MEMBERSHIP_OP_WORDS);
      return apply(ops);
    };
    const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(1000, 3));
    const all = Array.from({ length: LEAVE_BATCH * 3 }, (_, i) => membership(`239.6.${Math.floor(i / 200)}.${(i % 200) + 1}`));
    await memberships.change(
      all.map(([, m]) => m),
      [],
    );
    batchSizes.length = 0;
    await memberships.change([], all.map(([key]) => key));
    await memberships.leavesDone();
    expect(batchSizes, 'leave batches').to.deep.equal([LEAVE_BATCH, LEAVE_BATCH, LEAVE_BATCH]);
    expect([...addon.sockets.values()].flat()).to.deep.equal([]);
    // Leaves asked for and not yet made when mcrd stops: close() makes them.
    await memberships.change(
      all.map(([, m]) => m),
      [],
    );
    void memberships.change([], all.map(([key]) => key));
    await memberships.close();
    expect(addon.sockets.size).to.equal(0);
  });

  it('takes ENOBUFS on a socket holding nothing as a real failure, and opens no socket after socket for it', async () => {
    const addon = new KernelLikeAddon();
    addon.joinGroup = () => {
      throw refusal('ENOBUFS', 'No buffer space available');
    };
    const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(4, 3));
    const wanted = new Map(Array.from({ length: 3 }, (_, i) => membership(`239.6.6.${i + 1}`)));
    await memberships.sync(wanted);
    expect([...memberships.failures.keys()]).to.deep.equal([...wanted.keys()]);
    expect([...memberships.failures.values()]).to.deep.equal(Array(3).fill('setsockopt: No buffer space available'));
    expect(addon.sockets.size).to.equal(1);
    expect(addon.batches).to.equal(1);
    await memberships.close();
  });

  it('joins what fits and retries the rest on the next socket in a batch of its own when a socket fills mid-batch', async () => {
    const addon = new KernelLikeAddon(); // refuses a fifth membership per socket
    const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(100, 3));
    await memberships.change([membership('239.7.7.1')[1], membership('239.7.7.2')[1]], []);
    // 2 held; 6 more: 2 fit, 4 go on to a second socket in a second batch.
    await memberships.change(Array.from({ length: 6 }, (_, i) => membership(`239.7.8.${i + 1}`)[1]), []);
    expect([...memberships.failures]).to.deep.equal([]);
    expect([...addon.sockets.values()].map((held) => held.length)).to.deep.equal([4, 4]);
    expect(addon.batches).to.equal(3);
    await memberships.close();
  });

  it('fails a malformed membership alone, with its reason, and runs the rest of its batch', async () => {
    const addon = new KernelLikeAddon();
    const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(4, 3));
    const [, good] = membership('239.8.8.1');
    const bad: Membership = { key: '2|239.8.8.300|', ifindex: 2, group: '239.8.8.300', source: '' };
    await memberships.change([good, bad], []);
    expect([...memberships.failures]).to.deep.equal([[bad.key, 'joinGroup (239.8.8.300 on ifindex 2): group "239.8.8.300" is not an IPv4 multicast address']]);
    expect([...addon.sockets.values()].flat().map((m) => m.group)).to.deep.equal(['239.8.8.1']);
    await memberships.change([], [bad.key]);
    expect([...memberships.failures]).to.deep.equal([]);
    await memberships.close();
  });

  it('counts a batch the addon cannot run as each of its steps failing: the book-keeping stays true and they are tried again', async () => {
    const addon = new KernelLikeAddon();
    const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(4, 3));
    const apply = addon.applyMemberships.bind(addon);
    addon.applyMemberships = () => Promise.reject(new Error('std::bad_alloc'));
    const [key, m] = membership('239.8.9.1');
    await memberships.change([m], []);
    expect([...memberships.failures]).to.deep.equal([[key, 'std::bad_alloc']]);
    addon.applyMemberships = apply;
    await memberships.change([], []);
    expect([...memberships.failures]).to.deep.equal([]);
    expect([...addon.sockets.values()].flat().map((x) => x.group)).to.deep.equal(['239.8.9.1']);
    await memberships.close();
  });

  describe('IPv6 (MLD)', () => {
    /** What each socket holds, by family: the groups it holds. */
    const heldByFamily = (addon: KernelLikeAddon) =>
      [...addon.sockets].map(([fd, held]) => ({ family: addon.families.get(fd), groups: held.map((m) => (m.source ? `${m.source}>${m.group}` : m.group)) }));

    it('puts IPv6 memberships on IPv6 sockets and IPv4 ones on IPv4 sockets, within each family\'s limits, from one batch', async () => {
      const addon = new KernelLikeAddon();
      const memberships = new Memberships(addon as unknown as Native, logger('net'), {
        4: { perSocket: 3, sourcesPerGroup: 3 },
        6: { perSocket: 2, sourcesPerGroup: 2 },
      });
      const wanted = new Map([
        membership('239.1.1.1'),
        membership('ff3e::1'),
        membership('239.1.1.2'),
        membership('ff3e::2'),
        membership('232.1.1.1', '10.0.0.1'),
        membership('ff3e::1:1', '2001:db8::1'),
        membership('ff3e::1:1', '2001:db8::2'),
        membership('ff3e::1:1', '2001:db8::3'), // a third source of the group: a socket of its own
        membership('ff3e::3', '', 3),
      ]);
      await memberships.sync(wanted);
      expect([...memberships.failures]).to.deep.equal([]);
      expect(addon.batches, 'every join in one batch').to.equal(1);
      expect(heldByFamily(addon)).to.deep.equal([
        { family: 4, groups: ['239.1.1.1', '239.1.1.2', '10.0.0.1>232.1.1.1'] },
        { family: 6, groups: ['ff3e::1', 'ff3e::2'] },
        { family: 6, groups: ['2001:db8::1>ff3e::1:1', '2001:db8::2>ff3e::1:1'] },
        { family: 6, groups: ['2001:db8::3>ff3e::1:1', 'ff3e::3'] },
      ]);
      // Leaving an IPv6 membership makes room on its socket, for IPv6 only.
      wanted.delete(membership('ff3e::2')[0]);
      await memberships.sync(wanted);
      await memberships.leavesDone();
      await memberships.change([membership('239.1.1.3')[1], membership('ff3e::4')[1]], []);
      expect(heldByFamily(addon)).to.deep.equal([
        { family: 4, groups: ['239.1.1.1', '239.1.1.2', '10.0.0.1>232.1.1.1'] },
        { family: 6, groups: ['ff3e::1', 'ff3e::4'] },
        { family: 6, groups: ['2001:db8::1>ff3e::1:1', '2001:db8::2>ff3e::1:1'] },
        { family: 6, groups: ['2001:db8::3>ff3e::1:1', 'ff3e::3'] },
        { family: 4, groups: ['239.1.1.3'] },
      ]);
      await memberships.close();
      expect(addon.sockets.size).to.equal(0);
    });

    it('takes ENOMEM (an IPv6 socket out of option memory) as a full socket, and goes on in another', async () => {
      const addon = new KernelLikeAddon(); // refuses a fifth membership per socket: ENOMEM on IPv6
      const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(100, 3));
      const wanted = new Map(Array.from({ length: 10 }, (_, i) => membership(`ff3e::${i + 1}`)));
      await memberships.sync(wanted);
      expect([...memberships.failures]).to.deep.equal([]);
      expect([...addon.sockets.values()].map((held) => held.length)).to.deep.equal([4, 4, 2]);
      expect(addon.batches).to.equal(3);
      await memberships.close();
    });

    it('reports ENOMEM on an IPv6 socket holding nothing as a real failure', async () => {
      const addon = new KernelLikeAddon();
      addon.joinGroup = () => {
        throw refusal('ENOMEM', 'Cannot allocate memory');
      };
      const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(4, 3));
      const [key, m] = membership('ff3e::9');
      await memberships.change([m], []);
      expect([...memberships.failures]).to.deep.equal([[key, 'setsockopt: Cannot allocate memory']]);
      expect(addon.sockets.size).to.equal(1);
      expect(addon.batches).to.equal(1);
      await memberships.close();
    });

    it('fails a malformed IPv6 membership alone, with its reason', async () => {
      const addon = new KernelLikeAddon();
      const memberships = new Memberships(addon as unknown as Native, logger('net'), limits(100, 10));
      const bad = [
        { key: 'a', ifindex: 2, group: '2001:db8::1', source: '' },
        { key: 'b', ifindex: 2, group: 'ff3e::1::2', source: '' },
        { key: 'c', ifindex: 2, group: 'ff3e::1', source: '10.0.0.1' },
        { key: 'd', ifindex: 2, group: 'ff3e::1', source: 'ff02::1' },
        { key: 'e', ifindex: 2, group: '239.1.1.1', source: '2001:db8::1' },
        { key: 'f', ifindex: 2, group: 'ff3e::1', source: '::' },
      ];
      await memberships.change([...bad, membership('ff3e::8')[1]], []);
      expect([...memberships.failures]).to.deep.equal([
        ['a', 'joinGroup (2001:db8::1 on ifindex 2): group "2001:db8::1" is not an IPv6 multicast address'],
        ['b', 'joinGroup (ff3e::1::2 on ifindex 2): group "ff3e::1::2" is not an IPv6 multicast address'],
        ['c', 'joinGroup (10.0.0.1, ff3e::1 on ifindex 2): source "10.0.0.1" is not a unicast IPv6 address'],
        ['d', 'joinGroup (ff02::1, ff3e::1 on ifindex 2): source "ff02::1" is not a unicast IPv6 address'],
        ['e', 'joinGroup (2001:db8::1, 239.1.1.1 on ifindex 2): source "2001:db8::1" is not a unicast IPv4 address'],
        ['f', 'joinGroup (::, ff3e::1 on ifindex 2): source "::" is not a unicast IPv6 address'],
      ]);
      // (The sockets chosen for the malformed ones were opened, as for any join.)
      expect(heldByFamily(addon).filter(({ groups }) => groups.length > 0)).to.deep.equal([{ family: 6, groups: ['ff3e::8'] }]);
      await memberships.close();
    });

    it('gives an IPv6 socket as many memberships as fit its option memory at their dearest (256 bytes), 1,024 at most', () => {
      expect(mldPerSocket(131_072), "6.18's default optmem_max").to.equal(512);
      expect(mldPerSocket(20_480), 'the default of older kernels').to.equal(80);
      expect(mldPerSocket(2_048)).to.equal(8);
      expect(mldPerSocket(100)).to.equal(1);
      expect(mldPerSocket(1 << 30)).to.equal(MAX_PER_SOCKET);
    });
  });
});
