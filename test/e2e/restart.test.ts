/**
 * Restart: mcrd stops cleanly on SIGTERM and, started again with the same state directory, brings
 * back the rule (same id and definition) and forwards again without any client action.
 */
import { expect } from 'chai';

import { Rule } from '../../gen/mcr/v1/rules';
import { useRelay } from '../support/fixture';
import { NET } from '../support/netns';
import { describeValue, waitFor } from '../support/poll';
import { waitForRuleState } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const INPUT = { address: '239.1.1.1', port: 5000 };
const OUTPUT = { address: '239.9.9.9', port: 6000 };
const PACKETS = 1000;

describe('e2e: restart', function () {
  this.timeout(180_000);
  const relay = useRelay({ workers: 2 });

  function stream(seed: number) {
    return runStreams(relay.topology, {
      flows: [{ ...INPUT, count: PACKETS, size: 300, seed }],
      rate: 1000,
      sinks: { sink1: [endpointIn('sink1', OUTPUT.address, OUTPUT.port, PACKETS)] },
    });
  }

  const definitionOf = (rule: Rule) => describeValue({ id: rule.id, name: rule.name, input: rule.input, outputs: rule.outputs });

  it('restores the rule and forwards again after SIGTERM and a new start', async function () {
    const created = await relay.client.createRule({
      name: 'persisted',
      input: { interface: NET.relayIn.ifname, group: INPUT.address, port: INPUT.port },
      outputs: [{ interface: NET.relayOut1.ifname, ...OUTPUT, ttl: 4 }],
    });
    await waitForRuleState(relay.client, created.id);
    expectDelivered(await stream(8), INPUT, 'sink1', OUTPUT);

    const firstPid = relay.mcrd.pid;
    const exit = await relay.mcrd.stop();
    expect(exit, 'mcrd exit on SIGTERM').to.deep.equal({ code: 0, signal: null, killed: false });
    // Its workers go with it (within moments: they may be finishing their exit when mcrd is done).
    await waitFor('no process left in the relay namespace after mcrd stopped', () => relay.topology.pids('relay'), (pids) => pids.length === 0, 3000);
    await relay.mcrd.start();
    expect(relay.mcrd.pid).to.not.equal(firstPid);
    const client = relay.reconnect();

    const listed = (await client.listRules()).rules;
    expect(listed.map(definitionOf), 'rules after the restart').to.deep.equal([definitionOf(created)]);
    // No client action: the restored rule gets installed by itself.
    await waitForRuleState(client, created.id);
    expectDelivered(await stream(9), INPUT, 'sink1', OUTPUT);
  });
});
