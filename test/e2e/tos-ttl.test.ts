/**
 * Each packet's TOS byte and TTL, through the real mcrd (docs/decisions/0058-tos-and-ttl-per-packet.md):
 * a source sends same-size datagrams whose TOS (DSCP and ECN) and TTL change every few packets, while
 * the worker is stopped, so that its data plane reads them in one batch, where equal sizes would make
 * one GSO message of them all. Five outputs of one rule, each with its own policy (the default: TOS
 * preserved, TTL fixed; a DSCP over the received ECN; a fixed TOS; a decremented TTL, to a unicast
 * address and to a group), give every
 * payload the TOS and TTL its policy makes from its own, the decrementing output drops (and counts,
 * and traces) the packets that arrived with TTL 1, and a client that is not ours (buf curl, through
 * reflection) sets and reads the new fields.
 */
import { expect } from 'chai';

import { OutputResult } from '../../gen/mcr/v1/trace';
import { Rule, TtlPolicy } from '../../gen/mcr/v1/rules';
import { bufCurl } from '../support/buf-curl';
import { useRelay } from '../support/fixture';
import { NET } from '../support/netns';
import { describeValue, waitFor } from '../support/poll';
import { waitForRulePackets, waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { sendWhileStopped } from '../support/stopped-worker-send';
import { startMarksReceiver } from '../support/udp-marks';

const GROUP = '239.1.8.1';
const PORT = 5000;
/** TOS bytes in runs of 3: best effort, EF, AF41 with ECT(1), CS0 with ECT(0). */
const TOSES = [0x00, 46 << 2, (34 << 2) | 1, 0x02];
/** TTLs in runs of 4 (a multicast TTL of 0 would not leave the source). */
const TTLS = [1, 2, 64];
const PACKETS = 48;
const SIZE = 100;

/** The [tos, ttl] of packet i. */
function markOf(i: number): [number, number] {
  return [TOSES[Math.floor(i / 3) % TOSES.length], TTLS[Math.floor(i / 4) % TTLS.length]];
}

/**
 * Sends packet i of PACKETS with markOf(i) (IP_TOS and IP_MULTICAST_TTL set before each send), SIZE
 * bytes starting with its number in 4 digits, once a line arrives on stdin; says "ready" first and
 * "sent N" at the end.
 */
const MARKED_SENDER = `
import json, socket, sys
marks = json.loads(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${NET.src.address}', 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('${NET.src.address}'))
print('ready', flush=True)
sys.stdin.readline()
sent = 0
for i, (tos, ttl) in enumerate(marks):
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
    sent += s.sendto(('%04d' % i).encode().ljust(${SIZE}, b'.'), ('${GROUP}', ${PORT})) == ${SIZE}
print('sent %d' % sent, flush=True)
`;

describe('e2e: TOS and TTL per packet, by each output\'s policy', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 1 });

  it('preserves DSCP and ECN by default, overrides or fixes them on request, and decrements the TTL like a router', async () => {
    const { client, topology } = relay;
    const out1 = { interface: NET.relayOut1.ifname };
    const sink = NET.sink1.address;
    // Created by buf curl through reflection alone: the new fields by their JSON names.
    const created = await bufCurl(relay.mcrd.socketPath, 'mcr.v1.RuleService/CreateRule', {
      rule: {
        name: 'marks',
        input: { interface: NET.relayIn.ifname, group: GROUP, port: PORT },
        outputs: [
          { ...out1, address: '239.9.9.9', port: 6000 },
          { ...out1, address: sink, port: 7000, dscp: 46 },
          { ...out1, address: sink, port: 7001, ttl: 9, preserveTos: false },
          { ...out1, address: sink, port: 7002, ttlPolicy: 'TTL_POLICY_DECREMENT' },
          { ...out1, address: '239.9.9.10', port: 6001, ttlPolicy: 'TTL_POLICY_DECREMENT', dscp: 10 },
        ],
      },
    });
    expect(created.error, created.stderr).to.equal(null);
    const rule = Rule.fromJSON(created.messages[0].rule);
    expect(rule.outputs.map((o) => [o.ttlPolicy, o.preserveTos, o.ttl, o.dscp])).to.deep.equal([
      [TtlPolicy.TTL_POLICY_UNSPECIFIED, undefined, undefined, undefined],
      [TtlPolicy.TTL_POLICY_UNSPECIFIED, undefined, undefined, 46],
      [TtlPolicy.TTL_POLICY_UNSPECIFIED, false, 9, undefined],
      [TtlPolicy.TTL_POLICY_DECREMENT, undefined, undefined, undefined],
      [TtlPolicy.TTL_POLICY_DECREMENT, undefined, undefined, 10],
    ]);
    const both = await bufCurl(relay.mcrd.socketPath, 'mcr.v1.RuleService/CreateRule', {
      rule: { input: { interface: NET.relayIn.ifname, group: GROUP, port: PORT + 1 }, outputs: [{ ...out1, address: sink, port: 7003, ttl: 8, ttlPolicy: 'TTL_POLICY_DECREMENT' }] },
    });
    expect(both.error?.code, both.stderr).to.equal('invalid_argument');
    expect(both.error?.message).to.match(/rule\.outputs\[0\]\.ttl: set to 8 with ttl_policy TTL_POLICY_DECREMENT/);

    await waitForRuleState(client, rule.id);
    await waitForWorkersInSync(client, 1);
    await client.enableTrace(rule.id, { recordLimit: 1_000 });

    const marks = Array.from({ length: PACKETS }, (_, i) => markOf(i));
    const expired = marks.filter(([, ttl]) => ttl <= 1).length;
    const receiver = await startMarksReceiver(
      topology.ns.sink1,
      [
        { address: '239.9.9.9', port: 6000, interfaceAddress: sink },
        { address: sink, port: 7000, interfaceAddress: sink },
        { address: sink, port: 7001, interfaceAddress: sink },
        { address: sink, port: 7002, interfaceAddress: sink, expect: PACKETS - expired },
        { address: '239.9.9.10', port: 6001, interfaceAddress: sink, expect: PACKETS - expired },
      ],
      PACKETS,
      { maxSeconds: 15, perPayload: true },
    );
    const worker = (await client.listWorkers())[0];
    expect(await sendWhileStopped(worker.pid, topology.ns.src, ['python3', '-c', MARKED_SENDER, JSON.stringify(marks)]), 'the sender').to.equal(`sent ${PACKETS}`);
    const got = await receiver.done;

    const key = (i: number) => String(i).padStart(4, '0');
    const byPort = new Map(got.map((m) => [m.port, m]));
    const expected = (port: number, make: (tos: number, ttl: number) => [number, number] | null) => {
      const out: Record<string, [number, number]> = {};
      marks.forEach(([tos, ttl], i) => {
        const sent = make(tos, ttl);
        if (sent) out[key(i)] = sent;
      });
      return out;
    };
    const summary = describeValue(got.map((m) => ({ port: m.port, payloads: m.payloads, datagrams: m.datagrams })));
    expect(byPort.get(6000)!.marks, `default policy: TOS as received, TTL 1 (multicast); ${summary}`).to.deep.equal(expected(6000, (tos) => [1, tos]));
    expect(byPort.get(7000)!.marks, `dscp 46 over the received ECN, TTL 64 (unicast); ${summary}`).to.deep.equal(expected(7000, (tos) => [64, (46 << 2) | (tos & 3)]));
    expect(byPort.get(7001)!.marks, `preserve_tos false: TOS 0, ttl 9; ${summary}`).to.deep.equal(expected(7001, () => [9, 0]));
    expect(byPort.get(7002)!.marks, `decrement: TTL - 1, TTL 1 dropped; ${summary}`).to.deep.equal(expected(7002, (tos, ttl) => (ttl > 1 ? [ttl - 1, tos] : null)));
    expect(byPort.get(6001)!.marks, `decrement to a group, dscp 10 over the ECN; ${summary}`).to.deep.equal(
      expected(6001, (tos, ttl) => (ttl > 1 ? [ttl - 1, (10 << 2) | (tos & 3)] : null)),
    );
    for (const m of got) expect(m.datagrams, `datagrams to ${m.port}: each payload once`).to.equal(m.payloads);

    const stats = await waitForRulePackets(client, rule.id, PACKETS);
    expect(stats.packetsForwarded, 'forwarded').to.equal(BigInt(PACKETS));
    expect(stats.outputs.map((o) => [o.packets, o.ttlExpired])).to.deep.equal([
      [BigInt(PACKETS), 0n],
      [BigInt(PACKETS), 0n],
      [BigInt(PACKETS), 0n],
      [BigInt(PACKETS - expired), BigInt(expired)],
      [BigInt(PACKETS - expired), BigInt(expired)],
    ]);
    expect(stats.drops!.ttlExpired, 'ttl expired, summed over outputs').to.equal(BigInt(2 * expired));

    // The trace says what each output sent: its TTL, DSCP and ECN, or that the TTL expired.
    const { records } = await waitFor('the trace records', () => client.getTrace(rule.id), (t) => t.records.length >= PACKETS, 10_000);
    for (const record of records) {
      const i = Number(record.frame.subarray(14 + 28, 14 + 32).toString('ascii'));
      const [tos, ttl] = marks[i];
      expect([record.ttl, record.dscp, record.ecn], `packet ${i} as received`).to.deep.equal([ttl, tos >> 2, tos & 3]);
      const [dflt, dscp, fixed, decrement] = record.outputs;
      expect([dflt.result, dflt.ttl, dflt.dscp, dflt.ecn], `packet ${i} default output`).to.deep.equal([OutputResult.OUTPUT_RESULT_SENT, 1, tos >> 2, tos & 3]);
      expect([dscp.ttl, dscp.dscp, dscp.ecn], `packet ${i} dscp output`).to.deep.equal([64, 46, tos & 3]);
      expect([fixed.ttl, fixed.dscp, fixed.ecn], `packet ${i} fixed output`).to.deep.equal([9, 0, 0]);
      expect([decrement.result, decrement.ttl], `packet ${i} decrementing output`).to.deep.equal(
        ttl > 1 ? [OutputResult.OUTPUT_RESULT_SENT, ttl - 1] : [OutputResult.OUTPUT_RESULT_TTL_EXPIRED, 0],
      );
    }
    await client.disableTrace(rule.id);
  });
});
