/**
 * Memberships spreads joins over sockets within the kernel's per-socket rules, which the fake addon
 * below enforces as the kernel does: at most `perSocket` memberships, at most `sourcesPerGroup`
 * sources of one group, and no group joined both for any source and for given sources. Its batches
 * (applyMemberships) resolve on a later turn of the event loop, as the addon's thread does, and it
 * refuses a batch asked for while another runs. (test/unit/memberships-kernel.test.ts: the same
 * against the kernel.)
 */
import { expect } from 'chai';

import type { MembershipFailure, MembershipResults, Native } from '../../native';
import { MEMBERSHIP_OP_WORDS, MembershipOpKind } from '../../native';
import { formatIPv4 } from '../../server/formats/addresses';
import type { Membership } from '../../server/net/memberships';
import { logger } from '../../server/log';
import { LEAVE_BATCH, Memberships } from '../../server/net/memberships';

class KernelLikeAddon {
  private nextFd = 100;
  readonly sockets = new Map<number, Array<{ group: string; ifindex: number; source: string }>>();

  openMembershipSocket(): number {
    const fd = this.nextFd++;
    this.sockets.set(fd, []);
    return fd;
  }

  joinGroup(fd: number, group: string, ifindex: number, source?: string): void {
    const held = this.sockets.get(fd)!;
    const same = held.filter((m) => m.group === group && m.ifindex === ifindex);
    if (held.length >= 4) throw Object.assign(new Error('setsockopt: No buffer space available'), { code: 'ENOBUFS' });
    if (same.some((m) => (m.source === '') !== (source === undefined))) throw Object.assign(new Error('setsockopt: Invalid argument'), { code: 'EINVAL' });
    if (source !== undefined && same.length >= 3) throw Object.assign(new Error('setsockopt: No buffer space available'), { code: 'ENOBUFS' });
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
    const errno = new Int32Array(ops.length / MEMBERSHIP_OP_WORDS);
    const failures: MembershipFailure[] = [];
    for (let i = 0; i < errno.length; i++) {
      const [kind, fd, group, ifindex, source] = ops.subarray(i * MEMBERSHIP_OP_WORDS, (i + 1) * MEMBERSHIP_OP_WORDS);
      try {
        if (kind === MembershipOpKind.close) this.closeFd(fd);
        else if (kind === MembershipOpKind.join) this.joinGroup(fd, formatIPv4(group), ifindex, source ? formatIPv4(source) : undefined);
        else this.leaveGroup(fd, formatIPv4(group), ifindex, source ? formatIPv4(source) : undefined);
      } catch (err) {
        const { code = 'EIO', message } = err as Error & { code?: string };
        errno[i] = 1;
        failures.push({ index: i, code, errno: 1, message });
      }
    }
    this.running = false;
    return { errno, failures };
  }
}

function membership(group: string, source = '', ifindex = 2): [string, Membership] {
  const key = `${ifindex}|${group}|${source}`;
  return [key, { key, ifindex, group, source }];
}

describe('IGMP memberships', () => {
  it('spreads joins within the per-socket limits: memberships, sources per group, one mode per group', async () => {
    const addon = new KernelLikeAddon();
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 4, 3);
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
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 100, 3);
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
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 4, 3);
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
      if (refuse && group === '239.9.9.9') throw Object.assign(new Error('setsockopt: No such device'), { code: 'ENODEV' });
      joinGroup(fd, group, ifindex, source);
    };
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 4, 3);
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
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 4, 3);
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
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 1000, 3);
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
      throw Object.assign(new Error('setsockopt: No buffer space available'), { code: 'ENOBUFS' });
    };
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 4, 3);
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
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 100, 3);
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
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 4, 3);
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
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 4, 3);
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
});
