/** The google.rpc.Status every ApiError carries in `grpc-status-details-bin` (docs/decisions/0021). */
import { Metadata, ServiceError, status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { errorDetails, formatGrpcError } from '../../clients/lib/errors';
import { Status } from '../../gen/google/rpc/status';
import {
  aborted,
  alreadyExists,
  ApiError,
  exhausted,
  invalid,
  MAX_DETAILS_LENGTH,
  notFound,
  shuttingDown,
  STATUS_DETAILS_KEY,
  statusDetails,
  toApiError,
  violationsError,
} from '../../server/api/errors';
import { MalformedRequest, refuseMalformed } from '../../server/api/strict-requests';
import { planApply } from '../../server/rules/apply-plan';
import { RuleSet } from '../../server/rules/rule-set';
import { DEFAULT_RULE_LIMITS, validateRuleDefinition } from '../../server/rules/validate';

/** `error` as a client receives it: a ServiceError with the trailer. */
function received(error: ApiError): ServiceError {
  const sent = error.toServiceError();
  return Object.assign(new Error(sent.message), { code: sent.code!, details: sent.details!, metadata: sent.metadata! });
}

const details = (error: ApiError) => errorDetails(received(error));
const typesOf = (error: ApiError) => statusDetails(error).details.map((d) => d.typeUrl);

const RULE = {
  name: 'r',
  input: { interface: 'eth0', group: '239.1.1.1', port: 5000, source: '' },
  outputs: [{ interface: 'eth1', address: '239.2.2.2', port: 6000 }],
};

function thrown(run: () => unknown): ApiError {
  try {
    run();
  } catch (err) {
    // The rules domain's errors as the API answers them.
    const answered = toApiError(err);
    if (answered instanceof ApiError) return answered;
    throw err;
  }
  throw new Error('nothing was thrown');
}

describe('API error details', () => {
  it('sends a google.rpc.Status with the code and message in grpc-status-details-bin', () => {
    const sent = invalid('rule.name', 'bad').toServiceError();
    const [bytes] = sent.metadata!.get(STATUS_DETAILS_KEY);
    const decoded = Status.decode(bytes as Buffer);
    expect(decoded.code).to.equal(status.INVALID_ARGUMENT);
    expect(decoded.message).to.equal('rule.name: bad');
    expect(decoded.details.map((d) => d.typeUrl)).to.deep.equal(['type.googleapis.com/google.rpc.ErrorInfo', 'type.googleapis.com/google.rpc.BadRequest']);
  });

  it('gives every status an ErrorInfo with a stable reason in the mcr.dev domain', () => {
    const reasons: Array<[ApiError, string]> = [
      [invalid('f', 'x'), 'INVALID_REQUEST'],
      [notFound('rule', 'x'), 'NOT_FOUND'],
      [alreadyExists('rule.id', 'x'), 'RULE_EXISTS'],
      [aborted('expected_generation', 'x'), 'STALE_GENERATION'],
      [exhausted('rule', 'x', '--max-rules'), 'LIMIT_REACHED'],
      [shuttingDown(), 'SHUTTING_DOWN'],
      [new ApiError(status.INTERNAL, undefined, 'x'), 'INTERNAL'],
    ];
    for (const [error, reason] of reasons) {
      expect(details(error).errorInfo, status[error.code]).to.deep.equal({ reason, domain: 'mcr.dev', metadata: {} });
      expect(reason).to.match(/^[A-Z][A-Z0-9_]+[A-Z0-9]$/);
    }
  });

  it('puts every violation of a rule in the BadRequest, the first one as the message', () => {
    const bad = { ...RULE, input: { ...RULE.input, port: 0 }, outputs: [{ ...RULE.outputs[0], ttl: 0, dscp: 64 }] };
    const error = thrown(() => validateRuleDefinition(bad as never, DEFAULT_RULE_LIMITS, 'rule'));
    expect(error.message).to.equal('rule.input.port: must be 1-65535, got 0');
    const got = details(error);
    expect(got.errorInfo?.reason).to.equal('INVALID_RULE');
    expect(got.badRequest?.fieldViolations.map((v) => [v.field, v.description])).to.deep.equal([
      ['rule.input.port', 'must be 1-65535, got 0'],
      ['rule.outputs[0].ttl', 'must be 1-255, got 0'],
      ['rule.outputs[0].dscp', 'must be 0-63, got 64'],
    ]);
  });

  it('ApplyRules: the violations of every rule of the set', () => {
    const bad = [{ ...RULE, input: { ...RULE.input, port: 0 } }, RULE, { ...RULE, name: 'x', outputs: [{ ...RULE.outputs[0], port: 0 }] }];
    const error = thrown(() => planApply(RuleSet.empty(), bad as never, { limits: DEFAULT_RULE_LIMITS, now: 1n } as never));
    expect(details(error).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['rules[0].input.port', 'rules[2].outputs[0].port']);
  });

  it('ALREADY_EXISTS: ResourceInfo and a BadRequest naming the field that clashes', () => {
    const exists = details(alreadyExists('rule.name', 'rule r-1 is already named "cam1"', { reason: 'RULE_EXISTS', resource: { type: 'mcr.v1.Rule', name: 'r-1' } }));
    expect(exists.errorInfo?.reason).to.equal('RULE_EXISTS');
    expect(exists.resourceInfo).to.deep.include({ resourceType: 'mcr.v1.Rule', resourceName: 'r-1' });
    expect(exists.badRequest?.fieldViolations.map((v) => [v.field, v.description])).to.deep.equal([['rule.name', 'rule r-1 is already named "cam1"']]);
  });

  it('ResourceInfo, PreconditionFailure and QuotaFailure', () => {
    const missing = details(notFound('rule', 'no rule "x"', { reason: 'RULE_NOT_FOUND', resource: { type: 'mcr.v1.Rule', name: 'x' } }));
    expect(missing.errorInfo?.reason).to.equal('RULE_NOT_FOUND');
    expect(missing.resourceInfo).to.deep.include({ resourceType: 'mcr.v1.Rule', resourceName: 'x' });
    expect(missing.badRequest).to.equal(undefined);
    const stale = details(aborted('expected_generation', 'is 3, but rule r is at generation 4'));
    expect(stale.preconditionFailure?.violations).to.deep.equal([{ type: 'GENERATION', subject: 'expected_generation', description: 'is 3, but rule r is at generation 4' }]);
    const limit = details(exhausted('rule', 'the store already holds 3 rules, its limit', '--max-rules'));
    expect(limit.quotaFailure?.violations.map((v) => [v.subject, v.description])).to.deep.equal([['--max-rules', 'the store already holds 3 rules, its limit']]);
  });

  it('a malformed body: BadRequest with its field path, reason MALFORMED_REQUEST', () => {
    const request = new MalformedRequest(
      new ApiError(status.INVALID_ARGUMENT, undefined, 'request body is not a valid mcr.v1.GetRuleRequest: rule: is not valid UTF-8', {
        reason: 'MALFORMED_REQUEST',
        violations: [{ field: 'rule', description: 'is not valid UTF-8' }],
      }),
      'rule',
    );
    const got = details(refuseMalformed('/x', new Metadata(), request)!);
    expect(got.errorInfo?.reason).to.equal('MALFORMED_REQUEST');
    expect(got.badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['rule']);
  });

  it('keeps the BadRequest within MAX_DETAILS_LENGTH, saying how many violations were left out', () => {
    const many = Array.from({ length: 5000 }, (_, i) => invalid(`rules[${i}].name`, `${'x'.repeat(300)} is not valid`));
    const error = violationsError(many, 'INVALID_RULE');
    const status = statusDetails(error);
    const badRequest = status.details.find((d) => d.typeUrl.endsWith('BadRequest'))!;
    expect(badRequest.value.length).to.be.at.most(MAX_DETAILS_LENGTH + 8);
    const violations = details(error).badRequest!.fieldViolations;
    expect(violations.length).to.be.greaterThan(1);
    expect(violations[violations.length - 1].description).to.match(/^\.\.\. \(\d+ more violations\)$/);
    expect(violations[0].description.length).to.be.below(300);
    expect(typesOf(error)).to.have.length(2);
  });

  it('the client prints one line per further violation', () => {
    const error = violationsError([invalid('rule.outputs[0].port', 'must be 1-65535, got 0'), invalid('rule.outputs[1].ttl', 'must be 1-255, got 0')], 'INVALID_RULE');
    expect(formatGrpcError(received(error))).to.equal('invalid argument: rule.outputs[0].port: must be 1-65535, got 0\n  rule.outputs[1].ttl: must be 1-255, got 0');
    expect(formatGrpcError(received(invalid('rule.name', 'bad')))).to.equal('invalid argument: rule.name: bad');
  });

  it('the client ignores a trailer that does not decode', () => {
    const metadata = new Metadata();
    metadata.set(STATUS_DETAILS_KEY, Buffer.from([0xff, 0xff, 0xff]));
    const err = Object.assign(new Error('x'), { code: status.INVALID_ARGUMENT, details: 'x', metadata });
    expect(errorDetails(err)).to.deep.equal({});
    expect(formatGrpcError(err)).to.equal('invalid argument: x');
  });
});
