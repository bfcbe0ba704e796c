/**
 * What the demo's "kernel alone" step does on this kernel, decided from what the kernel can do
 * (detected by bench/lib/kernel-capabilities.ts, never assumed):
 *
 *   - with multicast routing (CONFIG_IP_MROUTE): the kernel's own multicast routing gets an MFC entry
 *     in0 -> out1 for the flow, and still delivers nothing: the reverse-path check and TTL 1 drop it;
 *   - without it: nothing can be installed; the kernel cannot forward multicast between interfaces
 *     at all, so the stream, sent the same way, reaches nobody.
 *
 * Either way mcr, which needs no multicast routing in the kernel, then relays the same stream.
 */
import { KernelCapability } from '../bench/lib/kernel-capabilities';

export interface KernelAlonePlan {
  /** Whether to install an MFC entry for the flow (the kernel has multicast routing). */
  installMfc: boolean;
  /** The step's heading. */
  heading: string;
  /** Why the kernel delivers nothing, for the line after the count. */
  verdict: string;
  /** What the kernel could and could not do, for the summary. */
  explanation: string;
}

export function kernelAlonePlan(routing: KernelCapability): KernelAlonePlan {
  if (routing.available) {
    return {
      installMfc: true,
      heading: 'The kernel alone: its multicast routing, with an MFC entry in0 -> out1 for the flow',
      verdict: 'reverse-path check and TTL 1: dropped',
      explanation: `this kernel routes multicast (${routing.reason}), but drops this stream: its source is unroutable (rp_filter 1) and its TTL is 1`,
    };
  }
  return {
    installMfc: false,
    heading: 'The kernel alone: it has no multicast routing to set up',
    verdict: 'the kernel cannot forward multicast between interfaces at all',
    explanation: `the kernel cannot route multicast here: ${routing.reason}; mcr needs no multicast routing in the kernel`,
  };
}
