/**
 * What a benchmark run measures and for how long: the full plan (`npm run bench`: forwarding about 15
 * minutes on a 2-core machine, then the control plane, see bench/control-plane/plan.ts) or the quick
 * one (`npm run bench -- --quick`: forwarding about a minute); `--only` picks sections.
 */
import { Command, InvalidArgumentError } from 'commander';

import { controlPlanePlan, ControlPlanePlan, parseCounts, parseShapes } from '../control-plane/plan';

export const RELAY_NAMES = ['mcr-w1', 'mcr-w1-trace', 'mcr-w1-dscp', 'mcr-w2', 'kernel', 'socat'] as const;
export type RelayName = (typeof RELAY_NAMES)[number];

/** The benchmark's sections: packet forwarding (issue 3) and the control plane (issue 15). */
export const SECTIONS = ['forwarding', 'control-plane'] as const;
export type Section = (typeof SECTIONS)[number];

export interface Plan {
  quick: boolean;
  /** Sections measured, in order (all unless --only). */
  sections: Section[];
  /** The control-plane section's shapes, growth series and bounds. */
  controlPlane: ControlPlanePlan;
  /** UDP payload sizes, bytes. */
  sizes: number[];
  /** Relays of the main cases, in order. */
  relays: RelayName[];
  /** NDR: probe length, searches per median, bracket precision, loss limit, probe bound per search. */
  probeSeconds: number;
  searchRepeats: number;
  precision: number;
  maxLoss: number;
  maxProbesPerSearch: number;
  /** Overload probe length (offered at 2x the NDR). */
  overloadSeconds: number;
  /** Latency (and CPU at low load): rate, probe length, probes (the median p99 is reported). */
  latencyRate: number;
  latencySeconds: number;
  latencySamples: number;
  /**
   * CPU per packet: probes of cpuSeconds, the least busy of cpuSamples (noise from other work on the
   * machine only adds); measured at the NDR (unless atNdr is false) and at the latency rate.
   */
  cpuSeconds: number;
  cpuSamples: number;
  cpuAtNdr: boolean;
  /** Scale cases (rules, fan-out, workers) at the first size. */
  scale: boolean;
  /** The capture filter at scale: NDR with this many rules installed against `scaleFlows` rules (cases/rules-scale.ts); null: not run. */
  rulesScale: number | null;
  /** Rules installed in the "many rules" case, and flows carrying traffic in the scale cases. */
  manyRules: number;
  scaleFlows: number;
  fanOut: number;
  /** The unroutable-source case: packets sent per rp_filter mode. */
  unroutablePackets: number;
  /**
   * CPU of the harness (generator and sink are pinned to it) and of the relay (input processing is
   * steered to it, socat is pinned to it, mcr's worker 0 pins itself to CPU 0).
   */
  harnessCpu: number;
  relayCpu: number;
  /** Directory for results. */
  resultsDir: string;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function sizeList(value: string): number[] {
  const sizes = value.split(',').map((s) => Number(s.trim()));
  if (sizes.some((s) => !Number.isInteger(s) || s < 32 || s > 1472)) throw new InvalidArgumentError('sizes must be integers from 32 to 1472');
  return sizes;
}

function sectionList(value: string): Section[] {
  const names = value.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
  if (bad.length) throw new InvalidArgumentError(`unknown section ${bad.join(', ')} (known: ${SECTIONS.join(', ')})`);
  return names as Section[];
}

/** Turns a parse error of the control-plane lists into commander's usage error. */
function asArgument<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

function relayList(value: string): RelayName[] {
  const names = value.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !(RELAY_NAMES as readonly string[]).includes(n));
  if (bad.length) throw new InvalidArgumentError(`unknown relay ${bad.join(', ')} (known: ${RELAY_NAMES.join(', ')})`);
  return names as RelayName[];
}

export function parsePlan(argv: string[], cpus: number, defaultResultsDir: string): Plan {
  const program = new Command('bench')
    .description('Benchmark: forwarding (mcr, the kernel and socat between network namespaces) and the control plane (a real mcrd with 20,000 rules; needs root)')
    .option('--quick', 'forwarding: a one-minute subset (64 and 1400 bytes, one NDR search, no scale cases); control plane: growth to 10k, fewer calls, shorter bounds')
    .option('--sizes <list>', 'UDP payload sizes, comma-separated', sizeList)
    .option('--relays <list>', `relays of the main cases (${RELAY_NAMES.join(',')})`, relayList)
    .option('--repeats <n>', 'NDR searches per median', positiveInt)
    .option('--no-scale', 'skip the scale cases')
    .option('--rules-scale [rules]', 'also measure the NDR with 20,000 (or [rules]) rules installed against 10, eBPF and classic capture filter (several minutes)', positiveInt)
    .option('--only <sections>', `measure only these sections (${SECTIONS.join(',')})`, sectionList)
    .option('--cp-shapes <list>', 'control plane: shapes RULESxOUTPUTS, comma-separated (default 20000x4,2000x64)', asArgument(parseShapes))
    .option('--cp-growth <list>', 'control plane: rule counts of the growth series (default 1000,...,100000; --quick: up to 10000; "none" skips it)', asArgument((t) => (t === 'none' ? [] : parseCounts(t))))
    .option('--results <dir>', 'results directory', defaultResultsDir)
    .exitOverride();
  program.parse(argv, { from: 'user' });
  const o = program.opts<{
    quick?: boolean;
    sizes?: number[];
    relays?: RelayName[];
    repeats?: number;
    scale: boolean;
    rulesScale?: number | true;
    only?: Section[];
    cpShapes?: ControlPlanePlan['shapes'];
    cpGrowth?: number[];
    results: string;
  }>();
  const quick = o.quick === true;
  const last = Math.max(0, cpus - 1);
  return {
    quick,
    sections: SECTIONS.filter((section) => o.only === undefined || o.only.includes(section)),
    controlPlane: controlPlanePlan(quick, { shapes: o.cpShapes, growth: o.cpGrowth }),
    sizes: o.sizes ?? (quick ? [64, 1400] : [64, 512, 1400]),
    relays: o.relays ?? (quick ? ['mcr-w1', 'kernel', 'socat'] : ['mcr-w1', 'mcr-w1-trace', 'mcr-w1-dscp', 'mcr-w2', 'kernel', 'socat']),
    probeSeconds: quick ? 0.5 : 1,
    searchRepeats: o.repeats ?? (quick ? 1 : 3),
    precision: quick ? 0.1 : 0.05,
    maxLoss: 0.001,
    maxProbesPerSearch: 14,
    overloadSeconds: quick ? 1 : 3,
    latencyRate: 20_000,
    latencySeconds: quick ? 2 : 3,
    latencySamples: quick ? 1 : 3,
    cpuSeconds: quick ? 1 : 1.5,
    cpuSamples: quick ? 1 : 3,
    cpuAtNdr: !quick,
    scale: !quick && o.scale,
    rulesScale: o.rulesScale === undefined ? null : o.rulesScale === true ? 20_000 : o.rulesScale,
    manyRules: 1000,
    scaleFlows: 10,
    fanOut: 10,
    unroutablePackets: quick ? 5_000 : 20_000,
    harnessCpu: last,
    relayCpu: 0,
    resultsDir: o.results,
  };
}
