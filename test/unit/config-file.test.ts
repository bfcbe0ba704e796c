/** The config file: parsing, defaults, line-precise problems, and rules written back in its format. */
import { expect } from 'chai';
import os from 'os';
import path from 'path';

import { applyView, checkedView } from '../../clients/mcrctl/config-view';
import { ApplyRulesResponse, IpProtocol, OversizePolicy, Rule, TtlPolicy } from '../../gen/mcr/v1/rules';
import { ConfigFileError, parseConfig, problemFromRefusal, readConfigFile } from '../../server/config/config-file';
import { renderRulesJson5, rulesDocument } from '../../server/config/config-render';
import { deriveRuleId } from '../../server/rules/id';

const FILE = 'mcr.json5';

const GOOD = `// a relay
{
  listen: ["unix:/run/mcr/mcr.sock", "127.0.0.1:9000", "[::1]:9001"],
  workers: 4,
  logLevel: "debug",
  defaults: { ttl: 8, dscp: 46 },
  rules: [
    {
      name: "camera-1",
      input: { interface: "eth0", group: "239.0.0.1", port: 5000, source: "10.10.1.100" },
      outputs: [
        { interface: "eth1", address: "239.9.9.9", port: 6000 },          // takes the defaults
        { interface: "wg0", address: "10.20.0.7", port: 6000, ttl: 64, dscp: 0 },
      ],
    },
    { id: "audio", input: { interface: "eth0", group: "239.0.0.2", port: 5004 }, outputs: [{ interface: "eth1", address: "239.9.9.10", port: 5004 }], },
  ],
}
`;

/** The problems parseConfig reports for `text`, one formatted line each. */
function problems(text: string): string[] {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigFileError);
    return (err as ConfigFileError).message.split('\n');
  }
  return expect.fail('the file was accepted');
}

