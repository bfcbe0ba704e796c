/**
 * The worker's confinement applied by the real kernel, in a child process set up like a worker on the
 * loopback interface (test/support/confined-child.ts; as root, so that only the filter stands in the
 * way): every thread is filtered, including one started afterwards; every forbidden attempt fails
 * with EPERM; signalling another process is refused; and the data plane still receives on its
 * capture socket (recvmmsg) and sends on its egress socket (sendmmsg), losing nothing.
 */
import { expect } from 'chai';
import { ChildProcess, spawn } from 'child_process';
import dgram from 'dgram';
import path from 'path';
import readline from 'readline';

import type { ConfinedReport } from '../support/confined-child';
import { requireRoot } from '../support/fixture';

const CHILD = path.resolve(__dirname, '..', 'support', 'confined-child.ts');
const LOOPBACK = '127.0.0.1';
const PACKETS = 500;
const TIMEOUT_MS = 10_000;
/** SECCOMP_MODE_FILTER in /proc/PID/status. */
const FILTERED = '2';

/** A UDP socket bound to a free loopback port, counting what it receives. */
async function receiver(): Promise<{ socket: dgram.Socket; port: number; received: () => number }> {
  const socket = dgram.createSocket('udp4');
  let count = 0;
  socket.on('message', () => count++);
  await new Promise<void>((resolve) => socket.bind(0, LOOPBACK, resolve));
  return { socket, port: socket.address().port, received: () => count };
}

/** The child's stdout, line by line, awaited one at a time. */
function lineReader(child: ChildProcess): () => Promise<string> {
  const lines: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  let exited = false;
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  child.once('exit', () => (exited = true));
  return () =>
    new Promise((resolve, reject) => {
      const queued = lines.shift();
      if (queued !== undefined) return resolve(queued);
      const fail = (why: string) => () => reject(new Error(`no line from the confined child: ${why}`));
      if (exited) return fail(`it exited (code ${child.exitCode}, signal ${child.signalCode})`)();
      const timer = setTimeout(fail(`nothing within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
      const onExit = () => { clearTimeout(timer); setImmediate(fail(`it exited (code ${child.exitCode}, signal ${child.signalCode})`)); };
      child.once('exit', onExit);
      waiters.push((line) => { clearTimeout(timer); child.off('exit', onExit); resolve(line); });
    });
}

async function waitUntil(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('worker seccomp confinement (kernel)', function () {
  this.timeout(60_000);
  let child: ChildProcess;
  let nextLine: () => Promise<string>;
  let stderr = '';
  let report: ConfinedReport;
  let input: Awaited<ReturnType<typeof receiver>>; // holds the input port, so the kernel does not answer ICMP
  let output: Awaited<ReturnType<typeof receiver>>;

  before(async function () {
    requireRoot();
    input = await receiver();
    output = await receiver();
    child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', CHILD, String(input.port), String(output.port)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    nextLine = lineReader(child);
    const line = await nextLine().catch((err: Error) => {
      throw new Error(`${err.message}; child stderr:\n${stderr}`);
    });
    report = JSON.parse(line) as ConfinedReport;
  });

  after(() => {
    input?.socket.close();
    output?.socket.close();
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('every thread runs the filter with no_new_privs, including a thread started after it', () => {
    expect(report.threads.length, 'threads (Node starts several)').to.be.greaterThan(4);
    for (const thread of report.threads) expect(thread, `thread ${thread.tid}`).to.include({ seccomp: FILTERED, noNewPrivs: '1' });
    expect(report.workerThreadSaid).to.equal('thread ran');
    expect(report.threadsStartedAfter.length, 'threads that did not exist before the filter').to.be.greaterThan(0);
    for (const thread of report.threadsStartedAfter) expect(thread, `new thread ${thread.tid}`).to.include({ seccomp: FILTERED });
  });

  it('every forbidden attempt fails with EPERM (as root: the filter alone refuses them)', () => {
    expect(report.attempts.map((a) => a.attempt)).to.include.members([
      'socket(AF_PACKET, SOCK_RAW)',
      'bind(packet socket, lo)',
      'setsockopt(packet socket, SO_DETACH_FILTER)',
      'setsockopt(packet socket, SO_ATTACH_FILTER accept-all)',
      'execve(/bin/true)',
    ]);
    for (const { attempt, error } of report.attempts) expect(error, attempt).to.equal('EPERM');
  });

  it('signals may go to itself only', () => {
    expect(report.signalSelf, 'kill(self, 0)').to.equal(null);
    expect(report.signalParent, 'kill(parent, 0)').to.equal('EPERM');
  });

  it('still receives on its capture socket and sends on its egress socket: all forwarded', async () => {
    const sender = dgram.createSocket('udp4');
    try {
      for (let i = 0; i < PACKETS; i++) {
        await new Promise<void>((resolve, reject) => sender.send(Buffer.from(`packet ${i}`), input.port, LOOPBACK, (err) => (err ? reject(err) : resolve())));
        if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5)); // well within the socket buffers
      }
    } finally {
      sender.close();
    }
    await waitUntil(`${PACKETS} forwarded datagrams (got ${output.received()})`, () => output.received() >= PACKETS);
    child.stdin!.write('counters\n');
    const counters = JSON.parse(await nextLine()) as { rules: Array<{ id: string; packets: string; forwarded: string; sendFailed: string }> };
    expect(counters.rules).to.have.length(1);
    expect(counters.rules[0]).to.include({ id: 'confined', packets: String(PACKETS), forwarded: String(PACKETS), sendFailed: '0' });
    expect(output.received()).to.equal(PACKETS);
  });

  it('exits normally', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdin!.write('exit\n');
    expect(await exited).to.equal(0);
  });
});
