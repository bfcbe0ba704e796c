/**
 * mcr forwards a stream the relay's kernel refuses: the source is in a subnet the relay cannot
 * route back to (rp_filter=1) and sends with TTL 1.
 */
import { expect } from 'chai';

import { useRelay } from '../support/fixture';
import { NET } from '../support/netns';
import { waitForRulePackets, waitForRuleState } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const INPUT = { address: '239.1.1.1', port: 5000 };
const OUTPUT = { address: '239.9.9.9', port: 6000 };
const PACKETS = 2000;

describe('e2e: forwarding from an unroutable TTL-1 source', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 2 });

  it('delivers every packet to sink1 and counts them', async function () {
    const { client, topology } = relay;
    const rule = await client.createRule({
      name: 'camera',
      input: { interface: NET.relayIn.ifname, group: INPUT.address, port: INPUT.port },
      outputs: [{ interface: NET.relayOut1.ifname, address: OUTPUT.address, port: OUTPUT.port }],
    });
    expect(rule.id, 'derived rule id').to.match(/^r-[0-9a-f]{12}$/);
    await waitForRuleState(client, rule.id);

    const result = await runStreams(topology, {
      flows: [{ ...INPUT, count: PACKETS, size: 512, seed: 2 }],
      rate: 2000,
      ttl: 1,
      sinks: { sink1: [endpointIn('sink1', OUTPUT.address, OUTPUT.port, PACKETS)] },
    });
    expectDelivered(result, INPUT, 'sink1', OUTPUT);

    const stats = await waitForRulePackets(client, rule.id, PACKETS);
    expect(stats.packetsReceived).to.equal(BigInt(PACKETS));
    expect(stats.packetsForwarded).to.equal(BigInt(PACKETS));
    expect(stats.outputs.map((o) => o.packets)).to.deep.equal([BigInt(PACKETS)]);
  });
});
