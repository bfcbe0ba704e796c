/**
 * The native data plane end to end, in-process, on real sockets inside a network namespace.
 *
 * One namespace, created by this test, holds four veth pairs:
 *
 *   sender ── s0 10.50.1.2 ═══ in0 (no address)      AF_PACKET capture (the data plane's input)
 *   egress ── out0 10.50.2.1 ═══ k0 10.50.2.2        UDP receivers on k0's address
 *   egress ── out1 10.50.3.1 ═══ k1 10.50.3.2        an output whose interface a scenario takes down
 *   egress ── out2 10.50.4.1 ═══ k2 10.50.4.2        a slow output (tbf at 8 kbit/s)
 *   egress ── out3 10.50.5.1 ═══ k3 10.50.5.2        MTU 1000: larger payloads leave as fragments
 *   sender ── s6 ═══ in6 (no address, MTU 1600)       AF_PACKET capture of injected IPv6 frames
 *   egress ── out6 fd00:56::1 ═══ k6 fd00:56::2       IPv6 receivers (IPv6 is on only here and on lo)
 *
 * A dgram socket sends multicast out of s0; the data plane reads it from in0 and sends the UDP
 * payloads through connected egress sockets (bound to out0) to unicast ports on k0, where dgram
 * receivers collect them. k0 accepts packets from out0's (local) source address (accept_local; a
 * permanent neighbour entry replaces ARP).
 *
 * The test process stays in the root namespace: each scenario runs in a child started with
 * `ip netns exec`, which is this very file run as a script (see the bottom). A scenario asserts with
 * chai and exits non-zero on failure; every traffic loop is bounded in packets and in time.
 */
import { execFileSync } from 'child_process';
import { requireRoot } from '../support/fixture';
import { expect } from 'chai';
import crypto from 'crypto';
import dgram from 'dgram';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { addonFile, native, type BpfInsn, type Dataplane, type RuleCounters, type TracedPacket } from '../../native';
import { registerCleanup } from '../support/cleanup';
import { NAMESPACE_PREFIX, runIn, sweepStaleNamespaces } from '../support/netns';

const SOURCE = '10.50.1.2';
const RELAY_OUT = '10.50.2.1';
const SINK = '10.50.2.2';
const DOWN_RELAY = '10.50.3.1';
const DOWN_SINK = '10.50.3.2';
const SLOW_RELAY = '10.50.4.1';
const SLOW_SINK = '10.50.4.2';
const SMALL_MTU_RELAY = '10.50.5.1';
const SMALL_MTU_SINK = '10.50.5.2';
const SMALL_MTU = 1000;
const GROUP = '239.1.2.3';
const LOOPBACK = '127.0.0.1';
const RELAY_OUT6 = 'fd00:56::1';
const SINK6 = 'fd00:56::2';
const GROUP6 = 'ff3e::5:6';

/** The veth pairs: [data-plane side, its address (none for the capture side), far side, its address]. */
const LINKS = [
  ['in0', null, 's0', SOURCE],
  ['out0', RELAY_OUT, 'k0', SINK],
  ['out1', DOWN_RELAY, 'k1', DOWN_SINK],
  ['out2', SLOW_RELAY, 'k2', SLOW_SINK],
  ['out3', SMALL_MTU_RELAY, 'k3', SMALL_MTU_SINK],
] as const;
const ACCEPT_ALL: BpfInsn[] = [[0x06, 0, 0, 0x40000]];
const SCENARIO_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Namespace set-up (root namespace side).

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

class Namespace {
  readonly name = `${NAMESPACE_PREFIX}${crypto.randomBytes(2).toString('hex')}-${process.pid}-dp`;
  private unregister: (() => void) | null = registerCleanup(() => this.remove());

  constructor() {
    try {
      this.build();
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  private build(): void {
    const n = this.name;
    ip(['netns', 'add', n]);
    // Before any link exists, so that every interface inherits it: no IPv6 noise on the links, no
    // reverse-path filter, and packets from the namespace's own addresses accepted (the sinks
    // receive from the egress side's addresses, which are local too).
    ip(['netns', 'exec', n, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1',
      'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv4.conf.all.accept_local=1']);
    ip(['-n', n, 'link', 'set', 'lo', 'up']);
    for (const [near, nearAddress, far, farAddress] of LINKS) {
      ip(['-n', n, 'link', 'add', near, 'type', 'veth', 'peer', 'name', far]);
      if (nearAddress) ip(['-n', n, 'addr', 'add', `${nearAddress}/24`, 'dev', near]);
      ip(['-n', n, 'addr', 'add', `${farAddress}/24`, 'dev', far]);
      ip(['-n', n, 'link', 'set', near, 'up']);
      ip(['-n', n, 'link', 'set', far, 'up']);
      if (nearAddress) {
        // A permanent neighbour entry: no ARP between two addresses of the same namespace.
        const [link] = JSON.parse(ip(['-j', '-n', n, 'link', 'show', far])) as Array<{ address: string }>;
        ip(['-n', n, 'neigh', 'replace', farAddress, 'lladdr', link.address, 'dev', near, 'nud', 'permanent']);
      }
    }
    this.buildIpv6(n);
    ip(['-n', n, 'link', 'set', 'out3', 'mtu', String(SMALL_MTU)]);
    ip(['-n', n, 'link', 'set', 'k3', 'mtu', String(SMALL_MTU)]);
    // out2 drains at 1 kB/s: a socket sending through it soon finds its send buffer full.
    ip(['netns', 'exec', n, 'tc', 'qdisc', 'add', 'dev', 'out2', 'root', 'tbf', 'rate', '8kbit', 'burst', '1600', 'limit', '1000000']);
  }

  /**
   * s6 ═ in6 carries frames injected on s6 (neither end has IPv6 on: the capture needs none), and
   * out6 ═ k6 IPv6 addresses without duplicate address detection, and a permanent neighbour entry
   * for each of k6's addresses (its link-local one too).
   */
  private buildIpv6(n: string): void {
    ip(['-n', n, 'link', 'add', 'in6', 'mtu', '1600', 'type', 'veth', 'peer', 'name', 's6', 'mtu', '1600']);
    ip(['-n', n, 'link', 'add', 'out6', 'type', 'veth', 'peer', 'name', 'k6']);
    for (const end of ['out6', 'k6', 'lo']) {
      ip(['netns', 'exec', n, 'sysctl', '-q', '-w', `net.ipv6.conf.${end}.accept_dad=0`, `net.ipv6.conf.${end}.disable_ipv6=0`]);
    }
    ip(['-n', n, 'addr', 'add', `${RELAY_OUT6}/64`, 'dev', 'out6', 'nodad']);
    ip(['-n', n, 'addr', 'add', `${SINK6}/64`, 'dev', 'k6', 'nodad']);
    for (const link of ['in6', 's6', 'out6', 'k6']) ip(['-n', n, 'link', 'set', link, 'up']);
    const [k6] = JSON.parse(ip(['-j', '-n', n, 'addr', 'show', 'dev', 'k6'])) as Array<{ address: string; addr_info: Array<{ family: string; scope: string; local: string }> }>;
    const linkLocal = k6.addr_info.find((a) => a.family === 'inet6' && a.scope === 'link');
    if (!linkLocal) throw new Error(`k6 has no link-local address: ${JSON.stringify(k6.addr_info)}`);
    for (const address of [SINK6, linkLocal.local]) ip(['-n', n, 'neigh', 'replace', address, 'lladdr', k6.address, 'dev', 'out6', 'nud', 'permanent']);
  }

  /** Runs a scenario of this file inside the namespace; rejects with its stderr when it fails. */
  run(scenario: string): Promise<string> {
    const argv = [process.execPath, '-r', require.resolve('ts-node/register/transpile-only'), __filename, scenario, this.name];
    return runIn(this.name, argv, SCENARIO_TIMEOUT_MS);
  }

  private remove(): void {
    try {
      for (const pid of ip(['netns', 'pids', this.name]).split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      ip(['netns', 'del', this.name]);
    } catch {
      // already gone
    }
  }

  destroy(): void {
    this.unregister?.();
    this.unregister = null;
    this.remove();
  }
}

// ---------------------------------------------------------------------------------------------
// Scenario helpers (inside the namespace).

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

function digest(payload: Buffer): string {
  return crypto.createHash('sha1').update(payload).digest('hex');
}

/** Distinct payloads of varied sizes (0 and 1472 bytes included): a 4-byte sequence number, then random bytes. */
function payloads(count: number, tag: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    if (i === 0) return Buffer.alloc(0);
    const size = i === 1 ? 1472 : 4 + ((i * 37) % 1200);
    const payload = crypto.randomBytes(size);
    payload.writeUInt32BE((tag << 24) | i, 0);
    return payload;
  });
}

/** A UDP receiver on the sink address that keeps every datagram. */
class Receiver {
  readonly received: Buffer[] = [];
  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (message) => this.received.push(message));
  }

  static async open(port: number, address = SINK): Promise<Receiver> {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => resolve());
    });
    return new Receiver(socket);
  }

  digests(): string[] {
    return this.received.map(digest).sort();
  }

  close(): void {
    this.socket.close();
  }
}

