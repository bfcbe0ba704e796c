/**
 * A link named by a rule flaps 200 times as fast as `ip -batch` goes, then 200 times more at about
 * 100 flaps a second, while another rule forwards traffic: every API call made meanwhile (GetRule,
 * ListRules, ListInterfaces, one after another, from a process of its own: see api-prober.ts) answers
 * within 100 ms, the flapping rule ends in the link's final state each time, the other rule's flow
 * loses nothing, and no worker needed a repair.
 */
import { expect } from 'chai';
import os from 'os';

import { RuleState } from '../../gen/mcr/v1/rules';
import { startApiProber } from '../support/api-prober';
import { CallTimings, reportMeasured } from '../support/faults';
import { useRelay } from '../support/fixture';
import { flapCommands, ipBatch, ipIn, LinkState, setLink } from '../support/links';
import { NET } from '../support/netns';
import { sleep, waitFor } from '../support/poll';
import { waitForRulePackets, waitForRuleState } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';
import { SystemEvents } from '../support/system-events';
import { workerRepairs } from '../support/worker-repairs';

const FLAPPING = 'fl0';
const FLAPPING_PEER = 'fl0-peer';
const FLAPS = 200;
/** The paced flapping: this many flaps per batch, one batch every PACED_INTERVAL_MS (~100 flaps/s). */
const PACED_BATCH = 10;
const PACED_INTERVAL_MS = 100;
/** Every API call must answer this soon. */
const CALL_LIMIT_MS = 100;
/** After the flapping, the rule must show the link's final state this soon. */
const SETTLE_LIMIT_MS = 2000;
/** API calls are timed this long after the flapping, while mcrd works off what it caused. */
const CALLS_AFTER_MS = 500;
const RATE = 1000;
const PACKETS = 6000;

describe('e2e: interfaces: a link flapping 200 times', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 2 });
  let api: SystemEvents | null = null;

  before(async function () {
    const { ns } = relay.topology;
    await ipIn(ns.relay, ['link', 'add', FLAPPING, 'type', 'veth', 'peer', 'name', FLAPPING_PEER, 'netns', ns.src]);
    await setLink(ns.src, FLAPPING_PEER, 'up');
    await setLink(ns.relay, FLAPPING, 'up');
    api = new SystemEvents(relay.mcrd.socketPath);
  });
  after(() => api?.close());

  /** Waits until the rule and ListInterfaces show `final` for the flapping link; returns how long it took. */
  async function settled(ruleId: string, final: LinkState, flappingEndedAt: number): Promise<number> {
    const state = final === 'up' ? RuleState.RULE_STATE_ACTIVE : RuleState.RULE_STATE_INTERFACE_DOWN;
    await waitFor(`rule ${ruleId} to be ${RuleState[state]}`, () => relay.client.getRule(ruleId), (r) => r.status?.state === state, SETTLE_LIMIT_MS, 10);
    const settledAfterMs = Date.now() - flappingEndedAt;
    await waitFor(`ListInterfaces to show ${FLAPPING} ${final}`, () => api!.interfaceNamed(FLAPPING), (i) => i.up === (final === 'up') && i.running === (final === 'up'), SETTLE_LIMIT_MS, 20);
    return settledAfterMs;
  }

  it('answers every API call within 100 ms and ends in the link\'s final state; other traffic loses nothing', async function () {
    const { client, topology } = relay;
    const flapRule = await client.createRule({
      name: 'flapping',
      input: { interface: FLAPPING, group: '239.10.0.1', port: 5010 },
      outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.10.1', port: 6010 }],
    });
    const input = { address: '239.10.0.2', port: 5011 };
    const output = { address: '239.9.10.2', port: 6011 };
    const steady = await client.createRule({
      name: 'steady',
      input: { interface: NET.relayIn.ifname, group: input.address, port: input.port },
      outputs: [{ interface: NET.relayOut1.ifname, ...output }],
    });
    await waitForRuleState(client, flapRule.id);
    await waitForRuleState(client, steady.id);
    const repairsBefore = await workerRepairs(client);
    const settledAfterMs: Record<string, number> = {};
    /** How long each kind of flapping took, ms. */
    const flappingMs: Record<string, number> = {};
    let burstStarted = 0;
    let probingStopped = 0;

    const prober = startApiProber({ socketPath: relay.mcrd.socketPath, rule: flapRule.id, maxSeconds: 60 });
    try {
      await prober.ready;
      const result = await runStreams(topology, {
        flows: [{ ...input, count: PACKETS, size: 256, seed: 51 }],
        rate: RATE,
        sinks: { sink1: [endpointIn('sink1', output.address, output.port, PACKETS)] },
        during: async (senderDone) => {
          await waitForRulePackets(client, steady.id, 300);
          // 200 flaps in one batch, ending down.
          burstStarted = Date.now();
          await ipBatch(topology.ns.relay, flapCommands(FLAPPING, FLAPS, 'down'));
          flappingMs.burst = Date.now() - burstStarted;
          settledAfterMs.burst = await settled(flapRule.id, 'down', Date.now());
          // 200 more at about 100 a second, ending up.
          const paced = flapCommands(FLAPPING, FLAPS, 'up');
          const pacedStarted = Date.now();
          for (let at = 0; at < paced.length; at += PACED_BATCH * 2) {
            const started = Date.now();
            await ipBatch(topology.ns.relay, paced.slice(at, at + PACED_BATCH * 2));
            await sleep(Math.max(0, started + PACED_INTERVAL_MS - Date.now()));
          }
          flappingMs.paced = Date.now() - pacedStarted;
          settledAfterMs.paced = await settled(flapRule.id, 'up', Date.now());
          await sleep(CALLS_AFTER_MS);
          probingStopped = Date.now();
          prober.stop();
          expect(senderDone(), 'the flapping ended while the steady flow was still being sent').to.equal(false);
        },
      });
      const report = await prober.report;

      // The calls made from the start of the burst to the end of the probing.
      const timings = new CallTimings();
      timings.calls.push(...report.calls.filter((c) => c.atUnixMs >= burstStarted && c.atUnixMs <= probingStopped));
      const slow = timings.calls.filter((c) => c.error !== undefined || c.ms > CALL_LIMIT_MS);
      const slowest = [...timings.calls]
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 3)
        .map((c) => ({ call: c.call, ms: c.ms, atMsAfterBurstStart: c.atUnixMs - burstStarted }));
      const conditions = { proberLoopDelayMaxMs: report.loopDelayMaxMs, loadAverage: os.loadavg().map((l) => Math.round(l * 10) / 10) };
      reportMeasured('flapping', { calls: timings.summary(), slowest, flappingMs, settledAfterMs, ...conditions });
      expect(timings.calls.length, 'API calls made during the flapping').to.be.at.least(100);
      expect(slow, `calls slower than ${CALL_LIMIT_MS} ms or failed (${JSON.stringify(conditions)})`).to.deep.equal([]);
      expectDelivered(result, input, 'sink1', output);
      expect(await workerRepairs(client), 'worker drifts and restarts').to.deep.equal(repairsBefore);
    } finally {
      prober.stop();
    }
  });
});
