/**
 * The benchmark's network: three namespaces joined by veth pairs, addresses only inside them.
 *
 *   sender                     relay                                   receiver
 *   s0 10.1.0.2/24 ─────────── in0   10.2.0.1/24
 *                              out1  10.11.0.1/24 ──────────────────── r1  10.11.0.2/24
 *                              ...                                     ...
 *                              out10 10.20.0.1/24 ──────────────────── r10 10.20.0.2/24
 *   d0 10.9.0.1/24 ────────────────────────────────────────────────── d1  10.9.0.2/24   (direct path)
 *
 * A veth delivers a frame in the softirq of the CPU that transmitted it, so the relay's whole input
 * processing (and all of the kernel's forwarding) would run on the generator's CPU, and the receiver's
 * input processing on the relay's. Receive packet steering (rps_cpus) puts each where a NIC's
 * interrupt would: in0's input on the relay CPU, r1..r10's and d1's on the harness CPU. The relay CPU
 * then does the relay's work and nothing else; the harness CPU does the same work (send, receive,
 * count) with or without a relay in between.
 *
 * The source (10.1.0.2) is in a subnet the relay has no route back to: with rp_filter 1 or 2 the relay's
 * kernel drops its multicast (the unroutable-source case); the other cases run with rp_filter 0 so the
 * kernel's own multicast routing and socat can take part. The direct path measures what the generator
 * and sink manage without any relay: the harness's ceiling.
 *
 * Namespaces are named `mcrb-<4 hex>-<pid>-<role>`; namespaces of an earlier run whose process is gone
 * are swept at creation, and this run's are deleted by destroy() and on any exit or fatal signal.
 */
import crypto from 'crypto';

import { registerCleanup } from '../../test/support/cleanup';
import { deleteNamespace, inNamespace, ip, sweepStaleNamespaces, sysctl } from '../../test/support/netns';

export const NAMESPACE_PREFIX = 'mcrb-';
export const OUTPUT_LINKS = 10;

export type Role = 'sender' | 'relay' | 'receiver';
const ROLES: readonly Role[] = ['sender', 'relay', 'receiver'];

export interface Endpoint {
  ifname: string;
  address: string;
}

/** One veth pair: [role, end] at each side. */
interface Link {
  a: { role: Role; end: Endpoint };
  b: { role: Role; end: Endpoint };
}

/** Relay output k (1-based) and the receiver's interface on the same link. */
export function outputLink(k: number): { relay: Endpoint; receiver: Endpoint } {
  if (!Number.isInteger(k) || k < 1 || k > OUTPUT_LINKS) throw new RangeError(`output link ${k} is not 1..${OUTPUT_LINKS}`);
  return { relay: { ifname: `out${k}`, address: `10.${10 + k}.0.1` }, receiver: { ifname: `r${k}`, address: `10.${10 + k}.0.2` } };
}

export const SOURCE: Endpoint = { ifname: 's0', address: '10.1.0.2' };
export const RELAY_IN: Endpoint = { ifname: 'in0', address: '10.2.0.1' };
export const DIRECT_SENDER: Endpoint = { ifname: 'd0', address: '10.9.0.1' };
export const DIRECT_RECEIVER: Endpoint = { ifname: 'd1', address: '10.9.0.2' };

function links(): Link[] {
  const list: Link[] = [
    { a: { role: 'sender', end: SOURCE }, b: { role: 'relay', end: RELAY_IN } },
    { a: { role: 'sender', end: DIRECT_SENDER }, b: { role: 'receiver', end: DIRECT_RECEIVER } },
  ];
  for (let k = 1; k <= OUTPUT_LINKS; k++) {
    const { relay, receiver } = outputLink(k);
    list.push({ a: { role: 'relay', end: relay }, b: { role: 'receiver', end: receiver } });
  }
  return list;
}

export class BenchTopology {
  readonly ns: Readonly<Record<Role, string>>;
  private unregister: (() => void) | null;

  private constructor(id: string) {
    this.ns = Object.fromEntries(ROLES.map((role) => [role, `${NAMESPACE_PREFIX}${id}-${process.pid}-${role}`])) as Record<Role, string>;
    this.unregister = registerCleanup(() => this.deleteAll());
  }

  /** Builds the whole network and steers input processing (see above); on failure deletes what was built and rethrows. */
  static create(cpus: { relay: number; harness: number }): BenchTopology {
    sweepStaleNamespaces(NAMESPACE_PREFIX);
    const topology = new BenchTopology(crypto.randomBytes(2).toString('hex'));
    try {
      topology.build(cpus);
    } catch (err) {
      topology.destroy();
      throw err;
    }
    return topology;
  }

  private build(cpus: { relay: number; harness: number }): void {
    for (const role of ROLES) {
      const ns = this.ns[role];
      ip(['netns', 'add', ns]);
      // No IPv6 (no router solicitations, MLD or DAD on the links); inherited by the veths from "default".
      sysctl(ns, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // The sink joins up to 10 groups on each of 10 interfaces in the scale cases.
    sysctl(this.ns.receiver, { 'net.ipv4.igmp_max_memberships': 200 });
    for (const { a, b } of links()) {
      ip(['-n', this.ns[a.role], 'link', 'add', a.end.ifname, 'type', 'veth', 'peer', 'name', b.end.ifname, 'netns', this.ns[b.role]]);
      for (const side of [a, b]) {
        ip(['-n', this.ns[side.role], 'addr', 'add', `${side.end.address}/24`, 'dev', side.end.ifname]);
        ip(['-n', this.ns[side.role], 'link', 'set', side.end.ifname, 'up']);
      }
    }
    this.setRpFilter(0);
    this.steerReceive('relay', RELAY_IN.ifname, cpus.relay);
    this.steerReceive('receiver', DIRECT_RECEIVER.ifname, cpus.harness);
    for (let k = 1; k <= OUTPUT_LINKS; k++) this.steerReceive('receiver', outputLink(k).receiver.ifname, cpus.harness);
  }

  /** Receive packet steering: frames arriving on `ifname` are processed on `cpu`. */
  private steerReceive(role: Role, ifname: string, cpu: number): void {
    const mask = (1n << BigInt(cpu)).toString(16);
    ip(inNamespace(this.ns[role], ['sh', '-c', `echo ${mask} > /sys/class/net/${ifname}/queues/rx-0/rps_cpus`]));
  }

  /** Sets the relay's reverse-path filter ("all", "default" and every interface: the kernel uses the max). */
  setRpFilter(mode: 0 | 1 | 2): void {
    const settings: Record<string, number> = { 'net.ipv4.conf.all.rp_filter': mode, 'net.ipv4.conf.default.rp_filter': mode };
    settings[`net.ipv4.conf.${RELAY_IN.ifname}.rp_filter`] = mode;
    for (let k = 1; k <= OUTPUT_LINKS; k++) settings[`net.ipv4.conf.${outputLink(k).relay.ifname}.rp_filter`] = mode;
    sysctl(this.ns.relay, settings);
  }

  /** Pids of the processes running in the namespace of `role`. */
  pids(role: Role): number[] {
    return ip(['netns', 'pids', this.ns[role]]).split(/\s+/).filter(Boolean).map(Number);
  }

  private deleteAll(): void {
    for (const role of [...ROLES].reverse()) deleteNamespace(this.ns[role]);
  }

  /** Deletes every namespace (and with them the veths and anything still running inside). */
  destroy(): void {
    if (!this.unregister) return;
    this.unregister();
    this.unregister = null;
    this.deleteAll();
  }
}
