/**
 * The benchmark: forwarding (issue 3: mcr, the kernel's multicast routing and socat forwarding the same
 * stream between the same network namespaces) and the control plane (issue 15: a real mcrd with 20,000
 * rules x 4 outputs and 2,000 x 64, and how its costs grow from 1k to 100k rules), in one run.
 *
 *   npm run bench                 # full plan: forwarding about 15 minutes on 2 cores, then the control plane
 *   npm run bench -- --quick      # forwarding about a minute, then the quick control plane
 *   npm run bench -- --only control-plane
 *   node -r ts-node/register/transpile-only bench/run.ts --help
 *
 * Needs root (namespaces, veths, AF_PACKET, multicast routing when the kernel has it) and a built mcrd (`npm run build`).
 * Results go to bench/results/ (see docs/benchmark.md for how to read them).
 */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { MCRD_MAIN } from '../test/support/mcrd';
import { measureCeiling } from './lib/cases/ceiling';
import { measureRelay } from './lib/cases/relay-cases';
import { measureRulesScale } from './lib/cases/rules-scale';
import { measureScale } from './lib/cases/scale';
import { measureControlPlane } from './control-plane';
import { Bench } from './lib/harness';
import { kernelMulticastRouting, KernelCapability } from './lib/kernel-capabilities';
import { KERNEL_UNICAST } from './lib/kernel-reference';
import { describeMachine } from './lib/machine';
import { parsePlan, Plan, RelayName } from './lib/plan';
import { Prober } from './lib/probe';
import { formatRate, Progress } from './lib/progress';
import { createRelay, Relay, RelayContext } from './lib/relays';
import { findSocat } from './lib/relays/socat';
import { judgeBars } from './lib/report/bars';
import { renderMarkdown } from './lib/report/markdown';
import { writeResults } from './lib/report/write';
import type { CeilingResult, RelayResult, Results, ScaleResult } from './lib/results';
import { BenchTopology } from './lib/topology';
import { REPO_ROOT, resolveTools } from './lib/tools';

/** Relays whose unroutable-source delivery is measured (one per kind of relay). */
const UNROUTABLE_RELAYS: readonly RelayName[] = ['mcr-w1', 'kernel', 'socat'];

function checkPrerequisites(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('the benchmark needs root (network namespaces, veth pairs, AF_PACKET, multicast routing)');
  }
  if (!fs.existsSync(MCRD_MAIN)) throw new Error(`mcrd is not built: ${MCRD_MAIN} does not exist (run \`npm run build\`)`);
}

/** Busy fraction of the harness CPU above which a figure may be the harness's limit. */
const HARNESS_SATURATED = 0.9;
/** Waiting for a CPU above this fraction of a probe marks a figure as disturbed. */
const DISTURBED = 0.05;

