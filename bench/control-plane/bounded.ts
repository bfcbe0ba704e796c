/**
 * Bounded steps: every step of the control-plane section has a time bound after which it is recorded
 * as "timed out after N s" and the section goes on, so that a run against a slow mcrd still ends.
 */
import type { StepStatus, Timed } from './results';

/** grpc.status.DEADLINE_EXCEEDED (kept here so that this module needs no grpc-js). */
const DEADLINE_EXCEEDED = 4;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Seconds since `startNs` (process.hrtime.bigint()). */
export function secondsSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

/** A gRPC status name or the error's message, short enough for a table. */
export function describeError(err: unknown): string {
  const e = err as { code?: unknown; details?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  return message.length > 300 ? `${message.slice(0, 300)}...` : message;
}

/**
 * Runs `step` (given the time left, in ms, for its own deadlines) and times it; resolves with the
 * outcome at the latest `boundMs` after the start, even if the step never settles (it is then left to
 * settle on its own: its deadlines end it).
 */
export async function bounded<T>(boundMs: number, step: (remainingMs: () => number) => Promise<T>): Promise<{ timed: Timed; value?: T }> {
  const start = process.hrtime.bigint();
  const remaining = () => Math.max(1, boundMs - secondsSince(start) * 1000);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), boundMs);
  });
  const boundSeconds = boundMs / 1000;
  try {
    const outcome = await Promise.race([step(remaining).then((value) => ({ value })), timeout]);
    if (outcome === 'timeout') return { timed: { status: 'timeout', seconds: boundSeconds, boundSeconds } };
    return { timed: { status: 'ok', seconds: secondsSince(start), boundSeconds }, value: outcome.value };
  } catch (err) {
    // A call whose deadline (the time left in the bound) ran out is the step timing out.
    if ((err as { code?: unknown }).code === DEADLINE_EXCEEDED) return { timed: { status: 'timeout', seconds: boundSeconds, boundSeconds } };
    return { timed: { status: 'error', seconds: secondsSince(start), boundSeconds, detail: describeError(err) } };
  } finally {
    clearTimeout(timer);
  }
}

export function skipped(why: string): Timed {
  return { status: 'skipped', seconds: 0, boundSeconds: 0, detail: why };
}

/** "1.23 s", "timed out after 300 s", "failed after 2.1 s: ...", "not measured: ...". */
export function formatTimed(t: Timed | undefined, unit: 's' | 'ms' = 's'): string {
  if (!t) return 'not measured';
  const value = (seconds: number) => (unit === 'ms' ? `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 0)} ms` : `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`);
  switch (t.status) {
    case 'ok':
      return value(t.seconds);
    case 'timeout':
      return `timed out after ${t.boundSeconds} s`;
    case 'error':
      return `failed after ${value(t.seconds)}: ${t.detail ?? 'error'}`;
    case 'skipped':
      return `not measured: ${t.detail ?? ''}`;
  }
}

/** Whether a step's outcome counts as a measured figure. */
export function measured(status: StepStatus | undefined): boolean {
  return status === 'ok';
}
