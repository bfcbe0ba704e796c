/**
 * The server streams open now (WatchStats, WatchEvents, WatchTraces, over every connection), so that
 * shutdown can end each with a status. Without it a stream either ended with OK, which a client
 * cannot tell from "nothing more to say", or was cut when the listeners were forced shut, which the
 * client sees as CANCELLED: neither says that mcrd went away.
 */
import { handleServerStreamingCall, ServerWritableStream, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';

import { ApiError } from './errors';

export class OpenStreams {
  private readonly calls = new Set<ServerWritableStream<unknown, unknown>>();

  /** Streams open now. */
  get count(): number {
    return this.calls.size;
  }

  /** `implementation` with its server-streaming calls recorded while they are open. */
  apply(definition: ServiceDefinition, implementation: UntypedServiceImplementation): UntypedServiceImplementation {
    const tracked: UntypedServiceImplementation = { ...implementation };
    for (const [name, method] of Object.entries(definition)) {
      if (!method.responseStream) continue;
      const handler = implementation[name] as handleServerStreamingCall<unknown, unknown>;
      tracked[name] = ((call: ServerWritableStream<unknown, unknown>) => {
        this.calls.add(call);
        const forget = () => this.calls.delete(call);
        for (const event of ['finish', 'cancelled', 'close', 'error']) call.once(event, forget);
        handler(call);
      }) as handleServerStreamingCall<unknown, unknown>;
    }
    return tracked;
  }

  /** Ends every open stream with `error` as its status (one already ending keeps its own). */
  endAll(error: ApiError): void {
    for (const call of [...this.calls]) {
      this.calls.delete(call);
      if (!call.writableEnded) call.emit('error', error.toServiceError());
    }
  }
}
