/** The run's results as markdown: machine, harness ceiling, main table, scale, unroutable source, bars. */
import { renderControlPlane } from '../../control-plane/report';
import { kernelReference, KERNEL_UNICAST } from '../kernel-reference';
import { formatLoss, formatRate } from '../progress';
import type { BarVerdict, CpuPerPacket, Results, SizeResult } from '../results';

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const us = (ns: number) => (ns / 1e3).toFixed(0);

function cpu(c: CpuPerPacket | undefined): string {
  return c ? `${c.totalUs.toFixed(2)} (${c.processUs.toFixed(2)})` : '-';
}

function ndrCell(s: SizeResult): string {
  const runs = s.ndr.searches.map((x) => formatRate(x.ndr)).join(', ');
  const limit = s.ndr.atCeiling ? ' (≥: at ceiling)' : s.ndr.generatorLimited ? ' (≥: generator-limited)' : '';
  return `**${formatRate(s.ndr.ndr)}**${limit} <br><sub>${runs}</sub>`;
}

function mainTable(r: Results): string {
  const kernel = kernelReference(r.relays);
  const kernelNdr = (size: number) => kernel?.sizes.find((s) => s.size === size)?.ndr.ndr;
  const rows: string[][] = [];
  for (const size of r.plan.sizes) {
    for (const relay of r.relays) {
      if (relay.skipped || (relay.failed && relay.sizes.length === 0)) {
        rows.push([`${size}`, relay.relay, relay.skipped ? `skipped: ${relay.skipped}` : `failed: ${relay.failed}`, '', '', '', '', '', '']);
        continue;
      }
      const s = relay.sizes.find((x) => x.size === size);
      if (!s) continue;
      const k = kernelNdr(size);
      const o = s.overload;
      const l = s.latency?.latencyNs;
      rows.push([
        `${size}`,
        relay.relay,
        ndrCell(s),
        k ? `${(s.ndr.ndr / k).toFixed(2)}x` : '-',
        o ? `${formatRate(o.offeredPps)} → ${formatRate(o.deliveredPps)} (loss ${formatLoss(o.loss)})` : '-',
        l && s.latency ? `${us(l.p50)} / ${us(l.p99)} / ${us(l.p999)}${s.latency.loss > r.plan.maxLoss ? ` (loss ${formatLoss(s.latency.loss)})` : ''}` : '-',
        cpu(s.cpuAtNdr),
        s.cpuAtCommonRate ? `${cpu(s.cpuAtCommonRate)} at ${formatRate(s.cpuAtCommonRate.rate)}` : '-',
        cpu(s.cpuAtLatencyRate),
      ]);
    }
  }
  return table(
    ['payload (B)', 'relay', 'NDR pps (median; searches)', `NDR vs ${kernel?.relay ?? 'kernel'}`, 'overload: offered → delivered pps', `latency p50 / p99 / p99.9 µs at ${formatRate(r.plan.latencyRate)} pps`, 'CPU µs/pkt at NDR (of which relay processes)', 'CPU µs/pkt at one rate for all (relay processes)', `CPU µs/pkt at ${formatRate(r.plan.latencyRate)} pps (relay processes)`],
    rows,
  );
}

function ceilingTable(r: Results): string {
  return table(
    ['payload (B)', 'generator flat out → sink', 'direct NDR pps', `direct latency p50 / p99 / p99.9 µs at ${formatRate(r.plan.latencyRate)} pps`],
    r.ceiling.map((c) => [
      `${c.size}`,
      `${formatRate(c.flatOut.offeredPps)} → ${formatRate(c.flatOut.deliveredPps)} (loss ${formatLoss(c.flatOut.loss)})`,
      formatRate(c.ndr.ndr),
      `${us(c.latency.latencyNs.p50)} / ${us(c.latency.latencyNs.p99)} / ${us(c.latency.latencyNs.p999)}`,
    ]),
  );
}

function scaleTable(r: Results): string {
  const memory = (kb: Record<string, number> | undefined) =>
    kb ? Object.entries(kb).map(([label, v]) => `${label} ${(v / 1024).toFixed(0)} MB`).join(', ') : '-';
  return table(
    ['case', 'relay', 'payload (B)', 'NDR input pps (median; searches)', 'copies/s delivered at NDR', 'CPU µs/pkt at latency rate', 'rules per worker', 'RSS'],
    r.scale.map((s) => [
      `${s.kind}: ${s.label}`,
      s.relay,
      `${s.size}`,
      s.skipped ? `skipped: ${s.skipped}` : s.failed ? `failed: ${s.failed}` : s.ndr ? `**${formatRate(s.ndr.ndr)}** <br><sub>${s.ndr.searches.map((x) => formatRate(x.ndr)).join(', ')}</sub>` : '-',
      s.deliveredAtNdr !== undefined ? formatRate(s.deliveredAtNdr) : '-',
      s.cpuAtRate ? `${s.cpuAtRate.totalUs.toFixed(2)} (${formatRate(s.cpuAtRate.offeredPps)} pps)` : '-',
      s.rulesPerWorker?.join(' / ') ?? '-',
      memory(s.memoryKb),
    ]),
  );
}

