/**
 * A rule may name an input interface that does not exist (yet): it is accepted, stored and reported
 * as waiting for its interface, not refused.
 */
import { expect } from 'chai';

import { RuleState } from '../../gen/mcr/v1/rules';
import { useRelay } from '../support/fixture';
import { NET } from '../support/netns';
import { waitForRuleState } from '../support/rules';

const MISSING_INTERFACE = 'nosuch0';

describe('e2e: rule on a missing interface', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 2 });

  it('is accepted and listed as WAITING_FOR_INTERFACE', async function () {
    const { client } = relay;
    const created = await client.createRule({
      name: 'early',
      input: { interface: MISSING_INTERFACE, group: '239.7.7.7', port: 5000 },
      outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.7.7', port: 6000 }],
    });
    const rule = await waitForRuleState(client, created.id, RuleState.RULE_STATE_WAITING_FOR_INTERFACE);
    expect(rule.status?.reason, 'reason names the missing interface').to.include(MISSING_INTERFACE);

    const listed = (await client.listRules()).rules.find((r) => r.id === created.id);
    expect(listed?.status?.state, 'state in ListRules').to.equal(RuleState.RULE_STATE_WAITING_FOR_INTERFACE);
  });
});
