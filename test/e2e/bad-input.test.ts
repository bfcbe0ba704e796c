/**
 * Bad input: every invalid request of DESIGN.md §3 is answered with the right status and names the
 * offending field in its details, and nothing is half-applied. Malformed frames injected on the
 * input are counted under the right parse error while the good stream is forwarded in full.
 */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { Rule } from '../../gen/mcr/v1/rules';
import { InputStats, ParseErrors } from '../../gen/mcr/v1/stats';
import { useRelay } from '../support/fixture';
import { grpcFailure, namesField, RuleSpec, statusName } from '../support/grpc';
import { NET } from '../support/netns';
import { describeValue, waitFor } from '../support/poll';
import { waitForRulePackets, waitForRuleState } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';
import { injectMalformedFrames } from '../support/traffic';

const INPUT = { interface: NET.relayIn.ifname, group: '239.5.5.5', port: 5000 };
const OUTPUT = { interface: NET.relayOut1.ifname, address: '239.9.5.5', port: 6000 };
const VALID: RuleSpec = { name: 'base', input: INPUT, outputs: [OUTPUT] };

/** VALID with its input and first output changed as given. */
function variant(change: { name?: string; input?: object | null; output?: object; outputs?: object[] }): RuleSpec {
  return {
    name: change.name ?? VALID.name,
    input: change.input === null ? undefined : { ...INPUT, ...change.input },
    outputs: change.outputs ?? [{ ...OUTPUT, ...change.output }],
  };
}

/** Invalid rule definitions, each with the field path its error must name (relative to the rule). */
const INVALID_DEFINITIONS: Array<[what: string, rule: RuleSpec, field: string]> = [
  ['a group that is not an address', variant({ input: { group: '239.5.5' } }), 'input.group'],
  ['a group outside 224.0.0.0/4', variant({ input: { group: '10.2.0.99' } }), 'input.group'],
  ['input port 0', variant({ input: { port: 0 } }), 'input.port'],
  ['an input port above 65535', variant({ input: { port: 65536 } }), 'input.port'],
  ['an input interface name with a slash', variant({ input: { interface: 'in/0' } }), 'input.interface'],
  ['an input interface name longer than 15 characters', variant({ input: { interface: 'abcdefghijklmnop' } }), 'input.interface'],
  ['an empty input interface name', variant({ input: { interface: '' } }), 'input.interface'],
  ['a source that is not an address', variant({ input: { source: '10.1.0' } }), 'input.source'],
  ['a rule without input', variant({ input: null }), 'input'],
  ['a rule without outputs', variant({ outputs: [] }), 'outputs'],
  ['an output address that is not an address', variant({ output: { address: '10.3.0.256' } }), 'outputs[0].address'],
  ['output port 0', variant({ output: { port: 0 } }), 'outputs[0].port'],
  ['port 0 on the second output', variant({ outputs: [OUTPUT, { ...OUTPUT, address: '239.9.5.6', port: 0 }] }), 'outputs[1].port'],
  ['an output interface name with a space', variant({ output: { interface: 'out 1' } }), 'outputs[0].interface'],
  ['TTL 0', variant({ output: { ttl: 0 } }), 'outputs[0].ttl'],
  ['TTL 256', variant({ output: { ttl: 256 } }), 'outputs[0].ttl'],
  ['DSCP 64', variant({ output: { dscp: 64 } }), 'outputs[0].dscp'],
  ['an output equal to its own input', variant({ output: { interface: INPUT.interface, address: INPUT.group, port: INPUT.port } }), 'outputs[0]'],
];

/** Asserts the call fails with `code` and details naming `field`. */
async function expectRejected(call: Promise<unknown>, code: status, field: string): Promise<void> {
  const err = await grpcFailure(call);
  expect(statusName(err.code), `status (details: ${err.details})`).to.equal(statusName(code));
  expect(namesField(err.details, field), `details ${JSON.stringify(err.details)} name the field ${field}`).to.equal(true);
}

