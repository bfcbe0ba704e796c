/**
 * Memberships (server/net/memberships.ts) with the real addon against a real kernel, inside a network
 * namespace this test creates (a veth, mb0): what the kernel holds is read from /proc/net/igmp.
 *
 * The test process stays in the root namespace. Each scenario runs in a child started with
 * `ip netns exec` (this very file run as a script, see the bottom) and prints a JSON report as its
 * last line; the assertions are made here, on the report.
 */
import { execFileSync } from 'child_process';
import { expect } from 'chai';
import crypto from 'crypto';
import fs from 'fs';

import { native, type Native } from '../../native';
import { logger } from '../../server/log';
import { Membership, Memberships } from '../../server/net/memberships';
import { registerCleanup } from '../support/cleanup';
import { requireRoot } from '../support/fixture';
import { parseIgmp } from '../support/igmp';
import { deleteNamespace, NAMESPACE_PREFIX, runIn, sweepStaleNamespaces } from '../support/netns';
import { runScenarioChild } from '../support/scenario-child';

const SCENARIO_TIMEOUT_MS = 60_000;
const IFNAME = 'mb0';
/** An interface index nothing has in the namespace until the failures scenario makes it. */
const LATE_IFINDEX = 7777;
const LATE_IFNAME = 'late0';
/** The spill scenario's namespace limits: many memberships per socket allowed, little option memory. */
const SPILL_MAX_MEMBERSHIPS = 1000;
const SPILL_OPTMEM = 2048;
const SPILL_GROUPS = 120;

// ---------------------------------------------------------------------------------------------
// Inside the namespace.

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function joinedOn(ifname: string): string[] {
  return (parseIgmp(fs.readFileSync('/proc/net/igmp', 'utf8')).get(ifname) ?? []).filter((group) => group !== '224.0.0.1').sort();
}

function membershipOf(ifindex: number, group: string): Membership {
  return { key: `${ifindex}|${group}|`, ifindex, group, source: '' };
}

/** The process's open sockets. */
function socketCount(): number {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}

/** The addon, counting its batches and the most ever running at once. */
function watchedAddon(): { addon: Native; batches: () => number; mostAtOnce: () => number } {
  const real = native();
  let running = 0;
  let most = 0;
  let batches = 0;
  const addon = Object.create(real) as Native;
  addon.applyMemberships = async (ops) => {
    batches++;
    most = Math.max(most, ++running);
    try {
      return await real.applyMemberships(ops);
    } finally {
      running--;
    }
  };
  return { addon, batches: () => batches, mostAtOnce: () => most };
}

