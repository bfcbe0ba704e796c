/**
 * Counters and rates with known traffic: N packets on a rule with three outputs are counted exactly
 * (received, forwarded, per output, bytes); an output to a unicast port nobody listens on counts
 * "unreachable" errors while the rule's other output still gets every packet; rates are non-zero
 * while traffic flows and fall back to 0 after it stops; mcrctl shows the same.
 */
import { expect } from 'chai';

import { RuleStats } from '../../gen/mcr/v1/stats';
import { useRelay } from '../support/fixture';
import { mcrctlOk, parseTables } from '../support/mcrctl';
import { NET } from '../support/netns';
import { describeValue, sleep, waitFor } from '../support/poll';
import { waitForRuleState } from '../support/rules';
import { Destination, endpointIn, expectDelivered, runStreams } from '../support/streams';

interface OutputSpec extends Destination {
  interface: string;
}

const SIZE = 700;

/** Rule 1: three outputs, every one reachable. */
const FANOUT_IN = { address: '239.1.1.1', port: 5000 };
const FANOUT_OUTPUTS: OutputSpec[] = [
  { interface: NET.relayOut1.ifname, address: '239.9.9.9', port: 6000 },
  { interface: NET.relayOut2.ifname, address: '239.9.9.10', port: 6001 },
  { interface: NET.relayOut1.ifname, address: NET.sink1.address, port: 7000 },
];
const FANOUT_PACKETS = 3000;

/**
 * Rule 2: one reachable output; sink1's address on a port nobody listens on (ICMP port unreachable,
 * which the shared egress socket queues and the data plane charges to this output:
 * docs/decisions/0043-icmp-errors-per-output.md); and one whose every send fails at once: out1's subnet
 * broadcast address, which a socket without SO_BROADCAST may not send to (EACCES). The last two share
 * out1's egress socket.
 */
const SPLIT_IN = { address: '239.1.1.2', port: 5002 };
const REACHABLE: OutputSpec = { interface: NET.relayOut2.ifname, address: '239.9.9.20', port: 6100 };
const UNREACHABLE: OutputSpec = { interface: NET.relayOut1.ifname, address: NET.sink1.address, port: 9999 };
const FAILING: OutputSpec = { interface: NET.relayOut1.ifname, address: '10.3.0.255', port: 9999 };
const SPLIT_PACKETS = 2000;

/** How long counters may take to reach their final values once the sinks have everything. */
const SETTLE_MS = 10_000;

