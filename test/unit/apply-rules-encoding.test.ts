/**
 * The client library's ApplyRules encoder (clients/lib/apply-rules-encoding.ts) writes exactly the
 * bytes of the generated encoder after fromPartial, for every request, and covers every field of the
 * messages it writes: requests are generated from the compiled descriptors (so a field added to the
 * .proto is set here and a missing case shows as a byte difference), and its field list is compared
 * with theirs (so the failure says which field).
 */
import type { DescField, DescMessage, Registry } from '@bufbuild/protobuf';
import { expect } from 'chai';

import { encodeApplyRulesRequest, ENCODED_FIELDS } from '../../clients/lib/apply-rules-encoding';
import { ApplyRulesRequest, ApplyRulesView, DeepPartial, Input, IpProtocol, OversizePolicy, Output, RuleState, TtlPolicy } from '../../gen/mcr/v1/rules';
import { DescriptorSet } from '../../server/api/descriptor-set';
import { SeededRandom } from '../support/seeded-random';

const ROOT = 'mcr.v1.ApplyRulesRequest';
const SEED = 0x5eed_a991;

/** What the client library sent before: fromPartial, then the generated encoder. */
function generated(request: DeepPartial<ApplyRulesRequest>): Buffer {
  return Buffer.from(ApplyRulesRequest.encode(ApplyRulesRequest.fromPartial(request as ApplyRulesRequest)).finish());
}

function expectSameBytes(request: DeepPartial<ApplyRulesRequest>, label: string): void {
  const want = generated(request);
  const got = encodeApplyRulesRequest(request);
  if (!got.equals(want)) {
    let at = 0;
    while (at < want.length && got[at] === want[at]) at++;
    expect.fail(`${label}: ${got.length} bytes, the generated encoder ${want.length}; first difference at byte ${at}\n  got  ${got.subarray(at, at + 24).toString('hex')}\n  want ${want.subarray(at, at + 24).toString('hex')}`);
  }
}

/** A field as ENCODED_FIELDS describes it: "name [repeated|optional] type". */
function describe_(field: DescField): string {
  const type = (f: DescField): string => {
    switch (f.fieldKind) {
      case 'scalar':
        return scalarName(f.scalar);
      case 'enum':
        return f.enum.typeName;
      case 'message':
        return f.message.typeName;
      case 'list':
        return f.listKind === 'scalar' ? scalarName(f.scalar) : f.listKind === 'enum' ? f.enum.typeName : f.message.typeName;
      case 'map':
        return 'map';
    }
  };
  const label = field.fieldKind === 'list' ? 'repeated ' : field.fieldKind === 'map' ? 'map ' : field.proto.proto3Optional ? 'optional ' : '';
  return `${field.name} ${label}${type(field)}`;
}

/** The .proto name of a scalar type (ScalarType's numbers are FieldDescriptorProto.Type's). */
function scalarName(scalar: number): string {
  const names: Record<number, string> = { 1: 'double', 2: 'float', 3: 'int64', 4: 'uint64', 5: 'int32', 6: 'fixed64', 7: 'fixed32', 8: 'bool', 9: 'string', 12: 'bytes', 13: 'uint32', 15: 'sfixed32', 16: 'sfixed64', 17: 'sint32', 18: 'sint64' };
  return names[scalar] ?? `scalar ${scalar}`;
}

/** The messages an ApplyRulesRequest contains, itself first. */
function reachable(registry: Registry): DescMessage[] {
  const found = new Map<string, DescMessage>();
  const visit = (message: DescMessage) => {
    if (found.has(message.typeName)) return;
    found.set(message.typeName, message);
    for (const field of message.fields) if (field.message) visit(field.message);
  };
  visit(registry.getMessage(ROOT)!);
  return [...found.values()];
}

/** Values chosen to sit on the encodings' edges: varint byte boundaries, ranges' ends, UTF-8's cases. */
const UINT32 = [0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455, 268435456, 65535, 0xffff_ffff];
const INT64 = [0n, 1n, 127n, 128n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 35n, 2n ** 53n + 1n, 2n ** 63n - 1n, -1n, -128n, -(2n ** 63n)];
const UINT64 = [0n, 1n, 127n, 128n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 35n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n];
const STRINGS = ['', 'a', 'eth0', '239.1.2.3', 'é', 'ß-数据-😀', '\u{10ffff}', '\ud800', 'x\udc00y', '😀'.repeat(40), 'a'.repeat(64), 'a'.repeat(65), 'a'.repeat(127), 'a'.repeat(128), 'é'.repeat(70), 'z'.repeat(16384)];

