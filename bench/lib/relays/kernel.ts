/**
 * The Linux kernel's own IPv4 multicast routing as the relay: bench/src/mroute.c in the relay
 * namespace adds a VIF for in0 and one per output link, and an MFC entry (source, group) per flow and
 * per idle flow. Forwarding then happens entirely in softirq; the mroute process only holds the routes.
 * It needs rp_filter 0 on the input: the source is not routable back through in0.
 */
import { residentByLabel } from '../memory';
import { NamespaceProcess } from '../process';
import { outputLink, RELAY_IN, SOURCE } from '../topology';
import { Relay, RelayContext, RelaySetup } from './relay';

/** The kernel has 32 VIFs; one is the input. */
const MAX_OUTPUTS = 31;
const READY_TIMEOUT_MS = 30_000;
/** The process runs until stopped; this only bounds a benchmark that forgets it. */
const LIFETIME_BOUND_MS = 3 * 3600_000;

export class KernelRelay implements Relay {
  readonly name = 'kernel';
  readonly description = 'Linux IPv4 multicast routing (MRT_ADD_VIF / MRT_ADD_MFC by bench/src/mroute.c), rp_filter 0';
  private process: NamespaceProcess | null = null;

  constructor(private readonly ctx: RelayContext) {}

  unsupported(setup: RelaySetup): string | null {
    return setup.outputs.length > MAX_OUTPUTS ? `the kernel has ${MAX_OUTPUTS + 1} VIFs, ${setup.outputs.length} outputs requested` : null;
  }

  async start(setup: RelaySetup): Promise<void> {
    const argv = [this.ctx.tools.mroute, '--in', RELAY_IN.ifname, '--source', SOURCE.address];
    for (const k of setup.outputs) argv.push('--out', outputLink(k).relay.ifname);
    for (const flow of [...setup.flows, ...setup.idleFlows]) argv.push('--group', flow.group);
    const process = new NamespaceProcess('mroute', this.ctx.topology.ns.relay, argv, LIFETIME_BOUND_MS);
    this.process = process;
    try {
      await process.waitForEvent('ready', READY_TIMEOUT_MS);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const process = this.process;
    this.process = null;
    if (process) await process.stop();
  }

  pids(): number[] {
    return this.ctx.topology.pids('relay');
  }

  async counters(): Promise<Record<string, number>> {
    return {};
  }

  memory(): Record<string, number> {
    return residentByLabel(this.pids(), () => 'mroute');
  }
}
