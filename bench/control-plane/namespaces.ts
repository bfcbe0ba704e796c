/**
 * The control-plane section's namespaces: one for mcrd, holding the interfaces its rules name (in0 and
 * out1..outK, each a veth whose peer stays in the same namespace: this kernel has no dummy driver), and
 * one for the kernel's route table (kr1..krK). No traffic flows: only the control plane is measured.
 *
 * Named `mcrb-<4 hex>-<pid>-cp-<role>` like the forwarding benchmark's (the same sweep removes those of
 * a dead run); deleted by destroy() and on any exit or fatal signal.
 */
import { execFileSync } from 'child_process';
import crypto from 'crypto';

import { registerCleanup } from '../../test/support/cleanup';
import { deleteNamespace, ip, sweepStaleNamespaces, sysctl } from '../../test/support/netns';
import { NAMESPACE_PREFIX } from '../lib/topology';
import { INPUT_IFNAME, outputIfname } from './rule-set';

/** The most outputs a shape may have (mcrd's --max-outputs-per-rule maximum). */
export const MAX_OUTPUTS = 64;

export class ControlPlaneNamespaces {
  readonly mcrd: string;
  readonly routes: string;
  private unregister: (() => void) | null;

  private constructor(id: string) {
    this.mcrd = `${NAMESPACE_PREFIX}${id}-${process.pid}-cp-mcrd`;
    this.routes = `${NAMESPACE_PREFIX}${id}-${process.pid}-cp-routes`;
    this.unregister = registerCleanup(() => this.deleteAll());
  }

  /**
   * Both namespaces with `outputs` output interfaces; `groups`: the IGMP memberships mcrd will hold
   * (the namespace's igmp_max_memberships is raised to it, as an operator at that scale would, so that
   * mcrd needs one membership socket, not one per 20 groups). Deletes what was built on failure.
   */
  static create(outputs: number, groups: number): ControlPlaneNamespaces {
    if (!Number.isInteger(outputs) || outputs < 1 || outputs > MAX_OUTPUTS) throw new RangeError(`outputs ${outputs} is not 1..${MAX_OUTPUTS}`);
    sweepStaleNamespaces(NAMESPACE_PREFIX);
    const ns = new ControlPlaneNamespaces(crypto.randomBytes(2).toString('hex'));
    try {
      ns.build(outputs, groups);
    } catch (err) {
      ns.destroy();
      throw err;
    }
    return ns;
  }

  private build(outputs: number, groups: number): void {
    for (const name of [this.mcrd, this.routes]) {
      ip(['netns', 'add', name]);
      sysctl(name, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
      ip(['-n', name, 'link', 'set', 'lo', 'up']);
    }
    sysctl(this.mcrd, { 'net.ipv4.igmp_max_memberships': Math.max(20, groups) });
    const lines = new Map<string, string[]>([
      [this.mcrd, veth(INPUT_IFNAME, '10.99.0.1/24')],
      [this.routes, []],
    ]);
    for (let k = 1; k <= outputs; k++) {
      lines.get(this.mcrd)!.push(...veth(outputIfname(k), `10.100.${k}.1/24`));
      lines.get(this.routes)!.push(...veth(kernelIfname(k), `10.101.${k}.1/24`));
    }
    for (const [name, batch] of lines) ipBatch(name, batch);
  }

  private deleteAll(): void {
    deleteNamespace(this.routes);
    deleteNamespace(this.mcrd);
  }

  /** Deletes both namespaces (and anything still running in them). */
  destroy(): void {
    if (!this.unregister) return;
    this.unregister();
    this.unregister = null;
    this.deleteAll();
  }
}

/** `ip -batch` lines of a veth pair, both ends up in the same namespace, `address` on the first. */
function veth(ifname: string, address: string): string[] {
  return [`link add ${ifname} type veth peer name ${ifname}p`, `addr add ${address} dev ${ifname}`, `link set ${ifname} up`, `link set ${ifname}p up`];
}

/** Runs `lines` with `ip -n NS -batch -`; throws with ip's message. */
export function ipBatch(ns: string, lines: readonly string[], timeoutMs = 60_000): void {
  if (lines.length === 0) return;
  try {
    execFileSync('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n`, encoding: 'utf8', timeout: timeoutMs, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`ip -n ${ns} -batch failed: ${(e.stderr ?? '').trim().split('\n').slice(-3).join('; ') || e.message}`);
  }
}

/** The kernel route table's k-th next-hop interface. */
export function kernelIfname(k: number): string {
  return `kr${k}`;
}
