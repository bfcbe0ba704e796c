/**
 * The supervisor's event bus: interface changes, rule status changes, worker restarts and drift are
 * published here and fanned out to WatchEvents subscribers. Publishing never blocks and never fails;
 * each subscriber's backlog is bounded by its own writer.
 */
import { Event, EventKind } from '../../gen/mcr/v1/system';

export type EventListener = (event: Event) => void;

export class EventBus {
  private readonly listeners = new Set<{ kinds: Set<EventKind>; listener: EventListener }>();

  publish(kind: EventKind, message: string, detail: Partial<Pick<Event, 'interface' | 'rule' | 'worker'>> = {}): void {
    if (this.listeners.size === 0) return;
    const event: Event = { unixNanos: BigInt(Date.now()) * 1_000_000n, kind, message, interface: undefined, rule: undefined, worker: undefined, ...detail };
    for (const { kinds, listener } of this.listeners) if (kinds.size === 0 || kinds.has(kind)) listener(event);
  }

  /** Calls `listener` for every event of the given kinds (all when empty); returns the unsubscribe. */
  subscribe(kinds: EventKind[], listener: EventListener): () => void {
    const entry = { kinds: new Set(kinds), listener };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}
