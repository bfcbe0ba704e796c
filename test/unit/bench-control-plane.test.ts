/**
 * The pure parts of the benchmark's control-plane section: percentiles, the target verdicts, the growth
 * plot, the rule set, /proc parsing, mcrctl row counting, the plan's bounds and carrying sections over.
 */
import { expect } from 'chai';

import { LIMIT_FLAGS } from '../../server/config/limits';

import { bounded, formatTimed } from '../../bench/control-plane/bounded';
import { growthPointOf } from '../../bench/control-plane/growth';
import { growthPlot, GrowthPanel } from '../../bench/control-plane/growth-svg';
import { routeLine, routePrefix } from '../../bench/control-plane/kernel-routes';
import { percentile, summarize } from '../../bench/control-plane/latency';
import { countRows } from '../../bench/control-plane/mcrctl';
import { controlPlanePlan, parseCounts, parseShapes, worstCaseSeconds } from '../../bench/control-plane/plan';
import { parseStatTicks } from '../../bench/control-plane/process-cpu';
import { growthPanels, renderControlPlane } from '../../bench/control-plane/report';
import type { ControlPlaneResults, ShapeResult, Timed, WritePhase } from '../../bench/control-plane/results';
import { DIFF_PORT, groupOf, ruleSet, ruleSetWithOneChange } from '../../bench/control-plane/rule-set';
import { mcrdArgsFor, medianTimed } from '../../bench/control-plane/shape';
import { judgeGrowthCell, judgeShape } from '../../bench/control-plane/targets';
import { parsePlan } from '../../bench/lib/plan';
import { withCarriedOver } from '../../bench/lib/report/carry-over';
import type { Results } from '../../bench/lib/results';

const ok = (seconds: number): Timed => ({ status: 'ok', seconds, boundSeconds: 300 });
const timedOut = (bound: number): Timed => ({ status: 'timeout', seconds: bound, boundSeconds: bound });

function phase(clients: number, createMs: number[], deleteMs: number[], seconds: number, extra: Partial<WritePhase> = {}): WritePhase {
  return {
    clients,
    pairs: createMs.length,
    status: 'ok',
    seconds,
    boundSeconds: 180,
    create: summarize(createMs),
    delete: summarize(deleteMs),
    writesPerSecond: (createMs.length + deleteMs.length) / seconds,
    ...extra,
  };
}

/** A shape where every figure is within its target, changed by `change`. */
function shape(change: Partial<ShapeResult> = {}): ShapeResult {
  return {
    rules: 20_000,
    outputs: 4,
    workers: 2,
    mcrdArgs: ['--max-rules', '20000'],
    startEmpty: ok(0.8),
    applyAll: ok(2),
    applyAllInstalled: ok(2.5),
    diff: ok(0.02),
    diffInstalled: ok(0.05),
    diffChanges: ok(0.03),
    restartServing: ok(1),
    restartInstalled: ok(2.9),
    idleCpu: { seconds: 10, mcrd: 1, workers: 0.5, total: 1.5 },
    rssMb: { mcrd: 200, workers: [50, 50] },
    stats: { cpu: { seconds: 10, mcrd: 3, workers: 1, total: 5.5 }, overIdle: 4, updates: 10, status: 'ok' },
    single: phase(1, [5, 6, 19], [4, 5, 6], 0.1),
    concurrent: phase(50, [50, 60, 90], [40, 50, 99], 0.005),
    mcrctl: [
      { command: 'mcrctl rule list', status: 'ok', exitCode: 0, seconds: 1, boundSeconds: 60, rows: 20_000 },
      { command: 'mcrctl stats', status: 'ok', exitCode: 0, seconds: 1, boundSeconds: 60, rows: 20_000 },
    ],
    workerRestarts: { total: 0, byStep: {}, reasons: [] },
    kernel: {
      multicastRouting: { available: false, reason: 'no CONFIG_IP_MROUTE' },
      routes: 20_000,
      nexthops: 4,
      batch: ok(0.3),
      addOne: ok(0.002),
      deleteOne: ok(0.002),
    },
    notes: [],
    seconds: 100,
    ...change,
  };
}

