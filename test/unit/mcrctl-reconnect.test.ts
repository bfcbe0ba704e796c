/**
 * How a watching command ends when mcrd goes away (watch-loss.ts), and --reconnect's loop
 * (reconnect.ts), with scripted failures and fake clients: which failures are a loss, which are
 * final, what is noted on stderr, the backoff, and Ctrl-C while waiting.
 */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { McrClient } from '../../clients/lib/client';
import { McrCallError } from '../../clients/lib/errors';
import { CommandContext } from '../../clients/mcrctl/command-context';
import { keepWatching, nextReconnectDelay, RECONNECT_FIRST_DELAY_MS, RECONNECT_MAX_DELAY_MS, WatchAttempt } from '../../clients/mcrctl/reconnect';
import { lossOf, McrdLostError, StreamEndedError, worthRetrying } from '../../clients/mcrctl/watch-loss';

const TARGET = 'unix:/run/mcr/mcr.sock';
const callError = (code: status, details: string, rpc = 'WatchStats') => new McrCallError({ code, details }, { target: TARGET, rpc, timeoutMs: 0 });
const shuttingDown = () => callError(status.UNAVAILABLE, 'mcrd is shutting down');
const dropped = () => callError(status.UNAVAILABLE, 'Connection dropped');
const refused = () => callError(status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED /run/mcr/mcr.sock', 'GetVersion');
const notFound = () => callError(status.NOT_FOUND, 'no rule "cam9"');

/** A stand-in for McrClient: GetVersion answers or fails as scripted. */
class FakeClient {
  readonly target = TARGET;
  closed = false;
  constructor(private readonly version: () => Promise<unknown>) {}
  getVersion(): Promise<unknown> {
    return this.version();
  }
  close(): void {
    this.closed = true;
  }
}

interface Harness {
  context: CommandContext;
  notes: string[];
  clients: FakeClient[];
  interrupt(): void;
  released(): boolean;
}

/** A context whose connect() hands out clients whose GetVersion does what `versions` say, in turn. */
function harness(versions: Array<() => Promise<unknown>> = []): Harness {
  const notes: string[] = [];
  const clients: FakeClient[] = [];
  let handler: (() => void) | undefined;
  let released = false;
  const context = {
    client: new FakeClient(() => Promise.resolve({})) as unknown as McrClient,
    printer: { json: false, interactive: false, write: () => undefined, writeBytes: () => undefined },
    note: (text: string) => void notes.push(text),
    onInterrupt: (h: () => void) => {
      handler = h;
      return () => void (released = true);
    },
    connect: () => {
      const client = new FakeClient(versions[clients.length] ?? (() => Promise.resolve({})));
      clients.push(client);
      return client as unknown as McrClient;
    },
  } satisfies CommandContext;
  return { context, notes, clients, interrupt: () => handler?.(), released: () => released };
}

/** A watch that fails with each of `failures` in turn, then returns. */
function scripted(failures: unknown[]): { watch: (attempt: WatchAttempt) => Promise<void>; attempts: WatchAttempt[] } {
  const attempts: WatchAttempt[] = [];
  return {
    attempts,
    watch: async (attempt) => {
      attempts.push(attempt);
      const failure = failures[attempts.length - 1];
      if (failure !== undefined) throw failure;
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  expect.fail('it resolved');
}

describe('mcrctl watches when mcrd goes away', () => {
  describe('lossOf', () => {
    it('says "mcrd shut down" when mcrd said it is shutting down, ended the stream, or cancelled it', () => {
      expect(lossOf(shuttingDown(), false)).to.equal('mcrd shut down');
      expect(lossOf(new StreamEndedError('WatchStats'), false)).to.equal('mcrd shut down (it ended the WatchStats stream)');
      expect(lossOf(callError(status.CANCELLED, 'Call cancelled', 'WatchEvents'), false)).to.equal('mcrd shut down (it cancelled the WatchEvents stream)');
    });

    it('says the connection was lost when it dropped, or was refused after mcrd had answered', () => {
      expect(lossOf(dropped(), false)).to.equal('connection to mcrd lost (Connection dropped)');
      expect(lossOf(refused(), true)).to.equal(`connection to mcrd lost: cannot reach mcrd at ${TARGET} (connection refused): is mcrd running?`);
    });

    it('is none of those for an answer from mcrd, a connection never made, or a local error', () => {
      expect(lossOf(notFound(), true)).to.equal(undefined);
      expect(lossOf(callError(status.RESOURCE_EXHAUSTED, 'too many watchers'), true)).to.equal(undefined);
      expect(lossOf(refused(), false)).to.equal(undefined);
      expect(lossOf(new Error('cannot write the capture'), true)).to.equal(undefined);
    });

    it('retries losses and a connection not made yet, never an answer', () => {
      expect([shuttingDown(), dropped(), refused()].map((err) => worthRetrying(err, false))).to.deep.equal([true, true, true]);
      expect(worthRetrying(notFound(), true)).to.equal(false);
      expect(worthRetrying(new Error('disk full'), true)).to.equal(false);
    });
  });

  it('backs off from 250 ms, doubling, to at most 5 s', () => {
    const delays = [RECONNECT_FIRST_DELAY_MS];
    while (delays.length < 7) delays.push(nextReconnectDelay(delays[delays.length - 1]));
    expect(delays).to.deep.equal([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect(RECONNECT_MAX_DELAY_MS).to.equal(5000);
  });

  describe('without --reconnect', () => {
    it('ends with McrdLostError (exit 1) when mcrd goes away, after one attempt', async () => {
      const h = harness();
      const { watch, attempts } = scripted([shuttingDown()]);
      const err = await rejection(keepWatching(h.context, false, watch));
      expect(err).to.be.instanceOf(McrdLostError);
      expect((err as Error).message).to.equal('mcrd shut down');
      expect(attempts).to.have.length(1);
      expect(h.notes).to.deep.equal([]);
      expect(h.released(), 'Ctrl-C handler released').to.equal(true);
    });

    it('passes on an answer from mcrd, and a connection never made (exit 3), as they are', async () => {
      expect(await rejection(keepWatching(harness().context, false, scripted([notFound()]).watch))).to.be.instanceOf(McrCallError);
      const err = await rejection(keepWatching(harness().context, false, scripted([refused()]).watch));
      expect((err as McrCallError).connectFailure).to.equal(true);
    });

    it('tells a refused connection after mcrd answered (a polled watch) from one never made', async () => {
      const err = await rejection(
        keepWatching(harness().context, false, async ({ connected }) => {
          connected();
          throw refused();
        }),
      );
      expect((err as Error).message).to.match(/^connection to mcrd lost: cannot reach mcrd/);
    });
  });

  describe('with --reconnect', () => {
    it('notes the loss once, retries on fresh clients with a growing delay until mcrd answers, notes that, and goes on', async () => {
      const h = harness([() => Promise.reject(refused()), () => Promise.reject(refused()), () => Promise.resolve({})]);
      const { watch, attempts } = scripted([dropped()]);
      const started = Date.now();
      await keepWatching(h.context, true, watch);
      expect(h.notes).to.deep.equal([
        'mcrctl: connection to mcrd lost (Connection dropped); reconnecting until it answers (Ctrl-C stops)',
        `mcrctl: reconnected to mcrd at ${TARGET}`,
      ]);
      expect(Date.now() - started, '250 + 500 + 1000 ms of waiting').to.be.at.least(1700);
      expect(attempts.map((a) => a.client)).to.deep.equal([h.context.client, h.clients[2]]);
      expect(h.clients.map((c) => c.closed), 'every fresh client closed').to.deep.equal([true, true, true]);
    });

    it('waits for an mcrd that is not there yet, and notes each loss after a reconnection', async () => {
      const h = harness();
      const { watch, attempts } = scripted([refused(), shuttingDown()]);
      await keepWatching(h.context, true, watch);
      expect(attempts).to.have.length(3);
      expect(h.notes).to.deep.equal([
        `mcrctl: cannot reach mcrd at ${TARGET} (connection refused): is mcrd running?; reconnecting until it answers (Ctrl-C stops)`,
        `mcrctl: reconnected to mcrd at ${TARGET}`,
        'mcrctl: mcrd shut down; reconnecting until it answers (Ctrl-C stops)',
        `mcrctl: reconnected to mcrd at ${TARGET}`,
      ]);
    });

    it('still ends with an answer from mcrd', async () => {
      const h = harness();
      expect(await rejection(keepWatching(h.context, true, scripted([shuttingDown(), notFound()]).watch))).to.be.instanceOf(McrCallError);
    });

    it('ends normally on Ctrl-C while waiting for mcrd', async () => {
      const h = harness([() => Promise.reject(refused())]);
      const { watch, attempts } = scripted([shuttingDown()]);
      const running = keepWatching(h.context, true, watch);
      setTimeout(() => h.interrupt(), 400); // during the second wait (after 250 ms and a refused GetVersion)
      await running;
      expect(attempts).to.have.length(1);
      expect(attempts[0].signal.aborted).to.equal(true);
      expect(h.released()).to.equal(true);
    });
  });
});
