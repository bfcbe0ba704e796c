/**
 * One worker process: started already unprivileged through setpriv, talked to over its
 * SEQPACKET control channel (fd 3 in the worker), requests matched to replies by sequence number.
 */
import { spawn, ChildProcess } from 'child_process';
import { EventEmitter } from 'events';
import path from 'path';
import readline from 'readline';

import { native, ControlChannel } from '../../native';
import {
  decode,
  encode,
  LogLevel,
  PROTOCOL_VERSION,
  RequestBody,
  TestHooks,
  WorkerMessage,
  WorkerReply,
  WorkerRequest,
} from '../../workers/protocol';
import { logger, Logger } from '../log';
import { NODE_FLAGS } from '../node-flags';

/** How long a worker whose control channel closed may take to exit before it is killed. */
const CHANNEL_CLOSE_GRACE_MS = 200;

/** uid and gid the workers run as. */
export const NOBODY = 65534;

export interface WorkerLaunch {
  index: number;
  core: number;
  batch: number;
  logLevel: LogLevel;
  /** How long a request may wait for its reply. */
  requestTimeoutMs: number;
  /** How long the worker may take to report ready. */
  startTimeoutMs: number;
  /** Only with mcrd --test-hooks. */
  testHooks?: TestHooks;
  /** The counter region's memfd, handed over with the hello (the caller keeps its own). */
  countersFd?: number;
}

interface Pending {
  resolve: (reply: WorkerReply) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** Path of the worker's entry point, next to this file in dist/ or in the source tree under ts-node. */
export function workerEntry(): string {
  const ext = path.extname(__filename);
  return path.resolve(__dirname, '..', '..', 'workers', `main${ext === '.ts' ? '.ts' : '.js'}`);
}

/** The command line that starts a worker with no privilege at all (dropped before exec). */
export function workerCommand(entry: string): { file: string; args: string[] } {
  const nodeArgs = entry.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only', entry] : [entry];
  return {
    file: 'setpriv',
    args: [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--ambient-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--pdeathsig=KILL',
      '--',
      process.execPath,
      ...NODE_FLAGS,
      ...nodeArgs,
    ],
  };
}

/**
 * Events: 'exit' (code, signal) once the process has gone; 'message' for unsolicited worker events
 * other than logs (which are written to the log here).
 */
export class WorkerProcess extends EventEmitter {
  readonly log: Logger;
  /** The worker's own log lines, under facility "worker". */
  private readonly workerLog: Logger;
  private child?: ChildProcess;
  private channel?: ControlChannel;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private exited = false;
  pid = 0;
  uid = -1;
  readonly startedAt = process.hrtime.bigint();
  readonly startedUnixNanos = BigInt(Date.now()) * 1_000_000n;

  constructor(readonly launch: WorkerLaunch) {
    super();
    this.log = logger('workers', { worker: launch.index });
    this.workerLog = logger('worker', { worker: launch.index });
  }