describe('config file', () => {
  it('reads settings, defaults and rules', () => {
    const config = parseConfig(GOOD, FILE);
    expect(config.listen).to.deep.equal([
      { kind: 'unix', path: '/run/mcr/mcr.sock' },
      { kind: 'tcp', host: '127.0.0.1', port: 9000 },
      { kind: 'tcp', host: '::1', port: 9001 },
    ]);
    expect(config).to.include({ workers: 4, logLevel: 'debug', file: FILE });
    expect(config.defaults).to.deep.equal({ ttl: 8, dscp: 46 });
    expect(config.rules).to.deep.equal([
      Rule.fromPartial({
        name: 'camera-1',
        input: { interface: 'eth0', group: '239.0.0.1', port: 5000, source: '10.10.1.100' },
        outputs: [
          { interface: 'eth1', address: '239.9.9.9', port: 6000, ttl: 8, dscp: 46 },
          { interface: 'wg0', address: '10.20.0.7', port: 6000, ttl: 64, dscp: 0 },
        ],
      }),
      Rule.fromPartial({
        id: 'audio',
        input: { interface: 'eth0', group: '239.0.0.2', port: 5004 },
        outputs: [{ interface: 'eth1', address: '239.9.9.10', port: 5004, ttl: 8, dscp: 46 }],
      }),
    ]);
  });

  describe('ttl "decrement" and preserveTos', () => {
    const output = (port: number, extra = '') => `{ interface: "eth1", address: "239.9.9.9", port: ${port}${extra} }`;
    const file = (defaults: string, ...outputs: string[]) =>
      `{\n  ${defaults}\n  rules: [\n    { input: { interface: "eth0", group: "239.0.0.1", port: 5000 },\n      outputs: [${outputs.join(', ')}] },\n  ],\n}`;
    const outputsOf = (text: string) => parseConfig(text, FILE).rules![0].outputs.map((o) => [o.port, o.ttlPolicy, o.ttl, o.dscp, o.preserveTos]);

    it('reads ttl "decrement" as TTL_POLICY_DECREMENT without a ttl, a number as a fixed ttl, and preserveTos as given', () => {
      expect(outputsOf(file('', output(1), output(2, ', ttl: "decrement"'), output(3, ', ttl: 9, preserveTos: false'), output(4, ', preserveTos: true, dscp: 46')))).to.deep.equal([
        [1, TtlPolicy.TTL_POLICY_UNSPECIFIED, undefined, undefined, undefined],
        [2, TtlPolicy.TTL_POLICY_DECREMENT, undefined, undefined, undefined],
        [3, TtlPolicy.TTL_POLICY_UNSPECIFIED, 9, undefined, false],
        [4, TtlPolicy.TTL_POLICY_UNSPECIFIED, undefined, 46, true],
      ]);
    });

    it('fills defaults.ttl "decrement" and defaults.preserveTos into the outputs that do not set them; an output\'s own wins', () => {
      const text = file('defaults: { ttl: "decrement", preserveTos: false },', output(1), output(2, ', ttl: 8'), output(3, ', preserveTos: true'));
      expect(parseConfig(text, FILE).defaults).to.deep.equal({ ttl: 'decrement', preserveTos: false });
      expect(outputsOf(text)).to.deep.equal([
        [1, TtlPolicy.TTL_POLICY_DECREMENT, undefined, undefined, false],
        [2, TtlPolicy.TTL_POLICY_UNSPECIFIED, 8, undefined, false],
        [3, TtlPolicy.TTL_POLICY_DECREMENT, undefined, undefined, true],
      ]);
      // And the other way round: a fixed default, one output decrementing.
      expect(outputsOf(file('defaults: { ttl: 8, preserveTos: true },', output(1), output(2, ', ttl: "decrement"')))).to.deep.equal([
        [1, TtlPolicy.TTL_POLICY_UNSPECIFIED, 8, undefined, true],
        [2, TtlPolicy.TTL_POLICY_DECREMENT, undefined, undefined, true],
      ]);
    });

    it('reports a ttl that is neither 1-255 nor "decrement", and a preserveTos that is not a boolean, at their place', () => {
      const text = file(
        'defaults: { ttl: "Decrement", preserveTos: "yes" },',
        output(1, ', ttl: "decrment"'),
        output(2, ', ttl: 1.5'),
        output(3, ', ttl: null'),
        output(4, ', preserveTos: 0'),
      );
      expect(problems(text)).to.deep.equal([
        `${FILE}:2:15: defaults.ttl: must be 1-255 or "decrement", got "Decrement"`,
        `${FILE}:2:33: defaults.preserveTos: must be true or false, got "yes"`,
        `${FILE}:5:69: rules[0].outputs[0].ttl: must be 1-255 or "decrement", got "decrment"`,
        `${FILE}:5:140: rules[0].outputs[1].ttl: must be 1-255 or "decrement", got 1.5`,
        `${FILE}:5:204: rules[0].outputs[2].ttl: must be 1-255 or "decrement", got null`,
        `${FILE}:5:269: rules[0].outputs[3].preserveTos: must be true or false, got 0`,
      ]);
    });

    it('config check shows the defaults as the file spells them', () => {
      expect(checkedView(parseConfig(file('defaults: { ttl: "decrement", dscp: 46, preserveTos: false },', output(1)), FILE))).to.equal(
        `${FILE}: valid: 1 rule, defaults ttl decrement dscp 46 preserveTos false\n`,
      );
      expect(checkedView(parseConfig(file('defaults: { preserveTos: true },', output(1)), FILE))).to.equal(`${FILE}: valid: 1 rule, defaults preserveTos true\n`);
      expect(checkedView(parseConfig(file('', output(1)), FILE))).to.equal(`${FILE}: valid: 1 rule\n`);
    });
  });

  describe('oversize', () => {
    const output = (port: number, extra = '') => `{ interface: "eth1", address: "239.9.9.9", port: ${port}${extra} }`;
    const file = (defaults: string, ...outputs: string[]) =>
      `{\n  ${defaults}\n  rules: [\n    { input: { interface: "eth0", group: "239.0.0.1", port: 5000 },\n      outputs: [${outputs.join(', ')}] },\n  ],\n}`;
    const oversizeOf = (text: string) => parseConfig(text, FILE).rules![0].outputs.map((o) => [o.port, o.oversize]);
    const { OVERSIZE_POLICY_DROP: DROP, OVERSIZE_POLICY_UNSPECIFIED: UNSET } = OversizePolicy;

    it('reads "drop" as OVERSIZE_POLICY_DROP, and "fragment" as unset (the default)', () => {
      expect(oversizeOf(file('', output(1), output(2, ', oversize: "drop"'), output(3, ', oversize: "fragment"')))).to.deep.equal([
        [1, UNSET],
        [2, DROP],
        [3, UNSET],
      ]);
    });

    it('fills defaults.oversize into the outputs that do not set it; an output\'s own wins', () => {
      const text = file('defaults: { oversize: "drop" },', output(1), output(2, ', oversize: "fragment"'));
      expect(parseConfig(text, FILE).defaults).to.deep.equal({ oversize: 'drop' });
      expect(oversizeOf(text)).to.deep.equal([
        [1, DROP],
        [2, UNSET],
      ]);
      expect(oversizeOf(file('defaults: { oversize: "fragment", ttl: 8 },', output(1), output(2, ', oversize: "drop"')))).to.deep.equal([
        [1, UNSET],
        [2, DROP],
      ]);
    });

    it('reports an oversize that is neither "fragment" nor "drop" at its place', () => {
      const text = file('defaults: { oversize: "Drop" },', output(1, ', oversize: "fragmented"'), output(2, ', oversize: 1500'), output(3, ', oversize: true'));
      expect(problems(text)).to.deep.equal([
        `${FILE}:2:15: defaults.oversize: must be "fragment" or "drop", got "Drop"`,
        `${FILE}:5:69: rules[0].outputs[0].oversize: must be "fragment" or "drop", got "fragmented"`,
        `${FILE}:5:147: rules[0].outputs[1].oversize: must be "fragment" or "drop", got 1500`,
        `${FILE}:5:217: rules[0].outputs[2].oversize: must be "fragment" or "drop", got true`,
      ]);
    });

    it('config check shows defaults.oversize as the file spells it', () => {
      expect(checkedView(parseConfig(file('defaults: { ttl: 8, oversize: "drop" },', output(1)), FILE))).to.equal(`${FILE}: valid: 1 rule, defaults ttl 8 oversize drop\n`);
    });
  });

  describe('output source', () => {
    const output = (port: number, extra = '') => `{ interface: "wg0", address: "10.20.0.7", port: ${port}${extra} }`;
    const file = (defaults: string, ...outputs: string[]) =>
      `{\n  ${defaults}\n  rules: [\n    { input: { interface: "eth0", group: "239.0.0.1", port: 5000 },\n      outputs: [${outputs.join(', ')}] },\n  ],\n}`;
    const sourcesOf = (text: string) => parseConfig(text, FILE).rules![0].outputs.map((o) => o.source);

    it('reads source as Output.source; left out or "", the kernel picks the address', () => {
      expect(sourcesOf(file('', output(1, ', source: "10.20.0.1"'), output(2), output(3, ', source: ""')))).to.deep.equal(['10.20.0.1', '', '']);
    });

    it('reports a source that is not a unicast dotted quad, or not a string, at its place, as the API names it', () => {
      const text = file('', output(1, ', source: "wg0"'), output(2, ', source: "239.1.1.1"'), output(3, ', source: "0.0.0.0"'), output(4, ', source: 167772161'));
      expect(problems(text)).to.deep.equal([
        `${FILE}:5:68: rules[0].outputs[0].source: "wg0" is not an IPv4 address in dotted-quad form (e.g. 239.1.2.3)`,
        `${FILE}:5:136: rules[0].outputs[1].source: 239.1.1.1 is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)`,
        `${FILE}:5:210: rules[0].outputs[2].source: 0.0.0.0 is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)`,
        `${FILE}:5:282: rules[0].outputs[3].source: must be a string, got 167772161`,
      ]);
    });

    it('is not among the defaults: an address belongs to one interface', () => {
      expect(problems(file('defaults: { source: "10.20.0.1" },', output(1)))).to.deep.equal([
        `${FILE}:2:15: defaults.source: unknown key (expected one of: ttl, dscp, preserveTos, oversize)`,
      ]);
    });

    it('config load shows it as "from", in the words of mcrctl --from', () => {
      const rule = parseConfig(file('', output(1, ', source: "10.20.0.1", ttl: 64')), FILE).rules![0];
      expect(applyView(ApplyRulesResponse.fromPartial({ added: [rule], dryRun: true }))).to.include('wg0 10.20.0.7:1 from 10.20.0.1 ttl 64');
    });
  });

  describe('input vlan', () => {
    const rule = (input: string) => `    { input: { interface: "trunk0", group: "239.1.1.1", port: 5000${input} }, outputs: [{ interface: "eth1", address: "239.9.9.9", port: 6000 }] },`;
    const file = (...inputs: string[]) => `{\n  rules: [\n${inputs.map(rule).join('\n')}\n  ],\n}`;
    const vlansOf = (text: string) => parseConfig(text, FILE).rules!.map((r) => r.input?.vlan);

    it('reads vlan as Input.vlan; left out, the input has none', () => {
      expect(vlansOf(file(', vlan: 100', ', vlan: 1, source: "10.0.0.1"', ', vlan: 4094', ''))).to.deep.equal([100, 1, 4094, undefined]);
    });

    it('reports a vlan that is not a VLAN ID at its place, as the API names it', () => {
      expect(problems(file(', vlan: 0', ', vlan: 4095', ', vlan: 10.5', ', vlan: "100"', ', vlan: null'))).to.deep.equal([
        `${FILE}:3:69: rules[0].input.vlan: must be 1-4094, got 0 (0 is priority tagging without a VLAN, 4095 is reserved)`,
        `${FILE}:4:69: rules[1].input.vlan: must be 1-4094, got 4095 (0 is priority tagging without a VLAN, 4095 is reserved)`,
        `${FILE}:5:69: rules[2].input.vlan: must be 1-4094, got 10.5 (0 is priority tagging without a VLAN, 4095 is reserved)`,
        `${FILE}:6:69: rules[3].input.vlan: must be a number, got "100"`,
        `${FILE}:7:69: rules[4].input.vlan: must be a number, got null`,
      ]);
    });

    it('lets one group be captured per VLAN and without one, but not twice on one VLAN', () => {
      expect(vlansOf(file(', vlan: 100', ', vlan: 200', ''))).to.deep.equal([100, 200, undefined]);
      const twice = problems(file(', vlan: 100', ', vlan: 100'));
      expect(twice).to.have.length(1);
      expect(twice[0]).to.match(/^mcr\.json5:4:\d+: rules\[1\]\.input: captures .*as rules\[0\] does/);
    });

    it('does not take a vlan it cannot read for none: no clash with the rule that has none', () => {
      expect(problems(file(', vlan: "100"', ''))).to.deep.equal([`${FILE}:3:69: rules[0].input.vlan: must be a number, got "100"`]);
    });
  });

  describe('input protocol', () => {
    const rule = (input: string, outputs = '{ interface: "eth1", address: "10.0.0.9" }') =>
      `    { input: { interface: "eth0", group: "239.1.1.1"${input} }, outputs: [${outputs}] },`;
    const file = (...rules: string[]) => `{\n  rules: [\n${rules.join('\n')}\n  ],\n}`;

    it('reads protocol "esp" as IP_PROTOCOL_ESP, its input and outputs without a port (0); "udp" as unset', () => {
      const [esp, udp] = parseConfig(file(rule(', protocol: "esp"'), rule(', port: 5000, protocol: "udp"', '{ interface: "eth1", address: "10.0.0.9", port: 6000 }')), FILE).rules!;
      expect(esp.input).to.deep.equal({ interface: 'eth0', group: '239.1.1.1', port: 0, source: '', vlan: undefined, protocol: IpProtocol.IP_PROTOCOL_ESP });
      expect(esp.outputs.map((o) => [o.address, o.port])).to.deep.equal([['10.0.0.9', 0]]);
      expect(udp.input).to.deep.include({ port: 5000, protocol: IpProtocol.IP_PROTOCOL_UNSPECIFIED });
    });

    it('takes every other option of an ESP rule\'s input and outputs, and the defaults', () => {
      const text = `{\n  defaults: { ttl: "decrement", oversize: "drop" },\n  rules: [\n${rule(
        ', protocol: "esp", source: "10.0.0.1", vlan: 100',
        '{ interface: "eth1", address: "239.9.9.9", dscp: 46, preserveTos: false, source: "10.1.0.1" }',
      )}\n  ],\n}`;
      const [read] = parseConfig(text, FILE).rules!;
      expect(read.input).to.deep.include({ source: '10.0.0.1', vlan: 100, protocol: IpProtocol.IP_PROTOCOL_ESP });
      expect(read.outputs[0]).to.deep.include({ port: 0, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, dscp: 46, preserveTos: false, oversize: OversizePolicy.OVERSIZE_POLICY_DROP, source: '10.1.0.1' });
    });

    it('reports a port given in an ESP rule, in its input or an output, at its place', () => {
      const text = file(rule(', port: 5000, protocol: "esp"', '{ interface: "eth1", address: "10.0.0.9" }, { interface: "eth2", address: "10.0.0.8", port: 6000 }'));
      expect(problems(text)).to.deep.equal([
        `${FILE}:3:55: rules[0].input.port: must be left out in an ESP rule (protocol "esp"): ESP has no port, got 5000`,
        `${FILE}:3:182: rules[0].outputs[1].port: must be left out in an ESP rule (protocol "esp"): ESP has no port, got 6000`,
      ]);
    });

    it('still needs the ports of a UDP rule, and reports a protocol that is not a word it knows', () => {
      expect(problems(file(rule(', protocol: "udp"'), rule(', protocol: "ESP"'), rule(', protocol: 50')))).to.deep.equal([
        `${FILE}:3:7: rules[0].input.port: required`,
        `${FILE}:3:84: rules[0].outputs[0].port: required`,
        `${FILE}:4:55: rules[1].input.protocol: must be "udp" or "esp", got "ESP"`,
        `${FILE}:5:55: rules[2].input.protocol: must be "udp" or "esp", got 50`,
      ]);
    });

    it('lets one group be captured as UDP and as ESP, each once', () => {
      const udp = rule(', port: 5000', '{ interface: "eth1", address: "10.0.0.9", port: 6000 }');
      expect(parseConfig(file(udp, rule(', protocol: "esp"')), FILE).rules).to.have.length(2);
      const twice = problems(file(rule(', protocol: "esp"'), rule(', protocol: "esp"', '{ interface: "eth2", address: "10.0.0.9" }')));
      expect(twice).to.have.length(1);
      expect(twice[0]).to.match(/^mcr\.json5:4:\d+: rules\[1\]\.input: captures .*as rules\[0\] does/);
    });

    it('reports an ESP output sending to its own input, and two outputs alike, without ports', () => {
      expect(problems(file(rule(', protocol: "esp"', '{ interface: "eth0", address: "239.1.1.1" }, { interface: "eth1", address: "10.0.0.9" }, { interface: "eth1", address: "10.0.0.9" }')))).to.deep.equal([
        `${FILE}:3:84: rules[0].outputs[0]: sends to the rule's own input eth0 239.1.1.1 esp, which would loop`,
        `${FILE}:3:173: rules[0].outputs[2]: duplicates rules[0].outputs[1] (eth1 10.0.0.9)`,
      ]);
    });
  });

  it('tells a file without rules (rules left alone) from one with none', () => {
    expect(parseConfig('{ workers: 2 }', FILE).rules).to.equal(undefined);
    expect(parseConfig('{ rules: [], }', FILE).rules).to.deep.equal([]);
    expect(parseConfig('{}', FILE).defaults).to.deep.equal({});
  });

  it('reports a syntax error at JSON5\'s line and column', () => {
    expect(problems('{\n  rules: [\n    { name: "x" }\n    { name: "y" },\n  ],\n}')).to.deep.equal([
      `${FILE}:4:5: not valid JSON5: invalid character '{'`,
    ]);
    expect(problems('{ workers: 2')).to.deep.equal([`${FILE}:1:13: not valid JSON5: invalid end of input`]);
  });

  it('reports a rule field out of range at its line, as the API names it', () => {
    const text = GOOD.replace('port: 6000 },', 'port: 0 },');
    expect(problems(text)).to.deep.equal([`${FILE}:12:52: rules[0].outputs[0].port: must be 1-65535, got 0`]);
  });

  it('reports every problem of several kinds, each at its place, in file order', () => {
    const text = `{
  listen: ["unix:relative.sock"],
  workers: 0,
  logLevel: "loud",
  defaults: { ttl: 0, tos: 4 },
  rules: [
    { name: "a", input: { interface: "eth0", group: "10.0.0.1", port: 5000 }, outputs: [{ interface: "eth1", address: "239.9.9.9", port: 6000 }] },
    { name: "b", input: { interface: "eth0", group: "239.0.0.2", port: "5000" }, outputs: [] },
    { name: "c", input: { interface: "eth0", group: "239.0.0.3", port: 5000 },
      outptus: [{ interface: "eth1", address: "239.9.9.9", port: 6000 }] },
    { name: "d", input: { interface: "eth0", group: "239.0.0.4", port: 5000 }, outputs: [{ interface: "eth1", address: "239.9.9.9", port: 6000, ttl: 300 }] },
    "e",
  ],
}`;
    expect(problems(text)).to.deep.equal([
      `${FILE}:2:12: listen[0]: unix socket path must be absolute: "unix:relative.sock"`,
      `${FILE}:3:3: workers: must be 1-256, got 0`,
      `${FILE}:4:3: logLevel: must be one of error, warn, info, debug, got "loud"`,
      `${FILE}:5:15: defaults.ttl: must be 1-255 or "decrement", got 0`,
      `${FILE}:5:23: defaults.tos: unknown key (expected one of: ttl, dscp, preserveTos, oversize)`,
      `${FILE}:7:46: rules[0].input.group: 10.0.0.1 is not a multicast group (224.0.0.0/4)`,
      `${FILE}:8:66: rules[1].input.port: must be a number, got "5000"`,
      `${FILE}:8:82: rules[1].outputs: at least one output is required`,
      `${FILE}:9:5: rules[2].outputs: required`,
      `${FILE}:10:7: rules[2].outptus: unknown key (expected one of: id, name, input, outputs)`,
      `${FILE}:11:145: rules[3].outputs[0].ttl: must be 1-255 or "decrement", got 300`,
      `${FILE}:12:5: rules[4]: must be an object, got "e"`,
    ]);
  });

  it('reports in one run what used to take several: every field of a rule, and clashes beside invalid rules', () => {
    // Each line of this file used to hide the next: a rule stopped at its first bad field, a shape
    // problem (the unknown key) kept the rule from being validated at all, and two rules with one
    // name were only looked for once every rule was valid.
    const text = `{
  rules: [
    { name: "cam", input: { interface: "eth0", group: "10.0.0.1", port: 0 }, color: "red",
      outputs: [{ interface: "eth1", address: "0.0.0.0", port: 6000 }, { interface: "eth1", address: "239.9.9.9", port: 6000, ttl: 0 }] },
    { name: "cam", input: { interface: "eth0", group: "239.0.0.2", port: 5000 },
      outputs: [{ interface: "eth1", address: "239.9.9.9", port: 6000 }, { interface: "eth1", address: "239.9.9.9", port: 6000 }] },
    { name: "cam", input: { interface: "eth0", group: "239.0.0.3", port: 5000 }, outputs: [{ interface: "eth1", address: "239.9.9.9", port: 6000 }] },
  ],
}`;
    expect(problems(text)).to.deep.equal([
      `${FILE}:3:48: rules[0].input.group: 10.0.0.1 is not a multicast group (224.0.0.0/4)`,
      `${FILE}:3:67: rules[0].input.port: must be 1-65535, got 0`,
      `${FILE}:3:78: rules[0].color: unknown key (expected one of: id, name, input, outputs)`,
      `${FILE}:4:38: rules[0].outputs[0].address: 0.0.0.0 cannot be a destination`,
      `${FILE}:4:127: rules[0].outputs[1].ttl: must be 1-255 or "decrement", got 0`,
      `${FILE}:5:7: rules[1].name: "cam" is also the name of rules[0]`,
      `${FILE}:6:74: rules[1].outputs[1]: duplicates rules[1].outputs[0] (eth1 239.9.9.9:6000)`,
      `${FILE}:7:7: rules[2].name: "cam" is also the name of rules[0]`,
    ]);
  });

  it('reports two rules that are one, and keys given twice', () => {
    const text = `{
  rules: [
    { name: "cam", input: { interface: "eth0", group: "239.0.0.1", port: 5000 }, outputs: [{ interface: "eth1", address: "239.9.9.9", port: 6000 }] },
    { name: "cam", input: { interface: "eth0", group: "239.0.0.2", port: 5000 }, outputs: [{ interface: "eth1", address: "239.9.9.9", port: 6000 }] },
  ],
}`;
    expect(problems(text)).to.deep.equal([`${FILE}:4:7: rules[1].name: "cam" is also the name of rules[0]`]);
    expect(problems('{\n  workers: 2,\n  workers: 3,\n}')).to.deep.equal([`${FILE}:3:3: workers: given twice (also at 2:3); only the last would count`]);
  });

  it('reports a whole-document problem at the document', () => {
    expect(problems('// nothing but\n[1, 2]')).to.deep.equal([`${FILE}:2:1: must be an object, got an array`]);
    expect(problems('{ listen: [] }')).to.deep.equal([`${FILE}:1:3: listen: lists no address: give at least one, or leave listen out for the default`]);
  });

  it('says when the file cannot be read', async () => {
    const missing = path.join(os.tmpdir(), 'mcr-no-such-config.json5');
    const err = await readConfigFile(missing).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ConfigFileError);
    expect((err as Error).message).to.match(new RegExp(`^${missing}: cannot read it: ENOENT`));
  });

  it('places a refusal from mcrd that names a rule field', () => {
    const config = parseConfig(GOOD, FILE);
    expect(problemFromRefusal(config, 'rules[1].id: audio is the name of rule r-0123')).to.deep.equal({
      line: 16,
      column: 7,
      field: 'rules[1].id',
      message: 'audio is the name of rule r-0123',
    });
    expect(problemFromRefusal(config, 'rules[0].outputs[1]: sends to the rule\'s own input')?.line).to.equal(13);
    expect(problemFromRefusal(config, 'expected_generation: is 3')).to.equal(undefined);
  });

  describe('written back', () => {
    const rules = [
      { ...parseConfig(GOOD, FILE).rules![0], id: deriveRuleId({ interface: 'eth0', group: '239.0.0.1', port: 5000, source: '10.10.1.100' }) },
      Rule.fromPartial({
        id: 'kept-id',
        input: { interface: 'eth2', group: '239.0.0.3', port: 1 },
        outputs: [{ interface: 'eth1', address: '10.0.0.9', port: 2 }],
      }),
      Rule.fromPartial({
        id: deriveRuleId({ interface: 'eth0', group: '239.0.0.4', port: 4, source: '' }),
        input: { interface: 'eth0', group: '239.0.0.4', port: 4 },
        outputs: [
          { interface: 'eth1', address: '239.9.9.1', port: 1, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT },
          { interface: 'eth1', address: '239.9.9.2', port: 2, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, dscp: 46, preserveTos: false },
          { interface: 'eth1', address: '239.9.9.3', port: 3, ttl: 16, preserveTos: true },
          { interface: 'eth1', address: '239.9.9.4', port: 4, dscp: 0, preserveTos: false },
        ],
      }),
      Rule.fromPartial({
        id: deriveRuleId({ interface: 'eth0', group: '239.0.0.5', port: 5, source: '' }),
        input: { interface: 'eth0', group: '239.0.0.5', port: 5 },
        outputs: [
          { interface: 'eth1', address: '239.9.8.1', port: 1, oversize: OversizePolicy.OVERSIZE_POLICY_DROP },
          { interface: 'eth1', address: '239.9.8.2', port: 2, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, preserveTos: false, oversize: OversizePolicy.OVERSIZE_POLICY_DROP },
          { interface: 'eth1', address: '239.9.8.3', port: 3 },
        ],
      }),
      Rule.fromPartial({
        id: deriveRuleId({ interface: 'eth0', group: '239.0.0.6', port: 6, source: '10.0.0.1', vlan: 100 }),
        input: { interface: 'eth0', group: '239.0.0.6', port: 6, source: '10.0.0.1', vlan: 100 },
        outputs: [{ interface: 'eth1', address: '239.9.7.1', port: 1 }],
      }),
      Rule.fromPartial({
        id: deriveRuleId({ interface: 'eth0', group: '239.0.0.7', port: 7, source: '' }),
        input: { interface: 'eth0', group: '239.0.0.7', port: 7 },
        outputs: [
          { interface: 'wg0', address: '10.20.0.7', port: 1, source: '10.20.0.1' },
          { interface: 'eth1', address: '239.9.6.2', port: 2, source: '10.30.0.1', ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, oversize: OversizePolicy.OVERSIZE_POLICY_DROP },
          { interface: 'eth1', address: '239.9.6.3', port: 3, source: '' },
        ],
      }),
      Rule.fromPartial({
        id: deriveRuleId({ interface: 'eth0', group: '239.0.0.8', port: 0, source: '', vlan: 200, protocol: IpProtocol.IP_PROTOCOL_ESP }),
        input: { interface: 'eth0', group: '239.0.0.8', protocol: IpProtocol.IP_PROTOCOL_ESP, vlan: 200 },
        outputs: [
          { interface: 'eth1', address: '10.0.0.9', ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT },
          { interface: 'eth2', address: '239.9.5.2', dscp: 46, oversize: OversizePolicy.OVERSIZE_POLICY_DROP, source: '10.30.0.1' },
        ],
      }),
    ];

    it('reads back as the same definitions, with ids only where they are not derived', () => {
      const text = renderRulesJson5(rulesDocument(rules), ['saved by a test']);
      expect(text.startsWith('// saved by a test\n{\n  rules: [\n')).to.equal(true);
      expect(text).to.not.include(rules[0].id);
      expect(text).to.include('id: "kept-id"');
      const read = parseConfig(text, FILE).rules!;
      expect(read).to.deep.equal([{ ...rules[0], id: '' }, rules[1], ...rules.slice(2).map((rule) => ({ ...rule, id: '' }))]);
    });

    it('writes an input\'s vlan where it is set; its id, derived from a match key with the VLAN, is left out', () => {
      const text = renderRulesJson5(rulesDocument([rules[4]]));
      expect(text).to.include('      input: { interface: "eth0", group: "239.0.0.6", port: 6, source: "10.0.0.1", vlan: 100 },\n');
      expect(text).to.not.include('id:');
      // Without its VLAN the derived id is another: the rule's id is then written, to be kept.
      const moved = { ...rules[4], input: { ...rules[4].input!, vlan: undefined } };
      expect(renderRulesJson5(rulesDocument([moved]))).to.include(`id: "${rules[4].id}"`);
    });

    it('writes ttl_policy decrement as ttl: "decrement", and preserveTos where it is set', () => {
      const text = renderRulesJson5(rulesDocument([rules[2]]));
      expect(text.split('\n').filter((line) => line.includes('239.9.9.'))).to.deep.equal([
        '        { interface: "eth1", address: "239.9.9.1", port: 1, ttl: "decrement" },',
        '        { interface: "eth1", address: "239.9.9.2", port: 2, ttl: "decrement", dscp: 46, preserveTos: false },',
        '        { interface: "eth1", address: "239.9.9.3", port: 3, ttl: 16, preserveTos: true },',
        '        { interface: "eth1", address: "239.9.9.4", port: 4, dscp: 0, preserveTos: false },',
      ]);
      // TTL_POLICY_FIXED is the default: written as a plain ttl (or none), read back as unset.
      const fixed = Rule.fromPartial({ ...rules[1], outputs: [{ interface: 'eth1', address: '10.0.0.9', port: 2, ttl: 3, ttlPolicy: TtlPolicy.TTL_POLICY_FIXED }] });
      expect(renderRulesJson5(rulesDocument([fixed]))).to.include('{ interface: "eth1", address: "10.0.0.9", port: 2, ttl: 3 },');
    });

    it('writes oversize drop as oversize: "drop", and fragment, the default, not at all', () => {
      const text = renderRulesJson5(rulesDocument([rules[3]]));
      expect(text.split('\n').filter((line) => line.includes('239.9.8.'))).to.deep.equal([
        '        { interface: "eth1", address: "239.9.8.1", port: 1, oversize: "drop" },',
        '        { interface: "eth1", address: "239.9.8.2", port: 2, ttl: "decrement", preserveTos: false, oversize: "drop" },',
        '        { interface: "eth1", address: "239.9.8.3", port: 3 },',
      ]);
      // OVERSIZE_POLICY_FRAGMENT is the default: not written, read back as unset.
      const fragment = Rule.fromPartial({ ...rules[1], outputs: [{ interface: 'eth1', address: '10.0.0.9', port: 2, oversize: OversizePolicy.OVERSIZE_POLICY_FRAGMENT }] });
      const written = renderRulesJson5(rulesDocument([fragment]));
      expect(written).to.include('{ interface: "eth1", address: "10.0.0.9", port: 2 },');
      expect(parseConfig(written, FILE).rules![0].outputs[0].oversize).to.equal(OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED);
    });

    it('writes an output\'s source after its port where it is set, and none where it is not', () => {
      const text = renderRulesJson5(rulesDocument([rules[5]]));
      expect(text.split('\n').filter((line) => line.includes('port: '))).to.deep.equal([
        '      input: { interface: "eth0", group: "239.0.0.7", port: 7 },',
        '        { interface: "wg0", address: "10.20.0.7", port: 1, source: "10.20.0.1" },',
        '        { interface: "eth1", address: "239.9.6.2", port: 2, source: "10.30.0.1", ttl: "decrement", oversize: "drop" },',
        '        { interface: "eth1", address: "239.9.6.3", port: 3 },',
      ]);
    });

    it('writes an ESP rule\'s input with protocol: "esp" and no port, and its outputs without one; a UDP rule\'s without protocol', () => {
      const text = renderRulesJson5(rulesDocument([rules[6]]));
      expect(text.split('\n').filter((line) => line.includes('interface'))).to.deep.equal([
        '      input: { interface: "eth0", group: "239.0.0.8", vlan: 200, protocol: "esp" },',
        '        { interface: "eth1", address: "10.0.0.9", ttl: "decrement" },',
        '        { interface: "eth2", address: "239.9.5.2", source: "10.30.0.1", dscp: 46, oversize: "drop" },',
      ]);
      // Its id, derived from a match key with "esp" in place of the port, is left out.
      expect(text).to.not.include('id:');
      expect(renderRulesJson5(rulesDocument(rules))).to.not.include('protocol: "udp"');
      // IP_PROTOCOL_UDP is the default: not written, read back as unset.
      const udp = Rule.fromPartial({ ...rules[1], input: { ...rules[1].input!, protocol: IpProtocol.IP_PROTOCOL_UDP } });
      const written = renderRulesJson5(rulesDocument([udp]));
      expect(written).to.include('      input: { interface: "eth2", group: "239.0.0.3", port: 1 },\n');
      expect(parseConfig(written, FILE).rules![0].input?.protocol).to.equal(IpProtocol.IP_PROTOCOL_UNSPECIFIED);
    });

    it('writes an empty rule set as rules: []', () => {
      expect(parseConfig(renderRulesJson5(rulesDocument([])), FILE).rules).to.deep.equal([]);
    });

    it('gives the same document as JSON', () => {
      const document = rulesDocument(rules);
      expect(parseConfig(JSON.stringify(document), FILE).rules).to.deep.equal(parseConfig(renderRulesJson5(document), FILE).rules);
    });
  });
});
