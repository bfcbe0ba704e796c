/**
 * A process that sets itself up like a worker on the loopback interface, applies the worker's
 * confinement (applyWorkerSeccomp), and then shows what still works and what does not. Run by
 * test/unit/worker-seccomp.test.ts as root:
 *
 *   node -r ts-node/register/transpile-only confined-child.ts INPUT_PORT OUTPUT_PORT
 *
 * Before confining itself it opens, like a supervisor would, a capture socket on lo, an egress socket to 127.0.0.1:OUTPUT_PORT, a data plane forwarding one to the
 * other, and a spare capture socket for the probe. Then it writes one JSON line (ConfinedReport)
 * and answers each line on stdin: "counters" with the data plane's counters as JSON, "exit" by
 * exiting 0.
 */
import fs from 'fs';
import readline from 'readline';
import { Worker } from 'worker_threads';

import { native, type ConfinementAttempt } from '../../native';
import { FIXED_SEND_POLICY, UNKNOWN_MTU } from './send-policy';

export interface ThreadStatus {
  tid: string;
  seccomp: string;
  noNewPrivs: string;
}

export interface ConfinedReport {
  /** Every thread's Seccomp and NoNewPrivs (from /proc/self/task/TID/status) after confinement. */
  threads: ThreadStatus[];
  /** Thread ids that did not exist before the confinement (a worker_threads Worker started after). */
  threadsStartedAfter: ThreadStatus[];
  /** What a worker_threads Worker started under the filter printed back. */
  workerThreadSaid: string;
  attempts: ConfinementAttempt[];
  /** The error code of signalling the parent process (signal 0), or null if allowed. */
  signalParent: string | null;
  /** The error code of signalling itself (signal 0), or null if allowed. */
  signalSelf: string | null;
}

const LOOPBACK = '127.0.0.1';

function threads(): ThreadStatus[] {
  return fs.readdirSync('/proc/self/task').map((tid) => {
    const status = fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1] ?? '?';
    return { tid, seccomp: field('Seccomp'), noNewPrivs: field('NoNewPrivs') };
  });
}

function signalCode(pid: number): string | null {
  try {
    process.kill(pid, 0);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

/** Starts a worker_threads Worker (a new OS thread) and resolves with its message and the threads seen meanwhile. */
function startThread(): Promise<{ said: string; seen: ThreadStatus[] }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker("require('worker_threads').parentPort.postMessage('thread ran')", { eval: true });
    let seen: ThreadStatus[] = [];
    worker.once('message', (said: string) => {
      seen = threads();
      worker.once('exit', () => resolve({ said, seen }));
    });
    worker.once('error', reject);
  });
}

async function main(): Promise<void> {
  const [inputPort, outputPort] = process.argv.slice(2).map(Number);
  const addon = native();
  const lo = addon.ifNameToIndex('lo');
  // Accepts every frame: the data plane's own match picks the test's datagrams out of lo's traffic.
  const capture = addon.openPacketSocket({ ifindex: lo, rcvbuf: 4 << 20, filter: [[0x06, 0, 0, 0xffff]] });
  const egress = addon.openEgressSocket({ ifname: 'lo', ifindex: lo, ttl: 64, tos: 0, dontFragment: false, sndbuf: 1 << 20 });
  const spare = addon.openPacketSocket({ ifindex: lo, rcvbuf: 1 << 16, filter: [[0x06, 0, 0, 0]] });
  const dataplane = new addon.Dataplane({ core: -1, batch: 32 });
  dataplane.addInput(1, capture);
  dataplane.addSender(3, egress, FIXED_SEND_POLICY, UNKNOWN_MTU);
  dataplane.addOutput(2, 3, LOOPBACK, outputPort);
  dataplane.setRules([{ id: 'confined', input: 1, group: LOOPBACK, port: inputPort, source: '', outputs: [2] }]);
  const before = new Set(threads().map((t) => t.tid));

  addon.applyWorkerSeccomp();

  const started = await startThread();
  const report: ConfinedReport = {
    threads: threads(),
    threadsStartedAfter: started.seen.filter((t) => !before.has(t.tid)),
    workerThreadSaid: started.said,
    attempts: addon.probeConfinement(spare),
    signalParent: signalCode(process.ppid),
    signalSelf: signalCode(process.pid),
  };
  process.stdout.write(JSON.stringify(report) + '\n');

  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line === 'counters') {
      const counters = { rules: dataplane.ruleCounters(), inputs: dataplane.inputCounters() };
      process.stdout.write(JSON.stringify(counters, (_key, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
    }
    if (line === 'exit') {
      dataplane.close();
      process.exit(0);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`confined child failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
