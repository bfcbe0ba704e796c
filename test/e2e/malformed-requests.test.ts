/**
 * Request bodies that are not what their method takes (decision 0020), sent to a real mcrd as raw
 * bytes, unary and streaming: garbage, a truncated message, a varint longer than 64 bits, a length
 * past the end, a known field with the wrong wire type, a string that is not UTF-8. Each is answered
 * INVALID_ARGUMENT "request body is not a valid <type>: ..." saying exactly what is wrong, nothing is
 * applied (rules, store generation, traces, log levels as before), and mcrd keeps serving. Valid
 * requests carrying unknown fields are served as if the fields were not there (proto3's rule).
 * Status messages respect the documented caps (a value quoted shortened, 1 KiB in all).
 *
 * Messages and fields are named through the compiler's descriptors, as mcrd checks them.
 */
import { DescMessage, Registry } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { DescriptorSet } from '../../server/api/descriptor-set';
import { RuleServiceService } from '../../gen/mcr/v1/rules';
import { StatsServiceService } from '../../gen/mcr/v1/stats';
import { SystemServiceService } from '../../gen/mcr/v1/system';
import { TraceServiceService } from '../../gen/mcr/v1/trace';
import { MAX_DETAILS_LENGTH } from '../../server/api/errors';
import { useRelay } from '../support/fixture';
import { McrClient, statusName } from '../support/grpc';
import { NET } from '../support/netns';
import {
  bytesField,
  bytesFieldClaiming,
  fixed32Field,
  fixed64Field,
  key,
  nestedGroups,
  varintField,
  WIRE_VARINT,
} from '../support/proto-wire';
import { RawUnaryClient } from '../support/raw-grpc';

const ELEVEN_FF = Buffer.alloc(11, 0xff);

