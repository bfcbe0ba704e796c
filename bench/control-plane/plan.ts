/**
 * What the control-plane section measures and the bound of each step: the two shapes of issue 15's
 * targets (20,000 rules x 4 outputs, 2,000 x 64) and the growth series 1k..100k rules x 4 outputs
 * (--quick: up to 10k, fewer calls, shorter windows). Every bound is here, so the section's worst case
 * is a sum the report states (worstCaseSeconds).
 */

export interface Shape {
  rules: number;
  outputs: number;
}

export interface Bounds {
  /** Empty store to SERVING. */
  startMs: number;
  /** The ApplyRules call of every rule (its deadline), and from its start to every rule installed. */
  applyMs: number;
  installMs: number;
  /** The one-rule diff's ApplyRules, and until installed. */
  diffMs: number;
  diffInstallMs: number;
  /** mcrd on a full store: to SERVING, and to every rule installed (from the start). */
  restartServingMs: number;
  restartInstallMs: number;
  /** ListRules confirming every rule ACTIVE. */
  confirmMs: number;
  /** Each mcrctl command. */
  mcrctlMs: number;
  /** The one-client and the many-client write phases. */
  singleWritesMs: number;
  concurrentWritesMs: number;
  /** ip -batch of every route. */
  kernelBatchMs: number;
  /** mcrd's stop: SIGTERM, SIGKILL after 10 s (test/support/mcrd.ts). */
  stopMs: number;
}

export interface ControlPlanePlan {
  shapes: Shape[];
  /** Rule counts of the growth series (x growthOutputs outputs). */
  growth: number[];
  growthOutputs: number;
  /** Delete+create pairs of the one-client phase (growth points: growthPairs), and of all concurrent clients together. */
  singlePairs: number;
  growthPairs: number;
  concurrentClients: number;
  concurrentPairs: number;
  /** Windows of the idle CPU and of the stats CPU, and the settling time before the idle window. */
  idleSeconds: number;
  statsSeconds: number;
  settleSeconds: number;
  /** No growth point starts once the growth series has taken this long, seconds. */
  growthBudgetSeconds: number;
  bounds: Bounds;
}

export const TARGET_SHAPES: readonly Shape[] = [
  { rules: 20_000, outputs: 4 },
  { rules: 2_000, outputs: 64 },
];
export const GROWTH_FULL = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000];
export const GROWTH_QUICK = [1_000, 2_000, 5_000, 10_000];

export function controlPlanePlan(quick: boolean, overrides: { shapes?: Shape[]; growth?: number[] } = {}): ControlPlanePlan {
  return {
    shapes: overrides.shapes ?? [...TARGET_SHAPES],
    growth: overrides.growth ?? (quick ? GROWTH_QUICK : GROWTH_FULL),
    growthOutputs: 4,
    singlePairs: quick ? 50 : 200,
    growthPairs: quick ? 20 : 50,
    concurrentClients: 50,
    concurrentPairs: quick ? 200 : 1000,
    // V8's memory reducer collects an install's garbage some 20-45 s after it, with one full GC (docs/
    // benchmark.md): a settling time before the idle window, and an idle window long enough that such
    // a one-off GC, landing in it, is weighed as the rate it is rather than as 10 s of idling.
    idleSeconds: quick ? 5 : 30,
    statsSeconds: quick ? 5 : 10,
    settleSeconds: quick ? 20 : 40,
    growthBudgetSeconds: quick ? 300 : 1800,
    bounds: {
      startMs: 30_000,
      applyMs: quick ? 60_000 : 300_000,
      installMs: quick ? 90_000 : 420_000,
      diffMs: quick ? 30_000 : 60_000,
      diffInstallMs: quick ? 60_000 : 120_000,
      restartServingMs: quick ? 60_000 : 120_000,
      restartInstallMs: quick ? 90_000 : 300_000,
      confirmMs: quick ? 30_000 : 60_000,
      mcrctlMs: quick ? 30_000 : 60_000,
      singleWritesMs: quick ? 45_000 : 180_000,
      concurrentWritesMs: quick ? 45_000 : 180_000,
      kernelBatchMs: quick ? 60_000 : 120_000,
      stopMs: 15_000,
    },
  };
}

/** Shapes like "20000x4,2000x64". */
export function parseShapes(text: string): Shape[] {
  return text.split(',').map((part) => {
    const match = /^\s*(\d+)x(\d+)\s*$/.exec(part);
    const rules = Number(match?.[1]);
    const outputs = Number(match?.[2]);
    if (!match || rules < 1 || outputs < 1 || outputs > 64) throw new Error(`shape "${part}" is not RULESxOUTPUTS (rules >= 1, outputs 1-64)`);
    return { rules, outputs };
  });
}

/** Rule counts like "1000,2000,5000". */
export function parseCounts(text: string): number[] {
  return text.split(',').map((part) => {
    const n = Number(part.trim());
    if (!Number.isInteger(n) || n < 1) throw new Error(`rule count "${part}" is not a positive integer`);
    return n;
  });
}

/**
 * The most the section can take, seconds: every step of every shape at its bound (with the fixed
 * windows), then the growth series' budget plus one point at all its bounds (a point started just
 * before the budget ran out). Real runs end far sooner unless mcrd is slow.
 */
export function worstCaseSeconds(plan: ControlPlanePlan): number {
  const b = plan.bounds;
  const windows = plan.settleSeconds + plan.idleSeconds + plan.statsSeconds + 5;
  const perShape =
    b.startMs + b.installMs + b.confirmMs + b.diffInstallMs + b.stopMs + b.restartInstallMs + b.confirmMs + 2 * b.mcrctlMs + b.singleWritesMs + b.concurrentWritesMs + b.kernelBatchMs + 20_000 + b.stopMs;
  const perPoint = b.startMs + b.installMs + b.diffInstallMs + b.stopMs + b.restartInstallMs + b.singleWritesMs + b.stopMs;
  const growth = plan.growth.length ? plan.growthBudgetSeconds + perPoint / 1000 + plan.settleSeconds + plan.idleSeconds : 0;
  return Math.round(plan.shapes.length * (perShape / 1000 + windows) + growth);
}
