/**
 * RuleService's output-only fields and partial updates against the real mcrd, through the typed
 * client library: validate_only answers RULE_STATE_VALIDATED (not an unset state), DeleteRule answers
 * the rule with its last status, output-only fields a client sends are ignored, and UpdateRule with
 * an update_mask changes one output's TTL without restating the rule (an unknown path is refused).
 */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { connect, McrCallError, McrClient as LibraryClient } from '../../clients/lib';
import { DeepPartial, Rule, RuleState } from '../../gen/mcr/v1/rules';
import { useRelay } from '../support/fixture';
import { NET } from '../support/netns';
import { waitForRuleState } from '../support/rules';

function rule(name: string, n: number): DeepPartial<Rule> {
  return {
    name,
    input: { interface: NET.relayIn.ifname, group: `239.6.0.${n}`, port: 5000 },
    outputs: [
      { interface: NET.relayOut1.ifname, address: `239.9.6.${n}`, port: 6000, ttl: 4 },
      { interface: NET.relayOut2.ifname, address: `239.9.6.${n}`, port: 6001 },
    ],
  };
}

async function callError(promise: Promise<unknown>): Promise<McrCallError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(McrCallError);
    return err as McrCallError;
  }
  return expect.fail('the call succeeded');
}

describe('e2e: RuleService output-only fields and update_mask', function () {
  this.timeout(60_000);
  const relay = useRelay({ workers: 1 });
  let mcr: LibraryClient;

  before(() => {
    mcr = connect({ socket: relay.mcrd.socketPath, timeoutMs: 10_000 });
  });
  after(() => mcr?.close());

  it('validate_only answers RULE_STATE_VALIDATED and creates nothing', async () => {
    const { rule: checked } = await mcr.createRule({ rule: rule('cam-v', 1), validateOnly: true });
    expect(checked!.status!.state).to.equal(RuleState.RULE_STATE_VALIDATED);
    expect((await mcr.listRules()).rules).to.have.length(0);

    await mcr.createRule({ rule: rule('cam-v', 1) });
    const { rule: update } = await mcr.updateRule({ rule: 'cam-v', definition: { ...rule('cam-v', 1), name: 'cam-w' }, validateOnly: true });
    expect([update!.status!.state, update!.name]).to.deep.equal([RuleState.RULE_STATE_VALIDATED, 'cam-w']);
    const dry = await mcr.applyRules({ rules: [rule('cam-x', 2)], dryRun: true });
    expect(dry.added.map((r) => r.status!.state)).to.deep.equal([RuleState.RULE_STATE_VALIDATED]);
    await mcr.deleteRule({ rule: 'cam-v' });
  });

  it('a rule its worker has not confirmed yet answers RULE_STATE_PENDING, then becomes active on its own', async () => {
    const [worker] = await relay.client.listWorkers();
    process.kill(worker.pid, 'SIGSTOP');
    let created: Rule | undefined;
    try {
      // The worker cannot confirm: the reply comes after the change budget, with the state so far.
      ({ rule: created } = await mcr.createRule({ rule: rule('cam-p', 6) }));
    } finally {
      process.kill(worker.pid, 'SIGCONT');
    }
    expect([created!.status!.state, created!.status!.reason]).to.deep.equal([RuleState.RULE_STATE_PENDING, 'being installed']);
    const active = await waitForRuleState(relay.client, 'cam-p');
    expect(active.status!.state).to.equal(RuleState.RULE_STATE_ACTIVE);
    const [after] = await relay.client.listWorkers();
    expect(after.pid, 'the worker was only paused, not restarted').to.equal(worker.pid);
    await mcr.deleteRule({ rule: 'cam-p' });
  });

  it('ignores the output-only fields a client sends', async () => {
    const sent = {
      ...rule('cam-o', 3),
      generation: 99n,
      status: { state: RuleState.RULE_STATE_ERROR, reason: 'made up', worker: 7, lastPacketUnixNanos: 5n },
      createdUnixNanos: 1n,
      updatedUnixNanos: 2n,
    };
    const { rule: created } = await mcr.createRule({ rule: sent });
    expect(created!.generation).to.equal(1n);
    expect(created!.createdUnixNanos > 1_600_000_000_000_000_000n, String(created!.createdUnixNanos)).to.equal(true);
    expect(created!.updatedUnixNanos).to.equal(created!.createdUnixNanos);
    expect(created!.status!.reason).to.not.equal('made up');
    expect(created!.status!.worker).to.equal(0);
    const { rule: updated } = await mcr.updateRule({ rule: 'cam-o', definition: sent });
    expect([updated!.generation, updated!.createdUnixNanos]).to.deep.equal([2n, created!.createdUnixNanos]);
    const active = await waitForRuleState(relay.client, 'cam-o');
    expect(active.status!.reason).to.not.equal('made up');
    await mcr.deleteRule({ rule: 'cam-o' });
  });

  it('DeleteRule answers the rule with its last status', async () => {
    await mcr.createRule({ rule: rule('cam-d', 4) });
    const active = await waitForRuleState(relay.client, 'cam-d');
    const { rule: deleted } = await mcr.deleteRule({ rule: 'cam-d' });
    expect(deleted!.status, 'status of the deleted rule').to.deep.include({ state: RuleState.RULE_STATE_ACTIVE, worker: active.status!.worker });
    expect(deleted!.generation).to.equal(active.generation);
  });

  it("update_mask changes one output's TTL without restating the rule", async () => {
    const { rule: created } = await mcr.createRule({ rule: rule('cam-m', 5) });
    const outputs = created!.outputs.map((o, i) => (i === 1 ? { ...o, ttl: 9 } : o));
    // Only the outputs: no name, no input; the name sent is not in the mask, so it is ignored.
    const { rule: updated } = await mcr.updateRule({ rule: 'cam-m', definition: { name: 'ignored', outputs }, updateMask: ['outputs'], expectedGeneration: 1n });
    expect(updated!.outputs.map((o) => o.ttl)).to.deep.equal([4, 9]);
    expect([updated!.name, updated!.input, updated!.generation]).to.deep.equal(['cam-m', created!.input, 2n]);
    const { rule: renamed } = await mcr.updateRule({ rule: 'cam-m', definition: { name: 'cam-n' }, updateMask: ['name'] });
    expect([renamed!.name, renamed!.outputs.map((o) => o.ttl)]).to.deep.equal(['cam-n', [4, 9]]);
    await waitForRuleState(relay.client, 'cam-n');

    const unknown = await callError(mcr.updateRule({ rule: 'cam-n', definition: {}, updateMask: ['foo'] }));
    expect(unknown.code).to.equal(status.INVALID_ARGUMENT);
    expect(unknown.details).to.match(/^update_mask\.paths\[0\]: unknown field "foo"/);
    const full = await callError(mcr.updateRule({ rule: 'cam-n', definition: { name: 'cam-p' } }));
    expect([full.code, full.details], 'without a mask the definition is whole').to.deep.equal([status.INVALID_ARGUMENT, 'definition.input: required']);
    expect((await mcr.getRule({ rule: 'cam-n' })).rule!.generation, 'nothing changed').to.equal(3n);
  });
});
