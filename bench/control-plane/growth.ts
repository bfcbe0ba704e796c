/**
 * The growth series: N rules x 4 outputs for N from 1k to 100k (plan.growth), the main costs only (a
 * light shape: ApplyRules of all, the one-rule diff (whole answer and CHANGES view), start to
 * installed, idle CPU, RSS, CreateRule p99).
 * A size already measured as a target shape is taken from it. Once a size runs into a bound (its rules
 * never installed, or not after a restart), larger sizes are not started (they would only take longer);
 * nor is any size once the series has used its time budget. Both are recorded as the reason.
 */
import { secondsSince } from './bounded';
import type { ControlPlanePlan } from './plan';
import type { GrowthPoint, ShapeResult } from './results';
import { measureShape } from './shape';

export function growthPointOf(r: ShapeResult): GrowthPoint {
  return {
    rules: r.rules,
    outputs: r.outputs,
    applyAll: r.applyAll,
    diff: r.diff,
    ...(r.diffChanges ? { diffChanges: r.diffChanges } : {}),
    restartInstalled: r.restartInstalled,
    ...(r.single ? { create: r.single } : {}),
    ...(r.idleCpu ? { idleCpuPercent: r.idleCpu.total } : {}),
    ...(r.rssMb ? { rssMb: r.rssMb.mcrd } : {}),
    ...(r.failed ? { failed: r.failed } : {}),
    seconds: r.seconds,
  };
}

/** Why the sizes after this one are not measured, or null. */
function stopsTheSeries(p: GrowthPoint): string | null {
  if (p.failed) return `${p.rules} rules failed: ${p.failed}`;
  for (const [what, t] of [
    ['ApplyRules of all', p.applyAll],
    ['start to installed', p.restartInstalled],
  ] as const) {
    if (t && (t.status === 'timeout' || t.status === 'error')) return `${what} at ${p.rules} rules ${t.status === 'timeout' ? `timed out after ${t.boundSeconds} s` : 'failed'}`;
    if (t?.status === 'skipped' && t.detail !== 'not reached') return `${what} at ${p.rules} rules not measured: ${t.detail}`;
  }
  return null;
}

export async function measureGrowth(plan: ControlPlanePlan, shapes: readonly ShapeResult[], log: (line: string) => void): Promise<GrowthPoint[]> {
  const started = process.hrtime.bigint();
  const points: GrowthPoint[] = [];
  let stop: string | null = null;
  for (const rules of plan.growth) {
    const outputs = plan.growthOutputs;
    if (stop === null && secondsSince(started) > plan.growthBudgetSeconds) stop = `the growth series' budget of ${plan.growthBudgetSeconds} s was spent`;
    if (stop !== null) {
      points.push({ rules, outputs, skipped: stop, seconds: 0 });
      log(`growth ${rules} x ${outputs}: not measured (${stop})`);
      continue;
    }
    const known = shapes.find((s) => s.rules === rules && s.outputs === outputs);
    let point: GrowthPoint;
    if (known) {
      point = growthPointOf(known);
      log(`growth ${rules} x ${outputs}: taken from the target shape`);
    } else {
      log(`growth ${rules} x ${outputs}`);
      point = growthPointOf(await measureShape({ rules, outputs }, plan, { light: true, log }));
    }
    points.push(point);
    stop = stopsTheSeries(point);
  }
  return points;
}
