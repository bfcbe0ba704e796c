/**
 * The ApplyRules deserializer that recognizes stored rules by their bytes (server/api/apply-request.ts,
 * known-rules.ts): whatever the body, it answers exactly what the plain strict deserializer answers
 * (the same request, or the same refusal naming the same field), and recognizes the rules sent as
 * they are stored.
 */
import { ServiceDefinition } from '@grpc/grpc-js';
import { expect } from 'chai';

import { ApplyRulesRequest, ApplyRulesView, DeepPartial, Rule, RuleServiceService } from '../../gen/mcr/v1/rules';
import { DescriptorSet } from '../../server/api/descriptor-set';
import { definitionOf, KnownRules } from '../../server/api/known-rules';
import { MalformedRequest, strictDefinition } from '../../server/api/strict-requests';
import { SeededRandom } from '../support/seeded-random';

function stored(i: number, spec: DeepPartial<Rule> = {}): Rule {
  return Rule.fromPartial({
    id: `r-${String(i).padStart(12, '0')}`,
    name: `cam-${i}`,
    input: { interface: 'in0', group: `239.1.0.${i}`, port: 5000, source: i % 3 === 0 ? '10.0.0.1' : '' },
    outputs: [
      { interface: 'out1', address: `239.9.0.${i}`, port: 6000 },
      { interface: 'out2', address: `239.9.1.${i}`, port: 6001, ...(i % 2 === 0 ? { ttl: 4, dscp: 46 } : {}) },
    ],
    generation: 3n,
    createdUnixNanos: 5n,
    updatedUnixNanos: 6n,
    ...spec,
  });
}

const STORED = Array.from({ length: 8 }, (_, i) => stored(i + 1));
const byName = new Map(STORED.map((rule) => [rule.name, rule]));
const desired = (rule: Rule): DeepPartial<Rule> => ({ name: rule.name, input: rule.input, outputs: rule.outputs });

/** A body of the stored rules as they are, one changed, one with its id, one with no name; every other field set. */
function body(): Buffer {
  const rules: DeepPartial<Rule>[] = STORED.map(desired);
  rules[2] = { ...rules[2], outputs: [{ interface: 'out1', address: '239.9.0.99', port: 6000 }] };
  rules[4] = { ...rules[4], id: STORED[4].id };
  rules[6] = { input: STORED[6].input, outputs: STORED[6].outputs };
  const request = ApplyRulesRequest.fromPartial({ rules, replace: true, dryRun: true, expectedGeneration: 17n, view: ApplyRulesView.APPLY_RULES_VIEW_CHANGES });
  return Buffer.from(ApplyRulesRequest.encode(request).finish());
}

function deserializers() {
  const schemas = DescriptorSet.load().registry();
  const asked: string[] = [];
  const known = new KnownRules((name) => (asked.push(name), byName.get(name)));
  const find = (definition: ServiceDefinition) => Object.values(definition).find((m) => m.path.endsWith('/ApplyRules'))!.requestDeserialize;
  return {
    fast: find(strictDefinition(RuleServiceService as unknown as ServiceDefinition, schemas, known)),
    plain: find(strictDefinition(RuleServiceService as unknown as ServiceDefinition, schemas)),
    asked,
  };
}

/** What a deserializer answered, comparable: the request, or the refusal's field and message. */
function outcome(answer: unknown) {
  if (answer instanceof MalformedRequest) return { path: answer.path, details: answer.error.toServiceError().details };
  return { request: answer };
}

