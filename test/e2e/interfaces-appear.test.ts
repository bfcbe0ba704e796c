/**
 * Input interfaces that appear after the rule was made, or are deleted and re-created under the same
 * name (with a new index), while the source keeps sending: mcr must follow them on its own, and the
 * flow must reach sink1 within 1 s of the interface (re)appearing, lose nothing once it flows again,
 * and the supervisor's own sync must carry the change (no drift repair, no worker restart). The input
 * links hang off a bridge in the src namespace (see bridged-source.ts), so the sender keeps running
 * throughout.
 */
import { expect } from 'chai';

import { RuleState } from '../../gen/mcr/v1/rules';
import {
  addInputLink,
  createSourceBridge,
  deleteInputLink,
  removeInputLinkIfPresent,
  replaceInputLinkAtOnce,
  runFromBridge,
} from '../support/bridged-source';
import { reportMeasured } from '../support/faults';
import { useRelay } from '../support/fixture';
import { RuleSpec } from '../support/grpc';
import { linkNumber } from '../support/links';
import { NET } from '../support/netns';
import { deliveryFromFirstArrival, outageAround } from '../support/outage';
import { sleep } from '../support/poll';
import { waitForRulePackets, waitForRuleState } from '../support/rules';
import { endpointIn } from '../support/streams';
import { SystemEvents } from '../support/system-events';
import { workerRepairs } from '../support/worker-repairs';

const RATE = 1000;
/** Five seconds of traffic: the link changes happen in the first two or three. */
const PACKETS = 5000;
/** The flow must reach the sink this soon after its input interface (re)appears. */
const RESUME_LIMIT_MS = 1000;
/** Traffic kept flowing after the rule is active again, so the sink shows a steady flow. */
const AFTER_ACTIVE_MS = 1500;
/** Pauses in arrivals the sink reports (pacing at RATE leaves 1-2 ms between packets). */
const GAP_THRESHOLD_MS = 20;

function ruleOn(ifname: string, n: number): RuleSpec {
  return {
    name: `on-${ifname}`,
    input: { interface: ifname, group: `239.6.0.${n}`, port: 5000 + n },
    outputs: [{ interface: NET.relayOut1.ifname, address: `239.9.6.${n}`, port: 6000 + n }],
  };
}

