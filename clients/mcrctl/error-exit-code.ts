/** The exit code for an error that ended a command (exit-codes.ts lists them). */
import { CommanderError } from 'commander';

import { isConnectFailure } from '../lib/errors';
import { ExitCode } from './exit-codes';

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  if (isConnectFailure(err)) return ExitCode.Unreachable;
  return ExitCode.Failed;
}
