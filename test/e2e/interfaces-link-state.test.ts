/**
 * Links going down and up under traffic. The input: the rule says INTERFACE_DOWN, then ACTIVE again,
 * and the flow resumes by itself. One output of two: the rule stays active with a reason naming that
 * output, the other output loses nothing, and the downed output receives again once it is back up.
 */
import { expect } from 'chai';

import { Rule, RuleState } from '../../gen/mcr/v1/rules';
import { reportMeasured } from '../support/faults';
import { useRelay } from '../support/fixture';
import { McrClient } from '../support/grpc';
import { setLink } from '../support/links';
import { NET } from '../support/netns';
import { sleep, waitFor } from '../support/poll';
import { waitForRulePackets, waitForRuleState } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';
import { interruptionAt, receivedStream, sentFlow } from '../support/traffic';
import { workerRepairs } from '../support/worker-repairs';

const RATE = 1000;
const PACKETS = 5000;
/** How long a link stays down, under traffic. */
const DOWN_MS = 1000;
/** Traffic kept flowing after the link is back, so the resumed flow shows at the sink. */
const AFTER_UP_MS = 1000;
/** A flow must be back this soon after its link is. */
const RESUME_LIMIT_MS = 1000;

/** Waits until GetRule shows what `done` looks for, polling every 10 ms. */
function waitForRule(client: McrClient, id: string, what: string, done: (rule: Rule) => boolean): Promise<Rule> {
  return waitFor(`rule ${id} ${what}`, () => client.getRule(id), done, 5000, 10);
}

describe('e2e: interfaces: links down and up under traffic', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 2 });

  it('input down: INTERFACE_DOWN; up again: ACTIVE, and the flow resumes by itself', async function () {
    const { client, topology } = relay;
    const input = { address: '239.7.0.1', port: 5001 };
    const output = { address: '239.9.7.1', port: 6001 };
    const rule = await client.createRule({
      name: 'input-flap',
      input: { interface: NET.relayIn.ifname, group: input.address, port: input.port },
      outputs: [{ interface: NET.relayOut1.ifname, ...output }],
    });
    let downAt = 0;
    let upAt = 0;
    try {
      await waitForRuleState(client, rule.id);
      const repairsBefore = await workerRepairs(client);
      const result = await runStreams(topology, {
        flows: [{ ...input, count: PACKETS, size: 256, seed: 31 }],
        rate: RATE,
        sinks: { sink1: [endpointIn('sink1', output.address, output.port, PACKETS)] },
        during: async () => {
          await waitForRulePackets(client, rule.id, 300);
          downAt = Date.now();
          await setLink(topology.ns.relay, NET.relayIn.ifname, 'down');
          const down = await waitForRule(client, rule.id, 'to be INTERFACE_DOWN', (r) => r.status?.state === RuleState.RULE_STATE_INTERFACE_DOWN);
          expect(down.status?.reason, 'reason of the downed rule').to.include(NET.relayIn.ifname);
          await sleep(DOWN_MS);
          upAt = Date.now();
          await setLink(topology.ns.relay, NET.relayIn.ifname, 'up');
          await waitForRule(client, rule.id, 'to be ACTIVE again', (r) => r.status?.state === RuleState.RULE_STATE_ACTIVE);
          await sleep(AFTER_UP_MS);
        },
      });
      const interruption = interruptionAt(sentFlow(result.sent, input.address, input.port), receivedStream(result.received.sink1!, output.address, output.port), downAt, upAt);
      if (!interruption) throw new Error('the flow shows no pause while its input was down');
      const resumedAfterUpMs = Math.round(interruption.resumedUnixMs - upAt);
      reportMeasured('input down/up', { resumedAfterUpMs, outageMs: interruption.outageMs, lostInOutage: interruption.lostInOutage });
      expect(resumedAfterUpMs, 'ms from the input coming up to the first packet after the pause').to.be.within(0, RESUME_LIMIT_MS);
      expect(interruption.lostOutsideOutage, 'packets lost outside the outage').to.deep.equal([]);
      expect(await workerRepairs(client), 'worker drifts and restarts').to.deep.equal(repairsBefore);
    } finally {
      await setLink(topology.ns.relay, NET.relayIn.ifname, 'up');
      await client.deleteRule(rule.id);
    }
  });

  it('one output down: the reason names outputs[1], the other output loses nothing; up again: it receives again', async function () {
    const { client, topology } = relay;
    const input = { address: '239.7.0.2', port: 5002 };
    const toSink1 = { address: '239.9.7.2', port: 6002 };
    const toSink2 = { address: '239.9.7.3', port: 6003 };
    const rule = await client.createRule({
      name: 'output-flap',
      input: { interface: NET.relayIn.ifname, group: input.address, port: input.port },
      outputs: [
        { interface: NET.relayOut1.ifname, ...toSink1 },
        { interface: NET.relayOut2.ifname, ...toSink2 },
      ],
    });
    let downAt = 0;
    let upAt = 0;
    try {
      await waitForRuleState(client, rule.id);
      const repairsBefore = await workerRepairs(client);
      const result = await runStreams(topology, {
        flows: [{ ...input, count: PACKETS, size: 256, seed: 32 }],
        rate: RATE,
        sinks: {
          sink1: [endpointIn('sink1', toSink1.address, toSink1.port, PACKETS)],
          sink2: [endpointIn('sink2', toSink2.address, toSink2.port, PACKETS)],
        },
        during: async () => {
          await waitForRulePackets(client, rule.id, 300);
          downAt = Date.now();
          await setLink(topology.ns.relay, NET.relayOut2.ifname, 'down');
          const degraded = await waitForRule(client, rule.id, 'to name its downed output', (r) => (r.status?.reason ?? '').includes('outputs[1]'));
          expect(degraded.status?.state, 'state with one output down').to.equal(RuleState.RULE_STATE_ACTIVE);
          expect(degraded.status?.reason, 'reason').to.include(NET.relayOut2.ifname).and.not.include('outputs[0]');
          await sleep(DOWN_MS);
          upAt = Date.now();
          await setLink(topology.ns.relay, NET.relayOut2.ifname, 'up');
          await waitForRule(client, rule.id, 'to be ACTIVE with no reason', (r) => r.status?.state === RuleState.RULE_STATE_ACTIVE && r.status.reason === '');
          await sleep(AFTER_UP_MS);
        },
      });
      // The other output: every packet, exactly once, in order, while out2 was down as before and after.
      expectDelivered(result, input, 'sink1', toSink1);
      const interruption = interruptionAt(sentFlow(result.sent, input.address, input.port), receivedStream(result.received.sink2!, toSink2.address, toSink2.port), downAt, upAt);
      if (!interruption) throw new Error('sink2 shows no pause while out2 was down');
      const resumedAfterUpMs = Math.round(interruption.resumedUnixMs - upAt);
      reportMeasured('output down/up', { sink2ResumedAfterUpMs: resumedAfterUpMs, sink2OutageMs: interruption.outageMs, sink2LostInOutage: interruption.lostInOutage });
      expect(resumedAfterUpMs, 'ms from out2 coming up to the first packet at sink2').to.be.within(0, RESUME_LIMIT_MS);
      expect(interruption.lostOutsideOutage, 'packets sink2 lost outside the outage').to.deep.equal([]);
      expect(await workerRepairs(client), 'worker drifts and restarts').to.deep.equal(repairsBefore);
    } finally {
      await setLink(topology.ns.relay, NET.relayOut2.ifname, 'up');
      await client.deleteRule(rule.id);
    }
  });
});
