/**
 * Resilience: a worker that crashes every time it starts (mcrd --test-hooks: the worker index listed in
 * <state-dir>/test-hooks.json exits with code 70 right after starting). Under traffic on both workers,
 * the crash-looping worker is retried with a backoff that doubles from 250 ms (measured from the
 * exit to the next attempt by sampling ListWorkers every 50 ms), the other worker's flow loses
 * nothing, and every API call made meanwhile answers within 250 ms. Once the hook is removed the
 * worker comes back by itself and its flow resumes.
 */
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';

import { WorkerState } from '../../gen/mcr/v1/system';
import { useRelay } from '../support/fixture';
import { CallTimings, expectCleanStop, reportMeasured, runsAgainInSync, sampleWorker, WorkerSample, workerEntry } from '../support/faults';
import { McrClient, RuleSpec } from '../support/grpc';
import { NET } from '../support/netns';
import { interruptionOf, PlacedFlow, placeFlowPerWorker, runPlacedFlows } from '../support/placed-flows';
import { sleep } from '../support/poll';
import { ProcessTracker } from '../support/processes';
import { createRuleOnChosenWorker, waitForWorkersInSync } from '../support/rules';
import { expectDelivered } from '../support/streams';

const WORKERS = 2;
/** The delays expected between an exit and the next attempt: 250 ms doubling. */
const BACKOFFS_MS = [250, 500, 1000, 2000, 4000];
const BACKOFF_TOLERANCE_MS = 150;
/**
 * A call held up by the crash loop (a restart done in line, or a backoff waited out on the event loop)
 * would take at least the first backoff, 250 ms; the calls take 2-9 ms at the median. The bound stays
 * clear of scheduling noise on a loaded 2-core machine (a 130 ms GetRule was seen with a build running
 * beside the suite), which a 100 ms bound mistook for a stall.
 */
const API_LIMIT_MS = 250;
/** Per flow, both at RATE together: 16 s, enough for the whole loop (about 10 s) and the recovery. */
const PACKETS = 8000;
const RATE = 1000;
const BEFORE_FAULT = 500;
/** Bound on the API exercise's rounds (it stops with the crash loop long before). */
const MAX_API_ROUNDS = 2000;

/** Candidates for a rule unrelated to the flows (out2, nobody listens), to create and delete during the loop. */
const unrelatedCandidates: RuleSpec[] = Array.from({ length: 16 }, (_, i) => ({
  name: 'unrelated',
  input: { interface: NET.relayIn.ifname, group: `239.6.0.${i + 1}`, port: 5100 },
  outputs: [{ interface: NET.relayOut2.ifname, address: '239.9.6.1', port: 6100 }],
}));

/**
 * Calls the API in rounds (GetRule, ListRules, CreateRule and DeleteRule of `unrelated`) until `done()`,
 * timing every call. Rejects at the first failed call.
 */
async function exerciseApi(client: McrClient, timings: CallTimings, ruleId: string, unrelated: RuleSpec, done: () => boolean): Promise<number> {
  let rounds = 0;
  for (; rounds < MAX_API_ROUNDS && !done(); rounds++) {
    await timings.time('GetRule', () => client.getRule(ruleId));
    await timings.time('ListRules', () => client.listRules());
    const created = await timings.time('CreateRule', () => client.createRule(unrelated));
    await timings.time('DeleteRule', () => client.deleteRule(created.id));
    await sleep(20);
  }
  return rounds;
}

interface Attempt {
  /** When the exit before it was seen (first RESTARTING sample), unix ms. */
  exitSeenUnixMs: number;
  /** From that exit to the attempt (first sample with restarts + 1). */
  delayMs: number;
  /** backoff_ms in the first RESTARTING sample (the time left then). */
  announcedMs: number;
  /** last_exit in that sample: how the process before the attempt ended. */
  lastExit: string;
}

/** The attempts seen in the samples, from the one after restart `firstRestarts` on. */
function attemptsSeen(samples: WorkerSample[], firstRestarts: number, attempts: number): Attempt[] {
  return Array.from({ length: attempts }, (_, k) => {
    const restarts = firstRestarts + k;
    const exited = samples.find((s) => s.worker.restarts === restarts && s.worker.state === WorkerState.WORKER_STATE_RESTARTING);
    const attempted = samples.find((s) => s.worker.restarts === restarts + 1);
    if (!exited || !attempted) throw new Error(`no exit or no attempt seen after restart ${restarts}`);
    return {
      exitSeenUnixMs: exited.atUnixMs,
      delayMs: Math.round(attempted.atUnixMs - exited.atUnixMs),
      announcedMs: exited.worker.backoffMs,
      lastExit: exited.worker.lastExit,
    };
  });
}

