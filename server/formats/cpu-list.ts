/**
 * CPU lists as `mcrd --cpus`, `--interface-cpus` and the config file spell them: the kernel's cpulist
 * form, as `taskset -c`, cpuset.cpus and /proc/PID/status (Cpus_allowed_list) write it: `0-3,6`,
 * with taskset's stride form `0-10:2` (0, 2, 4 ... 10) too. Pure, so mcrctl can check config files.
 */

/** The highest CPU number accepted (the kernel's NR_CPUS is at most 8192). */
export const MAX_CPU = 65535;

/** A CPU list that cannot be used; the message says what is expected. */
export class CpuListError extends Error {
  override name = 'CpuListError';
}

const ITEM = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/;

/** The CPUs of a cpulist, ascending and each once; throws CpuListError. */
export function parseCpuList(text: string): number[] {
  const example = 'a list like 0-3,6 (as taskset -c takes)';
  if (text.trim() === '') throw new CpuListError(`lists no CPU: expected ${example}`);
  const cpus = new Set<number>();
  for (const item of text.split(',')) {
    const match = ITEM.exec(item);
    if (!match) throw new CpuListError(`"${item}" in "${text}" is not a CPU number or range: expected ${example}`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    const stride = match[3] === undefined ? 1 : Number(match[3]);
    if (last > MAX_CPU) throw new CpuListError(`"${item}" in "${text}": CPU numbers go up to ${MAX_CPU}`);
    if (last < first) throw new CpuListError(`"${item}" in "${text}": a range goes from the lower CPU to the higher`);
    if (stride < 1) throw new CpuListError(`"${item}" in "${text}": the stride must be at least 1`);
    for (let cpu = first; cpu <= last; cpu += stride) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** The shortest cpulist of a set of CPUs (`0-3,6`); "" for none. */
export function formatCpuList(cpus: Iterable<number>): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let last = i;
    while (last + 1 < sorted.length && sorted[last + 1] === sorted[last] + 1) last++;
    parts.push(last > i ? `${sorted[i]}-${sorted[last]}` : String(sorted[i]));
    i = last + 1;
  }
  return parts.join(',');
}
