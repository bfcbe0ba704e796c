/**
 * One shape (N rules x K outputs) against a real mcrd, every step bounded (plan.ts):
 *
 *   1. mcrd on an empty store; ApplyRules of all N (the call, then until every rule is installed,
 *      confirmed by ListRules);
 *   2. ApplyRules of the same N with rule 0 changed (the one-rule diff), and until installed;
 *   3. mcrd stopped and started on the store now holding the N rules: until it answers, until every
 *      rule is installed;
 *   4. idle CPU of mcrd and its workers over a window, and their RSS;
 *   5. a WatchStats stream of every rule at 1 s over a window: CPU, and CPU over idle;
 *   6. `mcrctl rule list` and `mcrctl stats`;
 *   7. CreateRule/DeleteRule: one client, then many at once;
 *   8. the kernel's table: N /32 routes of K next hops by `ip -batch`, one added and deleted.
 *
 * Worker restarts (ListWorkers' counters) are noted after every step. A growth point runs 1-4 and the
 * one-client writes only. When the rules never get installed, the steps that need them are skipped
 * with that reason rather than measured on a half-installed table: when the ApplyRules was
 * acknowledged but the rules are not installed within the bound, the diff and the restart still run
 * (the store holds the rules); when they are not installed after the restart either, the rest is skipped.
 */
import { LIMIT_FLAGS } from '../../server/config/limits';
import { bounded, describeError, secondsSince, skipped, sleep } from './bounded';
import { MeasuredMcrd } from './daemon';
import { measureKernelRoutes } from './kernel-routes';
import { runMcrctl } from './mcrctl';
import { ControlPlaneNamespaces } from './namespaces';
import type { ControlPlanePlan, Shape } from './plan';
import { cpuDuring, residentMb } from './process-cpu';
import type { CpuWindow, ShapeResult, Timed } from './results';
import { encodeApplyRules, PreEncodedApply } from './pre-encoded';
import { ruleSet, ruleSetWithOneChange } from './rule-set';
import { ApplyRulesView } from '../../gen/mcr/v1/rules';
import { formatRate } from './targets';
import { measureWrites } from './writes';

const STATS_INTERVAL_MS = 1000;

/** mcrd flags for N rules: the rule limit raised to N, and requests as large as mcrd allows (an ApplyRules of N rules). */
export function mcrdArgsFor(rules: number): string[] {
  const limit = (flag: string) => LIMIT_FLAGS.find((l) => l.flag === flag)!;
  const maxRules = limit('--max-rules');
  return ['--max-rules', String(Math.max(maxRules.default, rules)), '--max-request-bytes', String(limit('--max-request-bytes').max)];
}

export interface ShapeOptions {
  /** A growth point: steps 1-4 and the one-client writes only. */
  light: boolean;
  log: (line: string) => void;
}

