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
});
