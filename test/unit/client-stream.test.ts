/** The client library's streams (WatchStats, WatchEvents) against a small in-process gRPC server. */
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { StatsServiceService, WatchStatsRequest, WatchStatsResponse } from '../../gen/mcr/v1/stats';
import { EventKind, SystemServiceService, WatchEventsRequest, WatchEventsResponse } from '../../gen/mcr/v1/system';
import { connect, McrCallError, McrClient } from '../../clients/lib';

type WatchCall = grpc.ServerWritableStream<WatchStatsRequest, WatchStatsResponse>;
type EventsCall = grpc.ServerWritableStream<WatchEventsRequest, WatchEventsResponse>;

/** An update whose only rule is named `name` (long names make big messages). */
const update = (n: number, name = ''): WatchStatsResponse =>
  WatchStatsResponse.fromPartial({ rules: [{ ruleId: `r-${n}`, name }], intervalMs: 100, droppedUpdates: BigInt(n) });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (at most 2 s) for `condition`. */
async function eventually(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await sleep(10);
  expect(condition(), what).to.equal(true);
}

describe('client library streams', () => {
  let dir: string;
  let server: grpc.Server;
  let mcr: McrClient;
  /** How the fake serves the next WatchStats call. */
  let serve: (call: WatchCall) => void;
  let requests: WatchStatsRequest[] = [];
  let cancelled = 0;
  /** How the fake serves the next WatchEvents call. */
  let serveEvents: (call: EventsCall) => void;
  let eventRequests: WatchEventsRequest[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-client-stream-'));
    const socket = path.join(dir, 'mcr.sock');
    server = new grpc.Server();
    server.addService(StatsServiceService, {
      watchStats: (call: WatchCall) => {
        requests.push(call.request);
        call.on('cancelled', () => cancelled++);
        serve(call);
      },
      getStats: (_call: unknown, reply: grpc.sendUnaryData<unknown>) => reply({ code: grpc.status.UNIMPLEMENTED }),
      getWorkerStats: (_call: unknown, reply: grpc.sendUnaryData<unknown>) => reply({ code: grpc.status.UNIMPLEMENTED }),
    });
    server.addService(SystemServiceService, {
      watchEvents: (call: EventsCall) => {
        eventRequests.push(call.request);
        call.on('cancelled', () => cancelled++);
        serveEvents(call);
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    mcr = connect({ socket });
  });

  beforeEach(() => {
    requests = [];
    eventRequests = [];
    cancelled = 0;
  });

  after(() => {
    mcr.close();
    server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('yields every update in order and ends when mcrd ends the stream', async () => {
    serve = (call) => {
      for (let n = 1; n <= 3; n++) call.write(update(n));
      call.end();
    };
    const seen: bigint[] = [];
    for await (const u of mcr.watchStats({ rule: 'cam1', intervalMs: 250 })) seen.push(u.droppedUpdates);
    expect(seen).to.deep.equal([1n, 2n, 3n]);
    expect(requests).to.deep.equal([WatchStatsRequest.fromPartial({ rule: 'cam1', intervalMs: 250 })]);
  });

  it('cancels the call when the loop is left early', async () => {
    serve = (call) => {
      const timer = setInterval(() => call.write(update(1)), 10);
      call.on('cancelled', () => clearInterval(timer));
    };
    let count = 0;
    for await (const _ of mcr.watchStats()) if (++count === 2) break;
    await eventually('the server saw the call cancelled', () => cancelled === 1);
  });

  it('ends the iteration without error when its signal is aborted, even while waiting', async () => {
    serve = () => undefined; // never sends
    const stop = new AbortController();
    const stream = mcr.watchStats({}, { signal: stop.signal });
    setTimeout(() => stop.abort(), 50);
    const started = Date.now();
    expect(await stream.next()).to.deep.equal({ value: undefined, done: true });
    expect(Date.now() - started).to.be.below(1000);
    await eventually('the server saw the call cancelled', () => cancelled === 1);

    const aborted = new AbortController();
    aborted.abort();
    expect(await mcr.watchStats({}, { signal: aborted.signal }).next()).to.deep.equal({ value: undefined, done: true });
  });

  it('cancel() ends it from outside the loop and drops what was not read', async () => {
    serve = (call) => {
      for (let n = 1; n <= 5; n++) call.write(update(n));
    };
    const stream = mcr.watchStats();
    expect((await stream.next()).value?.droppedUpdates).to.equal(1n);
    stream.cancel();
    stream.cancel();
    expect(await stream.next()).to.deep.equal({ value: undefined, done: true });
    await eventually('the server saw the call cancelled', () => cancelled === 1);
  });

  it('rejects with McrCallError after the updates sent before mcrd failed the stream', async () => {
    serve = (call) => {
      call.write(update(1));
      setTimeout(() => call.emit('error', { code: grpc.status.NOT_FOUND, details: 'no rule with id or name "cam9"' }), 20);
    };
    const stream = mcr.watchStats({ rule: 'cam9' });
    expect((await stream.next()).value?.droppedUpdates).to.equal(1n);
    const err = await stream.next().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(McrCallError);
    expect(err).to.include({ rpc: 'WatchStats', code: grpc.status.NOT_FOUND, details: 'no rule with id or name "cam9"', connectFailure: false });
    expect(await stream.next()).to.deep.equal({ value: undefined, done: true });
  });

  it('stops reading when its buffer is full, so that flow control holds mcrd back; loses nothing', async () => {
    const total = 300;
    let written = 0;
    let blocked = false;
    serve = async (call) => {
      // Writes one update at a time, waiting for the stream to drain whenever it is full.
      for (let n = 1; n <= total; n++) {
        const more = call.write(update(n, 'x'.repeat(4000)));
        written = n;
        if (!more) {
          blocked = true;
          await new Promise((resolve) => call.once('drain', resolve));
        }
      }
      call.end();
    };
    const stream = mcr.watchStats({}, { bufferSize: 2 });
    expect((await stream.next()).value?.droppedUpdates).to.equal(1n);
    await sleep(500);
    // About 64 KB of HTTP/2 window, the stream's buffers and 2 updates: far from 300 x 4 KB.
    expect(blocked, 'the server had to wait for the client').to.equal(true);
    expect(written, 'updates the server could write while the client did not read').to.be.below(100);
    const seen = [1n];
    for await (const u of stream) seen.push(u.droppedUpdates);
    expect(seen).to.deep.equal(Array.from({ length: total }, (_, i) => BigInt(i + 1)));
  });

  it('refuses a buffer size that is not a positive integer', () => {
    expect(() => mcr.watchStats({}, { bufferSize: 0 })).to.throw(RangeError);
  });

  describe('watchEvents', () => {
    /** An event whose message is `message`, with mcrd's cumulative dropped count. */
    const event = (kind: EventKind, message: string, dropped = 0n): WatchEventsResponse =>
      WatchEventsResponse.fromPartial({ event: { unixNanos: 1n, kind, message }, droppedEvents: dropped });

    it('sends the kinds asked for and yields every event in order', async () => {
      serveEvents = (call) => {
        call.write(event(EventKind.EVENT_KIND_INTERFACE_CHANGED, 'interface eth1 (index 3) up'));
        call.write(event(EventKind.EVENT_KIND_INTERFACE_REMOVED, 'interface eth1 removed', 2n));
        call.end();
      };
      const seen: Array<[string | undefined, bigint]> = [];
      const kinds = [EventKind.EVENT_KIND_INTERFACE_CHANGED, EventKind.EVENT_KIND_INTERFACE_REMOVED];
      for await (const r of mcr.watchEvents({ kinds })) seen.push([r.event?.message, r.droppedEvents]);
      expect(seen).to.deep.equal([
        ['interface eth1 (index 3) up', 0n],
        ['interface eth1 removed', 2n],
      ]);
      expect(eventRequests).to.deep.equal([{ kinds }]);
    });

    it('is cancelled by its signal while waiting for an event', async () => {
      serveEvents = () => undefined; // no event happens
      const stop = new AbortController();
      setTimeout(() => stop.abort(), 50);
      expect(await mcr.watchEvents({}, { signal: stop.signal }).next()).to.deep.equal({ value: undefined, done: true });
      expect(eventRequests).to.deep.equal([{ kinds: [] }]);
      await eventually('the server saw the call cancelled', () => cancelled === 1);
    });

    it('rejects with McrCallError naming WatchEvents when mcrd refuses it', async () => {
      serveEvents = (call) => call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: 'too many event watchers (limit 64)' });
      const err = await mcr.watchEvents().next().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(McrCallError);
      expect(err).to.include({ rpc: 'WatchEvents', code: grpc.status.RESOURCE_EXHAUSTED, timeoutMs: 0, connectFailure: false });
    });
  });
});
