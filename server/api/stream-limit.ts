/**
 * A bound on the server streams open at once (WatchStats, WatchEvents, WatchTraces, over every
 * connection together): one more is answered RESOURCE_EXHAUSTED before its handler runs. Each
 * stream's own queue is bounded by its service; this bounds how many such queues exist.
 */
import { handleServerStreamingCall, ServerWritableStream, ServiceDefinition, status, UntypedServiceImplementation } from '@grpc/grpc-js';

import { ApiError } from './errors';

export class StreamLimit {
  private open = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`stream limit must be a positive integer, got ${max}`);
  }

  /** Streams open now. */
  get count(): number {
    return this.open;
  }

  /** `implementation` with its server-streaming methods counted against the limit. */
  apply(definition: ServiceDefinition, implementation: UntypedServiceImplementation): UntypedServiceImplementation {
    const limited: UntypedServiceImplementation = { ...implementation };
    for (const [name, method] of Object.entries(definition)) {
      if (!method.responseStream) continue;
      const handler = implementation[name] as handleServerStreamingCall<unknown, unknown>;
      limited[name] = ((call: ServerWritableStream<unknown, unknown>) => {
        if (this.open >= this.max) {
          const refusal = new ApiError(status.RESOURCE_EXHAUSTED, undefined, `${this.open} streams are open (the limit, --max-streams): close one first`, { limit: '--max-streams' });
          call.emit('error', refusal.toServiceError());
          return;
        }
        this.open++;
        let counted = true;
        const release = () => {
          if (!counted) return;
          counted = false;
          this.open--;
        };
        // Whichever way the stream ends: finished by the server, cancelled by the client, failed.
        call.once('finish', release);
        call.once('cancelled', release);
        call.once('close', release);
        call.once('error', release);
        handler(call);
      }) as handleServerStreamingCall<unknown, unknown>;
    }
    return limited;
  }
}
