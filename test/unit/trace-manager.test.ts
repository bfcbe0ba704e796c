import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { EventEmitter } from 'events';
import os from 'os';

import { IpProtocol, Rule } from '../../gen/mcr/v1/rules';
import { GetTraceResponse, OutputResult, TraceRecord, TraceState, Verdict, WatchTracesResponse } from '../../gen/mcr/v1/trace';
import { SEND_TTL_EXPIRED } from '../../native';
import type { TracedPacket } from '../../native';
import { ApiError, toApiError } from '../../server/api/errors';
import { planForwarding } from '../../server/forwarding/plan';
import type { WorkerSync } from '../../server/forwarding/worker-sync';
import { DEFAULT_LIMITS } from '../../server/config/limits';
import { TraceManager } from '../../server/trace/manager';

const MAX_TRACED_RULES = DEFAULT_LIMITS.maxTracedRules;
const MAX_SUBSCRIBERS = DEFAULT_LIMITS.maxTraceWatchers;
import { setLogLevel } from '../../server/log';
import { DROP_NO_OUTPUT, DROP_NOT_ACCEPTED, DROP_TOO_BIG, DROP_TTL_EXPIRED, encodedSizeBound, errnoName, HandleResolver, outputResult, toTraceRecord } from '../../server/trace/record';
import { RecordBuffer } from '../../server/trace/record-buffer';
import { QUEUE_RECORDS, RECORDS_PER_EVENT, TraceEventSink } from '../../server/trace/subscriber';
import { WorkerHandles } from '../../server/trace/worker-handles';
import { canonicalOutput, CanonicalRule, rulesetHash, tracedPacketFromWire, tracedPacketToWire } from '../../workers/protocol';

const E = os.constants.errno;
/** Linux's EHOSTDOWN, which Node's errno constants lack. */
const EHOSTDOWN = 112;

function rule(id: string, group = '239.1.1.1', name = ''): Rule {
  return Rule.fromPartial({
    id,
    name,
    input: { interface: 'in0', group, port: 5000, source: '' },
    outputs: [
      { interface: 'out1', address: '239.9.9.9', port: 6000 },
      { interface: 'out2', address: '10.4.0.2', port: 9999 },
    ],
  });
}

/** Output handles 10 and 11 send for outputs 0 and 1 of every rule; input handle 1 is in0. */
class FakeHandles implements HandleResolver {
  constructor(private readonly owned: ReadonlySet<string> = new Set()) {}
  inputInterface(handle: number) {
    return handle === 1 ? 'in0' : undefined;
  }
  output(_ruleId: string, handle: number) {
    if (handle === 10) return { index: 0, interface: 'out1', address: '239.9.9.9', port: 6000 };
    if (handle === 11) return { index: 1, interface: 'out2', address: '10.4.0.2', port: 9999 };
    return undefined;
  }
  owns(ruleId: string) {
    return this.owned.has(ruleId);
  }
}

function packet(ruleId: string, overrides: Partial<TracedPacket> = {}): TracedPacket {
  return {
    ruleId,
    timestampNs: 1_700_000_000_123_456_789n,
    input: 1,
    source: '10.1.0.2',
    sourcePort: 40000,
    destination: '239.1.1.1',
    destinationPort: 5000,
    protocol: 17,
    ipLength: 128,
    ttl: 1,
    tos: 46 << 2,
    vlan: 100,
    sends: [
      { handle: 10, errno: 0, ttl: 63, tos: (46 << 2) | 1, segments: 1, fragmented: false },
      { handle: 11, errno: E.ECONNREFUSED, ttl: 64, tos: 0, segments: 0, fragmented: false },
    ],
    timeInMcrNs: 12_345,
    frameLength: 142,
    frame: Buffer.alloc(128, 0xab),
    ...overrides,
  };
}

const packets = (ruleId: string, count: number, overrides: Partial<TracedPacket> = {}) => Array.from({ length: count }, () => packet(ruleId, overrides));

