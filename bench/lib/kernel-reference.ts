/**
 * Which kernel forwarding the benchmark compares mcr with, and how it is labelled.
 *
 * The reference is the kernel's own multicast routing (relay `kernel`: MFC entries by mroute.c). A
 * kernel built without CONFIG_IP_MROUTE has none (kernel-capabilities.ts detects it by trying
 * MRT_INIT); the reference is then the kernel's IPv4 unicast forwarding of the same flow (relay
 * `kernel-unicast`), the nearest thing the same kernel does entirely in softirq, and every table,
 * bar and note names it as such. Pure: unit-tested with both capability answers.
 */
import type { KernelCapability } from './kernel-capabilities';

export const KERNEL_MROUTE = 'kernel';
export const KERNEL_UNICAST = 'kernel-unicast';
export type KernelReferenceName = typeof KERNEL_MROUTE | typeof KERNEL_UNICAST;

/** The kernel relay this kernel can run: multicast routing when MRT_INIT works, unicast forwarding otherwise. */
export function kernelRelayFor(routing: KernelCapability): KernelReferenceName {
  return routing.available ? KERNEL_MROUTE : KERNEL_UNICAST;
}

/** The report line of the unicast reference: what runs, and why (`reason`: the capability probe's). */
export function kernelUnicastDescription(reason: string): string {
  return `Linux IPv4 unicast forwarding (ip_forward=1, one route: the sender's to the receiver's address via in0), rp_filter 0, in place of multicast routing: ${reason}`;
}

/** Why kernel-unicast cannot run `setup`, or null: it forwards one packet to one address, and has no per-group rules. */
export function kernelUnicastUnsupported(setup: { outputs: readonly number[]; idleFlows: readonly unknown[] }): string | null {
  if (setup.outputs.length !== 1) return `unicast forwarding has no fan-out: one packet in, one packet out (${setup.outputs.length} outputs requested)`;
  if (setup.idleFlows.length > 0) return 'unicast forwarding has no per-group rules: installed rules without traffic do not apply';
  return null;
}

/** The measured kernel row of a run (multicast routing preferred), the one every "vs kernel" ratio uses. */
export function kernelReference<T extends { relay: string; skipped?: string }>(relays: readonly T[]): T | undefined {
  const measured = relays.filter((r) => !r.skipped);
  return measured.find((r) => r.relay === KERNEL_MROUTE) ?? measured.find((r) => r.relay === KERNEL_UNICAST);
}
