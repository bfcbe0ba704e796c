/**
 * Resilience: a worker killed (SIGKILL) or hung (SIGSTOP) under traffic. Two flows run, one on each
 * of the two workers; the fault hits one worker. Its flow must resume by itself (after a kill within
 * 1 s, measured at the sink from the kill to the first packet after the pause), and the other worker's
 * flow must lose nothing. A hung worker must be found out by its missed heartbeats and replaced.
 */
import { expect } from 'chai';

import { WorkerState } from '../../gen/mcr/v1/system';
import { useRelay } from '../support/fixture';
import { expectCleanStop, firstSample, reportMeasured, runsAgainInSync, sampleWorker, workerEntry } from '../support/faults';
import { interruptionOf, PlacedFlow, placeFlowPerWorker, runPlacedFlows } from '../support/placed-flows';
import { ProcessTracker, readProcess, waitForProcessGone } from '../support/processes';
import { waitForWorkersInSync } from '../support/rules';
import { expectDelivered } from '../support/streams';

const WORKERS = 2;
/** Per flow; both flows together are sent at RATE, so a run lasts PACKETS * 2 / RATE s. */
const PACKETS = 4000;
const RATE = 1000;
/** Packets each flow forwards before the fault (about a second of traffic). */
const BEFORE_FAULT = 500;
/** A hung worker is found out after 3 missed heartbeats of 250 ms; allowed up to this for scheduling. */
const HUNG_DETECTION_LIMIT_MS = 1500;
/** Its flow then waits for the restart: detection, the first backoff (250 ms) and a worker start. */
const HUNG_RESUME_LIMIT_MS = HUNG_DETECTION_LIMIT_MS + 250 + 1000;

describe('e2e: resilience: a worker killed or hung under traffic', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: WORKERS });
  const processes = new ProcessTracker();
  let flows: PlacedFlow[] = [];

  before(async function () {
    flows = await placeFlowPerWorker(relay.client, WORKERS);
    await waitForWorkersInSync(relay.client, WORKERS);
    processes.track(relay.mcrd.pid, 'mcrd');
    processes.trackWorkersOf(relay.mcrd.pid);
  });

  function run(seed: number, fault: () => Promise<number>) {
    return runPlacedFlows(relay, flows, { seed, packets: PACKETS, rate: RATE, beforeFault: BEFORE_FAULT, fault });
  }

  it('kill -9 of a worker: its flow resumes within 1 s, the other worker loses nothing', async function () {
    const [victim, bystander] = flows;
    const before = await workerEntry(relay.client, victim.worker);
    processes.track(before.pid, `worker ${victim.worker}`);
    let restartSeenAfterMs = 0;

    const traffic = await run(100, async () => {
      const killedAt = Date.now();
      process.kill(before.pid, 'SIGKILL');
      const samples = await sampleWorker(relay.client, victim.worker, runsAgainInSync(before.pid), { intervalMs: 20, timeoutMs: 5000 });
      const back = samples[samples.length - 1];
      restartSeenAfterMs = Math.round(back.atUnixMs - killedAt);
      processes.track(back.worker.pid, `worker ${victim.worker}`);
      expect(back.worker.restarts, 'restarts').to.equal(before.restarts + 1);
      expect(back.worker.lastExit, 'last_exit').to.equal('signal SIGKILL');
      // mcrd reaped it: no zombie.
      await waitForProcessGone(before.pid, 'the killed worker', 1000);
      return killedAt;
    });

    expect(traffic.faultUnderTraffic, 'the kill and the restart happened under traffic').to.equal(true);
    expectDelivered(traffic.result, bystander.input, 'sink1', bystander.output);
    const interruption = interruptionOf(traffic, victim);
    reportMeasured('kill -9', { resumedAfterMs: interruption.resumedAfterMs, outageMs: interruption.outageMs, lost: interruption.lostInOutage, restartSeenAfterMs });
    expect(interruption.lostOutsideOutage, 'packets of the killed worker lost outside the outage').to.deep.equal([]);
    expect(interruption.resumedAfterMs, 'ms from the kill to the first packet after it').to.be.at.most(1000);
  });

  it('SIGSTOP of a worker: restarted for missed heartbeats within 1.5 s, its flow resumes, the stopped process is gone', async function () {
    const [bystander, victim] = flows;
    const before = await workerEntry(relay.client, victim.worker);
    processes.track(before.pid, `worker ${victim.worker}`);
    let detectedAfterMs = 0;
    let replacedAfterMs = 0;
    let missedSeen: number[] = [];

    try {
      const traffic = await run(200, async () => {
        const stoppedAt = Date.now();
        process.kill(before.pid, 'SIGSTOP');
        const samples = await sampleWorker(relay.client, victim.worker, runsAgainInSync(before.pid), { intervalMs: 20, timeoutMs: 5000 });
        const detected = firstSample(samples, 'the hung worker taken down', (w) => w.pid !== before.pid || w.state !== WorkerState.WORKER_STATE_RUNNING);
        const back = samples[samples.length - 1];
        detectedAfterMs = Math.round(detected.atUnixMs - stoppedAt);
        replacedAfterMs = Math.round(back.atUnixMs - stoppedAt);
        missedSeen = [...new Set(samples.map((s) => s.worker.missedHeartbeats))];
        processes.track(back.worker.pid, `worker ${victim.worker}`);
        expect(back.worker.lastRestartReason, 'last_restart_reason').to.match(/heartbeat/);
        expect(back.worker.lastExit, 'last_exit').to.equal('signal SIGKILL');
        expect(back.worker.restarts, 'restarts').to.equal(before.restarts + 1);
        // The stopped process was killed (SIGKILL ends even a stopped process) and reaped.
        await waitForProcessGone(before.pid, 'the stopped worker', 1000);
        return stoppedAt;
      });

      expect(traffic.faultUnderTraffic, 'the stop and the restart happened under traffic').to.equal(true);
      expectDelivered(traffic.result, bystander.input, 'sink1', bystander.output);
      const interruption = interruptionOf(traffic, victim);
      reportMeasured('SIGSTOP', { detectedAfterMs, missedHeartbeatsSeen: missedSeen, replacedAfterMs, resumedAfterMs: interruption.resumedAfterMs, lost: interruption.lostInOutage });
      expect(detectedAfterMs, 'ms from SIGSTOP to ListWorkers showing the worker taken down').to.be.at.most(HUNG_DETECTION_LIMIT_MS);
      expect(interruption.lostOutsideOutage, 'packets of the stopped worker lost outside the outage').to.deep.equal([]);
      expect(interruption.resumedAfterMs, 'ms from SIGSTOP to the first packet after it').to.be.at.most(HUNG_RESUME_LIMIT_MS);
    } finally {
      // Never leave a stopped process behind, whatever happened above.
      if (readProcess(before.pid)?.state === 'T') {
        process.kill(before.pid, 'SIGCONT');
        process.kill(before.pid, 'SIGKILL');
      }
    }
  });

  it('leaves no mcrd or worker process behind when mcrd stops', async function () {
    await expectCleanStop(relay, processes);
  });
});
