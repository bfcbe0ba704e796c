/** mcrctl's exit codes (documented in docs/reference/mcrctl.md; scripts rely on them). */
import { CommanderError } from 'commander';

import { isConnectFailure } from '../lib/errors';

export const ExitCode = {
  /** The command did what was asked. */
  Ok: 0,
  /** mcrd answered with an error (invalid argument, not found, aborted, ...). */
  Failed: 1,
  /** The command line is wrong; nothing was sent. */
  Usage: 2,
  /** mcrd could not be reached (no socket, connection refused, permission denied on the socket). */
  Unreachable: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code for an error that ended a command. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  if (isConnectFailure(err)) return ExitCode.Unreachable;
  return ExitCode.Failed;
}