export async function measureShape(shape: Shape, plan: ControlPlanePlan, options: ShapeOptions): Promise<ShapeResult> {
  const { rules, outputs } = shape;
  const { log, light } = options;
  const b = plan.bounds;
  const started = process.hrtime.bigint();
  const notYet = skipped('not reached');
  const result: ShapeResult = {
    rules,
    outputs,
    workers: 0,
    mcrdArgs: mcrdArgsFor(rules),
    startEmpty: notYet,
    applyAll: notYet,
    applyAllInstalled: notYet,
    diff: notYet,
    diffInstalled: notYet,
    restartServing: notYet,
    restartInstalled: notYet,
    mcrctl: [],
    workerRestarts: { total: 0, byStep: {}, reasons: [] },
    notes: [],
    seconds: 0,
  };
  const label = `${rules} x ${outputs}`;
  const step = (name: string, t: Timed) => log(`  ${label} ${name}: ${t.status === 'ok' ? `${t.seconds.toFixed(3)} s` : `${t.status}${t.detail ? ` (${t.detail})` : ''}`}`);
  let ns: ControlPlaneNamespaces | null = null;
  let daemon: MeasuredMcrd | null = null;
  try {
    ns = ControlPlaneNamespaces.create(outputs, rules);
    const d = new MeasuredMcrd(ns.mcrd, result.mcrdArgs);
    daemon = d;
    const noteRestarts = async (name: string, before: number) => {
      try {
        await d.workers(2000);
      } catch {
        // counted at the next answer
      }
      const seen = d.restarts.total - before;
      if (seen > 0) {
        result.workerRestarts.byStep[name] = (result.workerRestarts.byStep[name] ?? 0) + seen;
        log(`  ${label} ${name}: ${seen} worker restart(s)`);
      }
    };

    // 1. Empty store, then every rule in one ApplyRules.
    result.startEmpty = (await bounded(b.startMs, () => d.start(b.startMs))).timed;
    step('start (empty store)', result.startEmpty);
    if (result.startEmpty.status !== 'ok') return result;
    result.workers = (await d.workers()).length;
    let before = d.restarts.total;
    const applyStart = process.hrtime.bigint();
    const all = ruleSet(rules, outputs);
    result.applyAll = (await bounded(b.applyMs, (left) => d.client.applyRules({ rules: all, replace: true }, { timeoutMs: Math.ceil(left()) }))).timed;
    step('ApplyRules all', result.applyAll);
    const installLeft = b.installMs - secondsSince(applyStart) * 1000;
    const installed = await bounded(Math.max(1, installLeft), (left) => d.waitInstalled(rules, left));
    result.applyAllInstalled = since(applyStart, installed.timed, b.installMs);
    if (result.applyAllInstalled.status === 'ok') result.applyAllInstalled.detail = describeActive(await d.activeRules(b.confirmMs), rules);
    step('ApplyRules all, until installed', result.applyAllInstalled);
    await noteRestarts('ApplyRules all', before);
    const notInstalled = `the ${rules} rules were not all installed (${result.applyAllInstalled.status === 'timeout' ? `not within ${b.installMs / 1000} s` : result.applyAllInstalled.detail})`;
    if (result.applyAll.status !== 'ok' && result.applyAllInstalled.status !== 'ok') {
      // Neither acknowledged nor installed: the store may not hold them, nothing after means anything.
      skipRest(result, notInstalled);
      return result;
    }
    // Acknowledged (the store holds them) but maybe not installed: the diff and the restart are still
    // figures of a store of N rules; what needs them installed waits for the restart to install them.
    if (result.applyAllInstalled.status !== 'ok') result.notes.push(`${notInstalled}; the ApplyRules was acknowledged, so the store holds them: the diff and the restart are measured on it`);

    // 2. The one-rule diff.
    before = d.restarts.total;
    // Built before the clock starts, as the whole set above: the figure is the call's, not the
    // bench's making of 20,000 rule objects (~85 ms at 20,000 x 4 on this machine).
    const changed = ruleSetWithOneChange(rules, outputs);
    const diffStart = process.hrtime.bigint();
    result.diff = (await bounded(b.diffMs, (left) => d.client.applyRules({ rules: changed, replace: true }, { timeoutMs: Math.ceil(left()) }))).timed;
    step('ApplyRules one-rule diff', result.diff);
    const diffInstalled = await bounded(Math.max(1, b.diffInstallMs - secondsSince(diffStart) * 1000), (left) => d.waitInstalled(rules, left));
    result.diffInstalled = since(diffStart, diffInstalled.timed, b.diffInstallMs);
    step('one-rule diff, until installed', result.diffInstalled);
    await noteRestarts('one-rule diff', before);
    // The same with the answer an orchestrator applying a whole set wants (what changed, the rest
    // counted): DIFF_SAMPLES one-rule diffs moving rule 0 back and forth, their median (in the growth
    // series' light shape too: it is the figure that shows a change costs what it changes).
    before = d.restarts.total;
    const view = ApplyRulesView.APPLY_RULES_VIEW_CHANGES;
    // mcrd's share beside it: the same diffs with the requests encoded beforehand, on a channel of
    // their own, taking turns with the others (each call moves rule 0, whichever way it is sent,
    // and both see the same mcrd); and what that encoding costs the client (the library's
    // encoder, timed here).
    const requests = [all, changed].map((set) => ({ rules: set, replace: true, view }));
    const encodings: number[] = [];
    for (let i = 0; i < DIFF_SAMPLES; i++) {
      const t0 = process.hrtime.bigint();
      encodeApplyRules(requests[i % 2]);
      encodings.push(secondsSince(t0) * 1000);
    }
    result.diffEncodeMs = [...encodings].sort((x, y) => x - y)[Math.floor(encodings.length / 2)];
    const preEncoded = encodeApplyRules(requests[1]);
    const pre = new PreEncodedApply(d.mcrd.socketPath);
    const samples: Timed[] = [];
    const preSamples: Timed[] = [];
    try {
      for (let i = 0; i < DIFF_SAMPLES; i++) {
        samples.push((await bounded(b.diffMs, (left) => d.client.applyRules(requests[0], { timeoutMs: Math.ceil(left()) }))).timed);
        preSamples.push((await bounded(b.diffMs, (left) => pre.call(preEncoded, Math.ceil(left())))).timed);
      }
    } finally {
      pre.close();
    }
    result.diffChanges = medianTimed(samples);
    step(`ApplyRules one-rule diff, CHANGES view (median of ${DIFF_SAMPLES})`, result.diffChanges);
    result.diffChangesPreEncoded = medianTimed(preSamples);
    step(`the same, the request encoded beforehand (its encoding: ${result.diffEncodeMs.toFixed(0)} ms)`, result.diffChangesPreEncoded);
    await noteRestarts('one-rule diffs (CHANGES view)', before);

    // 3. mcrd started on the full store.
    await bounded(b.stopMs, () => d.stop());
    const restartStart = process.hrtime.bigint();
    result.restartServing = (await bounded(b.restartServingMs, () => d.start(b.restartServingMs))).timed;
    step('restart on the full store, until SERVING', result.restartServing);
    if (result.restartServing.status !== 'ok') {
      result.restartInstalled = skipped('mcrd did not answer');
      skipRest(result, `mcrd did not answer after a restart on the store of ${rules} rules`);
      return result;
    }
    before = d.restarts.total;
    const restartInstalled = await bounded(Math.max(1, b.restartInstallMs - secondsSince(restartStart) * 1000), (left) => d.waitInstalled(rules, left));
    result.restartInstalled = since(restartStart, restartInstalled.timed, b.restartInstallMs);
    step('restart on the full store, until installed', result.restartInstalled);
    await noteRestarts('restart', before);
    if (result.restartInstalled.status !== 'ok') {
      skipRest(result, `the ${rules} rules were not all installed after a restart either`);
      return result;
    }

    // 4. Idle: first the settling after the install (V8's memory reducer collects the install's garbage
    // some seconds later), reported on its own, then the steady state the target is about.
    const pid = d.pid;
    result.settleCpu = (await cpuDuring(ns.mcrd, pid, () => sleep(plan.settleSeconds * 1000))).cpu;
    log(`  ${label} settling after the install (${plan.settleSeconds} s): CPU ${formatCpu(result.settleCpu)}`);
    result.idleCpu = (await cpuDuring(ns.mcrd, pid, () => sleep(plan.idleSeconds * 1000))).cpu;
    result.rssMb = residentMb(ns.mcrd, pid);
    log(`  ${label} idle: CPU ${formatCpu(result.idleCpu)}; RSS mcrd ${result.rssMb.mcrd.toFixed(0)} MB, workers ${result.rssMb.workers.map((w) => w.toFixed(0)).join(' / ')} MB`);

    if (!light) {
      // 5. Stats each second.
      before = d.restarts.total;
      const stats = await watchStatsFor(d, ns.mcrd, pid, plan.statsSeconds * 1000);
      result.stats = {
        cpu: stats.steady,
        overIdle: stats.steady.total - result.idleCpu.total,
        updates: stats.updates,
        ...(stats.first ? { first: stats.first } : {}),
        status: stats.error ? 'error' : 'ok',
        ...(stats.error ? { detail: stats.error } : {}),
      };
      const first = stats.first ? `first update after ${stats.first.seconds.toFixed(2)} s (CPU ${formatCpu(stats.first)}), then ` : '';
      log(`  ${label} WatchStats at 1 s: ${first}CPU ${formatCpu(stats.steady)}, ${stats.updates} updates${stats.error ? `, ${stats.error}` : ''}`);
      await noteRestarts('WatchStats', before);

      // 6. mcrctl.
      for (const args of [['rule', 'list'], ['stats']]) {
        const run = await runMcrctl(d.mcrd.socketPath, args, b.mcrctlMs);
        result.mcrctl.push(run);
        log(`  ${label} ${run.command}: ${run.status}, exit ${run.exitCode}, ${run.seconds.toFixed(2)} s, ${run.rows ?? 'no'} rows${run.detail ? ` (${run.detail})` : ''}`);
      }
    }

    // 7. Writes.
    before = d.restarts.total;
    const pairs = Math.min(rules, light ? plan.growthPairs : plan.singlePairs);
    result.single = await measureWrites(d.mcrd.socketPath, outputs, 1, pairs, b.singleWritesMs);
    log(`  ${label} one client: ${formatWrites(result.single)}`);
    await noteRestarts('CreateRule/DeleteRule, one client', before);
    if (!light) {
      before = d.restarts.total;
      const many = Math.min(rules, plan.concurrentPairs);
      result.concurrent = await measureWrites(d.mcrd.socketPath, outputs, plan.concurrentClients, many, b.concurrentWritesMs);
      log(`  ${label} ${plan.concurrentClients} clients: ${formatWrites(result.concurrent)}`);
      await noteRestarts(`CreateRule/DeleteRule, ${plan.concurrentClients} clients`, before);
    }
  } catch (err) {
    result.failed = describeError(err);
    log(`  ${label} FAILED: ${result.failed}`);
  } finally {
    if (daemon) {
      await bounded(b.stopMs, () => daemon!.stop());
      result.workerRestarts.total = daemon.restarts.total;
      result.workerRestarts.reasons = [...daemon.restarts.reasons];
      const status = await bounded(b.stopMs, () => daemon!.dispose());
      if (status.timed.status !== 'ok') result.notes.push(`mcrd did not stop cleanly: ${status.timed.detail ?? status.timed.status}`);
    }
    // 8. The kernel's table, in its own namespace (mcrd is gone by now).
    if (!light && ns) {
      try {
        result.kernel = await measureKernelRoutes(ns.routes, rules, outputs, b.kernelBatchMs);
        log(`  ${label} kernel: ${rules} routes of ${outputs} next hops by ip -batch: ${result.kernel.batch.status === 'ok' ? `${result.kernel.batch.seconds.toFixed(3)} s` : result.kernel.batch.status}`);
      } catch (err) {
        result.notes.push(`kernel routes not measured: ${describeError(err)}`);
      }
    }
    ns?.destroy();
    result.seconds = secondsSince(started);
  }
  return result;
}

