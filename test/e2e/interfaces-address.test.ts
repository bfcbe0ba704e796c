/**
 * The output interface's address changes under traffic (out1: 10.3.0.1 -> 10.3.0.7): packets must
 * leave from the new address at once, without a worker drift or restart. Egress sockets are not
 * connected (docs/decisions/0035-shared-egress-sockets.md): the kernel picks the source at each send,
 * so nothing has to be rebuilt. A receiver in sink1 reports the source address of every packet it gets.
 */
import { expect } from 'chai';

import { reportMeasured } from '../support/faults';
import { useRelay } from '../support/fixture';
import { replaceAddress } from '../support/links';
import { NET } from '../support/netns';
import { sleep } from '../support/poll';
import { waitForRulePackets, waitForRuleState } from '../support/rules';
import { SourceSeen, startSourceSink } from '../support/source-sink';
import { SystemEvents } from '../support/system-events';
import { sendTraffic } from '../support/traffic';
import { workerRepairs } from '../support/worker-repairs';

const RATE = 1000;
const PACKETS = 4000;
const OLD_ADDRESS = `${NET.relayOut1.address}/24`;
const NEW_ADDRESS = '10.3.0.7/24';
/** Packets must leave from the new address this soon after the change. */
const SWITCH_LIMIT_MS = 1000;
/**
 * Packets that may leave with another of the relay's addresses: those sent in the instant between the
 * old address's removal and the new one's addition (one `ip -batch`), when out1 has none and the kernel
 * picks another interface's. At RATE that instant holds one packet at most; a few allow for scheduling.
 */
const GAP_PACKETS = 5;

describe('e2e: interfaces: the output interface changes address under traffic', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 2 });
  let api: SystemEvents | null = null;

  before(() => {
    api = new SystemEvents(relay.mcrd.socketPath);
  });
  after(() => api?.close());

  it('packets leave out1 from its new address', async function () {
    const { client, topology } = relay;
    const input = { address: '239.8.0.1', port: 5004 };
    const output = { address: '239.9.8.1', port: 6004 };
    const newSource = NEW_ADDRESS.split('/')[0];
    const rule = await client.createRule({
      name: 'readdressed',
      input: { interface: NET.relayIn.ifname, group: input.address, port: input.port },
      outputs: [{ interface: NET.relayOut1.ifname, ...output }],
    });
    await waitForRuleState(client, rule.id);
    const repairsBefore = await workerRepairs(client);
    const sink = startSourceSink(topology.ns.sink1, { group: output.address, port: output.port, interfaceAddress: NET.sink1.address, maxSeconds: 60 });
    let changedAt = 0;
    try {
      await sink.ready;
      const sending = sendTraffic(topology.ns.src, {
        flows: [{ ...input, count: PACKETS, size: 128, seed: 41 }],
        interfaceAddress: NET.src.address,
        ttl: 1,
        rate: RATE,
        maxSeconds: PACKETS / RATE + 10,
      });
      sending.catch(() => undefined); // awaited below
      await waitForRulePackets(client, rule.id, 500, 20_000);
      changedAt = Date.now();
      await replaceAddress(topology.ns.relay, NET.relayOut1.ifname, OLD_ADDRESS, NEW_ADDRESS);
      const sent = await sending;
      expect(sent.flows[0].sent, 'packets sent').to.equal(PACKETS);
      await sleep(300);
      sink.stop();
      const report = await sink.report;

      const bySource = new Map(report.sources.map((s) => [s.address, s]));
      expect([...bySource.keys()], 'source addresses seen at sink1').to.include.members([NET.relayOut1.address, newSource]);
      const before = bySource.get(NET.relayOut1.address)!;
      const after = bySource.get(newSource)!;
      const others = report.sources.filter((s) => s.address !== NET.relayOut1.address && s.address !== newSource);
      for (const other of others) {
        expect([NET.relayIn.address, NET.relayOut2.address], 'any other source is one of the relay\'s addresses').to.include(other.address);
        expect([other.minSequence > before.maxSequence, other.maxSequence < after.minSequence], `${other.address}: only between the last packet from the old address and the first from the new`).to.deep.equal([true, true]);
      }
      expect(others.reduce((sum, s) => sum + s.datagrams, 0), 'packets sent while out1 had no address').to.be.at.most(GAP_PACKETS);
      const received = report.sources.reduce((sum, s: SourceSeen) => sum + s.datagrams, 0);
      const switchedAfterMs = Math.round(after.firstArrivalUnixMs - changedAt);
      reportMeasured('address change', {
        fromOld: before.datagrams,
        fromNew: after.datagrams,
        fromOthers: others.reduce((sum, s) => sum + s.datagrams, 0),
        lastOldSequence: before.maxSequence,
        firstNewSequence: after.minSequence,
        switchedAfterMs,
        lost: PACKETS - received,
      });
      expect(before.maxSequence, 'no packet from the old address after the first from the new one').to.be.below(after.minSequence);
      expect(after.maxSequence, 'the last packet sent came from the new address').to.equal(PACKETS - 1);
      expect(switchedAfterMs, 'ms from the change to the first packet from the new address').to.be.within(0, SWITCH_LIMIT_MS);
      expect(report.malformed, 'malformed datagrams').to.equal(0);
      // The supervisor's sync must hand the worker the new socket and a table that uses it; the drift
      // safety net (a heartbeat finding the worker's rules changed under it) must not be what fixes it.
      expect(await workerRepairs(client), 'worker drifts and restarts').to.deep.equal(repairsBefore);

      const out1 = await api!.interfaceNamed(NET.relayOut1.ifname);
      expect(out1.addresses, 'out1 addresses in ListInterfaces').to.deep.equal([{ address: newSource, prefixLength: 24 }]);
    } finally {
      sink.stop();
      if (changedAt) await replaceAddress(topology.ns.relay, NET.relayOut1.ifname, NEW_ADDRESS, OLD_ADDRESS);
    }
  });
});
