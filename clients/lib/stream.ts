/**
 * Server-streaming calls as async iterators: `for await (const update of stream)` reads the messages
 * in order; leaving the loop (break, return, throw), calling cancel() or aborting the signal cancels
 * the call on the wire, so mcrd stops sending at once.
 */
import * as grpc from '@grpc/grpc-js';

import { CallContext, McrCallError } from './errors';

export interface StreamOptions {
  /** Cancels the call when aborted; the iteration then ends normally (no error). */
  signal?: AbortSignal;
  /**
   * Messages held for a consumer that reads slower than they arrive (default 8). When that many are
   * waiting, the client stops reading from the connection: HTTP/2 flow control then holds mcrd back,
   * and mcrd drops updates (WatchStats) or events (WatchEvents) for this subscriber instead of
   * queueing them without bound (it reports how many).
   */
  bufferSize?: number;
}

export const DEFAULT_STREAM_BUFFER = 8;

/** An async iterator over a call's messages that can also be cancelled from outside the loop. */
export interface McrStream<T> extends AsyncIterableIterator<T> {
  /** Cancels the call (idempotent) and drops unread messages; a pending next() resolves as done. */
  cancel(): void;
}

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(err: Error): void;
}

const DONE = { value: undefined, done: true } as const;

class CallStream<T> implements McrStream<T> {
  private readonly queue: T[] = [];
  private waiter?: Waiter<T>;
  /** Set when the call ended; `failure` when it ended with an error not yet reported. */
  private ended = false;
  private failure?: Error;
  private paused = false;
  private readonly onAbort = () => this.cancel();

  constructor(
    private readonly call: grpc.ClientReadableStream<T>,
    private readonly context: CallContext,
    private readonly bufferSize: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    call.on('data', (message: T) => this.push(message));
    call.on('end', () => this.finish());
    call.on('error', (err: grpc.ServiceError) => {
      // After cancel() the iteration has already ended: the CANCELLED error that follows is ours.
      if (!this.ended) this.failure = new McrCallError(err, this.context);
      this.finish();
    });
    if (signal?.aborted) this.cancel();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.queue.length > 0) {
      const value = this.queue.shift()!;
      if (this.paused && this.queue.length < this.bufferSize) {
        this.paused = false;
        this.call.resume();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.failure) {
      const failure = this.failure;
      this.failure = undefined;
      return Promise.reject(failure);
    }
    if (this.ended) return Promise.resolve(DONE);
    if (this.waiter) return Promise.reject(new Error(`${this.context.rpc}: next() called while another next() is pending`));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Called when the consumer leaves a for-await loop early: cancels the call. */
  return(): Promise<IteratorResult<T>> {
    this.cancel();
    return Promise.resolve(DONE);
  }

  cancel(): void {
    // Messages not read yet are dropped: after cancel() the iteration is over.
    this.queue.length = 0;
    this.failure = undefined;
    if (this.ended) return;
    // Ended first, so that the CANCELLED error grpc-js reports for it is not taken for a failure.
    this.finish();
    this.call.cancel();
  }

  private push(message: T): void {
    if (this.ended) return;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve({ value: message, done: false });
      return;
    }
    this.queue.push(message);
    if (!this.paused && this.queue.length >= this.bufferSize) {
      this.paused = true;
      this.call.pause();
    }
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    const waiter = this.waiter;
    this.waiter = undefined;
    if (!waiter) return;
    if (this.failure) {
      const failure = this.failure;
      this.failure = undefined;
      waiter.reject(failure);
    } else {
      waiter.resolve(DONE);
    }
  }
}

/**
 * Starts a server-streaming call with `start` (once the options are known to be valid) and wraps it;
 * failures reject next() with McrCallError.
 */
export function streamOf<T>(start: () => grpc.ClientReadableStream<T>, context: CallContext, options: StreamOptions = {}): McrStream<T> {
  const bufferSize = options.bufferSize ?? DEFAULT_STREAM_BUFFER;
  if (!Number.isInteger(bufferSize) || bufferSize <= 0) throw new RangeError(`bufferSize must be a positive integer, got ${bufferSize}`);
  return new CallStream(start(), context, bufferSize, options.signal);
}
