/**
 * Error details (issue 14, docs/decisions/0021): every status mcrd answers carries a google.rpc.Status
 * in the `grpc-status-details-bin` trailer. Decoded here from real answers: the BadRequest of a rule
 * with three violations (all three), ResourceInfo for NOT_FOUND and ALREADY_EXISTS,
 * PreconditionFailure for a stale generation, QuotaFailure for a limit, BadRequest for a malformed body.
 */
import { ServiceError, status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { errorDetails, formatGrpcError } from '../../clients/lib/errors';
import { RuleServiceService } from '../../gen/mcr/v1/rules';
import { Status } from '../../gen/google/rpc/status';
import { useRelay } from '../support/fixture';
import { grpcFailure, RuleSpec, statusName } from '../support/grpc';
import { NET } from '../support/netns';
import { bytesField } from '../support/proto-wire';
import { RawUnaryClient } from '../support/raw-grpc';

const INPUT = { interface: NET.relayIn.ifname, group: '239.6.6.1', port: 5000 };
const OUTPUT = { interface: NET.relayOut1.ifname, address: '239.9.6.1', port: 6000 };
const rule = (name: string, group: string): RuleSpec => ({ name, input: { ...INPUT, group }, outputs: [OUTPUT] });

/** The decoded details of a failed call, after checking its status and that the trailer is there. */
function detailsOf(err: ServiceError, code: status) {
  expect(statusName(err.code), `status (details: ${err.details})`).to.equal(statusName(code));
  const [bytes] = err.metadata.get('grpc-status-details-bin');
  expect(Buffer.isBuffer(bytes), 'grpc-status-details-bin trailer').to.equal(true);
  const decoded = Status.decode(bytes as Buffer);
  expect(decoded.code).to.equal(code);
  expect(decoded.message, 'the Status message is the status message').to.equal(err.details);
  return errorDetails(err);
}

describe('e2e: error details (google.rpc.Status in grpc-status-details-bin)', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 1, extraArgs: ['--max-rules', '2'] });

  it('INVALID_ARGUMENT: a rule with three violations has all three in its BadRequest', async function () {
    const bad: RuleSpec = { name: 'bad', input: { ...INPUT, port: 0 }, outputs: [{ ...OUTPUT, ttl: 0, dscp: 64 }] };
    const err = await grpcFailure(relay.client.createRule(bad));
    expect(err.details, 'the message is the first violation, as before').to.equal('rule.input.port: must be 1-65535, got 0');
    const details = detailsOf(err, status.INVALID_ARGUMENT);
    expect(details.errorInfo).to.deep.include({ reason: 'INVALID_RULE', domain: 'mcr.dev' });
    expect(details.badRequest?.fieldViolations.map((v) => [v.field, v.description])).to.deep.equal([
      ['rule.input.port', 'must be 1-65535, got 0'],
      ['rule.outputs[0].ttl', 'must be 1-255, got 0'],
      ['rule.outputs[0].dscp', 'must be 0-63, got 64'],
    ]);
    expect(formatGrpcError(err).split('\n')).to.deep.equal([
      'invalid argument: rule.input.port: must be 1-65535, got 0',
      '  rule.outputs[0].ttl: must be 1-255, got 0',
      '  rule.outputs[0].dscp: must be 0-63, got 64',
    ]);
    const update = await grpcFailure(relay.client.updateRule('no-matter', bad));
    expect(statusName(update.code)).to.equal('INVALID_ARGUMENT');
    expect(errorDetails(update).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal([
      'definition.input.port',
      'definition.outputs[0].ttl',
      'definition.outputs[0].dscp',
    ]);
  });

  it('NOT_FOUND: ResourceInfo names the rule', async function () {
    const details = detailsOf(await grpcFailure(relay.client.getRule('no-such-rule')), status.NOT_FOUND);
    expect(details.errorInfo).to.deep.include({ reason: 'RULE_NOT_FOUND', domain: 'mcr.dev' });
    expect(details.resourceInfo).to.deep.include({ resourceType: 'mcr.v1.Rule', resourceName: 'no-such-rule' });
  });

  it('ALREADY_EXISTS, ABORTED and RESOURCE_EXHAUSTED', async function () {
    const first = await relay.client.createRule(rule('first', '239.6.6.1'));
    try {
      const exists = detailsOf(await grpcFailure(relay.client.createRule(rule('first', '239.6.6.2'))), status.ALREADY_EXISTS);
      expect(exists.errorInfo).to.deep.include({ reason: 'RULE_EXISTS', domain: 'mcr.dev' });
      expect(exists.resourceInfo).to.deep.include({ resourceType: 'mcr.v1.Rule', resourceName: first.id });

      const stale = detailsOf(await grpcFailure(relay.client.deleteRule(first.id, first.generation + 1n)), status.ABORTED);
      expect(stale.errorInfo).to.deep.include({ reason: 'STALE_GENERATION', domain: 'mcr.dev' });
      expect(stale.preconditionFailure?.violations).to.have.length(1);
      expect(stale.preconditionFailure?.violations[0]).to.deep.include({ type: 'GENERATION', subject: 'expected_generation' });

      const second = await relay.client.createRule(rule('second', '239.6.6.3'));
      try {
        const limit = detailsOf(await grpcFailure(relay.client.createRule(rule('third', '239.6.6.4'))), status.RESOURCE_EXHAUSTED);
        expect(limit.errorInfo).to.deep.include({ reason: 'LIMIT_REACHED', domain: 'mcr.dev' });
        expect(limit.quotaFailure?.violations).to.have.length(1);
        expect(limit.quotaFailure?.violations[0].subject).to.equal('--max-rules');
      } finally {
        await relay.client.deleteRule(second.id);
      }
    } finally {
      await relay.client.deleteRule(first.id);
    }
  });

  it('a malformed body: BadRequest with the field path, reason MALFORMED_REQUEST', async function () {
    const raw = new RawUnaryClient(relay.mcrd.socketPath);
    try {
      const outcome = await raw.call(RuleServiceService.getRule.path, bytesField(1, Buffer.from([0x65, 0x78, 0xff])));
      expect(outcome.ok).to.equal(false);
      const err = (outcome as { ok: false; error: ServiceError }).error;
      const details = detailsOf(err, status.INVALID_ARGUMENT);
      expect(details.errorInfo).to.deep.include({ reason: 'MALFORMED_REQUEST', domain: 'mcr.dev' });
      expect(details.badRequest?.fieldViolations).to.have.length(1);
      expect(details.badRequest?.fieldViolations[0].field).to.equal('rule');
      expect(details.badRequest?.fieldViolations[0].description).to.match(/^is not valid UTF-8/);
    } finally {
      raw.close();
    }
  });
});
