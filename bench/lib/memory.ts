/** Resident memory of processes, from /proc/PID/status and /proc/PID/cmdline. */
import fs from 'fs';

/** VmRSS in kB, or null if the process is gone. */
export function residentKb(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0; // kernel threads have no VmRSS
  } catch {
    return null;
  }
}

/** The command line of a process as words (empty if it is gone). */
export function commandLine(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * RSS (kB) of each process, keyed by `label(argv)`; processes with the same label get " #2", " #3"...
 */
export function residentByLabel(pids: readonly number[], label: (argv: string[]) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of [...pids].sort((a, b) => a - b)) {
    const kb = residentKb(pid);
    if (kb === null) continue;
    const base = label(commandLine(pid));
    let key = base;
    for (let n = 2; key in out; n++) key = `${base} #${n}`;
    out[key] = kb;
  }
  return out;
}
