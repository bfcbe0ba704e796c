/**
 * The measurements every case is built from: an NDR (repeated searches, median), CPU per packet at a
 * rate, and the warm-up check that a relay forwards at all before it is measured.
 */
import type { Plan } from './plan';
import { Prober, ProbeResult, Traffic } from './probe';
import { formatRate, Progress } from './progress';
import type { Flow, Relay } from './relays/relay';
import type { CpuPerPacket, NdrMeasurement, NdrSearch } from './results';
import { median, searchNdr } from './search';

export const PORT = 5000;
/** Flows carrying traffic use consecutive groups from here; idle rules from IDLE_GROUP_BASE. */
const TRAFFIC_GROUP_BASE = '239.1.1.1';
const IDLE_GROUP_BASE = '239.1.8.0';

function addGroup(base: string, offset: number): string {
  const value = base.split('.').reduce((n, octet) => n * 256 + Number(octet), 0) + offset;
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export function trafficFlows(count: number): Flow[] {
  return Array.from({ length: count }, (_, i) => ({ group: addGroup(TRAFFIC_GROUP_BASE, i), port: PORT }));
}

export function idleFlows(count: number): Flow[] {
  return Array.from({ length: count }, (_, i) => ({ group: addGroup(IDLE_GROUP_BASE, i), port: PORT }));
}

/** Warm-up: a short trickle that must arrive (up to WARM_UP_TRIES times) before a relay is measured. */
const WARM_UP_RATE = 10_000;
const WARM_UP_SECONDS = 0.3;
const WARM_UP_TRIES = 10;
const WARM_UP_MAX_LOSS = 0.01;

export class Bench {
  constructor(
    readonly plan: Plan,
    readonly prober: Prober,
    readonly progress: Progress,
  ) {}

  /** One probe, reported on the terminal. */
  async probe(label: string, traffic: Traffic, rate: number, seconds: number, relay: Relay | null, judge = false): Promise<ProbeResult> {
    const result = await this.prober.probe(traffic, { rate, seconds }, relay);
    this.progress.probe(label, result, judge ? this.plan.maxLoss : undefined);
    return result;
  }

  /** The plan's number of NDR searches; the first brackets [ceiling/4, ceiling], later ones the median so far +-25%. */
  async measureNdr(label: string, traffic: Traffic, relay: Relay | null, ceiling: number): Promise<NdrMeasurement> {
    const searches: NdrSearch[] = [];
    for (let rep = 1; rep <= this.plan.searchRepeats; rep++) {
      const passed = searches.map((s) => s.ndr).filter((n) => n > 0);
      const guess = passed.length ? median(passed) : 0;
      let probeNumber = 0;
      const search = await searchNdr(
        (rate) => this.probe(`${label} NDR search ${rep}/${this.plan.searchRepeats} probe ${++probeNumber}`, traffic, rate, this.plan.probeSeconds, relay, true),
        {
          ceiling,
          floor: ceiling / 256,
          lo: guess ? guess / 1.25 : ceiling / 4,
          hi: guess ? Math.min(ceiling, guess * 1.25) : ceiling,
          precision: this.plan.precision,
          maxLoss: this.plan.maxLoss,
          maxProbes: this.plan.maxProbesPerSearch,
        },
      );
      searches.push(search);
      const notes = [
        search.atCeiling ? 'at the harness ceiling' : '',
        search.generatorLimited ? 'generator-limited' : '',
        search.unfinished ? 'bracket not closed' : '',
      ]
        .filter(Boolean)
        .join(', ');
      this.progress.line(`  ${label} NDR search ${rep}: ${formatRate(search.ndr)} pps${notes ? ` (${notes})` : ''}`);
    }
    const ndr = median(searches.map((s) => s.ndr));
    const best = searches
      .flatMap((s) => s.probes)
      .filter((p) => p.loss <= this.plan.maxLoss)
      .reduce<ProbeResult | null>((closest, p) => (closest === null || Math.abs(p.offeredPps - ndr) < Math.abs(closest.offeredPps - ndr) ? p : closest), null);
    // Generator and sink CPU time over the sending time (both run on the harness CPU).
    const harnessCpuLoad = best && best.offeredPps > 0 ? (best.generatorCpuSeconds + best.sinkCpuSeconds) / (best.sent / best.offeredPps) : 0;
    this.progress.line(`  ${label} NDR (median of ${searches.length}): ${formatRate(ndr)} pps (harness CPU ${(harnessCpuLoad * 100).toFixed(0)}% busy)`);
    return {
      ndr,
      searches,
      atCeiling: searches.some((s) => s.atCeiling),
      generatorLimited: searches.some((s) => s.generatorLimited),
      harnessCpuLoad,
      waitFraction: best?.waitFraction ?? 0,
    };
  }

  /** Busy CPU seconds per delivered packet of a probe. */
  private static busyPerPacket(r: ProbeResult): number {
    return r.delivered > 0 ? r.cpu.busySeconds / r.delivered : Infinity;
  }

  /**
   * The least busy of `cpuSamples` probes of `traffic` at `rate` (those in `have` count as samples):
   * other work on the machine only ever adds busy time, so the minimum is the least disturbed.
   */
  private async leastBusy(label: string, traffic: Traffic, rate: number, relay: Relay | null, have: ProbeResult[] = []): Promise<ProbeResult> {
    const samples = [...have];
    while (samples.length < this.plan.cpuSamples) samples.push(await this.probe(`${label} CPU sample ${samples.length + 1}/${this.plan.cpuSamples}`, traffic, rate, this.plan.cpuSeconds, relay));
    return samples.reduce((best, r) => (Bench.busyPerPacket(r) < Bench.busyPerPacket(best) ? r : best));
  }

  /**
   * CPU per forwarded packet through `relay` at `rate`, from the least busy of the plan's CPU samples
   * (`have`: probes already made at that rate): the relay CPU's busy time plus the run time of relay
   * threads that cannot run there, per delivered packet.
   */
  async cpuPerPacket(label: string, traffic: Traffic, relay: Relay, rate: number, have: ProbeResult[] = []): Promise<CpuPerPacket> {
    const relayCpu = this.plan.relayCpu;
    const cost = (r: ProbeResult) => (r.delivered > 0 ? ((r.cpu.busyByCpu[relayCpu] ?? 0) + r.cpu.offRelayCpuSeconds) / r.delivered : Infinity);
    const samples = [...have];
    while (samples.length < this.plan.cpuSamples) {
      samples.push(await this.probe(`${label} CPU sample ${samples.length + 1}/${this.plan.cpuSamples}`, traffic, rate, this.plan.cpuSeconds, relay));
    }
    const best = samples.reduce((least, r) => (cost(r) < cost(least) ? r : least));
    const totalUs = cost(best) * 1e6;
    const processUs = (best.cpu.processSeconds / Math.max(1, best.delivered)) * 1e6;
    return {
      offeredPps: best.offeredPps,
      delivered: best.delivered,
      loss: best.loss,
      totalUs,
      processUs,
      kernelUs: totalUs - processUs,
      relayCpuBusy: (best.cpu.busyByCpu[relayCpu] ?? 0) / best.cpu.elapsedSeconds,
    };
  }

  /**
   * Latency at the plan's latency rate: `latencySamples` probes; the one with the median p99 is
   * returned (its p50 / p99 / p99.9 belong together), with all of them.
   */
  async latency(label: string, traffic: Traffic, relay: Relay | null): Promise<{ median: ProbeResult; samples: ProbeResult[] }> {
    const { latencyRate, latencySeconds, latencySamples } = this.plan;
    const samples: ProbeResult[] = [];
    for (let i = 1; i <= latencySamples; i++) samples.push(await this.probe(`${label} latency ${i}/${latencySamples}`, traffic, latencyRate, latencySeconds, relay));
    const byP99 = [...samples].sort((a, b) => a.latencyNs.p99 - b.latencyNs.p99);
    return { median: byP99[Math.floor((byP99.length - 1) / 2)], samples };
  }

  /** Resolves once a trickle through `relay` arrives; throws if it never does. */
  async warmUp(label: string, traffic: Traffic, relay: Relay): Promise<void> {
    let last: ProbeResult | null = null;
    for (let attempt = 1; attempt <= WARM_UP_TRIES; attempt++) {
      last = await this.prober.probe(traffic, { rate: WARM_UP_RATE, seconds: WARM_UP_SECONDS }, relay);
      if (last.loss <= WARM_UP_MAX_LOSS) return;
    }
    throw new Error(`${label} does not forward: ${WARM_UP_TRIES} warm-up probes at ${WARM_UP_RATE} pps, last loss ${((last?.loss ?? 1) * 100).toFixed(1)}%`);
  }
}
