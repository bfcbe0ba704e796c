/**
 * Each output's source address, through the real mcrd (Output.source): out1 gets a second address,
 * and an unnumbered link (un0, no IPv4 address, a host route through it) leads to sink2. One rule's
 * outputs send from the interface's own address (no source), from out1's second address, from an
 * address of no interface through the unnumbered link, and (made by buf curl) from an address out1
 * does not have, which mcr refuses to use: that output waits, the rule says why, and it comes up
 * once the address is added. The receivers see each datagram from the address its output names.
 */
import { expect } from 'chai';

import { Rule, RuleState } from '../../gen/mcr/v1/rules';
import { bufCurl } from '../support/buf-curl';
import { useRelay } from '../support/fixture';
import { ip, NET, runIn } from '../support/netns';
import { waitFor } from '../support/poll';
import { waitForRulePackets, waitForWorkersInSync } from '../support/rules';
import { startMarksReceiver } from '../support/udp-marks';

const GROUP = '239.1.13.1';
const PORT = 5000;
const PACKETS = 50;
const SECOND = '10.3.0.9';
const UNLISTED = '10.3.0.77';
const UNNUMBERED_SINK = '10.9.0.2';
const FREE = '192.0.2.1';

/** Sends PACKETS datagrams of 100 bytes to the group, 5 ms apart. */
const SENDER = `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${NET.src.address}', 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('${NET.src.address}'))
for i in range(${PACKETS}):
    s.sendto(('%04d' % i).encode().ljust(100, b'.'), ('${GROUP}', ${PORT}))
    time.sleep(0.005)
`;

describe('e2e: the source address of each output', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 1 });

  it('sends from the address each output names, on numbered and unnumbered links, and refuses one its interface does not have', async () => {
    const { client, topology } = relay;
    const { relay: relayNs, sink1, sink2 } = topology.ns;
    // out1's second address; the unnumbered link: un0 (relay, no address) to un1 (sink2, 10.9.0.2).
    ip(['-n', relayNs, 'addr', 'add', `${SECOND}/24`, 'dev', NET.relayOut1.ifname]);
    ip(['-n', relayNs, 'link', 'add', 'un0', 'type', 'veth', 'peer', 'name', 'un1', 'netns', sink2]);
    ip(['-n', sink2, 'addr', 'add', `${UNNUMBERED_SINK}/24`, 'dev', 'un1']);
    ip(['-n', sink2, 'link', 'set', 'un1', 'up']);
    ip(['-n', relayNs, 'link', 'set', 'un0', 'up']);
    ip(['-n', relayNs, 'route', 'add', `${UNNUMBERED_SINK}/32`, 'dev', 'un0']);
    // The sink takes datagrams from a source it has no route back to (it is the point of the test).
    for (const name of ['all', 'un1']) await runIn(sink2, ['sysctl', '-qw', `net.ipv4.conf.${name}.rp_filter=0`]);

    const out1 = (port: number, source?: string) => ({ interface: NET.relayOut1.ifname, address: NET.sink1.address, port, ...(source ? { source } : {}) });
    const created = await bufCurl(relay.mcrd.socketPath, 'mcr.v1.RuleService/CreateRule', {
      rule: {
        name: 'sources',
        input: { interface: NET.relayIn.ifname, group: GROUP, port: PORT },
        outputs: [out1(7000), out1(7001, SECOND), { interface: 'un0', address: UNNUMBERED_SINK, port: 7002, source: FREE }, out1(7003, UNLISTED)],
      },
    });
    expect(created.error, created.stderr).to.equal(null);
    const rule = Rule.fromJSON(created.messages[0].rule);
    const multicastSource = await bufCurl(relay.mcrd.socketPath, 'mcr.v1.RuleService/CreateRule', {
      rule: { input: { interface: NET.relayIn.ifname, group: GROUP, port: PORT + 1 }, outputs: [out1(7009, '239.1.1.1')] },
    });
    expect([multicastSource.error?.code, multicastSource.error?.message]).to.deep.equal(['invalid_argument', 'rule.outputs[0].source: 239.1.1.1 is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)']);

    const status = await waitFor('the rule to be active without its fourth output', () => client.getRule(rule.id), (r) => r.status?.state === RuleState.RULE_STATE_ACTIVE, 10_000);
    expect(status.status!.reason).to.equal(`outputs[3] source ${UNLISTED} is not an address of ${NET.relayOut1.ifname}`);
    await waitForWorkersInSync(client, 1);

    const sink = NET.sink1.address;
    const numbered = await startMarksReceiver(sink1, [7000, 7001, 7003].map((port) => ({ address: sink, port, interfaceAddress: sink })), PACKETS, { maxSeconds: 10 });
    const unnumbered = await startMarksReceiver(sink2, [{ address: UNNUMBERED_SINK, port: 7002, interfaceAddress: UNNUMBERED_SINK }], PACKETS, { maxSeconds: 10 });
    await runIn(topology.ns.src, ['python3', '-c', SENDER], 30_000);
    const got = [...(await numbered.done), ...(await unnumbered.done)];
    const view = (port: number) => {
      const m = got.find((e) => e.port === port)!;
      return [m.payloads, m.sources];
    };
    expect(view(7000), 'no source: the interface\'s address').to.deep.equal([PACKETS, [NET.relayOut1.address]]);
    expect(view(7001), 'out1\'s second address').to.deep.equal([PACKETS, [SECOND]]);
    expect(view(7002), 'an address of no interface, through the unnumbered link').to.deep.equal([PACKETS, [FREE]]);
    expect(view(7003), 'an address out1 does not have: nothing sent').to.deep.equal([0, []]);
    const stats = await waitForRulePackets(client, rule.id, PACKETS);
    expect(stats.outputs.map((o) => o.packets)).to.deep.equal([BigInt(PACKETS), BigInt(PACKETS), BigInt(PACKETS), 0n]);

    // The address added: the fourth output comes up and sends from it.
    ip(['-n', relayNs, 'addr', 'add', `${UNLISTED}/24`, 'dev', NET.relayOut1.ifname]);
    await waitFor('the rule without a reason', () => client.getRule(rule.id), (r) => r.status?.reason === '', 10_000);
    await waitForWorkersInSync(client, 1);
    const late = await startMarksReceiver(sink1, [{ address: sink, port: 7003, interfaceAddress: sink }], PACKETS, { maxSeconds: 10 });
    await runIn(topology.ns.src, ['python3', '-c', SENDER], 30_000);
    const [fourth] = await late.done;
    expect([fourth.payloads, fourth.sources], 'the fourth output, once out1 has its address').to.deep.equal([PACKETS, [UNLISTED]]);
  });
});
