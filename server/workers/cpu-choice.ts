/**
 * Which CPU each worker's data-plane thread is pinned to, and which workers the rules of an input
 * interface with a CPU preference go to: only CPUs mcrd may use (its affinity, which taskset, a
 * cpuset cgroup or systemd's AllowedCPUs= narrow), worker i on cpus[i % cpus.length].
 * See docs/decisions/0014-cpu-placement.md.
 */
import { formatCpuList } from '../formats/cpu-list';

export interface CpuRequest {
  workers: number;
  /** The CPUs asked for (--cpus); undefined: every CPU mcrd may use. Ascending, each once. */
  cpus?: readonly number[];
  /** Input interface -> the CPUs its rules should be handled on (--interface-cpus). */
  interfaceCpus: Readonly<Record<string, readonly number[]>>;
  /** How messages name the two settings: "--cpus" or "cpus (config FILE)". */
  cpusName?: string;
  interfaceCpusName?: string;
}

export interface CpuChoice {
  /** The CPU of each worker, by index. */
  workerCpus: number[];
  /** For each interface with a CPU preference: the workers its rules are placed on, ascending. */
  interfaceWorkers: Map<string, number[]>;
}

/** A CPU setting that cannot be honoured here; the message names the setting, the CPUs and why. */
export class CpuChoiceError extends Error {
  override name = 'CpuChoiceError';
}

/** "CPU 0 is" / "CPUs 0,2-3 are", for messages. */
function cpusAre(cpus: readonly number[]): string {
  return cpus.length === 1 ? `CPU ${cpus[0]} is` : `CPUs ${formatCpuList(cpus)} are`;
}

/** `allowed`: the CPUs mcrd may use (Native.allowedCpus()), ascending. Throws CpuChoiceError. */
export function chooseCpus(request: CpuRequest, allowed: readonly number[]): CpuChoice {
  const cpusName = request.cpusName ?? '--cpus';
  const interfaceCpusName = request.interfaceCpusName ?? '--interface-cpus';
  if (allowed.length === 0) throw new CpuChoiceError('mcrd may use no CPU at all (sched_getaffinity returned an empty set)');
  const allowedSet = new Set(allowed);
  const where = `the CPUs mcrd may use are ${formatCpuList(allowed)} (its CPU affinity: taskset, a cpuset cgroup, systemd AllowedCPUs=)`;
  const refuseOutside = (setting: string, cpus: readonly number[]): void => {
    const outside = cpus.filter((cpu) => !allowedSet.has(cpu));
    if (outside.length > 0) throw new CpuChoiceError(`${setting}: ${cpusAre(outside)} not available to mcrd: ${where}`);
  };

  if (request.cpus !== undefined) {
    if (request.cpus.length === 0) throw new CpuChoiceError(`${cpusName}: lists no CPU`);
    refuseOutside(`${cpusName} ${formatCpuList(request.cpus)}`, request.cpus);
  }
  const cpus = request.cpus ?? allowed;
  const workerCpus = Array.from({ length: request.workers }, (_, i) => cpus[i % cpus.length]);

  const interfaceWorkers = new Map<string, number[]>();
  for (const [name, preferred] of Object.entries(request.interfaceCpus)) {
    const setting = `${interfaceCpusName} ${name}=${formatCpuList(preferred)}`;
    refuseOutside(setting, preferred);
    const chosen = new Set(preferred);
    const workers = workerCpus.flatMap((cpu, index) => (chosen.has(cpu) ? [index] : []));
    if (workers.length === 0) {
      // Either the CPUs are not among those the workers are spread over, or there are fewer workers
      // than those CPUs and none reached them.
      const remedy = preferred.some((cpu) => cpus.includes(cpu)) ? 'start more workers (--workers)' : `add ${preferred.length === 1 ? 'it' : 'them'} to ${cpusName}`;
      throw new CpuChoiceError(
        `${setting}: no worker runs on ${preferred.length === 1 ? 'that CPU' : 'those CPUs'} ` +
          `(the ${request.workers} worker${request.workers === 1 ? ' runs' : 's run'} on ${formatCpuList(workerCpus)}): ${remedy}`,
      );
    }
    interfaceWorkers.set(name, workers);
  }
  return { workerCpus, interfaceWorkers };
}
