/**
 * Resilience: a worker whose rule table drifts from what the supervisor expects, under traffic on
 * both workers (mcrd --test-hooks: SIGUSR1 makes a worker drop one rule from its installed table,
 * SIGUSR2 also makes it ignore every later rule set). The first is found by the next heartbeat and
 * repaired by resending the worker its rules, without a restart; the second cannot be repaired that
 * way, so the worker is restarted. Either way the worker's flow resumes, the other worker's flow
 * loses nothing, and ListWorkers counts what happened.
 */
import { expect } from 'chai';

import { Worker } from '../../gen/mcr/v1/system';
import { useRelay } from '../support/fixture';
import { expectCleanStop, reportMeasured, runsAgainInSync, sampleWorker, workerEntry } from '../support/faults';
import { FlowRun, PlacedFlow, placeFlowPerWorker, runPlacedFlows } from '../support/placed-flows';
import { ProcessTracker, waitForProcessGone } from '../support/processes';
import { waitForWorkersInSync } from '../support/rules';
import { expectDelivered } from '../support/streams';
import { interruptionAt, receivedStream, sentFlow } from '../support/traffic';

const WORKERS = 2;
const PACKETS = 4000;
const RATE = 1000;
const BEFORE_FAULT = 500;
/** Each flow gets a packet every 2 ms: pauses from 20 ms are reported, to see the short outage of a resync. */
const GAP_THRESHOLD_MS = 20;
const FLOW_PACKETS_PER_MS = RATE / WORKERS / 1000;
/** Heartbeats come every 250 ms: a drift is seen and resynced well within this. */
const REPAIR_LIMIT_MS = 1000;
/** A drift the resync cannot repair: seen, resynced, seen again, then a restart (250 ms backoff and a start). */
const RESTART_LIMIT_MS = 2500;

/** The drift counters and process of a worker, to compare before and after. */
function driftState(w: Worker) {
  return { pid: w.pid, restarts: w.restarts, drifts: w.drifts, driftRepairs: w.driftRepairs, driftRestarts: w.driftRestarts };
}

