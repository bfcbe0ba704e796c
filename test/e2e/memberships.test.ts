/**
 * IGMP memberships: mcrd joins every input group on its input interface, also beyond the kernel's
 * per-socket cap (net.ipv4.igmp_max_memberships, 20 by default), and leaves them when the rules go.
 * What the relay's kernel has joined is read from its /proc/net/igmp.
 */
import { expect } from 'chai';

import { RuleState } from '../../gen/mcr/v1/rules';
import { useRelay } from '../support/fixture';
import { joinedGroups } from '../support/igmp';
import { NET, runIn } from '../support/netns';
import { waitFor } from '../support/poll';

const GROUPS = 25;
const INPUT_PORT = 5000;
const inputGroup = (i: number) => `239.10.0.${i + 1}`;

describe('e2e: IGMP memberships beyond igmp_max_memberships', function () {
  this.timeout(90_000);
  const relay = useRelay({ workers: 2 });
  const groups = Array.from({ length: GROUPS }, (_, i) => inputGroup(i));
  const ruleIds: string[] = [];

  it(`the relay's kernel caps memberships per socket below ${GROUPS}`, async function () {
    const cap = Number((await runIn(relay.topology.ns.relay, ['cat', '/proc/sys/net/ipv4/igmp_max_memberships'])).trim());
    expect(cap, 'net.ipv4.igmp_max_memberships in the relay namespace').to.be.lessThan(GROUPS);
  });

  it(`${GROUPS} rules on ${GROUPS} groups: all ${GROUPS} are joined on ${NET.relayIn.ifname}`, async function () {
    const { client, topology } = relay;
    for (const [i, group] of groups.entries()) {
      const rule = await client.createRule({
        name: `group-${i + 1}`,
        input: { interface: NET.relayIn.ifname, group, port: INPUT_PORT },
        outputs: [{ interface: NET.relayOut1.ifname, address: `239.20.0.${i + 1}`, port: 6000 }],
      });
      ruleIds.push(rule.id);
    }
    await waitFor(
      `every rule ${RuleState[RuleState.RULE_STATE_ACTIVE]}`,
      () => client.listRules(),
      (list) => list.rules.length === GROUPS && list.rules.every((r) => r.status?.state === RuleState.RULE_STATE_ACTIVE),
    );
    const joined = await waitFor(
      `all ${GROUPS} groups in the relay's /proc/net/igmp for ${NET.relayIn.ifname}`,
      () => joinedGroups(topology.ns.relay, NET.relayIn.ifname),
      (list) => groups.every((g) => list.includes(g)),
    );
    expect(joined).to.include.members(groups);
  });

  it('deleting the rules leaves every one of those groups', async function () {
    const { client, topology } = relay;
    expect(ruleIds, 'rules created by the previous test').to.have.length(GROUPS);
    for (const id of ruleIds) await client.deleteRule(id);
    expect((await client.listRules()).rules).to.deep.equal([]);
    const joined = await waitFor(
      `none of the ${GROUPS} groups left in the relay's /proc/net/igmp for ${NET.relayIn.ifname}`,
      () => joinedGroups(topology.ns.relay, NET.relayIn.ifname),
      (list) => !groups.some((g) => list.includes(g)),
    );
    expect(joined.filter((g) => groups.includes(g))).to.deep.equal([]);
  });
});
