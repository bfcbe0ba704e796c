/**
 * The capture filter at scale (issue 15 part 7), `npm run bench -- --rules-scale [rules]`: mcr's NDR
 * (one worker) with `scaleFlows` traffic flows and only their rules, then with 20,000 (or `rules`)
 * rules installed, with the capture filter mcrd chooses (eBPF where the kernel takes it) and with the
 * classic one forced (MCR_CAPTURE_FILTER=classic, which past about 670 flows admits all IPv4
 * multicast). Listed in the scale table as kind "rules". Opt-in: three more NDR searches (a whole
 * `--only forwarding --relays mcr-w1 --sizes 64 --no-scale --rules-scale` run took 88 s; decisions/
 * 0028 has its figures).
 */
import { Bench, idleFlows, trafficFlows } from '../harness';
import type { RelayContext } from '../relays';
import { McrRelay } from '../relays/mcr';
import type { CeilingResult, ScaleResult } from '../results';
import { measureCase, ScaleCase } from './scale';

export async function measureRulesScale(bench: Bench, ctx: RelayContext, ceiling: CeilingResult, rules: number): Promise<ScaleResult[]> {
  const flows = bench.plan.scaleFlows;
  const setup = (installed: number) => ({ flows: trafficFlows(flows), outputs: [1], idleFlows: idleFlows(installed - flows) });
  const cases: Array<{ c: ScaleCase; relay: McrRelay }> = [
    { c: { kinds: ['rules'], label: `${flows} flows, ${flows} rules`, relay: 'mcr-w1', setup: setup(flows) }, relay: new McrRelay(ctx, 1) },
    { c: { kinds: ['rules'], label: `${flows} flows, ${rules} rules`, relay: 'mcr-w1', setup: setup(rules) }, relay: new McrRelay(ctx, 1) },
    {
      c: { kinds: ['rules'], label: `${flows} flows, ${rules} rules, classic filter`, relay: 'mcr-w1', setup: setup(rules) },
      relay: new McrRelay(ctx, 1, { captureFilter: 'classic' }),
    },
  ];
  const results: ScaleResult[] = [];
  for (const { c, relay } of cases) results.push(await measureCase(bench, c, relay, ceiling));
  return results;
}
