/** Progress on the terminal while the benchmark runs: sections, steps and one line per probe. */
import type { ProbeResult } from './probe';

/** "152.3k", "1.20M", "950". */
export function formatRate(pps: number): string {
  if (pps >= 1e6) return `${(pps / 1e6).toFixed(2)}M`;
  if (pps >= 1e3) return `${(pps / 1e3).toFixed(1)}k`;
  return pps.toFixed(0);
}

export function formatLoss(loss: number): string {
  return loss === 0 ? '0%' : loss < 0.0001 ? `${(loss * 100).toFixed(4)}%` : `${(loss * 100).toFixed(2)}%`;
}

export class Progress {
  private readonly start = Date.now();

  constructor(private readonly write: (text: string) => void = (text) => process.stdout.write(text)) {}

  private stamp(): string {
    const s = Math.floor((Date.now() - this.start) / 1000);
    return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  }

  section(title: string): void {
    this.write(`\n[${this.stamp()}] == ${title}\n`);
  }

  line(text: string): void {
    this.write(`[${this.stamp()}] ${text}\n`);
  }

  /** One probe: what was asked, what was offered and what arrived. */
  probe(label: string, r: ProbeResult, maxLoss?: number): void {
    const requested = r.requestedPps === 0 ? 'flat out' : `${formatRate(r.requestedPps)} pps`;
    const verdict = maxLoss === undefined ? '' : r.loss <= maxLoss ? '  pass' : '  FAIL';
    const extra = [
      r.sinkSocketDrops ? `sink drops ${r.sinkSocketDrops}` : '',
      r.cpu.backlogDrops ? `backlog drops ${r.cpu.backlogDrops}` : '',
      r.waitFraction >= 0.02 ? `relay waited for CPU ${(r.waitFraction * 100).toFixed(0)}%` : '',
    ]
      .filter(Boolean)
      .join(', ');
    this.line(
      `  ${label}: ${requested} -> offered ${formatRate(r.offeredPps)}, delivered ${formatRate(r.deliveredPps)} pps, loss ${formatLoss(r.loss)}${verdict}${extra ? ` (${extra})` : ''}`,
    );
  }
}