describe('e2e: interfaces: input interfaces that appear and are re-created under traffic', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 2 });
  let api: SystemEvents | null = null;

  before(async function () {
    await createSourceBridge(relay.topology);
    api = new SystemEvents(relay.mcrd.socketPath);
  });
  after(() => api?.close());

  it('a rule for a missing input waits, and forwards within 1 s once the interface appears', async function () {
    const { client, topology } = relay;
    const ifname = 'in9';
    const spec = ruleOn(ifname, 9);
    const output = spec.outputs![0];
    try {
      const rule = await client.createRule(spec);
      const waiting = await waitForRuleState(client, rule.id, RuleState.RULE_STATE_WAITING_FOR_INTERFACE);
      expect(waiting.status?.reason, 'reason names the missing input').to.include(ifname);
      const repairsBefore = await workerRepairs(client);

      let createdAt = 0;
      let activeSeenAfterMs = 0;
      const run = await runFromBridge(topology, {
        flow: { address: spec.input!.group!, port: spec.input!.port!, count: PACKETS, size: 256, seed: 9 },
        rate: RATE,
        sink: endpointIn('sink1', output.address!, output.port!),
        during: async () => {
          await sleep(200); // sending into the void: nothing captures yet
          createdAt = Date.now();
          await addInputLink(topology, ifname);
          const active = await waitForRuleState(client, rule.id, RuleState.RULE_STATE_ACTIVE, 5000);
          activeSeenAfterMs = Date.now() - createdAt;
          expect(active.status?.reason, 'reason of the active rule').to.equal('');
          await sleep(AFTER_ACTIVE_MS);
        },
      });

      expect(run.duringUnderTraffic, 'the link appeared under traffic').to.equal(true);
      const delivery = deliveryFromFirstArrival(run.sent, run.got);
      const firstPacketAfterMs = Math.round(delivery.firstArrivalUnixMs - createdAt);
      reportMeasured('input appears', { firstPacketAfterMs, activeSeenAfterMs, firstSequence: delivery.firstSequence, lostAfterFirst: delivery.lostAfterFirst.length });
      expect(firstPacketAfterMs, 'ms from creating the interface to the first packet at sink1').to.be.within(0, RESUME_LIMIT_MS);
      expect(delivery.lostAfterFirst, 'packets lost once the flow had started').to.deep.equal([]);
      expect(delivery.corrupted, 'corrupted packets').to.equal(0);
      expect(run.got.duplicates, 'duplicates').to.equal(0);

      const listed = await api!.interfaceNamed(ifname);
      expect(listed.exists && listed.up && listed.running, `${ifname} in ListInterfaces exists, up and running`).to.equal(true);
      expect(listed.index, `${ifname}'s index`).to.equal(await linkNumber(topology.ns.relay, ifname, 'ifindex'));
      expect(listed.inputRules, `rules on ${ifname}`).to.deep.equal([rule.id]);
      expect(await workerRepairs(client), 'worker drifts and restarts (the sync alone must follow the interface)').to.deep.equal(repairsBefore);
    } finally {
      await removeInputLinkIfPresent(topology, ifname);
    }
  });

  /** When the input went away and when it came back (unix ms), as the re-creation did them. */
  interface Recreation {
    deletedAt: number;
    recreatedAt: number;
  }

  /**
   * Runs traffic through a rule on input `ifname`, has `recreate` delete and re-create the interface
   * once the flow is forwarded, and checks the rule follows it and the flow resumes within 1 s.
   */
  async function recreateUnderTraffic(ifname: string, n: number, label: string, recreate: (ruleId: string) => Promise<Recreation>): Promise<void> {
    const { client, topology } = relay;
    const spec = ruleOn(ifname, n);
    const output = spec.outputs![0];
    try {
      await addInputLink(topology, ifname);
      const rule = await client.createRule(spec);
      await waitForRuleState(client, rule.id);
      const oldIndex = await linkNumber(topology.ns.relay, ifname, 'ifindex');
      const repairsBefore = await workerRepairs(client);

      let times: Recreation = { deletedAt: 0, recreatedAt: 0 };
      const run = await runFromBridge(topology, {
        flow: { address: spec.input!.group!, port: spec.input!.port!, count: PACKETS, size: 256, seed: n },
        rate: RATE,
        sink: endpointIn('sink1', output.address!, output.port!),
        gapThresholdMs: GAP_THRESHOLD_MS,
        during: async () => {
          await waitForRulePackets(client, rule.id, 300);
          times = await recreate(rule.id);
          await waitForRuleState(client, rule.id, RuleState.RULE_STATE_ACTIVE, 5000);
          await sleep(AFTER_ACTIVE_MS);
        },
      });

      expect(run.duringUnderTraffic, 'the link was re-created under traffic').to.equal(true);
      const newIndex = await linkNumber(topology.ns.relay, ifname, 'ifindex');
      expect(newIndex, 'index of the re-created interface').to.not.equal(oldIndex);
      expect((await api!.interfaceNamed(ifname)).index, `${ifname}'s index in ListInterfaces`).to.equal(newIndex);
      const outage = outageAround(run.sent, run.got, { startUnixMs: times.deletedAt, endUnixMs: times.recreatedAt, gapThresholdMs: GAP_THRESHOLD_MS, rate: RATE });
      reportMeasured(label, { oldIndex, newIndex, recreatedAfterDeleteMs: times.recreatedAt - times.deletedAt, ...outage, lostOutsideOutage: outage.lostOutsideOutage.length });
      if (outage.resumedAfterMs !== null) {
        expect(outage.resumedAfterMs, 'ms from re-creating the interface to the first packet after the pause').to.be.within(0, RESUME_LIMIT_MS);
      }
      expect(outage.lostOutsideOutage, 'packets lost outside the outage').to.deep.equal([]);
      expect(run.got.duplicates, 'duplicates').to.equal(0);
      expect(await workerRepairs(client), 'worker drifts and restarts (the sync alone must follow the interface)').to.deep.equal(repairsBefore);
    } finally {
      await removeInputLinkIfPresent(topology, ifname);
    }
  }

  it('an input deleted and re-created (new index): WAITING, then ACTIVE, and traffic resumes within 1 s', async function () {
    const { client, topology } = relay;
    const ifname = 'in8';
    await recreateUnderTraffic(ifname, 8, 'input re-created', async (ruleId) => {
      const deletedAt = Date.now();
      await deleteInputLink(topology, ifname);
      const waiting = await waitForRuleState(client, ruleId, RuleState.RULE_STATE_WAITING_FOR_INTERFACE, 5000);
      expect(waiting.status?.reason, 'reason names the deleted input').to.include(ifname);
      const recreatedAt = Date.now();
      await addInputLink(topology, ifname);
      return { deletedAt, recreatedAt };
    });
  });

  it('an input replaced at once by a renamed new interface (as container tools do): traffic resumes within 1 s', async function () {
    const { topology } = relay;
    const ifname = 'in7';
    await recreateUnderTraffic(ifname, 7, 'input replaced at once', async () => {
      const swappedAt = await replaceInputLinkAtOnce(topology, ifname);
      return { deletedAt: swappedAt, recreatedAt: swappedAt };
    });
  });
});