const scenarios: Record<string, () => Promise<unknown>> = {
  /** Changes asked for without waiting: applied in order, one batch at a time. */
  async order() {
    const ifindex = native().ifNameToIndex(IFNAME);
    const watched = watchedAddon();
    const memberships = new Memberships(watched.addon, logger('net'));
    const a = membershipOf(ifindex, '239.3.0.1');
    const b = membershipOf(ifindex, '239.3.0.2');
    // As DeleteRule then CreateRule: left, then joined again (or kept, when the leave had not run).
    await Promise.all([memberships.change([a], []), memberships.change([], [a.key]), memberships.change([a], [])]);
    await memberships.leavesDone();
    const leaveThenJoin = joinedOn(IFNAME);
    // Joined, then left.
    await Promise.all([memberships.change([b], []), memberships.change([], [b.key])]);
    await memberships.leavesDone();
    const joinThenLeave = joinedOn(IFNAME);
    // Left and joined again by one change: kept.
    await memberships.change([a], [a.key]);
    await memberships.leavesDone();
    const leaveAndJoin = joinedOn(IFNAME);
    // 600 random joins and leaves of 40 groups, none awaited before the last.
    const groups = Array.from({ length: 40 }, (_, i) => membershipOf(ifindex, `239.3.1.${i + 1}`));
    const expected = new Set<string>([a.group]);
    const calls: Promise<void>[] = [];
    // Changes that change something (a join of a group not joined, a leave of one joined): one batch
    // each at most (a leave and a join of the same group before the leave ran need none).
    let effective = 0;
    for (let i = 0; i < 600; i++) {
      const m = groups[crypto.randomInt(groups.length)];
      const join = crypto.randomInt(2) === 0;
      if (join !== expected.has(m.group)) effective++;
      if (join) {
        calls.push(memberships.change([m], []));
        expected.add(m.group);
      } else {
        calls.push(memberships.change([], [m.key]));
        expected.delete(m.group);
      }
    }
    await Promise.all(calls);
    await memberships.leavesDone();
    const random = { expected: [...expected].sort(), actual: joinedOn(IFNAME), failures: [...memberships.failures], effective };
    const batches = watched.batches();
    await memberships.close();
    return { leaveThenJoin, joinThenLeave, leaveAndJoin, random, afterClose: joinedOn(IFNAME), batches, mostAtOnce: watched.mostAtOnce() };
  },

  /** Little option memory: the kernel refuses joins with ENOBUFS long before igmp_max_memberships. */
  async spill() {
    const ifindex = native().ifNameToIndex(IFNAME);
    const watched = watchedAddon();
    const memberships = new Memberships(watched.addon, logger('net'));
    const before = socketCount();
    const groups = Array.from({ length: SPILL_GROUPS }, (_, i) => membershipOf(ifindex, `239.4.0.${i + 1}`));
    await memberships.change(groups, []);
    const report = {
      failures: [...memberships.failures],
      joined: joinedOn(IFNAME).length,
      sockets: socketCount() - before,
      batches: watched.batches(),
    };
    await memberships.close();
    return { ...report, afterClose: joinedOn(IFNAME).length, socketsAfterClose: socketCount() - before };
  },

  /** A join the kernel refuses (no such interface) is reported, and made on a later change once it can be. */
  async failures() {
    const ifindex = native().ifNameToIndex(IFNAME);
    const memberships = new Memberships(native(), logger('net'));
    const fine = membershipOf(ifindex, '239.5.0.1');
    const late = membershipOf(LATE_IFINDEX, '239.5.0.2');
    await memberships.change([fine, late], []);
    const refused = [...memberships.failures];
    const joinedWhileRefused = joinedOn(IFNAME);
    await memberships.change([], []);
    const stillRefused = [...memberships.failures];
    ip('link', 'add', LATE_IFNAME, 'index', String(LATE_IFINDEX), 'type', 'veth', 'peer', 'name', `${LATE_IFNAME}p`);
    ip('link', 'set', LATE_IFNAME, 'up');
    await memberships.change([], []);
    const report = { refused, joinedWhileRefused, stillRefused, failuresAfter: [...memberships.failures], lateJoined: joinedOn(LATE_IFNAME) };
    await memberships.close();
    return { ...report, afterClose: [...joinedOn(IFNAME), ...joinedOn(LATE_IFNAME)] };
  },
};

// ---------------------------------------------------------------------------------------------
// The tests (root namespace side).

class Namespace {
  readonly name = `${NAMESPACE_PREFIX}${crypto.randomBytes(2).toString('hex')}-${process.pid}-mb`;
  private unregister: (() => void) | null = registerCleanup(() => this.remove());

