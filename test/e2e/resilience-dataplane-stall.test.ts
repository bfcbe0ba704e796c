/**
 * Resilience: a worker whose data-plane thread stalls while its JavaScript thread keeps answering
 * heartbeats (the SIGTTIN test hook of mcrd --test-hooks makes the thread sleep 3 s for real). The
 * supervisor must see it from the data plane's own heartbeat in the counter region, within a second,
 * restart the worker, and the flow must resume.
 */
import { expect } from 'chai';

import { WorkerState } from '../../gen/mcr/v1/system';
import { useRelay } from '../support/fixture';
import { firstSample, reportMeasured, runsAgainInSync, sampleWorker, workerEntry } from '../support/faults';
import { NET } from '../support/netns';
import { sleep } from '../support/poll';
import { waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { endpointIn, runStreams } from '../support/streams';
import { receivedStream } from '../support/traffic';

/** The bound: a data-plane thread that dies or stalls is detected within a second. */
const DETECTION_LIMIT_MS = 1000;
const PACKETS = 4000;
const RATE = 1000;

describe('e2e: resilience: a stalled data-plane thread', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 1, extraArgs: ['--test-hooks'] });

  it('is detected within a second although the worker answers heartbeats, and the worker is restarted', async function () {
    const input = { address: '239.6.0.1', port: 5600 };
    const output = { interface: NET.relayOut1.ifname, address: '239.6.1.1', port: 6600 };
    const rule = await relay.client.createRule({ name: 'stalled', input: { interface: NET.relayIn.ifname, group: input.address, port: input.port }, outputs: [output] });
    await waitForRuleState(relay.client, rule.id);
    await waitForWorkersInSync(relay.client, 1);
    const before = await workerEntry(relay.client, 0);
    let detectedAfterMs = -1;
    let stalledAt = 0;
    let heartbeatsMissed: number[] = [];

    const result = await runStreams(relay.topology, {
      flows: [{ ...input, count: PACKETS, size: 200, seed: 90 }],
      rate: RATE,
      sinks: { sink1: [endpointIn('sink1', output.address, output.port)] },
      graceAfterSendMs: 2000,
      during: async () => {
        await sleep(1000);
        stalledAt = Date.now();
        process.kill(before.pid, 'SIGTTIN');
        const samples = await sampleWorker(relay.client, 0, runsAgainInSync(before.pid), { intervalMs: 20, timeoutMs: 8000 });
        const detected = firstSample(samples, 'the stalled worker taken down', (w) => w.pid !== before.pid || w.state !== WorkerState.WORKER_STATE_RUNNING);
        detectedAfterMs = Math.round(detected.atUnixMs - stalledAt);
        heartbeatsMissed = [...new Set(samples.filter((s) => s.worker.pid === before.pid).map((s) => s.worker.missedHeartbeats))];
        const back = samples[samples.length - 1];
        expect(back.worker.lastRestartReason, 'last_restart_reason').to.match(/data-plane thread stalled/);
        expect(back.worker.restarts, 'restarts').to.equal(before.restarts + 1);
      },
    });
    const got = receivedStream(result.received.sink1!, output.address, output.port);
    reportMeasured('data-plane stall', { detectedAfterMs, heartbeatsMissedWhileStalled: heartbeatsMissed, received: got.received });
    expect(heartbeatsMissed, 'the JavaScript thread kept answering heartbeats meanwhile').to.deep.equal([0]);
    expect(detectedAfterMs, 'ms from the stall to ListWorkers showing the worker taken down').to.be.at.most(DETECTION_LIMIT_MS);
    // The flow resumed: the sink got packets sent well after the stall (the sender ran ~4 s, the stall came at 1 s).
    expect(got.received, 'packets delivered').to.be.greaterThan(PACKETS / 2);
  });
});