/** Sends multicast out of s0 (no local loopback), paced in small bursts so nothing is dropped. */
class Sender {
  private constructor(private readonly socket: dgram.Socket) {}

  static async open(): Promise<Sender> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, SOURCE, () => resolve()));
    socket.setMulticastInterface(SOURCE);
    socket.setMulticastLoopback(false);
    socket.setMulticastTTL(1);
    return new Sender(socket);
  }

  async send(messages: Buffer[], port: number, burst = 16, pauseMs = 2): Promise<void> {
    for (let i = 0; i < messages.length; i++) {
      await new Promise<void>((resolve, reject) => this.socket.send(messages[i], port, GROUP, (err) => (err ? reject(err) : resolve())));
      if (i % burst === burst - 1) await sleep(pauseMs);
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** The sockets a worker would get from its supervisor, opened with the addon's own functions. */
const sockets = {
  input(): number {
    return native().openPacketSocket({ ifindex: native().ifNameToIndex('in0'), rcvbuf: 8 << 20, filter: ACCEPT_ALL });
  },
  /** An egress socket (unconnected: outputs name their destinations) on `ifname`. */
  sender(ifname = 'out0', sndbuf = 1 << 20): number {
    return native().openEgressSocket({ ifname, ifindex: native().ifNameToIndex(ifname), ttl: 64, tos: 0, dontFragment: false, sndbuf });
  },
};

/**
 * An output with a sender of its own (both numbered `handle`) sending to `address`:`port`; returns
 * the sender's fd.
 */
function addEgress(dp: Dataplane, handle: number, port: number, address = SINK, ifname = 'out0', sndbuf = 1 << 20): number {
  const fd = sockets.sender(ifname, sndbuf);
  dp.addSender(handle, fd, FIXED_SEND_POLICY, UNKNOWN_MTU);
  dp.addOutput(handle, handle, address, port);
  return fd;
}

/** The CPUs this process may run on (a container may exclude some), from /proc/self/status. */
function allowedCores(): number[] {
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return list.split(',').flatMap((range) => {
    const [first, last = first] = range.split('-').map(Number);
    return Array.from({ length: last - first + 1 }, (_, i) => first + i);
  });
}

/** The namespace's UDP OutDatagrams (one per UDP send call: a GSO message counts once). */
function udpOutDatagrams(): number {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((line) => line.startsWith('Udp: '));
  const [names, values] = lines.map((line) => line.split(/\s+/).slice(1));
  return Number(values[names.indexOf('OutDatagrams')]);
}

/** User + system CPU time, in clock ticks, of this process's data-plane thread (named mcr-dataplane; one Dataplane open). */
function dataplaneCpuTicks(): number {
  const tasks = fs.readdirSync('/proc/self/task').filter((tid) => fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'mcr-dataplane');
  if (tasks.length !== 1) throw new Error(`expected one mcr-dataplane thread, found ${tasks.length}`);
  // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
  const stat = fs.readFileSync(`/proc/self/task/${tasks[0]}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** What /proc says fd is ("socket:[123]"), or null when it is closed. */
function fdTarget(fd: number): string | null {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

function rule(counters: RuleCounters[], id: string): RuleCounters {
  const found = counters.find((r) => r.id === id);
  if (!found) throw new Error(`no counters for rule ${id} in ${JSON.stringify(counters.map((r) => r.id))}`);
  return found;
}

function expectAllReceived(receiver: Receiver, sent: Buffer[], what: string): void {
  expect(receiver.received.length, `${what}: datagrams received`).to.equal(sent.length);
  expect(receiver.digests(), `${what}: payloads`).to.deep.equal(sent.map(digest).sort());
}

// ---------------------------------------------------------------------------------------------
// Scenarios (each runs in its own child process inside the namespace).

const scenarios: Record<string, () => Promise<void>> = {
  /**
   * Fan-out to two outputs that share one sender (one socket, each send naming its destination),
   * byte-exact, with every counter checked; unmatched and exact-source rules.
   */
  async forward() {
    const dp = new (native().Dataplane)({ core: allowedCores()[0], batch: 32 });
    const [r1, r2] = [await Receiver.open(6001), await Receiver.open(6002)];
    const sender = await Sender.open();
    dp.addInput(1, sockets.input());
    dp.addSender(1, sockets.sender(), FIXED_SEND_POLICY, UNKNOWN_MTU);
    dp.addOutput(10, 1, SINK, 6001);
    dp.addOutput(11, 1, SINK, 6002);
    dp.setRules([
      { id: 'fanout', input: 1, group: GROUP, port: 5000, source: '', outputs: [10, 11] },
      // For port 5001 the rule naming the sender's source wins over the any-source one.
      { id: 'exact', input: 1, group: GROUP, port: 5001, source: SOURCE, outputs: [11] },
      { id: 'any', input: 1, group: GROUP, port: 5001, source: '', outputs: [10] },
      { id: 'elsewhere', input: 1, group: GROUP, port: 5002, source: '10.9.9.9', outputs: [10] },
    ]);

    const before = BigInt(Date.now()) * 1_000_000n;
    const fanout = payloads(300, 1);
    await sender.send(fanout, 5000);
    await waitFor('both receivers to get every packet', () => r1.received.length >= 300 && r2.received.length >= 300);
    expectAllReceived(r1, fanout, 'output 10');
    expectAllReceived(r2, fanout, 'output 11');

    const exact = payloads(20, 2);
    await sender.send(exact, 5001);
    const unmatched = [...payloads(15, 3), ...payloads(10, 4)];
    await sender.send(unmatched.slice(0, 15), 5999); // no rule for the port
    await sender.send(unmatched.slice(15), 5002); // a rule for another source only
    await waitFor('the exact-source rule', () => r2.received.length >= 320);
    await sleep(100); // anything misrouted would have arrived by now
    const after = BigInt(Date.now()) * 1_000_000n;
    expect(r1.received.length, 'output 10 gets nothing but the fan-out').to.equal(300);
    expect(r2.received.slice(300).map(digest).sort()).to.deep.equal(exact.map(digest).sort());

    const counters = dp.ruleCounters();
    expect(counters.map((r) => r.id)).to.deep.equal(['fanout', 'exact', 'any', 'elsewhere']);
    const bytes = BigInt(fanout.reduce((sum, p) => sum + p.length, 0));
    const f = rule(counters, 'fanout');
    expect(f).to.include({ packets: 300n, bytes, forwarded: 300n, sendFailed: 0n });
    expect(f.lastPacketNs >= before && f.lastPacketNs <= after, 'lastPacketNs within the test').to.equal(true);
    for (const [index, handle] of [10, 11].entries()) {
      expect(f.outputs[index]).to.deep.equal({ handle, packets: 300n, bytes, errWouldBlock: 0n, errUnreachable: 0n, errOther: 0n, ttlExpired: 0n, fragmented: 0n, tooBig: 0n });
    }
    expect(rule(counters, 'exact')).to.include({ packets: 20n, forwarded: 20n });
    expect(rule(counters, 'any')).to.include({ packets: 0n, lastPacketNs: 0n });
    expect(rule(counters, 'elsewhere')).to.include({ packets: 0n });

    const inputs = dp.inputCounters();
    expect(inputs).to.have.length(1);
    const sent = fanout.length + exact.length + unmatched.length;
    expect(inputs[0]).to.deep.include({ handle: 1, frames: BigInt(sent), unmatched: BigInt(unmatched.length) });
    expect(inputs[0]).to.deep.include({ truncated: 0n, notIpv4: 0n, badHeader: 0n, badLength: 0n, fragment: 0n, notUdp: 0n });
    const frameBytes = [...fanout, ...exact, ...unmatched].reduce((sum, p) => sum + 14 + 20 + 8 + p.length, 0);
    expect(inputs[0].bytes).to.equal(BigInt(frameBytes));

    // A second input with a taken handle is refused and stays the caller's.
    const spare = sockets.input();
    expect(() => dp.addInput(1, spare)).to.throw(TypeError, /input handle 1 is already in use/);
    expect(fdTarget(spare)).to.match(/^socket:/);
    native().closeFd(spare);

    dp.close();
    sender.close();
    r1.close();
    r2.close();
  },

  /**
   * Full batches of equal sizes leave as UDP GSO messages, byte for byte and in order; a size the
   * output's MTU cannot carry unfragmented falls back to one message per packet, losing nothing.
   */
  async gso() {
    const dp = new (native().Dataplane)({ core: -1, batch: 64 });
    const [wide, narrow] = [await Receiver.open(6001), await Receiver.open(6003, SMALL_MTU_SINK)];
    const sender = await Sender.open();
    // Runs of equal sizes across batch boundaries, alternating sizes, empty payloads, and sizes
    // above what the narrow output carries unfragmented (1000 - 28 bytes).
    const sizes = [
      ...Array<number>(150).fill(100),
      ...Array<number>(70).fill(1400),
      ...Array.from({ length: 40 }, (_, i) => (i % 2 ? 200 : 300)),
      ...Array<number>(3).fill(0),
      ...Array<number>(65).fill(1472),
      ...Array<number>(30).fill(900),
    ];
    const traffic = sizes.map((size, i) => {
      const payload = crypto.randomBytes(size);
      if (size >= 4) payload.writeUInt32BE(i, 0);
      return payload;
    });
    // The rule is installed on a stand-in input (nothing arrives on k3's capture); the real input's
    // socket has everything queued before it replaces the stand-in, so the data plane reads full batches.
    dp.addInput(1, native().openPacketSocket({ ifindex: native().ifNameToIndex('k3'), rcvbuf: 1 << 16, filter: [[0x06, 0, 0, 0]] }));
    addEgress(dp, 10, 6001);
    addEgress(dp, 13, 6003, SMALL_MTU_SINK, 'out3');
    dp.setRules([{ id: 'gso', input: 1, group: GROUP, port: 5000, source: '', outputs: [10, 13] }]);
    const input = sockets.input();
    const datagramsBefore = udpOutDatagrams();
    await sender.send(traffic, 5000, 50, 1);
    await sleep(100);
    dp.removeInput(1);
    dp.addInput(1, input);
    await waitFor('both receivers to get every packet', () => wide.received.length >= traffic.length && narrow.received.length >= traffic.length).catch((err) => {
      const json = JSON.stringify(dp.ruleCounters(), (_k, v) => (typeof v === 'bigint' ? Number(v) : v));
      throw new Error(`${(err as Error).message}: out0 got ${wide.received.length}, out3 ${narrow.received.length} of ${traffic.length}; counters ${json}`);
    });
    await sleep(50);

    const inOrder = (receiver: Receiver) => receiver.received.map(digest);
    expect(inOrder(wide), 'out0: payloads in order').to.deep.equal(traffic.map(digest));
    expect(inOrder(narrow).sort(), 'out3: payloads').to.deep.equal(traffic.map(digest).sort());
    const bytes = BigInt(traffic.reduce((sum, p) => sum + p.length, 0));
    const counters = rule(dp.ruleCounters(), 'gso');
    expect(counters).to.include({ packets: BigInt(traffic.length), forwarded: BigInt(traffic.length), sendFailed: 0n });
    for (const [index, handle] of [10, 13].entries()) {
      expect(counters.outputs[index]).to.deep.equal({ handle, packets: BigInt(traffic.length), bytes, errWouldBlock: 0n, errUnreachable: 0n, errOther: 0n, ttlExpired: 0n, fragmented: 0n, tooBig: 0n });
    }
    // Sent one by one, the two outputs would take 2 x 358 send calls; with GSO out0 needs about
    // one per run of equal sizes within a batch (at most 64 segments, 65507 bytes each).
    const egressCalls = udpOutDatagrams() - datagramsBefore - traffic.length;
    expect(egressCalls, 'UDP send calls of the data plane').to.be.below(traffic.length * 2 * 0.75);

    dp.close();
    sender.close();
    wide.close();
    narrow.close();
  },

  /** Table swaps keep the counters of rules that persist; refused tables change nothing. */
  async swap() {
    const dp = new (native().Dataplane)({ core: -1, batch: 8 });
    const [r1, r2] = [await Receiver.open(6001), await Receiver.open(6002)];
    const sender = await Sender.open();
    dp.addInput(1, sockets.input());
    addEgress(dp, 10, 6001);
    addEgress(dp, 11, 6002);
    const a = { id: 'a', input: 1, group: GROUP, port: 5000, source: '', outputs: [10, 11] };
    const b = { id: 'b', input: 1, group: GROUP, port: 5001, source: '', outputs: [11] };

    dp.setRules([a]);
    await sender.send(payloads(40, 1), 5000);
    await waitFor('40 packets at each output', () => r1.received.length >= 40 && r2.received.length >= 40);

    dp.setRules([b, a]);
    let counters = dp.ruleCounters();
    expect(counters.map((r) => r.id)).to.deep.equal(['b', 'a']);
    expect(rule(counters, 'a')).to.include({ packets: 40n, forwarded: 40n });
    expect(rule(counters, 'a').outputs.map((o) => o.packets)).to.deep.equal([40n, 40n]);
    expect(rule(counters, 'b').packets).to.equal(0n);

    await sender.send(payloads(40, 2), 5000);
    await sender.send(payloads(10, 3), 5001);
    await waitFor('the second round', () => r1.received.length >= 80 && r2.received.length >= 90);
    counters = dp.ruleCounters();
    expect(rule(counters, 'a')).to.include({ packets: 80n, forwarded: 80n });
    expect(rule(counters, 'a').outputs.map((o) => o.packets)).to.deep.equal([80n, 80n]);
    expect(rule(counters, 'b')).to.include({ packets: 10n, forwarded: 10n });

    // Outputs swapped: the rule keeps its counters, each output slot whose handle changed starts over.
    dp.setRules([{ ...a, outputs: [11, 10] }]);
    counters = dp.ruleCounters();
    expect(counters.map((r) => r.id)).to.deep.equal(['a']);
    expect(rule(counters, 'a').packets).to.equal(80n);
    expect(rule(counters, 'a').outputs.map((o) => [o.handle, o.packets])).to.deep.equal([[11, 0n], [10, 0n]]);
    await sender.send(payloads(5, 4), 5000);
    await waitFor('the third round', () => r1.received.length >= 85 && r2.received.length >= 95);
    dp.setRules([{ ...a, outputs: [11] }]); // slot 0 keeps handle 11: its counters stay
    expect(rule(dp.ruleCounters(), 'a').outputs.map((o) => [o.handle, o.packets])).to.deep.equal([[11, 5n]]);

    // Refused tables: a TypeError naming the rule, and the installed table untouched.
    const installed = JSON.stringify(dp.ruleCounters(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    const refusals: Array<[unknown[], RegExp]> = [
      [[a, { ...b, outputs: [99] }], /rules\[1\]\.outputs\[0\]: unknown output handle 99/],
      [[{ ...a, input: 7 }], /rules\[0\]\.input: unknown input handle 7/],
      [[a, { ...a, id: 'a2' }], /rules\[1\]: same match key .* as rules\[0\]/],
      [[a, { ...b, id: 'a' }], /rules\[1\]\.id: duplicate rule id/],
      [[{ ...a, group: '239.1.2' }], /rules\[0\]\.group/],
      [[{ ...a, source: 'any' }], /rules\[0\]\.source/],
      [[{ ...a, port: 65536 }], /rules\[0\]\.port/],
      [[{ ...a, outputs: 10 }], /rules\[0\]\.outputs/],
      [[{ ...a, id: '' }], /rules\[0\]\.id/],
    ];
    for (const [rules, message] of refusals) {
      expect(() => dp.setRules(rules as never), String(message)).to.throw(TypeError, message);
    }
    expect(JSON.stringify(dp.ruleCounters(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).to.equal(installed);
    await sender.send(payloads(5, 5), 5000);
    await waitFor('traffic after the refusals', () => r2.received.length >= 100);
    expect(rule(dp.ruleCounters(), 'a').packets).to.equal(90n);

    // Incremental updates: only the rules named change; the others keep their place and counters.
    dp.updateRules([b], []);
    expect(dp.ruleCounters().map((r) => r.id)).to.deep.equal(['a', 'b']);
    dp.updateRules([{ ...a, outputs: [11, 10] }], ['b', 'never-installed']);
    counters = dp.ruleCounters();
    expect(counters.map((r) => r.id)).to.deep.equal(['a']);
    expect(rule(counters, 'a').packets).to.equal(90n);
    expect(rule(counters, 'a').outputs.map((o) => [o.handle, o.packets])).to.deep.equal([[11, 10n], [10, 0n]]);
    expect(() => dp.updateRules([{ ...b, id: 'b2', port: 5000 }], []), 'a refused update').to.throw(TypeError, /same match key/);
    expect(() => dp.updateRules([a], [7 as never]), 'a bad id').to.throw(TypeError, /removes\[0\]/);
    expect(dp.ruleCounters().map((r) => r.id)).to.deep.equal(['a']);

    dp.close();
    sender.close();
    r1.close();
    r2.close();
  },

  /**
   * Under traffic: outputs come and go (removed while a table still uses them), other rules change,
   * an input is removed. The untouched rule loses nothing, nothing crashes, retired fds get closed.
   */
  async changes() {
    const dp = new (native().Dataplane)({ core: allowedCores().slice(-1)[0], batch: 64 });
    const [steady, churn] = [await Receiver.open(6001), await Receiver.open(6002)];
    const sender = await Sender.open();
    const input = sockets.input();
    dp.addInput(1, input);
    addEgress(dp, 10, 6001);
    const a = { id: 'a', input: 1, group: GROUP, port: 5000, source: '', outputs: [10] };
    dp.setRules([a]);

    // Rule a is never touched; rule b, whose outputs churn, gets traffic of its own.
    const traffic = payloads(3000, 1);
    const sending = Promise.all([sender.send(traffic, 5000, 10, 2), sender.send(payloads(1500, 2), 5001, 5, 2)]);
    let done = false;
    void sending.finally(() => (done = true));

    const retired: Array<[number, string | null]> = [];
    for (let round = 0; round < 40 && !done; round++) {
      const handle = 100 + round;
      const fd = sockets.sender();
      retired.push([fd, fdTarget(fd)]);
      dp.addSender(handle, fd, FIXED_SEND_POLICY, UNKNOWN_MTU);
      dp.addOutput(handle, handle, SINK, 6002);
      dp.setRules([a, { id: 'b', input: 1, group: GROUP, port: 5001, source: '', outputs: [handle] }]);
      await sleep(3);
      // Removed (output and sender) while the installed table still sends to it, then the table drops it.
      dp.removeOutput(handle);
      dp.removeSender(handle);
      await sleep(3);
      dp.setRules([a]);
      await sleep(3);
    }
    await sending;
    await waitFor('every packet of the untouched rule', () => steady.received.length >= traffic.length, 10_000);
    expectAllReceived(steady, traffic, 'untouched rule');
    expect(rule(dp.ruleCounters(), 'a')).to.include({ packets: 3000n, forwarded: 3000n, sendFailed: 0n });
    expect(churn.received.length, 'rule b forwarded while its outputs changed').to.be.greaterThan(0);

    // Retired senders are closed once the thread has moved on (counter reads collect them).
    await waitFor('the removed senders to be closed', () => {
      dp.ruleCounters();
      return retired.every(([fd, target]) => fdTarget(fd) !== target);
    });

    // An input removed under traffic stops counting and its fd is closed; the rest keeps working.
    const inputTarget = fdTarget(input);
    const late = sender.send(payloads(500, 3), 5000, 10, 2);
    await sleep(50);
    dp.removeInput(1);
    expect(dp.inputCounters()).to.deep.equal([]);
    await late;
    await waitFor('the input fd to be closed', () => {
      dp.inputCounters();
      return fdTarget(input) !== inputTarget;
    });
    expect(() => dp.removeInput(1)).to.throw(TypeError, /unknown input handle 1/);
    expect(() => dp.removeOutput(100)).to.throw(TypeError, /unknown output handle 100/);

    dp.close();
    sender.close();
    steady.close();
    churn.close();
  },

  /**
   * Under traffic, with 2,000 other rules spread over every shard of the table: batches of one-rule
   * and many-rule updates (new rules, removes, rules moved, an unchanged upsert of the flowing rule,
   * a flowing rule's outputs changed) rebuild the shards around two flowing rules. Rule a, never
   * changed, loses nothing; rule c, whose first output stays while a second comes and goes, keeps
   * every packet and its own counters; both counters match what the receivers got exactly.
   */
  async neighbours() {
    const dp = new (native().Dataplane)({ core: allowedCores().slice(-1)[0], batch: 64 });
    const [steady, changing, extra] = [await Receiver.open(6001), await Receiver.open(6002), await Receiver.open(6003)];
    const sender = await Sender.open();
    dp.addInput(1, sockets.input());
    addEgress(dp, 10, 6001);
    addEgress(dp, 11, 6002);
    addEgress(dp, 12, 6003);
    // Destinations nothing is sent to (the fillers' groups get no traffic): they churn the destination index.
    const spare = sockets.sender();
    dp.addSender(2, spare, FIXED_SEND_POLICY, UNKNOWN_MTU);
    for (let h = 20; h < 60; h++) dp.addOutput(h, 2, SINK, 7000 + h);
    const a = { id: 'a', input: 1, group: GROUP, port: 5000, source: '', outputs: [10] };
    const c = { id: 'c', input: 1, group: GROUP, port: 5001, source: '', outputs: [11] };
    const filler = (n: number, shift = 0) => ({
      id: `f${n}`,
      input: 1,
      group: `239.200.${(n >> 8) & 255}.${n & 255}`,
      port: 5000 + ((n + shift) % 3),
      source: '',
      outputs: [20 + (n % 40), n % 7 === 0 ? 10 : 20 + ((n + 1 + shift) % 40)],
    });
    let next = 0;
    const fillers = Array.from({ length: 2000 }, () => filler(next++));
    dp.updateRules([a, c, ...fillers], []);

    const [steadyTraffic, changingTraffic] = [payloads(3000, 1), payloads(1500, 2)];
    const sending = Promise.all([sender.send(steadyTraffic, 5000, 10, 2), sender.send(changingTraffic, 5001, 5, 2)]);
    let done = false;
    void sending.finally(() => (done = true));
    let changes = 0;
    for (let round = 0; !done && round < 2000; round++) {
      const n = next++;
      switch (round % 6) {
        case 0:
          dp.updateRules([filler(n)], []); // one new rule
          break;
        case 1:
          dp.updateRules([], [`f${n - 1}`, `f${n - 2000}`]); // one-rule removes
          break;
        case 2:
          dp.updateRules([filler(n - 1500, 1)], []); // one rule moved to another key, outputs changed
          break;
        case 3:
          dp.updateRules([a], []); // the flowing rule, unchanged
          break;
        case 4:
          dp.updateRules([{ ...c, outputs: round % 12 === 4 ? [11, 12] : [11] }], []); // its first output stays
          break;
        default: {
          const many = Array.from({ length: 300 }, (_v, i) => filler(n - 1900 + i, round));
          dp.updateRules(many, Array.from({ length: 100 }, (_v, i) => `f${n - 1000 + i}`)); // most shards rebuilt
        }
      }
      changes++;
      await sleep(1);
    }
    await sending;
    expect(changes, 'changes made while the traffic flowed').to.be.greaterThan(50);
    await waitFor('every packet of both flowing rules', () => steady.received.length >= steadyTraffic.length && changing.received.length >= changingTraffic.length, 10_000);
    await sleep(100);
    expectAllReceived(steady, steadyTraffic, 'rule a');
    expectAllReceived(changing, changingTraffic, 'rule c, first output');
    const counters = dp.ruleCounters();
    expect(rule(counters, 'a')).to.include({ packets: 3000n, forwarded: 3000n, sendFailed: 0n });
    expect(rule(counters, 'a').outputs[0]).to.include({ handle: 10, packets: 3000n });
    expect(rule(counters, 'c')).to.include({ packets: 1500n, forwarded: 1500n, sendFailed: 0n });
    expect(rule(counters, 'c').outputs[0]).to.include({ handle: 11, packets: 1500n });
    expect(extra.received.length, 'rule c\'s second output, while it was there').to.be.greaterThan(0);
    expect(counters.slice(0, 2).map((r) => r.id), 'the first two rules keep their place').to.deep.equal(['a', 'c']);

    dp.close();
    sender.close();
    steady.close();
    changing.close();
    extra.close();
  },

  /** Failing and slow outputs are counted per output and do not hold back the rule's other output. */
  async failures() {
    const dp = new (native().Dataplane)({ core: -1, batch: 16 });
    const good = await Receiver.open(6001);
    const sender = await Sender.open();
    dp.addInput(1, sockets.input());
    addEgress(dp, 10, 6001);
    addEgress(dp, 12, 6999, DOWN_SINK, 'out1');
    addEgress(dp, 13, 6999, SLOW_SINK, 'out2', 1); // the smallest send buffer the kernel allows
    // With its interface down, every send through the (device-bound) socket fails with ENETUNREACH.
    execFileSync('ip', ['link', 'set', 'out1', 'down']);
    dp.setRules([
      { id: 'all', input: 1, group: GROUP, port: 5000, source: '', outputs: [12, 13, 10] },
      { id: 'failing', input: 1, group: GROUP, port: 5001, source: '', outputs: [12] },
    ]);

    const traffic = payloads(60, 1);
    await sender.send(traffic, 5000);
    await waitFor('the good output', () => good.received.length >= traffic.length);
    expectAllReceived(good, traffic, 'good output');
    await sender.send(payloads(40, 2), 5001);
    await waitFor('every packet of the failing rule', () => rule(dp.ruleCounters(), 'failing').packets === 40n);

    const counters = dp.ruleCounters();
    const all = rule(counters, 'all');
    expect(all).to.include({ packets: 60n, forwarded: 60n, sendFailed: 0n });
    const [down, slow, working] = all.outputs;
    expect(down).to.deep.equal({ handle: 12, packets: 0n, bytes: 0n, errWouldBlock: 0n, errUnreachable: 60n, errOther: 0n, ttlExpired: 0n, fragmented: 0n, tooBig: 0n });
    const bytes = BigInt(traffic.reduce((sum, p) => sum + p.length, 0));
    expect(working).to.deep.equal({ handle: 10, packets: 60n, bytes, errWouldBlock: 0n, errUnreachable: 0n, errOther: 0n, ttlExpired: 0n, fragmented: 0n, tooBig: 0n });
    expect(slow).to.include({ handle: 13, errUnreachable: 0n, errOther: 0n, ttlExpired: 0n });
    expect(slow.errWouldBlock > 0n, 'a full send buffer is counted as would-block').to.equal(true);
    expect(slow.packets + slow.errWouldBlock).to.equal(60n);
    const failing = rule(counters, 'failing');
    expect(failing).to.include({ packets: 40n, forwarded: 0n, sendFailed: 40n });
    expect(failing.outputs[0]).to.include({ packets: 0n, errUnreachable: 40n });

    dp.close();
    sender.close();
    good.close();
  },

  /**
   * ICMP errors through a shared sender (IP_RECVERR): a closed port's port unreachable is charged to
   * that output alone (the socket's pending error, which fails the next send to any destination, is
   * not charged to the others), its next packet failing with ECONNREFUSED as a connected socket's
   * next send did; sent + errors = packets on every output, and the trace shows the same failures.
   */
  async refused() {
    const deliveries: TracedPacket[][] = [];
    const dp = new (native().Dataplane)({ core: -1, batch: 16, onTrace: (records) => deliveries.push(records) });
    const [good, other] = [await Receiver.open(6001, LOOPBACK), await Receiver.open(6002, LOOPBACK)];
    const sender = await Sender.open();
    dp.addInput(1, sockets.input());
    const senderFd = sockets.sender('lo');
    dp.addSender(1, senderFd, FIXED_SEND_POLICY, UNKNOWN_MTU);
    dp.addOutput(10, 1, LOOPBACK, 6001);
    dp.addOutput(11, 1, LOOPBACK, 6998); // nobody listens
    dp.addOutput(12, 1, LOOPBACK, 6002);
    dp.addOutput(13, 1, LOOPBACK, 6997); // nobody listens
    dp.setRules([
      { id: 'mixed', input: 1, group: GROUP, port: 5000, source: '', outputs: [10, 11], trace: { sampleEvery: 1, snapLength: 60 } },
      { id: 'other', input: 1, group: GROUP, port: 5001, source: '', outputs: [12] },
      { id: 'paced', input: 1, group: GROUP, port: 5002, source: '', outputs: [13] },
    ]);
    const refused = os.constants.errno.ECONNREFUSED;

    // Back to back, both rules at once: errors arrive while other sends go through the same socket.
    const [mixedTraffic, otherTraffic] = [payloads(200, 1), payloads(200, 2)];
    await Promise.all([sender.send(mixedTraffic, 5000), sender.send(otherTraffic, 5001)]);
    await waitFor('both receivers to get every packet', () => good.received.length >= 200 && other.received.length >= 200);
    await waitFor('every traced record', () => deliveries.flat().length >= 200);
    await sleep(100); // anything miscounted would have been by now
    expectAllReceived(good, mixedTraffic, 'output 10');
    expectAllReceived(other, otherTraffic, 'output 12');
    let counters = dp.ruleCounters();
    const mixed = rule(counters, 'mixed');
    expect(mixed).to.include({ packets: 200n, forwarded: 200n, sendFailed: 0n });
    const bytes = (traffic: Buffer[]) => BigInt(traffic.reduce((sum, p) => sum + p.length, 0));
    expect(mixed.outputs[0]).to.deep.equal({ handle: 10, packets: 200n, bytes: bytes(mixedTraffic), errWouldBlock: 0n, errUnreachable: 0n, errOther: 0n, ttlExpired: 0n, fragmented: 0n, tooBig: 0n });
    expect(rule(counters, 'other').outputs[0]).to.deep.equal({ handle: 12, packets: 200n, bytes: bytes(otherTraffic), errWouldBlock: 0n, errUnreachable: 0n, errOther: 0n, ttlExpired: 0n, fragmented: 0n, tooBig: 0n });
    const closed = mixed.outputs[1];
    expect(closed).to.include({ handle: 11, errWouldBlock: 0n, errOther: 0n, ttlExpired: 0n });
    expect(closed.errUnreachable > 0n, `port unreachable counted on the closed port: ${JSON.stringify(closed, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`).to.equal(true);
    expect(closed.packets + closed.errUnreachable, 'sent + errors on the closed port').to.equal(200n);
    const records = deliveries.flat();
    expect(records.every((r) => r.sends[0].errno === 0), 'output 10 never failed in the trace').to.equal(true);
    expect(records.every((r) => [0, refused].includes(r.sends[1].errno)), 'output 11: sent or ECONNREFUSED').to.equal(true);
    expect(BigInt(records.filter((r) => r.sends[1].errno === refused).length), 'refusals traced = refusals counted').to.equal(closed.errUnreachable);

    // One packet at a time, each ICMP back before the next packet: sent, refused, sent, refused...
    await sender.send(payloads(20, 3), 5002, 1, 30);
    await waitFor('every paced packet', () => rule(dp.ruleCounters(), 'paced').packets === 20n);
    counters = dp.ruleCounters();
    expect(rule(counters, 'paced')).to.include({ forwarded: 10n, sendFailed: 10n });
    expect(rule(counters, 'paced').outputs[0]).to.include({ handle: 13, packets: 10n, errUnreachable: 10n, errOther: 0n, ttlExpired: 0n });

    // More errors queued than one wake-up reads (64): about 150 sent to the closed port through the
    // same socket (from another process) while the data-plane thread sleeps. It reads them all over several
    // turns, and output 11's next packet fails with the error.
    dp.stallForTest(1500);
    await sleep(50);
    const throughSender = (script: string) =>
      execFileSync('python3', ['-c', `import socket, sys\ns = socket.socket(fileno=3)\n${script}`], { stdio: ['ignore', 'pipe', 'pipe', senderFd], encoding: 'utf8', timeout: 10_000 });
    // Each send that finds the socket's pending error fails (and clears it): about half go out.
    throughSender(`for _ in range(300):\n    try:\n        s.sendto(b'x', ('${LOOPBACK}', 6998))\n    except ConnectionRefusedError:\n        pass`);
    const queued = 'try:\n    s.recvmsg(0, 512, socket.MSG_ERRQUEUE | socket.MSG_PEEK | socket.MSG_DONTWAIT)\n    print("queued")\nexcept BlockingIOError:\n    print("empty")';
    expect(throughSender(queued).trim(), 'errors queued while the thread sleeps').to.equal('queued');
    await sleep(1700);
    expect(throughSender(queued).trim(), 'every queued error read').to.equal('empty');
    const refusedBefore = rule(dp.ruleCounters(), 'mixed').outputs[1].errUnreachable;
    await sender.send(payloads(1, 4), 5000);
    await waitFor('the next packet of rule mixed', () => rule(dp.ruleCounters(), 'mixed').packets === 201n);
    expect(rule(dp.ruleCounters(), 'mixed').outputs[1].errUnreachable, 'output 11 after the flood').to.equal(refusedBefore + 1n);

    // Errors on a sender no installed rule uses are left queued, and do not keep the thread busy
    // (epoll tells it of each new error once).
    dp.setRules([]);
    throughSender(`for _ in range(40):\n    try:\n        s.sendto(b'x', ('${LOOPBACK}', 6998))\n    except ConnectionRefusedError:\n        pass`);
    expect(throughSender(queued).trim(), 'errors left queued').to.equal('queued');
    const ticksBefore = dataplaneCpuTicks();
    await sleep(500);
    expect(dataplaneCpuTicks() - ticksBefore, 'CPU ticks (1/100 s) of the data-plane thread in 500 ms').to.be.below(10);

    dp.close();
    sender.close();
    good.close();
    other.close();
  },

  /**
   * Traced rules record their packets (every n-th when sampled) with each output's result; other
   * rules record nothing; records the ring cannot hold while JavaScript is busy are counted as lost.
   */
  async trace() {
    const deliveries: Array<{ records: TracedPacket[]; lost: number }> = [];
    const dp = new (native().Dataplane)({ core: -1, batch: 16, onTrace: (records, lost) => deliveries.push({ records, lost }) });
    const good = await Receiver.open(6001);
    const sender = await Sender.open();
    dp.addInput(1, sockets.input());
    addEgress(dp, 10, 6001);
    execFileSync('ip', ['link', 'set', 'out1', 'up']); // a scenario before may have left it down
    addEgress(dp, 12, 6999, DOWN_SINK, 'out1');
    execFileSync('ip', ['link', 'set', 'out1', 'down']); // every send through it: ENETUNREACH
    const traced = { id: 'traced', input: 1, group: GROUP, port: 5000, source: '', outputs: [10, 12], trace: { sampleEvery: 1, snapLength: 60 } };
    dp.setRules([
      traced,
      { id: 'quiet', input: 1, group: GROUP, port: 5001, source: '', outputs: [10] },
      { id: 'sampled', input: 1, group: GROUP, port: 5002, source: '', outputs: [10], trace: { sampleEvery: 10, snapLength: 2048 } },
    ]);
    const before = BigInt(Date.now()) * 1_000_000n;
    const [tracedTraffic, sampledTraffic] = [payloads(50, 1), payloads(100, 3)];
    await sender.send(tracedTraffic, 5000);
    await sender.send(payloads(50, 2), 5001);
    await sender.send(sampledTraffic, 5002);
    const records = () => deliveries.flatMap((d) => d.records);
    await waitFor('60 records', () => records().length >= 60);
    await sleep(100); // anything recorded wrongly would have arrived by now
    const after = BigInt(Date.now()) * 1_000_000n;

    expect(new Set(records().map((r) => r.ruleId)), 'rules with records').to.deep.equal(new Set(['traced', 'sampled']));
    expect(deliveries.every((d) => d.lost === 0), 'nothing lost').to.equal(true);
    const ofTraced = records().filter((r) => r.ruleId === 'traced');
    expect(ofTraced).to.have.length(50);
    ofTraced.forEach((record, i) => {
      const ipLength = 20 + 8 + tracedTraffic[i].length;
      expect(record).to.deep.include({ input: 1, source: SOURCE, destination: GROUP, destinationPort: 5000, ttl: 1, tos: 0, ipLength, frameLength: 14 + ipLength });
      // Sent in a message of one or several datagrams (GSO, when the batch held equal sizes); not sent: none.
      const sent = record.sends[0];
      expect(sent.segments, `record ${i}: datagrams in its message`).to.be.within(1, 16);
      expect(record.sends, `record ${i} sends`).to.deep.equal([
        { handle: 10, errno: 0, ttl: 64, tos: 0, segments: sent.segments, fragmented: false },
        { handle: 12, errno: os.constants.errno.ENETUNREACH, ttl: 64, tos: 0, segments: 0, fragmented: false },
      ]);
      expect(record.sourcePort).to.equal(ofTraced[0].sourcePort);
      expect(record.frame.length).to.equal(Math.min(60, 14 + ipLength));
      expect([...record.frame.subarray(30, 34)].join('.'), 'destination in the frame').to.equal(GROUP);
      expect(record.timestampNs >= before && record.timestampNs <= after, 'timestamp within the test').to.equal(true);
      expect(record.timeInMcrNs).to.be.within(1, 1e9);
    });
    const ofSampled = records().filter((r) => r.ruleId === 'sampled');
    expect(ofSampled.map((r) => r.frame.subarray(42).toString('hex')), 'every 10th packet, whole').to.deep.equal(
      sampledTraffic.filter((_p, i) => i % 10 === 0).map((p) => p.toString('hex')),
    );

    // While this thread is blocked, another process sends 3000 packets: the ring holds 1024 records.
    dp.setRules([traced]);
    const matchedBefore = rule(dp.ruleCounters(), 'traced').packets;
    const recordsBefore = ofTraced.length;
    execFileSync('python3', ['-c', BURST_SENDER, SOURCE, GROUP, '5000', '3000'], { timeout: 20_000 });
    await waitFor('the burst to be matched', () => rule(dp.ruleCounters(), 'traced').packets - matchedBefore === 3000n);
    await sleep(100);
    const burstRecords = records().filter((r) => r.ruleId === 'traced').length - recordsBefore;
    const lost = deliveries.reduce((sum, d) => sum + d.lost, 0);
    expect(burstRecords, 'records of the burst').to.be.within(1024, 2999);
    expect(burstRecords + lost, 'every matched packet recorded or counted as lost').to.equal(3000);

    dp.close();
    sender.close();
    good.close();
  },

  /**
   * IPv6 in and out, and across families: IPv6 frames from an unroutable link-local source with hop
   * limit 9 (some behind extension headers) relayed to an IPv6 group, to a link-local unicast address
   * in out6's scope and to an IPv4 address; IPv4 relayed to IPv6; an exact IPv6 source. The
   * receivers read each packet's hop limit (TTL) and traffic class (TOS) as it arrived.
   */
  async ipv6() {
    const ns = process.argv[3];
    const deliveries: TracedPacket[][] = [];
    const dp = new (native().Dataplane)({ core: allowedCores()[0], batch: 32, onTrace: (records) => deliveries.push(records) });
    const out6 = native().ifNameToIndex('out6');
    // Every ICMPv6 port unreachable k6 owes is sent (no per-destination rate limit).
    execFileSync('sysctl', ['-q', '-w', 'net.ipv6.icmp.ratelimit=0']);
    const [k6] = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', 'dev', 'k6'], { encoding: 'utf8' })) as Array<{ addr_info: Array<{ family: string; scope: string; local: string }> }>;
    const linkLocal = k6.addr_info.find((a) => a.family === 'inet6' && a.scope === 'link')!.local;
    // Fixed hop limit 5, or the received one less 1; the traffic class (TOS) received kept by both.
    const fixed = { ttl: 5, tos: 0, keepTos: 0xff, decrementTtl: false, dontFragment: false };
    const decrement = { ttl: 64, tos: 0, keepTos: 0xff, decrementTtl: true, dontFragment: false };
    const egress = (ifname: string, family: 4 | 6, policy: typeof fixed) =>
      native().openEgressSocket({ ifname, ifindex: native().ifNameToIndex(ifname), family, ttl: policy.ttl, tos: policy.tos, dontFragment: false, sndbuf: 1 << 20 });
    dp.addInput(1, sockets.input());
    dp.addInput(2, native().openPacketSocket({ ifindex: native().ifNameToIndex('in6'), rcvbuf: 8 << 20, filter: ACCEPT_ALL }));
    dp.addSender(1, egress('out6', 6, fixed), fixed, 1500);
    dp.addSender(2, egress('out6', 6, decrement), decrement, 1500);
    dp.addSender(3, egress('out0', 4, decrement), decrement, 1500);
    dp.addOutput(20, 1, GROUP6, 6000);
    dp.addOutput(21, 2, linkLocal, 6001, out6);
    dp.addOutput(22, 3, SINK, 6002);
    dp.addOutput(23, 2, SINK6, 6003);
    dp.addOutput(24, 1, SINK6, 6004);
    // On lo (k6 would answer fd00:56::1 through lo, where no socket bound to out6 hears it): 25 to a
    // port nobody listens on, ICMPv6 port unreachable, 26 to a receiver through the same sender.
    dp.addSender(4, egress('lo', 6, fixed), fixed, 65536);
    dp.addOutput(25, 4, '::1', 6099);
    dp.addOutput(26, 4, '::1', 6098);
    const source6 = 'fd00:99::7';
    dp.setRules([
      { id: 'v6', input: 2, group: GROUP6, port: 5000, source: '', outputs: [20, 21, 22, 25, 26], trace: { sampleEvery: 1, snapLength: 128 } },
      { id: 'v4to6', input: 1, group: GROUP, port: 5003, source: '', outputs: [23] },
      { id: 'v6source', input: 2, group: GROUP6, port: 5004, source: source6, outputs: [24] },
    ]);

    // Payloads named by their first 4 bytes. A run of 20 of one size (UDP GSO), 1452 bytes (the
    // most a 1500-byte IPv6 packet carries) and 1453 (fragmented).
    const named = (prefix: string, count: number, size: (i: number) => number) =>
      Array.from({ length: count }, (_, i) => Buffer.concat([Buffer.from(`${prefix}${String(i).padStart(3, '0')}`), crypto.randomBytes(size(i))]));
    const relayed = named('a', 40, (i) => (i < 20 ? 996 : i === 20 ? 1448 : i === 21 ? 1449 : (i * 53) % 1400));
    const expired = named('t', 5, () => 60);
    const exact = named('s', 10, (i) => 100 + i);
    const otherSource = named('o', 5, () => 30);
    const fromIpv4 = named('f', 20, (i) => (i * 61) % 1400);
    const TCLASS = 0xb8; // DSCP 46 (EF), ECN 0
    const chains = [[], [{ type: IPV6_HOP_BY_HOP }], [{ type: IPV6_HOP_BY_HOP }, { type: IPV6_DESTINATION_OPTIONS, units: 1 }, { type: IPV6_ROUTING }]];
    const v6 = (payload: Buffer, i: number, port: number, source = 'fe80::7', hopLimit = 9) =>
      frame6({ group: GROUP6, port, source, hopLimit, trafficClass: TCLASS, payload, extensions: chains[i % chains.length] });
    const frames6 = [
      ...relayed.map((p, i) => v6(p, i, 5000)),
      ...expired.map((p, i) => v6(p, i, 5000, 'fe80::7', 1)),
      ...exact.map((p, i) => v6(p, i, 5004, source6)),
      ...otherSource.map((p, i) => v6(p, i, 5004, 'fd00:99::8')),
    ];
    const frames4 = fromIpv4.map((payload) => frame({ source: SOURCE, group: GROUP, port: 5003, ttl: 9, tos: TCLASS, payload }));

    const { done } = await startMarksReceiver(
      ns,
      [
        { address: GROUP6, port: 6000, interface: 'k6', expect: relayed.length + expired.length },
        { address: linkLocal, port: 6001, interface: 'k6', expect: relayed.length },
        { address: SINK, port: 6002, interfaceAddress: SINK, expect: relayed.length },
        { address: SINK6, port: 6003, expect: fromIpv4.length },
        { address: SINK6, port: 6004, expect: exact.length },
        { address: '::1', port: 6098, expect: relayed.length + expired.length },
      ],
      0,
      { maxSeconds: 15, perPayload: true },
    );
    for (const [ifname, frames] of [['s6', frames6], ['s0', frames4]] as const) {
      execFileSync('python3', [SEND_FRAMES, '--interface', ifname, '--file', writeFrameFile(frames), '--rate', '2000', '--max-seconds', '10'], { timeout: 20_000 });
    }
    const [group, linkLocalMarks, ipv4, translated, exactMarks, besideRefused] = await done;

    // Every payload once, byte for byte, with the hop limit (TTL) and traffic class (TOS) of its output.
    const expectMarks = (got: Marks, sent: Buffer[], ttl: number, what: string) => {
      expect(got.datagrams, `${what}: datagrams`).to.equal(sent.length);
      const byKey = Object.fromEntries(sent.map((p) => [p.subarray(0, 4).toString(), [p.length, crypto.createHash('sha256').update(p).digest('hex')]]));
      expect(got.digests, `${what}: payloads`).to.deep.equal(byKey);
      expect(got.ttls, `${what}: hop limits / TTLs`).to.deep.equal([ttl]);
      expect(got.toses, `${what}: traffic classes / TOS`).to.deep.equal([TCLASS]);
    };
    expectMarks(group, [...relayed, ...expired], 5, 'IPv6 group (fixed hop limit)');
    expectMarks(linkLocalMarks, relayed, 8, 'IPv6 link-local unicast (hop limit 9 - 1)');
    expectMarks(ipv4, relayed, 8, 'IPv6 -> IPv4 (hop limit 9 - 1 as the TTL)');
    expectMarks(translated, fromIpv4, 8, 'IPv4 -> IPv6 (TTL 9 - 1 as the hop limit)');
    expectMarks(exactMarks, exact, 5, 'IPv6 exact source');
    expectMarks(besideRefused, [...relayed, ...expired], 5, 'IPv6 output beside a refused one');

    const counters = dp.ruleCounters();
    const zero = { errWouldBlock: 0n, errUnreachable: 0n, errOther: 0n, tooBig: 0n };
    const bytes = (list: Buffer[]) => BigInt(list.reduce((sum, p) => sum + p.length, 0));
    const v6Rule = rule(counters, 'v6');
    expect(v6Rule).to.include({ packets: 45n, forwarded: 45n, sendFailed: 0n });
    // 1449 bytes do not fit one 1500-byte IPv6 packet (40 + 8 bytes of headers): fragmented; the
    // IPv4 output carries up to 1472.
    expect(v6Rule.outputs[0]).to.deep.equal({ handle: 20, packets: 45n, bytes: bytes([...relayed, ...expired]), ttlExpired: 0n, fragmented: 1n, ...zero });
    expect(v6Rule.outputs[1]).to.deep.equal({ handle: 21, packets: 40n, bytes: bytes(relayed), ttlExpired: 5n, fragmented: 1n, ...zero });
    expect(v6Rule.outputs[2]).to.deep.equal({ handle: 22, packets: 40n, bytes: bytes(relayed), ttlExpired: 5n, fragmented: 0n, ...zero });
    // The ICMPv6 errors are charged to the output they concern alone (IPV6_RECVERR), as ICMP ones are.
    expect(v6Rule.outputs[4]).to.deep.equal({ handle: 26, packets: 45n, bytes: bytes([...relayed, ...expired]), ttlExpired: 0n, fragmented: 0n, ...zero });
    const closed = v6Rule.outputs[3];
    expect(closed).to.include({ handle: 25, errWouldBlock: 0n, errOther: 0n, ttlExpired: 0n, tooBig: 0n });
    expect(closed.errUnreachable > 0n, `port unreachable counted on the closed port: ${closed.errUnreachable}`).to.equal(true);
    expect(closed.packets + closed.errUnreachable, 'sent + errors on the closed port').to.equal(45n);
    // Trace records carry IPv6 addresses, and each output's result.
    await waitFor('every traced record', () => deliveries.flat().filter((r) => r.ruleId === 'v6').length >= 45);
    const records = deliveries.flat().filter((r) => r.ruleId === 'v6');
    expect(records).to.have.length(45);
    expect(records.every((r) => r.sends[4].errno === 0), 'output 26 never failed in the trace').to.equal(true);
    for (const record of records) expect(record).to.deep.include({ source: 'fe80::7', destination: GROUP6, destinationPort: 5000, tos: TCLASS });
    const refused = os.constants.errno.ECONNREFUSED;
    expect(BigInt(records.filter((r) => r.sends[3].errno === refused).length), 'refusals traced = refusals counted').to.equal(closed.errUnreachable);
    expect(rule(counters, 'v4to6')).to.include({ packets: 20n, forwarded: 20n });
    expect(rule(counters, 'v6source')).to.include({ packets: 10n, forwarded: 10n });
    const input6 = dp.inputCounters().find((c) => c.handle === 2)!;
    expect(input6).to.deep.include({ frames: BigInt(frames6.length), unmatched: BigInt(otherSource.length) });
    dp.close();
  },
};

/** python3 -c BURST_SENDER SOURCE GROUP PORT COUNT: sends COUNT 100-byte multicast datagrams at once. */
const BURST_SENDER = `
import socket, sys
source, group, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((source, 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
for i in range(count):
    s.sendto(bytes(100), (group, port))
`;
import { FIXED_SEND_POLICY, UNKNOWN_MTU } from '../support/send-policy';
import { frame, frame6, IPV6_DESTINATION_OPTIONS, IPV6_HOP_BY_HOP, IPV6_ROUTING } from '../support/frames';
import { writeFrameFile } from '../support/hostile-frames';
import { startMarksReceiver, type Marks } from '../support/udp-marks';

const SEND_FRAMES = path.join(__dirname, '..', 'support', 'send-frames.py');

// ---------------------------------------------------------------------------------------------
// The tests (root namespace side).

if (require.main === module) {
  // Started by Namespace.run(): run one scenario and report through the exit code.
  const name = process.argv[2];
  const scenario = scenarios[name];
  if (!scenario) {
    process.stderr.write(`unknown scenario ${name}\n`);
    process.exit(2);
  }
  scenario().then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
} else {
  describe('native Dataplane', () => {
    describe('arguments', () => {
      let dp: Dataplane;
      beforeEach(() => {
        dp = new (native().Dataplane)({ core: -1, batch: 4 });
      });
      afterEach(() => dp.close());

      it('refuses bad options with a TypeError', () => {
        const Dataplane = native().Dataplane as unknown as new (options: unknown) => Dataplane;
        expect(() => new Dataplane({ core: -1, batch: 0 })).to.throw(TypeError, /options\.batch/);
        expect(() => new Dataplane({ core: -1, batch: 1025 })).to.throw(TypeError, /options\.batch/);
        expect(() => new Dataplane({ core: -2, batch: 8 })).to.throw(TypeError, /options\.core/);
        expect(() => new Dataplane({ batch: 8 })).to.throw(TypeError, /options\.core/);
        expect(() => new Dataplane(undefined)).to.throw(TypeError, /options/);
      });

      it('refuses unknown and duplicate handles and sockets of the wrong kind, keeping the caller\'s fd', () => {
        const udp = native().openMembershipSocket();
        try {
          expect(() => dp.removeInput(3)).to.throw(TypeError, /unknown input handle 3/);
          expect(() => dp.removeOutput(3)).to.throw(TypeError, /unknown output handle 3/);
          expect(() => dp.removeSender(3)).to.throw(TypeError, /unknown sender handle 3/);
          expect(() => dp.addInput(1, udp)).to.throw(TypeError, /not an AF_PACKET SOCK_RAW socket/);
          expect(() => dp.addSender(-1, udp, FIXED_SEND_POLICY, UNKNOWN_MTU)).to.throw(TypeError, /handle/);
          expect(() => dp.addSender(1, 1.5, FIXED_SEND_POLICY, UNKNOWN_MTU)).to.throw(TypeError, /fd/);
          expect(() => dp.addSender(1, 0x7ffffff0, FIXED_SEND_POLICY, UNKNOWN_MTU)).to.throw(Error, /EBADF|Bad file descriptor/);
          dp.addSender(1, udp, FIXED_SEND_POLICY, UNKNOWN_MTU);
          const dup = native().openMembershipSocket();
          expect(() => dp.addSender(1, dup, FIXED_SEND_POLICY, UNKNOWN_MTU)).to.throw(TypeError, /sender handle 1 is already in use/);
          native().closeFd(dup); // still the caller's

          expect(() => dp.addOutput(5, 2, '192.0.2.1', 9)).to.throw(TypeError, /output 5: unknown sender handle 2/);
          expect(() => dp.addOutput(5, 1, '192.0.2', 9)).to.throw(TypeError, /address must be an IPv4 address/);
          expect(() => dp.addOutput(5, 1, '192.0.2.1', 0)).to.throw(TypeError, /port/);
          expect(() => dp.addOutput(5, 1, '192.0.2.1', 65536)).to.throw(TypeError, /port/);
          dp.addOutput(5, 1, '192.0.2.1', 9);
          dp.addOutput(6, 1, '192.0.2.2', 9);
          expect(() => dp.addOutput(5, 1, '192.0.2.3', 9)).to.throw(TypeError, /output handle 5 is already in use/);

          // The sender outlives its handle while an output uses it, and closes with the last one.
          dp.removeSender(1);
          expect(() => dp.addOutput(7, 1, '192.0.2.1', 9)).to.throw(TypeError, /unknown sender handle 1/);
          dp.removeOutput(5);
          expect(fdTarget(udp), 'a sender an output still uses stays open').to.match(/^socket:/);
          dp.removeOutput(6);
          expect(fdTarget(udp), 'a sender no output (nor table) uses is closed at once').to.equal(null);
        } finally {
          if (fdTarget(udp) !== null) native().closeFd(udp);
        }
      });

      it('takes a raw ESP socket as a sender, whose outputs name no port, as those of a UDP sender name one', () => {
        const open = (protocol?: 'udp' | 'esp') =>
          native().openEgressSocket({ ifname: 'lo', ifindex: native().ifNameToIndex('lo'), ttl: 1, tos: 0, dontFragment: false, sndbuf: 1 << 16, protocol });
        expect(() => open('tcp' as 'udp')).to.throw(TypeError, /options\.protocol must be 'udp' or 'esp'/);
        const [esp, udp] = [open('esp'), open()];
        expect(fdTarget(esp)).to.match(/^socket:/);
        dp.addSender(1, esp, FIXED_SEND_POLICY, UNKNOWN_MTU);
        dp.addSender(2, udp, FIXED_SEND_POLICY, UNKNOWN_MTU);
        expect(() => dp.addOutput(5, 1, '192.0.2.1', 9)).to.throw(TypeError, /output 5: an ESP sender sends to no port/);
        expect(() => dp.addOutput(5, 2, '192.0.2.1', 0)).to.throw(TypeError, /output 5: a UDP sender needs a port 1-65535/);
        dp.addOutput(5, 1, '192.0.2.1', 0);
        dp.addOutput(6, 2, '192.0.2.1', 9);
        dp.setRules([]);
      });

      it('takes IPv6 senders (UDP and ESP), whose outputs send to IPv6 addresses only, and refuses a rule whose source is not of its group\'s family', () => {
        const open = (family: 4 | 6, protocol?: 'udp' | 'esp', source?: string) =>
          native().openEgressSocket({ ifname: 'lo', ifindex: native().ifNameToIndex('lo'), family, ttl: 1, tos: 0, dontFragment: false, sndbuf: 1 << 16, protocol, source });
        expect(() => open(5 as 6)).to.throw(TypeError, /options\.family must be 4 or 6/);
        expect(() => open(6, 'udp', '127.0.0.1')).to.throw(TypeError, /options\.source must be an IPv6 address, as options\.family is 6/);
        expect(() => open(4, 'udp', '::1')).to.throw(TypeError, /options\.source must be an IPv4 address, as options\.family is 4/);
        dp.addSender(1, open(6), FIXED_SEND_POLICY, UNKNOWN_MTU);
        dp.addSender(2, open(6, 'esp'), FIXED_SEND_POLICY, UNKNOWN_MTU);
        dp.addSender(3, open(4), FIXED_SEND_POLICY, UNKNOWN_MTU);
        expect(() => dp.addOutput(5, 1, '192.0.2.1', 9)).to.throw(TypeError, /output 5: 192\.0\.2\.1 is not an IPv6 address, which sender 1 sends to/);
        expect(() => dp.addOutput(5, 3, '2001:db8::1', 9)).to.throw(TypeError, /output 5: 2001:db8::1 is not an IPv4 address, which sender 3 sends to/);
        expect(() => dp.addOutput(5, 2, '2001:db8::1', 9)).to.throw(TypeError, /output 5: an ESP sender sends to no port/);
        expect(() => dp.addOutput(5, 1, 'ff3e::1:', 9)).to.throw(TypeError, /address must be an IPv4 address in dotted-quad form or an IPv6 address/);
        dp.addOutput(5, 1, 'fe80::1', 9, native().ifNameToIndex('lo'));
        dp.addOutput(6, 2, '2001:db8::1', 0);
        dp.addOutput(7, 3, '192.0.2.1', 9);
        dp.addInput(1, native().openPacketSocket({ ifindex: native().ifNameToIndex('lo'), rcvbuf: 65536, filter: [[0x06, 0, 0, 0]] }));
        expect(() => dp.setRules([{ id: 'mixed', input: 1, group: 'ff3e::1', port: 5000, source: '10.1.0.2', outputs: [5] }])).to.throw(
          TypeError,
          /rules\[0\]\.source: 10\.1\.0\.2 is not of the family of the group ff3e::1/,
        );
        dp.setRules([
          { id: 'v6', input: 1, group: 'ff3e::1', port: 5000, source: '', outputs: [5, 7] },
          { id: 'v4', input: 1, group: '239.0.0.1', port: 5000, source: '', outputs: [5] },
          { id: 'esp6', input: 1, group: 'ff3e::1', port: 0, source: 'fd00::1', outputs: [6] },
        ]);
        // IPv4 and IPv6 keys never meet: ::ffff:239.0.0.1 is 239.0.0.1, ::239.0.0.1 is not.
        expect(dp.routeForTest(1, 'ff3e::1', 5000, 'fe80::9')?.outputs).to.deep.equal([5, 7]);
        expect(dp.routeForTest(1, '239.0.0.1', 5000, '10.0.0.1')?.outputs).to.deep.equal([5]);
        expect(dp.routeForTest(1, '::ffff:239.0.0.1', 5000, '')?.outputs).to.deep.equal([5]);
        expect(dp.routeForTest(1, '::239.0.0.1', 5000, '')).to.equal(null);
        expect(dp.routeForTest(1, 'ff3e::1', 0, 'fd00::1')?.outputs).to.deep.equal([6]);
        expect(dp.routeForTest(1, 'ff3e::1', 0, 'fd00::2')).to.equal(null);
        expect(dp.outputForTest(1, 'fe80::1', 9).output).to.equal(5);
        expect(dp.outputForTest(3, '192.0.2.1', 9).output).to.equal(7);
      });

      it('refuses rules naming unknown handles and reports no counters for an empty table', () => {
        expect(dp.ruleCounters()).to.deep.equal([]);
        expect(dp.inputCounters()).to.deep.equal([]);
        expect(() => dp.setRules([{ id: 'x', input: 1, group: GROUP, port: 1, source: '', outputs: [] }])).to.throw(
          TypeError,
          /unknown input handle 1/,
        );
        expect(() => dp.setRules('rules' as never)).to.throw(TypeError, /rules must be an array/);
      });

      it('pins its thread to the requested core, and refuses a core it cannot use', () => {
        const threads = () => new Set(fs.readdirSync('/proc/self/task'));
        const before = threads();
        const core = allowedCores()[0];
        const pinned = new (native().Dataplane)({ core, batch: 4 });
        try {
          const started = [...threads()].filter((tid) => !before.has(tid));
          expect(started).to.have.length(1);
          const status = fs.readFileSync(`/proc/self/task/${started[0]}/status`, 'utf8');
          expect(/^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1]).to.equal(String(core));
        } finally {
          pinned.close();
        }
        const allowed = native().allowedCpus();
        expect(allowed, 'allowedCpus is what the kernel reports for this process').to.deep.equal(allowedCores());
        const outside = allowed[allowed.length - 1] + 1;
        // Named with the CPUs that may be used, not a bare errno.
        const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1];
        expect(() => new (native().Dataplane)({ core: outside, batch: 4 }))
          .to.throw(Error, `pthread_setaffinity_np (CPU ${outside}, not among the CPUs this process may use: ${list}): Invalid argument`)
          .with.property('code', 'EINVAL');
      });

      it('never leaves the CPUs this process may use, even where the kernel would allow it (taskset, not a cpuset)', function () {
        const allowed = native().allowedCpus();
        if (allowed.length < 2) throw new Error(`this test needs at least 2 CPUs to use, this process may use ${allowed.join(',')}`);
        // A child that taskset leaves the last CPU only: pinning its data plane to the first must
        // fail, although sched_setaffinity would grant it (no cpuset forbids it).
        const [first, last] = [allowed[0], allowed[allowed.length - 1]];
        const script = [
          `const native = require(${JSON.stringify(addonFile())});`,
          'const out = { allowed: native.allowedCpus() };',
          `try { new native.Dataplane({ core: ${first}, batch: 4 }).close(); out.pinned = true; } catch (err) { out.error = err.message; out.code = err.code; }`,
          'process.stdout.write(JSON.stringify(out));',
        ].join('\n');
        const result = JSON.parse(execFileSync('taskset', ['-c', String(last), process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 }));
        expect(result).to.deep.equal({
          allowed: [last],
          error: `pthread_setaffinity_np (CPU ${first}, not among the CPUs this process may use: ${last}): Invalid argument`,
          code: 'EINVAL',
        });
      });

      it('closes idempotently and refuses calls afterwards', () => {
        dp.close();
        dp.close();
        expect(() => dp.ruleCounters()).to.throw(Error, /closed/);
        expect(() => dp.setRules([])).to.throw(Error, /closed/);
      });
    });

    describe('forwarding in a network namespace', function () {
      this.timeout(SCENARIO_TIMEOUT_MS + 10_000);
      let ns: Namespace | undefined;

      before(function () {
        requireRoot(); // ip netns: fail, never skip
        sweepStaleNamespaces();
        ns = new Namespace();
      });
      after(() => ns?.destroy());

      it('forwards every packet to every output byte for byte and counts it', () => ns!.run('forward'));
      it('sends runs of equal sizes as UDP GSO messages, falling back where the MTU is too small', () => ns!.run('gso'));
      it('keeps the counters of persisting rules across table swaps and refuses bad tables whole', () => ns!.run('swap'));
      it('loses nothing of an untouched rule while outputs, rules and inputs change under traffic', () => ns!.run('changes'));
      it('loses nothing of two flowing rules while one-rule and large updates rebuild the shards around them', () => ns!.run('neighbours'));
      it('counts failing and slow outputs per output without holding back the others', () => ns!.run('failures'));
      it('charges ICMP errors to the output they concern, through a shared sender', () => ns!.run('refused'));
      it('records traced packets with each output\'s result, and counts what the ring cannot hold', () => ns!.run('trace'));
      it('relays IPv6 to IPv6 multicast, link-local unicast and IPv4, and IPv4 to IPv6, with hop limits, traffic classes, ICMPv6 errors and traces', () => ns!.run('ipv6'));
    });
  });
}
