/**
 * ListInterfaces and WatchEvents for the end-to-end tests, over the generated SystemServiceClient:
 * a timed ListInterfaces, and event streams recorded in full so that a test can wait for an event
 * and, at the end, check everything a stream delivered.
 */
import * as grpc from '@grpc/grpc-js';

import { Event, EventKind, Interface, ListInterfacesRequest, SystemServiceClient, WatchEventsResponse } from '../../gen/mcr/v1/system';
import { describeValue, sleep } from './poll';

const DEFAULT_DEADLINE_MS = 10_000;

/** The short name of an event kind ("RULE_CHANGED"), for messages. */
export function kindName(kind: EventKind): string {
  return (EventKind[kind] ?? String(kind)).replace(/^EVENT_KIND_/, '');
}

export class SystemEvents {
  private readonly client: SystemServiceClient;
  private readonly streams: EventStream[] = [];

  constructor(socketPath: string) {
    // Connections of its own: an event stream must not hold back other clients' calls, nor theirs it.
    this.client = new SystemServiceClient(`unix:${socketPath}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  }

  listInterfaces(deadlineMs = DEFAULT_DEADLINE_MS): Promise<Interface[]> {
    return new Promise((resolve, reject) => {
      this.client.listInterfaces(ListInterfacesRequest.fromPartial({}), new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res.interfaces)));
    });
  }

  /** ListInterfaces' entry for `name`; fails if there is none. */
  async interfaceNamed(name: string): Promise<Interface> {
    const list = await this.listInterfaces();
    const found = list.find((i) => i.name === name);
    if (!found) throw new Error(`ListInterfaces has no interface ${name}: ${list.map((i) => i.name).join(', ')}`);
    return found;
  }

  /** Opens a WatchEvents stream for `kinds` (every kind when empty); close() or closeAll() ends it. */
  watch(kinds: EventKind[] = []): EventStream {
    const stream = new EventStream(this.client.watchEvents({ kinds }), kinds);
    this.streams.push(stream);
    return stream;
  }

  close(): void {
    for (const stream of this.streams) stream.close();
    this.client.close();
  }
}

/** Options of EventStream.waitFor. */
export interface WaitOptions {
  /** Only events at or after this position (see mark()); default 0 (every event so far). */
  since?: number;
  timeoutMs?: number;
}

/** One WatchEvents call: every event it delivered, in order. */
export class EventStream {
  readonly events: Event[] = [];
  /** The last dropped_events count the server reported. */
  droppedEvents = 0n;
  private failure: Error | null = null;
  private listeners = new Set<() => void>();

  constructor(
    private readonly call: grpc.ClientReadableStream<WatchEventsResponse>,
    readonly kinds: readonly EventKind[],
  ) {
    call.on('data', (res: WatchEventsResponse) => {
      if (res.event) this.events.push(res.event);
      this.droppedEvents = res.droppedEvents;
      this.notify();
    });
    call.on('error', (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) this.failure = err;
      this.notify();
    });
  }

  /** The position of the next event: pass it as `since` to wait only for what comes after now. */
  mark(): number {
    return this.events.length;
  }

  /** Waits for the first event at or after `since` that matches, and returns it. */
  waitFor(what: string, match: (event: Event) => boolean, { since = 0, timeoutMs = 5000 }: WaitOptions = {}): Promise<Event> {
    return new Promise((resolve, reject) => {
      let checked = since;
      const finish = (error: Error | null, event?: Event) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (error) reject(error);
        else resolve(event!);
      };
      const check = () => {
        for (; checked < this.events.length; checked++) {
          if (match(this.events[checked])) return finish(null, this.events[checked]);
        }
        if (this.failure) finish(new Error(`WatchEvents failed while waiting for ${what}: ${this.failure.message}`));
      };
      const timer = setTimeout(() => {
        const seen = this.events.slice(since).slice(-20).map((e) => `${kindName(e.kind)}: ${e.message}`);
        finish(new Error(`no ${what} within ${timeoutMs} ms; latest events since: ${seen.length ? seen.join(' | ') : 'none'}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** Events at or after `since` that match. */
  matching(match: (event: Event) => boolean, since = 0): Event[] {
    return this.events.slice(since).filter(match);
  }

  close(): void {
    this.call.cancel();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Makes sure every stream is subscribed on the server (a call is open before the server has
 * registered it, and an event published in between is not delivered): runs `trigger`, which must
 * make the server publish an event every stream wants, until each stream has received something.
 */
export async function waitUntilSubscribed(streams: EventStream[], trigger: () => Promise<void>, attempts = 10): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    await trigger();
    const deadline = Date.now() + 500;
    while (Date.now() < deadline && streams.some((s) => s.events.length === 0)) await sleep(20);
    if (streams.every((s) => s.events.length > 0)) return;
  }
  const silent = streams.filter((s) => s.events.length === 0).map((s) => describeValue(s.kinds.map(kindName)));
  throw new Error(`event streams for kinds ${silent.join(', ')} received nothing after ${attempts} triggers`);
}
