/**
 * The capture `mcrctl trace --pcap` writes, read by Wireshark's own reader: tshark (Debian package
 * "tshark") must show each synthetic record as the UDP packet it is, with its verdict as the packet
 * comment and its original length. This test fails (it does not skip) when tshark is missing: CI
 * installs it.
 */
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { OutputResult, TraceRecord, TraceState, TraceStatus, Verdict } from '../../gen/mcr/v1/trace';
import { openTraceOutput } from '../../clients/mcrctl/trace-output';
import { frame, FrameSpec } from '../support/frames';
import { tsharkFields } from '../support/tshark';

const RULE_ID = 'r-0123456789ab';
const START = 1_704_164_645_000_000_000n; // 2024-01-02T03:04:05Z
const SNAP = 64;

/** A record of the frame `spec` describes, cut to SNAP bytes as the data plane would. */
function record(n: number, spec: FrameSpec, verdict: Partial<TraceRecord>): TraceRecord {
  const whole = frame(spec);
  return TraceRecord.fromPartial({
    timestampUnixNanos: START + BigInt(n) * 1_000_123n,
    ruleId: RULE_ID,
    sourceAddress: spec.source,
    sourcePort: spec.sourcePort,
    destinationAddress: spec.group,
    destinationPort: spec.port,
    ipLength: whole.length - 14,
    ttl: 64,
    timeInMcrNanos: 12_000n,
    frameLength: whole.length,
    frame: whole.subarray(0, SNAP),
    ...verdict,
  });
}

const SENT = { index: 0, interface: 'eth1', address: '239.9.9.9', port: 6000, result: OutputResult.OUTPUT_RESULT_SENT, error: '', ttl: 1, dscp: 0, ecn: 0, fragmented: false, segments: 1 };
const RECORDS = [
  record(1, { source: '10.1.0.2', group: '239.1.2.3', port: 5000, sourcePort: 40000, payload: Buffer.alloc(16, 1) }, {
    verdict: Verdict.VERDICT_FORWARDED,
    outputs: [SENT],
  }),
  record(2, { source: '10.1.0.7', group: '239.1.2.3', port: 5000, sourcePort: 40001, payload: Buffer.alloc(200, 2) }, {
    verdict: Verdict.VERDICT_FORWARDED,
    outputs: [SENT, { index: 1, interface: 'wg0', address: '10.0.0.9', port: 7000, result: OutputResult.OUTPUT_RESULT_UNREACHABLE, error: 'ECONNREFUSED', ttl: 64, dscp: 0, ecn: 0, fragmented: false, segments: 0 }],
  }),
  record(3, { source: '10.1.0.2', group: '239.1.2.4', port: 5002, sourcePort: 40002, payload: Buffer.alloc(33, 3) }, {
    verdict: Verdict.VERDICT_DROPPED,
    dropReason: 'no output accepted it',
    outputs: [{ ...SENT, result: OutputResult.OUTPUT_RESULT_WOULD_BLOCK, segments: 0 }],
  }),
];

describe('trace capture read by tshark', function () {
  // tshark takes a few seconds to start.
  this.timeout(90_000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-tshark-'));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('shows each record as its UDP packet, with the verdict as the comment and the original length', () => {
    const file = path.join(dir, 'trace.pcapng');
    const output = openTraceOutput({ kind: 'pcapng', destination: { to: 'file', path: file } }, { write: () => undefined, writeBytes: () => undefined });
    output.begin({
      status: TraceStatus.fromPartial({ ruleId: RULE_ID, state: TraceState.TRACE_STATE_RUNNING, snapLength: SNAP, startedUnixNanos: START }),
      inputInterface: 'eth0',
    });
    for (const r of RECORDS) output.record(r);
    output.close();

    const rows = tsharkFields(file, ['ip.src', 'ip.dst', 'udp.srcport', 'udp.dstport', 'frame.len', 'frame.cap_len', 'frame.time_epoch', 'frame.comment']);
    expect(rows.map((r) => r.slice(0, 6))).to.deep.equal([
      ['10.1.0.2', '239.1.2.3', '40000', '5000', '58', '58'],
      ['10.1.0.7', '239.1.2.3', '40001', '5000', '242', String(SNAP)],
      ['10.1.0.2', '239.1.2.4', '40002', '5002', '75', String(SNAP)],
    ]);
    // Nanosecond timestamps survive (tshark prints epoch seconds with 9 decimals).
    expect(rows.map((r) => r[6])).to.deep.equal(RECORDS.map((r) => `${r.timestampUnixNanos / 1_000_000_000n}.${String(r.timestampUnixNanos % 1_000_000_000n).padStart(9, '0')}`));
    expect(rows.map((r) => r[7])).to.deep.equal([
      `rule ${RULE_ID} forwarded: out0 eth1 239.9.9.9:6000 sent ttl 1; 12.0 us in mcr`,
      `rule ${RULE_ID} forwarded: out0 eth1 239.9.9.9:6000 sent ttl 1; out1 wg0 10.0.0.9:7000 unreachable ECONNREFUSED; 12.0 us in mcr`,
      `rule ${RULE_ID} dropped (no output accepted it): out0 eth1 239.9.9.9:6000 would-block; 12.0 us in mcr`,
    ]);
  });
});
