/**
 * Runs the real mcrd (dist/server/main.js) inside the relay namespace for the end-to-end tests:
 *
 *   ip netns exec RELAY node dist/server/main.js --listen unix:DIR/mcr.sock --state-dir DIR/state \
 *       --workers N --log-level debug
 *
 * (--workers only when the options give it; `wrap` starts all of it through a command such as
 * `taskset -c 1`.)
 * DIR is a fresh temporary directory kept across restarts (so a restart finds the same state) and
 * removed by dispose(). The unix socket lives in the file system, so the test process, in the root
 * namespace, connects to it directly. Output is kept (bounded) to be printed when a test fails.
 */
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { registerCleanup } from './cleanup';
import { McrClient } from './grpc';
import { NODE_FLAGS } from '../../server/node-flags';
import { inNamespace, spawnIn } from './netns';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const MCRD_MAIN = path.join(REPO_ROOT, 'dist', 'server', 'main.js');

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
/** How often start() looks whether mcrd serves yet (the socket, then its health). */
const SERVING_POLL_MS = 25;
/** How long to wait, after mcrd exited, for the rest of its output. */
const OUTPUT_DRAIN_MS = 2000;
const LOG_LIMIT_CHARS = 4 << 20;

export interface McrdOptions {
  /** --workers; undefined: not given, mcrd's default (one per CPU it may use). */
  workers: number | undefined;
  logLevel?: string;
  /** More arguments after the standard ones (another --listen, --insecure, a bad flag...). */
  extraArgs?: readonly string[];
  /** More node flags for mcrd itself (e.g. --expose-gc). */
  nodeFlags?: readonly string[];
  /** Run this mcrd executable (an installed one: PREFIX/bin/mcrd) instead of the checkout's dist/. */
  executable?: string;
  /**
   * A command that starts mcrd, given `ip netns exec RELAY node ...` as its last arguments:
   * `['taskset', '-c', '1']`, or `['sh', '-c', 'echo $$ > CGROUP/cgroup.procs && exec "$@"', 'sh']` to
   * start it in a cgroup. Outside the namespace, because `ip netns exec` mounts a sysfs of the
   * namespace's own over /sys, which hides /sys/fs/cgroup. It must exec what it is given (so that
   * the pid and the signals are mcrd's); CPU affinity and cgroup survive the execs.
   */
  wrap?: readonly string[];
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** SIGTERM was not enough within the grace period: SIGKILL ended it. */
  killed: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Mcrd {
  readonly dir: string;
  readonly socketPath: string;
  readonly stateDir: string;
  private child: ChildProcess | null = null;
  private exited: Promise<ExitStatus> | null = null;
  private output = '';
  private unregister: (() => void) | null;

  constructor(
    private readonly relayNs: string,
    private readonly options: McrdOptions,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcrt-'));
    this.socketPath = path.join(this.dir, 'mcr.sock');
    this.stateDir = path.join(this.dir, 'state');
    this.unregister = registerCleanup(() => this.release());
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** mcrd's resident memory (VmRSS of /proc/PID/status) in bytes; the supervisor alone, not its workers. */
  residentBytes(): number {
    const pid = this.pid;
    if (pid === undefined || !this.child) throw new Error('mcrd is not running');
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (!match) throw new Error(`no VmRSS line in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  }

  /** Everything mcrd printed so far (the most recent 4 MB). */
  logs(): string {
    return this.output;
  }

  private append(text: string): void {
    this.output += text;
    if (this.output.length > LOG_LIMIT_CHARS) this.output = this.output.slice(-LOG_LIMIT_CHARS / 2);
  }

  /** Starts mcrd and resolves once its health service reports SERVING. */
  async start(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    this.launch();
    try {
      await this.waitUntilServing(timeoutMs);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Starts mcrd expecting it to refuse to start, and resolves with how it exited. Fails (after
   * stopping it) if it is still running after timeoutMs.
   */
  async runUntilExit(timeoutMs = START_TIMEOUT_MS): Promise<ExitStatus> {
    const { exited, closed } = this.launch();
    const status = await Promise.race([exited, sleep(timeoutMs).then(() => null)]);
    if (status) {
      // The output it wrote last may still be in the pipes when the exit is reported.
      await Promise.race([closed, sleep(OUTPUT_DRAIN_MS)]);
      return status;
    }
    await this.stop();
    throw new Error(`mcrd did not exit by itself within ${timeoutMs} ms; output:\n${this.output}`);
  }

  /** Spawns mcrd (not yet serving); returns promises of its exit and of the end of its output. */
  private launch(): { exited: Promise<ExitStatus>; closed: Promise<void> } {
    if (this.child) throw new Error('mcrd is already running');
    const { executable } = this.options;
    if (executable === undefined && !fs.existsSync(MCRD_MAIN)) throw new Error(`mcrd is not built: ${MCRD_MAIN} does not exist (run \`npm run build\`)`);
    const program = executable !== undefined ? [executable] : [process.execPath, ...NODE_FLAGS, ...(this.options.nodeFlags ?? []), MCRD_MAIN];
    const argv = [...program, '--listen', `unix:${this.socketPath}`, '--state-dir', this.stateDir];
    if (this.options.workers !== undefined) argv.push('--workers', String(this.options.workers));
    argv.push('--log-level', this.options.logLevel ?? 'debug');
    argv.push(...(this.options.extraArgs ?? []));
    const wrap = this.options.wrap ?? [];
    this.append(`--- starting: ${[...wrap, ...argv].join(' ')}\n`);
    const child =
      wrap.length > 0
        ? spawn(wrap[0], [...wrap.slice(1), 'ip', ...inNamespace(this.relayNs, argv)], { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO_ROOT })
        : spawnIn(this.relayNs, argv, { cwd: REPO_ROOT });
    this.child = child;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.append(chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.append(chunk));
    const exited = new Promise<ExitStatus>((resolve) => {
      child.on('error', (err) => this.append(`--- spawn error: ${err.message}\n`));
      // 'exit', not 'close': workers that inherited the pipes could keep them open after mcrd is gone.
      child.on('exit', (code, signal) => {
        this.append(`--- exited: ${signal ?? `code ${code}`}\n`);
        if (this.child === child) this.child = null;
        resolve({ code, signal, killed: false });
      });
    });
    this.exited = exited;
    const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
    return { exited, closed };
  }

  private async waitUntilServing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'the socket never appeared';
    while (Date.now() < deadline) {
      if (!this.child) throw new Error(`mcrd exited before serving:\n${this.output}`);
      if (fs.existsSync(this.socketPath)) {
        // A fresh channel per attempt: a channel that failed to connect backs off for seconds.
        const client = new McrClient(this.socketPath);
        try {
          const status = await client.healthStatus();
          if (status === 'SERVING') return;
          last = `health status ${status}`;
        } catch (err) {
          last = (err as Error).message;
        } finally {
          client.close();
        }
      }
      // Often, and cheap (a stat, or one health call): start-up times are measured through this.
      await sleep(SERVING_POLL_MS);
    }
    throw new Error(`mcrd was not SERVING within ${timeoutMs} ms (last: ${last}); output:\n${this.output}`);
  }

  /** SIGTERM, then SIGKILL if it is still running after 10 s. Resolves with how it ended. */
  async stop(): Promise<ExitStatus> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) return { code: null, signal: null, killed: false };
    child.kill('SIGTERM');
    const graceful = await Promise.race([exited, sleep(STOP_GRACE_MS).then(() => null)]);
    if (graceful) return graceful;
    child.kill('SIGKILL');
    return { ...(await exited), killed: true };
  }

  /** Sends mcrd a signal (SIGKILL, SIGHUP, SIGTERM...) and returns at once. */
  signal(signal: NodeJS.Signals): void {
    if (!this.child) throw new Error(`cannot send ${signal} to mcrd: it is not running`);
    this.child.kill(signal);
  }

  /** How mcrd ended, once it has exited; null if it is still running after timeoutMs. */
  waitForExit(timeoutMs: number): Promise<ExitStatus | null> {
    if (!this.exited) return Promise.reject(new Error('mcrd was never started'));
    return Promise.race([this.exited, sleep(timeoutMs).then(() => null)]);
  }

  /** Stops mcrd and starts it again with the same socket path and state directory. */
  async restart(): Promise<ExitStatus> {
    const status = await this.stop();
    await this.start();
    return status;
  }

  private release(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Stops mcrd and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    if (!this.unregister) return;
    this.unregister();
    this.unregister = null;
    this.release();
  }
}
