/**
 * The delivered-vs-offered plot as SVG, one panel per payload size, one series per relay: every probe
 * of the run through that relay is a point (offered packets/s, delivered packets/s), joined in order
 * of offered rate; the dashed diagonal is lossless forwarding. Written by hand: no plotting dependency.
 */
import type { ProbeResult } from '../probe';
import type { Results } from '../results';

export interface Series {
  name: string;
  points: [number, number][];
}

export interface Panel {
  title: string;
  series: Series[];
}

const PANEL_W = 420;
const PANEL_H = 340;
const MARGIN = { left: 64, right: 16, top: 36, bottom: 48 };
const LEGEND_H = 22;
const LEGEND_ITEM_W = 150;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#7f7f7f'];

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" step (1, 2 or 5 x 10^n) giving about `count` ticks up to `max`. */
function tickStep(max: number, count: number): number {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((step) => step >= raw) ?? 10 * magnitude;
}

function tickLabel(value: number): string {
  if (value >= 1e6) return `${+(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  return String(value);
}

function renderPanel(panel: Panel, x0: number, colorOf: (name: string) => string): string {
  const all = panel.series.flatMap((s) => s.points);
  const max = Math.max(1, ...all.map(([x, y]) => Math.max(x, y)));
  const step = tickStep(max, 5);
  const top = Math.ceil(max / step) * step;
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const px = (v: number) => x0 + MARGIN.left + (v / top) * w;
  const py = (v: number) => MARGIN.top + h - (v / top) * h;
  const out: string[] = [];
  out.push(`<text x="${x0 + PANEL_W / 2}" y="20" text-anchor="middle" font-weight="bold">${escapeXml(panel.title)}</text>`);
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(`<line x1="${px(0)}" y1="${py(v)}" x2="${px(top)}" y2="${py(v)}" stroke="#e4e4e4"/>`);
    out.push(`<line x1="${px(v)}" y1="${py(0)}" x2="${px(v)}" y2="${py(top)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${px(0) - 6}" y="${py(v) + 4}" text-anchor="end">${tickLabel(v)}</text>`);
    out.push(`<text x="${px(v)}" y="${py(0) + 16}" text-anchor="middle">${tickLabel(v)}</text>`);
  }
  out.push(`<rect x="${px(0)}" y="${py(top)}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  out.push(`<line x1="${px(0)}" y1="${py(0)}" x2="${px(top)}" y2="${py(top)}" stroke="#aaa" stroke-dasharray="4 4"/>`);
  out.push(`<text x="${px(top / 2)}" y="${PANEL_H - 10}" text-anchor="middle">offered (packets/s)</text>`);
  out.push(`<text transform="translate(${x0 + 14} ${MARGIN.top + h / 2}) rotate(-90)" text-anchor="middle">delivered (packets/s)</text>`);
  for (const series of panel.series) {
    const points = [...series.points].sort((a, b) => a[0] - b[0]);
    if (points.length === 0) continue;
    const color = colorOf(series.name);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of points) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
  }
  return out.join('\n');
}

export function renderPanels(panels: Panel[]): string {
  const names = [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))];
  const colorOf = (name: string) => COLORS[names.indexOf(name) % COLORS.length];
  const width = PANEL_W * Math.max(1, panels.length);
  const perRow = Math.max(1, Math.floor((width - 16) / LEGEND_ITEM_W));
  const height = PANEL_H + LEGEND_H * Math.ceil(names.length / perRow);
  const body = panels.map((panel, i) => renderPanel(panel, i * PANEL_W, colorOf));
  const legend = names.map((name, i) => {
    const x = 16 + (i % perRow) * LEGEND_ITEM_W;
    const y = PANEL_H + 8 + Math.floor(i / perRow) * LEGEND_H;
    return `<rect x="${x}" y="${y}" width="12" height="12" fill="${colorOf(name)}"/><text x="${x + 18}" y="${y + 10}">${escapeXml(name)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...body,
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}

function points(probes: (ProbeResult | undefined)[]): [number, number][] {
  return probes.filter((p): p is ProbeResult => p !== undefined).map((p) => [p.offeredPps, p.deliveredPps]);
}

/** One panel per size: every probe of every relay of the main cases, and the harness alone. */
export function deliveredVsOffered(results: Pick<Results, 'relays' | 'ceiling'>): string {
  const panels: Panel[] = results.ceiling.map((ceiling) => {
    const series: Series[] = [];
    for (const relay of results.relays) {
      const size = relay.sizes.find((s) => s.size === ceiling.size);
      if (!size) continue;
      series.push({ name: relay.relay, points: points([...size.ndr.searches.flatMap((s) => s.probes), size.overload, size.latency]) });
    }
    series.push({ name: 'harness (no relay)', points: points([...ceiling.ndr.searches.flatMap((s) => s.probes), ceiling.flatOut, ceiling.latency]) });
    return { title: `${ceiling.size}-byte payloads`, series };
  });
  return renderPanels(panels);
}
