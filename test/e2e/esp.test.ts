/**
 * ESP (IP protocol 50) rules through the real mcrd (Input.protocol IP_PROTOCOL_ESP, decision 0063).
 * The source sends ESP with TTL 1 from a raw socket (test/support/esp-tool.py: no keys, no xfrm: the
 * bodies are as opaque to mcr as ciphertext) to a group that also carries a UDP stream. An ESP rule,
 * made by buf curl, relays each packet's IP payload unchanged to a multicast group on out1 and to
 * sink2 by unicast (TTL decremented, DSCP set, oversize dropped); raw ESP receivers compare every
 * packet byte for byte, in order. The UDP rule on the same group gets only the UDP stream; ESP shorter
 * than its header and AH to the group are counted as parse errors, not relayed; traces say ESP; the
 * relay's raw ESP sockets queue nothing of the ESP the host receives.
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import path from 'path';

import { IpProtocol, Rule, RuleState } from '../../gen/mcr/v1/rules';
import type { InputStats } from '../../gen/mcr/v1/stats';
import { bufCurl } from '../support/buf-curl';
import { useRelay } from '../support/fixture';
import { NET, runIn } from '../support/netns';
import { startReportingChild } from '../support/reporting-child';
import { waitFor } from '../support/poll';
import { waitForRulePackets, waitForWorkersInSync } from '../support/rules';
import { startMarksReceiver } from '../support/udp-marks';

const TOOL = path.join(__dirname, '..', 'support', 'esp-tool.py');
const GROUP = '239.1.14.1';
const OUT_GROUP = '239.1.14.9';
const UDP_PORT = 5000;
const PACKETS = 60;
const SPI = 0x00c0ffee;
const TOS = (34 << 2) | 1; // AF41, ECT(1)

interface EspPacket {
  spi: number | null;
  sequence: number | null;
  length: number;
  sha256: string;
  ttl: number;
  tos: number;
  source: string;
}

/** Starts a raw ESP receiver in `ns` for packets to `address`; resolves once it listens, with its report to come. */
function startEspReceiver(ns: string, address: string, ifaddr: string): Promise<{ done: Promise<EspPacket[]> }> {
  return startReportingChild<EspPacket[]>(ns, ['python3', TOOL, 'receive', address, ifaddr, String(PACKETS), '15'], 'ESP receiver');
}

/** The raw sockets of IP protocol 50 in `ns` (/proc/net/raw: the protocol is the local "port"), with their receive queues. */
function rawEspSockets(ns: string): Array<{ rxQueue: number; drops: number }> {
  const table = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/raw'], { encoding: 'utf8' });
  return table
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length > 12 && fields[1].endsWith(':0032'))
    .map((fields) => ({ rxQueue: parseInt(fields[4].split(':')[1], 16), drops: Number(fields[fields.length - 1]) }));
}

function parseErrorsOn(inputs: InputStats[], ifname: string): { badLength: number; notUdp: number; unmatched: number } {
  const mine = inputs.filter((i) => i.interface === ifname);
  const sum = (pick: (i: InputStats) => bigint | undefined) => mine.reduce((total, i) => total + Number(pick(i) ?? 0n), 0);
  return { badLength: sum((i) => i.parseErrors?.badLength), notUdp: sum((i) => i.parseErrors?.notUdp), unmatched: sum((i) => i.unmatched) };
}