/** A wait that started at `start` (earlier than the bounded step itself): its time from `start`. */
function since(start: bigint, t: Timed, boundMs: number): Timed {
  return t.status === 'timeout' ? { ...t, seconds: boundMs / 1000, boundSeconds: boundMs / 1000 } : { ...t, seconds: secondsSince(start), boundSeconds: boundMs / 1000 };
}

function describeActive(answer: { active: number; total: number } | { error: string }, rules: number): string {
  if ('error' in answer) return `ListRules could not confirm: ${answer.error}`;
  return `ListRules: ${answer.active} of ${answer.total} rules ACTIVE${answer.total !== rules ? ` (expected ${rules})` : ''}`;
}

function skipRest(result: ShapeResult, why: string): void {
  for (const key of ['diff', 'diffInstalled', 'restartServing', 'restartInstalled'] as const) {
    if (result[key].status === 'skipped') result[key] = skipped(why);
  }
  result.notes.push(why);
}

/** Reads a WatchStats stream of every rule at 1 s for `ms`. */
/** One-rule diffs measured with the CHANGES view. */
const DIFF_SAMPLES = 5;

/** The median of timed samples, or the first that did not succeed. */
export function medianTimed(samples: readonly Timed[]): Timed {
  const failed = samples.find((t) => t.status !== 'ok');
  if (failed) return failed;
  const sorted = [...samples].sort((x, y) => x.seconds - y.seconds);
  return sorted[Math.floor(sorted.length / 2)];
}

