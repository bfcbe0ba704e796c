/**
 * Fan-out: one rule, three outputs (two multicast groups on two interfaces, one unicast address);
 * each receiver gets every packet.
 */
import { expect } from 'chai';

import { useRelay } from '../support/fixture';
import { NET } from '../support/netns';
import { waitForRulePackets, waitForRuleState } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const INPUT = { address: '239.1.1.1', port: 5000 };
const TO_SINK1_MULTICAST = { interface: NET.relayOut1.ifname, address: '239.9.9.9', port: 6000 };
const TO_SINK2_MULTICAST = { interface: NET.relayOut2.ifname, address: '239.9.9.10', port: 6001 };
const TO_SINK1_UNICAST = { interface: NET.relayOut1.ifname, address: NET.sink1.address, port: 7000 };
const PACKETS = 2000;

describe('e2e: fan-out to three outputs', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 2 });

  it('delivers every packet to each output', async function () {
    const { client, topology } = relay;
    const outputs = [TO_SINK1_MULTICAST, TO_SINK2_MULTICAST, TO_SINK1_UNICAST];
    const rule = await client.createRule({
      name: 'fan-out',
      input: { interface: NET.relayIn.ifname, group: INPUT.address, port: INPUT.port },
      outputs,
    });
    await waitForRuleState(client, rule.id);

    const result = await runStreams(topology, {
      flows: [{ ...INPUT, count: PACKETS, size: 1000, seed: 3 }],
      rate: 2000,
      sinks: {
        sink1: [endpointIn('sink1', TO_SINK1_MULTICAST.address, TO_SINK1_MULTICAST.port, PACKETS), endpointIn('sink1', TO_SINK1_UNICAST.address, TO_SINK1_UNICAST.port, PACKETS)],
        sink2: [endpointIn('sink2', TO_SINK2_MULTICAST.address, TO_SINK2_MULTICAST.port, PACKETS)],
      },
    });
    expectDelivered(result, INPUT, 'sink1', TO_SINK1_MULTICAST);
    expectDelivered(result, INPUT, 'sink2', TO_SINK2_MULTICAST);
    expectDelivered(result, INPUT, 'sink1', TO_SINK1_UNICAST);

    const stats = await waitForRulePackets(client, rule.id, PACKETS);
    expect(stats.packetsForwarded).to.equal(BigInt(PACKETS));
    expect(stats.outputs.map((o) => o.packets), 'packets per output').to.deep.equal(outputs.map(() => BigInt(PACKETS)));
  });
});