describe('ApplyRules: stored rules recognized by their bytes', () => {
  it('decodes a body to exactly what the generated decoder does, taking the rules sent as stored as their definitions', () => {
    const { fast, asked } = deserializers();
    const bytes = body();
    const request = fast(bytes) as ApplyRulesRequest;
    expect(request).to.deep.equal(ApplyRulesRequest.decode(bytes));
    // Sent as stored: rules 0, 1, 3, 5, 7 (2 is changed, 4 carries its id, 6 has no name).
    for (const i of [0, 1, 3, 5, 7]) expect(request.rules[i], `rules[${i}]`).to.equal(definitionOf(STORED[i]));
    for (const i of [2, 4, 6]) expect(request.rules[i], `rules[${i}]`).to.not.equal(definitionOf(STORED[i]));
    expect(asked, 'only rules identified by name are looked up').to.deep.equal(['cam-1', 'cam-2', 'cam-3', 'cam-4', 'cam-6', 'cam-8']);
    expect(Object.isFrozen(request.rules[0])).to.equal(true);
  });

  it('a stored rule definition is what Rule.decode makes of its encoding', () => {
    for (const rule of STORED) expect(definitionOf(rule)).to.deep.equal(Rule.decode(Rule.encode(Rule.fromPartial(desired(rule))).finish()));
  });

  it('refuses what the plain deserializer refuses, naming the same field, whatever the bytes (corrupted bodies)', () => {
    const { fast, plain } = deserializers();
    const random = new SeededRandom(41);
    const base = body();
    let refused = 0;
    let passed = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from(base);
      for (let flips = random.int(1, 3); flips > 0; flips--) bytes[random.int(0, bytes.length - 1)] ^= random.int(1, 255);
      const cut = random.chance(0.2) ? bytes.subarray(0, random.int(0, bytes.length)) : bytes;
      const expected = outcome(plain(cut));
      expect(outcome(fast(cut)), `body ${i}`).to.deep.equal(expected);
      if ('path' in expected) refused++;
      else passed++;
    }
    expect([refused, passed].every((n) => n > 100), `refused ${refused}, passed ${passed}`).to.equal(true);
  });

  it('a rule with a stored rule name but other bytes is walked: a bad string in it is refused at rules[i].field', () => {
    const { fast } = deserializers();
    const rules = STORED.map(desired);
    rules[3] = { ...rules[3], outputs: [{ interface: 'o\u00e9', address: '239.9.0.4', port: 6000 }] };
    const bytes = Buffer.from(ApplyRulesRequest.encode(ApplyRulesRequest.fromPartial({ rules })).finish());
    const at = bytes.indexOf(Buffer.from('o\u00e9'));
    bytes[at + 1] = 0xff; // the first byte of é, no longer UTF-8
    const answer = fast(bytes);
    expect(answer).to.be.instanceOf(MalformedRequest);
    expect((answer as MalformedRequest).path).to.equal('rules[3].outputs[0].interface');
  });
});