  /** Starts the process and resolves once it has reported ready and accepted its hello. */
  async start(): Promise<void> {
    const addon = native();
    const [mine, theirs] = addon.socketpair();
    const { file, args } = workerCommand(workerEntry());
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        stdio: ['ignore', 'pipe', 'pipe', theirs],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_ENV: process.env.NODE_ENV ?? 'production' },
        cwd: '/',
      });
    } finally {
      addon.closeFd(theirs);
    }
    this.child = child;
    this.forwardOutput(child);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker ${this.launch.index} did not report ready within ${this.launch.startTimeoutMs} ms`)),
        this.launch.startTimeoutMs,
      );
      this.once('ready', () => { clearTimeout(timer); resolve(); });
      this.once('exit', (code: number | null, signal: string | null) => {
        clearTimeout(timer);
        reject(new Error(`worker ${this.launch.index} exited during start (code ${code}, signal ${signal})`));
      });
    });
    // 'error' also reports a failed kill (EPERM without CAP_KILL, ESRCH): log every one, never throw.
    child.on('error', (err) => this.log.error('worker process error', { error: err.message }));
    child.once('exit', (code, signal) => this.onExit(code, signal));
    this.pid = child.pid ?? 0;
    this.channel = new addon.ControlChannel(
      mine,
      (data, fds) => {
        // A worker never sends descriptors: close any, so that a compromised one cannot exhaust ours.
        for (const fd of fds) addon.closeFd(fd);
        this.onMessage(data);
      },
      (reason) => this.onChannelClosed(reason),
    );
    try {
      await ready;
      const { index, core, batch, logLevel, testHooks, countersFd } = this.launch;
      const counters = countersFd !== undefined;
      await this.request({ type: 'hello', index, core, batch, logLevel, testHooks, counters }, counters ? [countersFd] : []);
    } catch (err) {
      this.kill();
      throw err;
    }
  }

  get alive(): boolean {
    return !this.exited && this.child !== undefined;
  }

  /** Sends a request and waits for its reply; rejects on error reply, timeout or exit. */
  request(body: RequestBody, fds: number[] = [], timeoutMs = this.launch.requestTimeoutMs): Promise<WorkerReply> {
    if (!this.alive || !this.channel) return Promise.reject(new Error(`worker ${this.launch.index} is not running`));
    const seq = ++this.seq;
    const message = { ...body, seq } as WorkerRequest;
    return new Promise<WorkerReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`worker ${this.launch.index} did not answer ${body.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, {
        timer,
        reject,
        resolve: (reply) => (reply.ok ? resolve(reply) : reject(new Error(`worker ${this.launch.index}: ${reply.error}`))),
      });
      this.channel!.send(encode(message), fds);
    });
  }

  /** Asks the worker to stop, then kills it if it has not gone within the grace period. */
  async stop(graceMs: number): Promise<void> {
    if (!this.alive) return;
    const gone = new Promise<void>((resolve) => this.once('exit', () => resolve()));
    this.request({ type: 'shutdown' }).catch(() => undefined);
    const timer = setTimeout(() => this.kill(), graceMs);
    await gone;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.alive) this.child!.kill('SIGKILL');
  }

  private onMessage(data: Buffer): void {
    let message: WorkerMessage;
    try {
      message = decode<WorkerMessage>(data);
    } catch {
      this.log.error('undecodable message from worker', { bytes: data.length });
      return;
    }
    switch (message.type) {
      case 'reply': {
        const pending = this.pending.get(message.seq);
        if (!pending) return;
        this.pending.delete(message.seq);
        clearTimeout(pending.timer);
        pending.resolve(message);
        return;
      }
      case 'ready':
        if (message.protocol !== PROTOCOL_VERSION) {
          this.log.error('worker speaks another protocol version', { theirs: message.protocol, ours: PROTOCOL_VERSION });
          this.kill();
          return;
        }
        this.pid = message.pid;
        this.uid = message.uid;
        this.emit('ready');
        return;
      case 'log':
        this.workerLog.log(message.level, message.message, message.meta ?? {});
        return;
      case 'fatal':
        this.log.error(`worker refused to run: ${message.message}`);
        return;
      case 'trace':
        this.emit('message', message);
        return;
    }
  }

  private onChannelClosed(reason: string): void {
    this.failPending(`worker ${this.launch.index} control channel closed: ${reason}`);
    // A worker that is exiting closes its channel a moment before it is gone: let it exit by itself
    // (so its own exit code is recorded) and kill it only if it lingers.
    setTimeout(() => this.kill(), CHANNEL_CLOSE_GRACE_MS).unref();
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    this.failPending(`worker ${this.launch.index} exited`);
    this.channel?.close();
    this.channel = undefined;
    this.emit('exit', code, signal);
  }

  private failPending(reason: string): void {
    for (const [seq, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error(reason));
      this.pending.delete(seq);
    }
  }

  /** Anything the worker prints outside the control channel ends up in the log too. */
  private forwardOutput(child: ChildProcess): void {
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      readline.createInterface({ input: stream }).on('line', (line) => this.log.warn('worker output', { line }));
    }
  }
}
