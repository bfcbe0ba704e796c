/** The shape of a benchmark run's results (written as JSON; the markdown and SVG are drawn from it). */
import type { ControlPlaneResults } from '../control-plane/results';
import type { KernelCapability } from './kernel-capabilities';
import type { Machine } from './machine';
import type { Plan } from './plan';
import type { ProbeResult } from './probe';
import type { SearchResult } from './search';

/** One NDR search with all its probes. */
export type NdrSearch = SearchResult;

export interface NdrMeasurement {
  /** Median of the searches' NDRs, packets per second offered (input packets). */
  ndr: number;
  searches: NdrSearch[];
  /** Some search passed at the harness's ceiling: the relay's real NDR may be higher. */
  atCeiling: boolean;
  /** Some search's best probe was held back by the generator (see search.ts). */
  generatorLimited: boolean;
  /**
   * CPU time of generator and sink (both on the harness CPU) over the sending time, in the passing probe
   * closest to the NDR: near 1, the harness rather than the relay may be what stopped the search.
   */
  harnessCpuLoad: number;
  /** Of the same probe: time the relay's threads waited for a CPU over the sending time (see ProbeResult). */
  waitFraction: number;
}

/**
 * CPU per forwarded packet, in microseconds: the busy time of the relay CPU (which does the relay's
 * work and nothing else) plus the run time of relay threads that cannot run there, per delivered packet.
 */
export interface CpuPerPacket {
  offeredPps: number;
  delivered: number;
  loss: number;
  totalUs: number;
  /** Run time of the relay's processes (including softirq work run inline in their system calls). */
  processUs: number;
  /** The rest: kernel work outside the relay's processes (softirq: input, forwarding, output). */
  kernelUs: number;
  /** Busy fraction of the relay CPU during the probe. */
  relayCpuBusy: number;
}

export interface SizeResult {
  size: number;
  ndr: NdrMeasurement;
  /** Offered at 2x the NDR (or flat out when that is beyond the generator). */
  overload?: ProbeResult;
  /** At the plan's latency rate (20k packets/s): the probe with the median p99. */
  latency?: ProbeResult;
  /** p99 of every latency probe, ns. */
  latencyP99Samples?: number[];
  cpuAtLatencyRate?: CpuPerPacket;
  /** A longer probe at the NDR (also confirms it). */
  cpuAtNdr?: CpuPerPacket;
  /**
   * At one rate for every relay of the run (commonCpuRate: below the harness ceiling, so each relay
   * is measured under the same load, which the NDR of a relay at the ceiling cannot give).
   */
  cpuAtCommonRate?: CpuPerPacket & { rate: number };
}

export interface UnroutableResult {
  rpFilter: number;
  sent: number;
  delivered: number;
  /** The relay's own counters over the probe (for kernel-unicast: forwarded, reversePathFiltered ...). */
  relayCounters?: Record<string, number>;
}

export interface RelayResult {
  relay: string;
  description: string;
  /** Not measured, and why. */
  skipped?: string;
  /** Stopped by an error, and which. */
  failed?: string;
  sizes: SizeResult[];
  unroutable: UnroutableResult[];
}

export interface CeilingResult {
  size: number;
  /** The generator flat out to the sink on the direct path. */
  flatOut: ProbeResult;
  /** NDR of the direct path: the highest rate the harness can offer and count without loss. */
  ndr: NdrMeasurement;
  /** The direct path at the latency rate: the harness's own latency (the probe with the median p99). */
  latency: ProbeResult;
  latencyP99Samples: number[];
}

export type ScaleKind = 'rules' | 'fanout' | 'workers';

export interface ScaleResult {
  kind: ScaleKind;
  /** e.g. "10 flows, 1000 rules". */
  label: string;
  relay: string;
  size: number;
  flows: number;
  outputs: number;
  installedRules: number;
  skipped?: string;
  failed?: string;
  ndr?: NdrMeasurement;
  /** Copies delivered per second at the NDR (input NDR x outputs). */
  deliveredAtNdr?: number;
  /** Rules cases: the relay's CPU per packet at the plan's latency rate. */
  cpuAtRate?: CpuPerPacket;
  /** Resident memory (kB) of the relay's processes with these rules installed. */
  memoryKb?: Record<string, number>;
  /** Rules per worker (mcr). */
  rulesPerWorker?: number[];
}

export interface BarVerdict {
  bar: string;
  /** Measured value and the limit it is held to. */
  measured: string;
  limit: string;
  met: boolean | null;
  note?: string;
}

export interface Results {
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  command: string;
  machine: Machine;
  /** Whether the kernel could route multicast (MRT_INIT tried in the relay namespace): decides `kernel` or `kernel-unicast`. */
  kernelMulticastRouting?: KernelCapability;
  plan: Plan;
  ceiling: CeilingResult[];
  relays: RelayResult[];
  scale: ScaleResult[];
  bars: BarVerdict[];
  notes: string[];
  /** The control-plane section (issue 15), when measured. */
  controlPlane?: ControlPlaneResults;
  /**
   * Sections this run did not measure (--only) taken over from the previous latest.json, so that
   * latest.md keeps every section: which, from which run.
   */
  carriedOver?: { section: string; startedAt: string; command: string; plan: Plan; machine: Machine }[];
}
