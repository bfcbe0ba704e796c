import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { DeepPartial, IpProtocol, OversizePolicy, Rule, RuleState, TtlPolicy } from '../../gen/mcr/v1/rules';
import { ApiError, toApiError } from '../../server/api/errors';
import { RuleError } from '../../server/rules/errors';
import { formatIPv4, isMulticast, isUnicast, isValidInterfaceName, parseIPv4 } from '../../server/formats/addresses';
import { DEFAULT_RULE_LIMITS, RuleLimits, ruleViolations, validateRuleDefinition } from '../../server/rules/validate';

const LIMITS: RuleLimits = { maxRules: 100, maxOutputsPerRule: 4 };

type Spec = DeepPartial<Rule>;

const INPUT = { interface: 'eth0', group: '239.1.1.1', port: 5000 };
const OUTPUT = { interface: 'eth1', address: '239.9.9.9', port: 6000 };

function rule(spec: Spec = {}): Rule {
  return Rule.fromPartial({ name: 'cam1', input: INPUT, outputs: [OUTPUT], ...spec });
}

function withInput(change: object): Rule {
  return rule({ input: { ...INPUT, ...change } });
}

function withOutput(change: object): Rule {
  return rule({ outputs: [{ ...OUTPUT, ...change }] });
}

/** The RuleError validateRuleDefinition throws for `candidate`, as the API answers it. */
function rejection(candidate: Rule | undefined, field = 'rule'): ApiError {
  try {
    validateRuleDefinition(candidate, LIMITS, field);
  } catch (err) {
    expect(err).to.be.instanceOf(RuleError);
    return toApiError(err) as ApiError;
  }
  expect.fail('the rule was accepted');
}

