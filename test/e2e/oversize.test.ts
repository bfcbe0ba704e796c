/**
 * Datagrams larger than an output's MTU, through the real mcrd (docs/decisions/0060-oversize-datagrams.md).
 *
 * Jumbo frames: the source's link into the relay has MTU 9000, the outputs' link 1500. Datagrams of
 * 1000, 1472 (exactly one 1500-byte packet), 1473 and 8000 bytes reach three outputs: a group and a
 * unicast address that fragment (the default, and the policy set explicitly), and a unicast address
 * that drops what does not fit. Every receiver gets what it should, byte for byte; mcr's counters
 * agree with what the relay's kernel fragmented and the sink's kernel reassembled (/proc/net/snmp);
 * a capture (tshark) shows DF clear on the fragmenting outputs' packets and set on the dropping one's;
 * the trace says which were fragmented and which were too big.
 *
 * GSO comes back: a route's MTU makes the kernel refuse GSO for a size (and the path MTU makes a
 * not-fragmenting output drop it); once the route is gone, the output sends that size as GSO again.
 *
 * The MTU changes under an output: its fragments are counted by the new MTU, and its counters go on.
 *
 * A pending ICMP error costs at most its own output one datagram: an output to a closed port shares
 * its socket with one to a listening port; bursts (sent as GSO messages) to both lose nothing on the
 * listening one, and the closed one counts no more errors than ICMP errors arrived.
 */