describe('e2e: ESP rules', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 2 });

  it('relays ESP to a group, unchanged byte for byte, beside a UDP rule on that group, counted and traced as ESP', async () => {
    const { client, topology } = relay;
    const { src, relay: relayNs, sink1, sink2 } = topology.ns;
    const out1 = { interface: NET.relayOut1.ifname, address: OUT_GROUP };
    const out2 = { interface: NET.relayOut2.ifname, address: NET.sink2.address, dscp: 10, oversize: 'OVERSIZE_POLICY_DROP' };
    const created = await bufCurl(relay.mcrd.socketPath, 'mcr.v1.RuleService/CreateRule', {
      rule: { name: 'esp', input: { interface: NET.relayIn.ifname, group: GROUP, protocol: 'IP_PROTOCOL_ESP' }, outputs: [out1, out2] },
    });
    expect(created.error, created.stderr).to.equal(null);
    const esp = Rule.fromJSON(created.messages[0].rule);
    expect(esp.input!.protocol).to.equal(IpProtocol.IP_PROTOCOL_ESP);
    const withPort = await bufCurl(relay.mcrd.socketPath, 'mcr.v1.RuleService/CreateRule', {
      rule: { input: { interface: NET.relayIn.ifname, group: GROUP, port: UDP_PORT, protocol: 'IP_PROTOCOL_ESP' }, outputs: [out1] },
    });
    expect([withPort.error?.code, withPort.error?.message]).to.deep.equal([
      'invalid_argument',
      `rule.input.port: must be unset in an ESP rule (input.protocol IP_PROTOCOL_ESP): ESP has no port, got ${UDP_PORT}`,
    ]);
    const udp = await client.createRule({
      name: 'udp',
      input: { interface: NET.relayIn.ifname, group: GROUP, port: UDP_PORT },
      outputs: [{ interface: NET.relayOut1.ifname, address: NET.sink1.address, port: 7000 }],
    });
    for (const id of [esp.id, udp.id]) await waitFor(`rule ${id} active`, () => client.getRule(id), (r) => r.status?.state === RuleState.RULE_STATE_ACTIVE, 10_000);
    await waitForWorkersInSync(client, 2);
    await client.enableTrace(esp.id, { recordLimit: 1_000, snapLength: 64 });

    const multicast = await startEspReceiver(sink1, OUT_GROUP, NET.sink1.address);
    const unicast = await startEspReceiver(sink2, NET.sink2.address, NET.sink2.address);
    const udpReceiver = await startMarksReceiver(sink1, [{ address: NET.sink1.address, port: 7000, interfaceAddress: NET.sink1.address }], PACKETS, { maxSeconds: 15 });
    const before = parseErrorsOn(await client.getWorkerStats(), NET.relayIn.ifname);
    const udpSender = `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('${NET.src.address}'))
for i in range(${PACKETS}):
    s.sendto(('%04d' % i).encode().ljust(64, b'.'), ('${GROUP}', ${UDP_PORT}))
    time.sleep(0.005)
`;
    await Promise.all([
      runIn(src, ['python3', TOOL, 'send', GROUP, NET.src.address, String(PACKETS), String(SPI), String(TOS)], 30_000),
      runIn(src, ['python3', '-c', udpSender], 30_000),
      runIn(src, ['python3', TOOL, 'junk', GROUP, NET.src.address], 30_000),
    ]);
    const expected = JSON.parse(await runIn(src, ['python3', TOOL, 'expected', String(SPI), String(PACKETS)])) as Array<Pick<EspPacket, 'sequence' | 'length' | 'sha256'>>;
    const [onGroup, onUnicast, [udpMarks]] = await Promise.all([multicast.done, unicast.done, udpReceiver.done]);

    // Every packet once, in order, its IP payload (ESP header included) unchanged, from the relay's
    // address; TTL and TOS by each output's policy: the group's default TTL 1 and the TOS as
    // received; sink2's unicast TTL 64 and DSCP 10 with the received ECN bits.
    const view = (packets: EspPacket[]) => packets.map(({ sequence, length, sha256 }) => ({ sequence, length, sha256 }));
    const marks = (packets: EspPacket[]) => new Set(packets.map((p) => `${p.spi}/${p.ttl}/${p.tos}/${p.source}`));
    expect(view(onGroup), 'the multicast output').to.deep.equal(expected);
    expect(marks(onGroup)).to.deep.equal(new Set([`${SPI}/1/${TOS}/${NET.relayOut1.address}`]));
    expect(view(onUnicast), 'the unicast output').to.deep.equal(expected);
    expect(marks(onUnicast)).to.deep.equal(new Set([`${SPI}/64/${(10 << 2) | 1}/${NET.relayOut2.address}`]));
    expect(udpMarks.payloads, 'the UDP rule on the same group').to.equal(PACKETS);

    const stats = await waitForRulePackets(client, esp.id, PACKETS);
    expect([stats.packetsReceived, stats.packetsForwarded]).to.deep.equal([BigInt(PACKETS), BigInt(PACKETS)]);
    // The largest packets (1480 bytes of IP payload) fit a 1500-byte MTU: neither fragmented nor,
    // by the output that does not fragment, dropped.
    const [group, sink] = stats.outputs;
    expect([group.packets, group.fragmented, group.tooBig], 'the group output').to.deep.equal([BigInt(PACKETS), 0n, 0n]);
    expect([sink.packets, sink.fragmented, sink.tooBig], 'the unicast output').to.deep.equal([BigInt(PACKETS), 0n, 0n]);
    expect((await waitForRulePackets(client, udp.id, PACKETS)).packetsReceived).to.equal(BigInt(PACKETS));
    const after = await waitFor(
      'the junk counted',
      async () => parseErrorsOn(await client.getWorkerStats(), NET.relayIn.ifname),
      (e) => e.badLength - before.badLength >= 10 && e.notUdp - before.notUdp >= 10,
      10_000,
    );
    expect([after.badLength - before.badLength, after.notUdp - before.notUdp, after.unmatched - before.unmatched], 'short ESP, AH, unmatched').to.deep.equal([10, 10, 0]);

    const { records } = await waitFor('the trace records', () => client.getTrace(esp.id), (t) => t.records.length >= PACKETS, 10_000);
    expect(new Set(records.map((r) => r.protocol))).to.deep.equal(new Set([IpProtocol.IP_PROTOCOL_ESP]));
    expect(records.every((r) => r.sourcePort === 0 && r.destinationPort === 0 && r.destinationAddress === GROUP)).to.equal(true);
    const traced = await bufCurl(relay.mcrd.socketPath, 'mcr.v1.TraceService/GetTrace', { rule: esp.id });
    expect(traced.error, traced.stderr).to.equal(null);
    expect((traced.messages[0].records as Array<{ protocol?: string }>)[0].protocol, 'as buf curl reads it').to.equal('IP_PROTOCOL_ESP');

    // A raw socket gets a copy of the ESP its host receives on its interface: the relay's ESP senders
    // (one per output) must queue none of what sink1 sends to the relay's own address on out1.
    await runIn(sink1, ['python3', '-c', `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)\nfor i in range(10): s.sendto(bytes(16), ('${NET.relayOut1.address}', 0))`]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const senders = rawEspSockets(relayNs);
    expect(senders.length, '/proc/net/raw: the ESP senders').to.equal(2);
    expect(senders.map((s) => s.rxQueue), 'their receive queues').to.deep.equal([0, 0]);
  });

  it('sends with a TTL decremented from the received one, and the DSCP it is told to', async () => {
    const { client, topology } = relay;
    const { src, sink2 } = topology.ns;
    const rule = await client.createRule({
      name: 'esp-unicast',
      input: { interface: NET.relayIn.ifname, group: '239.1.14.2', protocol: IpProtocol.IP_PROTOCOL_ESP },
      outputs: [{ interface: NET.relayOut2.ifname, address: NET.sink2.address, ttlPolicy: 2, dscp: 10 }],
    });
    await waitFor('the rule active', () => client.getRule(rule.id), (r) => r.status?.state === RuleState.RULE_STATE_ACTIVE, 10_000);
    await waitForWorkersInSync(client, 2);
    const unicast = await startEspReceiver(sink2, NET.sink2.address, NET.sink2.address);
    // TTL 9 at the source this time.
    const sender = `
import importlib.util, socket
spec = importlib.util.spec_from_file_location('esp', '${TOOL}')
esp = importlib.util.module_from_spec(spec); spec.loader.exec_module(esp)
s = esp.multicast_socket(esp.IPPROTO_ESP, '${NET.src.address}')
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 9)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, ${TOS})
import time
for i in range(${PACKETS}):
    s.sendto(esp.esp_packet(${SPI}, i), ('239.1.14.2', 0))
    time.sleep(0.005)
`;
    await runIn(src, ['python3', '-c', sender], 30_000);
    const expected = JSON.parse(await runIn(src, ['python3', TOOL, 'expected', String(SPI), String(PACKETS)])) as unknown[];
    const got = await unicast.done;
    expect(got.map(({ sequence, length, sha256 }) => ({ sequence, length, sha256 }))).to.deep.equal(expected);
    // TTL 9 - 1; DSCP 10 with the received ECN bits (preserve_tos, the default).
    expect(new Set(got.map((p) => `${p.ttl}/${p.tos}/${p.source}`))).to.deep.equal(new Set([`8/${(10 << 2) | 1}/${NET.relayOut2.address}`]));
    const stats = await waitForRulePackets(client, rule.id, PACKETS);
    expect(stats.outputs[0].packets).to.equal(BigInt(PACKETS));
  });
});
