/**
 * The whole ApplyRules answer assembled from stored rules encoded once (server/api/apply-answer-encoding.ts,
 * decision 0046): byte for byte what the generated encoder writes for the answer applyAnswer makes,
 * each unchanged rule with the status asked for at the time (a status that changed in any field is
 * encoded again), and nothing when the whole answer would not fit in one message.
 */
import { expect } from 'chai';

import { ApplyRulesResponse, ApplyRulesView, DeepPartial, Rule, RuleState, RuleStatus } from '../../gen/mcr/v1/rules';
import { applyAnswer } from '../../server/api/apply-answer';
import { encodeWholeAnswer } from '../../server/api/apply-answer-encoding';
import { MAX_RESPONSE_BYTES } from '../../server/api/message-limits';
import { SeededRandom } from '../support/seeded-random';

function stored(i: number, random: SeededRandom, outputs = random.int(1, 6)): Rule {
  const spec: DeepPartial<Rule> = {
    id: `r-${i.toString(16).padStart(12, '0')}`,
    name: random.chance(0.8) ? `cam-${i}` : '',
    input: { interface: 'eth0', group: `239.1.${(i >> 8) & 255}.${i & 255}`, port: 5000 + (i % 7), source: random.chance(0.3) ? '10.0.0.1' : '' },
    outputs: Array.from({ length: outputs }, (_, k) => ({
      interface: `eth${1 + k}`,
      address: `10.${k}.${(i >> 8) & 255}.${i & 255}`,
      port: 6000 + k,
      ...(random.chance(0.3) ? { ttl: random.int(1, 255) } : {}),
      ...(random.chance(0.3) ? { dscp: random.int(0, 63) } : {}),
    })),
    generation: BigInt(random.int(1, 300)),
    createdUnixNanos: random.chance(0.9) ? 1_700_000_000_000_000_000n + BigInt(i) : 0n,
    updatedUnixNanos: random.chance(0.5) ? 1_700_000_000_000_000_000n + BigInt(i * 3) : 0n,
  };
  return Rule.fromPartial(spec);
}

function randomStatus(random: SeededRandom): RuleStatus {
  return {
    state: random.pick([RuleState.RULE_STATE_ACTIVE, RuleState.RULE_STATE_PENDING, RuleState.RULE_STATE_ERROR, RuleState.RULE_STATE_UNSPECIFIED]),
    reason: random.pick(['', 'being installed', 'interface eth9 is down: waiting for it']),
    worker: random.int(0, 3),
    lastPacketUnixNanos: random.chance(0.5) ? 0n : 1_700_000_000_000_000_000n + BigInt(random.int(0, 1e9)),
  };
}

/** The answer as applyAnswer makes it, encoded by the generated encoder. */
function reference(lists: { added: Rule[]; changed: Rule[]; removed: Rule[]; unchanged: Rule[] }, statuses: Map<Rule, RuleStatus>, fields: { storeGeneration: bigint; dryRun: boolean }): Buffer {
  const unchanged = lists.unchanged.map((rule) => ({ ...rule, status: statuses.get(rule) }));
  return Buffer.from(ApplyRulesResponse.encode(applyAnswer({ ...lists, unchanged }, fields, ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED)).finish());
}

