/**
 * Where a worker's data-plane thread runs, as the kernel reports it in /proc: mcrd reads it itself
 * (the thread names itself "mcr-dataplane", native/dataplane/engine.cc), so that `mcrctl workers`
 * shows what the kernel did with the pinning, not what was asked, and needs nothing of the worker.
 */
import fs from 'fs';
import path from 'path';

/** The name the data-plane thread gives itself (pthread_setname_np; /proc/PID/task/TID/comm). */
export const DATAPLANE_THREAD_NAME = 'mcr-dataplane';

export interface ThreadPlacement {
  threadId: number;
  /** The CPU the thread last ran on (field 39 of /proc/PID/task/TID/stat). */
  lastCpu: number;
  /** The CPUs it may run on (Cpus_allowed_list of /proc/PID/task/TID/status): "1" when pinned to CPU 1. */
  allowedCpus: string;
}

/**
 * Field 39 (processor) of a /proc/.../stat line. The second field, the command name in parentheses,
 * may itself hold spaces and parentheses: fields are counted from the last ")".
 */
export function statProcessor(stat: string): number | undefined {
  const end = stat.lastIndexOf(')');
  if (end < 0) return undefined;
  const fields = stat.slice(end + 1).trim().split(/\s+/); // fields 3, 4, ...
  const value = Number(fields[39 - 3]);
  return Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** The Cpus_allowed_list line of a /proc/.../status file ("0-3,6"). */
export function cpusAllowedList(status: string): string | undefined {
  return /^Cpus_allowed_list:\s*(\S+)\s*$/m.exec(status)?.[1];
}

/**
 * The data-plane thread of process `pid`, or undefined when the process or the thread is not (or no
 * longer) there: a worker that is starting, exiting or being restarted.
 */
export function dataplaneThread(pid: number, proc = '/proc'): ThreadPlacement | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const tasks = path.join(proc, String(pid), 'task');
  try {
    for (const tid of fs.readdirSync(tasks)) {
      const dir = path.join(tasks, tid);
      if (fs.readFileSync(path.join(dir, 'comm'), 'utf8').trim() !== DATAPLANE_THREAD_NAME) continue;
      const lastCpu = statProcessor(fs.readFileSync(path.join(dir, 'stat'), 'utf8'));
      const allowedCpus = cpusAllowedList(fs.readFileSync(path.join(dir, 'status'), 'utf8'));
      if (lastCpu === undefined || allowedCpus === undefined) return undefined;
      return { threadId: Number(tid), lastCpu, allowedCpus };
    }
  } catch {
    // The process or the thread went away while being read.
  }
  return undefined;
}

/** What the kernel says a thread is doing: its state letter and the CPU time it has used (clock ticks). */
export interface ThreadRun {
  /** R running or runnable, S sleeping, D in uninterruptible wait, T stopped, Z zombie... */
  state: string;
  cpuTicks: number;
}

/** The state and CPU time of process `pid`'s data-plane thread; undefined when it is not there. */
export function dataplaneThreadRun(pid: number, proc = '/proc'): ThreadRun | undefined {
  const thread = dataplaneThread(pid, proc);
  if (!thread) return undefined;
  try {
    const stat = fs.readFileSync(path.join(proc, String(pid), 'task', String(thread.threadId), 'stat'), 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/); // fields 3, 4, ...
    return { state: fields[0], cpuTicks: Number(fields[14 - 3]) + Number(fields[15 - 3]) };
  } catch {
    return undefined;
  }
}