/** How long the first update of a WatchStats stream may take. */
const FIRST_UPDATE_MS = 30_000;

/**
 * A WatchStats stream of every rule at 1 s: the CPU until its first update (which builds every rule's
 * stats once), then over `ms` of steady updates, and the updates received in that window.
 */
async function watchStatsFor(
  d: MeasuredMcrd,
  ns: string,
  pid: number,
  ms: number,
): Promise<{ steady: CpuWindow; first?: CpuWindow; updates: number; error?: string }> {
  const stream = d.client.watchStats({ intervalMs: STATS_INTERVAL_MS });
  let updates = 0;
  let error: string | undefined;
  let arrived: () => void = () => undefined;
  const firstUpdate = new Promise<void>((resolve) => (arrived = resolve));
  const reader = (async () => {
    try {
      for await (const update of stream) {
        void update;
        updates++;
        arrived();
      }
    } catch (err) {
      error = describeError(err);
    }
    arrived();
  })();
  const first = (await cpuDuring(ns, pid, () => Promise.race([firstUpdate, sleep(FIRST_UPDATE_MS)]))).cpu;
  const before = updates;
  const steady = (await cpuDuring(ns, pid, () => sleep(ms))).cpu;
  const inWindow = updates - before;
  stream.cancel();
  await Promise.race([reader, sleep(2000)]);
  if (before === 0 && !error) error = `no update within ${FIRST_UPDATE_MS / 1000} s`;
  return { steady, ...(before > 0 ? { first } : {}), updates: inWindow, ...(error ? { error } : {}) };
}

export function formatCpu(c: CpuWindow): string {
  return `${c.total.toFixed(1)}% of a core (mcrd ${c.mcrd.toFixed(1)}%, workers ${c.workers.toFixed(1)}%)`;
}

function formatWrites(w: NonNullable<ShapeResult['single']>): string {
  const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');
  return (
    `create p50 ${ms(w.create.p50)} / p99 ${ms(w.create.p99)} ms, delete p50 ${ms(w.delete.p50)} / p99 ${ms(w.delete.p99)} ms, ` +
    `${formatRate(w.writesPerSecond)} writes/s, ${w.create.failed + w.delete.failed} errors${w.detail ? ` (${w.detail})` : ''}`
  );
}