/** Everything a request could change, as JSON. */
async function state(client: McrClient): Promise<string> {
  const { rules, storeGeneration } = await client.listRules();
  const snapshot = { rules, storeGeneration, traces: await client.listTraces(), levels: await client.getLogLevels() };
  return JSON.stringify(snapshot, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
}

describe('e2e: malformed request bodies are INVALID_ARGUMENT, precisely', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 1 });
  let raw: RawUnaryClient;
  let schemas: Registry;

  /** The input message of a method, by its path. */
  const input = (path: string): DescMessage => {
    const [, service, method] = path.split('/');
    return schemas.getService(service)!.methods.find((m) => m.name === method)!.input;
  };
  /** The number of field `name` of `message`. */
  const no = (message: DescMessage, name: string): number => {
    const field = message.fields.find((f) => f.name === name);
    if (!field) throw new Error(`${message.typeName} has no field ${name}`);
    return field.number;
  };
  const refusal = (path: string, detail: string) => `request body is not a valid ${input(path).typeName}: ${detail}`;

  /** The message type of field `name` of `message`. */
  const sub = (message: DescMessage, name: string): DescMessage => message.fields.find((f) => f.name === name)!.message!;

  /** A valid CreateRule body for a rule named `name` (raw bytes: they may be invalid UTF-8) capturing `group`. */
  const createBody = (name: string | Buffer, group: string): Buffer => {
    const create = input(RuleServiceService.createRule.path);
    const rule = sub(create, 'rule');
    const [inputType, outputType] = [sub(rule, 'input'), sub(rule, 'outputs')];
    const inputBody = Buffer.concat([bytesField(no(inputType, 'interface'), NET.relayIn.ifname), bytesField(no(inputType, 'group'), group), varintField(no(inputType, 'port'), 5000)]);
    const outputBody = Buffer.concat([bytesField(no(outputType, 'interface'), NET.relayOut1.ifname), bytesField(no(outputType, 'address'), '239.77.0.1'), varintField(no(outputType, 'port'), 6000)]);
    return bytesField(no(create, 'rule'), Buffer.concat([bytesField(no(rule, 'name'), name), bytesField(no(rule, 'input'), inputBody), bytesField(no(rule, 'outputs'), outputBody)]));
  };

  before(async function () {
    raw = new RawUnaryClient(relay.mcrd.socketPath);
    schemas = DescriptorSet.load().registry();
    await relay.client.createRule({ name: 'existing', input: { interface: NET.relayIn.ifname, group: '239.77.1.1', port: 5000 }, outputs: [{ interface: NET.relayOut1.ifname, address: '239.77.0.2', port: 6000 }] });
  });

  after(function () {
    raw?.close();
  });

  /** Sends `bytes` to the unary method `path`: refused INVALID_ARGUMENT with `details`, nothing applied, health SERVING. */
  async function refusedUnary(path: string, bytes: Buffer, details: string | RegExp, what: string): Promise<void> {
    const before = await state(relay.client);
    const outcome = await raw.call(path, bytes);
    expect(outcome.ok, `${what}: succeeded`).to.equal(false);
    if (outcome.ok) return;
    expect(statusName(outcome.error.code), `${what}: ${outcome.error.details}`).to.equal('INVALID_ARGUMENT');
    if (typeof details === 'string') expect(outcome.error.details, what).to.equal(details);
    else expect(outcome.error.details, what).to.match(details);
    expect(await state(relay.client), `${what}: nothing applied`).to.equal(before);
    expect(await relay.client.healthStatus(2000), `health after ${what}`).to.equal('SERVING');
  }

  /** Opens the stream `path` with `bytes`: it ends at once, INVALID_ARGUMENT with `details`, having sent nothing. */
  async function refusedStream(path: string, bytes: Buffer, details: string | RegExp, what: string): Promise<void> {
    const outcome = await raw.serverStream(path, bytes, 1, 5000);
    expect(outcome.messages, `${what}: messages sent`).to.have.length(0);
    expect(outcome.status, `${what}: the stream is still open`).not.to.equal(undefined);
    expect(statusName(outcome.status!.code), `${what}: ${outcome.status!.details}`).to.equal('INVALID_ARGUMENT');
    if (typeof details === 'string') expect(outcome.status!.details, what).to.equal(details);
    else expect(outcome.status!.details, what).to.match(details);
    expect(await relay.client.healthStatus(2000), `health after ${what}`).to.equal('SERVING');
  }

  it('refuses garbage, truncated bodies, varints over 64 bits and lengths past the end (unary)', async function () {
    const create = RuleServiceService.createRule.path;
    await refusedUnary(create, Buffer.from('not protobuf'), refusal(create, 'field 13 at byte 0 has wire type 6, which does not exist'), 'garbage');
    const whole = createBody('truncated', '239.77.2.1');
    const cut = whole.subarray(0, whole.length - 5);
    await refusedUnary(create, cut, refusal(create, `field 1 (rule) length ${whole.length - 2} runs past the end of the ${cut.length}-byte message`), 'a truncated CreateRule');
    await refusedUnary(create, ELEVEN_FF, refusal(create, 'the field key at byte 0 is a varint longer than 64 bits'), '11 bytes of 0xff');
    await refusedUnary(create, bytesFieldClaiming(1, 500, Buffer.alloc(9)), refusal(create, 'field 1 (rule) length 500 runs past the end of the 12-byte message'), 'a length past the end');

    const enable = TraceServiceService.enableTrace.path;
    const enableInput = input(enable);
    const sampleEvery = no(enableInput, 'sample_every');
    await refusedUnary(
      enable,
      Buffer.concat([bytesField(no(enableInput, 'rule'), 'existing'), key(sampleEvery, WIRE_VARINT), ELEVEN_FF]),
      refusal(enable, `field ${sampleEvery} (sample_every) varint is longer than 64 bits`),
      'EnableTrace with an 11-byte varint',
    );
  });

  it('refuses a known field sent with the wrong wire type, instead of reading it as its default', async function () {
    const enable = TraceServiceService.enableTrace.path;
    const enableInput = input(enable);
    const sampleEvery = no(enableInput, 'sample_every');
    // This one used to succeed: sample_every read as 0 (its default, every packet) and the rule traced.
    await refusedUnary(
      enable,
      Buffer.concat([bytesField(no(enableInput, 'rule'), 'existing'), bytesField(sampleEvery, '10')]),
      refusal(enable, `sample_every: field ${sampleEvery} is uint32: expected wire type 0 (varint), got 2 (length-delimited)`),
      'EnableTrace with sample_every as bytes',
    );
    const create = RuleServiceService.createRule.path;
    const ruleType = input(create).fields.find((f) => f.name === 'rule')!.message!.typeName;
    await refusedUnary(create, varintField(1, 7), refusal(create, `rule: field 1 is ${ruleType} message: expected wire type 2 (length-delimited), got 0 (varint)`), 'CreateRule with rule as a varint');
    const setLevel = SystemServiceService.setLogLevel.path;
    await refusedUnary(setLevel, fixed64Field(no(input(setLevel), 'level'), 1n), refusal(setLevel, 'level: field 2 is string: expected wire type 2 (length-delimited), got 1 (64-bit)'), 'SetLogLevel with level as 64 bits');
  });

  it('refuses a string that is not UTF-8, naming the field path', async function () {
    const create = RuleServiceService.createRule.path;
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80]]) {
      const name = Buffer.from([0x66, 0x7a, ...bad]);
      await refusedUnary(create, createBody(name, '239.77.3.1'), new RegExp(`^${refusal(create, 'rule.name: is not valid UTF-8 \\(field 2, a string: the \\d+ bytes at byte \\d+\\)').replace(/\./g, '\\.')}$`), `rule name ${name.toString('hex')}`);
    }
    const get = RuleServiceService.getRule.path;
    await refusedUnary(get, bytesField(1, Buffer.from([0x65, 0x78, 0xff])), /^request body is not a valid mcr\.v1\.GetRuleRequest: rule: is not valid UTF-8/, 'GetRule with a reference that is not UTF-8');
  });

  it('refuses malformed bodies on streaming RPCs before the stream starts', async function () {
    const stats = StatsServiceService.watchStats.path;
    await refusedStream(stats, Buffer.from('not protobuf'), refusal(stats, 'field 13 at byte 0 has wire type 6, which does not exist'), 'WatchStats garbage');
    await refusedStream(stats, ELEVEN_FF, refusal(stats, 'the field key at byte 0 is a varint longer than 64 bits'), 'WatchStats 11 bytes of 0xff');
    const interval = no(input(stats), 'interval_ms');
    await refusedStream(stats, bytesField(interval, '100'), refusal(stats, `interval_ms: field ${interval} is uint32: expected wire type 0 (varint), got 2 (length-delimited)`), 'WatchStats interval_ms as bytes');
    const events = SystemServiceService.watchEvents.path;
    await refusedStream(events, bytesFieldClaiming(1, 500, Buffer.alloc(9)), refusal(events, 'field 1 (kinds) length 500 runs past the end of the 12-byte message'), 'WatchEvents length past the end');
    await refusedStream(events, fixed32Field(1, 1), /^request body is not a valid mcr\.v1\.WatchEventsRequest: kinds\[0\]: field 1 is repeated mcr\.v1\.\w+ enum: expected wire type 0 \(varint\) or 2 \(packed\), got 5 \(32-bit\)$/, 'WatchEvents kinds as 32 bits');
    const traces = TraceServiceService.watchTraces.path;
    const rules = no(input(traces), 'rules');
    await refusedStream(
      traces,
      Buffer.concat([bytesField(rules, 'existing'), bytesField(rules, Buffer.from([0x66, 0xff]))]),
      refusal(traces, `rules[1]: is not valid UTF-8 (field ${rules}, a string: the 2 bytes at byte 12)`),
      'WatchTraces with a rule reference that is not UTF-8',
    );
  });

  it('serves valid requests with unknown fields as if they were not there', async function () {
    const unknown = Buffer.concat([varintField(1000, -1n), fixed32Field(1001, 7), fixed64Field(1002, 9n), bytesField(1003, Buffer.from([0xff, 0x00])), nestedGroups(1004, 3)]);
    const outcome = await raw.call(RuleServiceService.createRule.path, Buffer.concat([unknown, createBody('with-unknown-fields', '239.77.4.1'), unknown]));
    expect(outcome.ok, outcome.ok ? '' : `${statusName(outcome.error.code)} ${outcome.error.details}`).to.equal(true);
    expect((await relay.client.getRule('with-unknown-fields')).input?.group).to.equal('239.77.4.1');
    const stream = await raw.serverStream(StatsServiceService.watchStats.path, Buffer.concat([varintField(no(input(StatsServiceService.watchStats.path), 'interval_ms'), 100), unknown]), 1, 5000);
    expect(stream.status, `WatchStats with unknown fields ended: ${stream.status?.details}`).to.equal(undefined);
    expect(stream.messages, 'WatchStats updates').to.have.length(1);
  });

  it('keeps status messages within the documented caps (a value quoted to 64 characters, 1 KiB in all)', async function () {
    const huge = 'x'.repeat(100_000);
    const setLevel = SystemServiceService.setLogLevel.path;
    const levelInput = input(setLevel);
    for (const field of ['level', 'facility']) {
      const body = Buffer.concat([bytesField(no(levelInput, 'facility'), field === 'facility' ? huge : ''), bytesField(no(levelInput, 'level'), field === 'level' ? huge : 'info')]);
      const outcome = await raw.call(setLevel, body);
      expect(outcome.ok).to.equal(false);
      if (outcome.ok) continue;
      expect(statusName(outcome.error.code)).to.equal('INVALID_ARGUMENT');
      expect(outcome.error.details, `SetLogLevel with a 100,000-character ${field}`).to.include(`"${'x'.repeat(64)}"... (100000 characters)`);
      expect(outcome.error.details.length, `SetLogLevel with a 100,000-character ${field}`).to.be.below(300);
    }
    const get = await raw.call(RuleServiceService.getRule.path, bytesField(1, huge));
    expect(get.ok).to.equal(false);
    if (!get.ok) {
      expect(get.error.code).to.equal(status.NOT_FOUND);
      expect(get.error.details).to.equal(`rule: no rule with id or name "${'x'.repeat(64)}"... (100000 characters)`);
    }
    // A malformed body's message, however long the body.
    const bad = await raw.call(RuleServiceService.createRule.path, Buffer.concat([bytesField(1000, huge), Buffer.from('not protobuf')]));
    expect(bad.ok).to.equal(false);
    if (!bad.ok) expect(bad.error.details.length).to.be.at.most(MAX_DETAILS_LENGTH);
  });

  it('kept serving: the same worker, no failed request in the log', async function () {
    expect(relay.mcrd.running, 'mcrd is running').to.equal(true);
    expect(await relay.client.healthStatus(2000)).to.equal('SERVING');
    expect(relay.mcrd.logs(), 'mcrd logged no failed request').not.to.include('request failed');
  });
});
