/**
 * Runs a watching command (`stats --watch`, `events`, `trace RULE`) until Ctrl-C, and decides what a
 * failure does. Without --reconnect, mcrd going away ends the command with exit 1 and a message that
 * says so (see watch-loss.ts), any other failure with its own exit code. With --reconnect, a loss (or
 * no mcrd at the start) is noted on stderr and the watch is tried again, after 250 ms, then twice as
 * long each time up to 5 s, until mcrd answers (noted too) or Ctrl-C; answers such as NOT_FOUND
 * still end the command.
 */
import type { McrClient } from '../lib/client';
import { formatGrpcError } from '../lib/errors';
import type { CommandContext } from './command-context';
import { pause } from './watch';
import { lossOf, McrdLostError, worthRetrying } from './watch-loss';

/** The first delay before another attempt, and the longest. */
export const RECONNECT_FIRST_DELAY_MS = 250;
export const RECONNECT_MAX_DELAY_MS = 5000;

/** The delay after `delayMs` when the attempt made after it failed too. */
export function nextReconnectDelay(delayMs: number): number {
  return Math.min(delayMs * 2, RECONNECT_MAX_DELAY_MS);
}

/** One attempt at a watch. */
export interface WatchAttempt {
  client: McrClient;
  /** Aborted by Ctrl-C, SIGTERM or a closed pipe: the watch then returns (the command exits 0). */
  signal: AbortSignal;
  /**
   * Says that mcrd answered this attempt, for a watch whose calls are unary (polled): a connection
   * refused after that means mcrd went away rather than that it was never there.
   */
  connected(): void;
}

/**
 * Runs `watch` until it returns: interrupted, or ended as its command expects (a trace that switched
 * itself off). A failure is thrown as described above; with `reconnect`, attempts after the first
 * use a client of their own (grpc-js holds a channel that failed to connect back for up to two
 * minutes) and begin with GetVersion, so that "reconnected" is said as soon as mcrd answers, even
 * for a stream that has nothing to send yet.
 */
export async function keepWatching(context: CommandContext, reconnect: boolean, watch: (attempt: WatchAttempt) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const release = context.onInterrupt(() => stop.abort());
  let client = context.client;
  let ownClient: McrClient | undefined;
  let delayMs = RECONNECT_FIRST_DELAY_MS;
  /** Set from a failure noted until mcrd answers again. */
  let down = false;
  try {
    for (;;) {
      let connected = false;
      try {
        if (down) {
          await client.getVersion();
          connected = true;
          down = false;
          delayMs = RECONNECT_FIRST_DELAY_MS;
          context.note(`mcrctl: reconnected to mcrd at ${client.target}`);
        }
        await watch({ client, signal: stop.signal, connected: () => void (connected = true) });
        return;
      } catch (err) {
        // Interrupted: mcrd going away meanwhile changes nothing; an answer (a failed DisableTrace) is still said.
        if (stop.signal.aborted && worthRetrying(err, connected)) return;
        const loss = lossOf(err, connected);
        if (!reconnect || !worthRetrying(err, connected)) throw loss === undefined ? err : new McrdLostError(loss, err);
        if (!down) context.note(`mcrctl: ${loss ?? formatGrpcError(err)}; reconnecting until it answers (Ctrl-C stops)`);
        else delayMs = nextReconnectDelay(delayMs);
        down = true;
      }
      await pause(delayMs, stop.signal);
      if (stop.signal.aborted) return;
      ownClient?.close();
      client = ownClient = context.connect();
    }
  } finally {
    ownClient?.close();
    release();
  }
}
