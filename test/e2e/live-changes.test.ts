/**
 * Live changes: while rule A carries traffic, rule B (owned by the same worker as A when the hash
 * allows) is added and deleted 50 times; rule A loses nothing.
 */
import { expect } from 'chai';

import { useRelay } from '../support/fixture';
import { RuleSpec } from '../support/grpc';
import { NET } from '../support/netns';
import { createRuleOnWorker, waitForRulePackets, waitForRuleState } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const A_INPUT = { address: '239.3.0.1', port: 5000 };
const A_OUTPUT = { address: '239.9.3.1', port: 6000 };
const PACKETS = 10_000;
const RATE = 1000;
const CHANGES = 50;
/** Groups tried for a rule B on A's worker. */
const CANDIDATES = 16;

function ruleB(i: number): RuleSpec {
  return {
    name: 'rule-b',
    input: { interface: NET.relayIn.ifname, group: `239.3.1.${i}`, port: 5100 + i },
    outputs: [{ interface: NET.relayOut2.ifname, address: '239.9.3.2', port: 6100 }],
  };
}

describe('e2e: live rule changes', function () {
  this.timeout(180_000);
  const relay = useRelay({ workers: 2 });

  /** A rule B definition owned by `worker` (the worker A's packets go through), if one is found. */
  async function ruleBOnWorker(worker: number): Promise<RuleSpec> {
    for (let i = 1; i <= CANDIDATES; i++) {
      const placed = await createRuleOnWorker(relay.client, ruleB(i));
      await relay.client.deleteRule(placed.rule.id);
      if (placed.worker === worker) return ruleB(i);
    }
    throw new Error(`none of ${CANDIDATES} candidate groups for rule B hashed to worker ${worker}`);
  }

  it(`rule A loses nothing while rule B is added and deleted ${CHANGES} times`, async function () {
    const { client, topology } = relay;
    const a = await createRuleOnWorker(client, {
      name: 'rule-a',
      input: { interface: NET.relayIn.ifname, group: A_INPUT.address, port: A_INPUT.port },
      outputs: [{ interface: NET.relayOut1.ifname, ...A_OUTPUT }],
    });
    const b = await ruleBOnWorker(a.worker);
    await waitForRuleState(client, a.rule.id);

    let changesDone = 0;
    let overlapped = false;
    const result = await runStreams(topology, {
      flows: [{ ...A_INPUT, count: PACKETS, size: 256, seed: 5 }],
      rate: RATE,
      sinks: { sink1: [endpointIn('sink1', A_OUTPUT.address, A_OUTPUT.port, PACKETS)] },
      during: async (senderDone) => {
        await waitForRulePackets(client, a.rule.id, 1, 20_000); // traffic is flowing through A
        for (; changesDone < CHANGES; changesDone++) {
          const created = await client.createRule(b);
          await client.deleteRule(created.id);
        }
        overlapped = !senderDone();
      },
    });

    expect(changesDone).to.equal(CHANGES);
    expect(overlapped, `the ${CHANGES} changes took longer than the ${PACKETS / RATE} s of traffic; they must happen under traffic`).to.equal(true);
    expectDelivered(result, A_INPUT, 'sink1', A_OUTPUT);
    expect((await client.listRules()).rules.map((r) => r.id)).to.deep.equal([a.rule.id]);
  });
});
