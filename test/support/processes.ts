/**
 * Processes as /proc shows them, for the fault tests: which workers an mcrd has, whether a process is
 * gone, stopped or a zombie, and a tracker that proves at the end of a file that every mcrd and worker
 * process it met has gone completely (neither running, nor stopped, nor left as a zombie).
 */
import fs from 'fs';

import { waitFor } from './poll';

/**
 * The command line of a worker process: its title once it has its hello ("mcrd-worker N"), and before
 * that dist/workers/main.js (or main.ts under ts-node).
 */
export const WORKER_COMMAND = /^mcrd-worker \d+$|workers\/main\.(js|ts)\b/;

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** R, S, D, T (stopped), Z (zombie), ... as in /proc/PID/stat. */
  state: string;
  comm: string;
  /** Arguments joined by spaces; empty for a zombie. */
  cmdline: string;
}

/** The process `pid` as /proc shows it now, or null once it has gone completely (reaped). */
export function readProcess(pid: number): ProcessInfo | null {
  let stat: string;
  let cmdline: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return null;
  }
  const { state, ppid, comm } = parseStat(stat);
  return { pid, ppid, state, comm, cmdline: cmdline.split('\0').join(' ').trim() };
}

/** "PID (COMM) STATE PPID ...": COMM may itself hold spaces and parentheses. */
function parseStat(stat: string): { state: string; ppid: number; comm: string } {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  const [state, ppid] = stat.slice(close + 2).split(' ');
  return { state, ppid: Number(ppid), comm: stat.slice(open + 1, close) };
}

/** The state of each thread of `pid` (/proc/PID/task/TID/stat): all 'T' once a SIGSTOP has stopped it. */
export function threadStates(pid: number): string[] {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => parseStat(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')).state);
}

/** Every process on the machine (those that exit while being read are skipped). */
export function listProcesses(): ProcessInfo[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readProcess(Number(name)))
    .filter((info): info is ProcessInfo => info !== null);
}

/** Worker processes whose parent is `mcrdPid`. */
export function workerProcessesOf(mcrdPid: number): ProcessInfo[] {
  return listProcesses().filter((p) => p.ppid === mcrdPid && WORKER_COMMAND.test(p.cmdline));
}

/** Waits until the process has gone completely: not running, not stopped, not a zombie. */
export async function waitForProcessGone(pid: number, what: string, timeoutMs: number): Promise<void> {
  await waitFor(`${what} (pid ${pid}) to be gone`, async () => readProcess(pid), (info) => info === null, timeoutMs, 20);
}

/**
 * Remembers the processes a test file met (each mcrd, each worker) so that it can check, once it has
 * stopped mcrd, that none of them is left in any form.
 */
export class ProcessTracker {
  private readonly tracked = new Map<number, string>();

  /** Adds a process (with a label for messages); pid 0 (a worker not running) is ignored. */
  track(pid: number | undefined, label: string): void {
    if (pid && !this.tracked.has(pid)) this.tracked.set(pid, label);
  }

  /** Adds every worker `mcrdPid` has right now. */
  trackWorkersOf(mcrdPid: number | undefined): void {
    if (!mcrdPid) return;
    for (const worker of workerProcessesOf(mcrdPid)) this.track(worker.pid, `worker of mcrd ${mcrdPid}`);
  }

  get size(): number {
    return this.tracked.size;
  }

  /** Tracked processes that still exist (running, stopped or zombie). */
  remaining(): Array<ProcessInfo & { label: string }> {
    const left: Array<ProcessInfo & { label: string }> = [];
    for (const [pid, label] of this.tracked) {
      const info = readProcess(pid);
      if (info) left.push({ ...info, label });
    }
    return left;
  }

  /** Waits (bounded) until no tracked process exists any more; fails naming those left. */
  async expectAllGone(timeoutMs: number): Promise<void> {
    await waitFor(`all ${this.tracked.size} tracked mcrd and worker processes to be gone`, async () => this.remaining(), (left) => left.length === 0, timeoutMs, 50);
  }
}