/** A random partial message of `message`'s type: each field absent, null, at its default or set, as a generator may send it. */
function randomMessage(random: SeededRandom, message: DescMessage, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of message.fields) {
    const roll = random.next();
    if (roll < 0.15) continue; // absent
    if (roll < 0.2) {
      out[field.localName] = random.chance(0.5) ? undefined : null;
      continue;
    }
    if (field.fieldKind === 'list') {
      const length = depth === 0 ? random.int(0, 40) : random.int(0, 6);
      out[field.localName] = Array.from({ length }, () => randomSingle(random, field, depth + 1));
    } else out[field.localName] = randomSingle(random, field, depth + 1);
  }
  return out;
}

function randomSingle(random: SeededRandom, field: DescField, depth: number): unknown {
  if (field.message) return randomMessage(random, field.message, depth);
  if (field.enum) {
    const values = field.enum.values.map((v) => v.number);
    return random.chance(0.9) ? random.pick(values) : random.pick([-1, 1000, 0x7fff_ffff, -0x8000_0000]);
  }
  const scalar = field.scalar!;
  switch (scalarName(scalar)) {
    case 'string':
      return random.chance(0.6) ? `n-${random.int(0, 99999)}` : random.pick(STRINGS);
    case 'uint32':
      return random.chance(0.5) ? random.int(0, 70000) : random.pick(UINT32);
    case 'bool':
      return random.chance(0.5);
    case 'int64':
    case 'uint64': {
      const value = random.chance(0.5) ? BigInt(random.int(0, 2 ** 31)) * BigInt(random.int(1, 2 ** 31)) : random.pick(scalarName(scalar) === 'int64' ? INT64 : UINT64);
      // DeepPartial takes a 64-bit value as a bigint, a number or a string.
      return random.weighted<unknown>([
        [3, value],
        [1, value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value],
        [1, String(value)],
      ]);
    }
    default:
      throw new Error(`${field.parent.typeName}.${field.name}: no generator for ${scalarName(scalar)}: extend randomSingle (and the encoder)`);
  }
}

