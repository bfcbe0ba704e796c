/**
 * Integrity across two workers: 20,000 packets with sequence numbers and pseudo-random payloads, in
 * four flows whose rules are owned two by each worker; every sink gets every payload exactly once,
 * byte for byte (sha256 per sequence number), in order.
 */
import { expect } from 'chai';

import { Rule } from '../../gen/mcr/v1/rules';
import { useRelay } from '../support/fixture';
import { NET } from '../support/netns';
import { createRuleOnWorker, waitForRulePackets, waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { Destination, endpointIn, expectDelivered, runStreams } from '../support/streams';

const WORKERS = 2;
const RULES_PER_WORKER = 2;
const TOTAL_PACKETS = 20_000;
const PAYLOAD_SIZES = [64, 400, 1000, 1400];
/** Groups tried until each worker owns RULES_PER_WORKER rules. */
const CANDIDATES = 32;

interface Placed {
  rule: Rule;
  input: Destination;
  output: Destination;
  sink: 'sink1' | 'sink2';
}

describe('e2e: integrity across two workers', function () {
  this.timeout(180_000);
  const relay = useRelay({ workers: WORKERS });

  /** Creates candidate rules and keeps RULES_PER_WORKER on each worker (deleting the surplus). */
  async function placeRules(): Promise<Placed[]> {
    const { client } = relay;
    const kept: Placed[] = [];
    const perWorker = new Map<number, number>();
    for (let i = 1; i <= CANDIDATES && kept.length < WORKERS * RULES_PER_WORKER; i++) {
      const sink = kept.length % 2 === 0 ? 'sink1' : 'sink2';
      const input = { address: `239.2.0.${i}`, port: 5000 + i };
      const output = { address: `239.9.2.${i}`, port: 6000 + i };
      const { rule, worker } = await createRuleOnWorker(client, {
        name: `flow-${i}`,
        input: { interface: NET.relayIn.ifname, group: input.address, port: input.port },
        outputs: [{ interface: sink === 'sink1' ? NET.relayOut1.ifname : NET.relayOut2.ifname, ...output }],
      });
      if ((perWorker.get(worker) ?? 0) < RULES_PER_WORKER) {
        perWorker.set(worker, (perWorker.get(worker) ?? 0) + 1);
        kept.push({ rule, input, output, sink });
      } else {
        await client.deleteRule(rule.id);
      }
    }
    return kept;
  }

  it('delivers 20,000 packets exactly once, byte for byte, with rules on both workers', async function () {
    const { client, topology } = relay;
    const placed = await placeRules();
    const workers = await waitForWorkersInSync(client, WORKERS);
    expect(workers.map((w) => w.rules), `rules per worker (candidates tried: ${CANDIDATES})`).to.deep.equal(workers.map(() => RULES_PER_WORKER));
    for (const p of placed) await waitForRuleState(client, p.rule.id);

    const perFlow = TOTAL_PACKETS / placed.length;
    const result = await runStreams(topology, {
      flows: placed.map((p, i) => ({ ...p.input, count: perFlow, size: PAYLOAD_SIZES[i % PAYLOAD_SIZES.length], seed: 100 + i })),
      rate: 4000,
      sinks: {
        sink1: placed.filter((p) => p.sink === 'sink1').map((p) => endpointIn('sink1', p.output.address, p.output.port, perFlow)),
        sink2: placed.filter((p) => p.sink === 'sink2').map((p) => endpointIn('sink2', p.output.address, p.output.port, perFlow)),
      },
    });
    for (const p of placed) expectDelivered(result, p.input, p.sink, p.output);

    for (const p of placed) {
      const stats = await waitForRulePackets(client, p.rule.id, perFlow);
      expect(stats.packetsForwarded, `packets forwarded by ${p.rule.name}`).to.equal(BigInt(perFlow));
    }
  });
});
