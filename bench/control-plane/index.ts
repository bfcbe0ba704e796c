/**
 * The control-plane section of `npm run bench` (issue 15 point 1): the target shapes, the growth
 * series, and every figure judged against its target. Selected alone with `--only control-plane`.
 */
import { secondsSince } from './bounded';
import { measureGrowth } from './growth';
import { ControlPlanePlan, worstCaseSeconds } from './plan';
import type { ControlPlaneResults } from './results';
import { measureShape } from './shape';
import { judgeShape } from './targets';

export type { ControlPlanePlan } from './plan';
export type { ControlPlaneResults } from './results';

export async function measureControlPlane(plan: ControlPlanePlan, progress: { section(title: string): void; line(text: string): void }): Promise<ControlPlaneResults> {
  const startedAt = new Date().toISOString();
  const started = process.hrtime.bigint();
  const boundSeconds = worstCaseSeconds(plan);
  const log = (line: string) => progress.line(line);
  const shapes = [];
  for (const shape of plan.shapes) {
    progress.section(`control plane: ${shape.rules} rules x ${shape.outputs} outputs`);
    shapes.push(await measureShape(shape, plan, { light: false, log }));
  }
  if (plan.growth.length) progress.section(`control plane: growth ${plan.growth.join(', ')} rules x ${plan.growthOutputs} outputs`);
  const growth = await measureGrowth(plan, shapes, log);
  const notes = shapes.flatMap((s) => s.notes.map((n) => `${s.rules} x ${s.outputs}: ${n}`));
  notes.push(
    'mcrd runs with its default workers and the flags shown; the namespace allows as many IGMP memberships as there are rules (net.ipv4.igmp_max_memberships), as an operator at that scale sets it.',
    `CreateRule/DeleteRule: each client deletes a rule of the installed set and creates it again (the store stays at N-1..N rules); one client does ${plan.singlePairs} pairs, ${plan.concurrentClients} clients ${plan.concurrentPairs} pairs together, each client its own channel (grpc-js shares one connection per target between them).`,
  );
  return { startedAt, durationSeconds: secondsSince(started), boundSeconds, shapes, growth, targets: shapes.flatMap(judgeShape), notes };
}