/** A stream that takes `accept` writes before reporting it is full (Infinity: never full). */
class FakeSink extends EventEmitter implements TraceEventSink {
  readonly events: WatchTracesResponse[] = [];
  ended = false;
  constructor(public accept = Infinity) {
    super();
  }
  write(event: WatchTracesResponse): boolean {
    this.events.push(event);
    return this.events.length < this.accept;
  }
  end(): void {
    this.ended = true;
  }
  /** The client read everything: the stream takes writes again. */
  drain(): void {
    this.accept = Infinity;
    this.emit('drain');
  }
  get records(): TraceRecord[] {
    return this.events.flatMap((e) => e.records);
  }
  get lost(): bigint {
    return this.events.reduce((sum, e) => sum + e.lost, 0n);
  }
  get states(): TraceState[] {
    return this.events.filter((e) => e.status).map((e) => e.status!.state);
  }
}

function setup(...initial: Rule[]) {
  const rules = new Map(initial.map((r) => [r.id, r]));
  let applies = 0;
  const manager = new TraceManager({
    findRule: (ref) => rules.get(ref) ?? [...rules.values()].find((r) => r.name === ref),
    apply: async () => {
      applies++;
    },
    limits: DEFAULT_LIMITS,
  });
  return { rules, manager, applies: () => applies };
}

