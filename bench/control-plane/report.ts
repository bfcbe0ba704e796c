/**
 * The control-plane section of the benchmark's markdown, and its growth plot (from the results alone).
 */
import { formatCount, growthPlot, GrowthPanel } from './growth-svg';
import type { ControlPlaneResults, GrowthPoint, TargetVerdict } from './results';
import { GROWTH_FIGURES, GROWTH_LABELS, GROWTH_LIMITS, GrowthFigure, growthValue, judgeGrowthCell } from './targets';

function table(header: string[], rows: string[][]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

function mark(verdict: TargetVerdict['verdict']): string {
  return verdict === 'missed' ? '**missed**' : verdict;
}

function growthCell(p: GrowthPoint, figure: GrowthFigure): string {
  if (p.skipped) return '-';
  const value = growthValue(p, figure);
  const verdict = judgeGrowthCell(p, figure);
  if (value === undefined) return 'not measured';
  if (value === null) {
    if (figure === 'createP99' && p.create) {
      const c = p.create;
      const partial = c.create.count > 0 ? ` (p99 ${c.create.p99.toFixed(0)} ms of ${c.create.count} calls)` : '';
      return `**${c.status === 'timeout' ? `timed out after ${c.boundSeconds} s` : `${c.create.failed} calls failed`}${partial}**`;
    }
    const t = figure === 'applyAll' ? p.applyAll : figure === 'diff' ? p.diff : figure === 'diffChanges' ? p.diffChanges : figure === 'restartInstalled' ? p.restartInstalled : undefined;
    return `**${t?.status === 'timeout' ? `timed out after ${t.boundSeconds} s` : 'failed'}**`;
  }
  const unit = GROWTH_LABELS[figure].unit;
  const text = `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${unit === '% of a core' ? '%' : unit}`;
  return verdict === 'missed' ? `**${text}**` : text;
}

/** A growth column's header: the figure, and its limit when it has one. */
function growthHeader(figure: GrowthFigure): string {
  const { title, unit } = GROWTH_LABELS[figure];
  const limit = GROWTH_LIMITS[figure];
  return limit === undefined ? `${title} (${unit}, reported)` : `${title} (< ${limit} ${unit === '% of a core' ? '%' : unit})`;
}

export function growthPanels(growth: readonly GrowthPoint[]): GrowthPanel[] {
  return GROWTH_FIGURES.map((figure) => ({
    title: GROWTH_LABELS[figure].title,
    unit: GROWTH_LABELS[figure].unit,
    limit: GROWTH_LIMITS[figure],
    points: growth
      .map((p) => ({ x: p.rules, y: p.skipped ? undefined : growthValue(p, figure) }))
      .filter((q): q is { x: number; y: number | null } => q.y !== undefined),
  }));
}

export function renderGrowthSvg(cp: ControlPlaneResults): string {
  const outputs = cp.growth[0]?.outputs ?? 4;
  return growthPlot(`mcr control plane: cost against rules (x ${outputs} outputs), ${cp.startedAt.slice(0, 16).replace('T', ' ')} UTC`, growthPanels(cp.growth));
}

/** `plotFile`: the growth SVG, relative to the markdown file. */
export function renderControlPlane(cp: ControlPlaneResults, plotFile: string): string {
  const targets = table(
    ['shape (rules x outputs)', 'figure', 'measured', 'target', '', 'kernel, same work'],
    cp.targets.map((t) => [t.shape, t.figure, t.measured, t.target, mark(t.verdict), t.kernel ?? '-']),
  );
  const growth = table(
    ['rules', ...GROWTH_FIGURES.map(growthHeader)],
    cp.growth.map((p) => [
      `${formatCount(p.rules)} x ${p.outputs}${p.skipped ? ` (not measured: ${p.skipped})` : p.failed ? ` (failed: ${p.failed})` : ''}`,
      ...GROWTH_FIGURES.map((f) => growthCell(p, f)),
    ]),
  );
  const met = cp.targets.filter((t) => t.verdict === 'met').length;
  const judged = cp.targets.filter((t) => t.verdict === 'met' || t.verdict === 'missed').length;
  return [
    '## Control plane (issue 15 targets)',
    '',
    `A real mcrd (its default workers; --max-rules raised to the shape's rules, --max-request-bytes to its maximum) in a namespace of its own with veth interfaces for the rules' input and outputs, no traffic. ` +
      `${met} of ${judged} judged figures met. Section: ${Math.round(cp.durationSeconds)} s (bounded by ${cp.boundSeconds} s; every step has a bound and is recorded as timed out when it reaches it). See docs/benchmark.md, "Control plane".`,
    '',
    targets,
    '',
    `### Growth with the number of rules (x ${cp.growth[0]?.outputs ?? 4} outputs)`,
    '',
    growth,
    '',
    `![control-plane costs against rules](${plotFile})`,
    '',
    ...(cp.notes.length ? ['Notes:', '', ...cp.notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
}
