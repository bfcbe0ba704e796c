/**
 * mcrctl's trace commands end to end, in process: argv -> main() -> gRPC over a unix socket -> a small
 * in-memory RuleService (GetRule) and TraceService written here -> output, notes and exit code.
 * The fake plays a scripted WatchTraces stream once EnableTrace arrives; mcrd's real tracing is
 * tested in test/e2e.
 */
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { Rule, RuleServiceServer, RuleServiceService } from '../../gen/mcr/v1/rules';
import {
  DisableTraceRequest,
  EnableTraceRequest,
  OutputResult,
  TraceRecord,
  TraceServiceServer,
  TraceServiceService,
  TraceState,
  TraceStatus,
  Verdict,
  WatchTracesRequest,
  WatchTracesResponse,
} from '../../gen/mcr/v1/trace';
import { CliIo } from '../../clients/mcrctl/io';
import { main } from '../../clients/mcrctl/main';
import { frame } from '../support/frames';
import { optionText, readCapture } from '../support/pcapng-reader';

const RULE_ID = 'r-000000000001';
/** When the fake's traces start: 2024-01-02T03:04:05Z. */
const STARTED = BigInt(Date.UTC(2024, 0, 2, 3, 4, 5)) * 1_000_000n;
const fail = (code: grpc.status, details: string): Partial<grpc.StatusObject> => ({ code, details });

/** The n-th record of the traced rule: a real frame from 10.1.0.2 to 239.1.2.3:5000, forwarded. */
function record(n: number, ruleId = RULE_ID): TraceRecord {
  const bytes = frame({ source: '10.1.0.2', group: '239.1.2.3', port: 5000, sourcePort: 40000 + n, payload: Buffer.alloc(16 + n, n) });
  return TraceRecord.fromPartial({
    timestampUnixNanos: STARTED + BigInt(n) * 1_000_000n,
    ruleId,
    worker: 0,
    inputInterface: 'eth0',
    sourceAddress: '10.1.0.2',
    sourcePort: 40000 + n,
    destinationAddress: '239.1.2.3',
    destinationPort: 5000,
    ipLength: bytes.length - 14,
    ttl: 64,
    dscp: 0,
    verdict: Verdict.VERDICT_FORWARDED,
    outputs: [
      { index: 0, interface: 'eth1', address: '239.9.9.9', port: 6000, result: OutputResult.OUTPUT_RESULT_SENT },
      { index: 1, interface: 'wg0', address: '10.0.0.9', port: 7000, result: OutputResult.OUTPUT_RESULT_UNREACHABLE, error: 'ECONNREFUSED' },
    ],
    timeInMcrNanos: 12_000n,
    frameLength: bytes.length,
    frame: bytes,
  });
}

/** In-memory rules and traces behind the generated service interfaces, recording every request. */
class FakeMcrd {
  readonly rules = new Map<string, Rule>([
    [RULE_ID, Rule.fromPartial({ id: RULE_ID, name: 'cam1', input: { interface: 'eth0', group: '239.1.2.3', port: 5000 } })],
  ]);
  enables: EnableTraceRequest[] = [];
  disables: DisableTraceRequest[] = [];
  watches: WatchTracesRequest[] = [];
  getTraces: string[] = [];
  watchCancels = 0;
  /** What WatchTraces sends after EnableTrace, one event every 10 ms; the stream stays open after it. */
  script: WatchTracesResponse[] = [];
  /** Replaces the EnableTrace answer. */
  enableFailure?: Partial<grpc.StatusObject>;
  /** Ends WatchTraces with this error after the script. */
  watchFailure?: Partial<grpc.StatusObject>;
  /** The records GetTrace answers with. */
  buffered: TraceRecord[] = [];
  private readonly players: Array<() => void> = [];

  reset(): void {
    this.enables = [];
    this.disables = [];
    this.watches = [];
    this.getTraces = [];
    this.watchCancels = 0;
    this.script = [];
    this.enableFailure = undefined;
    this.watchFailure = undefined;
    this.buffered = [];
    this.players.length = 0;
  }

  status(overrides: Partial<TraceStatus> = {}): TraceStatus {
    return TraceStatus.fromPartial({
      ruleId: RULE_ID,
      state: TraceState.TRACE_STATE_RUNNING,
      sampleEvery: 1,
      snapLength: 128,
      recordLimit: 1000,
      timeLimitMs: 60_000,
      startedUnixNanos: STARTED,
      ...overrides,
    });
  }

  private find(ref: string): Rule | undefined {
    return this.rules.get(ref) ?? [...this.rules.values()].find((r) => r.name === ref);
  }

