/**
 * ApplyRules against the real mcrd: a dry run reports exactly the diff the real apply then makes;
 * applying the same set again is a no-op (generation unchanged) and, while a stream flows, neither
 * that nor a change to another rule disturbs the untouched rule (it keeps counting and delivers every
 * packet); the CHANGES view answers what changed whole and counts the rest; a stale
 * expected_generation is ABORTED; one invalid rule refuses the whole set.
 */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { ApplyRulesResponse, ApplyRulesView, DeepPartial, Rule, RuleState } from '../../gen/mcr/v1/rules';
import { connect, McrClient as LibraryClient } from '../../clients/lib';
import { useRelay } from '../support/fixture';
import { grpcFailure, namesField, statusName } from '../support/grpc';
import { NET } from '../support/netns';
import { waitForRulePackets, waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const WORKERS = 2;
const A_INPUT = { address: '239.5.0.1', port: 5000 };
const A_OUTPUT = { address: '239.9.5.1', port: 6000 };
const PACKETS = 4000;
const RATE = 1000;

/** Rule `name` capturing 239.5.0.<n>:5000, sending to 239.9.5.<n>:6000 on out1 (and more). */
function rule(name: string, n: number, spec: DeepPartial<Rule> = {}): DeepPartial<Rule> {
  return {
    name,
    input: { interface: NET.relayIn.ifname, group: `239.5.0.${n}`, port: 5000 },
    outputs: [{ interface: NET.relayOut1.ifname, address: `239.9.5.${n}`, port: 6000 }],
    ...spec,
  };
}

const SET_1 = [rule('cam-a', 1), rule('cam-b', 2), rule('cam-c', 3)];
/** cam-a untouched, cam-b gets a second output, cam-c goes, cam-d comes. */
const SET_2 = [
  rule('cam-a', 1),
  rule('cam-b', 2, {
    outputs: [
      { interface: NET.relayOut1.ifname, address: '239.9.5.2', port: 6000 },
      { interface: NET.relayOut2.ifname, address: '239.9.5.2', port: 6000, ttl: 3 },
    ],
  }),
  rule('cam-d', 4),
];

/** A diff without what differs between a dry run and a real apply: times and status. */
function comparable(response: ApplyRulesResponse) {
  const strip = (rules: Rule[]) => rules.map((r) => ({ ...r, status: undefined, updatedUnixNanos: 0n, createdUnixNanos: 0n }));
  return { added: strip(response.added), changed: strip(response.changed), removed: strip(response.removed), unchanged: strip(response.unchanged) };
}

const names = (rules: Rule[]) => rules.map((r) => r.name);

describe('e2e: ApplyRules', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: WORKERS });
  let mcr: LibraryClient;

  before(() => {
    mcr = connect({ socket: relay.mcrd.socketPath, timeoutMs: 10_000 });
  });
  after(() => mcr?.close());

  it('a dry run reports exactly the diff the real apply then makes', async () => {
    const first = await mcr.applyRules({ rules: SET_1, replace: true });
    expect(names(first.added)).to.deep.equal(['cam-a', 'cam-b', 'cam-c']);
    await waitForWorkersInSync(relay.client, WORKERS);
    const generation = (await mcr.listRules()).storeGeneration;
    expect(first.storeGeneration).to.equal(generation);

    const dry = await mcr.applyRules({ rules: SET_2, replace: true, dryRun: true });
    expect(dry.dryRun).to.equal(true);
    expect(dry.storeGeneration).to.equal(generation);
    const listed = await mcr.listRules();
    expect(listed.storeGeneration, 'a dry run changes nothing').to.equal(generation);
    expect(names(listed.rules).sort()).to.deep.equal(['cam-a', 'cam-b', 'cam-c']);

    const real = await mcr.applyRules({ rules: SET_2, replace: true });
    expect(comparable(real)).to.deep.equal(comparable(dry));
    expect(real.storeGeneration).to.equal(generation + 1n);
    expect(names(real.added)).to.deep.equal(['cam-d']);
    expect(names(real.changed)).to.deep.equal(['cam-b']);
    expect(names(real.removed)).to.deep.equal(['cam-c']);
    expect(names(real.unchanged)).to.deep.equal(['cam-a']);
    expect(real.changed[0].id, 'a changed rule keeps its id').to.equal(first.added[1].id);
    expect(real.unchanged[0].generation).to.equal(first.added[0].generation);
    await waitForRuleState(relay.client, 'cam-d');
    await waitForWorkersInSync(relay.client, WORKERS);
  });

  it('a second apply is a no-op, and changes to other rules leave a flowing rule counting and delivering', async function () {
    const { client, topology } = relay;
    await mcr.applyRules({ rules: SET_2, replace: true });
    const a = await waitForRuleState(client, 'cam-a');
    const before = await mcr.listRules();
    let again: ApplyRulesResponse | undefined;
    let overlapped = false;
    const countsDuring: bigint[] = [];

    const result = await runStreams(topology, {
      flows: [{ ...A_INPUT, count: PACKETS, size: 300, seed: 8 }],
      rate: RATE,
      sinks: { sink1: [endpointIn('sink1', A_OUTPUT.address, A_OUTPUT.port, PACKETS)] },
      during: async (senderDone) => {
        countsDuring.push((await waitForRulePackets(client, a.id, 1, 20_000)).packetsReceived);
        again = await mcr.applyRules({ rules: SET_2, replace: true });
        // Change every other rule, twice, while cam-a carries the stream.
        await mcr.applyRules({ rules: [SET_2[0], rule('cam-b', 2), rule('cam-e', 5)], replace: true });
        countsDuring.push((await waitForRulePackets(client, a.id, Number(countsDuring[0]) + 1, 20_000)).packetsReceived);
        await mcr.applyRules({ rules: SET_2, replace: true });
        countsDuring.push((await waitForRulePackets(client, a.id, Number(countsDuring[1]) + 1, 20_000)).packetsReceived);
        overlapped = !senderDone();
      },
    });

    expect(again, 'the repeated apply answered').to.not.equal(undefined);
    expect(again!.storeGeneration, 'the same set again leaves the generation').to.equal(before.storeGeneration);
    expect([again!.added, again!.changed, again!.removed]).to.deep.equal([[], [], []]);
    expect(names(again!.unchanged)).to.deep.equal(['cam-a', 'cam-b', 'cam-d']);
    expect(overlapped, `the applies took longer than the ${PACKETS / RATE} s of traffic; they must happen under traffic`).to.equal(true);
    expect(countsDuring[1] > countsDuring[0] && countsDuring[2] > countsDuring[1], `cam-a counted on: ${countsDuring}`).to.equal(true);
    expectDelivered(result, A_INPUT, 'sink1', A_OUTPUT);
    const after = (await mcr.listRules()).rules.find((r) => r.name === 'cam-a')!;
    expect(after.generation, 'cam-a was never changed').to.equal(a.generation);
    expect((await client.getStats(a.id))[0].packetsReceived).to.equal(BigInt(PACKETS));
  });

  it('the CHANGES view answers the changed rules whole, with their status, and only counts the unchanged', async () => {
    await mcr.applyRules({ rules: SET_2, replace: true });
    await waitForWorkersInSync(relay.client, WORKERS);
    const oneChange = [SET_2[0], rule('cam-b', 2), SET_2[2]];
    const dry = await mcr.applyRules({ rules: oneChange, replace: true, dryRun: true });
    const changes = await mcr.applyRules({ rules: oneChange, replace: true, view: ApplyRulesView.APPLY_RULES_VIEW_CHANGES });
    expect(changes.view).to.equal(ApplyRulesView.APPLY_RULES_VIEW_CHANGES);
    expect(comparable(changes)).to.deep.equal({ ...comparable(dry), unchanged: [] });
    expect([changes.addedCount, changes.changedCount, changes.removedCount, changes.unchangedCount]).to.deep.equal([0, 1, 0, 2]);
    expect(changes.changed[0].status?.state, 'a changed rule comes with its status').to.not.equal(RuleState.RULE_STATE_UNSPECIFIED);
    expect(changes.changed[0].status?.state).to.not.equal(RuleState.RULE_STATE_VALIDATED);
    const again = await mcr.applyRules({ rules: oneChange, replace: true, view: ApplyRulesView.APPLY_RULES_VIEW_CHANGES });
    expect([again.added, again.changed, again.removed, again.unchanged, again.unchangedCount]).to.deep.equal([[], [], [], [], 3]);
    expect(again.storeGeneration).to.equal(changes.storeGeneration);
    await mcr.applyRules({ rules: SET_2, replace: true });
    await waitForWorkersInSync(relay.client, WORKERS);
  });

  it('a stale expected_generation is ABORTED; the current one applies', async () => {
    const { storeGeneration } = await mcr.listRules();
    const stale = await grpcFailure(mcr.applyRules({ rules: [rule('cam-f', 6)], expectedGeneration: storeGeneration - 1n }));
    expect(statusName(stale.code), stale.details).to.equal('ABORTED');
    expect(namesField(stale.details, 'expected_generation'), stale.details).to.equal(true);
    expect((await mcr.listRules()).storeGeneration).to.equal(storeGeneration);
    const applied = await mcr.applyRules({ rules: [rule('cam-f', 6)], expectedGeneration: storeGeneration });
    expect(names(applied.added)).to.deep.equal(['cam-f']);
    expect(applied.storeGeneration).to.equal(storeGeneration + 1n);
  });

  it('one invalid rule refuses the whole set: INVALID_ARGUMENT naming rules[i].field, nothing applied', async () => {
    const before = await mcr.listRules();
    const bad = [rule('cam-g', 7), rule('cam-h', 8, { outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.5.8', port: 0 }] })];
    const err = await grpcFailure(mcr.applyRules({ rules: bad, replace: true }));
    expect(statusName(err.code), err.details).to.equal(statusName(status.INVALID_ARGUMENT));
    expect(namesField(err.details, 'rules[1].outputs[0].port'), err.details).to.equal(true);
    const after = await mcr.listRules();
    expect(after.storeGeneration).to.equal(before.storeGeneration);
    expect(after.rules.map((r) => [r.id, r.generation])).to.deep.equal(before.rules.map((r) => [r.id, r.generation]));
  });
});
