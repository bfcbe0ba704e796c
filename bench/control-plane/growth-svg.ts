/**
 * The growth plot as SVG: one panel per cost, rules on a logarithmic x axis, the cost on a linear y
 * axis from 0, the target (if the figure has one) as a dashed red line. A measured value is a filled
 * circle (joined in order); a step that timed out or failed is a hollow square at the top edge.
 * Written by hand: no plotting dependency (pure: unit-tested).
 */
import { escapeXml } from '../lib/report/svg';

export interface GrowthPanel {
  title: string;
  unit: string;
  /** The target (undefined: the figure is reported, not judged). */
  limit?: number;
  /** x: rules; y: the cost, null when its step timed out or failed. Points not measured are left out. */
  points: { x: number; y: number | null }[];
}

const PANEL_W = 320;
const PANEL_H = 240;
const COLUMNS = 3;
const M = { left: 56, right: 14, top: 30, bottom: 40 };

/** "1k", "20k", "100k", "500". */
export function formatCount(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

/** Round tick values from 0 to about `top`. */
function yTicks(top: number): number[] {
  const rough = top / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? rough;
  const ticks: number[] = [];
  for (let v = 0; v <= top * 1.0001; v += step) ticks.push(v);
  return ticks;
}

function formatTick(v: number): string {
  return Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(v % 1000 === 0 ? 0 : 1)}k` : Number.isInteger(v) ? String(v) : v.toPrecision(2);
}

function panel(p: GrowthPanel, x0: number, y0: number, xs: number[]): string[] {
  const w = PANEL_W - M.left - M.right;
  const h = PANEL_H - M.top - M.bottom;
  const lo = Math.log10(Math.min(...xs));
  const hi = Math.log10(Math.max(...xs));
  const span = hi - lo || 1;
  const px = (x: number) => x0 + M.left + (xs.length === 1 ? w / 2 : ((Math.log10(x) - lo) / span) * w);
  const values = p.points.map((q) => q.y).filter((y): y is number => y !== null && Number.isFinite(y));
  const top = Math.max(p.limit ?? 0, ...values) * 1.1 || 1;
  const py = (y: number) => y0 + M.top + h - (Math.min(y, top) / top) * h;
  const out: string[] = [];
  out.push(`<text x="${x0 + PANEL_W / 2}" y="${y0 + 18}" text-anchor="middle" font-weight="bold">${escapeXml(`${p.title} (${p.unit})`)}</text>`);
  out.push(`<rect x="${x0 + M.left}" y="${y0 + M.top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  for (const t of yTicks(top)) {
    out.push(`<text x="${x0 + M.left - 4}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${formatTick(t)}</text>`);
  }
  for (const x of xs) {
    out.push(`<text x="${px(x).toFixed(1)}" y="${y0 + M.top + h + 14}" text-anchor="middle">${formatCount(x)}</text>`);
  }
  out.push(`<text x="${x0 + M.left + w / 2}" y="${y0 + PANEL_H - 8}" text-anchor="middle">rules (log scale)</text>`);
  if (p.limit !== undefined) {
    out.push(
      `<line x1="${x0 + M.left}" y1="${py(p.limit).toFixed(1)}" x2="${x0 + M.left + w}" y2="${py(p.limit).toFixed(1)}" stroke="#d62728" stroke-dasharray="5 4"/>`,
      `<text x="${x0 + M.left + w - 2}" y="${(py(p.limit) - 3).toFixed(1)}" text-anchor="end" fill="#d62728">target ${formatTick(p.limit)}</text>`,
    );
  }
  const measured = p.points.filter((q): q is { x: number; y: number } => q.y !== null && Number.isFinite(q.y)).sort((a, b) => a.x - b.x);
  if (measured.length > 1) {
    out.push(`<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${measured.map((q) => `${px(q.x).toFixed(1)},${py(q.y).toFixed(1)}`).join(' ')}"/>`);
  }
  for (const q of measured) out.push(`<circle cx="${px(q.x).toFixed(1)}" cy="${py(q.y).toFixed(1)}" r="3" fill="#1f77b4"><title>${formatCount(q.x)}: ${formatTick(q.y)} ${escapeXml(p.unit)}</title></circle>`);
  for (const q of p.points.filter((q) => q.y === null)) {
    out.push(`<rect x="${(px(q.x) - 4).toFixed(1)}" y="${y0 + M.top - 4}" width="8" height="8" fill="white" stroke="#d62728"><title>${formatCount(q.x)}: timed out or failed</title></rect>`);
  }
  return out;
}

/** The whole plot; `title` above the panels. An empty series gives a plot saying so. */
export function growthPlot(title: string, panels: GrowthPanel[]): string {
  const xs = [...new Set(panels.flatMap((p) => p.points.map((q) => q.x)))].filter((x) => x > 0).sort((a, b) => a - b);
  const rows = Math.max(1, Math.ceil(panels.length / COLUMNS));
  const width = PANEL_W * COLUMNS;
  const height = 30 + rows * PANEL_H + 20;
  const body =
    xs.length === 0
      ? [`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no growth figures measured</text>`]
      : panels.flatMap((p, i) => panel(p, (i % COLUMNS) * PANEL_W, 30 + Math.floor(i / COLUMNS) * PANEL_H, xs));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    `<text x="8" y="${height - 6}" fill="#555">filled circle: measured; hollow square: timed out or failed; dashed red: issue 15 target</text>`,
    '</svg>',
    '',
  ].join('\n');
}
