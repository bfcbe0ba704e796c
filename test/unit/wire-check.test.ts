/**
 * The strict request check (server/api/wire-check.ts): malformed bodies, known fields with the wrong
 * wire type and strings that are not UTF-8 are found, with the field path and a precise message;
 * valid bodies, unknown fields included, pass. Messages are looked up through the methods of the
 * descriptor set mcrd loads (dist/descriptors/served.binpb), as mcrd does, and field numbers by name.
 */
import { DescMessage, Registry } from '@bufbuild/protobuf';
import { ServiceDefinition } from '@grpc/grpc-js';
import { expect } from 'chai';

import { RuleServiceService } from '../../gen/mcr/v1/rules';
import { StatsServiceService } from '../../gen/mcr/v1/stats';
import { SystemServiceService } from '../../gen/mcr/v1/system';
import { TraceServiceService } from '../../gen/mcr/v1/trace';
import { DescriptorSet } from '../../server/api/descriptor-set';
import { MalformedRequest, strictDefinition } from '../../server/api/strict-requests';
import { checkWire, MAX_NESTING } from '../../server/api/wire-check';
import {
  bytesField,
  bytesFieldClaiming,
  fixed32Field,
  fixed64Field,
  key,
  nestedGroups,
  varint,
  varintField,
  WIRE_END_GROUP,
  WIRE_START_GROUP,
} from '../support/proto-wire';
import { SeededRandom } from '../support/seeded-random';

const SERVICES = [RuleServiceService, StatsServiceService, SystemServiceService, TraceServiceService] as unknown as ServiceDefinition[];