describe('rule validation', () => {
  describe('refuses', () => {
    const cases: Array<[what: string, candidate: Rule | undefined, field: string, code?: status]> = [
      ['a missing rule', undefined, 'rule'],
      ['an id with a space', rule({ id: 'my rule' }), 'rule.id'],
      ['an id starting with a dash', rule({ id: '-x' }), 'rule.id'],
      ['an id of 64 characters', rule({ id: 'a'.repeat(64) }), 'rule.id'],
      ['a name with a slash', rule({ name: 'cam/1' }), 'rule.name'],
      ['a name with a leading space', rule({ name: ' cam1' }), 'rule.name'],
      ['a missing input', rule({ input: undefined }), 'rule.input'],
      ['an empty input interface', withInput({ interface: '' }), 'rule.input.interface'],
      ['an input interface of 16 bytes', withInput({ interface: 'abcdefghijklmnop' }), 'rule.input.interface'],
      ['an input interface with a slash', withInput({ interface: 'in/0' }), 'rule.input.interface'],
      ['an input interface with a colon', withInput({ interface: 'eth0:1' }), 'rule.input.interface'],
      ['an input interface with a space', withInput({ interface: 'eth 0' }), 'rule.input.interface'],
      ['an input interface "."', withInput({ interface: '.' }), 'rule.input.interface'],
      ['an input interface ".."', withInput({ interface: '..' }), 'rule.input.interface'],
      ['an empty group', withInput({ group: '' }), 'rule.input.group'],
      ['a group with three octets', withInput({ group: '239.1.1' }), 'rule.input.group'],
      ['a group with an octet above 255', withInput({ group: '239.1.1.256' }), 'rule.input.group'],
      ['a group with a leading zero', withInput({ group: '239.01.1.1' }), 'rule.input.group'],
      ['a group with a trailing space', withInput({ group: '239.1.1.1 ' }), 'rule.input.group'],
      ['a unicast group', withInput({ group: '10.2.0.99' }), 'rule.input.group'],
      ['a group in 240.0.0.0/4', withInput({ group: '240.0.0.1' }), 'rule.input.group'],
      ['input port 0', withInput({ port: 0 }), 'rule.input.port'],
      ['input port 65536', withInput({ port: 65536 }), 'rule.input.port'],
      ['a fractional input port', withInput({ port: 5000.5 }), 'rule.input.port'],
      ['a source that is not an address', withInput({ source: '10.1.0' }), 'rule.input.source'],
      ['a multicast source', withInput({ source: '239.1.1.2' }), 'rule.input.source'],
      ['source 0.0.0.0', withInput({ source: '0.0.0.0' }), 'rule.input.source'],
      ['source 255.255.255.255', withInput({ source: '255.255.255.255' }), 'rule.input.source'],
      ['no outputs', rule({ outputs: [] }), 'rule.outputs'],
      ['more outputs than the limit', rule({ outputs: [1, 2, 3, 4, 5].map((i) => ({ ...OUTPUT, port: 6000 + i })) }), 'rule.outputs', status.RESOURCE_EXHAUSTED],
      ['an empty output interface', withOutput({ interface: '' }), 'rule.outputs[0].interface'],
      ['an output interface with a tab', withOutput({ interface: 'out\t1' }), 'rule.outputs[0].interface'],
      ['an output address that is not an address', withOutput({ address: '10.3.0.256' }), 'rule.outputs[0].address'],
      ['an empty output address', withOutput({ address: '' }), 'rule.outputs[0].address'],
      ['output address 0.0.0.0', withOutput({ address: '0.0.0.0' }), 'rule.outputs[0].address'],
      ['output address 255.255.255.255', withOutput({ address: '255.255.255.255' }), 'rule.outputs[0].address'],
      ['output port 0', withOutput({ port: 0 }), 'rule.outputs[0].port'],
      ['output port 70000', withOutput({ port: 70000 }), 'rule.outputs[0].port'],
      ['TTL 0', withOutput({ ttl: 0 }), 'rule.outputs[0].ttl'],
      ['TTL 256', withOutput({ ttl: 256 }), 'rule.outputs[0].ttl'],
      ['DSCP 64', withOutput({ dscp: 64 }), 'rule.outputs[0].dscp'],
      ['a negative DSCP', withOutput({ dscp: -1 }), 'rule.outputs[0].dscp'],
      ['a bad second output', rule({ outputs: [OUTPUT, { ...OUTPUT, address: '239.9.9.8', port: 0 }] }), 'rule.outputs[1].port'],
      ['an output equal to its own input', withOutput({ interface: 'eth0', address: '239.1.1.1', port: 5000 }), 'rule.outputs[0]'],
      ['a duplicate output', rule({ outputs: [OUTPUT, { ...OUTPUT, address: '10.0.0.1' }, { ...OUTPUT, ttl: 5 }] }), 'rule.outputs[2]'],
    ];
    for (const [what, candidate, field, code = status.INVALID_ARGUMENT] of cases) {
      it(`${what} (${status[code]} ${field})`, () => {
        const err = rejection(candidate);
        expect(status[err.code]).to.equal(status[code]);
        expect(err.field).to.equal(field);
        expect(err.message.startsWith(`${field}: `), err.message).to.equal(true);
      });
    }
  });

  it('names fields under the prefix it is given', () => {
    const err = rejection(rule({ outputs: [OUTPUT, { ...OUTPUT, address: '239.9.9.8', port: 0 }] }), 'definition');
    expect(err.message).to.match(/^definition\.outputs\[1\]\.port: must be 1-65535/);
    expect(rejection(undefined, 'definition').field).to.equal('definition');
  });

  it('says which earlier output a duplicate repeats', () => {
    const err = rejection(rule({ outputs: [OUTPUT, { ...OUTPUT, address: '10.0.0.1' }, { ...OUTPUT }] }));
    expect(err.message).to.contain('rule.outputs[0]');
  });

  it('returns a normalized copy holding only the definition fields', () => {
    const request = rule({
      id: 'cam-1',
      input: { ...INPUT, source: '10.1.0.2' },
      outputs: [OUTPUT, { interface: 'wg0', address: '10.20.0.7', port: 6000, ttl: 64, dscp: 46, ttlPolicy: TtlPolicy.TTL_POLICY_FIXED, preserveTos: false, oversize: OversizePolicy.OVERSIZE_POLICY_DROP }],
      generation: 7n,
      status: { state: RuleState.RULE_STATE_ACTIVE, reason: 'x', worker: 3, lastPacketUnixNanos: 5n },
      createdUnixNanos: 11n,
      updatedUnixNanos: 12n,
    });
    const normalized = validateRuleDefinition(request, LIMITS);
    expect(normalized).to.deep.equal({
      id: 'cam-1',
      name: 'cam1',
      input: { interface: 'eth0', group: '239.1.1.1', port: 5000, source: '10.1.0.2', vlan: undefined, protocol: 0 },
      outputs: [
        { interface: 'eth1', address: '239.9.9.9', port: 6000, ttl: undefined, dscp: undefined, ttlPolicy: TtlPolicy.TTL_POLICY_UNSPECIFIED, preserveTos: undefined, oversize: OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED, source: '' },
        { interface: 'wg0', address: '10.20.0.7', port: 6000, ttl: 64, dscp: 46, ttlPolicy: TtlPolicy.TTL_POLICY_FIXED, preserveTos: false, oversize: OversizePolicy.OVERSIZE_POLICY_DROP, source: '' },
      ],
      generation: 0n,
      status: undefined,
      createdUnixNanos: 0n,
      updatedUnixNanos: 0n,
    });
    expect(normalized.input).not.to.equal(request.input);
    expect(normalized.outputs[0]).not.to.equal(request.outputs[0]);
  });

  it('refuses a fixed ttl with TTL_POLICY_DECREMENT, and a TtlPolicy it does not know, naming the field', () => {
    const both = rejection(rule({ outputs: [{ ...OUTPUT, ttl: 8, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT }] }));
    expect(both.message).to.match(/^rule\.outputs\[0\]\.ttl: set to 8 with ttl_policy TTL_POLICY_DECREMENT/);
    const unknown = rejection(rule({ outputs: [OUTPUT, { ...OUTPUT, address: '239.9.9.8', ttlPolicy: 7 as TtlPolicy }] }));
    expect(unknown.message).to.match(/^rule\.outputs\[1\]\.ttl_policy: 7 is not a TtlPolicy/);
    expect(validateRuleDefinition(rule({ outputs: [{ ...OUTPUT, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, dscp: 46, preserveTos: true }] }), LIMITS).outputs[0]).to.include({
      ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT,
      dscp: 46,
      preserveTos: true,
    });
  });

  it('takes a VLAN ID of 1-4094 on the input and refuses 0, 4095 and fractions, naming the field', () => {
    expect(validateRuleDefinition(rule({ input: { ...INPUT, vlan: 4094 } }), LIMITS).input!.vlan).to.equal(4094);
    for (const vlan of [0, 4095, 1.5]) {
      expect(rejection(rule({ input: { ...INPUT, vlan } })).message, String(vlan)).to.equal(
        `rule.input.vlan: must be 1-4094, got ${vlan} (0 is priority tagging without a VLAN, 4095 is reserved)`,
      );
    }
  });

  it('takes an ESP rule without ports, refuses ports in one and unknown protocols, naming the field', () => {
    const esp = { ...INPUT, port: 0, protocol: IpProtocol.IP_PROTOCOL_ESP };
    const valid = validateRuleDefinition(rule({ input: esp, outputs: [{ ...OUTPUT, port: 0 }, { interface: 'eth2', address: '10.9.0.2' }] }), LIMITS);
    expect(valid.input).to.include({ protocol: IpProtocol.IP_PROTOCOL_ESP, port: 0 });
    expect(valid.outputs.map((o) => o.port)).to.deep.equal([0, 0]);
    expect(rejection(rule({ input: { ...esp, port: 5000 }, outputs: [{ ...OUTPUT, port: 0 }] })).message).to.equal(
      'rule.input.port: must be unset in an ESP rule (input.protocol IP_PROTOCOL_ESP): ESP has no port, got 5000',
    );
    expect(rejection(rule({ input: esp, outputs: [{ ...OUTPUT, port: 0 }, OUTPUT] })).message).to.equal(
      'rule.outputs[1].port: must be unset in an ESP rule (input.protocol IP_PROTOCOL_ESP): ESP has no port, got 6000',
    );
    expect(rejection(rule({ input: { ...INPUT, protocol: IpProtocol.IP_PROTOCOL_UDP }, outputs: [{ ...OUTPUT, port: 0 }] })).message).to.equal('rule.outputs[0].port: must be 1-65535, got 0');
    expect(rejection(rule({ input: { ...INPUT, protocol: 7 as IpProtocol } })).message).to.equal('rule.input.protocol: 7 is not an IpProtocol (IP_PROTOCOL_UDP = 1, IP_PROTOCOL_ESP = 2)');
    // The loop and duplicate checks speak ESP.
    expect(rejection(rule({ input: esp, outputs: [{ interface: 'eth0', address: '239.1.1.1' }] })).message).to.equal(
      "rule.outputs[0]: sends to the rule's own input eth0 239.1.1.1 esp, which would loop",
    );
    expect(rejection(rule({ input: esp, outputs: [{ ...OUTPUT, port: 0 }, { ...OUTPUT, port: 0 }] })).message).to.equal('rule.outputs[1]: duplicates rule.outputs[0] (eth1 239.9.9.9)');
  });

  it('takes a unicast source address on an output and refuses others, naming the field', () => {
    expect(validateRuleDefinition(rule({ outputs: [{ ...OUTPUT, source: '10.3.0.9' }] }), LIMITS).outputs[0].source).to.equal('10.3.0.9');
    expect(rejection(rule({ outputs: [OUTPUT, { ...OUTPUT, address: '239.9.9.8', source: '239.1.1.1' }] })).message).to.match(/^rule\.outputs\[1\]\.source: 239\.1\.1\.1 is not a unicast address/);
    expect(rejection(rule({ outputs: [{ ...OUTPUT, source: '10.3.0' }] })).message).to.match(/^rule\.outputs\[0\]\.source: "10\.3\.0" is not an IPv4 address/);
  });

  it('refuses an OversizePolicy it does not know, naming the field', () => {
    const unknown = rejection(rule({ outputs: [OUTPUT, { ...OUTPUT, address: '239.9.9.8', oversize: 3 as OversizePolicy }] }));
    expect(unknown.message).to.match(/^rule\.outputs\[1\]\.oversize: 3 is not an OversizePolicy \(OVERSIZE_POLICY_FRAGMENT = 1, OVERSIZE_POLICY_DROP = 2\)/);
  });

  it('accepts the edges of every range', () => {
    const edges = rule({
      id: 'A'.repeat(63),
      name: '0._-z',
      input: { interface: 'a', group: '224.0.0.0', port: 1, source: '1.2.3.4' },
      outputs: [
        { interface: 'x'.repeat(15), address: '239.255.255.255', port: 65535, ttl: 1, dscp: 0 },
        { interface: 'eth0', address: '239.1.1.1', port: 5001, ttl: 255, dscp: 63 },
        { interface: 'eth1', address: '239.1.1.1', port: 5000 },
      ],
    });
    expect(() => validateRuleDefinition(edges, LIMITS)).not.to.throw();
    expect(() => validateRuleDefinition(rule({ id: '', name: '' }), LIMITS)).not.to.throw();
    const max = rule({ outputs: [1, 2, 3, 4].map((i) => ({ ...OUTPUT, port: 6000 + i })) });
    expect(() => validateRuleDefinition(max, LIMITS)).not.to.throw();
  });

  describe('every violation at once', () => {
    const fields = (violations: RuleError[]) => violations.map((v) => v.message);

    it('names every bad field of a rule in field order, the first being the one validateRuleDefinition throws', () => {
      const bad = rule({
        name: 'cam 1',
        input: { interface: 'eth0', group: '10.0.0.1', port: 0, source: '239.1.1.1' },
        outputs: [{ ...OUTPUT, address: '0.0.0.0', ttl: 0 }, OUTPUT, OUTPUT, { ...INPUT, address: INPUT.group }],
      });
      const violations = ruleViolations(bad, LIMITS);
      expect(fields(violations)).to.deep.equal([
        'rule.name: "cam 1" must be 1-63 characters: a letter or digit, then letters, digits, ".", "_" or "-"',
        'rule.input.group: 10.0.0.1 is not a multicast group (224.0.0.0/4)',
        'rule.input.port: must be 1-65535, got 0',
        'rule.input.source: 239.1.1.1 is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)',
        'rule.outputs[0].address: 0.0.0.0 cannot be a destination',
        'rule.outputs[0].ttl: must be 1-255, got 0',
        'rule.outputs[2]: duplicates rule.outputs[1] (eth1 239.9.9.9:6000)',
      ]);
      expect(rejection(bad).message).to.equal(violations[0].message);
    });

    it('words the violation of every field, naming it by its path', () => {
      const everyOutputField = {
        id: '-x',
        name: 'cam1',
        input: { interface: '', group: '', port: 70000, source: '10.1' },
        outputs: [{ interface: 'eth/1', address: '239.9.9', port: 1.5, ttl: 256, dscp: 64 }, { interface: '', address: '', port: 6000 }, undefined],
      };
      expect(fields(ruleViolations(everyOutputField, LIMITS))).to.deep.equal([
        'rule.id: "-x" must be 1-63 characters: a letter or digit, then letters, digits, ".", "_" or "-"',
        'rule.input.interface: required: an interface name',
        'rule.input.group: required: an IPv4 address',
        'rule.input.port: must be 1-65535, got 70000',
        'rule.input.source: "10.1" is not an IPv4 address in dotted-quad form (e.g. 239.1.2.3)',
        'rule.outputs[0].interface: "eth/1" is not a valid interface name (1-15 bytes, no "/", ":" or spaces, not "." or "..")',
        'rule.outputs[0].address: "239.9.9" is not an IPv4 address in dotted-quad form (e.g. 239.1.2.3)',
        'rule.outputs[0].port: must be 1-65535, got 1.5',
        'rule.outputs[0].ttl: must be 1-255, got 256',
        'rule.outputs[0].dscp: must be 0-63, got 64',
        'rule.outputs[1].interface: required: an interface name',
        'rule.outputs[1].address: required: an IPv4 address',
        'rule.outputs[2]: required',
      ]);
      const more = { input: { interface: 'in:0', group: '239.1.1', port: 5000 }, outputs: [{ interface: 'eth1', address: '255.255.255.255', port: 0, dscp: -1 }] };
      expect(fields(ruleViolations(more, LIMITS, 'definition'))).to.deep.equal([
        'definition.input.interface: "in:0" is not a valid interface name (1-15 bytes, no "/", ":" or spaces, not "." or "..")',
        'definition.input.group: "239.1.1" is not an IPv4 address in dotted-quad form (e.g. 239.1.2.3)',
        'definition.outputs[0].address: 255.255.255.255 cannot be a destination',
        'definition.outputs[0].port: must be 1-65535, got 0',
        'definition.outputs[0].dscp: must be 0-63, got -1',
      ]);
    });

    it('compares an output with the input only when the input is valid', () => {
      const loop = { ...OUTPUT, interface: INPUT.interface, address: INPUT.group, port: INPUT.port };
      expect(fields(ruleViolations(rule({ outputs: [loop] }), LIMITS))).to.deep.equal([
        'rule.outputs[0]: sends to the rule\'s own input eth0 239.1.1.1:5000, which would loop',
      ]);
      expect(fields(ruleViolations(rule({ input: { ...INPUT, source: 'x' }, outputs: [loop] }), LIMITS))).to.deep.equal([
        'rule.input.source: "x" is not an IPv4 address in dotted-quad form (e.g. 239.1.2.3)',
      ]);
    });

    it('skips what could not be read when asked to (a config file), and requires it otherwise', () => {
      const draft = { name: 'cam1', input: { interface: 'eth0', group: '10.0.0.1', port: undefined }, outputs: [undefined, { ...OUTPUT, port: 0 }] };
      expect(fields(ruleViolations(draft, LIMITS, 'rules[3]', 'unread'))).to.deep.equal([
        'rules[3].input.group: 10.0.0.1 is not a multicast group (224.0.0.0/4)',
        'rules[3].outputs[1].port: must be 1-65535, got 0',
      ]);
      expect(fields(ruleViolations({ name: 'cam1' }, LIMITS, 'rules[3]', 'unread'))).to.deep.equal([]);
      expect(fields(ruleViolations({ name: 'cam1' }, LIMITS))).to.deep.equal(['rule.input: required', 'rule.outputs: at least one output is required']);
    });

    it('does not look at outputs one by one beyond the limit', () => {
      const many = rule({ outputs: [1, 2, 3, 4, 5].map(() => ({ ...OUTPUT, port: 0 })) });
      expect(fields(ruleViolations(many, LIMITS))).to.deep.equal(['rule.outputs: 5 outputs, more than the limit of 4 per rule']);
    });
  });

  it('has defaults of 10000 rules and 64 outputs per rule', () => {
    expect(DEFAULT_RULE_LIMITS).to.deep.equal({ maxRules: 100_000, maxOutputsPerRule: 64 });
  });
});

