/**
 * mcrctl's exit codes (documented in docs/reference/mcrctl.md; scripts rely on them). The code for an
 * error is error-exit-code.ts's, which needs the client library: the command line parser loads this
 * file, and must not load grpc-js.
 */
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