describe('strict request check (wire-check)', () => {
  let schemas: Registry;
  /** The input message of `service`.`method`. */
  const input = (service: string, method: string): DescMessage => {
    const found = schemas.getService(`mcr.v1.${service}`)?.methods.find((m) => m.name === method);
    if (!found) throw new Error(`no method mcr.v1.${service}/${method}`);
    return found.input;
  };
  /** The number of `message`'s field `name`. */
  const no = (message: DescMessage, name: string): number => {
    const field = message.fields.find((f) => f.name === name);
    if (!field) throw new Error(`${message.typeName} has no field ${name}`);
    return field.number;
  };
  const sub = (message: DescMessage, name: string): DescMessage => {
    const field = message.fields.find((f) => f.name === name);
    if (field?.message === undefined) throw new Error(`${message.typeName}.${name} is not a message field`);
    return field.message;
  };

  let create: DescMessage;
  let rule: DescMessage;
  let inputMessage: DescMessage;
  let output: DescMessage;
  let enableTrace: DescMessage;
  /** A valid CreateRule body, with two outputs. */
  let ruleBytes: (name?: Buffer | string, secondInterface?: Buffer | string) => Buffer;

  before(() => {
    schemas = DescriptorSet.load().registry();
    create = input('RuleService', 'CreateRule');
    rule = sub(create, 'rule');
    inputMessage = sub(rule, 'input');
    output = sub(rule, 'outputs');
    enableTrace = input('TraceService', 'EnableTrace');
    ruleBytes = (name = 'tv', secondInterface = 'eth2') => {
      const inputBody = Buffer.concat([bytesField(no(inputMessage, 'interface'), 'eth0'), bytesField(no(inputMessage, 'group'), '239.1.1.1'), varintField(no(inputMessage, 'port'), 5000)]);
      const out = (ifname: Buffer | string) => Buffer.concat([bytesField(no(output, 'interface'), ifname), bytesField(no(output, 'address'), '239.2.2.2'), varintField(no(output, 'port'), 6000)]);
      const body = Buffer.concat([bytesField(no(rule, 'name'), name), bytesField(no(rule, 'input'), inputBody), bytesField(no(rule, 'outputs'), out('eth1')), bytesField(no(rule, 'outputs'), out(secondInterface))]);
      return bytesField(no(create, 'rule'), body);
    };
  });

  const detail = (message: DescMessage, bytes: Buffer): string | null => {
    const problem = checkWire(message, bytes);
    return problem && (problem.path ? `${problem.path}: ${problem.detail}` : problem.detail);
  };

  it('passes valid bodies, the empty body, and multi-byte UTF-8', () => {
    expect(detail(create, ruleBytes())).to.equal(null);
    expect(detail(create, Buffer.alloc(0))).to.equal(null);
    expect(detail(create, ruleBytes('caf\u00e9-\u{1f600}'))).to.equal(null);
  });

  it('passes unknown fields of every wire type, groups nested up to the limit included', () => {
    const unknown = Buffer.concat([
      varintField(1000, -1n),
      fixed32Field(1001, 7),
      fixed64Field(1002, 1n << 40n),
      bytesField(1003, Buffer.from([0xff, 0xfe])),
      nestedGroups(1004, MAX_NESTING),
    ]);
    expect(detail(create, Buffer.concat([unknown, ruleBytes(), unknown]))).to.equal(null);
    // Inside nested messages too.
    expect(detail(enableTrace, Buffer.concat([bytesField(no(enableTrace, 'rule'), 'tv'), unknown]))).to.equal(null);
  });

  it('refuses bytes that are not protobuf, saying where', () => {
    // "n" is field 13 with wire type 6.
    expect(detail(create, Buffer.from('not protobuf'))).to.equal('field 13 at byte 0 has wire type 6, which does not exist');
    expect(detail(create, Buffer.from([0x00, 0x01]))).to.equal('the field key at byte 0 has field number 0, which is not valid');
    expect(detail(create, Buffer.concat([ruleBytes(), key(3, 7)]))).to.match(/^field 3 at byte \d+ has wire type 7, which does not exist$/);
  });

  it('refuses a truncated body', () => {
    const whole = ruleBytes();
    expect(detail(create, whole.subarray(0, whole.length - 3))).to.equal(`field 1 (rule) length ${whole.length - 2} runs past the end of the ${whole.length - 3}-byte message`);
    expect(detail(create, whole.subarray(0, 1))).to.equal('field 1 (rule) length runs past the end of the 1-byte message');
    expect(detail(create, Buffer.from([0x80]))).to.equal('the field key at byte 0 runs past the end of the 1-byte message');
    expect(detail(enableTrace, Buffer.concat([key(no(enableTrace, 'sample_every'), 0), Buffer.from([0x80])]))).to.equal('field 2 (sample_every) varint runs past the end of the 2-byte message');
    expect(detail(create, Buffer.concat([key(1000, 1), Buffer.alloc(7)]))).to.equal('field 1000 8-byte value runs past the end of the 9-byte message');
  });

  it('refuses a varint longer than 64 bits', () => {
    const eleven = Buffer.alloc(11, 0xff);
    expect(detail(create, eleven)).to.equal('the field key at byte 0 is a varint longer than 64 bits');
    expect(detail(enableTrace, Buffer.concat([key(no(enableTrace, 'sample_every'), 0), eleven]))).to.equal('field 2 (sample_every) varint is longer than 64 bits');
    // Ten bytes whose last carries more than bit 63.
    expect(detail(enableTrace, Buffer.concat([key(no(enableTrace, 'sample_every'), 0), Buffer.alloc(9, 0xff), Buffer.from([0x02])]))).to.equal('field 2 (sample_every) varint is longer than 64 bits');
    // 2^64 - 1 is fine.
    expect(detail(enableTrace, varintField(no(enableTrace, 'sample_every'), -1n))).to.equal(null);
    // A key beyond 32 bits.
    expect(detail(create, Buffer.concat([varint(1n << 35n), varint(0)]))).to.equal('the field key at byte 0 is wider than 32 bits (field number above 536870911)');
  });

  it('refuses a length past the end, at any depth, naming the field and the message size', () => {
    expect(detail(create, bytesFieldClaiming(1, 500, Buffer.alloc(9)))).to.equal('field 1 (rule) length 500 runs past the end of the 12-byte message');
    expect(detail(create, bytesFieldClaiming(1000, 0xffff_ffff_ffff_ffffn, Buffer.from('x')))).to.equal('field 1000 length 18446744073709551615 runs past the end of the 13-byte message');
    const inner = bytesFieldClaiming(no(inputMessage, 'group'), 40, Buffer.from('239.1'));
    const body = bytesField(no(create, 'rule'), bytesField(no(rule, 'input'), inner));
    expect(detail(create, body)).to.equal(`rule.input: field 2 (group) length 40 runs past the end of the ${inner.length}-byte message`);
  });

  it('refuses a known field sent with the wrong wire type, naming its path', () => {
    expect(detail(enableTrace, Buffer.concat([bytesField(no(enableTrace, 'rule'), 'tv'), bytesField(no(enableTrace, 'sample_every'), '5')]))).to.equal(
      'sample_every: field 2 is uint32: expected wire type 0 (varint), got 2 (length-delimited)',
    );
    expect(detail(create, varintField(no(create, 'rule'), 5))).to.equal(`rule: field 1 is ${rule.typeName} message: expected wire type 2 (length-delimited), got 0 (varint)`);
    expect(detail(enableTrace, fixed32Field(no(enableTrace, 'rule'), 1))).to.equal('rule: field 1 is string: expected wire type 2 (length-delimited), got 5 (32-bit)');
    // In the second output.
    const bad = Buffer.concat([bytesField(no(output, 'interface'), 'eth2'), fixed64Field(no(output, 'port'), 6000n)]);
    const good = bytesField(no(output, 'interface'), 'eth1');
    const body = bytesField(no(create, 'rule'), Buffer.concat([bytesField(no(rule, 'name'), 'tv'), bytesField(no(rule, 'outputs'), good), bytesField(no(rule, 'outputs'), bad)]));
    expect(detail(create, body)).to.equal('rule.outputs[1].port: field 3 is uint32: expected wire type 0 (varint), got 1 (64-bit)');
  });

  it('refuses strings that are not UTF-8, naming the field path', () => {
    for (const invalid of [[0x80], [0xc3], [0xff], [0xed, 0xa0, 0x80] /* a surrogate */, [0xc0, 0xaf] /* overlong */]) {
      const name = Buffer.from([0x74, 0x76, ...invalid]);
      expect(detail(create, ruleBytes(name)), `name ${name.toString('hex')}`).to.match(/^rule\.name: is not valid UTF-8 \(field 2, a string: the \d+ bytes at byte \d+\)$/);
    }
    expect(detail(create, ruleBytes('tv', Buffer.from([0x65, 0xff])))).to.match(/^rule\.outputs\[1\]\.interface: is not valid UTF-8/);
    // Bytes fields and unknown fields are not strings.
    expect(detail(create, Buffer.concat([ruleBytes(), bytesField(1000, Buffer.from([0xff]))]))).to.equal(null);
  });

  it('accepts a repeated enum packed and unpacked; refuses a packed run cut short', () => {
    const watch = input('SystemService', 'WatchEvents');
    const kinds = no(watch, 'kinds');
    expect(detail(watch, Buffer.concat([varintField(kinds, 1), varintField(kinds, 2)]))).to.equal(null);
    expect(detail(watch, bytesField(kinds, Buffer.from([1, 2, 3])))).to.equal(null);
    expect(detail(watch, bytesField(kinds, Buffer.from([1, 0x82])))).to.match(/^field 1 \(kinds\) is packed mcr\.v1\.\w+ enum: its last varint runs past the end of its 2 bytes$/);
    expect(detail(watch, fixed32Field(kinds, 1))).to.match(/^kinds\[0\]: field 1 is repeated mcr\.v1\.\w+ enum: expected wire type 0 \(varint\) or 2 \(packed\), got 5 \(32-bit\)$/);
  });

  it('checks map entries: keys and values as the schema says', () => {
    const levels = schemas.getMessage('mcr.v1.GetLogLevelsResponse')!;
    const entry = (k: Buffer | string, v: Buffer | string) => bytesField(1, Buffer.concat([bytesField(1, k), bytesField(2, v)]));
    expect(detail(levels, Buffer.concat([entry('api', 'debug'), entry('worker', 'info')]))).to.equal(null);
    expect(detail(levels, Buffer.concat([entry('api', 'debug'), entry(Buffer.from([0xff]), 'info')]))).to.match(/^levels\[1\]\.key: is not valid UTF-8/);
    expect(detail(levels, bytesField(1, varintField(2, 3)))).to.equal('levels[0].value: field 2 is string: expected wire type 2 (length-delimited), got 0 (varint)');
  });

  it('refuses malformed groups: nested past the limit, unterminated, closed by another field, or closing nothing', () => {
    expect(detail(create, nestedGroups(1000, MAX_NESTING + 1))).to.equal(`messages and groups are nested more than ${MAX_NESTING} deep`);
    expect(detail(create, nestedGroups(1000, 3, false))).to.equal('the group of field 1000 is not closed before the end of the 6-byte message');
    expect(detail(create, Buffer.concat([key(1000, WIRE_START_GROUP), key(1001, WIRE_END_GROUP)]))).to.equal('the end-group key of field 1001 at byte 2 closes no group');
    expect(detail(create, Buffer.concat([ruleBytes(), key(1, WIRE_END_GROUP)]))).to.match(/^the end-group key of field 1 at byte \d+ closes no group$/);
  });

  it('every body it passes, the generated decoders decode (random bytes and corrupted requests, every method)', () => {
    const random = new SeededRandom(14);
    let passed = 0;
    for (const service of SERVICES) {
      for (const method of Object.values(service)) {
        const message = schemas.getService(method.path.split('/')[1])!.methods.find((m) => m.name === method.path.split('/')[2])!.input;
        for (let i = 0; i < 300; i++) {
          const base = i % 2 === 0 ? ruleBytes() : random.bytes(random.int(1, 40));
          const bytes = Buffer.from(base);
          for (let flips = random.int(0, 3); flips > 0; flips--) bytes[random.int(0, bytes.length - 1)] ^= random.int(1, 255);
          if (checkWire(message, bytes) !== null) continue;
          passed++;
          expect(() => method.requestDeserialize(bytes), `${method.path} ${bytes.toString('hex')}`).not.to.throw();
        }
      }
    }
    expect(passed, 'bodies that passed').to.be.greaterThan(100);
  });

  it('strictDefinition: a deserializer that never throws, answering malformed bodies with INVALID_ARGUMENT', () => {
    const definition = strictDefinition(TraceServiceService as unknown as ServiceDefinition, schemas);
    const enable = Object.values(definition).find((m) => m.path.endsWith('/EnableTrace'))!;
    const refused = enable.requestDeserialize(bytesField(no(enableTrace, 'sample_every'), '5'));
    expect(refused).to.be.instanceOf(MalformedRequest);
    const { error, path } = refused as MalformedRequest;
    expect(path).to.equal('sample_every');
    expect(error.toServiceError()).to.include({
      code: 3,
      details: `request body is not a valid ${enableTrace.typeName}: sample_every: field 2 is uint32: expected wire type 0 (varint), got 2 (length-delimited)`,
    });
    const decoded = enable.requestDeserialize(Buffer.concat([bytesField(no(enableTrace, 'rule'), 'tv'), varintField(no(enableTrace, 'sample_every'), 3)]));
    expect(decoded).to.deep.include({ sampleEvery: 3 });
  });
});