/** Observations a reader needs next to the figures. */
function notesFor(plan: Plan, machine: Results['machine'], relays: RelayResult[], scale: ScaleResult[], kernelRouting: KernelCapability | undefined): string[] {
  const notes: string[] = [];
  if (kernelRouting && !kernelRouting.available && relays.some((r) => r.relay === KERNEL_UNICAST)) {
    notes.push(
      `The kernel reference is ${KERNEL_UNICAST}, the kernel's IPv4 unicast forwarding of the same flow to the receiver's address, not its multicast routing: ${kernelRouting.reason}. Every "vs kernel" figure compares with unicast forwarding.`,
    );
  }
  if (machine.loadAverage1m > 0.5) notes.push(`The machine was not idle at the start (load average ${machine.loadAverage1m.toFixed(2)}): other work skews these figures.`);
  for (const relay of relays) {
    for (const s of relay.sizes) {
      if (s.ndr.atCeiling || s.ndr.generatorLimited) {
        notes.push(`${relay.relay} at ${s.size} B lost nothing at the most the generator offered: its NDR is at least ${formatRate(s.ndr.ndr)} pps, the harness cannot show more.`);
      }
    }
    if (relay.failed) notes.push(`${relay.relay} failed: ${relay.failed}`);
  }
  for (const s of scale) {
    if (s.ndr?.atCeiling || s.ndr?.generatorLimited) notes.push(`scale ${s.relay} ${s.label}: NDR at the harness ceiling (a lower bound).`);
  }
  const measurements = [
    ...relays.flatMap((r) => r.sizes.map((s) => ({ what: `${r.relay} at ${s.size} B`, ndr: s.ndr }))),
    ...scale.filter((s) => s.ndr && s.kind === 'fanout').map((s) => ({ what: `scale ${s.relay} ${s.label}`, ndr: s.ndr! })),
  ];
  for (const { what, ndr } of measurements) {
    if (ndr.harnessCpuLoad > HARNESS_SATURATED && !ndr.atCeiling && !ndr.generatorLimited) {
      notes.push(`${what}: the harness CPU was ${(ndr.harnessCpuLoad * 100).toFixed(0)}% busy at the NDR: the generator or sink may be part of the limit.`);
    }
    if (ndr.waitFraction > DISTURBED) {
      notes.push(
        `${what}: at the NDR, the relay's threads spent ${(ndr.waitFraction * 1000).toFixed(0)} ms per second of sending waiting for a CPU (summed over threads: other work on the machine, or the relay's own threads).`,
      );
    }
  }
  if (plan.quick) notes.push('Quick plan: one NDR search per figure, short probes, no scale cases; use the full plan for published figures.');
  return notes;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const plan = parsePlan(args, os.availableParallelism(), path.join(REPO_ROOT, 'bench', 'results'));
  checkPrerequisites();
  const progress = new Progress();
  const log = (line: string) => progress.line(line);
  const started = new Date();
  const forwarding = plan.sections.includes('forwarding');
  const needSocat = forwarding && (plan.relays.includes('socat') || plan.scale);
  const socat = needSocat ? findSocat(log) : { skipped: 'not requested' };
  const machine = describeMachine(REPO_ROOT, 'path' in socat ? socat.path : null);
  progress.section(`mcr benchmark (${plan.quick ? 'quick' : 'full'}; ${plan.sections.join(', ')}): ${machine.cpuModel}, ${machine.cpus} CPUs, ${machine.kernel}, node ${machine.node}`);

  const ceilings: CeilingResult[] = [];
  const relays: RelayResult[] = [];
  let scale: ScaleResult[] = [];
  let kernelRouting: KernelCapability | undefined;
  if (forwarding) {
    const tools = resolveTools(log);
    const topology = BenchTopology.create({ relay: plan.relayCpu, harness: plan.harnessCpu });
    try {
      const bench = new Bench(plan, new Prober({ topology, tools, harnessCpu: plan.harnessCpu, relayCpu: plan.relayCpu }), progress);
      const ctx: RelayContext = { topology, tools, relayCpu: plan.relayCpu, log };
      // Detected in the namespace the kernel relay runs in, by trying MRT_INIT there.
      if (plan.relays.includes('kernel') || plan.scale) {
        kernelRouting = kernelMulticastRouting(topology.ns.relay, tools.mroute);
        log(`kernel multicast routing: ${kernelRouting.available ? 'available' : 'not available'} (${kernelRouting.reason})`);
      }
      const routing = kernelRouting ?? { available: false, reason: 'not probed (no kernel relay requested)' };
      const relayNamed = (name: RelayName): Relay | { skipped: string } => createRelay(name, ctx, socat, routing);
      for (const size of plan.sizes) ceilings.push(await measureCeiling(bench, size));
      for (const name of plan.relays) {
        const relay = relayNamed(name);
        if ('skipped' in relay) {
          progress.line(`${name} skipped: ${relay.skipped}`);
          relays.push({ relay: name, description: name, skipped: relay.skipped, sizes: [], unroutable: [] });
          continue;
        }
        relays.push(await measureRelay(bench, relay, ceilings, topology, UNROUTABLE_RELAYS.includes(name)));
      }
      if (plan.scale) scale = await measureScale(bench, relayNamed, ceilings[0]);
      if (plan.rulesScale !== null) scale = [...scale, ...(await measureRulesScale(bench, ctx, ceilings[0], plan.rulesScale))];
    } finally {
      topology.destroy();
    }
  }
  const controlPlane = plan.sections.includes('control-plane') ? await measureControlPlane(plan.controlPlane, progress) : undefined;

  const finished = new Date();
  const partial = { plan, relays, scale, ceiling: ceilings };
  const results: Results = {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: (finished.getTime() - started.getTime()) / 1000,
    command: ['npm run bench --', ...args].join(' ').replace(/ --$/, ''),
    machine,
    ...(kernelRouting ? { kernelMulticastRouting: kernelRouting } : {}),
    plan,
    ceiling: ceilings,
    relays,
    scale,
    bars: forwarding ? judgeBars(partial) : [],
    notes: forwarding ? notesFor(plan, machine, relays, scale, kernelRouting) : [],
    ...(controlPlane ? { controlPlane } : {}),
  };
  const files = writeResults(results, plan.resultsDir);
  progress.section('results');
  process.stdout.write(`${renderMarkdown(results, 'latest.svg', 'latest-control-plane.svg')}\n`);
  progress.line(`written: ${files.join(', ')}`);
}

main().catch((err: Error & { code?: string }) => {
  // commander's --help and usage errors have already printed their message.
  if (err.code?.startsWith('commander.')) process.exit(err.code === 'commander.helpDisplayed' ? 0 : 2);
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
