/** RuleFilter: checked with every violation named, then applied (server/api/rule-filter.ts). */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { BadRequest } from '../../gen/google/rpc/error_details';
import { Rule, RuleFilter, RuleState } from '../../gen/mcr/v1/rules';
import { ApiError, statusDetails } from '../../server/api/errors';
import { filterQuery, parseGroupPrefix, ruleMatcher } from '../../server/api/rule-filter';

const rule = (name: string, iface: string, group: string): Rule =>
  Rule.fromPartial({ id: `r-${name || group}`, name, input: { interface: iface, group, port: 5000 }, outputs: [{ interface: 'eth1', address: '10.0.0.1', port: 6000 }] });

const RULES = [
  rule('cam-1', 'eth0', '239.1.0.1'),
  rule('cam-2', 'eth0', '239.1.200.7'),
  rule('studio-1', 'eth1', '239.2.0.1'),
  rule('', 'eth0', '239.1.3.3'),
  rule('cam-3', 'eth2', '224.0.1.1'),
];
const STATES: Record<string, RuleState> = {
  'r-cam-1': RuleState.RULE_STATE_ACTIVE,
  'r-cam-2': RuleState.RULE_STATE_INTERFACE_DOWN,
  'r-studio-1': RuleState.RULE_STATE_ACTIVE,
  'r-239.1.3.3': RuleState.RULE_STATE_WAITING_FOR_INTERFACE,
  'r-cam-3': RuleState.RULE_STATE_ERROR,
};

function selected(filter: Partial<RuleFilter> | undefined): string[] {
  const matches = ruleMatcher(filter && RuleFilter.fromPartial(filter));
  return RULES.filter((r) => matches(r, () => STATES[r.id])).map((r) => r.id);
}

function refusal(filter: Partial<RuleFilter>): ApiError {
  try {
    ruleMatcher(RuleFilter.fromPartial(filter));
  } catch (err) {
    expect(err).to.be.instanceOf(ApiError);
    return err as ApiError;
  }
  expect.fail('expected a refusal');
}

function violations(err: ApiError): Array<{ field: string; description: string }> {
  const any = statusDetails(err).details.find((d) => d.typeUrl.endsWith('google.rpc.BadRequest'))!;
  return BadRequest.decode(any.value).fieldViolations.map(({ field, description }) => ({ field, description }));
}

