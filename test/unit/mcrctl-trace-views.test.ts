import { expect } from 'chai';

import { IpProtocol } from '../../gen/mcr/v1/rules';
import { OutputResult, TraceRecord, TraceState, TraceStatus, Verdict } from '../../gen/mcr/v1/trace';
import { formatNanos, formatTimeOfDay } from '../../clients/mcrctl/format';
import {
  outputResultText,
  recordsLostNote,
  traceComment,
  traceDetail,
  traceEndedNote,
  traceLine,
  traceStartedNote,
  tracesTable,
  traceStateWord,
  verdictText,
} from '../../clients/mcrctl/trace-view';

/** 2024-01-02 15:04:05.678901 local time (whatever the time zone) in unix nanoseconds. */
const LOCAL = BigInt(new Date(2024, 0, 2, 15, 4, 5, 678).getTime()) * 1_000_000n + 901_234n;
/** 2024-01-02T03:04:05.678Z in unix nanoseconds. */
const T = BigInt(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) * 1_000_000n;

const forwarded = TraceRecord.fromPartial({
  timestampUnixNanos: LOCAL,
  ruleId: 'r-0123456789ab',
  worker: 1,
  inputInterface: 'eth0',
  sourceAddress: '10.1.0.2',
  sourcePort: 40000,
  destinationAddress: '239.1.2.3',
  destinationPort: 5000,
  ipLength: 44,
  ttl: 64,
  dscp: 46,
  verdict: Verdict.VERDICT_FORWARDED,
  outputs: [
    { index: 0, interface: 'eth1', address: '239.9.9.9', port: 6000, result: OutputResult.OUTPUT_RESULT_SENT },
    { index: 1, interface: 'wg0', address: '10.0.0.9', port: 7000, result: OutputResult.OUTPUT_RESULT_UNREACHABLE, error: 'ECONNREFUSED' },
  ],
  timeInMcrNanos: 12_345n,
  frameLength: 58,
});

const status = TraceStatus.fromPartial({
  ruleId: 'r-0123456789ab',
  state: TraceState.TRACE_STATE_RUNNING,
  sampleEvery: 1,
  snapLength: 128,
  recordLimit: 1000,
  timeLimitMs: 60_000,
  startedUnixNanos: T,
  records: 12n,
});

