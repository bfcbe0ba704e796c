/**
 * CPU time accounting for a probe, from /proc.
 *
 * This kernel (like most distribution kernels) is built without CONFIG_IRQ_TIME_ACCOUNTING: user,
 * system and softirq times in /proc/stat are sampled by the timer tick, and with an idle-stopped tick
 * the softirq work done between idle periods is mostly missed (the kernel relay at 20k packets/s shows
 * no softirq time at all). Two measures are exact and used instead:
 *   - busy time per CPU = elapsed time - idle - iowait (idle time is measured at idle entry and exit);
 *     it holds everything that ran: processes, softirq (inline or in ksoftirqd), interrupts;
 *   - run time of the relay's processes = the sum of /proc/PID/task/TID/schedstat (nanoseconds, per
 *     thread); it includes softirq work that ran inline in their system calls.
 * The benchmark steers all of the relay's kernel work to the relay CPU (see topology.ts), so the relay's
 * cost is the relay CPU's busy time, plus the run time of relay threads that cannot run there.
 * The sampled softirq time and the input-backlog drops (/proc/net/softnet_stat) are kept as well.
 */
import fs from 'fs';

const USER_HZ = 100; // the unit of /proc/stat on every Linux architecture the project targets

/** Idle + iowait ticks of each CPU, and the aggregate sampled softirq ticks. */
function readStat(): { idle: number[]; softirq: number } {
  const idle: number[] = [];
  let softirq = NaN;
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const fields = line.trim().split(/\s+/);
    // cpuN user nice system idle iowait irq softirq ...
    if (/^cpu\d+$/.test(fields[0])) idle[Number(fields[0].slice(3))] = Number(fields[4]) + Number(fields[5]);
    else if (fields[0] === 'cpu') softirq = Number(fields[7]);
  }
  if (idle.length === 0 || idle.some((v) => !Number.isFinite(v)) || !Number.isFinite(softirq)) throw new Error('cannot parse /proc/stat');
  return { idle, softirq };
}

/** CPUs in a list like "0-1,4". */
function parseCpuList(text: string): Set<number> {
  const cpus = new Set<number>();
  for (const part of text.trim().split(',').filter(Boolean)) {
    const [from, to] = part.split('-').map(Number);
    for (let cpu = from; cpu <= (to ?? from); cpu++) cpus.add(cpu);
  }
  return cpus;
}

interface ThreadTimes {
  /** Nanoseconds run. */
  ns: number;
  /** Nanoseconds runnable but waiting for a CPU. */
  waitNs: number;
  /** Whether its affinity allows the relay CPU. */
  mayRunOn: boolean;
}

/** Per live thread of `pid`: its times, and whether it may run on `cpu`. Empty if the process is gone. */
function threadTimes(pid: number, cpu: number): Map<string, ThreadTimes> {
  const threads = new Map<string, ThreadTimes>();
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    try {
      const [ns, waitNs] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      const allowed = /^Cpus_allowed_list:\s*(.+)$/m.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? '';
      threads.set(`${pid}/${tid}`, { ns, waitNs, mayRunOn: parseCpuList(allowed).has(cpu) });
    } catch {
      // the thread ended meanwhile
    }
  }
  return threads;
}

/** Packets dropped at the input backlog, summed over CPUs. */
function backlogDrops(): number {
  return fs
    .readFileSync('/proc/net/softnet_stat', 'utf8')
    .trim()
    .split('\n')
    .reduce((sum, line) => sum + parseInt(line.trim().split(/\s+/)[1] ?? '0', 16), 0);
}

export interface CpuSnapshot {
  atNs: bigint;
  idleTicks: number[];
  softirqTicks: number;
  /** Run time of each thread of the relay's processes, by "pid/tid". */
  threads: Map<string, ThreadTimes>;
  backlogDrops: number;
}

/** `pids`: the relay's processes; `relayCpu`: the CPU their threads are told apart by. */
export function snapshot(pids: readonly number[], relayCpu: number): CpuSnapshot {
  const threads = new Map<string, ThreadTimes>();
  for (const pid of pids) for (const [key, value] of threadTimes(pid, relayCpu)) threads.set(key, value);
  const stat = readStat();
  return { atNs: process.hrtime.bigint(), idleTicks: stat.idle, softirqTicks: stat.softirq, threads, backlogDrops: backlogDrops() };
}

export interface CpuUsage {
  /** Time between the two snapshots, seconds. */
  elapsedSeconds: number;
  /** Busy seconds of each CPU (elapsed - idle - iowait). */
  busyByCpu: number[];
  /** Busy seconds, all CPUs. */
  busySeconds: number;
  /** Run time of the relay's threads (those present at both snapshots), seconds. */
  processSeconds: number;
  /** Of which threads that may not run on the relay CPU (mcr's second worker), seconds. */
  offRelayCpuSeconds: number;
  /** Time the relay's threads were runnable but waiting for a CPU, seconds. */
  relayWaitSeconds: number;
  /** Softirq seconds as sampled by the tick (an underestimate at low load; kept for reference). */
  sampledSoftirqSeconds: number;
  backlogDrops: number;
}

export function usageBetween(before: CpuSnapshot, after: CpuSnapshot): CpuUsage {
  const elapsed = Number(after.atNs - before.atNs) / 1e9;
  const busyByCpu = after.idleTicks.map((idle, cpu) => Math.max(0, elapsed - (idle - (before.idleTicks[cpu] ?? idle)) / USER_HZ));
  let run = 0;
  let away = 0;
  let wait = 0;
  for (const [key, end] of after.threads) {
    const start = before.threads.get(key);
    if (start === undefined) continue;
    run += end.ns - start.ns;
    wait += end.waitNs - start.waitNs;
    if (!end.mayRunOn) away += end.ns - start.ns;
  }
  return {
    elapsedSeconds: elapsed,
    busyByCpu,
    busySeconds: busyByCpu.reduce((a, b) => a + b, 0),
    processSeconds: run / 1e9,
    offRelayCpuSeconds: away / 1e9,
    relayWaitSeconds: wait / 1e9,
    sampledSoftirqSeconds: (after.softirqTicks - before.softirqTicks) / USER_HZ,
    backlogDrops: after.backlogDrops - before.backlogDrops,
  };
}
