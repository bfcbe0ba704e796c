/**
 * The arithmetic behind the message limits (server/api/message-limits.ts): a page at the maximum
 * page size of items at their largest, every field at its largest encoding, fits in the page budget,
 * and what a page carries besides its items fits in the envelope. test/unit/list-pages.test.ts sends
 * such pages through gRPC.
 */
import { expect } from 'chai';

import { Rule, RuleState } from '../../gen/mcr/v1/rules';
import { RuleStats } from '../../gen/mcr/v1/stats';
import { TraceState, TraceStatus } from '../../gen/mcr/v1/trace';
import { cappedReason, MAX_PAGE_SIZE, MAX_RESPONSE_BYTES, PAGE_BUDGET_BYTES, PAGE_ENVELOPE_BYTES, REASON_MAX_BYTES } from '../../server/api/message-limits';
import { encodePageToken, queryFingerprint, sizeInList } from '../../server/api/paging';

const U64 = 0xffff_ffff_ffff_ffffn;
const U32 = 0xffff_ffff;
/** -1 is the longest int64 varint (10 bytes). */
const I64 = -1n;
const ID = 'a'.repeat(63);
const IF = 'x'.repeat(15);
const IP = '255.255.255.255';
const OUTPUTS = 64;

const WORST_RULE = Rule.fromPartial({
  id: ID,
  name: ID,
  input: { interface: IF, group: IP, port: 65535, source: IP },
  outputs: Array.from({ length: OUTPUTS }, () => ({ interface: IF, address: IP, port: 65535, ttl: 255, dscp: 63 })),
  generation: U64,
  status: { state: RuleState.RULE_STATE_VALIDATED, reason: cappedReason('r'.repeat(5000)), worker: U32, lastPacketUnixNanos: I64 },
  createdUnixNanos: I64,
  updatedUnixNanos: I64,
});

const WORST_STATS = RuleStats.fromPartial({
  ruleId: ID,
  name: ID,
  worker: U32,
  packetsReceived: U64,
  bytesReceived: U64,
  packetsForwarded: U64,
  drops: { sendFailed: U64, noBuffer: U64, unreachable: U64, sendError: U64 },
  lastPacketUnixNanos: I64,
  outputs: Array.from({ length: OUTPUTS }, () => ({
    index: U32, interface: IF, address: IP, port: 65535, packets: U64, bytes: U64,
    errorsWouldBlock: U64, errorsUnreachable: U64, errorsOther: U64, packetsPerSecond: 1.5, bitsPerSecond: 1.5,
  })),
  packetsPerSecond: 1.5,
  bitsPerSecond: 1.5,
});

describe('message limits', () => {
  it('are gRPC\'s default receive limit, which every client has', () => {
    expect(MAX_RESPONSE_BYTES).to.equal(4 * 1024 * 1024);
    expect(PAGE_BUDGET_BYTES + PAGE_ENVELOPE_BYTES).to.equal(MAX_RESPONSE_BYTES);
  });

  it('a rule status reason is cut to REASON_MAX_BYTES of UTF-8, saying so; a shorter one is left alone', () => {
    expect(Buffer.byteLength(WORST_RULE.status!.reason)).to.be.at.most(REASON_MAX_BYTES);
    expect(WORST_RULE.status!.reason).to.match(/\.\.\. \(cut\)$/);
    expect(cappedReason('input interface eth0 is down')).to.equal('input interface eth0 is down');
    const multibyte = cappedReason('é'.repeat(5000));
    expect(Buffer.byteLength(multibyte)).to.be.within(REASON_MAX_BYTES - 1, REASON_MAX_BYTES);
    expect(multibyte).to.match(/^é+\.\.\. \(cut\)$/);
  });

  it(`the largest Rule (64 outputs) and RuleStats are what message-limits.ts says, and a full page of each fits`, () => {
    const rule = Rule.encode(WORST_RULE).finish().length;
    const stats = RuleStats.encode(WORST_STATS).finish().length;
    expect({ rule, stats }).to.deep.equal({ rule: 4149, stats: 7860 });
    expect(MAX_PAGE_SIZE.ListRules * sizeInList(rule)).to.be.at.most(PAGE_BUDGET_BYTES);
    expect(MAX_PAGE_SIZE.GetStats * sizeInList(stats)).to.be.at.most(PAGE_BUDGET_BYTES);
  });

  it('a full page of the largest trace statuses fits', () => {
    const trace = TraceStatus.fromPartial({
      ruleId: ID, state: TraceState.TRACE_STATE_RULE_GONE, sampleEvery: U32, snapLength: U32, recordLimit: U32, timeLimitMs: U32,
      startedUnixNanos: I64, stoppedUnixNanos: I64, records: U64, recordsLost: U64,
    });
    expect(MAX_PAGE_SIZE.ListTraces * sizeInList(TraceStatus.encode(trace).finish().length)).to.be.at.most(PAGE_BUDGET_BYTES);
  });

  it('what a page carries besides its items (the longest token, generation, time) fits in the envelope', () => {
    const token = encodePageToken('ListInterfaces', queryFingerprint({}), [2 ** 32, IF]);
    const longest = encodePageToken('ListRules', queryFingerprint({}), [ID]);
    const envelope = sizeInList(Math.max(token.length, longest.length)) + 2 * 11;
    expect(envelope).to.be.below(PAGE_ENVELOPE_BYTES / 10);
  });
});
