/** Where mcrctl writes and what environment it reads; the process's by default, replaced in tests. */
export interface CliIo {
  stdout(text: string): void;
  /** Binary data to stdout (`trace --pcap`); when absent, such output must go to a file. */
  stdoutBytes?(bytes: Uint8Array): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal (`stats --watch` then redraws in place); false when absent. */
  isTTY?: boolean;
  /**
   * Calls `handler` when the user asks a long-running command (`stats --watch`, `events`, `trace`) to
   * stop, until the returned function is called; never when absent.
   */
  onInterrupt?(handler: () => void): () => void;
}

/**
 * Ctrl-C (SIGINT), SIGTERM (a service manager, `timeout`), or stdout closed by its reader
 * (`mcrctl stats --watch --json | head -3`, Wireshark quitting).
 */
function onProcessInterrupt(handler: () => void): () => void {
  const onBrokenPipe = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') handler();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.stdout.on('error', onBrokenPipe);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    process.stdout.off('error', onBrokenPipe);
  };
}

/**
 * Stdout closed by its reader (`mcrctl rule list | head -1`, `mcrctl --help | head`): what is left to
 * print goes nowhere and the command ends as it would have, with its own exit code, instead of dying
 * of the unhandled EPIPE with a stack trace (a long-running command also stops: onProcessInterrupt).
 */
function ignoreClosedStdout(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err;
}

export const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stdoutBytes: (bytes) => void process.stdout.write(bytes),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
  isTTY: process.stdout.isTTY === true,
  onInterrupt: onProcessInterrupt,
};

process.stdout.on('error', ignoreClosedStdout);
