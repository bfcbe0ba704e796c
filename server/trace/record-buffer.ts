/**
 * The records a trace keeps for GetTrace (its session stops taking records at its record limit): at
 * most `maxBytes` of encoded records, so that one GetTrace answer always fits in a client's default
 * 4 MiB message limit. Beyond that the oldest records make room for the newest.
 */
import type { TraceRecord } from '../../gen/mcr/v1/trace';
import { encodedSizeBound } from './record';

/** What one GetTrace answer may carry: under grpc's default receive limit (4 MiB), with room to spare. */
export const BUFFER_BYTES = 3.5 * (1 << 20);

export class RecordBuffer {
  private records: TraceRecord[] = [];
  private sizes: number[] = [];
  /** Index of the oldest record kept (the ones before it have been evicted). */
  private head = 0;
  private bytes = 0;
  private evictedCount = 0;

  constructor(private readonly maxBytes = BUFFER_BYTES) {}

  get length(): number {
    return this.records.length - this.head;
  }

  /** Records pushed out to make room. */
  get evicted(): number {
    return this.evictedCount;
  }

  push(record: TraceRecord): void {
    const size = encodedSizeBound(record);
    this.records.push(record);
    this.sizes.push(size);
    this.bytes += size;
    while (this.length > 1 && this.bytes > this.maxBytes) this.evictOldest();
  }

  /** The records kept, oldest first. */
  list(): TraceRecord[] {
    return this.records.slice(this.head);
  }

  private evictOldest(): void {
    this.bytes -= this.sizes[this.head];
    this.head++;
    this.evictedCount++;
    // Compact once the evicted prefix is half the array, so eviction stays O(1) amortised.
    if (this.head * 2 >= this.records.length) {
      this.records = this.records.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}
