/** Builds the relay objects by name. */
import type { RelayName } from '../plan';
import { KernelRelay } from './kernel';
import { McrRelay, TRACE_SAMPLE_EVERY } from './mcr';
import { Relay, RelayContext } from './relay';
import { SocatRelay } from './socat';

export type { Flow, Relay, RelayContext, RelaySetup } from './relay';

/** The relay called `name`, or the reason it cannot run on this machine. */
export function createRelay(name: RelayName, ctx: RelayContext, socat: { path: string } | { skipped: string }): Relay | { skipped: string } {
  switch (name) {
    case 'mcr-w1':
      return new McrRelay(ctx, 1);
    case 'mcr-w1-trace':
      return new McrRelay(ctx, 1, { sampleEvery: TRACE_SAMPLE_EVERY });
    case 'mcr-w2':
      return new McrRelay(ctx, 2);
    case 'kernel':
      return new KernelRelay(ctx);
    case 'socat':
      return 'path' in socat ? new SocatRelay(ctx, socat.path) : socat;
  }
}
