/**
 * Memberships (server/net/memberships.ts) with the real addon against a real kernel, inside a network
 * namespace this test creates (a veth, mb0): what the kernel holds is read from /proc/net/igmp, and
 * for IPv6 (MLD, in namespaces with IPv6 enabled) from /proc/net/igmp6 and /proc/net/mcfilter6, what
 * it sends from /proc/net/snmp6 and a capture on the veth's peer.
 *
 * The test process stays in the root namespace. Each scenario runs in a child started with
 * `ip netns exec` (this very file run as a script, see the bottom) and prints a JSON report as its
 * last line; the assertions are made here, on the report.
 */
import { execFileSync } from 'child_process';
import { expect } from 'chai';
import crypto from 'crypto';
import fs from 'fs';

import os from 'os';
import path from 'path';

import { MEMBERSHIP_OP_WORDS, MEMBERSHIP_OP_WORDS_IPV6, MembershipOpKind, native, type Native } from '../../native';
import { logger } from '../../server/log';
import { Membership, Memberships, mldPerSocket, readSocketLimits } from '../../server/net/memberships';
import { registerCleanup } from '../support/cleanup';
import { requireRoot } from '../support/fixture';
import { parseIgmp, parseIgmp6, parseMcfilter6 } from '../support/igmp';
import { deleteNamespace, NAMESPACE_PREFIX, runIn, sweepStaleNamespaces } from '../support/netns';
import { runScenarioChild } from '../support/scenario-child';
import { startCapture, tsharkFields } from '../support/tshark';

const SCENARIO_TIMEOUT_MS = 60_000;
const IFNAME = 'mb0';
/** An interface index nothing has in the namespace until the failures scenario makes it. */
const LATE_IFINDEX = 7777;
const LATE_IFNAME = 'late0';
/** The spill scenario's namespace limits: many memberships per socket allowed, little option memory. */
const SPILL_MAX_MEMBERSHIPS = 1000;
const SPILL_OPTMEM = 2048;
const SPILL_GROUPS = 120;
/** IPv6 on in the namespace (off by default there, so that the IPv4 scenarios see no MLD at all). */
const IPV6_ON = ['net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0'];
/** The IPv6 scale scenario: groups over several sockets, and sources of one group beyond mld_max_msf (64). */
const MLD_GROUPS = 3000;
const MLD_SOURCES = 150;
/** The IPv6 spill scenario's option memory: a few dozen MLD memberships per socket. */
const MLD_SPILL_OPTMEM = 4096;
const MLD_SPILL_GROUPS = 100;
const MLD_SPILL_CHANNELS = 40;

// ---------------------------------------------------------------------------------------------
// Inside the namespace.

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function joinedOn(ifname: string): string[] {
  return (parseIgmp(fs.readFileSync('/proc/net/igmp', 'utf8')).get(ifname) ?? []).filter((group) => group !== '224.0.0.1').sort();
}

function membershipOf(ifindex: number, group: string, source = ''): Membership {
  return { key: `${ifindex}|${group}|${source}`, ifindex, group, source };
}

/** IPv6 groups joined on `ifname`, but those every IPv6 interface joins (all-nodes, solicited-node). */
function joined6On(ifname: string): string[] {
  const groups = parseIgmp6(fs.readFileSync('/proc/net/igmp6', 'utf8')).get(ifname) ?? [];
  return groups.filter((group) => !group.startsWith('ff01:') && !group.startsWith('ff02:')).sort();
}

/**
 * IPv6 source filters on `ifname`, as "source>group". (The kernel's /proc/net/mcfilter6 skips the
 * first interfaces whose newest group has no source: each scenario joins a channel last.)
 */
function filters6On(ifname: string): string[] {
  return (parseMcfilter6(fs.readFileSync('/proc/net/mcfilter6', 'utf8')).get(ifname) ?? []).sort();
}

