/**
 * One WatchTraces subscriber. Records and status changes go out in order, records batched into
 * WatchTracesResponses. While the stream is over its high-water mark (the client reads too slowly) they wait
 * in a queue of at most QUEUE_RECORDS records; records beyond it are dropped and counted, and the
 * count travels in the next event's `lost`. So a slow subscriber costs a bounded amount of memory
 * and never holds up the data plane, the manager or the other subscribers.
 */
import type { TraceRecord, TraceStatus, WatchTracesResponse } from '../../gen/mcr/v1/trace';

/** Records a subscriber may have waiting. */
export const QUEUE_RECORDS = 1024;
/** Records per WatchTracesResponse (at the 2048-byte snap length, about 600 kB). */
export const RECORDS_PER_EVENT = 256;
/** Status changes a subscriber may have waiting; the oldest goes first beyond that. */
export const QUEUE_STATUSES = 64;

/** The part of a grpc-js server stream a subscriber uses. */
export interface TraceEventSink {
  /** False once the stream is over its high-water mark: wait for 'drain'. */
  write(event: WatchTracesResponse): boolean;
  on(event: 'drain', listener: () => void): unknown;
  end(): void;
}

type Item = { record: TraceRecord; status?: undefined } | { status: TraceStatus; record?: undefined };

export class TraceSubscriber {
  private queue: Item[] = [];
  private queuedRecords = 0;
  private queuedStatuses = 0;
  /** Records dropped since the last event written. */
  private lost = 0n;
  private writable = true;
  private closed = false;

  constructor(
    private readonly sink: TraceEventSink,
    /** Rule ids whose records and statuses to send; null for every rule. */
    private readonly ruleIds: ReadonlySet<string> | null,
  ) {
    sink.on('drain', () => {
      this.writable = true;
      this.flush();
    });
  }

  wants(ruleId: string): boolean {
    return this.ruleIds === null || this.ruleIds.has(ruleId);
  }

  /** Queues the records it wants (or counts them lost when the queue is full) and writes what it can. */
  offerRecords(records: readonly TraceRecord[]): void {
    if (this.closed) return;
    for (const record of records) {
      if (!this.wants(record.ruleId)) continue;
      if (this.queuedRecords >= QUEUE_RECORDS) this.flush(); // a long batch to a subscriber keeping up
      if (this.queuedRecords >= QUEUE_RECORDS) {
        this.lost++;
        continue;
      }
      this.queue.push({ record });
      this.queuedRecords++;
    }
    this.flush();
  }

  offerStatus(status: TraceStatus): void {
    if (this.closed || !this.wants(status.ruleId)) return;
    if (this.queuedStatuses >= QUEUE_STATUSES) {
      this.queue.splice(this.queue.findIndex((item) => item.status), 1); // the oldest status change
      this.queuedStatuses--;
    }
    this.queue.push({ status });
    this.queuedStatuses++;
    this.flush();
  }

  /** Ends the stream; nothing is written after. */
  end(): void {
    this.close();
    this.sink.end();
  }

  /** Forgets the queue (the call has gone). */
  close(): void {
    this.closed = true;
    this.queue = [];
  }

  private flush(): void {
    let start = 0;
    while (this.writable && !this.closed && start < this.queue.length) {
      const item = this.queue[start];
      if (item.status) {
        this.queuedStatuses--;
        start++;
        this.write({ records: [], lost: this.lost, status: item.status });
        continue;
      }
      const records: TraceRecord[] = [];
      while (start < this.queue.length && records.length < RECORDS_PER_EVENT && this.queue[start].record) records.push(this.queue[start++].record!);
      this.queuedRecords -= records.length;
      this.write({ records, lost: this.lost, status: undefined });
    }
    // Records are only lost while the queue is full, so the loss always has a queued event to ride on.
    this.queue = start === 0 ? this.queue : this.queue.slice(start);
  }

  private write(event: WatchTracesResponse): void {
    this.lost = 0n;
    this.writable = this.sink.write(event);
  }
}