describe('ApplyRules request encoding (client library)', () => {
  let registry: Registry;

  before(() => {
    registry = DescriptorSet.load().registry();
  });

  it('covers exactly the fields of every message an ApplyRulesRequest contains', () => {
    const messages = reachable(registry);
    expect(Object.keys(ENCODED_FIELDS).sort(), 'messages encoded (ENCODED_FIELDS) vs those an ApplyRulesRequest contains (descriptors)').to.deep.equal(
      messages.map((m) => m.typeName).sort(),
    );
    for (const message of messages) {
      const encoded = ENCODED_FIELDS[message.typeName];
      for (const field of message.fields) {
        expect(
          encoded[field.number],
          `${message.typeName} field ${field.number} is "${describe_(field)}" in the descriptors; clients/lib/apply-rules-encoding.ts encodes ${encoded[field.number] === undefined ? 'no such field' : `"${encoded[field.number]}"`}: update the encoder and ENCODED_FIELDS`,
        ).to.equal(describe_(field));
      }
      for (const number of Object.keys(encoded).map(Number)) {
        expect(
          message.fields.some((f) => f.number === number),
          `clients/lib/apply-rules-encoding.ts encodes ${message.typeName} field ${number} ("${encoded[number]}"), which the descriptors no longer have: remove it`,
        ).to.equal(true);
      }
    }
  });

  it('writes the bytes of the generated encoder for the edge cases', () => {
    const everything = {
      id: 'r-0123456789ab',
      name: 'cam-1',
      input: { interface: 'eth0', group: '239.1.2.3', port: 65535, source: '10.0.0.1', vlan: 4094, protocol: IpProtocol.IP_PROTOCOL_UDP },
      outputs: [
        { interface: 'eth1', address: '239.9.9.9', port: 1, ttl: 255, dscp: 63, ttlPolicy: TtlPolicy.TTL_POLICY_FIXED, preserveTos: true, oversize: OversizePolicy.OVERSIZE_POLICY_FRAGMENT },
        { interface: 'eth2', address: '10.1.1.1', port: 0xffff_ffff, ttl: 0, dscp: 0, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, preserveTos: false, oversize: OversizePolicy.OVERSIZE_POLICY_DROP, source: '10.1.1.254' },
      ],
      generation: 2n ** 64n - 1n,
      status: { state: RuleState.RULE_STATE_ACTIVE, reason: 'ok', worker: 0xffff_ffff, lastPacketUnixNanos: -(2n ** 63n) },
      createdUnixNanos: 2n ** 63n - 1n,
      updatedUnixNanos: -1n,
    };
    const cases: Array<[string, DeepPartial<ApplyRulesRequest>]> = [
      ['empty request', {}],
      ['no rules, flags false, view 0', { rules: [], replace: false, dryRun: false, view: 0 }],
      ['null fields', { rules: null, replace: null, dryRun: null, expectedGeneration: null, view: null } as unknown as DeepPartial<ApplyRulesRequest>],
      ['expected generation 0 (set: written)', { expectedGeneration: 0n }],
      ['expected generation max, as a string', { expectedGeneration: '18446744073709551615' }],
      ['expected generation as a number', { expectedGeneration: 17 }],
      ['every field set, maximum values', { rules: [everything, everything], replace: true, dryRun: true, expectedGeneration: 2n ** 64n - 1n, view: ApplyRulesView.APPLY_RULES_VIEW_CHANGES }],
      ['an empty rule', { rules: [{}] }],
      ['empty nested messages (set: written)', { rules: [{ input: {}, outputs: [{}, {}], status: {} }] }],
      ['absent nested messages', { rules: [{ name: 'x', input: undefined, outputs: undefined, status: undefined }] }],
      ['zero values', { rules: [{ id: '', name: '', input: { interface: '', group: '', port: 0, source: '' }, outputs: [{ port: 0 }], generation: 0n, createdUnixNanos: 0, updatedUnixNanos: '0' }] }],
      ['unicode', { rules: [{ name: 'caméra-数据-😀', input: { interface: 'ß' }, outputs: [{ interface: 'x\ud800', address: '\udc00' }] }] }],
      ['a rule longer than 127 and 16383 bytes', { rules: [{ name: 'a'.repeat(200) }, { name: 'b'.repeat(20000), outputs: Array.from({ length: 300 }, () => ({ interface: 'out1', address: '239.0.0.1', port: 5000 })) }] }],
      ['unrecognized enum values', { view: -1, rules: [{ status: { state: -5 } }] } as unknown as DeepPartial<ApplyRulesRequest>],
      ['ttl policy and preserve_tos: unset, default, each value', {
        rules: [{
          outputs: [
            { port: 1 },
            { port: 2, ttlPolicy: TtlPolicy.TTL_POLICY_UNSPECIFIED, preserveTos: undefined },
            { port: 3, ttlPolicy: TtlPolicy.TTL_POLICY_FIXED, ttl: 8, preserveTos: true },
            { port: 4, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, preserveTos: false },
            { port: 5, ttlPolicy: null, preserveTos: null } as unknown as DeepPartial<Output>,
            { port: 6, ttlPolicy: 99 as TtlPolicy, dscp: 46, preserveTos: true },
          ],
        }],
      }],
      ['oversize: unset, default, each value, unrecognized', {
        rules: [{
          outputs: [
            { port: 1, oversize: OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED },
            { port: 2, oversize: OversizePolicy.OVERSIZE_POLICY_FRAGMENT },
            { port: 3, oversize: OversizePolicy.OVERSIZE_POLICY_DROP, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, preserveTos: false },
            { port: 4, oversize: null } as unknown as DeepPartial<Output>,
            { port: 5, oversize: -3 as OversizePolicy },
          ],
        }],
      }],
      ['output source: unset, null, empty, set, not ASCII, not a string', {
        rules: [{
          outputs: [
            { port: 1 },
            { port: 2, source: null } as unknown as DeepPartial<Output>,
            { port: 3, source: '' },
            { port: 4, source: '10.20.0.1', oversize: OversizePolicy.OVERSIZE_POLICY_DROP },
            { port: 5, source: 'é'.repeat(70) },
            { port: 6, source: 1234 as unknown as string },
          ],
        }],
      }],
      ['vlan: unset, null, 0 (set: written), each end of its range, beyond', {
        rules: [
          { input: { port: 1 } },
          { input: { port: 2, vlan: null } as unknown as DeepPartial<Input> },
          { input: { port: 3, vlan: 0 } },
          { input: { port: 4, vlan: 1 } },
          { input: { port: 5, vlan: 4094, source: '10.0.0.1' } },
          { input: { port: 6, vlan: 0xffff_ffff } },
        ],
      }],
      ['protocol: unset, null, default, each value, unrecognized', {
        rules: [
          { input: { port: 1 } },
          { input: { port: 2, protocol: null } as unknown as DeepPartial<Input> },
          { input: { port: 3, protocol: IpProtocol.IP_PROTOCOL_UNSPECIFIED } },
          { input: { port: 4, protocol: IpProtocol.IP_PROTOCOL_UDP } },
          { input: { group: '239.1.1.1', protocol: IpProtocol.IP_PROTOCOL_ESP, vlan: 7 }, outputs: [{ address: '10.0.0.9' }] },
          { input: { port: 6, protocol: 50 as IpProtocol } },
          { input: { port: 7, protocol: -2 as IpProtocol } },
        ],
      }],
      ['numeric strings where numbers go', { rules: [{ input: { port: '5000' as unknown as number }, outputs: [{ ttl: '0' as unknown as number }] }] }],
      ['a non-ASCII string after ASCII rules', { rules: [...Array.from({ length: 50 }, (_, i) => ({ name: `r${i}` })), { name: 'ü' }] }],
    ];
    for (const [label, request] of cases) expectSameBytes(request, label);
  });

  it('writes the bytes of the generated encoder for random requests made from the descriptors', () => {
    const random = new SeededRandom(SEED);
    const root = registry.getMessage(ROOT)!;
    for (let i = 0; i < 400; i++) {
      const request = randomMessage(random, root, 0) as DeepPartial<ApplyRulesRequest>;
      expectSameBytes(request, `request ${i} of seed ${SEED}`);
    }
  });

  it('writes ttl_policy when not 0 and preserve_tos whenever it is set, false included, as the generated decoder reads them back', () => {
    const outputs: Array<DeepPartial<Output>> = [
      { interface: 'eth1', address: '239.9.9.9', port: 6000 },
      { interface: 'eth1', address: '239.9.9.9', port: 6001, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, preserveTos: false },
      { interface: 'eth1', address: '239.9.9.9', port: 6002, ttlPolicy: TtlPolicy.TTL_POLICY_FIXED, ttl: 8, preserveTos: true },
      { interface: 'eth1', address: '239.9.9.9', port: 6003, ttlPolicy: TtlPolicy.TTL_POLICY_UNSPECIFIED, dscp: 46, preserveTos: false },
    ];
    const bytes = encodeApplyRulesRequest({ rules: [{ name: 'cam', outputs }] });
    const read = ApplyRulesRequest.decode(bytes).rules[0].outputs;
    expect(read.map((o) => [o.port, o.ttlPolicy, o.ttl, o.dscp, o.preserveTos])).to.deep.equal([
      [6000, TtlPolicy.TTL_POLICY_UNSPECIFIED, undefined, undefined, undefined],
      [6001, TtlPolicy.TTL_POLICY_DECREMENT, undefined, undefined, false],
      [6002, TtlPolicy.TTL_POLICY_FIXED, 8, undefined, true],
      [6003, TtlPolicy.TTL_POLICY_UNSPECIFIED, undefined, 46, false],
    ]);
    // preserve_tos false is on the wire (tag 7 << 3 = 0x38, value 0); unset is not.
    const one = (output: DeepPartial<Output>) => encodeApplyRulesRequest({ rules: [{ outputs: [output] }] }).toString('hex');
    expect(one({ port: 1, preserveTos: false })).to.equal('0a06220418013800');
    expect(one({ port: 1, preserveTos: true })).to.equal('0a06220418013801');
    expect(one({ port: 1 })).to.equal('0a0422021801');
    expect(one({ port: 1, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT })).to.equal('0a06220418013002');
  });

  it('writes oversize when not 0, after preserve_tos, as the generated decoder reads it back', () => {
    const outputs: Array<DeepPartial<Output>> = [
      { interface: 'eth1', address: '239.9.9.9', port: 6000 },
      { interface: 'eth1', address: '239.9.9.9', port: 6001, oversize: OversizePolicy.OVERSIZE_POLICY_DROP, preserveTos: false },
      { interface: 'eth1', address: '239.9.9.9', port: 6002, oversize: OversizePolicy.OVERSIZE_POLICY_FRAGMENT },
    ];
    const read = ApplyRulesRequest.decode(encodeApplyRulesRequest({ rules: [{ outputs }] })).rules[0].outputs;
    expect(read.map((o) => [o.port, o.oversize, o.preserveTos])).to.deep.equal([
      [6000, OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED, undefined],
      [6001, OversizePolicy.OVERSIZE_POLICY_DROP, false],
      [6002, OversizePolicy.OVERSIZE_POLICY_FRAGMENT, undefined],
    ]);
    // Field 8 varint: tag 8 << 3 = 0x40; OVERSIZE_POLICY_UNSPECIFIED is not written.
    const one = (output: DeepPartial<Output>) => encodeApplyRulesRequest({ rules: [{ outputs: [output] }] }).toString('hex');
    expect(one({ port: 1, oversize: OversizePolicy.OVERSIZE_POLICY_DROP })).to.equal('0a06220418014002');
    expect(one({ port: 1, preserveTos: true, oversize: OversizePolicy.OVERSIZE_POLICY_FRAGMENT })).to.equal('0a082206180138014001');
    expect(one({ port: 1, oversize: OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED })).to.equal('0a0422021801');
  });

  it('writes an output\'s source when not empty, after oversize, as the generated decoder reads it back', () => {
    const outputs: Array<DeepPartial<Output>> = [
      { interface: 'wg0', address: '10.20.0.7', port: 6000 },
      { interface: 'wg0', address: '10.20.0.7', port: 6001, source: '10.20.0.1', oversize: OversizePolicy.OVERSIZE_POLICY_DROP },
      { interface: 'wg0', address: '10.20.0.7', port: 6002, source: '' },
    ];
    const read = ApplyRulesRequest.decode(encodeApplyRulesRequest({ rules: [{ outputs }] })).rules[0].outputs;
    expect(read.map((o) => [o.port, o.source, o.oversize])).to.deep.equal([
      [6000, '', OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED],
      [6001, '10.20.0.1', OversizePolicy.OVERSIZE_POLICY_DROP],
      [6002, '', OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED],
    ]);
    // Field 9, length-delimited: tag 9 << 3 | 2 = 0x4a, then the length and the text; "" is not written.
    const one = (output: DeepPartial<Output>) => encodeApplyRulesRequest({ rules: [{ outputs: [output] }] }).toString('hex');
    expect(one({ port: 1, source: '10.0.0.1' })).to.equal(`0a0e220c18014a08${Buffer.from('10.0.0.1').toString('hex')}`);
    expect(one({ port: 1, oversize: OversizePolicy.OVERSIZE_POLICY_DROP, source: '1.2.3.4' })).to.equal(`0a0f220d180140024a07${Buffer.from('1.2.3.4').toString('hex')}`);
    expect(one({ port: 1, source: '' })).to.equal('0a0422021801');
  });

  it('writes vlan whenever it is set, 0 included, after source, as the generated decoder reads it back', () => {
    const inputs: Array<DeepPartial<Input>> = [
      { interface: 'eth0', group: '239.1.1.1', port: 5000 },
      { interface: 'eth0', group: '239.1.1.1', port: 5000, vlan: 100 },
      { interface: 'eth0', group: '239.1.1.1', port: 5000, source: '10.0.0.1', vlan: 200 },
    ];
    const read = ApplyRulesRequest.decode(encodeApplyRulesRequest({ rules: inputs.map((input) => ({ input })) })).rules.map((rule) => rule.input!);
    expect(read.map((i) => [i.source, i.vlan])).to.deep.equal([
      ['', undefined],
      ['', 100],
      ['10.0.0.1', 200],
    ]);
    // Field 5 varint: tag 5 << 3 = 0x28, in the input (Rule field 3: 0x1a).
    const one = (input: DeepPartial<Input>) => encodeApplyRulesRequest({ rules: [{ input }] }).toString('hex');
    expect(one({ vlan: 100 })).to.equal('0a041a022864');
    expect(one({ vlan: 0 })).to.equal('0a041a022800');
    expect(one({})).to.equal('0a021a00');
  });

  it('writes protocol when not 0, after vlan, as the generated decoder reads it back', () => {
    const inputs: Array<DeepPartial<Input>> = [
      { interface: 'eth0', group: '239.1.1.1', port: 5000 },
      { interface: 'eth0', group: '239.1.1.1', protocol: IpProtocol.IP_PROTOCOL_ESP },
      { interface: 'eth0', group: '239.1.1.1', port: 5000, vlan: 100, protocol: IpProtocol.IP_PROTOCOL_UDP },
    ];
    const read = ApplyRulesRequest.decode(encodeApplyRulesRequest({ rules: inputs.map((input) => ({ input })) })).rules.map((rule) => rule.input!);
    expect(read.map((i) => [i.port, i.vlan, i.protocol])).to.deep.equal([
      [5000, undefined, IpProtocol.IP_PROTOCOL_UNSPECIFIED],
      [0, undefined, IpProtocol.IP_PROTOCOL_ESP],
      [5000, 100, IpProtocol.IP_PROTOCOL_UDP],
    ]);
    // Field 6 varint: tag 6 << 3 = 0x30, in the input (Rule field 3: 0x1a); IP_PROTOCOL_UNSPECIFIED is not written.
    const one = (input: DeepPartial<Input>) => encodeApplyRulesRequest({ rules: [{ input }] }).toString('hex');
    expect(one({ protocol: IpProtocol.IP_PROTOCOL_ESP })).to.equal('0a041a023002');
    expect(one({ vlan: 100, protocol: IpProtocol.IP_PROTOCOL_UDP })).to.equal('0a061a0428643001');
    expect(one({ protocol: IpProtocol.IP_PROTOCOL_UNSPECIFIED })).to.equal('0a021a00');
  });

  it('refuses a preserve_tos that is not a boolean, naming the field (the generated encoder would send "false" as true)', () => {
    for (const value of ['false', 0, 1, {}]) {
      const request = { rules: [{ outputs: [{ port: 1, preserveTos: value }] }] } as unknown as DeepPartial<ApplyRulesRequest>;
      expect(() => encodeApplyRulesRequest(request), JSON.stringify(value)).to.throw(/^invalid bool in Output\.preserveTos: /);
    }
    expect(() => encodeApplyRulesRequest({ rules: [{ outputs: [{ ttlPolicy: 'decrement' as unknown as TtlPolicy }] }] })).to.throw('invalid int32 in Output.ttlPolicy: decrement');
    expect(() => encodeApplyRulesRequest({ rules: [{ outputs: [{ oversize: 'drop' as unknown as OversizePolicy }] }] })).to.throw('invalid int32 in Output.oversize: drop');
  });

  it('refuses what the generated encoder refuses', () => {
    const bad: Array<[string, unknown]> = [
      ['port out of range', { rules: [{ input: { port: 70000 * 70000 } }] }],
      ['negative port', { rules: [{ outputs: [{ port: -1 }] }] }],
      ['fractional ttl', { rules: [{ outputs: [{ ttl: 1.5 }] }] }],
      ['negative vlan', { rules: [{ input: { vlan: -1 } }] }],
      ['vlan out of uint32', { rules: [{ input: { vlan: 2 ** 32 } }] }],
      ['uint64 too large', { expectedGeneration: 2n ** 64n }],
      ['negative uint64', { rules: [{ generation: -1n }] }],
      ['int64 too large', { rules: [{ createdUnixNanos: 2n ** 63n }] }],
      ['not a number', { rules: [{ updatedUnixNanos: 'soon' }] }],
      ['enum out of int32', { view: 2 ** 31 }],
      ['ttl policy out of int32', { rules: [{ outputs: [{ ttlPolicy: 2 ** 31 }] }] }],
      ['oversize policy out of int32', { rules: [{ outputs: [{ oversize: -(2 ** 31) - 1 }] }] }],
      ['oversize policy not whole', { rules: [{ outputs: [{ oversize: 1.5 }] }] }],
      ['a rule that is null', { rules: [null] }],
    ];
    for (const [label, request] of bad) {
      expect(() => generated(request as DeepPartial<ApplyRulesRequest>), `${label}: the generated encoder`).to.throw();
      expect(() => encodeApplyRulesRequest(request as DeepPartial<ApplyRulesRequest>), label).to.throw();
    }
  });
});