describe('e2e: stats with known traffic', function () {
  this.timeout(180_000);
  const relay = useRelay({ workers: 2 });
  let fanoutId = '';

  const statsOf = async (rule: string): Promise<RuleStats> => {
    const [stats] = await relay.client.getStats(rule);
    if (!stats) throw new Error(`GetStats has no rule ${rule}`);
    return stats;
  };

  /** Sends `count` packets of SIZE bytes on FANOUT_IN at `rate`; every FANOUT output must get them all. */
  async function fanoutStream(count: number, rate: number, seed: number, during?: (senderDone: () => boolean) => Promise<void>) {
    const expect = (o: OutputSpec) => endpointIn(o.interface === NET.relayOut1.ifname ? 'sink1' : 'sink2', o.address, o.port, count);
    const result = await runStreams(relay.topology, {
      flows: [{ ...FANOUT_IN, count, size: SIZE, seed }],
      rate,
      sinks: { sink1: [expect(FANOUT_OUTPUTS[0]), expect(FANOUT_OUTPUTS[2])], sink2: [expect(FANOUT_OUTPUTS[1])] },
      during,
    });
    expectDelivered(result, FANOUT_IN, 'sink1', FANOUT_OUTPUTS[0]);
    expectDelivered(result, FANOUT_IN, 'sink2', FANOUT_OUTPUTS[1]);
    expectDelivered(result, FANOUT_IN, 'sink1', FANOUT_OUTPUTS[2]);
  }

  it(`counts exactly ${FANOUT_PACKETS} packets received, forwarded and sent on each of three outputs`, async function () {
    const rule = await relay.client.createRule({
      name: 'counted',
      input: { interface: NET.relayIn.ifname, group: FANOUT_IN.address, port: FANOUT_IN.port },
      outputs: FANOUT_OUTPUTS,
    });
    fanoutId = rule.id;
    await waitForRuleState(relay.client, rule.id);
    await fanoutStream(FANOUT_PACKETS, 1000, 41);

    const n = BigInt(FANOUT_PACKETS);
    const stats = await waitFor(
      `rule ${rule.id} and each of its outputs to count ${FANOUT_PACKETS} packets`,
      () => statsOf(rule.id),
      (s) => s.packetsReceived >= n && s.packetsForwarded >= n && s.outputs.every((o) => o.packets >= n),
      SETTLE_MS,
    );
    const summary = describeValue(stats);
    expect(stats.packetsReceived, `received; ${summary}`).to.equal(n);
    expect(stats.bytesReceived, 'bytes received').to.equal(n * BigInt(SIZE));
    expect(stats.packetsForwarded, 'forwarded').to.equal(n);
    expect(stats.drops, 'drops').to.deep.equal({ sendFailed: 0n, noBuffer: 0n, unreachable: 0n, sendError: 0n, ttlExpired: 0n, tooBig: 0n });
    expect(stats.lastPacketUnixNanos > 0n, 'time of the last packet').to.equal(true);
    expect(stats.outputs.map((o) => [o.index, o.interface, o.address, o.port]), 'outputs in rule order').to.deep.equal(
      FANOUT_OUTPUTS.map((o, i) => [i, o.interface, o.address, o.port]),
    );
    for (const output of stats.outputs) {
      expect(
        { packets: output.packets, bytes: output.bytes, wouldBlock: output.errorsWouldBlock, unreachable: output.errorsUnreachable, other: output.errorsOther },
        `output ${output.index}`,
      ).to.deep.equal({ packets: n, bytes: n * BigInt(SIZE), wouldBlock: 0n, unreachable: 0n, other: 0n });
    }
  });

  it('counts unreachable errors on an output to a closed unicast port and other errors on one that always fails, while the other output gets every packet', async function () {
    const rule = await relay.client.createRule({
      name: 'half-reachable',
      input: { interface: NET.relayIn.ifname, group: SPLIT_IN.address, port: SPLIT_IN.port },
      outputs: [REACHABLE, UNREACHABLE, FAILING],
    });
    await waitForRuleState(relay.client, rule.id);
    const result = await runStreams(relay.topology, {
      flows: [{ ...SPLIT_IN, count: SPLIT_PACKETS, size: SIZE, seed: 42 }],
      rate: 1000,
      sinks: { sink2: [endpointIn('sink2', REACHABLE.address, REACHABLE.port, SPLIT_PACKETS)] },
    });
    expectDelivered(result, SPLIT_IN, 'sink2', REACHABLE);

    const n = BigInt(SPLIT_PACKETS);
    /** Every packet was either sent on output `i` or counted as one of its errors. */
    const accounted = (s: RuleStats, i: number) => {
      const o = s.outputs[i];
      return o.packets + o.errorsWouldBlock + o.errorsUnreachable + o.errorsOther;
    };
    const stats = await waitFor(
      `rule ${rule.id} to account for ${SPLIT_PACKETS} packets on every output`,
      () => statsOf(rule.id),
      (s) => s.packetsReceived >= n && s.outputs[0].packets >= n && accounted(s, 1) >= n && accounted(s, 2) >= n,
      SETTLE_MS,
    );
    const [reachable, unreachable, failing] = stats.outputs;
    const summary = describeValue(stats);
    expect(stats.packetsReceived, `received; ${summary}`).to.equal(n);
    expect(stats.packetsForwarded, 'forwarded: the reachable output took every packet').to.equal(n);
    expect(stats.drops?.sendFailed, 'packets no output accepted').to.equal(0n);
    expect(reachable.packets, 'packets on the reachable output').to.equal(n);
    expect(reachable.errorsWouldBlock + reachable.errorsUnreachable + reachable.errorsOther, 'errors on the reachable output').to.equal(0n);
    expect(unreachable.errorsUnreachable > 0n, `unreachable errors on ${UNREACHABLE.address}:${UNREACHABLE.port}; ${summary}`).to.equal(true);
    expect(unreachable.errorsOther, `other errors on ${UNREACHABLE.address}:${UNREACHABLE.port}`).to.equal(0n);
    expect(accounted(stats, 1), 'sent + errors on the unreachable output').to.equal(n);
    expect(stats.drops?.unreachable, 'the rule sums its outputs\' unreachable errors').to.equal(unreachable.errorsUnreachable);
    expect([failing.packets, failing.errorsWouldBlock, failing.errorsUnreachable, failing.errorsOther], `sent, would-block, unreachable, other errors on ${FAILING.address}:${FAILING.port}; ${summary}`).to.deep.equal([0n, 0n, 0n, n]);
    expect(stats.drops?.sendError, 'the rule sums its outputs\' other errors').to.equal(n);

    // mcrctl shows the same, the drop reason included.
    const [rules, outputs] = parseTables(await mcrctlOk(['--socket', relay.mcrd.socketPath, 'stats', 'half-reachable']));
    expect(rules.map((r) => [r.RULE, r.RECEIVED, r.FORWARDED])).to.deep.equal([[rule.id, String(n), String(n)]]);
    // The DROPS cell lists non-zero reasons one per line (parseTables keeps the first): no-buffer, if
    // the closed port's errors ever filled a buffer, comes before unreachable.
    const firstReason = stats.drops!.noBuffer > 0n ? `no-buffer ${stats.drops!.noBuffer}` : `unreachable ${stats.drops!.unreachable}`;
    expect(rules[0].DROPS, 'drops by reason').to.equal(firstReason);
    expect(outputs.map((o) => [o.OUT, o.SENT, o.UNREACHABLE, o['OTHER-ERRORS']])).to.deep.equal([
      ['0', String(n), '0', '0'],
      ['1', String(unreachable.packets), String(unreachable.errorsUnreachable), '0'],
      ['2', '0', '0', String(n)],
    ]);
  });

  it('reports rates while traffic flows and 0 shortly after it stops', async function () {
    expect(fanoutId, 'the rule of the first test').to.not.equal('');
    const rate = 1000;
    let flowing: RuleStats | undefined;
    let shown = '';
    await fanoutStream(5000, rate, 43, async (senderDone) => {
      // Wait until every rate is non-zero, then a full sampling window more so that it covers traffic only.
      await waitFor('non-zero rates on the rule and each output', () => statsOf(fanoutId), (s) => s.packetsPerSecond > 0 && s.outputs.every((o) => o.packetsPerSecond > 0), 8000, 200);
      await sleep(1500);
      flowing = await statsOf(fanoutId);
      shown = await mcrctlOk(['--socket', relay.mcrd.socketPath, 'stats', fanoutId]);
      expect(senderDone(), 'the sender was still sending when the rates were read').to.equal(false);
    });
    const summary = describeValue(flowing);
    expect(flowing!.packetsPerSecond, `packets/s while ${rate} pps flow; ${summary}`).to.be.within(rate * 0.6, rate * 1.4);
    expect(flowing!.bitsPerSecond, 'bits/s = packets/s x payload bits').to.be.closeTo(flowing!.packetsPerSecond * SIZE * 8, flowing!.bitsPerSecond * 1e-9);
    for (const output of flowing!.outputs) {
      expect(output.packetsPerSecond, `output ${output.index} packets/s`).to.be.within(rate * 0.6, rate * 1.4);
      expect(output.bitsPerSecond, `output ${output.index} bits/s`).to.be.closeTo(output.packetsPerSecond * SIZE * 8, output.bitsPerSecond * 1e-9);
    }
    // mcrctl humanises them: about 1 kpps of 700-byte payloads is about 5.6 Mbit/s.
    const [[ruleRow], outputRows] = parseTables(shown);
    expect(ruleRow['PKT RATE'], `mcrctl stats:\n${shown}`).to.match(/^(\d{3} pps|1\.\d\d kpps)$/);
    expect(ruleRow['BIT RATE'], `mcrctl stats:\n${shown}`).to.match(/^\d\.\d\d Mbit\/s$/);
    for (const row of outputRows) expect(row['PKT RATE'], `output ${row.OUT}`).to.match(/^(\d{3} pps|1\.\d\d kpps)$/);

    const idle = await waitFor(
      'every rate back to 0 after the traffic stopped',
      () => statsOf(fanoutId),
      (s) => s.packetsPerSecond === 0 && s.bitsPerSecond === 0 && s.outputs.every((o) => o.packetsPerSecond === 0 && o.bitsPerSecond === 0),
      5000,
      250,
    );
    expect(idle.packetsReceived, 'totals stay').to.equal(BigInt(FANOUT_PACKETS + 5000));
    const [[idleRow]] = parseTables(await mcrctlOk(['--socket', relay.mcrd.socketPath, 'stats', fanoutId]));
    expect([idleRow['PKT RATE'], idleRow['BIT RATE']]).to.deep.equal(['0 pps', '0 bit/s']);
  });

  it('mcrctl stats --inputs counts the frames each worker read on the input interface', async function () {
    const sent = FANOUT_PACKETS + 5000 + SPLIT_PACKETS;
    const inputs = await relay.client.getWorkerStats();
    const onInput = inputs.filter((i) => i.interface === NET.relayIn.ifname);
    expect(onInput.length, `inputs: ${describeValue(inputs)}`).to.be.at.least(1);
    const frames = onInput.reduce((sum, i) => sum + i.frames, 0n);
    expect(frames >= BigInt(sent), `frames read on ${NET.relayIn.ifname} (${frames}) >= packets sent (${sent})`).to.equal(true);

    const [rows] = parseTables(await mcrctlOk(['--socket', relay.mcrd.socketPath, 'stats', '--inputs']));
    const shown = rows.filter((r) => r.INTERFACE === NET.relayIn.ifname);
    expect(shown.map((r) => r.WORKER).sort(), 'one row per worker reading the input').to.deep.equal(onInput.map((i) => String(i.worker)).sort());
    for (const row of shown) {
      expect(row['KERNEL DROPS'], `worker ${row.WORKER} kernel drops`).to.match(/^\d+$/);
      expect(row['PARSE ERRORS'], `worker ${row.WORKER}: only well-formed UDP was sent`).to.equal('0');
    }
    const shownFrames = shown.reduce((sum, r) => sum + BigInt(r.FRAMES), 0n);
    expect(shownFrames >= BigInt(sent), `frames shown by mcrctl (${shownFrames})`).to.equal(true);
  });
});
