/**
 * Memberships spreads joins over sockets within the kernel's per-socket rules, which the fake addon
 * below enforces as the kernel does: at most `perSocket` memberships, at most `sourcesPerGroup`
 * sources of one group, and no group joined both for any source and for given sources.
 */
import { expect } from 'chai';

import type { Native } from '../../native';
import type { Membership } from '../../server/net/memberships';
import { logger } from '../../server/log';
import { Memberships } from '../../server/net/memberships';

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
}

function membership(group: string, source = '', ifindex = 2): [string, Membership] {
  const key = `${ifindex}|${group}|${source}`;
  return [key, { key, ifindex, group, source }];
}

describe('IGMP memberships', () => {
  it('spreads joins within the per-socket limits: memberships, sources per group, one mode per group', () => {
    const addon = new KernelLikeAddon();
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 4, 3);
    const wanted = new Map([
      ...Array.from({ length: 7 }, (_, i) => membership('232.1.1.1', `10.0.0.${i + 1}`)),
      membership('232.1.1.1', '', 3), // the same group on another interface, any source
      membership('239.1.1.1'),
      membership('239.1.1.2'),
      membership('232.1.1.1'), // any source of a group others join for given sources
    ]);
    memberships.sync(wanted);
    expect([...memberships.failures]).to.deep.equal([]);
    const held = [...addon.sockets.values()].flat();
    expect(held).to.have.length(wanted.size);

    // Leaving and joining again reuses the room left.
    const fewer = new Map([...wanted].filter(([key]) => !key.endsWith('10.0.0.1') && !key.endsWith('10.0.0.2')));
    memberships.sync(fewer);
    memberships.sync(new Map([...fewer, membership('232.1.1.1', '10.0.0.99')]));
    expect([...memberships.failures]).to.deep.equal([]);
    expect([...addon.sockets.values()].flat()).to.have.length(fewer.size + 1);

    memberships.close();
    expect(addon.sockets.size).to.equal(0);
  });

  it('takes a refusal for want of room (ENOBUFS, option memory) as a full socket and goes on in another', () => {
    const addon = new KernelLikeAddon(); // refuses a fifth membership per socket
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 100, 3);
    const wanted = new Map(Array.from({ length: 10 }, (_, i) => membership(`239.1.1.${i + 1}`)));
    memberships.sync(wanted);
    expect([...memberships.failures]).to.deep.equal([]);
    expect([...addon.sockets.values()].map((held) => held.length)).to.deep.equal([4, 4, 2]);
  });

  it('joins and leaves by difference, as a full sync would, leaving newest first', () => {
    const addon = new KernelLikeAddon();
    const left: string[] = [];
    const leaveGroup = addon.leaveGroup.bind(addon);
    addon.leaveGroup = (fd, group, ifindex, source) => {
      left.push(group);
      leaveGroup(fd, group, ifindex, source);
    };
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 4, 3);
    const all = Array.from({ length: 9 }, (_, i) => membership(`239.1.1.${i + 1}`));
    memberships.change(
      all.map(([, m]) => m),
      [],
    );
    expect([...addon.sockets.values()].flat()).to.have.length(9);
    memberships.change([], [all[2][0], all[7][0], all[5][0]]);
    expect(left).to.deep.equal(['239.1.1.8', '239.1.1.6', '239.1.1.3']);
    const held = () => new Set([...addon.sockets.values()].flat().map((m) => m.group));
    expect(held()).to.deep.equal(new Set(all.filter((_, i) => ![2, 5, 7].includes(i)).map(([, m]) => m.group)));
    memberships.sync(new Map(all));
    expect(held()).to.deep.equal(new Set(all.map(([, m]) => m.group)));
    memberships.close();
    expect(addon.sockets.size).to.equal(0);
  });

  it('tries a refused membership again on the next change until it is joined or no longer wanted', () => {
    const addon = new KernelLikeAddon();
    let refuse = true;
    const joinGroup = addon.joinGroup.bind(addon);
    addon.joinGroup = (fd, group, ifindex, source) => {
      if (refuse && group === '239.9.9.9') throw Object.assign(new Error('setsockopt: No such device'), { code: 'ENODEV' });
      joinGroup(fd, group, ifindex, source);
    };
    const memberships = new Memberships(addon as unknown as Native, logger('net'), 4, 3);
    const [key, m] = membership('239.9.9.9');
    memberships.change([m], []);
    expect([...memberships.failures.keys()]).to.deep.equal([key]);
    refuse = false;
    memberships.change([], []);
    expect([...memberships.failures.keys()]).to.deep.equal([]);
    expect([...addon.sockets.values()].flat().map((x) => x.group)).to.deep.equal(['239.9.9.9']);
    memberships.close();
  });
});
