/**
 * Frames the kernel merged from several UDP datagrams, through the real mcrd
 * (docs/decisions/0059-merged-frames-split.md): a source sends UDP GSO messages (UDP_SEGMENT: each
 * several datagrams of one size and a shorter last one), which cross the veth into the relay whole,
 * so that its capture socket reads each as one frame; between them it sends single datagrams. The
 * receivers behind mcr get every datagram once, byte for byte and of its own size; the input counts
 * the merged frames and the datagrams they carried, the rule every datagram, and a trace records
 * each datagram with its own IPv4 length. mcrd runs with batches of 4, smaller than a merged frame.
 */
import { expect } from 'chai';
import { createHash } from 'crypto';

import { useRelay } from '../support/fixture';
import { NET, runIn } from '../support/netns';
import { describeValue, waitFor } from '../support/poll';
import { waitForRulePackets, waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { startMarksReceiver } from '../support/udp-marks';

const GROUP = '239.1.9.1';
const PORT = 5000;
/** GSO messages, each SEGMENTS datagrams: SEGMENTS - 1 of SEGMENT_SIZE bytes and one of LAST_SIZE. */
const MESSAGES = 20;
const SEGMENTS = 10;
const SEGMENT_SIZE = 1000;
const LAST_SIZE = 400;
/** Single datagrams, one after each GSO message. */
const SINGLE_SIZE = 700;
const DATAGRAMS = MESSAGES * (SEGMENTS + 1);

/** Datagram `index` of message `message` (index SEGMENTS: the single one after it): its key in 4 digits, then bytes of its own. */
function payloadOf(message: number, index: number): Buffer {
  const size = index === SEGMENTS ? SINGLE_SIZE : index === SEGMENTS - 1 ? LAST_SIZE : SEGMENT_SIZE;
  const payload = Buffer.alloc(size, (message * 16 + index) % 251);
  payload.write(`${String(message).padStart(2, '0')}${String(index).padStart(2, '0')}`, 0, 'ascii');
  return payload;
}

/**
 * Sends payloadOf's payloads (made the same way): each message's first SEGMENTS in one sendmsg with
 * UDP_SEGMENT, then the single one without; prints how many sends went out whole.
 */
const GSO_SENDER = `
import socket
def payload(m, i):
    size = ${SINGLE_SIZE} if i == ${SEGMENTS} else ${LAST_SIZE} if i == ${SEGMENTS} - 1 else ${SEGMENT_SIZE}
    return ('%02d%02d' % (m, i)).encode() + bytes([(m * 16 + i) % 251]) * (size - 4)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${NET.src.address}', 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('${NET.src.address}'))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
SOL_UDP, UDP_SEGMENT = 17, 103
sends = 0
for m in range(${MESSAGES}):
    merged = b''.join(payload(m, i) for i in range(${SEGMENTS}))
    sends += s.sendmsg([merged], [(SOL_UDP, UDP_SEGMENT, (${SEGMENT_SIZE}).to_bytes(2, 'little'))], 0, ('${GROUP}', ${PORT})) == len(merged)
    single = payload(m, ${SEGMENTS})
    sends += s.sendto(single, ('${GROUP}', ${PORT})) == len(single)
print(sends)
`;

describe('e2e: frames the kernel merged from several datagrams', function () {
  this.timeout(120_000);
  // A batch of 4 (frames per recvmmsg, packets per send batch): a merged frame of 10 datagrams fills
  // the sends' room in the middle of a batch, which must then be sent early, losing nothing.
  const relay = useRelay({ workers: 1, extraArgs: ['--batch', '4'] });

  it('splits each back into its datagrams, byte for byte, and counts and traces each', async () => {
    const { client, topology } = relay;
    const sink = NET.sink1.address;
    const rule = await client.createRule({
      name: 'merged',
      input: { interface: NET.relayIn.ifname, group: GROUP, port: PORT },
      outputs: [
        { interface: NET.relayOut1.ifname, address: '239.9.9.9', port: 6000 },
        { interface: NET.relayOut1.ifname, address: sink, port: 7000 },
      ],
    });
    await waitForRuleState(client, rule.id);
    await waitForWorkersInSync(client, 1);
    await client.enableTrace(rule.id, { recordLimit: 10_000, snapLength: 64 });
    const inputBefore = (await client.getWorkerStats()).find((i) => i.interface === NET.relayIn.ifname);

    const messages = Array.from({ length: MESSAGES }, (_, m) => Array.from({ length: SEGMENTS + 1 }, (_, i) => payloadOf(m, i)));
    const receiver = await startMarksReceiver(
      topology.ns.sink1,
      [
        { address: '239.9.9.9', port: 6000, interfaceAddress: sink },
        { address: sink, port: 7000, interfaceAddress: sink },
      ],
      DATAGRAMS,
      { maxSeconds: 15, perPayload: true },
    );
    const sent = await runIn(topology.ns.src, ['python3', '-c', GSO_SENDER]);
    expect(sent.trim(), 'sends that went out whole').to.equal(String(2 * MESSAGES));
    const got = await receiver.done;

    const expected: Record<string, [number, string]> = {};
    for (const payload of messages.flat()) expected[payload.subarray(0, 4).toString('ascii')] = [payload.length, createHash('sha256').update(payload).digest('hex')];
    for (const endpoint of got) {
      const summary = describeValue({ port: endpoint.port, payloads: endpoint.payloads, datagrams: endpoint.datagrams, sizes: [...new Set(Object.values(endpoint.digests ?? {}).map(([n]) => n))] });
      expect(endpoint.digests, `every datagram, each of its own size and bytes, at ${endpoint.address}:${endpoint.port}; ${summary}`).to.deep.equal(expected);
      expect(endpoint.datagrams, `each once at ${endpoint.port}`).to.equal(DATAGRAMS);
    }

    // The capture socket read each GSO message as one frame (else this test would prove nothing).
    const inputAfter = (await client.getWorkerStats()).find((i) => i.interface === NET.relayIn.ifname)!;
    const merged = inputAfter.mergedFrames - (inputBefore?.mergedFrames ?? 0n);
    expect([merged, inputAfter.mergedDatagrams - (inputBefore?.mergedDatagrams ?? 0n)], 'merged frames and their datagrams').to.deep.equal([
      BigInt(MESSAGES),
      BigInt(MESSAGES * SEGMENTS),
    ]);
    const stats = await waitForRulePackets(client, rule.id, DATAGRAMS);
    expect([stats.packetsReceived, stats.packetsForwarded, ...stats.outputs.map((o) => o.packets)]).to.deep.equal(Array(4).fill(BigInt(DATAGRAMS)));
    const bytes = messages.flat().reduce((sum, p) => sum + p.length, 0);
    expect(stats.bytesReceived, 'payload bytes').to.equal(BigInt(bytes));

    const { records } = await waitFor('a record per datagram', () => client.getTrace(rule.id), (t) => t.records.length >= DATAGRAMS, 10_000);
    const lengths = records.map((r) => r.ipLength).sort((a, b) => a - b);
    const want = messages.flat().map((p) => 28 + p.length).sort((a, b) => a - b);
    expect(lengths, 'each record with its own IPv4 length').to.deep.equal(want);
    await client.disableTrace(rule.id);
  });
});
