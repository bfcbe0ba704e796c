/**
 * The problem is real in the test topology, without mcr: the relay's kernel (rp_filter=1, no route
 * back to the source's subnet) delivers none of the source's multicast to an ordinary UDP socket,
 * although the frames do arrive on in0. With rp_filter off the same socket gets every packet, which
 * shows that the socket and the sender work.
 */
import { expect } from 'chai';

import { useTopology } from '../support/fixture';
import { NET } from '../support/netns';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';
import { receivedStream, sentFlow } from '../support/traffic';

const STREAM = { address: '239.1.1.1', port: 5000 };
const PACKETS = 300;

describe('e2e: baseline without mcr', function () {
  this.timeout(60_000);
  const net = useTopology();

  /** The source's stream, received by an ordinary socket in the relay joined on in0. */
  function streamToRelay(graceAfterSendMs?: number) {
    return runStreams(net.topology, {
      flows: [{ ...STREAM, count: PACKETS, size: 200, seed: 1 }],
      rate: 1000,
      sinks: { relay: [endpointIn('relay', STREAM.address, STREAM.port, PACKETS)] },
      graceAfterSendMs,
    });
  }

  it('an ordinary socket in the relay receives nothing with rp_filter=1, though the frames reach in0', async function () {
    const { topology } = net;
    const before = await topology.rxPackets('relay', NET.relayIn.ifname);
    // The sink listens from before the first packet until 2 s after the last.
    const result = await streamToRelay(2000);
    const after = await topology.rxPackets('relay', NET.relayIn.ifname);

    expect(sentFlow(result.sent, STREAM.address, STREAM.port).sent).to.equal(PACKETS);
    expect(after - before, 'frames counted by in0').to.be.at.least(PACKETS);
    expect(result.received.relay!.stopReason).to.equal('signal');
    expect(receivedStream(result.received.relay!, STREAM.address, STREAM.port).received, 'datagrams delivered to the socket').to.equal(0);
  });

  it('the same socket receives every packet once rp_filter is off (control)', async function () {
    const { topology } = net;
    topology.setRpFilter(0);
    try {
      expectDelivered(await streamToRelay(), STREAM, 'relay');
    } finally {
      topology.setRpFilter(1);
    }
  });
});