const verdictOf = (rows: ReturnType<typeof judgeShape>, figure: RegExp) => {
  const row = rows.find((r) => figure.test(r.figure));
  if (!row) throw new Error(`no row ${figure}`);
  return row;
};

/** Every element opened is closed in order (a well-formedness check without an XML parser). */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const match of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (selfClosing) continue;
    if (!closing) stack.push(name);
    else if (stack.pop() !== name) return false;
  }
  return stack.length === 0;
}

describe('bench control plane', () => {
  describe('percentiles', () => {
    it('takes the nearest rank', () => {
      const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
      expect(percentile(values, 50)).to.equal(50);
      expect(percentile(values, 99)).to.equal(99);
      expect(percentile(values, 100)).to.equal(100);
      expect(percentile([7], 99)).to.equal(7);
      expect(percentile([1, 2, 3, 4], 50)).to.equal(2);
      expect(percentile([], 50)).to.be.NaN;
      expect(() => percentile([1], 0)).to.throw(RangeError);
    });

    it('summarizes latencies and counts failures by code', () => {
      const s = summarize([3, 1, 2], ['DEADLINE_EXCEEDED', 'UNAVAILABLE', 'DEADLINE_EXCEEDED']);
      expect(s).to.deep.equal({ count: 3, failed: 3, p50: 2, p99: 3, max: 3, errors: { DEADLINE_EXCEEDED: 2, UNAVAILABLE: 1 } });
    });
  });

  describe('targets', () => {
    it('marks every figure met when each is within its target', () => {
      const rows = judgeShape(shape());
      const judged = rows.filter((r) => r.verdict !== 'reported');
      expect(judged.map((r) => `${r.figure}: ${r.verdict}`).filter((r) => !r.endsWith(': met'))).to.deep.equal([]);
      expect(judged).to.have.length(14);
      // The default view's diff answers with the whole set: shown, not judged.
      expect(verdictOf(rows, /answered with every rule whole/).verdict).to.equal('reported');
      expect(verdictOf(rows, /multicast routes/).measured).to.include('not possible here: no CONFIG_IP_MROUTE');
    });

    it('marks each figure missed just past its target, and gives the kernel beside', () => {
      const rows = judgeShape(
        shape({
          restartInstalled: ok(3),
          applyAll: ok(5),
          diffChanges: ok(0.05),
          idleCpu: { seconds: 10, mcrd: 1, workers: 1, total: 2 },
          rssMb: { mcrd: 300, workers: [] },
          single: phase(1, [1, 20], [1, 2], 1),
          concurrent: phase(50, [1, 2], [100], 0.003),
          workerRestarts: { total: 4, byStep: { 'ApplyRules all': 4 }, reasons: ['worker 0: did not answer setRules within 2000 ms'] },
        }),
      );
      for (const figure of [/^mcrd start/, /^idle CPU/, /^RSS/, /^CreateRule, one/, /^DeleteRule, 50/, /^durable/, /^ApplyRules of all/, /one-rule diff.*CHANGES/, /restarts/]) {
        expect(verdictOf(rows, figure).verdict, String(figure)).to.equal('missed');
      }
      expect(verdictOf(rows, /^DeleteRule, one/).verdict).to.equal('met');
      expect(verdictOf(rows, /^CreateRule, 50/).verdict).to.equal('met');
      expect(verdictOf(rows, /^ApplyRules of all/).kernel).to.equal('20000 routes (4 next hops each) by ip -batch: 0.30 s');
      expect(verdictOf(rows, /^CreateRule, one/).kernel).to.equal('one route added (one ip command): 2.00 ms');
      expect(verdictOf(rows, /restarts/).measured).to.include('4 in ApplyRules all');
    });

    it('records a step that reached its bound as a timed-out miss, and one not reached as not measured', () => {
      const rows = judgeShape(
        shape({
          applyAll: timedOut(300),
          restartInstalled: { status: 'skipped', seconds: 0, boundSeconds: 0, detail: 'mcrd did not answer' },
          idleCpu: undefined,
          stats: undefined,
          concurrent: undefined,
          mcrctl: [{ command: 'mcrctl rule list', status: 'error', exitCode: 1, seconds: 5, boundSeconds: 60, rows: null, detail: 'Received message larger than max (12098414 vs 4194304)' }],
        }),
      );
      expect(verdictOf(rows, /^ApplyRules of all/).verdict).to.equal('missed');
      expect(verdictOf(rows, /^ApplyRules of all/).measured).to.match(/^timed out after 300 s/);
      expect(verdictOf(rows, /^mcrd start/).verdict).to.equal('not measured');
      expect(verdictOf(rows, /^idle CPU/).verdict).to.equal('not measured');
      expect(verdictOf(rows, /^CreateRule, 50/).verdict).to.equal('not measured');
      expect(verdictOf(rows, /rule list/)).to.include({ verdict: 'missed' });
      expect(verdictOf(rows, /rule list/).measured).to.include('larger than max');
      expect(verdictOf(rows, /mcrctl stats/).verdict).to.equal('not measured');
    });

    it('says when an acknowledged ApplyRules or diff was not installed within its bound', () => {
      const rows = judgeShape(shape({ applyAll: ok(5.86), applyAllInstalled: timedOut(420), diff: ok(2.1), diffInstalled: timedOut(120) }));
      expect(verdictOf(rows, /^ApplyRules of all/).measured).to.equal('5.86 s; not all installed within 420 s');
      expect(verdictOf(rows, /one-rule diff/).measured).to.equal('2100 ms; not all installed within 120 s');
    });

    it('counts a write phase with failed calls or cut short by its bound as missed, whatever its p99', () => {
      const failed = judgeShape(shape({ single: { ...phase(1, [1, 2], [1, 2], 1), create: summarize([1, 2], ['UNAVAILABLE']) } }));
      expect(verdictOf(failed, /^CreateRule, one/).verdict).to.equal('missed');
      expect(verdictOf(failed, /^CreateRule, one/).measured).to.include('1 UNAVAILABLE');
      const cut = judgeShape(shape({ single: phase(1, [1], [1], 180, { status: 'timeout', detail: '1 of 200 pairs done within the bound' }) }));
      expect(verdictOf(cut, /^DeleteRule, one/).verdict).to.equal('missed');
      expect(verdictOf(cut, /^DeleteRule, one/).measured).to.include('timed out after 180 s: 1 of 200 pairs');
    });

    it('formats bounded outcomes', () => {
      expect(formatTimed(ok(1.234))).to.equal('1.23 s');
      expect(formatTimed(ok(0.0123), 'ms')).to.equal('12 ms');
      expect(formatTimed(timedOut(120))).to.equal('timed out after 120 s');
      expect(formatTimed(undefined)).to.equal('not measured');
    });
  });

  describe('bounded steps', () => {
    it('records a step that outlives its bound as timed out, and a deadline error as a time-out', async () => {
      const slow = await bounded(20, () => new Promise((resolve) => setTimeout(resolve, 200)));
      expect(slow.timed).to.include({ status: 'timeout', boundSeconds: 0.02 });
      const deadline = await bounded(1000, async () => {
        throw Object.assign(new Error('DEADLINE_EXCEEDED: Deadline exceeded'), { code: 4 });
      });
      expect(deadline.timed.status).to.equal('timeout');
      const failed = await bounded(1000, async () => {
        throw Object.assign(new Error('RESOURCE_EXHAUSTED: Received message larger than max'), { code: 8 });
      });
      expect(failed.timed).to.include({ status: 'error', detail: 'RESOURCE_EXHAUSTED: Received message larger than max' });
      const fine = await bounded(1000, async (left) => left());
      expect(fine.timed.status).to.equal('ok');
      expect(fine.value).to.be.within(900, 1000);
    });

    it('takes the median of timed samples, or the first that did not succeed', () => {
      const ok = (seconds: number): Timed => ({ status: 'ok', seconds, boundSeconds: 30 });
      expect(medianTimed([ok(0.3), ok(0.1), ok(0.5), ok(0.2), ok(0.4)]).seconds).to.equal(0.3);
      const timeout: Timed = { status: 'timeout', seconds: 30, boundSeconds: 30 };
      expect(medianTimed([ok(0.1), timeout, ok(0.2)])).to.equal(timeout);
    });
  });

  describe('growth plot', () => {
    const panels: GrowthPanel[] = [
      { title: 'ApplyRules of all', unit: 's', limit: 5, points: [{ x: 1000, y: 0.5 }, { x: 2000, y: 1.2 }, { x: 5000, y: 4 }, { x: 10_000, y: null }] },
      { title: 'idle <CPU> & more', unit: '%', limit: 2, points: [{ x: 1000, y: 0 }, { x: 2000, y: 80 }] },
    ];

    it('draws one circle per measured value and one square per time-out, in well-formed SVG', () => {
      const svg = growthPlot('growth', panels);
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).to.equal(true);
      expect(balanced(svg)).to.equal(true);
      expect(svg.match(/<circle /g)).to.have.length(5);
      expect(svg.match(/<polyline /g)).to.have.length(2);
      expect(svg.match(/timed out or failed<\/title>/g)).to.have.length(1);
      expect(svg).to.include('idle &lt;CPU&gt; &amp; more');
      expect(svg).not.to.match(/NaN|undefined|Infinity/);
      for (const label of ['1k', '2k', '5k', '10k']) expect(svg).to.include(`>${label}</text>`);
    });

    it('places points on a log x axis inside their panel', () => {
      const svg = growthPlot('growth', [panels[0]]);
      const xs = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((m) => Number(m[1]));
      // 1k -> 2k and 2k -> 5k are log10(2) and log10(2.5) of the same axis.
      expect((xs[1] - xs[0]) / (xs[2] - xs[1])).to.be.closeTo(Math.log10(2) / Math.log10(2.5), 0.01);
    });

    it('says so when nothing was measured', () => {
      const svg = growthPlot('growth', []);
      expect(balanced(svg)).to.equal(true);
      expect(svg).to.include('no growth figures measured');
    });

    it('takes its points from the growth series, leaving out sizes not measured', () => {
      const measured = growthPointOf(shape());
      const skippedPoint = { rules: 50_000, outputs: 4, skipped: 'budget spent', seconds: 0 };
      const timedOutPoint = { ...growthPointOf(shape({ rules: 100_000 })), applyAll: timedOut(300) };
      const byTitle = Object.fromEntries(growthPanels([measured, skippedPoint, timedOutPoint]).map((p) => [p.title, p.points]));
      expect(byTitle['ApplyRules of all']).to.deep.equal([
        { x: 20_000, y: 2 },
        { x: 100_000, y: null },
      ]);
      expect(byTitle['one-rule diff, whole answer'][0].y).to.be.closeTo(20, 1e-9);
      expect(byTitle['one-rule diff, CHANGES view'][0].y).to.be.closeTo(30, 1e-9);
      expect(judgeGrowthCell(timedOutPoint, 'applyAll')).to.equal('missed');
      expect(judgeGrowthCell(skippedPoint, 'applyAll')).to.equal('not measured');
      expect(judgeGrowthCell(measured, 'rss')).to.equal('met');
      expect(judgeGrowthCell(measured, 'diff')).to.equal('reported');
      expect(judgeGrowthCell(timedOutPoint, 'diff')).to.equal('reported');
    });
  });

  describe('report', () => {
    it('gives a write phase cut by its bound in the growth table with what it measured', () => {
      const cut = { ...growthPointOf(shape({ rules: 5000 })), create: phase(1, [100, 6900], [100, 9000], 180, { status: 'timeout', detail: '44 of 50' }) };
      const cp: ControlPlaneResults = { startedAt: '2026-12-06T07:00:00.000Z', durationSeconds: 1, boundSeconds: 1, shapes: [], growth: [cut], targets: [], notes: [] };
      expect(renderControlPlane(cp, 'x.svg')).to.include('| 5k x 4 | 2.90 s | 2.00 s | 20.0 ms | 30.0 ms | **timed out after 180 s (p99 6900 ms of 2 calls)** |');
    });

    it('renders the target table, the growth table and the plot link', () => {
      const s = shape();
      const cp: ControlPlaneResults = { startedAt: '2026-12-06T07:00:00.000Z', durationSeconds: 100, boundSeconds: 3000, shapes: [s], growth: [growthPointOf(s)], targets: judgeShape(s), notes: ['a note'] };
      const md = renderControlPlane(cp, 'latest-control-plane.svg');
      expect(md).to.include('## Control plane (issue 15 targets)');
      expect(md).to.include('14 of 14 judged figures met');
      expect(md).to.include('| 20000 x 4 | mcrd start (store holding the rules) to every rule installed | 2.90 s (answering after 1.00 s) | < 3 s | met |');
      expect(md).to.include('| 20k x 4 | 2.90 s | 2.00 s | 20.0 ms |');
      expect(md).to.include('![control-plane costs against rules](latest-control-plane.svg)');
    });
  });

  describe('rules and routes', () => {
    it('gives each rule its own group, and the one-rule diff changes rule 0 only', () => {
      expect(groupOf(0)).to.equal('239.0.0.1');
      expect(groupOf(99_999)).to.equal('239.1.134.160');
      const rules = ruleSet(3, 64);
      expect(new Set(rules.map((r) => r.input!.group)).size).to.equal(3);
      expect(rules[1].outputs).to.have.length(64);
      expect(rules[1].outputs![63]).to.deep.equal({ interface: 'out64', address: '239.0.0.2', port: 5000 });
      const changed = ruleSetWithOneChange(3, 4);
      expect(changed[0].name).to.equal(rules[0].name);
      expect(changed[0].outputs!.every((o) => o.port === DIFF_PORT)).to.equal(true);
      expect(changed.slice(1)).to.deep.equal(ruleSet(3, 4).slice(1));
    });

    it('writes kernel routes with one next hop per output', () => {
      expect(routePrefix(0)).to.equal('172.16.0.1/32');
      expect(routePrefix(100_000)).to.equal('172.17.134.161/32');
      expect(routeLine('add', 0, 1)).to.equal('route add 172.16.0.1/32 dev kr1');
      expect(routeLine('add', 1, 3)).to.equal('route add 172.16.0.2/32 nexthop dev kr1 nexthop dev kr2 nexthop dev kr3');
      expect(routeLine('del', 1, 3)).to.equal('route del 172.16.0.2/32');
    });

    it('raises the rule limit to the shape and keeps the default below it', () => {
      const limit = LIMIT_FLAGS.find((f) => f.flag === '--max-rules')!;
      expect(mcrdArgsFor(limit.max).slice(0, 2)).to.deep.equal(['--max-rules', String(limit.max)]);
      expect(mcrdArgsFor(2_000).slice(0, 2)).to.deep.equal(['--max-rules', String(limit.default)]);
    });
  });

  describe('parsing', () => {
    it('reads utime + stime from /proc/PID/stat, whatever the command name holds', () => {
      const fields = ['S', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '250', '50', '0'];
      expect(parseStatTicks(`1234 (mcrd) ${fields.join(' ')}`)).to.equal(300);
      expect(parseStatTicks(`1234 (a (b) c) ${fields.join(' ')}`)).to.equal(300);
    });

    it('counts the rows of mcrctl --json, one document or one per page', () => {
      expect(countRows(JSON.stringify({ rules: [1, 2, 3], storeGeneration: '4' }))).to.equal(3);
      expect(countRows(JSON.stringify([{}, {}]))).to.equal(2);
      expect(countRows(`${JSON.stringify({ rules: [1, 2] })}\n${JSON.stringify({ rules: [3] })}\n`)).to.equal(3);
      expect(countRows('')).to.equal(null);
      expect(countRows('{"version": "1"}')).to.equal(null);
    });

    it('parses shapes and counts, and the command line selects the section', () => {
      expect(parseShapes('20000x4, 2000x64')).to.deep.equal([
        { rules: 20_000, outputs: 4 },
        { rules: 2_000, outputs: 64 },
      ]);
      expect(() => parseShapes('20000x65')).to.throw(/RULESxOUTPUTS/);
      expect(parseCounts('1000,2000')).to.deep.equal([1000, 2000]);
      const only = parsePlan(['--only', 'control-plane', '--cp-shapes', '100x4', '--cp-growth', 'none'], 2, '/tmp/r');
      expect(only.sections).to.deep.equal(['control-plane']);
      expect(only.controlPlane.shapes).to.deep.equal([{ rules: 100, outputs: 4 }]);
      expect(only.controlPlane.growth).to.deep.equal([]);
      const full = parsePlan([], 2, '/tmp/r');
      expect(full.sections).to.deep.equal(['forwarding', 'control-plane']);
      expect(full.controlPlane.growth).to.deep.equal([1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000]);
      expect(parsePlan(['--quick'], 2, '/tmp/r').controlPlane.growth.at(-1)).to.equal(10_000);
    });

    it('bounds the whole section: the shapes at their bounds plus the growth budget and one point', () => {
      const plan = controlPlanePlan(false);
      const worst = worstCaseSeconds(plan);
      const noGrowth = worstCaseSeconds({ ...plan, growth: [] });
      expect(worst - noGrowth).to.be.greaterThan(plan.growthBudgetSeconds);
      expect(worst).to.be.lessThan(3 * 3600);
      expect(worstCaseSeconds(controlPlanePlan(true))).to.be.lessThan(worst);
    });
  });

  describe('carrying sections over', () => {
    const base = (sections: string[], startedAt: string) =>
      ({
        startedAt,
        command: `npm run bench -- ${sections.join(',')}`,
        plan: { sections },
        machine: { loadAverage1m: 0.5, mcrVersion: '0', commit: startedAt, socat: null },
        ceiling: [],
        relays: [],
        scale: [],
        bars: [],
        notes: [],
      }) as unknown as Results;

    it('keeps the forwarding figures of the previous latest.json when only the control plane ran, naming their run', () => {
      const previous = { ...base(['forwarding'], 'T1'), ceiling: [{ size: 64 }], relays: [{ relay: 'mcr-w1' }], bars: [{ bar: 'x' }] } as unknown as Results;
      const now = { ...base(['control-plane'], 'T2'), controlPlane: { startedAt: 'T2' } } as unknown as Results;
      const merged = withCarriedOver(now, previous);
      expect(merged.relays).to.deep.equal(previous.relays);
      expect(merged.controlPlane).to.equal(now.controlPlane);
      expect(merged.carriedOver).to.deep.equal([{ section: 'forwarding', startedAt: 'T1', command: previous.command, plan: previous.plan, machine: previous.machine }]);
      // Carried over twice: still the run that measured it.
      expect(withCarriedOver(base(['control-plane'], 'T3'), merged).carriedOver?.[0].startedAt).to.equal('T1');
    });

    it('takes nothing over for sections the run measured', () => {
      const previous = { ...base(['forwarding', 'control-plane'], 'T1'), relays: [{ relay: 'old' }], controlPlane: { startedAt: 'T1' } } as unknown as Results;
      const now = base(['forwarding', 'control-plane'], 'T2');
      expect(withCarriedOver(now, previous)).to.deep.equal(now);
      expect(withCarriedOver(now, null)).to.equal(now);
    });
  });
});
