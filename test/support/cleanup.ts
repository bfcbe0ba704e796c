/**
 * Last-resort cleanup for the end-to-end harness.
 *
 * Resources that outlive a test when it is interrupted (network namespaces, processes inside them,
 * temporary directories) register a synchronous cleanup here. Normally the test's own after() hook
 * releases them and unregisters; what is still registered when the process exits, or when it gets
 * SIGINT/SIGTERM/SIGHUP, is released then. Cleanups must be synchronous (an 'exit' listener cannot
 * wait) and must not throw.
 */

type Cleanup = () => void;

const pending = new Set<Cleanup>();
let installed = false;

function runAll(): void {
  // Newest first: a resource is usually released before the one it lives in.
  for (const cleanup of [...pending].reverse()) {
    pending.delete(cleanup);
    try {
      cleanup();
    } catch (err) {
      process.stderr.write(`e2e cleanup failed: ${(err as Error).message}\n`);
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  // Let the signal do what it would have done without us (or what another listener decides).
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
}

/** Registers `cleanup` to run at exit or on a fatal signal; returns a function that unregisters it. */
export function registerCleanup(cleanup: Cleanup): () => void {
  install();
  pending.add(cleanup);
  return () => {
    pending.delete(cleanup);
  };
}