describe('addresses', () => {
  it('parses strict dotted quads only', () => {
    expect(parseIPv4('239.1.2.3')).to.equal(0xef010203);
    expect(parseIPv4('0.0.0.0')).to.equal(0);
    expect(parseIPv4('255.255.255.255')).to.equal(0xffffffff);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', ' 1.2.3.4', '1.2.3.4\n', '1.2.3.-4', '0x1.2.3.4', '1..3.4', '１.2.3.4']) {
      expect(parseIPv4(bad), JSON.stringify(bad)).to.equal(undefined);
    }
  });

  it('formats what it parses', () => {
    for (const text of ['0.0.0.0', '239.1.2.3', '10.0.255.7', '255.255.255.255']) expect(formatIPv4(parseIPv4(text)!)).to.equal(text);
  });

  it('classifies multicast and unicast', () => {
    expect(isMulticast(parseIPv4('224.0.0.0')!)).to.equal(true);
    expect(isMulticast(parseIPv4('239.255.255.255')!)).to.equal(true);
    expect(isMulticast(parseIPv4('223.255.255.255')!)).to.equal(false);
    expect(isMulticast(parseIPv4('240.0.0.0')!)).to.equal(false);
    expect(isUnicast(parseIPv4('10.0.0.1')!)).to.equal(true);
    expect(isUnicast(parseIPv4('0.0.0.0')!)).to.equal(false);
    expect(isUnicast(parseIPv4('255.255.255.255')!)).to.equal(false);
    expect(isUnicast(parseIPv4('239.0.0.1')!)).to.equal(false);
  });

  it('accepts the interface names Linux accepts', () => {
    for (const good of ['eth0', 'wg0', 'br-lan.100', 'x'.repeat(15), 'éth0', '-', '...']) {
      expect(isValidInterfaceName(good), good).to.equal(true);
    }
    // 'é' is two bytes in UTF-8: 14 of them are 28 bytes.
    for (const bad of ['', '.', '..', 'x'.repeat(16), 'é'.repeat(8), 'a/b', 'a:b', 'a b', 'a\tb', 'a\nb', 'a\0b', 'a\u00a0b']) {
      expect(isValidInterfaceName(bad), JSON.stringify(bad)).to.equal(false);
    }
  });
});
