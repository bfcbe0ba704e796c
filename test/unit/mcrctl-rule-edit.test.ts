import { expect } from 'chai';

import { IpProtocol, OversizePolicy, Rule, RuleState, TtlPolicy } from '../../gen/mcr/v1/rules';
import { isEmptyEdit, maskedRuleUpdate, needsCurrentOutputs, needsCurrentRule, newRuleDefinition, RuleEdit, RuleEditError } from '../../clients/mcrctl/rule-edit';
import { applyUpdateMask, checkUpdateMask } from '../../server/rules/update-mask';

/** A rule as mcrd returns it, output-only fields included. */
const existing = Rule.fromPartial({
  id: 'r-0123456789ab',
  name: 'cam1',
  input: { interface: 'eth0', group: '239.0.0.1', port: 5000, source: '10.10.1.100' },
  outputs: [
    { interface: 'eth1', address: '239.9.9.9', port: 6000, ttl: 4 },
    { interface: 'wg0', address: '10.20.0.7', port: 6000, dscp: 46 },
  ],
  generation: 7n,
  status: { state: RuleState.RULE_STATE_ACTIVE, reason: '', worker: 1, lastPacketUnixNanos: 5n },
  createdUnixNanos: 1n,
  updatedUnixNanos: 2n,
});

/** The definition part of `existing`: the rule's definition after an update that changes nothing. */
const unchanged = Rule.fromPartial({ id: existing.id, name: existing.name, input: existing.input, outputs: existing.outputs });

/**
 * The definition `existing` has after `rule update` with `edit`: what mcrctl sends (a partial
 * definition and its update_mask, read by mcrd's own mask check) merged the way mcrd merges it.
 */
function mergeRuleUpdate(rule: Rule, edit: RuleEdit): Rule {
  const { definition, paths } = maskedRuleUpdate(edit, needsCurrentRule(edit) ? rule : undefined);
  const mask = checkUpdateMask(paths);
  expect(mask, 'a partial update').to.not.equal(undefined);
  const merged = applyUpdateMask(rule, definition, mask!);
  return Rule.fromPartial({ id: merged.id, name: merged.name, input: merged.input, outputs: merged.outputs });
}

