/**
 * Issue 3's bars for mcr, judged on one run's figures (mcr with one worker, the relay every ratio
 * compares; ratios are between relays measured in the same run).
 */
import { kernelReference } from '../kernel-reference';
import type { BarVerdict, RelayResult, Results, SizeResult } from '../results';

const MCR = 'mcr-w1';
/** Below this offered/NDR ratio an overload probe did not overload much (the plan asks for 2x). */
const OVERLOAD_FACTOR_SEEN = 1.5;

function sizeOf(results: Pick<Results, 'relays'>, relay: string, size: number): SizeResult | undefined {
  const r = results.relays.find((x) => x.relay === relay && !x.skipped);
  return r?.sizes.find((s) => s.size === size);
}

/** Lower-bound NDRs (the harness could not offer more) make a ratio only an upper or lower bound. */
function ratioVerdict(bar: string, mine: SizeResult | undefined, theirs: SizeResult | undefined, factor: number): BarVerdict {
  if (!mine || !theirs || theirs.ndr.ndr === 0) return { bar, measured: 'not measured', limit: `>= ${factor}x`, met: null };
  const bounded = (s: SizeResult) => s.ndr.atCeiling || s.ndr.generatorLimited;
  const ratio = mine.ndr.ndr / theirs.ndr.ndr;
  const notes = [bounded(mine) ? 'mcr at the harness limit' : '', bounded(theirs) ? 'the other relay at the harness limit' : ''].filter(Boolean);
  return {
    bar,
    measured: `${ratio.toFixed(2)}x (${Math.round(mine.ndr.ndr)} vs ${Math.round(theirs.ndr.ndr)} pps)`,
    limit: `>= ${factor}x`,
    met: ratio >= factor,
    ...(notes.length ? { note: `${notes.join(', ')}: the ratio is a bound` } : {}),
  };
}

export function judgeBars(results: Pick<Results, 'relays' | 'scale' | 'plan'>): BarVerdict[] {
  const verdicts: BarVerdict[] = [];
  const mcr: RelayResult | undefined = results.relays.find((r) => r.relay === MCR);
  // The kernel's multicast routing, or its unicast forwarding where it has none: bars name which.
  const kernelName = kernelReference(results.relays)?.relay ?? 'kernel';
  for (const size of results.plan.sizes) {
    const mine = sizeOf(results, MCR, size);
    const kernel = sizeOf(results, kernelName, size);
    const socat = sizeOf(results, 'socat', size);
    verdicts.push(ratioVerdict(`NDR ${size} B vs ${kernelName}`, mine, kernel, 0.4));
    const goal = ratioVerdict(`NDR ${size} B vs ${kernelName} (goal, not a bar)`, mine, kernel, 0.6);
    verdicts.push(goal);
    verdicts.push(ratioVerdict(`NDR ${size} B vs socat`, mine, socat, 3));
    if (mine?.overload && mine.ndr.ndr > 0) {
      const share = mine.overload.deliveredPps / mine.ndr.ndr;
      const pressure = mine.overload.offeredPps / mine.ndr.ndr;
      verdicts.push({
        bar: `overload ${size} B: delivered vs own NDR`,
        measured: `${(share * 100).toFixed(0)}% (${Math.round(mine.overload.deliveredPps)} of ${Math.round(mine.ndr.ndr)} pps at ${Math.round(mine.overload.offeredPps)} offered)`,
        limit: '>= 90%',
        met: share >= 0.9,
        ...(pressure < OVERLOAD_FACTOR_SEEN
          ? { note: `offered only ${pressure.toFixed(2)}x the NDR (the generator's limit), not 2x: not a real overload` }
          : {}),
      });
    } else {
      verdicts.push({ bar: `overload ${size} B: delivered vs own NDR`, measured: 'not measured', limit: '>= 90%', met: null });
    }
    const myP99 = mine?.latency?.latencyNs.p99;
    const kernelP99 = kernel?.latency?.latencyNs.p99;
    if (myP99 !== undefined && kernelP99 !== undefined && kernelP99 > 0) {
      verdicts.push({
        bar: `p99 latency ${size} B at ${results.plan.latencyRate} pps vs ${kernelName}`,
        measured: `${(myP99 / kernelP99).toFixed(2)}x (${(myP99 / 1e3).toFixed(0)} vs ${(kernelP99 / 1e3).toFixed(0)} us)`,
        limit: '<= 2x',
        met: myP99 <= 2 * kernelP99,
      });
    } else {
      verdicts.push({ bar: `p99 latency ${size} B vs ${kernelName}`, measured: 'not measured', limit: '<= 2x', met: null });
    }
  }
  if (results.plan.scale) {
    const one = sizeOf(results, MCR, results.plan.sizes[0])?.ndr;
    const few = results.scale.find((s) => s.relay === MCR && /flows, \d+ rules$/.test(s.label) && s.ndr)?.ndr;
    const many = results.scale.find((s) => s.relay === MCR && s.installedRules === results.plan.manyRules);
    const manyNdr = many?.ndr;
    const bounded = (n: { atCeiling: boolean; generatorLimited: boolean }) => n.atCeiling || n.generatorLimited;
    for (const [base, name, caveat] of [
      [one, '1 rule, 1 flow', `the ${results.plan.scaleFlows}-flow harness ceiling is lower than the 1-flow one`],
      [few, `${results.plan.scaleFlows} rules, ${results.plan.scaleFlows} flows`, ''],
    ] as const) {
      const scaleBar = `${results.plan.manyRules} rules vs ${name}: NDR kept`;
      if (!base || !manyNdr || base.ndr === 0) {
        verdicts.push({ bar: scaleBar, measured: 'not measured', limit: '>= 90%', met: null });
        continue;
      }
      const ratio = manyNdr.ndr / base.ndr;
      const notes = [bounded(manyNdr) && bounded(base) ? 'both at the harness limit: the ratio compares the harness, not mcr' : '', bounded(manyNdr) ? caveat : ''].filter(Boolean);
      verdicts.push({
        bar: scaleBar,
        measured: `${(ratio * 100).toFixed(0)}% (${Math.round(manyNdr.ndr)} vs ${Math.round(base.ndr)} pps)`,
        limit: '>= 90%',
        met: ratio >= 0.9,
        ...(notes.length ? { note: notes.join('; ') } : {}),
      });
    }
    const memory = many?.memoryKb;
    if (memory) {
      const mcrd = memory['mcrd'];
      const workers = Object.entries(memory).filter(([label]) => label.startsWith('worker'));
      const worst = Math.max(...workers.map(([, kb]) => kb));
      verdicts.push({ bar: `mcrd RSS with ${results.plan.manyRules} rules`, measured: `${(mcrd / 1024).toFixed(0)} MB`, limit: '< 150 MB', met: mcrd < 150 * 1024 });
      // No worker recognised among the processes (a label the relay did not know) is no figure, not a pass.
      verdicts.push(
        workers.length
          ? { bar: `worker RSS with ${results.plan.manyRules} rules (largest)`, measured: `${(worst / 1024).toFixed(0)} MB`, limit: '< 100 MB', met: worst < 100 * 1024 }
          : { bar: `worker RSS with ${results.plan.manyRules} rules (largest)`, measured: 'not measured: no worker process recognised', limit: '< 100 MB', met: null },
      );
    }
  }
  for (const size of results.plan.sizes) {
    const off = sizeOf(results, MCR, size);
    const on = sizeOf(results, `${MCR}-trace`, size);
    if (!off || !on || off.ndr.ndr === 0) continue;
    verdicts.push({
      bar: `NDR ${size} B with every flow traced vs untraced (reported, not a bar)`,
      measured: `${((on.ndr.ndr / off.ndr.ndr) * 100).toFixed(0)}% (${Math.round(on.ndr.ndr)} vs ${Math.round(off.ndr.ndr)} pps)`,
      limit: '-',
      met: null,
    });
  }
  for (const size of results.plan.sizes) {
    // Packet fidelity's cost (issue 16, docs/decisions/0058): within 5% of the NDR.
    const marked = sizeOf(results, `${MCR}-dscp`, size);
    verdicts.push(costVerdict(`NDR ${size} B with every packet's DSCP (EF) preserved vs DSCP 0`, marked, sizeOf(results, MCR, size)));
  }
  if (mcr?.failed) verdicts.push({ bar: 'mcr ran', measured: `failed: ${mcr.failed}`, limit: 'runs', met: false });
  return verdicts;
}