describe('e2e: resilience: a worker whose rule table drifts, under traffic', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: WORKERS, extraArgs: ['--test-hooks'] });
  const processes = new ProcessTracker();
  let flows: PlacedFlow[] = [];

  before(async function () {
    flows = await placeFlowPerWorker(relay.client, WORKERS);
    await waitForWorkersInSync(relay.client, WORKERS);
    processes.track(relay.mcrd.pid, 'mcrd');
    processes.trackWorkersOf(relay.mcrd.pid);
  });

  function run(seed: number, fault: () => Promise<number>): Promise<FlowRun> {
    return runPlacedFlows(relay, flows, { seed, packets: PACKETS, rate: RATE, beforeFault: BEFORE_FAULT, gapThresholdMs: GAP_THRESHOLD_MS, fault });
  }

  /** The flow's outage around the fault (null if it never paused GAP_THRESHOLD_MS) and its lost packets. */
  function lossOf(traffic: FlowRun, flow: PlacedFlow) {
    const sent = sentFlow(traffic.result.sent, flow.input.address, flow.input.port);
    const got = receivedStream(traffic.result.received.sink1!, flow.output.address, flow.output.port);
    const interruption = interruptionAt(sent, got, traffic.faultAt);
    const missing = sent.hashes.length - got.unique;
    return { interruption, missing };
  }

  it('SIGUSR1 (a rule dropped): repaired by a resync within 1 s, no restart, its flow resumes', async function () {
    const [victim, bystander] = flows;
    const before = await workerEntry(relay.client, victim.worker);
    let repairedAfterMs = 0;
    let mismatchSeen = false;
    let after: Worker | undefined;

    const traffic = await run(400, async () => {
      const signalledAt = Date.now();
      process.kill(before.pid, 'SIGUSR1');
      const samples = await sampleWorker(
        relay.client,
        victim.worker,
        (w) => w.driftRepairs === before.driftRepairs + 1n && w.rulesetHash === w.expectedRulesetHash,
        { intervalMs: 20, timeoutMs: 5000 },
      );
      after = samples[samples.length - 1].worker;
      repairedAfterMs = Math.round(samples[samples.length - 1].atUnixMs - signalledAt);
      mismatchSeen = samples.some((s) => s.worker.rulesetHash !== s.worker.expectedRulesetHash);
      return signalledAt;
    });

    expect(traffic.faultUnderTraffic, 'the drift and its repair happened under traffic').to.equal(true);
    expectDelivered(traffic.result, bystander.input, 'sink1', bystander.output);
    const { interruption, missing } = lossOf(traffic, victim);
    reportMeasured('SIGUSR1 drift', { repairedAfterMs, mismatchSeenInListWorkers: mismatchSeen, outageMs: interruption?.outageMs ?? `< ${GAP_THRESHOLD_MS}`, resumedAfterMs: interruption?.resumedAfterMs, lost: missing });
    expect(driftState(after!), 'the worker after the repair').to.deep.equal({ ...driftState(before), drifts: before.drifts + 1n, driftRepairs: before.driftRepairs + 1n });
    expect(repairedAfterMs, 'ms from SIGUSR1 to ListWorkers counting the repair').to.be.at.most(REPAIR_LIMIT_MS);
    if (interruption) {
      expect(interruption.lostOutsideOutage, 'packets lost outside the outage').to.deep.equal([]);
      expect(interruption.resumedAfterMs, 'ms from SIGUSR1 to the first packet after the outage').to.be.at.most(REPAIR_LIMIT_MS);
    } else {
      expect(missing, `packets lost without a pause of ${GAP_THRESHOLD_MS} ms`).to.be.at.most(GAP_THRESHOLD_MS * FLOW_PACKETS_PER_MS);
    }
    // SIGUSR1 is Node's "start the inspector" signal: the hook must have replaced that.
    expect(relay.mcrd.logs()).to.not.include('Debugger listening');
  });

  it('SIGUSR2 (a rule dropped, rule sets ignored): the resync fails, the worker is restarted, its flow resumes', async function () {
    const [victim, bystander] = flows;
    const before = await workerEntry(relay.client, victim.worker);
    processes.track(before.pid, `worker ${victim.worker}`);
    let restartedAfterMs = 0;
    let after: Worker | undefined;

    const traffic = await run(500, async () => {
      const signalledAt = Date.now();
      process.kill(before.pid, 'SIGUSR2');
      const samples = await sampleWorker(
        relay.client,
        victim.worker,
        (w) => runsAgainInSync(before.pid)(w) && w.driftRestarts === before.driftRestarts + 1n,
        { intervalMs: 20, timeoutMs: 5000 },
      );
      after = samples[samples.length - 1].worker;
      restartedAfterMs = Math.round(samples[samples.length - 1].atUnixMs - signalledAt);
      processes.track(after.pid, `worker ${victim.worker}`);
      await waitForProcessGone(before.pid, 'the stuck worker', 1000);
      return signalledAt;
    });

    expect(traffic.faultUnderTraffic, 'the drift and the restart happened under traffic').to.equal(true);
    expectDelivered(traffic.result, bystander.input, 'sink1', bystander.output);
    const { interruption, missing } = lossOf(traffic, victim);
    reportMeasured('SIGUSR2 drift', { restartedAfterMs, outageMs: interruption?.outageMs, resumedAfterMs: interruption?.resumedAfterMs, lost: missing });
    expect(after!.lastRestartReason, 'last_restart_reason').to.match(/drift/);
    expect(driftState(after!), 'the worker after the restart').to.deep.equal({
      ...driftState(before),
      pid: after!.pid,
      restarts: before.restarts + 1,
      drifts: before.drifts + 1n,
      driftRestarts: before.driftRestarts + 1n,
    });
    expect(restartedAfterMs, 'ms from SIGUSR2 to the new worker running in sync').to.be.at.most(RESTART_LIMIT_MS);
    expect(interruption, 'an outage of the stuck worker\'s flow').to.not.equal(null);
    expect(interruption!.lostOutsideOutage, 'packets lost outside the outage').to.deep.equal([]);
    expect(interruption!.resumedAfterMs, 'ms from SIGUSR2 to the first packet after the outage').to.be.at.most(RESTART_LIMIT_MS);
  });

  it('leaves no mcrd or worker process behind when mcrd stops', async function () {
    await expectCleanStop(relay, processes);
  });
});