/** The error `call` is refused with, as the API answers it (the domain's errors mapped by toApiError). */
async function apiError(call: Promise<unknown> | (() => unknown)): Promise<ApiError> {
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (thrown) {
    const err = toApiError(thrown);
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('trace manager', () => {
  before(() => setLogLevel('warn', 'supervisor')); // no "trace enabled" lines between the results
  after(() => setLogLevel('info', 'supervisor'));
  const managers: TraceManager[] = [];
  afterEach(() => managers.splice(0).forEach((m) => m.close()));
  const make = (...rules: Rule[]) => {
    const env = setup(...rules);
    managers.push(env.manager);
    return env;
  };

  describe('EnableTrace settings', () => {
    it('fills in the defaults for 0 and has the data plane trace the rule', async () => {
      const { manager, applies } = make(rule('r-a'));
      const traced = await manager.enable({ rule: 'r-a', sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 0 });
      expect(traced).to.include({ ruleId: 'r-a', state: TraceState.TRACE_STATE_RUNNING, sampleEvery: 1, snapLength: 128, recordLimit: 1000, timeLimitMs: 60_000 });
      expect(traced.records).to.equal(0n);
      expect(traced.stoppedUnixNanos).to.equal(0n);
      expect(Number(traced.startedUnixNanos / 1_000_000n)).to.be.closeTo(Date.now(), 1000);
      expect(manager.traceOf('r-a')).to.deep.equal({ sampleEvery: 1, snapLength: 128 });
      expect(manager.traceOf('r-other')).to.equal(undefined);
      expect(applies()).to.equal(1);
    });

    it('accepts each setting at its maximum', async () => {
      const { manager } = make(rule('r-a'));
      const traced = await manager.enable({ rule: 'r-a', sampleEvery: 1_000_000, snapLength: 2048, recordLimit: 100_000, timeLimitMs: 3_600_000 });
      expect(traced).to.include({ sampleEvery: 1_000_000, snapLength: 2048, recordLimit: 100_000, timeLimitMs: 3_600_000 });
    });

    for (const [field, key, max] of [
      ['sample_every', 'sampleEvery', 1_000_000],
      ['snap_length', 'snapLength', 2048],
      ['record_limit', 'recordLimit', 100_000],
      ['time_limit_ms', 'timeLimitMs', 3_600_000],
    ] as const) {
      it(`refuses ${field} above ${max} with INVALID_ARGUMENT naming it`, async () => {
        const { manager } = make(rule('r-a'));
        const err = await apiError(manager.enable({ rule: 'r-a', sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 0, [key]: max + 1 }));
        expect(err.code).to.equal(status.INVALID_ARGUMENT);
        expect(err.field).to.equal(field);
        expect(err.message).to.match(new RegExp(`^${field}: must be 1-${max} \\(0 means \\d+\\), got ${max + 1}$`));
        expect(manager.traceOf('r-a')).to.equal(undefined);
      });
    }

    it('finds the rule by name, and answers INVALID_ARGUMENT for no rule and NOT_FOUND for an unknown one', async () => {
      const { manager } = make(rule('r-a', '239.1.1.1', 'camera'));
      expect((await manager.enable({ rule: 'camera', sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 0 })).ruleId).to.equal('r-a');
      const empty = await apiError(manager.enable({ rule: '', sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 0 }));
      expect([empty.code, empty.field]).to.deep.equal([status.INVALID_ARGUMENT, 'rule']);
      const unknown = await apiError(manager.enable({ rule: 'nope', sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 0 }));
      expect([unknown.code, unknown.field]).to.deep.equal([status.NOT_FOUND, 'rule']);
    });

    it(`traces at most ${MAX_TRACED_RULES} rules at once (RESOURCE_EXHAUSTED), counting running traces only`, async () => {
      const rules = Array.from({ length: MAX_TRACED_RULES + 1 }, (_, i) => rule(`r-${i}`, `239.1.1.${i + 1}`));
      const { manager } = make(...rules);
      const enable = (id: string) => manager.enable({ rule: id, sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 0 });
      for (let i = 0; i < MAX_TRACED_RULES; i++) await enable(`r-${i}`);
      const err = await apiError(enable(`r-${MAX_TRACED_RULES}`));
      expect(err.code).to.equal(status.RESOURCE_EXHAUSTED);
      expect(err.message).to.include(`${MAX_TRACED_RULES} rules are traced already`);
      await enable('r-0'); // changing a running trace is not one more
      await manager.disable('r-1');
      expect((await enable(`r-${MAX_TRACED_RULES}`)).state).to.equal(TraceState.TRACE_STATE_RUNNING);
    });

    it('restarts a running trace afresh when enabled again: new settings, its records dropped', async () => {
      const { manager } = make(rule('r-a'));
      await manager.enable({ rule: 'r-a', sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 0 });
      manager.ingest(0, packets('r-a', 3), 0, new FakeHandles());
      expect(manager.get('r-a').records).to.have.length(3);
      const again = await manager.enable({ rule: 'r-a', sampleEvery: 10, snapLength: 64, recordLimit: 0, timeLimitMs: 0 });
      expect(again).to.include({ state: TraceState.TRACE_STATE_RUNNING, sampleEvery: 10, snapLength: 64 });
      expect(again.records).to.equal(0n);
      expect(manager.get('r-a').records).to.deep.equal([]);
      expect(manager.traceOf('r-a')).to.deep.equal({ sampleEvery: 10, snapLength: 64 });
    });
  });

  describe('switching off', () => {
    it('DisableTrace stops it, keeps its records readable and has the data plane stop tracing', async () => {
      const { manager, applies } = make(rule('r-a'));
      await manager.enable({ rule: 'r-a', sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 0 });
      manager.ingest(0, packets('r-a', 4), 0, new FakeHandles());
      const stopped = await manager.disable('r-a');
      expect(stopped.state).to.equal(TraceState.TRACE_STATE_STOPPED);
      expect(stopped.records).to.equal(4n);
      expect(stopped.stoppedUnixNanos > 0n).to.equal(true);
      expect(manager.traceOf('r-a')).to.equal(undefined);
      expect(applies()).to.equal(2);
      manager.ingest(0, packets('r-a', 2), 0, new FakeHandles()); // in flight when it stopped
      const { status: after, records } = manager.get('r-a');
      expect([after!.state, records.length]).to.deep.equal([TraceState.TRACE_STATE_STOPPED, 4]);
      expect((await manager.disable('r-a')).stoppedUnixNanos, 'disabling again changes nothing').to.equal(stopped.stoppedUnixNanos);
      expect(manager.list().map((s) => [s.ruleId, s.state])).to.deep.equal([['r-a', TraceState.TRACE_STATE_STOPPED]]);
    });

    it('DisableTrace and GetTrace answer NOT_FOUND for a rule never traced', async () => {
      const { manager } = make(rule('r-a'));
      for (const call of [() => manager.disable('r-a'), () => manager.get('r-a'), () => manager.get('nope')]) {
        const err = await apiError(call);
        expect([err.code, err.field]).to.deep.equal([status.NOT_FOUND, 'rule']);
      }
    });

    it('switches itself off at its record limit, keeping exactly that many records', async () => {
      const { manager, applies } = make(rule('r-a'));
      const sink = new FakeSink();
      manager.subscribe(sink, []);
      await manager.enable({ rule: 'r-a', sampleEvery: 0, snapLength: 0, recordLimit: 5, timeLimitMs: 0 });
      manager.ingest(0, packets('r-a', 3), 0, new FakeHandles());
      manager.ingest(0, packets('r-a', 4), 0, new FakeHandles());
      const { status: done, records } = manager.get('r-a');
      expect(done!.state).to.equal(TraceState.TRACE_STATE_RECORD_LIMIT);
      expect([done!.records, records.length]).to.deep.equal([5n, 5]);
      expect(manager.traceOf('r-a')).to.equal(undefined);
      expect(applies()).to.equal(2);
      expect(sink.records).to.have.length(5);
      // The status changes frame the records: enabled first, the limit after the last record.
      const kinds = sink.events.map((e) => (e.status ? TraceState[e.status.state] : `${e.records.length} records`));
      expect(kinds).to.deep.equal(['TRACE_STATE_RUNNING', '3 records', '2 records', 'TRACE_STATE_RECORD_LIMIT']);
    });

    it('switches itself off at its time limit', async () => {
      const { manager, applies } = make(rule('r-a'));
      const sink = new FakeSink();
      manager.subscribe(sink, ['r-a']);
      const started = await manager.enable({ rule: 'r-a', sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 40 });
      await sleep(20);
      expect(manager.get('r-a').status!.state).to.equal(TraceState.TRACE_STATE_RUNNING);
      await sleep(80);
      const done = manager.get('r-a').status!;
      expect(done.state).to.equal(TraceState.TRACE_STATE_TIME_LIMIT);
      const ranMs = Number(done.stoppedUnixNanos - started.startedUnixNanos) / 1e6;
      expect(ranMs).to.be.within(35, 100);
      expect(manager.traceOf('r-a')).to.equal(undefined);
      expect(applies()).to.equal(2);
      expect(sink.states).to.deep.equal([TraceState.TRACE_STATE_RUNNING, TraceState.TRACE_STATE_TIME_LIMIT]);
    });

    it('ends with RULE_GONE when its rule is deleted (records dropped) or matches otherwise (records kept)', async () => {
      const { manager, rules } = make(rule('r-a'), rule('r-b', '239.1.1.2'));
      const sink = new FakeSink();
      manager.subscribe(sink, []);
      for (const id of ['r-a', 'r-b']) await manager.enable({ rule: id, sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 0 });
      manager.ingest(0, [...packets('r-a', 2), ...packets('r-b', 2)], 0, new FakeHandles());

      // Outputs changed, same match: still the same flow, still traced.
      rules.set('r-a', { ...rule('r-a'), outputs: [rule('r-a').outputs[0]] });
      manager.ruleChanged('r-a');
      expect(manager.traceOf('r-a')).to.not.equal(undefined);

      rules.set('r-a', rule('r-a', '239.7.7.7'));
      manager.ruleChanged('r-a');
      expect(manager.get('r-a').status!.state).to.equal(TraceState.TRACE_STATE_RULE_GONE);
      expect(manager.get('r-a').records).to.have.length(2);
      expect(manager.traceOf('r-a')).to.equal(undefined);

      rules.delete('r-b');
      manager.ruleChanged('r-b');
      expect((await apiError(() => manager.get('r-b'))).code).to.equal(status.NOT_FOUND);
      expect(manager.traceOf('r-b')).to.equal(undefined);
      expect(sink.events.filter((e) => e.status?.state === TraceState.TRACE_STATE_RULE_GONE).map((e) => e.status!.ruleId)).to.deep.equal(['r-a', 'r-b']);
    });
  });

  describe('records', () => {
    it('keeps only records of running traces and counts data-plane loss against the traces of that worker', async () => {
      const { manager } = make(rule('r-a'), rule('r-b', '239.1.1.2'));
      await manager.enable({ rule: 'r-a', sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 0 });
      await manager.enable({ rule: 'r-b', sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 0 });
      manager.ingest(1, [...packets('r-a', 2), ...packets('r-untraced', 3)], 7, new FakeHandles(new Set(['r-a'])));
      expect(manager.get('r-a').status).to.include({ records: 2n, recordsLost: 7n });
      expect(manager.get('r-b').status).to.include({ records: 0n, recordsLost: 0n });
      expect(manager.get('r-a').records.map((r) => r.worker)).to.deep.equal([1, 1]);
    });

    it('keeps at most what one GetTrace answer can carry, the newest records', async () => {
      const { manager } = make(rule('r-a'));
      await manager.enable({ rule: 'r-a', sampleEvery: 0, snapLength: 2048, recordLimit: 100_000, timeLimitMs: 0 });
      const frame = Buffer.alloc(2048, 1);
      const count = 3000; // 3000 records of 2 kB: more than 4 MiB
      manager.ingest(0, Array.from({ length: count }, (_, i) => packet('r-a', { frame, timestampNs: BigInt(i) })), 0, new FakeHandles());
      const answer = manager.get('r-a');
      const bytes = GetTraceResponse.encode(answer).finish().length;
      expect(bytes, 'encoded GetTrace answer').to.be.below(4 << 20);
      expect(answer.records.length).to.be.within(1000, count - 1);
      expect(answer.records.at(-1)!.timestampUnixNanos, 'the newest record is kept').to.equal(BigInt(count - 1));
      expect(answer.status!.records, 'every record counts').to.equal(BigInt(count));
    });

    it('record buffer: evicts oldest first beyond its byte budget, in order', () => {
      const handles = new FakeHandles();
      const one = toTraceRecord(packet('r-a'), 0, handles);
      const buffer = new RecordBuffer(encodedSizeBound(one) * 3);
      for (let i = 0; i < 10; i++) buffer.push({ ...one, timestampUnixNanos: BigInt(i) });
      expect(buffer.list().map((r) => Number(r.timestampUnixNanos))).to.deep.equal([7, 8, 9]);
      expect([buffer.length, buffer.evicted]).to.deep.equal([3, 7]);
    });
  });

  describe('conversion to TraceRecord', () => {
    it('names interfaces and outputs, and gives per-output results with errno names', () => {
      const record = toTraceRecord(packet('r-a'), 1, new FakeHandles());
      expect(record).to.deep.include({
        timestampUnixNanos: 1_700_000_000_123_456_789n,
        ruleId: 'r-a',
        worker: 1,
        inputInterface: 'in0',
        sourceAddress: '10.1.0.2',
        sourcePort: 40000,
        destinationAddress: '239.1.1.1',
        destinationPort: 5000,
        ipLength: 128,
        ttl: 1,
        dscp: 46,
        vlan: 100,
        protocol: IpProtocol.IP_PROTOCOL_UDP,
        verdict: Verdict.VERDICT_FORWARDED,
        dropReason: '',
        timeInMcrNanos: 12_345n,
        frameLength: 142,
      });
      expect(record.frame.equals(Buffer.alloc(128, 0xab))).to.equal(true);
      expect(record.outputs).to.deep.equal([
        { index: 0, interface: 'out1', address: '239.9.9.9', port: 6000, result: OutputResult.OUTPUT_RESULT_SENT, error: '', ttl: 63, dscp: 46, ecn: 1, fragmented: false, segments: 1 },
        { index: 1, interface: 'out2', address: '10.4.0.2', port: 9999, result: OutputResult.OUTPUT_RESULT_UNREACHABLE, error: 'ECONNREFUSED', ttl: 64, dscp: 0, ecn: 0, fragmented: false, segments: 0 },
      ]);
    });

    it('says an ESP packet is ESP', () => {
      const record = toTraceRecord(packet('r-a', { protocol: 50, sourcePort: 0, destinationPort: 0 }), 1, new FakeHandles());
      expect(record).to.deep.include({ protocol: IpProtocol.IP_PROTOCOL_ESP, sourcePort: 0, destinationPort: 0 });
    });

    it('says when a packet was not sent because its TTL expired, on one output or on all', () => {
      const expired = { handle: 11, errno: SEND_TTL_EXPIRED, ttl: 0, tos: 0, segments: 0, fragmented: false };
      const one = toTraceRecord(packet('r-a', { sends: [{ handle: 10, errno: 0, ttl: 1, tos: 0, segments: 1, fragmented: false }, expired] }), 0, new FakeHandles());
      expect([one.verdict, one.outputs[1].result, one.outputs[1].error]).to.deep.equal([Verdict.VERDICT_FORWARDED, OutputResult.OUTPUT_RESULT_TTL_EXPIRED, '']);
      const all = toTraceRecord(packet('r-a', { sends: [{ ...expired, handle: 10 }, expired] }), 0, new FakeHandles());
      expect([all.verdict, all.dropReason]).to.deep.equal([Verdict.VERDICT_DROPPED, DROP_TTL_EXPIRED]);
    });

    it('says when a packet was too big for an output that does not fragment, and how the others sent it', () => {
      const tooBig = { handle: 11, errno: E.EMSGSIZE, ttl: 64, tos: 0, segments: 0, fragmented: false };
      const one = toTraceRecord(packet('r-a', { sends: [{ handle: 10, errno: 0, ttl: 64, tos: 0, segments: 1, fragmented: true }, tooBig] }), 0, new FakeHandles());
      expect(one.outputs.map((o) => [o.result, o.error, o.fragmented, o.segments])).to.deep.equal([
        [OutputResult.OUTPUT_RESULT_SENT, '', true, 1],
        [OutputResult.OUTPUT_RESULT_TOO_BIG, 'EMSGSIZE', false, 0],
      ]);
      const all = toTraceRecord(packet('r-a', { sends: [{ ...tooBig, handle: 10 }, tooBig] }), 0, new FakeHandles());
      expect([all.verdict, all.dropReason]).to.deep.equal([Verdict.VERDICT_DROPPED, DROP_TOO_BIG]);
      const batched = toTraceRecord(packet('r-a', { sends: [{ handle: 10, errno: 0, ttl: 64, tos: 0, segments: 12, fragmented: false }] }), 0, new FakeHandles());
      expect(batched.outputs[0].segments).to.equal(12);
    });

    it('drops: no output accepted it, or there was no usable output', () => {
      const refused = toTraceRecord(packet('r-a', { sends: [{ handle: 10, errno: E.EAGAIN, ttl: 64, tos: 0, segments: 0, fragmented: false }, { handle: 11, errno: E.EPERM, ttl: 64, tos: 0, segments: 0, fragmented: false }] }), 0, new FakeHandles());
      expect([refused.verdict, refused.dropReason]).to.deep.equal([Verdict.VERDICT_DROPPED, DROP_NOT_ACCEPTED]);
      expect(refused.outputs.map((o) => [o.result, o.error])).to.deep.equal([
        [OutputResult.OUTPUT_RESULT_WOULD_BLOCK, 'EAGAIN'],
        [OutputResult.OUTPUT_RESULT_ERROR, 'EPERM'],
      ]);
      const none = toTraceRecord(packet('r-a', { sends: [] }), 0, new FakeHandles());
      expect([none.verdict, none.dropReason, none.outputs]).to.deep.equal([Verdict.VERDICT_DROPPED, DROP_NO_OUTPUT, []]);
    });

    it('an output handle the supervisor no longer knows keeps its position, unnamed', () => {
      const record = toTraceRecord(packet('r-a', { sends: [{ handle: 99, errno: 0, ttl: 64, tos: 0, segments: 1, fragmented: false }, { handle: 11, errno: 0, ttl: 64, tos: 0, segments: 1, fragmented: false }] }), 0, new FakeHandles());
      expect(record.outputs.map((o) => [o.index, o.interface, o.port])).to.deep.equal([
        [0, '', 0],
        [1, 'out2', 9999],
      ]);
    });

    it('classifies errno values like the output counters', () => {
      const cases: Array<[number, OutputResult]> = [
        [0, OutputResult.OUTPUT_RESULT_SENT],
        [E.EAGAIN, OutputResult.OUTPUT_RESULT_WOULD_BLOCK],
        [E.ENOBUFS, OutputResult.OUTPUT_RESULT_WOULD_BLOCK],
        [E.ECONNREFUSED, OutputResult.OUTPUT_RESULT_UNREACHABLE],
        [E.EHOSTUNREACH, OutputResult.OUTPUT_RESULT_UNREACHABLE],
        [E.ENETUNREACH, OutputResult.OUTPUT_RESULT_UNREACHABLE],
        [EHOSTDOWN, OutputResult.OUTPUT_RESULT_UNREACHABLE],
        [E.ENETDOWN, OutputResult.OUTPUT_RESULT_UNREACHABLE],
        [E.EMSGSIZE, OutputResult.OUTPUT_RESULT_TOO_BIG],
        [E.EPERM, OutputResult.OUTPUT_RESULT_ERROR],
      ];
      expect(cases.map(([errno]) => outputResult(errno))).to.deep.equal(cases.map(([, result]) => result));
      expect([errnoName(E.EAGAIN), errnoName(E.EMSGSIZE), errnoName(EHOSTDOWN), errnoName(99999)]).to.deep.equal(['EAGAIN', 'EMSGSIZE', 'EHOSTDOWN', 'errno 99999']);
    });

    it('names handles from what a worker has installed and the rule definition', () => {
      const r = rule('r-a');
      const sync = {
        snapshot: { rules: new Map([['r-a', { outputs: [{ index: 1, handle: 21, key: 'key-out2' }] }]]) },
        captureInterface: (handle: number) => (handle === 3 ? 'in0' : undefined),
      } as unknown as WorkerSync;
      const handles = new WorkerHandles(sync, (ref) => (ref === 'r-a' ? r : undefined));
      expect(handles.inputInterface(3)).to.equal('in0');
      expect(handles.inputInterface(4)).to.equal(undefined);
      expect(handles.output('r-a', 21)).to.deep.equal({ index: 1, interface: 'out2', address: '10.4.0.2', port: 9999 });
      expect(handles.output('r-a', 20)).to.equal(undefined);
      expect([handles.owns('r-a'), handles.owns('r-b')]).to.deep.equal([true, false]);
    });

    it('a traced packet survives the worker channel unchanged', () => {
      const original = packet('r-a');
      const wire = JSON.parse(JSON.stringify(tracedPacketToWire(original)));
      expect(tracedPacketFromWire(wire)).to.deep.equal(original);
    });
  });

  describe('WatchTraces subscribers', () => {
    it('a subscriber that stops reading loses records beyond its queue, is told how many, and holds no one up', async () => {
      const { manager } = make(rule('r-a'));
      await manager.enable({ rule: 'r-a', sampleEvery: 0, snapLength: 0, recordLimit: 100_000, timeLimitMs: 0 });
      const fast = new FakeSink();
      const slow = new FakeSink(1); // full after its first write
      manager.subscribe(fast, []);
      manager.subscribe(slow, []);
      const sent = 3000;
      for (let i = 0; i < sent / 100; i++) manager.ingest(0, packets('r-a', 100), 0, new FakeHandles());

      expect(fast.records, 'the subscriber keeping up got everything').to.have.length(sent);
      expect(fast.lost).to.equal(0n);
      expect(fast.events.every((e) => e.records.length <= RECORDS_PER_EVENT)).to.equal(true);

      const before = slow.records.length; // what it took before it stopped reading
      slow.drain();
      const afterDrain = slow.records.length - before;
      expect(afterDrain, 'records waiting for the slow subscriber').to.equal(QUEUE_RECORDS);
      expect(Number(slow.lost), 'records it lost').to.equal(sent - before - QUEUE_RECORDS);
      const firstAfter = slow.events.findIndex((e, i) => i > 0 && e.records.length > 0);
      expect(slow.events[firstAfter].lost, 'the first event after the pause carries the loss').to.equal(slow.lost);

      manager.ingest(0, packets('r-a', 10), 0, new FakeHandles());
      expect(slow.events.at(-1)!.lost, 'counted once').to.equal(0n);
      expect(slow.records.length - before).to.equal(QUEUE_RECORDS + 10);
    });

    it('a subscriber stalled before any record arrives keeps its queue and counts the rest', async () => {
      const { manager } = make(rule('r-a'));
      const slow = new FakeSink(1);
      manager.subscribe(slow, []);
      await manager.enable({ rule: 'r-a', sampleEvery: 0, snapLength: 0, recordLimit: 100_000, timeLimitMs: 0 }); // its status fills the stream
      manager.ingest(0, packets('r-a', QUEUE_RECORDS + 5), 0, new FakeHandles());
      expect(slow.events.map((e) => e.status?.state)).to.deep.equal([TraceState.TRACE_STATE_RUNNING]);
      slow.drain();
      expect(slow.records).to.have.length(QUEUE_RECORDS);
      expect(slow.lost).to.equal(5n);
      expect(slow.events[1].lost, 'on the first event after the pause').to.equal(5n);
    });

    it('sends only the rules asked for (by id or name), and nothing after unsubscribing', async () => {
      const { manager } = make(rule('r-a', '239.1.1.1', 'camera'), rule('r-b', '239.1.1.2'));
      for (const id of ['r-a', 'r-b']) await manager.enable({ rule: id, sampleEvery: 0, snapLength: 0, recordLimit: 0, timeLimitMs: 0 });
      const sink = new FakeSink();
      const unsubscribe = manager.subscribe(sink, ['camera']);
      manager.ingest(0, [...packets('r-a', 2), ...packets('r-b', 3)], 0, new FakeHandles());
      await manager.disable('r-b');
      expect(sink.records.map((r) => r.ruleId)).to.deep.equal(['r-a', 'r-a']);
      expect(sink.states, 'status changes of other rules are not sent').to.deep.equal([]);
      unsubscribe();
      manager.ingest(0, packets('r-a', 2), 0, new FakeHandles());
      expect(sink.records).to.have.length(2);
    });

    it('refuses unknown rules (NOT_FOUND naming the entry) and more than the subscriber limit', async () => {
      const { manager } = make(rule('r-a'));
      const unknown = await apiError(() => manager.subscribe(new FakeSink(), ['r-a', 'nope']));
      expect([unknown.code, unknown.field]).to.deep.equal([status.NOT_FOUND, 'rules[1]']);
      for (let i = 0; i < MAX_SUBSCRIBERS; i++) manager.subscribe(new FakeSink(), []);
      const full = await apiError(() => manager.subscribe(new FakeSink(), []));
      expect([full.code, full.message]).to.deep.equal([status.RESOURCE_EXHAUSTED, `${MAX_SUBSCRIBERS} trace watchers are open (the limit, --max-trace-watchers)`]);
    });

    it('close() ends every stream', () => {
      const { manager } = make(rule('r-a'));
      const sinks = [new FakeSink(), new FakeSink()];
      for (const sink of sinks) manager.subscribe(sink, []);
      manager.close();
      expect(sinks.map((s) => s.ended)).to.deep.equal([true, true]);
    });
  });

  describe('data-plane rules', () => {
    it('the forwarding plan carries the trace settings of traced rules only', () => {
      const iface = (name: string, index: number) => ({ name, index, up: true, running: true, mtu: 1500, mac: '', addresses: [] });
      const interfaces = new Map([['in0', iface('in0', 2)], ['out1', iface('out1', 3)], ['out2', iface('out2', 4)]]);
      const plan = planForwarding([rule('r-a'), rule('r-b', '239.1.1.2')], 1, interfaces, (id) => (id === 'r-a' ? { sampleEvery: 10, snapLength: 64 } : undefined));
      const [a, b] = [...plan.workers[0].rules.values()];
      expect(a.trace).to.deep.equal({ sampleEvery: 10, snapLength: 64 });
      expect(b).to.not.have.property('trace');
    });

    it('the ruleset hash covers trace settings and is unchanged for untraced rules', () => {
      const base: CanonicalRule = { id: 'r-a', input: 'in0', group: '239.1.1.1', port: 5000, source: '', outputs: [canonicalOutput({ interface: 'out1', address: '239.9.9.9', port: 6000, ttl: 1, tos: 0, keepTos: 0, decrementTtl: false, dontFragment: false })] };
      const hash = rulesetHash([base]);
      expect(rulesetHash([{ ...base, trace: undefined }])).to.equal(hash);
      const traced = rulesetHash([{ ...base, trace: { sampleEvery: 1, snapLength: 128 } }]);
      expect(traced).to.not.equal(hash);
      expect(rulesetHash([{ ...base, trace: { sampleEvery: 2, snapLength: 128 } }])).to.not.equal(traced);
    });
  });
});