  constructor(sysctls: string[] = []) {
    try {
      ip('netns', 'add', this.name);
      ip('netns', 'exec', this.name, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', ...sysctls);
      ip('-n', this.name, 'link', 'set', 'lo', 'up');
      ip('-n', this.name, 'link', 'add', IFNAME, 'type', 'veth', 'peer', 'name', `${IFNAME}p`);
      ip('-n', this.name, 'link', 'set', IFNAME, 'up');
      ip('-n', this.name, 'link', 'set', `${IFNAME}p`, 'up');
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  async run<T>(scenario: string): Promise<T> {
    const argv = [process.execPath, '-r', require.resolve('ts-node/register/transpile-only'), __filename, scenario];
    const lines = (await runIn(this.name, argv, SCENARIO_TIMEOUT_MS)).trim().split('\n');
    return JSON.parse(lines[lines.length - 1]) as T;
  }

  private remove(): void {
    deleteNamespace(this.name);
  }

  destroy(): void {
    this.unregister?.();
    this.unregister = null;
    this.remove();
  }
}

if (require.main === module) {
  // Started by Namespace.run(): run one scenario, print its report.
  runScenarioChild(scenarios);
} else {
  describe('IGMP memberships against the kernel (in a network namespace)', function () {
    this.timeout(SCENARIO_TIMEOUT_MS + 10_000);
    const namespaces: Namespace[] = [];
    const namespace = (sysctls: string[] = []) => {
      const ns = new Namespace(sysctls);
      namespaces.push(ns);
      return ns;
    };

    before(function () {
      requireRoot(); // ip netns: fail, never skip
      sweepStaleNamespaces();
    });
    after(() => {
      for (const ns of namespaces.splice(0)) ns.destroy();
    });

    it('applies changes in the order asked, one batch at a time: a leave then a join ends joined, a join then a leave ends left', async () => {
      const report = await namespace().run<{
        leaveThenJoin: string[];
        joinThenLeave: string[];
        leaveAndJoin: string[];
        random: { expected: string[]; actual: string[]; failures: unknown[]; effective: number };
        afterClose: string[];
        batches: number;
        mostAtOnce: number;
      }>('order');
      expect(report.leaveThenJoin).to.deep.equal(['239.3.0.1']);
      expect(report.joinThenLeave).to.deep.equal(['239.3.0.1']);
      expect(report.leaveAndJoin, 'left and joined by one change').to.deep.equal(['239.3.0.1']);
      expect(report.random.actual, '600 joins and leaves asked for without waiting').to.deep.equal(report.random.expected);
      expect(report.random.failures).to.deep.equal([]);
      expect(report.mostAtOnce, 'batches running at once').to.equal(1);
      // At most one batch per change that changed something (join; join, leave; then the random ones).
      expect(report.batches).to.be.at.most(3 + report.random.effective);
      expect(report.afterClose).to.deep.equal([]);
    });

    it('spills to the next socket when the kernel refuses a join for want of option memory (ENOBUFS)', async () => {
      const report = await namespace([`net.ipv4.igmp_max_memberships=${SPILL_MAX_MEMBERSHIPS}`, `net.core.optmem_max=${SPILL_OPTMEM}`]).run<{
        failures: unknown[];
        joined: number;
        sockets: number;
        batches: number;
        afterClose: number;
        socketsAfterClose: number;
      }>('spill');
      expect(report.failures).to.deep.equal([]);
      expect(report.joined).to.equal(SPILL_GROUPS);
      // optmem_max holds a few dozen memberships: the joins were spread over several sockets, each
      // one's refusals tried again on the next in a batch of their own.
      expect(report.sockets, 'membership sockets').to.be.greaterThan(1);
      expect(report.batches).to.equal(report.sockets);
      expect(report.afterClose).to.equal(0);
      expect(report.socketsAfterClose).to.equal(0);
    });

    it('reports a join the kernel refuses, with its reason, and makes it on a later change once it can', async () => {
      const report = await namespace().run<{
        refused: Array<[string, string]>;
        joinedWhileRefused: string[];
        stillRefused: Array<[string, string]>;
        failuresAfter: unknown[];
        lateJoined: string[];
        afterClose: string[];
      }>('failures');
      const reason = `joinGroup (239.5.0.2 on ifindex ${LATE_IFINDEX}): IP_ADD_MEMBERSHIP: No such device`;
      expect(report.refused).to.deep.equal([[`${LATE_IFINDEX}|239.5.0.2|`, reason]]);
      expect(report.joinedWhileRefused, 'the other join of the same change').to.deep.equal(['239.5.0.1']);
      expect(report.stillRefused, 'tried again on the next change').to.deep.equal(report.refused);
      expect(report.failuresAfter).to.deep.equal([]);
      expect(report.lateJoined).to.deep.equal(['239.5.0.2']);
      expect(report.afterClose).to.deep.equal([]);
    });
  });
}