describe('rule filter', () => {
  it('no filter, or an empty one, selects every rule', () => {
    expect(selected(undefined)).to.have.length(5);
    expect(selected({})).to.have.length(5);
  });

  it('selects by input interface, group prefix, state (any of those given) and name prefix, all set fields together', () => {
    expect(selected({ inputInterface: 'eth0' })).to.deep.equal(['r-cam-1', 'r-cam-2', 'r-239.1.3.3']);
    expect(selected({ groupPrefix: '239.1.0.0/16' })).to.deep.equal(['r-cam-1', 'r-cam-2', 'r-239.1.3.3']);
    expect(selected({ groupPrefix: '239.1.128.0/17' })).to.deep.equal(['r-cam-2']);
    expect(selected({ groupPrefix: '239.2.0.1' }), 'a bare address: that group').to.deep.equal(['r-studio-1']);
    expect(selected({ groupPrefix: '0.0.0.0/0' })).to.have.length(5);
    expect(selected({ states: [RuleState.RULE_STATE_ACTIVE] })).to.deep.equal(['r-cam-1', 'r-studio-1']);
    expect(selected({ states: [RuleState.RULE_STATE_ERROR, RuleState.RULE_STATE_WAITING_FOR_INTERFACE] })).to.deep.equal(['r-239.1.3.3', 'r-cam-3']);
    expect(selected({ namePrefix: 'cam-' }), 'a rule without a name never matches').to.deep.equal(['r-cam-1', 'r-cam-2', 'r-cam-3']);
    expect(selected({ inputInterface: 'eth0', namePrefix: 'cam', states: [RuleState.RULE_STATE_ACTIVE] })).to.deep.equal(['r-cam-1']);
    expect(selected({ inputInterface: 'eth9' })).to.deep.equal([]);
  });

  it('asks for a rule\'s state only when every other test holds', () => {
    const asked: string[] = [];
    const matches = ruleMatcher(RuleFilter.fromPartial({ inputInterface: 'eth1', states: [RuleState.RULE_STATE_ACTIVE] }));
    for (const r of RULES) matches(r, () => (asked.push(r.id), STATES[r.id]));
    expect(asked).to.deep.equal(['r-studio-1']);
  });

  it('group prefixes: ADDRESS/LENGTH or an address; no host bits; what is wrong is said', () => {
    expect(parseGroupPrefix('239.1.0.0/16')).to.deep.equal({ network: 0xef010000, mask: 0xffff0000 });
    expect(parseGroupPrefix('239.1.2.3')).to.deep.equal({ network: 0xef010203, mask: 0xffffffff });
    expect(parseGroupPrefix('0.0.0.0/0')).to.deep.equal({ network: 0, mask: 0 });
    expect(parseGroupPrefix('239.1.2.0/16')).to.equal('"239.1.2.0/16" has host bits set: did you mean 239.1.0.0/16?');
    expect(parseGroupPrefix('239.1.0.0/33')).to.equal('"239.1.0.0/33": the prefix length must be 0-32, got "33"');
    expect(parseGroupPrefix('239.1.0.0/016')).to.match(/prefix length must be 0-32/);
    expect(parseGroupPrefix('239.1.0.0/')).to.match(/prefix length must be 0-32/);
    expect(parseGroupPrefix('239.1/16')).to.match(/"239.1" is not a dotted-quad address/);
    expect(parseGroupPrefix('239.1.0.0/16/8')).to.match(/is not an IPv4 prefix: expected ADDRESS\/LENGTH/);
  });

  it('refuses every invalid field at once: INVALID_ARGUMENT, the first in the message, all in the BadRequest', () => {
    const err = refusal({
      inputInterface: 'eth0/1',
      groupPrefix: '239.1.2.0/16',
      states: [RuleState.RULE_STATE_ACTIVE, RuleState.RULE_STATE_VALIDATED, 99 as RuleState],
      namePrefix: 'cam 1',
    });
    expect(err.code).to.equal(status.INVALID_ARGUMENT);
    expect(err.message).to.equal('filter.input_interface: "eth0/1" is not an interface name (1-15 bytes, no "/", ":" or white space)');
    expect(violations(err).map((v) => v.field)).to.deep.equal([
      'filter.input_interface',
      'filter.group_prefix',
      'filter.states[1]',
      'filter.states[2]',
      'filter.name_prefix',
    ]);
    expect(violations(err)[2].description).to.match(/^RULE_STATE_VALIDATED is not a state a rule can be in: one of RULE_STATE_ACTIVE, /);
    expect(violations(err)[3].description).to.match(/^99 is not a state/);
    expect(refusal({ states: [RuleState.RULE_STATE_UNSPECIFIED] }).field).to.equal('filter.states[0]');
    expect(refusal({ inputInterface: 'a-very-long-interface-name' }).field).to.equal('filter.input_interface');
    expect(refusal({ namePrefix: 'x'.repeat(64) }).field).to.equal('filter.name_prefix');
  });

  it('the query of a filter ignores the order and repetition of states (one walk, one fingerprint)', () => {
    const a = filterQuery(RuleFilter.fromPartial({ states: [RuleState.RULE_STATE_ERROR, RuleState.RULE_STATE_ACTIVE, RuleState.RULE_STATE_ERROR] }));
    const b = filterQuery(RuleFilter.fromPartial({ states: [RuleState.RULE_STATE_ACTIVE, RuleState.RULE_STATE_ERROR] }));
    expect(a).to.deep.equal(b);
    expect(filterQuery(undefined)).to.deep.equal(filterQuery(RuleFilter.fromPartial({})));
  });
});