/** What the relay's own counters say dropped the packets, where it has such counters (kernel-unicast). */
function droppedBy(counters: Record<string, number> | undefined): string {
  const rp = counters?.['reversePathFiltered'];
  return rp === undefined ? '' : ` (rp_filter dropped ${rp}, forwarded ${counters?.['forwarded'] ?? 0})`;
}

function unroutableTable(r: Results): string {
  const rows = r.relays
    .filter((x) => x.unroutable.length > 0)
    .map((x) => [x.relay, ...x.unroutable.map((u) => `${u.delivered} of ${u.sent}${droppedBy(u.relayCounters)}`)]);
  return table(['relay', 'rp_filter 1: delivered', 'rp_filter 2: delivered'], rows);
}

function barsTable(r: Results): string {
  // A figure reported without a limit ('-') is not judged; '?' is a bar that could not be judged.
  const mark = (b: BarVerdict) => (b.met === null ? (b.limit === '-' ? 'reported' : '?') : b.met ? 'met' : '**missed**');
  return table(['bar (mcr-w1)', 'measured', 'limit', ''], r.bars.map((b) => [b.bar, b.measured, b.limit, `${mark(b)}${b.note ? ` (${b.note})` : ''}`]));
}

/** Above the main table when the kernel reference is unicast forwarding: what it is and why. */
function kernelReferenceNote(r: Results): string[] {
  const unicast = r.relays.find((x) => x.relay === KERNEL_UNICAST);
  if (!unicast) return [];
  return [`**Kernel reference: ${KERNEL_UNICAST}**, ${unicast.description}. It has no fan-out and no per-group rules; those cases are marked unsupported.`, ''];
}

/** Whether the results hold forwarding figures (measured now, or carried over from an earlier run). */
function hasForwarding(r: Results): boolean {
  return r.ceiling.length > 0 || r.relays.length > 0;
}

/** `plotFile`, `controlPlanePlotFile`: the SVGs written next to the markdown file. */
export function renderMarkdown(r: Results, plotFile: string, controlPlanePlotFile = 'latest-control-plane.svg'): string {
  const m = r.machine;
  const carried = (r.carriedOver ?? []).map((c) => `The ${c.section} section is from the run of ${c.startedAt} (\`${c.command}\`), taken over from the previous latest.json: this run measured only ${r.plan.sections.join(', ')}.`);
  return [
    `# mcr benchmark — ${r.startedAt}`,
    '',
    `\`${r.command}\` (${r.plan.quick ? 'quick' : 'full'} plan), ${Math.round(r.durationSeconds)} s.`,
    '',
    ...carried.flatMap((line) => [line, '']),
    `Machine: ${m.cpuModel}, ${m.cpus} CPUs, ${m.memoryMb} MB, ${m.kernel}, node ${m.node}; load average ${m.loadAverage1m.toFixed(2)} at start. ` +
      `mcr ${m.mcrVersion}${m.commit ? ` (${m.commit})` : ''}; ${m.socat ?? 'socat not measured'}.`,
    '',
    ...(hasForwarding(r) ? renderForwarding(r, plotFile) : []),
    ...(r.controlPlane ? [renderControlPlane(r.controlPlane, controlPlanePlotFile)] : []),
  ].join('\n');
}

/** The forwarding section (issue 3). */
function renderForwarding(results: Results, plotFile: string): string[] {
  // Carried over from an earlier run: with that run's plan, and what differed on the machine then.
  const carried = results.carriedOver?.find((c) => c.section === 'forwarding');
  const r = { ...results, plan: carried?.plan ?? results.plan };
  const then = carried?.machine;
  return [
    ...(then
      ? [
          `Forwarding run: load average ${then.loadAverage1m.toFixed(2)} at start, mcr ${then.mcrVersion}${then.commit ? ` (${then.commit})` : ''}; ${then.socat ?? 'socat not measured'}.`,
          '',
        ]
      : []),
    `Forwarding: generator, sink and the receiver's input processing on CPU ${r.plan.harnessCpu}; the relay's input processing on CPU ${r.plan.relayCpu}, socat pinned there, mcr worker i on CPU i. ` +
      `NDR: highest offered rate with loss ≤ ${r.plan.maxLoss * 100}% in ${r.plan.probeSeconds} s probes, geometric search to ${r.plan.precision * 100}%, median of ${r.plan.searchRepeats}. ` +
      `CPU per packet: busy time of CPU ${r.plan.relayCpu} (the relay’s work only) per delivered packet, least busy of ${r.plan.cpuSamples} probes. See docs/benchmark.md.`,
    '',
    '## Harness ceiling (no relay)',
    '',
    ceilingTable(r),
    '',
    '## Relays, one flow, one output',
    '',
    ...kernelReferenceNote(r),
    mainTable(r),
    '',
    ...(r.scale.length ? ['## Scale', '', scaleTable(r), ''] : []),
    '## Unroutable source (relay has no route back to 10.1.0.2)',
    '',
    unroutableTable(r),
    '',
    '## Issue 3 bars',
    '',
    barsTable(r),
    '',
    ...(r.notes.length ? ['## Notes', '', ...r.notes.map((n) => `- ${n}`), ''] : []),
    `![delivered vs offered](${plotFile})`,
    '',
  ];
}
