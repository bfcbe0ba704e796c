/** Builds the relay objects by name. */
import type { KernelCapability } from '../kernel-capabilities';
import { kernelRelayFor, KERNEL_MROUTE } from '../kernel-reference';
import type { RelayName } from '../plan';
import { KernelRelay } from './kernel';
import { KernelUnicastRelay } from './kernel-unicast';
import { MARKED_TOS, McrRelay, TRACE_SAMPLE_EVERY } from './mcr';
import { Relay, RelayContext } from './relay';
import { SocatRelay } from './socat';

export type { Flow, Relay, RelayContext, RelaySetup } from './relay';

/**
 * The relay called `name`, or the reason it cannot run on this machine. `kernel` is the kernel
 * reference: its multicast routing when `kernelRouting` says the kernel has it, else its unicast
 * forwarding (relay `kernel-unicast`, see ../kernel-reference.ts).
 */
export function createRelay(
  name: RelayName,
  ctx: RelayContext,
  socat: { path: string } | { skipped: string },
  kernelRouting: KernelCapability,
): Relay | { skipped: string } {
  switch (name) {
    case 'mcr-w1':
      return new McrRelay(ctx, 1);
    case 'mcr-w1-trace':
      return new McrRelay(ctx, 1, { trace: { sampleEvery: TRACE_SAMPLE_EVERY } });
    case 'mcr-w1-dscp':
      return new McrRelay(ctx, 1, { markedTos: MARKED_TOS });
    case 'mcr-w2':
      return new McrRelay(ctx, 2);
    case 'kernel':
      return kernelRelayFor(kernelRouting) === KERNEL_MROUTE ? new KernelRelay(ctx) : new KernelUnicastRelay(ctx, kernelRouting.reason);
    case 'socat':
      return 'path' in socat ? new SocatRelay(ctx, socat.path) : socat;
  }
}
