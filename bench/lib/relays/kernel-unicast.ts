/**
 * The Linux kernel's IPv4 unicast forwarding as the relay: the kernel reference when the kernel has no
 * multicast routing (CONFIG_IP_MROUTE not set; see ../kernel-reference.ts).
 *
 * The same flow (sizes, rates, port, TTL 8) is sent to the receiver's own address on output link 1
 * instead of the group: the relay namespace forwards it (ip_forward=1) from in0 to out1 over its
 * connected route, and the sink, bound to the port on every address, counts it on r1 as it counts
 * multicast. The sender reaches it by one route (receiver's address via 10.2.0.1 on s0, onlink: the
 * two ends of that link are in different subnets) and a permanent neighbour entry for in0's MAC, so
 * that only forwarding decides what arrives: with rp_filter 1 or 2 the relay's ARP reply would
 * otherwise be what fails (its source check rejects 10.1.0.2), not the packet path.
 * rp_filter is whatever the case sets, as for the multicast relays: 0 normally, 1 and 2 in the
 * unroutable-source case, where the kernel drops the flow in forwarding (no route back to 10.1.0.2).
 * Unicast forwarding has no fan-out and no per-group rules: those cases are unsupported.
 */
import { ip, runIn, sysctl } from '../../../test/support/netns';
import { kernelUnicastDescription, kernelUnicastUnsupported, KERNEL_UNICAST } from '../kernel-reference';
import { outputLink, RELAY_IN, SOURCE } from '../topology';
import { Relay, RelayContext, RelaySetup } from './relay';

/**
 * The counters of /proc/net/snmp and /proc/net/netstat ("Ip: Forwarding DefaultTTL ..." then
 * "Ip: 1 64 ..." pairs) as "Ip.ForwDatagrams" -> value.
 */
export function parseNetStatistics(text: string): Record<string, number> {
  const counters: Record<string, number> = {};
  const lines = text.split('\n').filter((l) => l.includes(':'));
  for (let i = 0; i + 1 < lines.length; i++) {
    const [section, names] = [lines[i].slice(0, lines[i].indexOf(':')), lines[i].slice(lines[i].indexOf(':') + 1).trim().split(/\s+/)];
    const next = lines[i + 1];
    if (next.slice(0, next.indexOf(':')) !== section) continue;
    const values = next.slice(next.indexOf(':') + 1).trim().split(/\s+/);
    if (values.length !== names.length || values.some((v) => !/^-?\d+$/.test(v))) continue;
    names.forEach((name, k) => (counters[`${section}.${name}`] = Number(values[k])));
    i++;
  }
  return counters;
}

/** The relay namespace's counters reported per probe, by the name the report uses. */
const COUNTERS: Record<string, string> = {
  forwarded: 'Ip.ForwDatagrams',
  reversePathFiltered: 'TcpExt.IPReversePathFilter',
  // TTL expired in forwarding (and other header errors).
  headerErrors: 'Ip.InHdrErrors',
  noRoute: 'Ip.OutNoRoutes',
};

export class KernelUnicastRelay implements Relay {
  readonly name = KERNEL_UNICAST;
  readonly description: string;
  private destination: string | null = null;

  /** `reason`: why the kernel's multicast routing cannot be the reference (the capability probe's answer). */
  constructor(
    private readonly ctx: RelayContext,
    reason: string,
  ) {
    this.description = kernelUnicastDescription(reason);
  }

  unsupported(setup: RelaySetup): string | null {
    return kernelUnicastUnsupported(setup);
  }

  /** Every flow goes to the receiver's address on the one output link. */
  trafficAddress(outputs: readonly number[]): string {
    if (outputs.length !== 1) throw new Error(`${this.name} forwards to one output, ${outputs.length} requested`);
    return outputLink(outputs[0]).receiver.address;
  }

  async start(setup: RelaySetup): Promise<void> {
    const reason = this.unsupported(setup);
    if (reason) throw new Error(reason);
    const { relay, sender } = this.ctx.topology.ns;
    const links = JSON.parse(ip(['-n', relay, '-j', 'link', 'show', RELAY_IN.ifname])) as { address: string }[];
    const mac = links[0]?.address;
    if (!mac) throw new Error(`no MAC address for ${RELAY_IN.ifname} in ${relay}`);
    const destination = this.trafficAddress(setup.outputs);
    this.destination = destination;
    try {
      sysctl(relay, { 'net.ipv4.ip_forward': 1 });
      ip(['-n', sender, 'neigh', 'replace', RELAY_IN.address, 'lladdr', mac, 'dev', SOURCE.ifname, 'nud', 'permanent']);
      ip(['-n', sender, 'route', 'replace', `${destination}/32`, 'via', RELAY_IN.address, 'dev', SOURCE.ifname, 'onlink']);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const { relay, sender } = this.ctx.topology.ns;
    const destination = this.destination;
    this.destination = null;
    const attempts: (() => void)[] = [
      () => destination !== null && ip(['-n', sender, 'route', 'del', `${destination}/32`]),
      () => ip(['-n', sender, 'neigh', 'del', RELAY_IN.address, 'dev', SOURCE.ifname]),
      () => sysctl(relay, { 'net.ipv4.ip_forward': 0 }),
    ];
    for (const attempt of attempts) {
      try {
        attempt();
      } catch {
        // Already gone (stop after a failed start): nothing to undo.
      }
    }
  }

  pids(): number[] {
    return this.ctx.topology.pids('relay');
  }

  /** The relay namespace's forwarding counters: what it forwarded, and why it dropped (rp_filter, TTL, no route). */
  async counters(): Promise<Record<string, number>> {
    const text = await runIn(this.ctx.topology.ns.relay, ['cat', '/proc/net/snmp', '/proc/net/netstat']);
    const all = parseNetStatistics(text);
    return Object.fromEntries(Object.entries(COUNTERS).map(([label, key]) => [label, all[key] ?? 0]));
  }

  memory(): Record<string, number> {
    return {};
  }
}

