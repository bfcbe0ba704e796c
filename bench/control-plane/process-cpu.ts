/**
 * CPU time of mcrd and its workers from /proc/PID/stat (utime + stime, all threads of the process, in
 * clock ticks of 1/100 s), over a window, as % of one core; processes that are not there at both ends
 * of the window (a worker restarted meanwhile) count only for the part they were seen in.
 */
import fs from 'fs';

import { ip } from '../../test/support/netns';
import { residentKb } from '../lib/memory';
import type { CpuWindow } from './results';

const USER_HZ = 100;

/** utime + stime of `pid` in ticks, or null if it is gone. */
export function cpuTicks(pid: number): number | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return parseStatTicks(text);
}

/** utime + stime from the text of /proc/PID/stat (the command may hold spaces and parentheses). */
export function parseStatTicks(text: string): number {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3 of stat(5), so utime (14) and stime (15) are at 11 and 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`cannot parse /proc/PID/stat: ${text.slice(0, 120)}`);
  return ticks;
}

/** Pids of every process in namespace `ns`. */
export function namespacePids(ns: string): number[] {
  return ip(['netns', 'pids', ns]).split(/\s+/).filter(Boolean).map(Number);
}

interface Sample {
  atNs: bigint;
  ticks: Map<number, number>;
}

function sample(pids: readonly number[]): Sample {
  const ticks = new Map<number, number>();
  for (const pid of pids) {
    const t = cpuTicks(pid);
    if (t !== null) ticks.set(pid, t);
  }
  return { atNs: process.hrtime.bigint(), ticks };
}

/** Measures the CPU of mcrd (`mcrdPid`) and every other process in `ns` (its workers) over `run`. */
export async function cpuDuring<T>(ns: string, mcrdPid: number, run: () => Promise<T>): Promise<{ cpu: CpuWindow; value: T }> {
  const before = sample(namespacePids(ns));
  const value = await run();
  const after = sample([...new Set([...before.ticks.keys(), ...namespacePids(ns)])]);
  const seconds = Number(after.atNs - before.atNs) / 1e9;
  let mcrd = 0;
  let workers = 0;
  for (const [pid, end] of after.ticks) {
    const start = before.ticks.get(pid) ?? 0; // a process started meanwhile: all its time is in the window
    const used = (end - start) / USER_HZ;
    if (pid === mcrdPid) mcrd += used;
    else workers += used;
  }
  const percent = (s: number) => (seconds > 0 ? (s / seconds) * 100 : NaN);
  return { cpu: { seconds, mcrd: percent(mcrd), workers: percent(workers), total: percent(mcrd + workers) }, value };
}

/** RSS in MB of mcrd and of each other process in `ns`. */
export function residentMb(ns: string, mcrdPid: number): { mcrd: number; workers: number[] } {
  const mb = (pid: number) => (residentKb(pid) ?? 0) / 1024;
  return { mcrd: mb(mcrdPid), workers: namespacePids(ns).filter((p) => p !== mcrdPid).map(mb) };
}
