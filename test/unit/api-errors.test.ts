/** Status messages stay short whatever a client sends: long values are quoted shortened, details capped. */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { ApiError, MAX_DETAILS_LENGTH, notFound, quote } from '../../server/api/errors';
import { RuleError } from '../../server/rules/errors';
import { DEFAULT_RULE_LIMITS, validateRuleDefinition } from '../../server/rules/validate';

describe('API error messages', () => {
  it('quote() keeps short values whole and shortens long ones, saying how long they were', () => {
    expect(quote('eth0')).to.equal('"eth0"');
    expect(quote('x'.repeat(100_000))).to.equal(`"${'x'.repeat(64)}"... (100000 characters)`);
  });

  it('caps the details sent to the client', () => {
    const error = notFound('rule', 'y'.repeat(200_000)).toServiceError();
    expect(error.code).to.equal(status.NOT_FOUND);
    expect(error.details!.length).to.be.below(MAX_DETAILS_LENGTH + 40);
    expect(error.details).to.match(/\.\.\. \(\d+ more characters\)$/);
    expect(new ApiError(status.INVALID_ARGUMENT, 'f', 'short').toServiceError().details).to.equal('f: short');
  });

  it('validation quotes a huge name shortened', () => {
    const rule = { name: 'n'.repeat(75_000), input: { interface: 'eth0', group: '239.1.1.1', port: 5000 }, outputs: [{ interface: 'eth1', address: '239.2.2.2', port: 6000 }] };
    expect(() => validateRuleDefinition(rule as never, DEFAULT_RULE_LIMITS, 'rule')).to.throw(RuleError, /^rule\.name: "n{64}"\.\.\. \(75000 characters\)/);
  });
});
