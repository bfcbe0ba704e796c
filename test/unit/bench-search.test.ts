/**
 * The benchmark's NDR search and its verdicts on issue 3's bars, against simulated relays: a relay
 * that loses packets above a known rate, a generator that cannot offer more than its ceiling.
 */
import { expect } from 'chai';

import type { ProbeResult } from '../../bench/lib/probe';
import { judgeBars } from '../../bench/lib/report/bars';
import type { Results, SizeResult } from '../../bench/lib/results';
import { median, searchNdr, SearchOptions } from '../../bench/lib/search';

/** A probe of a relay that forwards everything up to `capacity` pps and drops the excess; rate 0 = flat out. */
function simulatedRelay(capacity: number, generatorCeiling: number) {
  const asked: number[] = [];
  const probe = async (rate: number): Promise<ProbeResult> => {
    asked.push(rate);
    const offered = rate === 0 ? generatorCeiling : Math.min(rate, generatorCeiling);
    const delivered = Math.min(offered, capacity);
    const loss = (offered - delivered) / offered;
    return { requestedPps: rate, offeredPps: offered, deliveredPps: delivered, loss } as ProbeResult;
  };
  return { probe, asked };
}

const OPTIONS: SearchOptions = { ceiling: 500_000, floor: 1000, lo: 50_000, hi: 200_000, precision: 0.05, maxLoss: 0.001, maxProbes: 30 };

describe('bench: NDR search', () => {
  it('brackets a relay\'s capacity to the precision asked, from below', async () => {
    for (const capacity of [30_000, 120_000, 333_000]) {
      const relay = simulatedRelay(capacity, 1e9);
      const result = await searchNdr(relay.probe, OPTIONS);
      expect(result.ndr, `capacity ${capacity}`).to.be.at.most(capacity);
      expect(result.ndr, `capacity ${capacity}`).to.be.at.least(capacity / (1 + OPTIONS.precision) ** 2);
      expect(result).to.include({ atCeiling: false, unfinished: false, generatorLimited: false });
      expect(result.probes.length).to.equal(relay.asked.length);
    }
  });

  it('reports a relay that loses nothing at the ceiling as a bound, probing flat out', async () => {
    const relay = simulatedRelay(10e6, 450_000);
    const result = await searchNdr(relay.probe, OPTIONS);
    expect(result.atCeiling).to.equal(true);
    expect(result.ndr).to.equal(450_000);
    expect(relay.asked).to.include(0);
  });

  it('marks a generator that fell short as the limit, and stops within maxProbes', async () => {
    const short = await searchNdr(simulatedRelay(10e6, 300_000).probe, { ...OPTIONS, ceiling: 1e6 });
    expect(short.generatorLimited).to.equal(true);
    expect(short.ndr).to.equal(300_000);
    const bounded = await searchNdr(simulatedRelay(100_000, 1e9).probe, { ...OPTIONS, maxProbes: 3 });
    expect(bounded.unfinished).to.equal(true);
    expect(bounded.probes).to.have.length.at.most(3);
  });

  it('gives 0 for a relay that forwards nothing without loss', async () => {
    const result = await searchNdr(simulatedRelay(0, 1e9).probe, OPTIONS);
    expect(result.ndr).to.equal(0);
  });

  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(() => median([])).to.throw(/median of nothing/);
  });
});

describe('bench: bars', () => {
  const size = (ndr: number, extra: Partial<SizeResult> = {}): SizeResult =>
    ({ size: 64, ndr: { ndr, atCeiling: false, generatorLimited: false, searches: [ndr] }, ...extra }) as unknown as SizeResult;
  const results = (mcr: SizeResult, kernel: SizeResult, socat: SizeResult) =>
    ({
      plan: { sizes: [64], latencyRate: 20_000 },
      relays: [
        { relay: 'mcr-w1', sizes: [mcr] },
        { relay: 'kernel', sizes: [kernel] },
        { relay: 'socat', sizes: [socat] },
      ],
      scale: [],
    }) as unknown as Pick<Results, 'relays' | 'scale' | 'plan'>;
  const verdict = (verdicts: ReturnType<typeof judgeBars>, bar: string) => verdicts.find((v) => v.bar === bar)!;

  it('judges NDR ratios against the kernel and socat', () => {
    const met = judgeBars(results(size(250_000), size(500_000), size(60_000)));
    expect(verdict(met, 'NDR 64 B vs kernel').met).to.equal(true);
    expect(verdict(met, 'NDR 64 B vs kernel (goal, not a bar)').met).to.equal(false);
    expect(verdict(met, 'NDR 64 B vs socat').met).to.equal(true);
    const missed = judgeBars(results(size(150_000), size(500_000), size(60_000)));
    expect(verdict(missed, 'NDR 64 B vs kernel')).to.include({ met: false, measured: '0.30x (150000 vs 500000 pps)' });
    expect(verdict(missed, 'NDR 64 B vs socat').met).to.equal(false);
  });

  it('judges overload against the relay\'s own NDR and says when the offer was no real overload', () => {
    const overloaded = (offered: number, delivered: number) =>
      judgeBars(results(size(200_000, { overload: { offeredPps: offered, deliveredPps: delivered } } as never), size(500_000), size(60_000)));
    expect(verdict(overloaded(400_000, 190_000), 'overload 64 B: delivered vs own NDR')).to.deep.include({ met: true });
    expect(verdict(overloaded(400_000, 190_000), 'overload 64 B: delivered vs own NDR').note).to.equal(undefined);
    expect(verdict(overloaded(400_000, 150_000), 'overload 64 B: delivered vs own NDR').met).to.equal(false);
    expect(verdict(overloaded(210_000, 205_000), 'overload 64 B: delivered vs own NDR').note).to.match(/offered only 1\.05x the NDR/);
  });
});

describe('bench: memory bars', () => {
  const withMemory = (memoryKb: Record<string, number>) =>
    judgeBars({
      plan: { sizes: [], scale: true, manyRules: 1000, scaleFlows: 10, latencyRate: 20_000 },
      relays: [],
      scale: [{ relay: 'mcr-w1', label: '10 flows, 1000 rules', installedRules: 1000, memoryKb }],
    } as unknown as Pick<Results, 'relays' | 'scale' | 'plan'>).find((v) => v.bar === 'worker RSS with 1000 rules (largest)');

  it('judges the largest worker, and does not pass a run in which no worker was recognised', () => {
    expect(withMemory({ mcrd: 100_000, worker: 40_000, 'worker #2': 120_000 })).to.include({ measured: '117 MB', met: false });
    expect(withMemory({ mcrd: 100_000, 'mcrd-worker 0': 40_000 })).to.include({ measured: 'not measured: no worker process recognised', met: null });
  });
});