import { expect } from 'chai';
import { createHash } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { OversizePolicy, Rule } from '../../gen/mcr/v1/rules';
import { OutputResult } from '../../gen/mcr/v1/trace';
import { bufCurl } from '../support/buf-curl';
import { useRelay } from '../support/fixture';
import { ip, NET, runIn } from '../support/netns';
import { describeValue, sleep, waitFor } from '../support/poll';
import { waitForRulePackets, waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { grew, snmpCounters } from '../support/snmp';
import { sendWhileStopped } from '../support/stopped-worker-send';
import { startCapture, tsharkFields } from '../support/tshark';
import { startMarksReceiver } from '../support/udp-marks';

const JUMBO_MTU = 9000;
/** The largest UDP payload one 1500-byte packet carries. */
const FITS = 1500 - 28;
/** Sizes in turn, then a run of equal jumbo sizes (which must not be sent as one GSO message). */
const JUMBO_SIZES = [...Array.from({ length: 32 }, (_, i) => [1000, FITS, FITS + 1, 8000][i % 4]), ...Array<number>(8).fill(8000)];

/** Payload `i` of `size` bytes: its number in 4 digits, then bytes of its own. */
function payloadOf(i: number, size: number): Buffer {
  const payload = Buffer.alloc(size, i % 251);
  payload.write(String(i).padStart(4, '0'), 0, 'ascii');
  return payload;
}

/**
 * Sends, to each [group, port, sizes] of argv[1], payloadOf's payloads (made the same way) once a line
 * arrives on stdin; says "ready" first and "sent N" at the end.
 */
const SIZES_SENDER = `
import json, socket, sys
flows = json.loads(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${NET.src.address}', 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('${NET.src.address}'))
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
print('ready', flush=True)
sys.stdin.readline()
sent = 0
for group, port, sizes in flows:
    for i, size in enumerate(sizes):
        payload = ('%04d' % i).encode() + bytes([i % 251]) * (size - 4)
        sent += s.sendto(payload, (group, port)) == size
print('sent %d' % sent, flush=True)
`;

/** Sends `count` datagrams of 300 bytes to group:port, 50 ms apart, numbered from `first` as payloadOf numbers them. */
function pacedSender(group: string, port: number, first: number, count: number): string {
  return `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${NET.src.address}', 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('${NET.src.address}'))
for i in range(${first}, ${first + count}):
    s.sendto(('%04d' % i).encode() + bytes([i % 251]) * 296, ('${group}', ${port}))
    time.sleep(0.05)
`;
}

function digests(sizes: readonly number[], keep: (size: number) => boolean): Record<string, [number, string]> {
  const out: Record<string, [number, string]> = {};
  sizes.forEach((size, i) => {
    if (!keep(size)) return;
    const payload = payloadOf(i, size);
    out[payload.subarray(0, 4).toString('ascii')] = [size, createHash('sha256').update(payload).digest('hex')];
  });
  return out;
}

/** One datagram as captured: its packets (one, or its fragments), UDP port (from tshark's reassembly) and DF. */
interface Captured {
  port: string;
  packets: number;
  df: boolean;
}

/**
 * The UDP datagrams of a capture, from each packet's ip.dst, ip.id, DF and UDP port (which tshark
 * gives on the packet that completes a datagram): fragments of one datagram share dst and id; a
 * datagram with DF set is never fragmented (and an unconnected socket sends those with id 0, so each
 * stands alone).
 */
function capturedDatagrams(file: string): Captured[] {
  const alone: Captured[] = [];
  const fragmentable = new Map<string, Captured>();
  for (const [proto, dst, id, df, port] of tsharkFields(file, ['ip.proto', 'ip.dst', 'ip.id', 'ip.flags.df', 'udp.dstport'])) {
    if (proto !== '17') continue;
    if (df === '1' || df === 'True') {
      alone.push({ port, packets: 1, df: true });
      continue;
    }
    let datagram = fragmentable.get(`${dst}/${id}`);
    if (!datagram) fragmentable.set(`${dst}/${id}`, (datagram = { port: '', packets: 0, df: false }));
    datagram.packets++;
    if (port !== '') datagram.port = port;
  }
  return [...alone, ...fragmentable.values()];
}

describe('e2e: datagrams larger than the output MTU', function () {
  this.timeout(180_000);
  const relay = useRelay({ workers: 1 });
  const sink = NET.sink1.address;
  const out1 = { interface: NET.relayOut1.ifname };

  it('fragments (counted, DF clear) or drops (counted, DF set) jumbo datagrams per output, as the kernels and the wire confirm', async () => {
    const { client, topology } = relay;
    ip(['-n', topology.ns.src, 'link', 'set', NET.src.ifname, 'mtu', String(JUMBO_MTU)]);
    ip(['-n', topology.ns.relay, 'link', 'set', NET.relayIn.ifname, 'mtu', String(JUMBO_MTU)]);
    const outMtu = JSON.parse(ip(['-n', topology.ns.relay, '-j', 'link', 'show', NET.relayOut1.ifname]))[0].mtu;
    expect(outMtu, `${NET.relayOut1.ifname} MTU`).to.equal(1500);

    const group = '239.1.10.1';
    const port = 5000;
    // Made by buf curl through reflection alone: the policy by its JSON name.
    const created = await bufCurl(relay.mcrd.socketPath, 'mcr.v1.RuleService/CreateRule', {
      rule: {
        name: 'jumbo',
        input: { interface: NET.relayIn.ifname, group, port },
        outputs: [
          { ...out1, address: '239.9.9.9', port: 6000 },
          { ...out1, address: sink, port: 7000, oversize: 'OVERSIZE_POLICY_DROP' },
          { ...out1, address: sink, port: 7001, oversize: 'OVERSIZE_POLICY_FRAGMENT' },
        ],
      },
    });
    expect(created.error, created.stderr).to.equal(null);
    const rule = Rule.fromJSON(created.messages[0].rule);
    expect(rule.outputs.map((o) => o.oversize)).to.deep.equal([OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED, OversizePolicy.OVERSIZE_POLICY_DROP, OversizePolicy.OVERSIZE_POLICY_FRAGMENT]);
    const unknown = await bufCurl(relay.mcrd.socketPath, 'mcr.v1.RuleService/CreateRule', {
      rule: { input: { interface: NET.relayIn.ifname, group, port: port + 1 }, outputs: [{ ...out1, address: sink, port: 7009, oversize: 7 }] },
    });
    expect([unknown.error?.code, unknown.error?.message], unknown.stderr).to.deep.equal(['invalid_argument', 'rule.outputs[0].oversize: 7 is not an OversizePolicy (OVERSIZE_POLICY_FRAGMENT = 1, OVERSIZE_POLICY_DROP = 2)']);

    await waitForRuleState(client, rule.id);
    await waitForWorkersInSync(client, 1);
    await client.enableTrace(rule.id, { recordLimit: 1_000, snapLength: 64 });

    const oversize = JUMBO_SIZES.filter((size) => size > FITS).length;
    const fitting = JUMBO_SIZES.length - oversize;
    const receiver = await startMarksReceiver(
      topology.ns.sink1,
      [
        { address: '239.9.9.9', port: 6000, interfaceAddress: sink },
        { address: sink, port: 7000, interfaceAddress: sink, expect: fitting },
        { address: sink, port: 7001, interfaceAddress: sink },
      ],
      JUMBO_SIZES.length,
      { maxSeconds: 15, perPayload: true },
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-oversize-'));
    const file = path.join(dir, 'out1.pcapng');
    // Every UDP packet on the link: the fragmenting outputs' (a datagram's UDP header and payload in
    // pieces of 1480 bytes: 1, 1, 2 and 6 for 1000, 1472, 1473 and 8000 bytes) and the dropping one's.
    const packetsOf = (size: number) => Math.ceil((size + 8) / (1500 - 20));
    const onTheWire = 2 * JUMBO_SIZES.reduce((n, size) => n + packetsOf(size), 0) + fitting;
    const capture = await startCapture(topology.ns.sink1, NET.sink1.ifname, file, { filter: 'ip proto 17', count: onTheWire });
    const [relayBefore, sinkBefore] = [await snmpCounters(topology.ns.relay), await snmpCounters(topology.ns.sink1)];
    try {
      const worker = (await client.listWorkers())[0];
      // In one batch: the run of equal jumbo sizes at the end would be one GSO message if grouped.
      const sent = await sendWhileStopped(worker.pid, topology.ns.src, ['python3', '-c', SIZES_SENDER, JSON.stringify([[group, port, JUMBO_SIZES]])]);
      expect(sent, 'the sender').to.equal(`sent ${JUMBO_SIZES.length}`);
      const got = await receiver.done;
      await sleep(200);
      const byPort = new Map(got.map((m) => [m.port, m]));
      const summary = describeValue(got.map((m) => ({ port: m.port, payloads: m.payloads, datagrams: m.datagrams })));
      expect(byPort.get(6000)!.digests, `group, fragmenting: every payload whole; ${summary}`).to.deep.equal(digests(JUMBO_SIZES, () => true));
      expect(byPort.get(7000)!.digests, `unicast, dropping: only what fits; ${summary}`).to.deep.equal(digests(JUMBO_SIZES, (size) => size <= FITS));
      expect(byPort.get(7001)!.digests, `unicast, fragmenting: every payload whole; ${summary}`).to.deep.equal(digests(JUMBO_SIZES, () => true));
      for (const m of got) expect(m.datagrams, `datagrams to ${m.port}: each payload once`).to.equal(m.payloads);
    } finally {
      await capture.finish();
    }

    const stats = await waitForRulePackets(client, rule.id, JUMBO_SIZES.length);
    const n = BigInt(JUMBO_SIZES.length);
    expect(stats.packetsForwarded, 'forwarded').to.equal(n);
    expect(stats.outputs.map((o) => [o.packets, o.fragmented, o.tooBig]), 'per output: sent, of them fragmented, too big').to.deep.equal([
      [n, BigInt(oversize), 0n],
      [BigInt(fitting), 0n, BigInt(oversize)],
      [n, BigInt(oversize), 0n],
    ]);
    expect(stats.drops!.tooBig, 'too big, summed over outputs').to.equal(BigInt(oversize));
    // The kernels count the same: the relay's fragmented what two outputs sent, the sink's reassembled it.
    const [relayAfter, sinkAfter] = [await snmpCounters(topology.ns.relay), await snmpCounters(topology.ns.sink1)];
    expect(grew(relayBefore, relayAfter, 'Ip.FragOKs'), 'datagrams the relay\'s kernel fragmented').to.equal(2 * oversize);
    expect(grew(sinkBefore, sinkAfter, 'Ip.ReasmOKs'), 'datagrams the sink\'s kernel reassembled').to.equal(2 * oversize);

    // On the wire: the dropping output's packets carry DF, the fragmenting ones' do not.
    const captured = capturedDatagrams(file);
    const onPort = (p: number) => captured.filter((d) => d.port === String(p));
    const wire = (p: number) => ({ datagrams: onPort(p).length, fragmented: onPort(p).filter((d) => d.packets > 1).length, df: onPort(p).filter((d) => d.df).length });
    expect([wire(6000), wire(7000), wire(7001)], describeValue(captured)).to.deep.equal([
      { datagrams: JUMBO_SIZES.length, fragmented: oversize, df: 0 },
      { datagrams: fitting, fragmented: 0, df: fitting },
      { datagrams: JUMBO_SIZES.length, fragmented: oversize, df: 0 },
    ]);
    fs.rmSync(dir, { recursive: true, force: true });

    // The trace says, per output, which packets left as fragments and which were too big.
    const { records } = await waitFor('the trace records', () => client.getTrace(rule.id), (t) => t.records.length >= JUMBO_SIZES.length, 10_000);
    for (const record of records) {
      const i = Number(record.frame.subarray(14 + 28, 14 + 32).toString('ascii'));
      const big = JUMBO_SIZES[i] > FITS;
      const [group0, dropping, fragmenting] = record.outputs;
      const sentAs = (o: typeof group0) => [o.result, o.fragmented, o.error];
      expect(sentAs(group0), `packet ${i} (${JUMBO_SIZES[i]} bytes) to the group`).to.deep.equal([OutputResult.OUTPUT_RESULT_SENT, big, '']);
      expect(sentAs(dropping), `packet ${i} to the dropping output`).to.deep.equal(big ? [OutputResult.OUTPUT_RESULT_TOO_BIG, false, 'EMSGSIZE'] : [OutputResult.OUTPUT_RESULT_SENT, false, '']);
      expect(sentAs(fragmenting), `packet ${i} to the fragmenting output`).to.deep.equal([OutputResult.OUTPUT_RESULT_SENT, big, '']);
      if (big) expect([group0.segments, fragmenting.segments], `packet ${i}: fragments are never sent as GSO`).to.deep.equal([1, 1]);
    }
    await client.disableTrace(rule.id);
  });

  it('sends a size as GSO again once the route MTU that made the kernel refuse it is gone', async () => {
    const { client, topology } = relay;
    const group = '239.1.10.2';
    const port = 5002;
    const size = 1200;
    const burst = 30;
    const rule = await client.createRule({
      name: 'reprobe',
      input: { interface: NET.relayIn.ifname, group, port },
      outputs: [{ ...out1, address: sink, port: 7100, oversize: OversizePolicy.OVERSIZE_POLICY_DROP }],
    });
    await waitForRuleState(client, rule.id);
    await waitForWorkersInSync(client, 1);
    await client.enableTrace(rule.id, { recordLimit: 1_000, snapLength: 64 });
    const worker = (await client.listWorkers())[0];
    const sendBurst = async () => {
      const sent = await sendWhileStopped(worker.pid, topology.ns.src, ['python3', '-c', SIZES_SENDER, JSON.stringify([[group, port, Array<number>(burst).fill(size)]])]);
      expect(sent, 'the sender').to.equal(`sent ${burst}`);
    };
    const route = [sink + '/32', 'dev', NET.relayOut1.ifname];

    // A route whose MTU is below the size: GSO refused for it, and (DF) each datagram too big.
    ip(['-n', topology.ns.relay, 'route', 'add', ...route, 'mtu', 'lock', '1000']);
    try {
      await sendBurst();
      const refused = await waitFor('the first burst counted', () => waitForRulePackets(client, rule.id, burst), (s) => s.outputs[0].tooBig === BigInt(burst), 10_000);
      expect(refused.outputs[0].packets, 'sent under the route MTU').to.equal(0n);
    } finally {
      ip(['-n', topology.ns.relay, 'route', 'del', ...route]);
    }
    // The output tries GSO for the size again after a second.
    await sleep(1_200);
    const receiver = await startMarksReceiver(topology.ns.sink1, [{ address: sink, port: 7100, interfaceAddress: sink }], burst, { maxSeconds: 10 });
    await sendBurst();
    const got = await receiver.done;
    expect(got[0].payloads, 'the second burst, received').to.equal(burst);

    const { records } = await waitFor('the trace records', () => client.getTrace(rule.id), (t) => t.records.length >= 2 * burst, 10_000);
    const segments = records.map((r) => r.outputs[0].segments);
    expect(segments.slice(0, burst), 'first burst: not sent').to.deep.equal(Array<number>(burst).fill(0));
    expect(segments.slice(burst, 2 * burst).every((s) => s > 1), `second burst: in GSO messages again; segments ${segments.slice(burst).join(',')}`).to.equal(true);
    await client.disableTrace(rule.id);
  });

  it('lets a pending ICMP error cost at most one datagram of the output it concerns, none of another sharing its socket', async () => {
    const { client, topology } = relay;
    const group = '239.1.10.3';
    const port = 5004;
    const packets = 400;
    const TAIL = 10;
    const rule = await client.createRule({
      name: 'pending-error',
      input: { interface: NET.relayIn.ifname, group, port },
      outputs: [
        { ...out1, address: sink, port: 7200 },
        { ...out1, address: sink, port: 9999 }, // nobody listens: ICMP port unreachable
      ],
    });
    await waitForRuleState(client, rule.id);
    await waitForWorkersInSync(client, 1);
    const receiver = await startMarksReceiver(topology.ns.sink1, [{ address: sink, port: 7200, interfaceAddress: sink }], packets + TAIL, { maxSeconds: 20 });
    const before = await snmpCounters(topology.ns.relay);
    // Queued while the worker is stopped, read in batches back to back when it runs again: each batch
    // sends one GSO message per output, and the ICMP errors the first batches' datagrams to the closed
    // port bring arrive while the next ones are sent, pending on the shared socket.
    const worker = (await client.listWorkers())[0];
    const sent = await sendWhileStopped(worker.pid, topology.ns.src, ['python3', '-c', SIZES_SENDER, JSON.stringify([[group, port, Array<number>(packets).fill(300)]])]);
    expect(sent, 'the sender').to.equal(`sent ${packets}`);
    // An error read from the socket is charged to its output's next packet (decision 0043): a few
    // more, paced, give the errors of the last batches theirs.
    await runIn(topology.ns.src, ['python3', '-c', pacedSender(group, port, packets, TAIL)]);
    const got = await receiver.done;
    expect(got[0].payloads, 'the listening output: every packet').to.equal(packets + TAIL);

    const n = BigInt(packets + TAIL);
    const stats = await waitFor(
      'both outputs to account for every packet',
      () => waitForRulePackets(client, rule.id, packets + TAIL),
      (s) => s.outputs[1].packets + s.outputs[1].errorsUnreachable === n,
      10_000,
    );
    const icmp = grew(before, await snmpCounters(topology.ns.relay), 'Icmp.InDestUnreachs');
    const [listening, closed] = stats.outputs;
    expect([listening.packets, listening.errorsUnreachable, listening.errorsOther], 'the listening output').to.deep.equal([n, 0n, 0n]);
    expect(Number(closed.errorsUnreachable), `the closed port's errors, against ${icmp} ICMP errors received`).to.be.within(1, icmp);
    expect(closed.errorsOther, 'other errors on the closed port').to.equal(0n);
  });

  it('counts fragments by the interface MTU as it changes, the output\'s counters going on', async () => {
    const { client, topology } = relay;
    const group = '239.1.10.4';
    const port = 5006;
    const size = 1400;
    const each = 10;
    const sink2 = NET.sink2.address;
    const rule = await client.createRule({ name: 'mtu-change', input: { interface: NET.relayIn.ifname, group, port }, outputs: [{ interface: NET.relayOut2.ifname, address: sink2, port: 7300 }] });
    await waitForRuleState(client, rule.id);
    await waitForWorkersInSync(client, 1);
    const worker = (await client.listWorkers())[0];
    const burst = async (expected: number) => {
      const receiver = await startMarksReceiver(topology.ns.sink2, [{ address: sink2, port: 7300, interfaceAddress: sink2 }], each, { maxSeconds: 10 });
      expect(await sendWhileStopped(worker.pid, topology.ns.src, ['python3', '-c', SIZES_SENDER, JSON.stringify([[group, port, Array<number>(each).fill(size)]])])).to.equal(`sent ${each}`);
      expect((await receiver.done)[0].payloads, 'received, whole').to.equal(each);
      return waitFor(`${expected} packets counted`, () => waitForRulePackets(client, rule.id, expected), (s) => s.outputs[0].packets === BigInt(expected), 10_000);
    };
    const before = await burst(each);
    expect([before.outputs[0].packets, before.outputs[0].fragmented], 'MTU 1500: 1400 bytes fit').to.deep.equal([BigInt(each), 0n]);
    // Both ends of the link, so that the sink takes the fragments' size too.
    ip(['-n', topology.ns.relay, 'link', 'set', NET.relayOut2.ifname, 'mtu', '1200']);
    ip(['-n', topology.ns.sink2, 'link', 'set', NET.sink2.ifname, 'mtu', '1200']);
    try {
      // The supervisor hears of the MTU over rtnetlink and moves the output to a sender made for it;
      // nothing outside says when the worker has it (the rule set is the same), so bursts go until
      // one is fragmented. A burst is read in one batch: fragmented whole, or not at all.
      let sent = each;
      let fragmented = 0n;
      for (let tries = 0; fragmented === 0n; tries++) {
        expect(tries, 'bursts before the new MTU took effect').to.be.below(10);
        await sleep(200);
        sent += each;
        fragmented = (await burst(sent)).outputs[0].fragmented;
        expect([0n, BigInt(each)], 'fragmented: a whole burst or none').to.include(fragmented);
      }
      const after = (await client.getStats(rule.id))[0].outputs[0];
      expect([after.packets, after.fragmented], 'the counters went on: every packet sent once, the last burst fragmented').to.deep.equal([BigInt(sent), BigInt(each)]);
    } finally {
      ip(['-n', topology.ns.relay, 'link', 'set', NET.relayOut2.ifname, 'mtu', '1500']);
      ip(['-n', topology.ns.sink2, 'link', 'set', NET.sink2.ifname, 'mtu', '1500']);
    }
  });
});