/**
 * What a feature costs: the NDR with it (`on`) kept within 5% of the NDR without it (`off`), both of
 * one run. Where both NDRs are at the harness limit, the NDR cannot show a cost: the CPU per packet
 * at the run's common rate judges instead (at most 5% more).
 */
function costVerdict(bar: string, on: SizeResult | undefined, off: SizeResult | undefined): BarVerdict {
  if (!on || !off || off.ndr.ndr === 0) return { bar, measured: 'not measured', limit: '>= 95%', met: null };
  const share = on.ndr.ndr / off.ndr.ndr;
  const bounded = (s: SizeResult) => s.ndr.atCeiling || s.ndr.generatorLimited;
  const ndr = `NDR ${(share * 100).toFixed(0)}% (${Math.round(on.ndr.ndr)} vs ${Math.round(off.ndr.ndr)} pps)`;
  const [cpuOn, cpuOff] = [on.cpuAtCommonRate, off.cpuAtCommonRate];
  if (bounded(on) && bounded(off)) {
    if (!cpuOn || !cpuOff || cpuOn.rate !== cpuOff.rate) {
      return { bar, measured: `${ndr}, both at the harness limit`, limit: '>= 95%', met: null, note: 'no CPU figure at a common rate to judge by' };
    }
    const extra = cpuOn.totalUs / cpuOff.totalUs - 1;
    return {
      bar,
      measured: `${ndr}, both at the harness limit; CPU at ${cpuOn.rate} pps ${cpuOn.totalUs.toFixed(2)} vs ${cpuOff.totalUs.toFixed(2)} us/packet (${extra >= 0 ? '+' : ''}${(extra * 100).toFixed(0)}%)`,
      limit: '<= +5% CPU per packet (NDR at the harness limit)',
      met: extra <= 0.05,
    };
  }
  return { bar, measured: ndr, limit: '>= 95%', met: share >= 0.95 };
}