describe('ApplyRules whole answer from kept encodings', () => {
  it('writes exactly what the generated encoder writes, over random answers and statuses that change between answers', () => {
    const random = new SeededRandom(46);
    const rules = Array.from({ length: 300 }, (_, i) => stored(i, random));
    const statuses = new Map<Rule, RuleStatus>();
    for (let round = 0; round < 40; round++) {
      const pick = () => rules.filter(() => random.chance(0.05)).map((rule) => ({ ...rule, generation: rule.generation + 1n, status: randomStatus(random) }));
      const unchanged = rules.filter(() => random.chance(0.7));
      // Most statuses stay, some change in one field only.
      for (const rule of unchanged) {
        const before = statuses.get(rule);
        if (!before || random.chance(0.2)) statuses.set(rule, randomStatus(random));
        else if (random.chance(0.1)) statuses.set(rule, { ...before, lastPacketUnixNanos: before.lastPacketUnixNanos + 1n });
        else if (random.chance(0.1)) statuses.set(rule, { ...before, reason: `${before.reason}.` });
      }
      const lists = { added: pick(), changed: pick(), removed: rules.filter(() => random.chance(0.03)), unchanged };
      const fields = { storeGeneration: BigInt(round * 1000), dryRun: random.chance(0.3) };
      const ours = encodeWholeAnswer({ ...lists, ...fields }, (rule) => statuses.get(rule as Rule)!);
      expect(ours, `round ${round}`).to.not.equal(undefined);
      expect(ours!.bytes.equals(reference(lists, statuses, fields)), `round ${round}`).to.equal(true);
    }
  });

  it('an empty answer, and one of unchanged rules only, are what the generated encoder writes', () => {
    const random = new SeededRandom(7);
    const fields = { storeGeneration: 0n, dryRun: false };
    const none = { added: [], changed: [], removed: [], unchanged: [] };
    expect(encodeWholeAnswer({ ...none, ...fields }, () => randomStatus(random))!.bytes.equals(reference(none, new Map(), fields))).to.equal(true);
    const rule = stored(1, random);
    const zero: RuleStatus = { state: RuleState.RULE_STATE_UNSPECIFIED, reason: '', worker: 0, lastPacketUnixNanos: 0n };
    const one = { ...none, unchanged: [rule] };
    expect(encodeWholeAnswer({ ...one, ...fields }, () => zero)!.bytes.equals(reference(one, new Map([[rule, zero]]), fields))).to.equal(true);
  });

  it('gives nothing when the whole answer would not fit in one message (it comes in a smaller view)', () => {
    const random = new SeededRandom(9);
    const rules = Array.from({ length: 3_000 }, (_, i) => stored(i, random, 64));
    const status: RuleStatus = { state: RuleState.RULE_STATE_ACTIVE, reason: '', worker: 1, lastPacketUnixNanos: 0n };
    const lists = { added: [], changed: [], removed: [], unchanged: rules };
    const whole = ApplyRulesResponse.encode(ApplyRulesResponse.fromPartial({ unchanged: rules.map((rule) => ({ ...rule, status })) })).finish();
    expect(whole.length).to.be.above(MAX_RESPONSE_BYTES);
    expect(encodeWholeAnswer({ ...lists, storeGeneration: 1n, dryRun: false }, () => status)).to.equal(undefined);
    const fewer = { ...lists, unchanged: rules.slice(0, 2_000) };
    expect(encodeWholeAnswer({ ...fewer, storeGeneration: 1n, dryRun: false }, () => status)!.bytes.length).to.be.at.most(MAX_RESPONSE_BYTES);
  });

  it('gives nothing when the added, changed or removed rules alone would not fit (an apply of many rules to an empty store)', () => {
    const random = new SeededRandom(10);
    const rules = Array.from({ length: 3_000 }, (_, i) => stored(i, random, 64));
    const status: RuleStatus = { state: RuleState.RULE_STATE_ACTIVE, reason: '', worker: 1, lastPacketUnixNanos: 0n };
    for (const list of ['added', 'changed', 'removed'] as const) {
      const lists: { added: Rule[]; changed: Rule[]; removed: Rule[]; unchanged: Rule[] } = { added: [], changed: [], removed: [], unchanged: [] };
      lists[list] = rules;
      expect(ApplyRulesResponse.encode(ApplyRulesResponse.fromPartial(lists)).finish().length, list).to.be.above(MAX_RESPONSE_BYTES);
      expect(encodeWholeAnswer({ ...lists, storeGeneration: 1n, dryRun: false }, () => status), list).to.equal(undefined);
    }
  });
});