/** A counter of /proc/net/snmp6 ("Icmp6OutMLDv2Reports"). */
function snmp6(name: string): number {
  const line = fs
    .readFileSync('/proc/net/snmp6', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}\t`));
  return line ? Number(line.trim().split(/\s+/)[1]) : Number.NaN;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

/**
 * The addon, counting its batches and the most ever running at once, and checking that every join
 * and leave goes to a socket of its own family (`mixed`: those that did not; the kernel would take
 * an IPv4 group on an IPv6 socket, so only this tells). `failures`: every step's failure message.
 */
function watchedAddon(): { addon: Native; batches: () => number; mostAtOnce: () => number; mixed: () => number; failures: string[] } {
  const real = native();
  let running = 0;
  let most = 0;
  let batches = 0;
  let mixed = 0;
  const failures: string[] = [];
  const families = new Map<number, number>();
  const addon = Object.create(real) as Native;
  addon.openMembershipSocket = (family = 4) => {
    const fd = real.openMembershipSocket(family);
    families.set(fd, family);
    return fd;
  };
  addon.applyMemberships = async (ops) => {
    batches++;
    for (let at = 0; at < ops.length; ) {
      const ipv6 = (ops[at] & MembershipOpKind.ipv6) !== 0;
      if ((ops[at] & ~MembershipOpKind.ipv6) !== MembershipOpKind.close && families.get(ops[at + 1]) !== (ipv6 ? 6 : 4)) mixed++;
      at += ipv6 ? MEMBERSHIP_OP_WORDS_IPV6 : MEMBERSHIP_OP_WORDS;
    }
    most = Math.max(most, ++running);
    try {
      const results = await real.applyMemberships(ops);
      failures.push(...results.failures.map(({ message }) => message));
      return results;
    } finally {
      running--;
    }
  };
  return { addon, batches: () => batches, mostAtOnce: () => most, mixed: () => mixed, failures };
}

const scenarios: Record<string, () => Promise<unknown>> = {
  /**
   * MLD: an any-source group and a source-specific channel joined (the kernel sends MLDv2 reports
   * for them: Icmp6OutMLDv2Reports grows, and the test's capture on the peer names them), left, joined
   * again, and left by close().
   */
  async mld() {
    const ifindex = native().ifNameToIndex(IFNAME);
    const watched = watchedAddon();
    const memberships = new Memberships(watched.addon, logger('net'));
    const any = membershipOf(ifindex, 'ff3e::10:1');
    const channel = membershipOf(ifindex, 'ff3e::10:2', '2001:db8::1');
    const reportsBefore = snmp6('Icmp6OutMLDv2Reports');
    await memberships.change([any, channel], []);
    const joined = { groups: joined6On(IFNAME), filters: filters6On(IFNAME) };
    // The first report leaves at once; its repeats within a second (unsolicited report interval).
    for (let waited = 0; waited < 3000 && snmp6('Icmp6OutMLDv2Reports') === reportsBefore; waited += 50) await sleep(50);
    const reports = snmp6('Icmp6OutMLDv2Reports') - reportsBefore;
    await memberships.change([], [channel.key]);
    await memberships.leavesDone();
    const afterLeave = { groups: joined6On(IFNAME), filters: filters6On(IFNAME) };
    await memberships.change([channel], []);
    const joinedAgain = filters6On(IFNAME);
    await memberships.close();
    await sleep(1500); // the leaves' reports, for the capture
    return { joined, reports, afterLeave, joinedAgain, afterClose: [...joined6On(IFNAME), ...filters6On(IFNAME)], failures: watched.failures, mixed: watched.mixed() };
  },

  /**
   * Thousands of IPv6 groups and sources of one group beyond mld_max_msf, at the namespace's own
   * limits: spread over sockets, none refused.
   */
  async mldScale() {
    const ifindex = native().ifNameToIndex(IFNAME);
    const watched = watchedAddon();
    const memberships = new Memberships(watched.addon, logger('net'));
    const before = socketCount();
    const groups = Array.from({ length: MLD_GROUPS }, (_, i) => membershipOf(ifindex, `ff3e::20:${(i + 1).toString(16)}`));
    const sources = Array.from({ length: MLD_SOURCES }, (_, i) => membershipOf(ifindex, 'ff3e::21:1', `2001:db8::${(i + 1).toString(16)}`));
    await memberships.change([...groups, ...sources], []);
    const report = {
      limits: readSocketLimits()[6],
      optmemMax: Number(fs.readFileSync('/proc/sys/net/core/optmem_max', 'utf8')),
      failures: [...memberships.failures, ...watched.failures],
      groups: joined6On(IFNAME).length,
      filters: filters6On(IFNAME).length,
      sockets: socketCount() - before,
      mixed: watched.mixed(),
    };
    await memberships.close();
    return { ...report, afterClose: joined6On(IFNAME).length + filters6On(IFNAME).length, socketsAfterClose: socketCount() - before };
  },

  /**
   * Little option memory, and sockets allowed far more MLD memberships than fit: the kernel refuses
   * (ENOMEM for a group, ENOBUFS for a source list), and the refused go to the next socket.
   */
  async mldSpill() {
    const ifindex = native().ifNameToIndex(IFNAME);
    const watched = watchedAddon();
    const limits = readSocketLimits();
    const memberships = new Memberships(watched.addon, logger('net'), { ...limits, 6: { ...limits[6], perSocket: 1000 } });
    const before = socketCount();
    const groups = Array.from({ length: MLD_SPILL_GROUPS }, (_, i) => membershipOf(ifindex, `ff3e::30:${(i + 1).toString(16)}`));
    const channels = Array.from({ length: MLD_SPILL_CHANNELS }, (_, i) => membershipOf(ifindex, `ff3e::31:${(i + 1).toString(16)}`, '2001:db8::1'));
    await memberships.change(groups, []);
    const groupSockets = socketCount() - before;
    await memberships.change(channels, []);
    const report = {
      failures: [...memberships.failures],
      refusals: [...new Set(watched.failures.map((message) => message.replace(/\(.*\)/, '(...)')))].sort(),
      groups: joined6On(IFNAME).length,
      filters: filters6On(IFNAME).length,
      groupSockets,
      sockets: socketCount() - before,
      batches: watched.batches(),
    };
    await memberships.close();
    return { ...report, afterClose: joined6On(IFNAME).length, socketsAfterClose: socketCount() - before };
  },

  /** IPv4 and IPv6 memberships asked for in one change: one batch, each on sockets of its family. */
  async mixed() {
    const ifindex = native().ifNameToIndex(IFNAME);
    const watched = watchedAddon();
    const memberships = new Memberships(watched.addon, logger('net'));
    const wanted = Array.from({ length: 50 }, (_, i) =>
      i % 2 === 0 ? membershipOf(ifindex, `239.6.0.${i + 1}`, i % 4 === 0 ? '10.0.0.1' : '') : membershipOf(ifindex, `ff3e::40:${i + 1}`, i % 4 === 1 ? '2001:db8::1' : ''),
    );
    await memberships.change(wanted, []);
    const report = {
      batches: watched.batches(),
      mixed: watched.mixed(),
      failures: [...memberships.failures],
      ipv4: joinedOn(IFNAME),
      ipv6: joined6On(IFNAME),
      filters6: filters6On(IFNAME).length,
    };
    await memberships.change([], wanted.map(({ key }) => key));
    await memberships.leavesDone();
    const afterLeave = [...joinedOn(IFNAME), ...joined6On(IFNAME)];
    await memberships.close();
    return { ...report, afterLeave };
  },

  /**
   * An IPv6 input interface that is missing, appears, goes away and comes back with a new index, as
   * the forwarding plan sees it (a membership's key holds the ifindex: the old one is left, the new
   * one joined).
   */
  async mldInterfaces() {
    const watched = watchedAddon();
    const memberships = new Memberships(watched.addon, logger('net'));
    const late = membershipOf(LATE_IFINDEX, 'ff3e::50:1');
    await memberships.change([late], []);
    const refused = [...memberships.failures];
    ip('link', 'add', LATE_IFNAME, 'index', String(LATE_IFINDEX), 'type', 'veth', 'peer', 'name', `${LATE_IFNAME}p`);
    ip('link', 'set', LATE_IFNAME, 'up');
    await memberships.change([], []);
    const appeared = { failures: [...memberships.failures], joined: joined6On(LATE_IFNAME) };
    ip('link', 'del', LATE_IFNAME);
    await memberships.change([], [late.key]);
    await memberships.leavesDone();
    ip('link', 'add', LATE_IFNAME, 'type', 'veth', 'peer', 'name', `${LATE_IFNAME}p`);
    ip('link', 'set', LATE_IFNAME, 'up');
    const back = membershipOf(native().ifNameToIndex(LATE_IFNAME), late.group);
    await memberships.change([back], []);
    const cameBack = { ifindex: back.ifindex, failures: [...memberships.failures], joined: joined6On(LATE_IFNAME) };
    await memberships.close();
    return { refused, appeared, cameBack, stepFailures: watched.failures, afterClose: joined6On(LATE_IFNAME) };
  },

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
  describe('IGMP and MLD memberships against the kernel (in a network namespace)', function () {
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

    describe('IPv6 (MLD)', () => {
      it('joins and leaves groups and source-specific channels, and the kernel sends MLDv2 reports naming them', async () => {
        const ns = namespace(IPV6_ON);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-mld-'));
        const file = path.join(dir, 'mld.pcapng');
        const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
        const unregisterDir = registerCleanup(removeDir);
        // MLD goes behind a hop-by-hop header (router alert), which the capture filter's icmp6 would miss.
        const capture = await startCapture(ns.name, `${IFNAME}p`, file, { filter: 'ip6' });
        let report: {
          joined: { groups: string[]; filters: string[] };
          reports: number;
          afterLeave: { groups: string[]; filters: string[] };
          joinedAgain: string[];
          afterClose: string[];
          failures: string[];
          mixed: number;
        };
        try {
          report = await ns.run('mld');
        } finally {
          await capture.finish();
        }
        expect(report.failures).to.deep.equal([]);
        expect(report.mixed, 'steps on a socket of the other family').to.equal(0);
        expect(report.joined).to.deep.equal({ groups: ['ff3e::10:1', 'ff3e::10:2'], filters: ['2001:db8::1>ff3e::10:2'] });
        expect(report.reports, 'Icmp6OutMLDv2Reports after the joins').to.be.greaterThan(0);
        expect(report.afterLeave).to.deep.equal({ groups: ['ff3e::10:1'], filters: [] });
        expect(report.joinedAgain).to.deep.equal(['2001:db8::1>ff3e::10:2']);
        expect(report.afterClose).to.deep.equal([]);
        // MLDv2 reports (ICMPv6 type 143) on the wire, their records naming the groups and the source.
        const records = tsharkFields(file, ['icmpv6.type', 'icmpv6.mldr.mar.multicast_address', 'icmpv6.mldr.mar.source_address'])
          .filter(([type]) => type === '143')
          .flatMap(([, groups, sources]) => [...groups.split(','), ...sources.split(',').map((source) => `source ${source}`)]);
        unregisterDir();
        removeDir();
        expect(records).to.include.members(['ff3e::10:1', 'ff3e::10:2', 'source 2001:db8::1']);
      });

      it('spreads thousands of groups, and sources of one group beyond mld_max_msf, over sockets sized by the option memory', async () => {
        const report = await namespace(IPV6_ON).run<{
          limits: { perSocket: number; sourcesPerGroup: number };
          optmemMax: number;
          failures: unknown[];
          groups: number;
          filters: number;
          sockets: number;
          mixed: number;
          afterClose: number;
          socketsAfterClose: number;
        }>('mldScale');
        expect(report.failures).to.deep.equal([]);
        expect(report.mixed).to.equal(0);
        expect(report.limits).to.deep.equal({ perSocket: mldPerSocket(report.optmemMax), sourcesPerGroup: 64 });
        expect(report.groups, 'groups in /proc/net/igmp6').to.equal(MLD_GROUPS + 1);
        expect(report.filters, 'sources in /proc/net/mcfilter6').to.equal(MLD_SOURCES);
        const { perSocket, sourcesPerGroup } = report.limits;
        expect(report.sockets, 'membership sockets').to.be.within(
          Math.max(Math.ceil((MLD_GROUPS + MLD_SOURCES) / perSocket), Math.ceil(MLD_SOURCES / sourcesPerGroup)),
          Math.ceil(MLD_GROUPS / perSocket) + Math.ceil(MLD_SOURCES / sourcesPerGroup),
        );
        expect(report.afterClose).to.equal(0);
        expect(report.socketsAfterClose).to.equal(0);
      });

      it('spills to the next socket when the kernel refuses a join for want of option memory (ENOMEM, ENOBUFS)', async () => {
        const report = await namespace([...IPV6_ON, `net.core.optmem_max=${MLD_SPILL_OPTMEM}`]).run<{
          failures: unknown[];
          refusals: string[];
          groups: number;
          filters: number;
          groupSockets: number;
          sockets: number;
          batches: number;
          afterClose: number;
          socketsAfterClose: number;
        }>('mldSpill');
        expect(report.failures).to.deep.equal([]);
        expect(report.groups).to.equal(MLD_SPILL_GROUPS + MLD_SPILL_CHANNELS);
        expect(report.filters).to.equal(MLD_SPILL_CHANNELS);
        // A group's entry refused for want of option memory is ENOMEM on IPv6 (ENOBUFS on IPv4).
        expect(report.refusals).to.include('joinGroup (...): MCAST_JOIN_GROUP: Cannot allocate memory');
        expect(report.refusals.every((r) => /: (Cannot allocate memory|No buffer space available)$/.test(r)), report.refusals.join('; ')).to.equal(true);
        expect(report.groupSockets, 'sockets of the any-source groups').to.be.greaterThan(1);
        expect(report.sockets).to.be.greaterThan(report.groupSockets);
        // Each batch but the first of a change fills one new socket.
        expect(report.batches).to.be.at.most(report.sockets + 1);
        expect(report.afterClose).to.equal(0);
        expect(report.socketsAfterClose).to.equal(0);
      });

      it('joins IPv4 and IPv6 memberships of one change in one batch, each on sockets of its own family', async () => {
        const report = await namespace(IPV6_ON).run<{
          batches: number;
          mixed: number;
          failures: unknown[];
          ipv4: string[];
          ipv6: string[];
          filters6: number;
          afterLeave: string[];
        }>('mixed');
        expect(report.failures).to.deep.equal([]);
        expect(report.batches).to.equal(1);
        expect(report.mixed, 'steps on a socket of the other family').to.equal(0);
        expect(report.ipv4).to.have.length(25);
        expect(report.ipv6).to.have.length(25);
        expect(report.filters6).to.equal(13);
        expect(report.afterLeave).to.deep.equal([]);
      });

      it('joins on an interface once it appears, leaves it when it goes, and joins it again under its new index', async () => {
        const report = await namespace(IPV6_ON).run<{
          refused: Array<[string, string]>;
          appeared: { failures: unknown[]; joined: string[] };
          cameBack: { ifindex: number; failures: unknown[]; joined: string[] };
          stepFailures: string[];
          afterClose: string[];
        }>('mldInterfaces');
        const refusal = `joinGroup (ff3e::50:1 on ifindex ${LATE_IFINDEX}): MCAST_JOIN_GROUP: No such device`;
        expect(report.refused).to.deep.equal([[`${LATE_IFINDEX}|ff3e::50:1|`, refusal]]);
        expect(report.appeared).to.deep.equal({ failures: [], joined: ['ff3e::50:1'] });
        expect(report.cameBack.ifindex).to.not.equal(LATE_IFINDEX);
        expect(report.cameBack).to.deep.include({ failures: [], joined: ['ff3e::50:1'] });
        // The leave of the membership of the interface gone succeeded (the kernel drops it from the socket).
        expect(report.stepFailures).to.deep.equal([refusal]);
        expect(report.afterClose).to.deep.equal([]);
      });
    });
  });
}