/** What must not change when a request fails: the definition and the generation. */
function definitionOf(rule: Rule) {
  return { id: rule.id, name: rule.name, input: rule.input, outputs: rule.outputs, generation: rule.generation };
}

/**
 * Kinds of inject-frames.py and the parse error each must be counted as: a frame shorter than its IP
 * total length is truncated; lengths that contradict each other within the frame are bad lengths.
 */
const FRAME_KIND_COUNTER: Record<string, keyof ParseErrors> = {
  truncated_payload: 'truncated',
  truncated_udp_header: 'truncated',
  ip_length_below_header: 'badLength',
  udp_header_beyond_ip_length: 'badLength',
  udp_length_mismatch: 'badLength',
  bad_ihl: 'badHeader',
  bad_checksum: 'badHeader',
  fragment_first: 'fragment',
  fragment_last: 'fragment',
  not_udp: 'notUdp',
};
const PARSE_ERRORS: Array<keyof ParseErrors> = ['truncated', 'notIpv4', 'badHeader', 'badLength', 'fragment', 'notUdp'];

/** Parse errors summed over every worker's input on `ifname`. */
function parseErrorsOn(inputs: InputStats[], ifname: string): Record<keyof ParseErrors, number> {
  const sum = Object.fromEntries(PARSE_ERRORS.map((k) => [k, 0])) as Record<keyof ParseErrors, number>;
  for (const input of inputs.filter((i) => i.interface === ifname)) {
    for (const key of PARSE_ERRORS) sum[key] += Number(input.parseErrors?.[key] ?? 0n);
  }
  return sum;
}