  readonly ruleService: Pick<RuleServiceServer, 'getRule'> = {
    getRule: (call, reply) => {
      const rule = this.find(call.request.rule);
      if (!rule) return reply(fail(grpc.status.NOT_FOUND, `rule "${call.request.rule}" does not exist`));
      reply(null, { rule });
    },
  };

  readonly traceService: TraceServiceServer = {
    enableTrace: (call, reply) => {
      this.enables.push(call.request);
      if (this.enableFailure) return reply(this.enableFailure);
      if (!this.rules.has(call.request.rule)) return reply(fail(grpc.status.NOT_FOUND, `no rule with id "${call.request.rule}"`));
      const r = call.request;
      reply(null, { status: this.status({ sampleEvery: r.sampleEvery || 1, snapLength: r.snapLength || 128, recordLimit: r.recordLimit || 1000, timeLimitMs: r.timeLimitMs || 60_000 }) });
      for (const play of this.players.splice(0)) play();
    },
    disableTrace: (call, reply) => {
      this.disables.push(call.request);
      if (call.request.rule !== RULE_ID) return reply(fail(grpc.status.NOT_FOUND, `rule "${call.request.rule}" was never traced`));
      reply(null, { status: this.status({ state: TraceState.TRACE_STATE_STOPPED, stoppedUnixNanos: STARTED + 1_000_000_000n, records: 7n }) });
    },
    getTrace: (call, reply) => {
      this.getTraces.push(call.request.rule);
      if (call.request.rule !== RULE_ID && call.request.rule !== 'r-gone') return reply(fail(grpc.status.NOT_FOUND, `no trace of "${call.request.rule}"`));
      const state = call.request.rule === 'r-gone' ? TraceState.TRACE_STATE_RULE_GONE : TraceState.TRACE_STATE_RECORD_LIMIT;
      reply(null, { status: this.status({ ruleId: call.request.rule, state, records: BigInt(this.buffered.length) }), records: this.buffered });
    },
    listTraces: (_call, reply) =>
      reply(null, { traces: [this.status({ records: 12n }), this.status({ ruleId: 'r-gone', state: TraceState.TRACE_STATE_RULE_GONE, stoppedUnixNanos: STARTED })], nextPageToken: '' }),
    /** Plays the script once EnableTrace arrives (the client subscribes first). */
    watchTraces: (call) => {
      this.watches.push(call.request);
      const timers: NodeJS.Timeout[] = [];
      call.on('cancelled', () => {
        this.watchCancels++;
        timers.forEach(clearTimeout);
      });
      this.players.push(() => {
        this.script.forEach((event, i) => timers.push(setTimeout(() => call.write(event), 10 * (i + 1))));
        if (this.watchFailure) timers.push(setTimeout(() => call.emit('error', this.watchFailure), 10 * (this.script.length + 1)));
      });
    },
  };
}