describe('e2e: resilience: a worker crash-looping under traffic', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: WORKERS, extraArgs: ['--test-hooks'] });
  const processes = new ProcessTracker();
  let flows: PlacedFlow[] = [];
  let unrelated: RuleSpec;

  before(async function () {
    flows = await placeFlowPerWorker(relay.client, WORKERS);
    // The unrelated rule lives on the healthy worker (flows[1]'s); it is created and deleted in the loop.
    const probe = await createRuleOnChosenWorker(relay.client, flows[1].worker, unrelatedCandidates);
    await relay.client.deleteRule(probe.id);
    unrelated = unrelatedCandidates.find((c) => c.input!.group === probe.input!.group)!;
    await waitForWorkersInSync(relay.client, WORKERS);
    processes.track(relay.mcrd.pid, 'mcrd');
    processes.trackWorkersOf(relay.mcrd.pid);
  });

  it('backs off 250, 500, 1000, 2000, 4000 ms, spares the other flow, answers the API within 250 ms, recovers once the hook is gone', async function () {
    const [victim, bystander] = flows;
    const hookFile = path.join(relay.mcrd.stateDir, 'test-hooks.json');
    const victimBefore = await workerEntry(relay.client, victim.worker);
    const bystanderBefore = await workerEntry(relay.client, bystander.worker);
    processes.track(victimBefore.pid, `worker ${victim.worker}`);
    const timings = new CallTimings();
    let samples: WorkerSample[] = [];
    let apiRounds = 0;

    try {
      const traffic = await runPlacedFlows(relay, flows, {
        seed: 300,
        packets: PACKETS,
        rate: RATE,
        beforeFault: BEFORE_FAULT,
        fault: async () => {
          fs.writeFileSync(hookFile, JSON.stringify({ crashOnStart: [victim.worker] }));
          const killedAt = Date.now();
          process.kill(victimBefore.pid, 'SIGKILL');
          let loopOver = false;
          const api = exerciseApi(relay.client, timings, victim.rule.id, unrelated, () => loopOver);
          try {
            const options = { intervalMs: 50, timeoutMs: 20_000 };
            // Every attempt up to the last crashing one reads the hook file as it starts...
            const crashing = BACKOFFS_MS.length - 1;
            samples = await sampleWorker(relay.client, victim.worker, (w) => w.restarts >= victimBefore.restarts + crashing, options);
            // ...then, without it, the next attempt succeeds.
            fs.rmSync(hookFile);
            samples.push(...(await sampleWorker(relay.client, victim.worker, (w) => runsAgainInSync(victimBefore.pid)(w) && w.restarts === victimBefore.restarts + BACKOFFS_MS.length, options)));
          } finally {
            loopOver = true;
            apiRounds = await api;
          }
          for (const sample of samples) processes.track(sample.worker.pid, `worker ${victim.worker}`);
          return killedAt;
        },
      });

      const attempts = attemptsSeen(samples, victimBefore.restarts, BACKOFFS_MS.length);
      const back = samples[samples.length - 1];
      // The flow's outage lasts from the kill to the recovery after the last crash.
      const interruption = interruptionOf(traffic, victim, attempts[attempts.length - 1].exitSeenUnixMs);
      reportMeasured('crash loop', {
        delaysMs: attempts.map((a) => a.delayMs),
        announcedBackoffMs: attempts.map((a) => a.announcedMs),
        lastExits: attempts.map((a) => a.lastExit),
        outageMs: interruption.outageMs,
        resumedAfterBackMs: Math.round(interruption.resumedUnixMs - back.atUnixMs),
        apiRounds,
        api: timings.summary(),
      });

      expect(traffic.faultUnderTraffic, 'the crash loop and the recovery happened under traffic').to.equal(true);
      expectDelivered(traffic.result, bystander.input, 'sink1', bystander.output);
      const bystanderAfter = await workerEntry(relay.client, bystander.worker);
      expect([bystanderAfter.pid, bystanderAfter.restarts], 'pid and restarts of the healthy worker').to.deep.equal([bystanderBefore.pid, bystanderBefore.restarts]);

      attempts.forEach(({ delayMs }, k) => {
        expect(delayMs, `delay before attempt ${k + 1} (all: ${attempts.map((a) => a.delayMs)})`).to.be.within(BACKOFFS_MS[k] - BACKOFF_TOLERANCE_MS, BACKOFFS_MS[k] + BACKOFF_TOLERANCE_MS);
      });
      expect(back.worker.restarts, 'restarts').to.equal(victimBefore.restarts + BACKOFFS_MS.length);

      expect(apiRounds, 'rounds of API calls during the loop').to.be.at.least(10);
      expect(timings.calls.filter((c) => c.ms > API_LIMIT_MS), `API calls slower than ${API_LIMIT_MS} ms`).to.deep.equal([]);

      expect(interruption.lostOutsideOutage, 'packets of the crash-looping worker lost outside its outage').to.deep.equal([]);
      // It forwards again as soon as it is back (ListWorkers is only read every 50 ms).
      expect(interruption.resumedUnixMs - back.atUnixMs, 'ms from the worker seen back to its flow resuming').to.be.at.most(1000);

      // How each process ended: the kill, then the hook's own exit code (checked last: see the report).
      expect(attempts.map((a) => a.lastExit), 'last_exit before each attempt').to.deep.equal(['signal SIGKILL', ...BACKOFFS_MS.slice(1).map(() => 'exit code 70')]);
    } finally {
      fs.rmSync(hookFile, { force: true });
    }
  });

  it('leaves no mcrd or worker process behind when mcrd stops', async function () {
    await expectCleanStop(relay, processes);
  });
});