describe('e2e: bad input', function () {
  this.timeout(180_000);
  const relay = useRelay({ workers: 2 });

  describe('invalid requests', function () {
    let base: Rule;
    let second: Rule;

    before(async function () {
      base = await relay.client.createRule(VALID);
      second = await relay.client.createRule(variant({ name: 'second', input: { group: '239.5.5.6' }, output: { address: '239.9.5.6' } }));
    });

    for (const [what, rule, field] of INVALID_DEFINITIONS) {
      it(`CreateRule refuses ${what} with INVALID_ARGUMENT naming rule.${field}`, async function () {
        await expectRejected(relay.client.createRule(rule), status.INVALID_ARGUMENT, `rule.${field}`);
        await expectRejected(relay.client.createRule(rule, true), status.INVALID_ARGUMENT, `rule.${field}`);
      });
      it(`UpdateRule refuses ${what} with INVALID_ARGUMENT naming definition.${field}`, async function () {
        await expectRejected(relay.client.updateRule(base.id, rule), status.INVALID_ARGUMENT, `definition.${field}`);
      });
    }

    it('CreateRule with validate_only accepts a valid rule without creating it', async function () {
      const candidate = variant({ name: 'dry-run', input: { group: '239.5.5.7' } });
      const validated = await relay.client.createRule(candidate, true);
      expect(validated.input?.group).to.equal('239.5.5.7');
      await expectRejected(relay.client.getRule('dry-run'), status.NOT_FOUND, 'rule');
    });

    it('ALREADY_EXISTS for the same match key, id or name', async function () {
      await expectRejected(relay.client.createRule({ ...VALID, name: 'other' }), status.ALREADY_EXISTS, 'rule.input');
      await expectRejected(relay.client.createRule({ ...variant({ name: 'other', input: { group: '239.5.5.8' } }), id: base.id }), status.ALREADY_EXISTS, 'rule.id');
      await expectRejected(relay.client.createRule(variant({ input: { group: '239.5.5.8' } })), status.ALREADY_EXISTS, 'rule.name');
      await expectRejected(relay.client.updateRule(second.id, variant({ name: 'second' })), status.ALREADY_EXISTS, 'definition.input');
    });

    it('NOT_FOUND for an unknown rule', async function () {
      await expectRejected(relay.client.getRule('r-000000000000'), status.NOT_FOUND, 'rule');
      await expectRejected(relay.client.updateRule('r-000000000000', VALID), status.NOT_FOUND, 'rule');
      await expectRejected(relay.client.deleteRule('no-such-rule'), status.NOT_FOUND, 'rule');
    });

    it('ABORTED for a stale expected_generation', async function () {
      const current = await relay.client.getRule(base.id);
      const changed = variant({ output: { port: 6999 } });
      await expectRejected(relay.client.updateRule(base.id, changed, { expectedGeneration: current.generation + 1n }), status.ABORTED, 'expected_generation');
      await expectRejected(relay.client.deleteRule(base.id, current.generation + 1n), status.ABORTED, 'expected_generation');
    });

    it('UpdateRule refuses a definition whose id is not the rule’s', async function () {
      await expectRejected(relay.client.updateRule(base.id, { ...VALID, id: 'r-ffffffffffff' }), status.INVALID_ARGUMENT, 'definition.id');
    });

    it('nothing was half-applied: ListRules shows the two rules exactly as created', async function () {
      const listed = (await relay.client.listRules()).rules.map(definitionOf);
      const sortById = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
      expect(describeValue(listed.sort(sortById))).to.equal(describeValue([base, second].map(definitionOf).sort(sortById)));
    });

    after(async function () {
      for (const rule of [base, second]) if (rule) await relay.client.deleteRule(rule.id);
    });
  });

  describe('malformed frames', function () {
    const input = { address: '239.6.6.6', port: 5000 };
    const output = { address: '239.9.6.6', port: 6000 };
    const PACKETS = 3000;
    const EACH_KIND = 50;

    it('are counted by kind while the good stream is forwarded in full', async function () {
      const { client, topology } = relay;
      const rule = await client.createRule({
        name: 'malformed',
        input: { interface: NET.relayIn.ifname, group: input.address, port: input.port },
        outputs: [{ interface: NET.relayOut1.ifname, ...output }],
      });
      await waitForRuleState(client, rule.id);
      const before = parseErrorsOn(await client.getWorkerStats(), NET.relayIn.ifname);

      let injected: Record<string, number> = {};
      const result = await runStreams(topology, {
        flows: [{ ...input, count: PACKETS, size: 200, seed: 7 }],
        rate: 1000,
        sinks: { sink1: [endpointIn('sink1', output.address, output.port, PACKETS)] },
        during: async () => {
          await waitForRulePackets(client, rule.id, 1, 20_000); // the good stream is flowing
          const report = await injectMalformedFrames(topology.ns.src, {
            interface: NET.src.ifname,
            source: NET.src.address,
            group: input.address,
            port: input.port,
            count: EACH_KIND,
            intervalMs: 10,
          });
          injected = report.frames;
        },
      });
      expectDelivered(result, input, 'sink1', output);
      expect(Object.keys(injected).sort()).to.deep.equal(Object.keys(FRAME_KIND_COUNTER).sort());

      const expected = Object.fromEntries(PARSE_ERRORS.map((k) => [k, before[k]])) as Record<keyof ParseErrors, number>;
      for (const [kind, count] of Object.entries(injected)) expected[FRAME_KIND_COUNTER[kind]] += count;
      // Counters reach mcrd asynchronously: wait until they are exactly what was injected.
      await waitFor(
        `parse errors on in0 to be ${describeValue(expected)} (kinds counted as ${describeValue(FRAME_KIND_COUNTER)})`,
        async () => parseErrorsOn(await client.getWorkerStats(), NET.relayIn.ifname),
        (counted) => PARSE_ERRORS.every((k) => counted[k] === expected[k]),
      );

      const stats = await waitForRulePackets(client, rule.id, PACKETS);
      expect(stats.packetsReceived, 'only the good packets matched the rule').to.equal(BigInt(PACKETS));
      expect(stats.packetsForwarded).to.equal(BigInt(PACKETS));
    });
  });
});