describe('mcrctl trace against an in-process gRPC server', () => {
  let dir: string;
  let socket: string;
  let server: grpc.Server;
  const mcrd = new FakeMcrd();

  interface Run {
    code: number;
    out: string;
    bytes: Buffer;
    err: string;
  }

  /**
   * Runs mcrctl with MCR_SOCKET pointing at the fake; with `interruptAfter`, plays Ctrl-C once stdout
   * was written that many times (or after 5 s).
   */
  async function mcrctl(args: string[], interruptAfter?: number): Promise<Run> {
    const result = { code: -1, out: '', bytes: Buffer.alloc(0), err: '' };
    let writes = 0;
    let interrupt: (() => void) | undefined;
    const counted = () => {
      if (++writes === interruptAfter) interrupt?.();
    };
    const io: CliIo = {
      stdout: (t) => {
        result.out += t;
        counted();
      },
      stdoutBytes: (b) => {
        result.bytes = Buffer.concat([result.bytes, b]);
        counted();
      },
      stderr: (t) => void (result.err += t),
      env: { MCR_SOCKET: socket },
      isTTY: false,
      onInterrupt: (handler) => {
        interrupt = handler;
        return () => (interrupt = undefined);
      },
    };
    const guard = setTimeout(() => interrupt?.(), 5000);
    try {
      result.code = await main(args, io);
    } finally {
      clearTimeout(guard);
    }
    return result;
  }

  /** Waits (bounded) until the fake has seen `n` WatchTraces cancellations. */
  async function cancelsReach(n: number): Promise<void> {
    for (let i = 0; i < 100 && mcrd.watchCancels < n; i++) await new Promise((r) => setTimeout(r, 10));
    expect(mcrd.watchCancels, 'streams cancelled').to.equal(n);
  }

  const started = () => WatchTracesResponse.fromPartial({ status: mcrd.status() });
  const ended = (records: bigint, extra: Partial<TraceStatus> = {}) =>
    WatchTracesResponse.fromPartial({ status: mcrd.status({ state: TraceState.TRACE_STATE_RECORD_LIMIT, records, recordLimit: 3, stoppedUnixNanos: STARTED + 5n, ...extra }) });
  /** Three records of the rule in two events (the second reporting 2 lost), then the record limit. */
  const threeRecords = () => [
    started(),
    WatchTracesResponse.fromPartial({ records: [record(1), record(2)] }),
    WatchTracesResponse.fromPartial({ records: [record(3)], lost: 2n }),
    ended(5n),
  ];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcrctl-trace-'));
    socket = path.join(dir, 'mcr.sock');
    server = new grpc.Server();
    server.addService(RuleServiceService, mcrd.ruleService);
    server.addService(TraceServiceService, mcrd.traceService);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
  });

  after(() => {
    server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => mcrd.reset());

  describe('trace RULE', () => {
    it('subscribes, enables with the settings given, prints one line per record and exits 0 when the trace switches itself off', async () => {
      // Ignored: a status about an earlier trace of the rule, and a record of another rule.
      mcrd.script = [
        WatchTracesResponse.fromPartial({ status: mcrd.status({ state: TraceState.TRACE_STATE_STOPPED, startedUnixNanos: STARTED - 1n }) }),
        WatchTracesResponse.fromPartial({ records: [record(9, 'r-00000000000f')] }),
        ...threeRecords(),
      ];
      const { code, out, err } = await mcrctl(['trace', 'cam1', '--limit', '3', '--sample', '2']);
      expect(code, err).to.equal(0);
      expect(mcrd.watches).to.deep.equal([{ rules: [RULE_ID] }]);
      expect(mcrd.enables).to.deep.equal([{ rule: RULE_ID, sampleEvery: 2, snapLength: 0, recordLimit: 3, timeLimitMs: 0 }]);
      expect(mcrd.disables, 'a trace that ended by itself is not disabled').to.deep.equal([]);
      const lines = out.split('\n');
      expect(lines).to.have.length(4);
      expect(lines[3]).to.equal('');
      lines.slice(0, 3).forEach((line, i) =>
        expect(line).to.match(
          new RegExp(
            `^\\d\\d:\\d\\d:\\d\\d\\.00${i + 1}000  10\\.1\\.0\\.2:4000${i + 1} -> 239\\.1\\.2\\.3:5000  ttl 64  dscp 0  len ${45 + i}  ` +
              'forwarded: out0 eth1 239\\.9\\.9\\.9:6000 sent; out1 wg0 10\\.0\\.0\\.9:7000 unreachable ECONNREFUSED  12\\.0 us in mcr$',
          ),
        ),
      );
      expect(err).to.equal(
        [
          'Tracing rule r-000000000001 (cam1): 1 in 2 packets, first 128 bytes of each, until 3 records or 60 s. Ctrl-C stops it.',
          'note: 2 records dropped because this client read too slowly (2 in all)',
          'Trace of rule r-000000000001 (cam1) reached its record limit (3): 5 records.',
          '',
        ].join('\n'),
      );
      await cancelsReach(1);
    });

    it('--json prints one TraceRecord per line', async () => {
      mcrd.script = threeRecords();
      const { code, out } = await mcrctl(['--json', 'trace', RULE_ID]);
      expect(code).to.equal(0);
      const lines = out.trimEnd().split('\n');
      expect(lines.map((line) => TraceRecord.fromJSON(JSON.parse(line)))).to.deep.equal([record(1), record(2), record(3)]);
      expect(JSON.parse(lines[0])).to.deep.include({ ruleId: RULE_ID, sourceAddress: '10.1.0.2', verdict: 'VERDICT_FORWARDED', timestampUnixNanos: (STARTED + 1_000_000n).toString() });
    });

    it('-w FILE writes a pcapng capture: the trace\'s interface, one packet per record with its verdict', async () => {
      mcrd.script = threeRecords();
      const file = path.join(dir, 'cam1.pcapng');
      const { code, out, err } = await mcrctl(['trace', 'cam1', '--snap', '96', '-w', file]);
      expect(code, err).to.equal(0);
      expect(out).to.equal('');
      expect(mcrd.enables[0].snapLength).to.equal(96);
      const capture = readCapture(fs.readFileSync(file));
      expect(capture.iface).to.deep.include({ linkType: 1, snapLength: 96 });
      expect(optionText(capture.iface.options, 2)).to.equal('eth0');
      expect(optionText(capture.section.options, 4)).to.match(/^mcrctl \d+\.\d+\.\d+/);
      expect(capture.packets.map((p) => [p.timestamp, p.data, p.originalLength])).to.deep.equal([1, 2, 3].map((n) => [record(n).timestampUnixNanos, record(n).frame, record(n).frameLength]));
      expect(optionText(capture.packets[0].options, 1)).to.equal(
        `rule ${RULE_ID} forwarded: out0 eth1 239.9.9.9:6000 sent; out1 wg0 10.0.0.9:7000 unreachable ECONNREFUSED; 12.0 us in mcr`,
      );
    });

    it('--pcap streams the capture to stdout: the header at once, then a block per record', async () => {
      mcrd.script = threeRecords();
      const { code, out, bytes } = await mcrctl(['trace', 'cam1', '--pcap']);
      expect(code).to.equal(0);
      expect(out).to.equal('');
      expect(readCapture(bytes).packets).to.have.length(3);
    });

    it('Ctrl-C cancels the stream, disables the trace and exits 0', async () => {
      mcrd.script = [started(), WatchTracesResponse.fromPartial({ records: [record(1)] }), WatchTracesResponse.fromPartial({ records: [record(2)] })];
      const { code, out, err } = await mcrctl(['trace', 'cam1'], 2);
      expect(code, err).to.equal(0);
      expect(out.trimEnd().split('\n')).to.have.length(2);
      expect(mcrd.disables).to.deep.equal([{ rule: RULE_ID }]);
      expect(err).to.match(/\nTrace of rule r-000000000001 \(cam1\) was stopped: 7 records\.\n$/);
      await cancelsReach(1);
    });

    it('says when mcrd recorded more than this client received or was told it lost', async () => {
      mcrd.script = [started(), WatchTracesResponse.fromPartial({ records: [record(1)] }), ended(4n)];
      const { code, err } = await mcrctl(['trace', 'cam1']);
      expect(code).to.equal(0);
      expect(err).to.include("note: mcrd recorded 3 more record(s) than this client received; `mcrctl trace show cam1` shows those mcrd kept\n");
    });

    it('an unknown rule exits 1 before anything is enabled; a refused enable exits 1 and cancels the stream', async () => {
      const unknown = await mcrctl(['trace', 'cam9']);
      expect(unknown).to.deep.include({ code: 1, out: '', err: 'mcrctl: not found: rule "cam9" does not exist\n' });
      expect(mcrd.enables).to.deep.equal([]);
      expect(mcrd.watches).to.deep.equal([]);

      mcrd.enableFailure = fail(grpc.status.RESOURCE_EXHAUSTED, 'too many traces (limit 8)');
      const refused = await mcrctl(['trace', 'cam1']);
      expect(refused).to.deep.include({ code: 1, out: '', err: 'mcrctl: resource exhausted: too many traces (limit 8)\n' });
      await cancelsReach(1);
    });

    it('an error on the stream exits 1 with it, after the records before it; mcrd shutting down is said so', async () => {
      mcrd.script = [started(), WatchTracesResponse.fromPartial({ records: [record(1)] })];
      mcrd.watchFailure = fail(grpc.status.UNAVAILABLE, 'mcrd is shutting down');
      const { code, out, err } = await mcrctl(['trace', 'cam1']);
      expect(code).to.equal(1);
      expect(out.trimEnd().split('\n')).to.have.length(1);
      expect(err).to.match(/\nmcrctl: mcrd shut down\n$/);
      mcrd.watchFailure = fail(grpc.status.INTERNAL, 'trace ring broken');
      expect((await mcrctl(['trace', 'cam1'])).err).to.match(/\nmcrctl: internal: trace ring broken\n$/);
    });

    it('a capture file that cannot be created exits 1 before anything is enabled', async () => {
      const file = path.join(dir, 'no-such-dir', 'x.pcapng');
      const { code, err } = await mcrctl(['trace', 'cam1', '-w', file]);
      expect(code).to.equal(1);
      expect(err).to.equal(`mcrctl: cannot write the capture to ${file}: ENOENT: no such file or directory, open '${file}'\n`);
      expect(mcrd.enables).to.deep.equal([]);
    });

    it('exits 3 when mcrd cannot be reached', async () => {
      const missing = path.join(dir, 'absent.sock');
      const { code, err } = await mcrctl(['--socket', missing, 'trace', 'cam1']);
      expect(code).to.equal(3);
      expect(err).to.include(`cannot reach mcrd at unix:${missing} (no such socket)`);
    });
  });

  describe('trace list, show, stop', () => {
    it('list prints a row per trace, --json the response', async () => {
      const { code, out } = await mcrctl(['trace', 'list']);
      expect(code).to.equal(0);
      const rows = out.trimEnd().split('\n');
      expect(rows[0]).to.match(/^RULE +STATE +SAMPLE +SNAP +RECORDS +LOST +LIMITS +STARTED +STOPPED$/);
      expect(rows[1]).to.match(/^r-000000000001 +running +all +128 +12 +0 +1000 records or 60 s +2024-01-02T03:04:05\.000Z +-$/);
      expect(rows[2]).to.match(/^r-gone +rule-gone /);
      const json = JSON.parse((await mcrctl(['--json', 'trace', 'list'])).out);
      expect(json.traces[1]).to.deep.include({ ruleId: 'r-gone', state: 'TRACE_STATE_RULE_GONE' });
    });

    it('show prints the status and a line per buffered record; --json the response', async () => {
      mcrd.buffered = [record(1), record(2)];
      const { code, out } = await mcrctl(['trace', 'show', 'cam1']);
      expect(code).to.equal(0);
      expect(mcrd.getTraces).to.deep.equal([RULE_ID]);
      const [fields, lines] = out.split('\n\n');
      expect(fields).to.include('State:         record-limit\n');
      expect(lines.trimEnd().split('\n').map((l) => l.split('  ')[1])).to.deep.equal(['10.1.0.2:40001 -> 239.1.2.3:5000', '10.1.0.2:40002 -> 239.1.2.3:5000']);
      const json = JSON.parse((await mcrctl(['trace', 'show', 'cam1', '--json'])).out);
      expect(json.records).to.have.length(2);
      expect(json.status.state).to.equal('TRACE_STATE_RECORD_LIMIT');
    });

    it('show of a rule that is gone asks for the trace by the id given', async () => {
      const { code, out } = await mcrctl(['trace', 'show', 'r-gone']);
      expect(code).to.equal(0);
      expect(mcrd.getTraces).to.deep.equal(['r-gone']);
      expect(out).to.include('State:         rule-gone\n');
      expect(out).to.match(/\n\(no records\)\n$/);
      const missing = await mcrctl(['trace', 'show', 'cam9']);
      expect(missing).to.deep.include({ code: 1, err: 'mcrctl: not found: no trace of "cam9"\n' });
    });

    it('show -w FILE writes the buffered records as pcapng', async () => {
      mcrd.buffered = [record(1), record(2)];
      const file = path.join(dir, 'show.pcapng');
      const { code, out } = await mcrctl(['trace', 'show', 'cam1', '-w', file]);
      expect(code).to.equal(0);
      expect(out).to.equal('');
      expect(readCapture(fs.readFileSync(file)).packets.map((p) => p.data)).to.deep.equal([record(1).frame, record(2).frame]);
    });

    it('stop disables the trace and says how it ended', async () => {
      const { code, out } = await mcrctl(['trace', 'stop', 'cam1']);
      expect(code).to.equal(0);
      expect(mcrd.disables).to.deep.equal([{ rule: RULE_ID }]);
      expect(out).to.equal('Trace of rule r-000000000001 (cam1) was stopped: 7 records. `mcrctl trace show cam1` prints them.\n');
      const json = JSON.parse((await mcrctl(['--json', 'trace', 'stop', 'cam1'])).out);
      expect(json.status).to.deep.include({ ruleId: RULE_ID, state: 'TRACE_STATE_STOPPED', records: '7' });
      expect(await mcrctl(['trace', 'stop', 'r-nothing'])).to.deep.include({ code: 1, err: 'mcrctl: not found: rule "r-nothing" was never traced\n' });
    });
  });

  describe('as a process', function () {
    // Each case starts mcrctl under ts-node, which takes a second or two.
    this.timeout(30_000);

    it('SIGTERM disables the trace and exits 0', async () => {
      mcrd.script = [started(), WatchTracesResponse.fromPartial({ records: [record(1)] })];
      const mainTs = path.resolve(__dirname, '../../clients/mcrctl/main.ts');
      const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', mainTs, 'trace', 'cam1'], {
        env: { ...process.env, MCR_SOCKET: socket },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) child.kill('SIGTERM');
      });
      child.stderr!.on('data', (chunk: Buffer) => void (err += chunk.toString()));
      const guard = setTimeout(() => child.kill('SIGKILL'), 25_000);
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      clearTimeout(guard);
      expect(code, err).to.equal(0);
      expect(mcrd.disables).to.deep.equal([{ rule: RULE_ID }]);
      expect(err).to.match(/was stopped: 7 records\.\n$/);
    });
  });
});
