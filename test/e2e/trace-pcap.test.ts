/**
 * `mcrctl trace` against the real mcrd while traffic flows on the traced rule and on another one:
 * `--pcap -w FILE` writes a capture that tshark reads back as exactly the traced rule's UDP packets,
 * each with its verdict and per-output results as the packet comment (one output is a unicast port
 * nobody listens on, so some sends come back ECONNREFUSED), and the trace switches itself off at its
 * record limit. The readable lines, ended by Ctrl-C, which disables the trace.
 */
import { expect } from 'chai';
import path from 'path';

import { TraceState } from '../../gen/mcr/v1/trace';
import { connect, McrClient } from '../../clients/lib';
import { useRelay } from '../support/fixture';
import { startMcrctl } from '../support/mcrctl';
import { NET } from '../support/netns';
import { waitFor } from '../support/poll';
import { waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { runStreams } from '../support/streams';
import { tsharkFields } from '../support/tshark';

const WORKERS = 2;
const TRACED = { address: '239.1.1.1', port: 5000 };
const OTHER = { address: '239.1.1.2', port: 5002 };
/** Unicast to the sink2 side, where nothing listens on this port: ICMP port unreachable comes back. */
const REFUSING = { address: NET.sink2.address, port: 7000 };
const PACKETS = 300;
const LIMIT = 100;
const RATE = 400;

describe('e2e: mcrctl trace', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: WORKERS });
  let api: McrClient;
  let tracedId = '';

  before(async function () {
    api = connect({ socket: relay.mcrd.socketPath });
    const traced = await relay.client.createRule({
      name: 'traced',
      input: { interface: NET.relayIn.ifname, group: TRACED.address, port: TRACED.port },
      outputs: [
        { interface: NET.relayOut1.ifname, address: '239.9.9.9', port: 6000 },
        { interface: NET.relayOut2.ifname, ...REFUSING },
      ],
    });
    const other = await relay.client.createRule({
      name: 'other',
      input: { interface: NET.relayIn.ifname, group: OTHER.address, port: OTHER.port },
      outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.9.10', port: 6001 }],
    });
    tracedId = traced.id;
    for (const rule of [traced, other]) await waitForRuleState(relay.client, rule.id);
    await waitForWorkersInSync(relay.client, WORKERS);
  });

  after(() => api?.close());

  /** Resolves once mcrd reports the traced rule's trace running (mcrctl has enabled it). */
  function traceRunning(): Promise<unknown> {
    return waitFor(
      'the trace of the traced rule running',
      async () => (await api.listTraces()).traces.find((t) => t.ruleId === tracedId)?.state,
      (state) => state === TraceState.TRACE_STATE_RUNNING,
      10_000,
    );
  }

  /** Sends PACKETS on each of the traced and the other rule's inputs. */
  function sendBoth(): Promise<unknown> {
    const flow = (to: { address: string; port: number }, seed: number) => ({ ...to, count: PACKETS, size: 100, seed });
    return runStreams(relay.topology, { flows: [flow(TRACED, 1), flow(OTHER, 2)], rate: RATE, sinks: {} });
  }

  it('--pcap -w FILE: tshark reads exactly the traced rule\'s UDP packets, with verdicts, until the record limit', async function () {
    const file = path.join(relay.mcrd.dir, 'trace.pcapng');
    const run = startMcrctl(['--socket', relay.mcrd.socketPath, 'trace', 'traced', '--pcap', '-w', file, '--limit', String(LIMIT)], { timeoutMs: 60_000 });
    await traceRunning();
    await sendBoth();
    const result = await run.result;
    expect({ code: result.code, stdout: result.stdout }, `stderr: ${result.stderr}`).to.deep.equal({ code: 0, stdout: '' });
    expect(result.stderr).to.include(`Trace of rule ${tracedId} (traced) reached its record limit (${LIMIT}): ${LIMIT} records`);

    const rows = tsharkFields(file, ['ip.src', 'ip.dst', 'udp.dstport', 'udp.length', 'frame.comment']);
    expect(rows, 'packets in the capture').to.have.length(LIMIT);
    for (const [src, dst, port, udpLength] of rows) {
      expect({ src, dst, port, udpLength }).to.deep.equal({ src: NET.src.address, dst: TRACED.address, port: String(TRACED.port), udpLength: '108' });
    }
    const GSO = '( in a GSO send of \\d+)?';
    const comment = new RegExp(
      // The source sends with TTL 1: the multicast output sends with the same, the unicast one with 64.
      // Packets read in one batch may leave in one GSO send, which a sent output then says.
      `^rule ${tracedId} forwarded: out0 ${NET.relayOut1.ifname} 239\\.9\\.9\\.9:6000 sent${GSO}; ` +
        `out1 ${NET.relayOut2.ifname} ${REFUSING.address.replace(/\./g, '\\.')}:${REFUSING.port} (sent ttl 64${GSO}|unreachable ECONNREFUSED); \\S+ \\S+ in mcr$`,
    );
    for (const row of rows) expect(row[4]).to.match(comment);
    expect(rows.filter((row) => row[4].includes('unreachable ECONNREFUSED')), 'records showing the refused output').to.not.have.length(0);
  });

  it('lines until Ctrl-C, which disables the trace and exits 0', async function () {
    const run = startMcrctl(['--socket', relay.mcrd.socketPath, 'trace', 'traced'], { timeoutMs: 60_000 });
    await traceRunning();
    await sendBoth();
    await waitFor('lines from mcrctl trace', async () => run.stdout().split('\n').length - 1, (n) => n >= 10, 10_000);
    run.kill('SIGINT');
    const result = await run.result;
    expect(result.code, `stderr: ${result.stderr}`).to.equal(0);
    const line = new RegExp(
      `^\\d\\d:\\d\\d:\\d\\d\\.\\d{6}  ${NET.src.address.replace(/\./g, '\\.')}:\\d+ -> ${TRACED.address.replace(/\./g, '\\.')}:${TRACED.port}  ttl 1  dscp 0  len 128  forwarded: `,
    );
    for (const text of result.stdout.trimEnd().split('\n')) expect(text).to.match(line);
    expect(result.stderr).to.match(new RegExp(`Trace of rule ${tracedId} \\(traced\\) was stopped: \\d+ records`));
    const status = (await api.listTraces()).traces.find((t) => t.ruleId === tracedId);
    expect(status?.state, 'the trace after Ctrl-C').to.equal(TraceState.TRACE_STATE_STOPPED);
  });
});
