/**
 * Writes to a server stream without ever letting a slow reader grow memory: while the stream is
 * over its high-water mark, items wait in a queue of at most `capacity`; beyond that they are dropped
 * and counted, and the count travels with the next message so the subscriber knows what it missed.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';

export class BoundedWriter<Item, Message> {
  private readonly queue: Item[] = [];
  private writable = true;
  private dropped = 0n;
  private closed = false;

  constructor(
    private readonly call: ServerWritableStream<unknown, Message>,
    private readonly capacity: number,
    private readonly toMessage: (item: Item, dropped: bigint) => Message,
  ) {
    call.on('drain', () => {
      this.writable = true;
      this.flush();
    });
  }

  /** Items lost so far. */
  get droppedCount(): bigint {
    return this.dropped;
  }

  /** Whether a push now would be written (or queued) rather than dropped. */
  get hasRoom(): boolean {
    return this.writable || this.queue.length < this.capacity;
  }

  push(item: Item): void {
    if (this.closed) return;
    if (!this.hasRoom) {
      this.dropped++;
      return;
    }
    this.queue.push(item);
    this.flush();
  }

  /**
   * Items that belong together (the messages of one update): all written, or, when there is no
   * room, all dropped and counted as one. The queue may pass its capacity by this group, no more.
   */
  pushGroup(items: readonly Item[]): void {
    if (this.closed || items.length === 0) return;
    if (!this.hasRoom) {
      this.dropped++;
      return;
    }
    this.queue.push(...items);
    this.flush();
  }

  /** Counts an item as lost without offering it (e.g. one not even produced because there is no room). */
  drop(): void {
    this.dropped++;
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private flush(): void {
    while (this.writable && this.queue.length > 0 && !this.closed) {
      this.writable = this.call.write(this.toMessage(this.queue.shift()!, this.dropped));
    }
  }
}
