/**
 * A process the benchmark runs inside one of its namespaces: its stdout as lines, its stderr kept for
 * error messages, a bound on its life, and a kill on any exit of the benchmark.
 */
import { ChildProcess } from 'child_process';

import { registerCleanup } from '../../test/support/cleanup';
import { spawnIn } from '../../test/support/netns';

const STDERR_LIMIT = 64 * 1024;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class NamespaceProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  private readonly lines: string[] = [];
  private waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  private stderr = '';
  private unregister: () => void;
  private killer: NodeJS.Timeout;
  private done = false;

  /** Starts `argv` in namespace `ns`; it is killed (SIGKILL) if still running after `boundMs`. */
  constructor(
    readonly label: string,
    ns: string,
    argv: readonly string[],
    boundMs: number,
  ) {
    this.child = spawnIn(ns, argv);
    let pending = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        this.onLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.stderr.length < STDERR_LIMIT) this.stderr += chunk;
    });
    this.unregister = registerCleanup(() => this.child.kill('SIGKILL'));
    this.killer = setTimeout(() => this.child.kill('SIGKILL'), boundMs);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.stderr += `spawn error: ${err.message}\n`;
      });
      this.child.on('close', (code, signal) => {
        this.done = true;
        clearTimeout(this.killer);
        this.unregister();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.done;
  }

  private onLine(line: string): void {
    this.lines.push(line);
    const still: typeof this.waiters = [];
    for (const waiter of this.waiters) {
      if (waiter.match(line)) waiter.resolve(line);
      else still.push(waiter);
    }
    this.waiters = still;
  }

  /** What the process printed on stderr (trimmed, bounded). */
  errors(): string {
    return this.stderr.trim();
  }

  /** The first stdout line (seen or to come) for which `match` holds; rejects if the process ends first or after timeoutMs. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no expected output within ${timeoutMs} ms; stderr: ${this.errors() || '(none)'}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void this.exited.then((exit) => {
        clearTimeout(timer);
        reject(new Error(`${this.label} ended (${exit.signal ?? `code ${exit.code}`}) before the expected output; stderr: ${this.errors() || '(none)'}`));
      });
    });
  }

  /** Waits for the first JSON line whose `event` is `event` and returns it parsed. */
  async waitForEvent<T>(event: string, timeoutMs: number): Promise<T> {
    const line = await this.waitForLine((l) => eventOf(l) === event, timeoutMs);
    return JSON.parse(line) as T;
  }

  /** Waits for the process to end with status 0 and returns its last stdout line parsed as JSON. */
  async report<T>(): Promise<T> {
    const exit = await this.exited;
    const last = this.lines[this.lines.length - 1] ?? '';
    if (exit.code !== 0) throw new Error(`${this.label} failed (${exit.signal ?? `exit code ${exit.code}`}): ${this.errors() || '(no stderr)'}`);
    try {
      return JSON.parse(last) as T;
    } catch {
      throw new Error(`${this.label} printed no JSON report (last line ${JSON.stringify(last.slice(0, 200))}); stderr: ${this.errors() || '(none)'}`);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.done) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when it has ended. */
  async stop(graceMs = 5000): Promise<Exit> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

/** The `event` field of a JSON line, or undefined for any other line. */
function eventOf(line: string): unknown {
  if (!line.startsWith('{')) return undefined;
  try {
    return (JSON.parse(line) as { event?: unknown }).event;
  } catch {
    return undefined;
  }
}