describe('ApplyRules: rules whose bytes the last body had (decision 0046)', () => {
  /** A rule no store holds (so only the last body can make it known). */
  const fresh = (i: number, port = 6000): DeepPartial<Rule> => ({
    name: `f-${i}`,
    input: { interface: 'in0', group: `239.2.${i >> 8}.${i & 255}`, port: 5000 },
    outputs: [{ interface: 'out1', address: '239.9.9.9', port }],
  });
  const encoded = (rules: DeepPartial<Rule>[], fields: DeepPartial<ApplyRulesRequest> = {}) =>
    Buffer.from(ApplyRulesRequest.encode(ApplyRulesRequest.fromPartial({ rules, replace: true, ...fields })).finish());

  it('takes the rules a body shares with the last one at its start and end as the very rules read then; what differs is decoded', () => {
    const { fast } = deserializers();
    const rules = Array.from({ length: 200 }, (_, i) => fresh(i));
    const first = fast(encoded(rules)) as ApplyRulesRequest;
    const changed = rules.slice();
    changed[120] = fresh(120, 6001);
    const bytes = encoded(changed);
    const second = fast(bytes) as ApplyRulesRequest;
    expect(second).to.deep.equal(ApplyRulesRequest.decode(bytes));
    second.rules.forEach((rule, i) => expect(rule === first.rules[i], `rules[${i}]`).to.equal(i !== 120));
    // The same with other fields after the rules (a dry run asking for another view): still found.
    const preview = encoded(changed, { dryRun: true, view: ApplyRulesView.APPLY_RULES_VIEW_CHANGES, expectedGeneration: 12345n });
    const previewed = fast(preview) as ApplyRulesRequest;
    expect(previewed).to.deep.equal(ApplyRulesRequest.decode(preview));
    previewed.rules.forEach((rule, i) => expect(rule === second.rules[i], `previewed rules[${i}]`).to.equal(true));
    const back = rules.slice();
    const applied = fast(encoded(back)) as ApplyRulesRequest;
    applied.rules.forEach((rule, i) => expect(rule === first.rules[i], `applied rules[${i}]`).to.equal(i !== 120));
    // One more rule at the start: the others are found past it, at their new places.
    const third = fast(encoded([fresh(999), ...back])) as ApplyRulesRequest;
    expect(third).to.deep.equal(ApplyRulesRequest.decode(encoded([fresh(999), ...back])));
    third.rules.slice(1).forEach((rule, i) => expect(rule === applied.rules[i], `rules[${i + 1}]`).to.equal(true));
  });

  it('a rule changed only in its last byte, or the other fields changed, is read as the plain decoder reads it', () => {
    const { fast } = deserializers();
    const rules = Array.from({ length: 50 }, (_, i) => fresh(i));
    fast(encoded(rules));
    const lastByte = encoded(rules);
    lastByte[lastByte.length - 3] ^= 1; // the last rule's port (6000, varint f0 2e) is 6128: the body ends 2e, replace key, value
    const request = fast(lastByte) as ApplyRulesRequest;
    expect(request).to.deep.equal(ApplyRulesRequest.decode(lastByte));
    expect(request.rules[49].outputs[0].port).to.equal(6128);
    const other = encoded(rules, { replace: false, dryRun: true, view: ApplyRulesView.APPLY_RULES_VIEW_CHANGES, expectedGeneration: 300n });
    expect(fast(other)).to.deep.equal(ApplyRulesRequest.decode(other));
  });

  it('reads other fields between the rules, and a rule length written longer than it need be, as the plain decoder does', () => {
    const { fast, plain } = deserializers();
    // Stored rules as they are (recognized, so that the rules are taken where the check found them).
    const parts = STORED.map((rule) => Buffer.from(Rule.encode(Rule.fromPartial(desired(rule))).finish()));
    const field = (rule: Buffer, long = false) => Buffer.concat([Buffer.from([0x0a]), long ? Buffer.from([(rule.length & 0x7f) | 0x80, rule.length >> 7]) : Buffer.from([rule.length]), rule]);
    // view and dry_run before, between and after the rules; rule 5's length in two bytes.
    const bytes = Buffer.concat([
      Buffer.from([0x28, 0x03]),
      ...parts.slice(0, 5).map((rule) => field(rule)),
      field(parts[5], true),
      Buffer.from([0x18, 0x01, 0x28, 0x02]),
      ...parts.slice(6).map((rule) => field(rule)),
      Buffer.from([0x10, 0x01, 0xf8, 0x3e, 0x07]),
    ]);
    const request = fast(bytes) as ApplyRulesRequest;
    expect(outcome(request)).to.deep.equal(outcome(plain(bytes)));
    expect(request).to.include({ dryRun: true, replace: true, view: ApplyRulesView.APPLY_RULES_VIEW_COUNTS });
    expect(request.rules.map((rule, i) => rule === definitionOf(STORED[i]))).to.deep.equal(STORED.map(() => true));
    const interleaved = Buffer.concat([...parts.slice(0, 3).map((rule) => field(rule)), Buffer.from([0x18, 0x01]), ...parts.slice(3).map((rule) => field(rule))]);
    expect(outcome(fast(interleaved))).to.deep.equal(outcome(plain(interleaved)));
  });

  it('answers what the plain deserializer answers over random sequences of edited, reordered and corrupted bodies', () => {
    const { fast, plain } = deserializers();
    const random = new SeededRandom(46);
    let rules = Array.from({ length: 60 }, (_, i) => fresh(i));
    let last: ApplyRulesRequest | undefined;
    let reused = 0;
    for (let i = 0; i < 1500; i++) {
      const next = rules.slice();
      for (let edits = random.int(0, 3); edits > 0; edits--) {
        const at = random.int(0, next.length - 1);
        const kind = random.int(0, 4);
        if (kind === 0) next.splice(at, 0, fresh(random.int(0, 300), random.int(6000, 6003)));
        else if (kind === 1 && next.length > 1) next.splice(at, 1);
        else if (kind === 2) next[at] = fresh(random.int(0, 300), random.int(6000, 6003));
        else if (kind === 3) next.push(STORED.map(desired)[random.int(0, STORED.length - 1)]);
        else [next[at], next[0]] = [next[0], next[at]];
      }
      const fields = random.chance(0.2) ? { view: random.int(0, 3) as ApplyRulesView, dryRun: random.chance(0.5) } : {};
      let bytes = encoded(next, fields);
      if (random.chance(0.15)) {
        bytes = Buffer.from(bytes);
        bytes[random.int(0, bytes.length - 1)] ^= random.int(1, 255);
        if (random.chance(0.3)) bytes = bytes.subarray(0, random.int(0, bytes.length));
      }
      const expected = outcome(plain(bytes));
      const answer = fast(bytes);
      expect(outcome(answer), `body ${i}`).to.deep.equal(expected);
      if (answer instanceof MalformedRequest) continue;
      const request = answer as ApplyRulesRequest;
      if (last) reused += request.rules.filter((rule) => last!.rules.includes(rule)).length;
      last = request;
      rules = next;
    }
    expect(reused, 'rules taken from the last body').to.be.greaterThan(1500 * 30);
  });
});

describe('KnownRules.warm', () => {
  it('runs through the rules it is given (removed ones included) in batches, and matches find the same definitions after it', async () => {
    const rules = Array.from({ length: 1200 }, (_, i) => stored(i + 1));
    const names = new Map(rules.map((rule) => [rule.name, rule]));
    const known = new KnownRules((name) => names.get(name));
    known.warm([...rules, undefined]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const bytes = Buffer.from(Rule.encode(Rule.fromPartial(desired(rules[1100]))).finish());
    expect(known.match(bytes, 0, bytes.length)).to.equal(definitionOf(rules[1100]));
  });
});
