/** WatchStats updates built from kept rule encodings (server/api/stats-encoding.ts, updateParts). */
import { expect } from 'chai';

import { RuleStats, WatchStatsResponse } from '../../gen/mcr/v1/stats';
import { PAGE_BUDGET_BYTES } from '../../server/api/message-limits';
import { sizeInList } from '../../server/api/paging';
import { acceptPreEncoded, PreEncoded } from '../../server/api/pre-encoded';
import { encodedRuleStats, encodeRulesField, encodeWatchStatsResponse, ruleStatsSizeInList } from '../../server/api/stats-encoding';
import { updateParts } from '../../server/api/stats-service';

/** The whole message a PreEncoded stands for. */
function bytesOf(message: PreEncoded): Buffer {
  return Buffer.concat([message.bytes, message.tail ?? new Uint8Array()]);
}

function stats(i: number, outputs: number): RuleStats {
  return RuleStats.fromPartial({
    ruleId: `r${String(i).padStart(6, '0')}`,
    name: i % 2 ? `rule-${i}` : '',
    worker: i % 3,
    packetsReceived: BigInt(i) * 1_000_003n,
    bytesReceived: 2n ** 53n + BigInt(i),
    packetsForwarded: BigInt(i),
    drops: { sendFailed: BigInt(i % 7), noBuffer: 0n, unreachable: 1n, sendError: 2n },
    lastPacketUnixNanos: 1_700_000_000_000_000_000n + BigInt(i),
    packetsPerSecond: i * 0.5,
    bitsPerSecond: i * 4096.25,
    outputs: Array.from({ length: outputs }, (_, k) => ({
      index: k,
      interface: `out${k}`,
      address: `239.255.0.${k + 1}`,
      port: 6000 + k,
      packets: BigInt(i * k),
      bytes: BigInt(i * k * 1316),
      errorsWouldBlock: BigInt(k),
      errorsUnreachable: 0n,
      errorsOther: 3n,
      packetsPerSecond: k,
      bitsPerSecond: k * 8.5,
    })),
  });
}

describe('WatchStats encoding', () => {
  it('a message made of kept rule encodings is byte for byte what the generated encoder writes', () => {
    const rules = Array.from({ length: 50 }, (_, i) => stats(i, i % 5 === 0 ? 64 : 4));
    const fields = { collectedUnixNanos: 1_765_000_000_123_456_789n, intervalMs: 1000, droppedUpdates: 12n, continued: true };
    const ours = bytesOf(encodeWatchStatsResponse(fields, encodeRulesField(rules.map(encodedRuleStats))));
    const generated = WatchStatsResponse.encode({ ...fields, rules }).finish();
    expect(Buffer.from(ours).equals(Buffer.from(generated))).to.equal(true);
    expect(WatchStatsResponse.decode(ours)).to.deep.equal({ ...fields, rules });
  });

  it('an empty update and default fields encode the same as well', () => {
    const fields = { collectedUnixNanos: 0n, intervalMs: 0, droppedUpdates: 0n, continued: false };
    expect(bytesOf(encodeWatchStatsResponse(fields, encodeRulesField([]))).length).to.equal(0);
    const one = [stats(1, 1)];
    expect(bytesOf(encodeWatchStatsResponse(fields, encodeRulesField(one.map(encodedRuleStats)))).equals(Buffer.from(WatchStatsResponse.encode({ ...fields, rules: one }).finish()))).to.equal(true);
  });

  it('keeps one encoding per RuleStats object, and sizes it as an element of the list', () => {
    const s = stats(7, 4);
    expect(encodedRuleStats(s)).to.equal(encodedRuleStats(s));
    expect(ruleStatsSizeInList(s)).to.equal(sizeInList(RuleStats.encode(s).finish().length));
    // Another object, even with the same contents, is encoded on its own.
    expect(encodedRuleStats(stats(7, 4))).not.to.equal(encodedRuleStats(s));
  });

  it('passes pre-encoded responses through the method serializer and encodes the rest', () => {
    const definition = {
      WatchStats: {
        path: '/mcr.v1.StatsService/WatchStats',
        requestStream: false,
        responseStream: true,
        requestSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
        requestDeserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
        responseSerialize: (v: unknown) => Buffer.from(`encoded ${JSON.stringify(v)}`),
        responseDeserialize: (b: Buffer) => b.toString(),
      },
    };
    const accepting = acceptPreEncoded(definition);
    const bytes = Buffer.from([1, 2, 3]);
    expect(accepting.WatchStats.responseSerialize(new PreEncoded(bytes))).to.equal(bytes);
    expect(accepting.WatchStats.responseSerialize({ a: 1 }).toString()).to.equal('encoded {"a":1}');
    // Two pieces are joined (into a buffer reused by the next: see test/unit/pre-encoded.test.ts).
    expect([...accepting.WatchStats.responseSerialize(new PreEncoded(bytes, new Uint8Array([4, 5])))]).to.deep.equal([1, 2, 3, 4, 5]);
    expect(accepting.WatchStats.path).to.equal(definition.WatchStats.path);
  });

  it('cuts an update into messages within the budget, in rule id order, each rule once, only the selected', () => {
    // 64 outputs: about 3 KB a rule, so 4,000 rules need several messages.
    const rules = Array.from({ length: 4000 }, (_, i) => stats(i, 64)).reverse();
    const parts = updateParts(rules, (s) => !s.ruleId.endsWith('3'));
    expect(parts.length).to.be.greaterThan(1);
    parts.forEach((part, i) => {
      expect(part.continued).to.equal(i < parts.length - 1);
      expect(part.encodings).to.deep.equal(part.rules.map(encodedRuleStats));
      const bytes = bytesOf(encodeWatchStatsResponse({ collectedUnixNanos: 5n, intervalMs: 1000, droppedUpdates: 0n, continued: part.continued }, encodeRulesField(part.encodings))).length;
      expect(part.rules.reduce((sum, s) => sum + ruleStatsSizeInList(s), 0)).to.be.at.most(PAGE_BUDGET_BYTES);
      expect(bytes).to.be.at.most(PAGE_BUDGET_BYTES + 64);
    });
    const ids = parts.flatMap((p) => p.rules.map((s) => s.ruleId));
    expect(ids).to.deep.equal([...ids].sort());
    expect(ids.length).to.equal(4000 - 400);
    expect(new Set(ids).size).to.equal(ids.length);
  });

  it('sends one message when the update fits', () => {
    const parts = updateParts([stats(2, 4), stats(1, 4)], () => true);
    expect(parts).to.have.length(1);
    expect(parts[0].rules.map((s) => s.ruleId)).to.deep.equal(['r000001', 'r000002']);
    expect(parts[0].continued).to.equal(false);
  });
});
