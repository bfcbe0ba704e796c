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