describe('mcrctl rule edits', () => {
  it('builds a new rule, applying --ttl/--dscp to every output', () => {
    const rule = newRuleDefinition({
      name: 'cam1',
      input: { interface: 'eth0', address: '239.0.0.1', port: 5000 },
      outputs: [
        { interface: 'eth1', address: '239.9.9.9', port: 6000 },
        { interface: 'wg0', address: '10.20.0.7', port: 6000 },
      ],
      ttl: 8,
    });
    expect(rule).to.deep.equal(
      Rule.fromPartial({
        id: '',
        name: 'cam1',
        input: { interface: 'eth0', group: '239.0.0.1', port: 5000, source: '' },
        outputs: [
          { interface: 'eth1', address: '239.9.9.9', port: 6000, ttl: 8 },
          { interface: 'wg0', address: '10.20.0.7', port: 6000, ttl: 8 },
        ],
      }),
    );
    expect(rule.outputs[0].dscp).to.equal(undefined);
  });

  it('keeps a chosen id and source', () => {
    const rule = newRuleDefinition({
      id: 'r-custom',
      input: { interface: 'eth0', address: '232.1.1.1', port: 5000 },
      source: '10.10.1.100',
      outputs: [{ interface: 'eth1', address: '239.9.9.9', port: 6000 }],
    });
    expect(rule.id).to.equal('r-custom');
    expect(rule.input?.source).to.equal('10.10.1.100');
    expect(rule.input?.vlan).to.equal(undefined);
  });

  it('builds a new rule with its --vlan', () => {
    const edit = { input: { interface: 'eth0', address: '239.0.0.1', port: 5000 }, outputs: [{ interface: 'eth1', address: '239.9.9.9', port: 6000 }] };
    expect(newRuleDefinition({ ...edit, vlan: 100 }).input).to.deep.equal({ interface: 'eth0', group: '239.0.0.1', port: 5000, source: '', vlan: 100, protocol: 0 });
  });

  it('sends only the fields given, named by the update mask', () => {
    expect(maskedRuleUpdate({ name: 'cam2' })).to.deep.equal({ definition: Rule.fromPartial({ name: 'cam2' }), paths: ['name'] });
    const moved = maskedRuleUpdate({ input: { interface: 'eth3', address: '239.0.0.2', port: 5002 } });
    expect(moved.paths).to.deep.equal(['input.interface', 'input.group', 'input.port']);
    expect(maskedRuleUpdate({ source: '' }).paths).to.deep.equal(['input.source']);
    expect(maskedRuleUpdate({ vlan: 100 })).to.deep.equal({
      definition: Rule.fromPartial({ input: { interface: '', group: '', port: 0, source: '', vlan: 100 } }),
      paths: ['input.vlan'],
    });
    // --no-vlan: input.vlan masked and unset, which clears it.
    expect(maskedRuleUpdate({ vlan: false })).to.deep.equal({ definition: Rule.fromPartial({ input: {} }), paths: ['input.vlan'] });
    const out = maskedRuleUpdate({ outputs: [{ interface: 'eth2', address: '239.9.9.10', port: 6001 }], name: 'x' });
    expect(out.paths).to.deep.equal(['name', 'outputs']);
    expect(out.definition.id).to.equal('');
    expect(out.definition.generation).to.equal(0n);
    expect(out.definition.status).to.equal(undefined);
  });

  it('reads the rule first only to edit or mark the outputs it has', () => {
    expect(needsCurrentOutputs({ name: 'x', source: '', vlan: 100, input: { interface: 'eth3', address: '239.0.0.2', port: 5002 } })).to.equal(false);
    expect(needsCurrentOutputs({ outputs: [{ interface: 'eth2', address: '239.9.9.10', port: 6001 }], ttl: 3 })).to.equal(false);
    expect(needsCurrentOutputs({ ttl: 3 })).to.equal(true);
    expect(needsCurrentOutputs({ dscp: 3 })).to.equal(true);
    expect(needsCurrentOutputs({ addOutputs: [] })).to.equal(true);
    expect(needsCurrentOutputs({ removeOutputs: [] })).to.equal(true);
    expect(() => maskedRuleUpdate({ ttl: 3 })).to.throw(/needs the rule as it is/);
  });

  it('leaves a rule as it is when the edit restates it', () => {
    expect(mergeRuleUpdate(existing, { name: 'cam1' })).to.deep.equal(unchanged);
  });

  it('replaces only the name', () => {
    expect(mergeRuleUpdate(existing, { name: 'cam-main' })).to.deep.equal({ ...unchanged, name: 'cam-main' });
  });

  it('replaces interface, group and port with --in, keeping the source', () => {
    const merged = mergeRuleUpdate(existing, { input: { interface: 'eth3', address: '239.0.0.2', port: 5002 } });
    expect(merged.input).to.deep.equal({ interface: 'eth3', group: '239.0.0.2', port: 5002, source: '10.10.1.100', vlan: undefined, protocol: 0 });
    expect(merged.outputs).to.deep.equal(existing.outputs);
  });

  it('clears the source with --source ""', () => {
    expect(mergeRuleUpdate(existing, { source: '' }).input?.source).to.equal('');
  });

  describe('--vlan and --no-vlan', () => {
    const tagged = Rule.fromPartial({ ...existing, input: { ...existing.input, vlan: 100 } });

    it('sets or changes the VLAN, keeping the rest of the input', () => {
      expect(mergeRuleUpdate(existing, { vlan: 200 }).input).to.deep.equal({ ...existing.input, vlan: 200 });
      expect(mergeRuleUpdate(tagged, { vlan: 200 }).input).to.deep.equal({ ...existing.input, vlan: 200 });
    });

    it('clears it with --no-vlan', () => {
      expect(mergeRuleUpdate(tagged, { vlan: false }).input).to.deep.equal({ ...existing.input, vlan: undefined });
    });

    it('keeps it through --in and --source', () => {
      const merged = mergeRuleUpdate(tagged, { input: { interface: 'eth3', address: '239.0.0.2', port: 5002 }, source: '' });
      expect(merged.input).to.deep.equal({ interface: 'eth3', group: '239.0.0.2', port: 5002, source: '', vlan: 100, protocol: 0 });
    });
  });

  describe('--protocol', () => {
    const espIn = { interface: 'eth0', address: '239.1.1.1', port: 0 };
    const espOut = { interface: 'eth1', address: '10.0.0.9', port: 0 };
    const esp = Rule.fromPartial({
      ...existing,
      input: { interface: 'eth0', group: '239.1.1.1', protocol: IpProtocol.IP_PROTOCOL_ESP },
      outputs: [{ interface: 'eth1', address: '10.0.0.9', ttl: 4 }, { interface: 'wg0', address: '10.20.0.7' }],
    });
    /** The message of the RuleEditError `edit` is refused with for `rule`. */
    const refusal = (rule: Rule, edit: RuleEdit): string => {
      try {
        mergeRuleUpdate(rule, edit);
      } catch (err) {
        expect(err).to.be.instanceOf(RuleEditError);
        return (err as Error).message;
      }
      expect.fail('the edit was accepted');
    };

    it('builds an ESP rule: its input IP_PROTOCOL_ESP, no ports; udp is the unset protocol', () => {
      const rule = newRuleDefinition({ protocol: 'esp', input: espIn, outputs: [espOut], vlan: 100, oversize: 'drop' });
      expect(rule.input).to.deep.equal({ interface: 'eth0', group: '239.1.1.1', port: 0, source: '', vlan: 100, protocol: IpProtocol.IP_PROTOCOL_ESP });
      expect(rule.outputs.map((o) => [o.address, o.port, o.oversize])).to.deep.equal([['10.0.0.9', 0, OversizePolicy.OVERSIZE_POLICY_DROP]]);
      const udp = newRuleDefinition({ protocol: 'udp', input: { ...espIn, port: 5000 }, outputs: [{ ...espOut, port: 6000 }] });
      expect(udp.input?.protocol).to.equal(IpProtocol.IP_PROTOCOL_UNSPECIFIED);
    });

    it('switches with --in and --out, masking input.protocol, without reading the rule', () => {
      const edit: RuleEdit = { protocol: 'esp', input: espIn, outputs: [espOut] };
      expect(needsCurrentRule(edit)).to.equal(false);
      expect(maskedRuleUpdate(edit).paths).to.deep.equal(['input.interface', 'input.group', 'input.port', 'input.protocol', 'outputs']);
      const merged = mergeRuleUpdate(existing, edit);
      expect(merged.input).to.deep.equal({ interface: 'eth0', group: '239.1.1.1', port: 0, source: '10.10.1.100', vlan: undefined, protocol: IpProtocol.IP_PROTOCOL_ESP });
      expect(merged.outputs.map((o) => [o.address, o.port])).to.deep.equal([['10.0.0.9', 0]]);
      // And back: --protocol udp is written as the unset protocol.
      const back = mergeRuleUpdate(esp, { protocol: 'udp', input: { ...espIn, port: 5000 }, outputs: [{ ...espOut, port: 6000 }] });
      expect(back.input).to.deep.include({ port: 5000, protocol: IpProtocol.IP_PROTOCOL_UNSPECIFIED });
    });

    it('without both --in and --out reads the rule, and edits it when it relays that protocol already', () => {
      expect(needsCurrentRule({ protocol: 'esp', input: espIn })).to.equal(true);
      expect(needsCurrentOutputs({ protocol: 'esp', input: espIn })).to.equal(false);
      const moved = maskedRuleUpdate({ protocol: 'esp', input: { ...espIn, address: '239.1.1.2' } }, esp);
      expect(moved.paths).to.deep.equal(['input.interface', 'input.group', 'input.port']);
      expect(mergeRuleUpdate(esp, { protocol: 'esp', input: { ...espIn, address: '239.1.1.2' } }).input).to.deep.include({ group: '239.1.1.2', protocol: IpProtocol.IP_PROTOCOL_ESP });
      const added = mergeRuleUpdate(esp, { protocol: 'esp', removeOutputs: [{ interface: 'wg0', address: '10.20.0.7', port: 0 }], addOutputs: [{ interface: 'eth2', address: '10.0.0.8', port: 0 }], dscp: 46 });
      expect(added.outputs.map((o) => [o.interface, o.address, o.port, o.dscp])).to.deep.equal([
        ['eth1', '10.0.0.9', 0, undefined],
        ['eth2', '10.0.0.8', 0, 46],
      ]);
      expect(mergeRuleUpdate(existing, { protocol: 'udp', outputs: [{ ...espOut, port: 6000 }] }).outputs.map((o) => o.port)).to.deep.equal([6000]);
    });

    it('names an ESP rule\'s outputs without ports in its refusals', () => {
      expect(refusal(esp, { protocol: 'esp', removeOutputs: [{ interface: 'eth2', address: '10.0.0.8', port: 0 }] })).to.equal(
        '--del-out eth2 10.0.0.8: rule r-0123456789ab (cam1) has no such output (it has: eth1 10.0.0.9, wg0 10.20.0.7)',
      );
    });

    it('refuses a switch without both --in and --out', () => {
      expect(refusal(existing, { protocol: 'esp', input: espIn })).to.equal(
        '--protocol esp: rule r-0123456789ab (cam1) relays UDP; switching it to ESP needs --in and --out (every output) in the same command, as its input and outputs lose their ports',
      );
      expect(refusal(esp, { protocol: 'udp', addOutputs: [{ interface: 'eth2', address: '10.0.0.8', port: 6000 }] })).to.equal(
        '--protocol udp: rule r-0123456789ab (cam1) relays ESP; switching it to UDP needs --in and --out (every output) in the same command, as its input and outputs need ports',
      );
      expect(refusal(existing, { protocol: 'esp', outputs: [espOut] })).to.match(/^--protocol esp: rule r-0123456789ab \(cam1\) relays UDP; switching it/);
    });
  });

  it('replaces the whole output list with --out, without inheriting ttl/dscp', () => {
    const merged = mergeRuleUpdate(existing, { outputs: [{ interface: 'eth2', address: '239.9.9.10', port: 6001 }] });
    expect(merged.outputs).to.deep.equal([{ interface: 'eth2', address: '239.9.9.10', port: 6001, ttl: undefined, dscp: undefined, ttlPolicy: 0, preserveTos: undefined, oversize: 0, source: '' }]);
  });

  it('applies --ttl to the new outputs when --out is given', () => {
    const merged = mergeRuleUpdate(existing, { outputs: [{ interface: 'eth2', address: '239.9.9.10', port: 6001 }], ttl: 3 });
    expect(merged.outputs.map((o) => o.ttl)).to.deep.equal([3]);
  });

  it('applies --ttl/--dscp to every existing output without --out, keeping the rest', () => {
    const merged = mergeRuleUpdate(existing, { dscp: 10 });
    expect(merged.outputs).to.deep.equal([
      { interface: 'eth1', address: '239.9.9.9', port: 6000, ttl: 4, dscp: 10, ttlPolicy: 0, preserveTos: undefined, oversize: 0, source: '' },
      { interface: 'wg0', address: '10.20.0.7', port: 6000, ttl: undefined, dscp: 10, ttlPolicy: 0, preserveTos: undefined, oversize: 0, source: '' },
    ]);
  });

  describe('--ttl decrement and --[no-]preserve-tos', () => {
    const DECREMENT = TtlPolicy.TTL_POLICY_DECREMENT;
    const marking = (rule: Rule) => rule.outputs.map((o) => [o.ttlPolicy, o.ttl, o.dscp, o.preserveTos]);

    it('builds a new rule whose outputs decrement the TTL (no ttl) and keep a fixed TOS', () => {
      const rule = newRuleDefinition({
        input: { interface: 'eth0', address: '239.0.0.1', port: 5000 },
        outputs: [
          { interface: 'eth1', address: '239.9.9.9', port: 6000 },
          { interface: 'wg0', address: '10.20.0.7', port: 6000 },
        ],
        ttl: 'decrement',
        preserveTos: false,
      });
      expect(marking(rule)).to.deep.equal([
        [DECREMENT, undefined, undefined, false],
        [DECREMENT, undefined, undefined, false],
      ]);
      const preserving = newRuleDefinition({
        input: { interface: 'eth0', address: '239.0.0.1', port: 5000 },
        outputs: [{ interface: 'eth1', address: '239.9.9.9', port: 6000 }],
        ttl: 8,
        preserveTos: true,
      });
      expect(marking(preserving)).to.deep.equal([[0, 8, undefined, true]]);
    });

    it('marks every output without --out: --ttl decrement drops their ttl, --no-preserve-tos keeps their dscp', () => {
      expect(marking(mergeRuleUpdate(existing, { ttl: 'decrement' }))).to.deep.equal([
        [DECREMENT, undefined, undefined, undefined],
        [DECREMENT, undefined, 46, undefined],
      ]);
      expect(marking(mergeRuleUpdate(existing, { preserveTos: false }))).to.deep.equal([
        [0, 4, undefined, false],
        [0, undefined, 46, false],
      ]);
      expect(needsCurrentOutputs({ preserveTos: true })).to.equal(true);
      expect(needsCurrentOutputs({ outputs: [], preserveTos: true })).to.equal(false);
      expect(isEmptyEdit({ preserveTos: false })).to.equal(false);
    });

    it('--ttl N ends a decrement (fixed again), keeping TTL_POLICY_FIXED where it was set', () => {
      const decrementing = Rule.fromPartial({
        ...existing,
        outputs: [
          { interface: 'eth1', address: '239.9.9.9', port: 6000, ttlPolicy: DECREMENT, preserveTos: false },
          { interface: 'wg0', address: '10.20.0.7', port: 6000, ttlPolicy: TtlPolicy.TTL_POLICY_FIXED, ttl: 2 },
        ],
      });
      expect(marking(mergeRuleUpdate(decrementing, { ttl: 8 }))).to.deep.equal([
        [0, 8, undefined, false],
        [TtlPolicy.TTL_POLICY_FIXED, 8, undefined, undefined],
      ]);
      // --preserve-tos alone leaves the TTL policy as it is.
      expect(marking(mergeRuleUpdate(decrementing, { preserveTos: true }))).to.deep.equal([
        [DECREMENT, undefined, undefined, true],
        [TtlPolicy.TTL_POLICY_FIXED, 2, undefined, true],
      ]);
    });

    it('marks only the outputs added with --add-out', () => {
      const eth2 = { interface: 'eth2', address: '239.9.9.10', port: 6001 };
      expect(marking(mergeRuleUpdate(existing, { addOutputs: [eth2], ttl: 'decrement', preserveTos: false }))).to.deep.equal([
        [0, 4, undefined, undefined],
        [0, undefined, 46, undefined],
        [DECREMENT, undefined, undefined, false],
      ]);
    });
  });

  describe('--oversize', () => {
    const { OVERSIZE_POLICY_DROP: DROP, OVERSIZE_POLICY_FRAGMENT: FRAGMENT } = OversizePolicy;
    const oversize = (rule: Rule) => rule.outputs.map((o) => o.oversize);

    it('builds a new rule whose outputs drop what is too big; fragment is the unset policy', () => {
      const edit = { input: { interface: 'eth0', address: '239.0.0.1', port: 5000 }, outputs: [{ interface: 'eth1', address: '239.9.9.9', port: 6000 }] };
      expect(oversize(newRuleDefinition({ ...edit, oversize: 'drop' }))).to.deep.equal([DROP]);
      expect(oversize(newRuleDefinition({ ...edit, oversize: 'fragment' }))).to.deep.equal([0]);
      expect(oversize(newRuleDefinition(edit))).to.deep.equal([0]);
    });

    it('sets every output without --out, leaving the rest of each as it is; fragment keeps OVERSIZE_POLICY_FRAGMENT where it was set', () => {
      const merged = mergeRuleUpdate(existing, { oversize: 'drop' });
      expect(merged.outputs).to.deep.equal(existing.outputs.map((output) => ({ ...output, oversize: DROP })));
      const mixed = Rule.fromPartial({
        ...existing,
        outputs: [
          { interface: 'eth1', address: '239.9.9.9', port: 6000, oversize: DROP, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT },
          { interface: 'wg0', address: '10.20.0.7', port: 6000, oversize: FRAGMENT },
        ],
      });
      const fragmenting = mergeRuleUpdate(mixed, { oversize: 'fragment' });
      expect(fragmenting.outputs.map((o) => [o.oversize, o.ttlPolicy])).to.deep.equal([
        [0, TtlPolicy.TTL_POLICY_DECREMENT],
        [FRAGMENT, 0],
      ]);
      // Other settings alone leave the policy as it is.
      expect(oversize(mergeRuleUpdate(mixed, { dscp: 46, ttl: 8 }))).to.deep.equal([DROP, FRAGMENT]);
      expect(needsCurrentOutputs({ oversize: 'drop' })).to.equal(true);
      expect(needsCurrentOutputs({ outputs: [], oversize: 'drop' })).to.equal(false);
      expect(isEmptyEdit({ oversize: 'fragment' })).to.equal(false);
    });

    it('sets only the outputs given with --out or added with --add-out', () => {
      const eth2 = { interface: 'eth2', address: '239.9.9.10', port: 6001 };
      expect(oversize(mergeRuleUpdate(existing, { outputs: [eth2], oversize: 'drop' }))).to.deep.equal([DROP]);
      expect(oversize(mergeRuleUpdate(existing, { addOutputs: [eth2], oversize: 'drop' }))).to.deep.equal([0, 0, DROP]);
    });
  });

  describe('--from', () => {
    const sources = (rule: Rule) => rule.outputs.map((o) => o.source);
    const eth2 = { interface: 'eth2', address: '239.9.9.10', port: 6001 };

    it('builds a new rule whose outputs send from the address; without it, or with "", the kernel picks', () => {
      const edit = { input: { interface: 'eth0', address: '239.0.0.1', port: 5000 }, outputs: [{ interface: 'wg0', address: '10.20.0.7', port: 6000 }, eth2] };
      const rule = newRuleDefinition({ ...edit, from: '10.20.0.1', source: '10.10.1.100' });
      expect(sources(rule)).to.deep.equal(['10.20.0.1', '10.20.0.1']);
      expect(rule.input?.source, 'the input source is --source, not --from').to.equal('10.10.1.100');
      expect(sources(newRuleDefinition(edit))).to.deep.equal(['', '']);
      expect(sources(newRuleDefinition({ ...edit, from: '' }))).to.deep.equal(['', '']);
    });

    it('sets every output without --out, leaving the rest of each and the input as they are; "" clears it', () => {
      const merged = mergeRuleUpdate(existing, { from: '10.30.0.1' });
      expect(merged.outputs).to.deep.equal(existing.outputs.map((output) => ({ ...output, source: '10.30.0.1' })));
      expect(merged.input).to.deep.equal(existing.input);
      expect(sources(mergeRuleUpdate(merged, { from: '' }))).to.deep.equal(['', '']);
      // Other settings alone leave it as it is.
      expect(sources(mergeRuleUpdate(merged, { dscp: 46, ttl: 'decrement', oversize: 'drop' }))).to.deep.equal(['10.30.0.1', '10.30.0.1']);
      expect(maskedRuleUpdate({ from: '10.30.0.1' }, existing).paths).to.deep.equal(['outputs']);
      expect(needsCurrentOutputs({ from: '' })).to.equal(true);
      expect(needsCurrentOutputs({ outputs: [], from: '10.30.0.1' })).to.equal(false);
      expect(isEmptyEdit({ from: '' })).to.equal(false);
    });

    it('sets only the outputs given with --out or added with --add-out', () => {
      expect(sources(mergeRuleUpdate(existing, { outputs: [eth2], from: '10.30.0.1' }))).to.deep.equal(['10.30.0.1']);
      const added = mergeRuleUpdate(Rule.fromPartial({ ...existing, outputs: [{ ...existing.outputs[0], source: '10.30.0.9' }, existing.outputs[1]] }), {
        addOutputs: [eth2],
        from: '10.30.0.1',
      });
      expect(sources(added)).to.deep.equal(['10.30.0.9', '', '10.30.0.1']);
    });
  });

  describe('--add-out and --del-out', () => {
    const eth1 = { interface: 'eth1', address: '239.9.9.9', port: 6000 };
    const wg0 = { interface: 'wg0', address: '10.20.0.7', port: 6000 };
    const eth2 = { interface: 'eth2', address: '239.9.9.10', port: 6001 };
    /** The message of the RuleEditError `edit` is refused with. */
    const refusal = (edit: RuleEdit): string => {
      try {
        mergeRuleUpdate(existing, edit);
      } catch (err) {
        expect(err).to.be.instanceOf(RuleEditError);
        return (err as Error).message;
      }
      expect.fail('the edit was accepted');
    };

    it('appends --add-out after the outputs the rule has, which keep their ttl and dscp; --ttl marks only the added ones', () => {
      const merged = mergeRuleUpdate(existing, { addOutputs: [eth2], ttl: 9 });
      expect(merged.outputs).to.deep.equal([...existing.outputs, { ...eth2, ttl: 9, dscp: undefined, ttlPolicy: 0, preserveTos: undefined, oversize: 0, source: '' }]);
    });

    it('removes --del-out by interface, address and port; --ttl then marks every output left', () => {
      expect(mergeRuleUpdate(existing, { removeOutputs: [eth1] }).outputs).to.deep.equal([existing.outputs[1]]);
      expect(mergeRuleUpdate(existing, { removeOutputs: [wg0], ttl: 2 }).outputs).to.deep.equal([{ ...existing.outputs[0], ttl: 2 }]);
    });

    it('removes before it adds, so that one output can be given again with other settings', () => {
      const merged = mergeRuleUpdate(existing, { removeOutputs: [eth1], addOutputs: [eth1], dscp: 46 });
      expect(merged.outputs).to.deep.equal([existing.outputs[1], { ...eth1, ttl: undefined, dscp: 46, ttlPolicy: 0, preserveTos: undefined, oversize: 0, source: '' }]);
    });

    it('refuses an output the rule does not have, naming those it has', () => {
      expect(refusal({ removeOutputs: [eth2] })).to.equal(
        '--del-out eth2 239.9.9.10:6001: rule r-0123456789ab (cam1) has no such output (it has: eth1 239.9.9.9:6000, wg0 10.20.0.7:6000)',
      );
    });

    it('refuses adding an output the rule has, and an output given twice', () => {
      expect(refusal({ addOutputs: [eth2, wg0] })).to.equal('--add-out wg0 10.20.0.7:6000: rule r-0123456789ab (cam1) has this output already (outputs[1])');
      expect(refusal({ addOutputs: [eth2, eth2] })).to.equal('--add-out eth2 239.9.9.10:6001 is given twice');
      expect(refusal({ removeOutputs: [eth1, eth1] })).to.equal('--del-out eth1 239.9.9.9:6000 is given twice');
    });

    it('refuses removing the last output', () => {
      expect(refusal({ removeOutputs: [wg0, eth1] })).to.equal(
        '--del-out would remove every output of rule r-0123456789ab (cam1), and a rule needs one: add one with --add-out, or delete the rule',
      );
    });
  });

  it('does not modify the rule it was given', () => {
    const before = Rule.toJSON(existing);
    maskedRuleUpdate({ name: 'x', ttl: 9, input: { interface: 'eth9', address: '239.1.1.1', port: 1 } }, existing);
    expect(Rule.toJSON(existing)).to.deep.equal(before);
  });

  it('knows an empty edit', () => {
    expect(isEmptyEdit({})).to.equal(true);
    expect(isEmptyEdit({ name: undefined, outputs: undefined })).to.equal(true);
    expect(isEmptyEdit({ source: '' })).to.equal(false);
    expect(isEmptyEdit({ vlan: false })).to.equal(false);
    expect(isEmptyEdit({ ttl: 1 })).to.equal(false);
  });
});
