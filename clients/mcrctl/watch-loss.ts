/**
 * How a watching command (`stats --watch`, `events`, `trace RULE`) tells "mcrd went away" from the
 * other ways a watch can fail, and what it says then. mcrd ends every open stream with UNAVAILABLE
 * "mcrd is shutting down" when it stops; a connection cut under a stream (mcrd killed, the network
 * gone) is grpc-js's UNAVAILABLE "Connection dropped"; an mcrd of before that change ended its
 * streams with OK (WatchStats, WatchTraces) or cut them when it forced its listeners shut, which the
 * client sees as CANCELLED. Each of these is a loss: exit 1 with a message saying so, or, with
 * --reconnect, a note and another attempt (see reconnect.ts).
 */
import { status } from '@grpc/grpc-js';

import { formatGrpcError, McrCallError } from '../lib/errors';
import { SHUTTING_DOWN } from '../lib/version';

/** A stream mcrd ended with OK although the command never asked it to stop. */
export class StreamEndedError extends Error {
  override name = 'StreamEndedError';

  constructor(readonly rpc: string) {
    super(`mcrd ended the ${rpc} stream`);
  }
}

/** mcrd went away under a watch: main() prints "mcrctl: MESSAGE" and exits 1. */
export class McrdLostError extends Error {
  override name = 'McrdLostError';

  constructor(
    message: string,
    /** The error the watch ended with. */
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

/** What mcrctl says when mcrd stopped, and is gone. */
export const MCRD_SHUT_DOWN = 'mcrd shut down';

/**
 * The message for `err` when it says that mcrd went away, or undefined when it says something else
 * (an answer such as NOT_FOUND, or no mcrd to begin with). `connected`: mcrd had answered this watch,
 * so that a connection refused now means it has gone, where at the start it means it was never there.
 */
export function lossOf(err: unknown, connected: boolean): string | undefined {
  if (err instanceof StreamEndedError) return `${MCRD_SHUT_DOWN} (it ended the ${err.rpc} stream)`;
  if (!(err instanceof McrCallError)) return undefined;
  if (err.connectFailure) return connected ? `connection to mcrd lost: ${formatGrpcError(err)}` : undefined;
  if (err.code === status.UNAVAILABLE) return err.details === SHUTTING_DOWN ? MCRD_SHUT_DOWN : `connection to mcrd lost (${err.details})`;
  // A stream mcrctl cancels itself ends without an error, so a CANCELLED that reaches it is mcrd's.
  if (err.code === status.CANCELLED) return `${MCRD_SHUT_DOWN} (it cancelled the ${err.rpc} stream)`;
  return undefined;
}

/**
 * Whether another attempt may succeed where `err` failed (--reconnect): mcrd went away, or cannot be
 * reached yet. An answer from mcrd (a rule not found, too many watchers, a bad token) is final.
 */
export function worthRetrying(err: unknown, connected: boolean): boolean {
  return lossOf(err, connected) !== undefined || (err instanceof McrCallError && err.connectFailure);
}