describe('mcrctl trace views', () => {
  it('formats a time of day to the microsecond and durations in ns, us, ms and s', () => {
    expect(formatTimeOfDay(LOCAL)).to.equal('15:04:05.678901');
    expect(formatNanos(0n)).to.equal('0 ns');
    expect(formatNanos(850n)).to.equal('850 ns');
    expect(formatNanos(1000n)).to.equal('1.00 us');
    expect(formatNanos(12_345n)).to.equal('12.3 us');
    expect(formatNanos(999_999n)).to.equal('1.00 ms');
    expect(formatNanos(1_500_000n)).to.equal('1.50 ms');
    expect(formatNanos(2_000_000_000n)).to.equal('2.00 s');
  });

  it('one line per packet: time, addresses, ttl, dscp, length, verdict with each output, time in mcr', () => {
    expect(traceLine(forwarded)).to.equal(
      '15:04:05.678901  10.1.0.2:40000 -> 239.1.2.3:5000  ttl 64  dscp 46  len 44  ' +
        'forwarded: out0 eth1 239.9.9.9:6000 sent; out1 wg0 10.0.0.9:7000 unreachable ECONNREFUSED  12.3 us in mcr',
    );
  });

  it('a tagged frame says its VLAN after the time; 0 (untagged, or the tag not read) says nothing', () => {
    expect(traceLine({ ...forwarded, vlan: 100, outputs: [] })).to.equal('15:04:05.678901  vlan 100  10.1.0.2:40000 -> 239.1.2.3:5000  ttl 64  dscp 46  len 44  forwarded  12.3 us in mcr');
    expect(traceLine({ ...forwarded, vlan: 0 })).to.equal(traceLine(forwarded));
  });

  it('the pcapng comment names the rule, the verdict, each output and the time in mcr', () => {
    expect(traceComment(forwarded)).to.equal(
      'rule r-0123456789ab forwarded: out0 eth1 239.9.9.9:6000 sent; out1 wg0 10.0.0.9:7000 unreachable ECONNREFUSED; 12.3 us in mcr',
    );
  });

  describe('an ESP packet', () => {
    const esp = TraceRecord.fromPartial({
      ...forwarded,
      sourcePort: 0,
      destinationAddress: '239.1.1.1',
      destinationPort: 0,
      protocol: IpProtocol.IP_PROTOCOL_ESP,
      outputs: [
        { index: 0, interface: 'eth1', address: '10.0.0.9', port: 0, result: OutputResult.OUTPUT_RESULT_SENT, ttl: 63, dscp: 46 },
        { index: 1, interface: 'eth2', address: '239.9.9.9', port: 0, result: OutputResult.OUTPUT_RESULT_TOO_BIG, error: 'EMSGSIZE' },
      ],
    });

    it('says "esp" in place of the ports, and its outputs without one', () => {
      expect(traceLine(esp)).to.equal(
        '15:04:05.678901  10.1.0.2 -> 239.1.1.1 esp  ttl 64  dscp 46  len 44  forwarded: out0 eth1 10.0.0.9 sent ttl 63; out1 eth2 239.9.9.9 too-big EMSGSIZE  12.3 us in mcr',
      );
      expect(traceLine({ ...esp, vlan: 7, outputs: [] })).to.equal('15:04:05.678901  vlan 7  10.1.0.2 -> 239.1.1.1 esp  ttl 64  dscp 46  len 44  forwarded  12.3 us in mcr');
      // IP_PROTOCOL_UDP and the unset protocol (an mcrd from before ESP) are UDP.
      expect(traceLine({ ...forwarded, protocol: IpProtocol.IP_PROTOCOL_UDP })).to.equal(traceLine(forwarded));
    });

    it('its pcapng comment ends with "; esp", after the VLAN', () => {
      expect(traceComment(esp)).to.equal('rule r-0123456789ab forwarded: out0 eth1 10.0.0.9 sent ttl 63; out1 eth2 239.9.9.9 too-big EMSGSIZE; 12.3 us in mcr; esp');
      expect(traceComment({ ...esp, vlan: 100, outputs: [] })).to.equal('rule r-0123456789ab forwarded; 12.3 us in mcr; vlan 100; esp');
      expect(traceComment(forwarded)).to.not.include('esp');
    });
  });

  it('a dropped packet says why, with or without outputs', () => {
    const blocked = { ...forwarded, verdict: Verdict.VERDICT_DROPPED, dropReason: 'no output accepted it' };
    blocked.outputs = [{ index: 0, interface: 'eth1', address: '239.9.9.9', port: 6000, result: OutputResult.OUTPUT_RESULT_WOULD_BLOCK, error: '', ttl: 0, dscp: 0, ecn: 0, fragmented: false, segments: 0 }];
    expect(verdictText(blocked)).to.equal('dropped (no output accepted it): out0 eth1 239.9.9.9:6000 would-block');
    expect(verdictText({ ...forwarded, verdict: Verdict.VERDICT_DROPPED, dropReason: 'no usable output', outputs: [] })).to.equal('dropped (no usable output)');
    expect(verdictText({ ...forwarded, verdict: Verdict.VERDICT_DROPPED, dropReason: '', outputs: [] })).to.equal('dropped');
    expect(verdictText({ ...forwarded, verdict: Verdict.VERDICT_UNSPECIFIED, outputs: [] })).to.equal('verdict unknown');
  });

  it('an output error, an output without interface, an unknown result', () => {
    const out = { index: 3, interface: '', address: '10.0.0.1', port: 9, result: OutputResult.OUTPUT_RESULT_ERROR, error: 'EPERM', ttl: 0, dscp: 0, ecn: 0, fragmented: false, segments: 0 };
    expect(outputResultText(out)).to.equal('out3 10.0.0.1:9 error EPERM');
    expect(outputResultText({ ...out, result: 42 as OutputResult, error: '' })).to.equal('out3 10.0.0.1:9 result 42');
  });

  describe('ttl policy and tos', () => {
    const sent = { index: 0, interface: 'eth1', address: '239.9.9.9', port: 6000, result: OutputResult.OUTPUT_RESULT_SENT, error: '', fragmented: false, segments: 1 };
    const received = { ttl: 64, dscp: 46, ecn: 2 };

    it('a sent output shows the ttl, dscp and ecn it sent that differ from those received, and nothing when none does', () => {
      expect(outputResultText({ ...sent, ttl: 63, dscp: 46, ecn: 2 }, received)).to.equal('out0 eth1 239.9.9.9:6000 sent ttl 63');
      expect(outputResultText({ ...sent, ttl: 1, dscp: 0, ecn: 0 }, received)).to.equal('out0 eth1 239.9.9.9:6000 sent ttl 1 dscp 0 ecn 0');
      expect(outputResultText({ ...sent, ttl: 64, dscp: 10, ecn: 2 }, received)).to.equal('out0 eth1 239.9.9.9:6000 sent dscp 10');
      expect(outputResultText({ ...sent, ttl: 64, dscp: 46, ecn: 2 }, received)).to.equal('out0 eth1 239.9.9.9:6000 sent');
      // Without the received values, or from an mcrd that does not report them (ttl 0): as before.
      expect(outputResultText({ ...sent, ttl: 63, dscp: 46, ecn: 2 })).to.equal('out0 eth1 239.9.9.9:6000 sent');
      expect(outputResultText({ ...sent, ttl: 0, dscp: 0, ecn: 0 }, received)).to.equal('out0 eth1 239.9.9.9:6000 sent');
      // Only what was sent: a failed send shows its error alone.
      const failed = { ...sent, result: OutputResult.OUTPUT_RESULT_UNREACHABLE, error: 'ENETUNREACH', ttl: 63, dscp: 46, ecn: 2 };
      expect(outputResultText(failed, received)).to.equal('out0 eth1 239.9.9.9:6000 unreachable ENETUNREACH');
    });

    it('an output that did not send for the TTL says ttl-expired; the line shows the ECN received when it is not 0', () => {
      const expired = TraceRecord.fromPartial({
        ...forwarded,
        ttl: 1,
        dscp: 46,
        ecn: 1,
        verdict: Verdict.VERDICT_DROPPED,
        dropReason: 'no output accepted it',
        outputs: [{ ...sent, result: OutputResult.OUTPUT_RESULT_TTL_EXPIRED }],
      });
      expect(traceLine(expired)).to.equal(
        '15:04:05.678901  10.1.0.2:40000 -> 239.1.2.3:5000  ttl 1  dscp 46  ecn 1  len 44  dropped (no output accepted it): out0 eth1 239.9.9.9:6000 ttl-expired  12.3 us in mcr',
      );
      const relayed = TraceRecord.fromPartial({
        ...forwarded,
        ttl: 64,
        dscp: 46,
        ecn: 0,
        outputs: [
          { ...sent, ttl: 63, dscp: 46, ecn: 0 },
          { ...sent, index: 1, port: 6001, ttl: 1, dscp: 0, ecn: 0 },
        ],
      });
      expect(traceComment(relayed)).to.equal('rule r-0123456789ab forwarded: out0 eth1 239.9.9.9:6000 sent ttl 63; out1 eth1 239.9.9.9:6001 sent ttl 1 dscp 0; 12.3 us in mcr');
    });
  });

  describe('oversize datagrams and GSO sends', () => {
    const sent = { index: 0, interface: 'eth1', address: '239.9.9.9', port: 6000, result: OutputResult.OUTPUT_RESULT_SENT, error: '', ttl: 64, dscp: 46, ecn: 0 };
    const received = { ttl: 64, dscp: 46, ecn: 0 };

    it('a sent output says fragmented, and the size of the GSO send that carried it when above 1, after what it was sent with', () => {
      expect(outputResultText({ ...sent, fragmented: true, segments: 1 }, received)).to.equal('out0 eth1 239.9.9.9:6000 sent fragmented');
      expect(outputResultText({ ...sent, fragmented: false, segments: 12 }, received)).to.equal('out0 eth1 239.9.9.9:6000 sent in a GSO send of 12');
      expect(outputResultText({ ...sent, ttl: 63, fragmented: false, segments: 2 }, received)).to.equal('out0 eth1 239.9.9.9:6000 sent ttl 63 in a GSO send of 2');
      // Sent alone, or from an mcrd that does not say (segments 0): nothing more. Without the received values too.
      expect(outputResultText({ ...sent, fragmented: false, segments: 1 }, received)).to.equal('out0 eth1 239.9.9.9:6000 sent');
      expect(outputResultText({ ...sent, fragmented: false, segments: 0 }, received)).to.equal('out0 eth1 239.9.9.9:6000 sent');
      expect(outputResultText({ ...sent, ttl: 63, fragmented: true, segments: 1 })).to.equal('out0 eth1 239.9.9.9:6000 sent fragmented');
    });

    it('an output that did not send a datagram too big for its MTU says too-big with the errno, and nothing of how it would have gone', () => {
      const tooBig = TraceRecord.fromPartial({
        ...forwarded,
        ipLength: 9000,
        ecn: 0,
        verdict: Verdict.VERDICT_DROPPED,
        dropReason: 'no output accepted it',
        outputs: [{ ...sent, result: OutputResult.OUTPUT_RESULT_TOO_BIG, error: 'EMSGSIZE', ttl: 0, dscp: 0, fragmented: false, segments: 0 }],
      });
      expect(traceLine(tooBig)).to.equal(
        '15:04:05.678901  10.1.0.2:40000 -> 239.1.2.3:5000  ttl 64  dscp 46  len 9000  dropped (no output accepted it): out0 eth1 239.9.9.9:6000 too-big EMSGSIZE  12.3 us in mcr',
      );
      const mixed = TraceRecord.fromPartial({
        ...forwarded,
        ipLength: 9000,
        ecn: 0,
        outputs: [
          { ...sent, fragmented: true, segments: 1 },
          { ...sent, index: 1, port: 6001, result: OutputResult.OUTPUT_RESULT_TOO_BIG, error: 'EMSGSIZE', ttl: 0, dscp: 0 },
        ],
      });
      expect(traceComment(mixed)).to.equal(
        'rule r-0123456789ab forwarded: out0 eth1 239.9.9.9:6000 sent fragmented; out1 eth1 239.9.9.9:6001 too-big EMSGSIZE; 12.3 us in mcr',
      );
    });
  });

  it('trace list: one row per trace with state words and settings', () => {
    const stopped = { ...status, ruleId: 'r-00000000000b', state: TraceState.TRACE_STATE_TIME_LIMIT, sampleEvery: 10, timeLimitMs: 1500, stoppedUnixNanos: T, recordsLost: 3n };
    expect(tracesTable([status, stopped])).to.equal(
      [
        'RULE            STATE       SAMPLE  SNAP  RECORDS  LOST  LIMITS                   STARTED                   STOPPED',
        'r-0123456789ab  running        all   128       12     0  1000 records or 60 s     2024-01-02T03:04:05.678Z  -',
        'r-00000000000b  time-limit    1/10   128       12     3  1000 records or 1500 ms  2024-01-02T03:04:05.678Z  2024-01-02T03:04:05.678Z',
        '',
      ].join('\n'),
    );
  });

  it('trace show: the status as fields', () => {
    expect(traceDetail({ ...status, sampleEvery: 4 })).to.equal(
      [
        'Rule:          r-0123456789ab',
        'State:         running',
        'Sampling:      1 in 4 packets',
        'Snap length:   128 bytes',
        'Limits:        1000 records or 60 s',
        'Records:       12',
        'Lost in mcrd:  0',
        'Started:       2024-01-02T03:04:05.678Z',
        'Stopped:       -',
        '',
      ].join('\n'),
    );
  });

  it('notes: started, ended for each reason, records lost', () => {
    expect(traceStartedNote('r-0123456789ab (cam1)', status)).to.equal(
      'Tracing rule r-0123456789ab (cam1): every packet, first 128 bytes of each, until 1000 records or 60 s. Ctrl-C stops it.',
    );
    const ended = (state: TraceState, extra: Partial<TraceStatus> = {}) => traceEndedNote('cam1', { ...status, state, ...extra });
    expect(ended(TraceState.TRACE_STATE_RECORD_LIMIT, { records: 1000n })).to.equal('Trace of rule cam1 reached its record limit (1000): 1000 records.');
    expect(ended(TraceState.TRACE_STATE_TIME_LIMIT)).to.equal('Trace of rule cam1 reached its time limit (60 s): 12 records.');
    expect(ended(TraceState.TRACE_STATE_STOPPED, { recordsLost: 2n })).to.equal(
      "Trace of rule cam1 was stopped: 12 records, 2 lost in mcrd (a worker's trace ring or queue was full).",
    );
    expect(ended(TraceState.TRACE_STATE_RULE_GONE)).to.equal('Trace of rule cam1 ended: the rule was deleted or its match changed: 12 records.');
    expect(recordsLostNote(1n, 1n)).to.equal('note: 1 record dropped because this client read too slowly (1 in all)');
    expect(recordsLostNote(5n, 12n)).to.equal('note: 5 records dropped because this client read too slowly (12 in all)');
    expect(traceStateWord(TraceState.TRACE_STATE_RULE_GONE)).to.equal('rule-gone');
  });
});
