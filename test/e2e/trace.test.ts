/**
 * Packet tracing with real traffic: tracing one rule while another carries traffic too gives exactly
 * the traced rule's packets, with their addresses, ports, TTL, frames, verdicts and per-output results
 * (an output to a closed unicast port shows ECONNREFUSED); the record limit and the time limit switch
 * a trace off by themselves (and the workers stop tracing); sampling 1 in 10 keeps about a tenth; a
 * WatchTraces subscriber that stops reading loses records and is told how many, while mcrd's memory
 * stays bounded and another subscriber keeps getting records on time. Packets read in one batch each
 * carry the kernel's time of their own receipt.
 */
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import * as readline from 'readline';

import { OutputResult, TraceRecord, TraceState, TraceStatus, Verdict, WatchTracesResponse } from '../../gen/mcr/v1/trace';
import { useRelay } from '../support/fixture';
import { grpcFailure, McrClient, namesField, statusName } from '../support/grpc';
import { NET, spawnIn } from '../support/netns';
import { describeValue, sleep, waitFor } from '../support/poll';
import { threadStates } from '../support/processes';
import { receiveTimesOf } from '../support/receive-times';
import { waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const WORKERS = 2;
const SIZE = 200;
/** IPv4 and UDP headers. */
const IP_UDP_HEADERS = 20 + 8;
const ETHERNET_HEADER = 14;

/**
 * The traced rule: a multicast output sink2 receives; sink1's address on a port nobody listens on (each
 * ICMP port unreachable fails that output's next packet: docs/decisions/0043-icmp-errors-per-output.md);
 * and out1's subnet broadcast address, whose every send fails (EACCES: the egress socket has no
 * SO_BROADCAST).
 */
const TRACED_IN = { address: '239.1.7.1', port: 5000 };
const REACHABLE = { interface: NET.relayOut2.ifname, address: '239.9.7.1', port: 6000 };
const UNREACHABLE = { interface: NET.relayOut1.ifname, address: NET.sink1.address, port: 9999 };
const FAILING = { interface: NET.relayOut1.ifname, address: '10.3.0.255', port: 9999 };
/** Another rule carrying traffic at the same time, never traced. */
const OTHER_IN = { address: '239.1.7.2', port: 5002 };
const OTHER_OUT = { interface: NET.relayOut2.ifname, address: '239.9.7.2', port: 6002 };

/**
 * Sends PACED_PACKETS datagrams to the traced input, PACED_GAP_S apart (busy-waited), once a line
 * arrives on stdin; says "ready" first and prints the gaps it kept (ns) as JSON.
 */
const PACED_PACKETS = 5;
const PACED_GAP_S = 0.001;
const PACED_SENDER = `
import json, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${NET.src.address}', 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('${NET.src.address}'))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
print('ready', flush=True)
sys.stdin.readline()
at = []
for i in range(${PACED_PACKETS}):
    while at and time.perf_counter_ns() < at[0] + i * ${PACED_GAP_S * 1e9}:
        pass
    at.append(time.perf_counter_ns())
    s.sendto(bytes([i]) * ${SIZE}, ('${TRACED_IN.address}', ${TRACED_IN.port}))
print(json.dumps([b - a for a, b in zip(at, at[1:])]), flush=True)
`;

/** A WatchTraces call whose events are collected with their arrival times. */
class Watcher {
  readonly call: grpc.ClientReadableStream<WatchTracesResponse>;
  readonly events: Array<{ atMs: number; event: WatchTracesResponse }> = [];

  constructor(client: McrClient, ruleIds: string[] = []) {
    this.call = client.watchTraces(ruleIds);
    this.call.on('data', (event: WatchTracesResponse) => this.events.push({ atMs: Date.now(), event }));
    this.call.on('error', () => undefined); // cancelled at the end
  }

  records(): TraceRecord[] {
    return this.events.flatMap((e) => e.event.records);
  }

  statuses(): TraceStatus[] {
    return this.events.flatMap((e) => (e.event.status ? [e.event.status] : []));
  }

  lost(): bigint {
    return this.events.reduce((sum, e) => sum + e.event.lost, 0n);
  }

  /** Waits for a status change of `ruleId` to `state` (checks that the subscription was in place). */
  async statusReached(ruleId: string, state: TraceState, timeoutMs = 10_000): Promise<TraceStatus> {
    const found = () => this.statuses().find((s) => s.ruleId === ruleId && s.state === state);
    await waitFor(`a ${TraceState[state]} status for ${ruleId} on WatchTraces`, async () => found(), (s) => s !== undefined, timeoutMs);
    return found()!;
  }

  cancel(): void {
    this.call.cancel();
  }
}

/** A watcher whose call the server has certainly registered before the test goes on. */
async function watcher(client: McrClient, ruleIds: string[] = []): Promise<Watcher> {
  const w = new Watcher(client, ruleIds);
  await sleep(500); // the call reaches mcrd in milliseconds over an open connection
  return w;
}

function count<T>(items: readonly T[], predicate: (item: T) => boolean): number {
  return items.reduce((n, item) => n + (predicate(item) ? 1 : 0), 0);
}

describe('e2e: packet tracing', function () {
  this.timeout(240_000);
  const relay = useRelay({ workers: WORKERS });
  let tracedId = '';
  let otherId = '';
  let tracedWorker = -1;

  before(async function () {
    const traced = await relay.client.createRule({
      name: 'traced',
      input: { interface: NET.relayIn.ifname, group: TRACED_IN.address, port: TRACED_IN.port },
      outputs: [REACHABLE, UNREACHABLE, FAILING],
    });
    const other = await relay.client.createRule({
      name: 'other',
      input: { interface: NET.relayIn.ifname, group: OTHER_IN.address, port: OTHER_IN.port },
      outputs: [OTHER_OUT],
    });
    tracedId = traced.id;
    otherId = other.id;
    tracedWorker = (await waitForRuleState(relay.client, tracedId)).status!.worker;
    await waitForRuleState(relay.client, otherId);
  });

  /** Sends `count` packets on the traced rule (and as many on the other one unless `alone`) at `rate` pps in total. */
  async function traffic(count: number, rate: number, seed: number, options: { alone?: boolean; size?: number; during?: (senderDone: () => boolean) => Promise<void> } = {}) {
    const size = options.size ?? SIZE;
    const flows = [{ ...TRACED_IN, count, size, seed }];
    if (!options.alone) flows.push({ ...OTHER_IN, count, size, seed: seed + 1 });
    return runStreams(relay.topology, {
      flows,
      rate,
      sinks: { sink2: [endpointIn('sink2', REACHABLE.address, REACHABLE.port, count), ...(options.alone ? [] : [endpointIn('sink2', OTHER_OUT.address, OTHER_OUT.port, count)])] },
      during: options.during,
    });
  }

  it('answers bad requests with precise statuses', async function () {
    const tooMany = await grpcFailure(relay.client.enableTrace(tracedId, { sampleEvery: 1_000_001 }));
    expect([statusName(tooMany.code), namesField(tooMany.details, 'sample_every')], tooMany.details).to.deep.equal(['INVALID_ARGUMENT', true]);
    const snap = await grpcFailure(relay.client.enableTrace(tracedId, { snapLength: 2049 }));
    expect([statusName(snap.code), namesField(snap.details, 'snap_length')], snap.details).to.deep.equal(['INVALID_ARGUMENT', true]);
    const unknown = await grpcFailure(relay.client.enableTrace('no-such-rule'));
    expect([statusName(unknown.code), namesField(unknown.details, 'rule')], unknown.details).to.deep.equal(['NOT_FOUND', true]);
    const never = await grpcFailure(relay.client.getTrace(otherId));
    expect(statusName(never.code), never.details).to.equal('NOT_FOUND');
    const badWatch = await new Promise<grpc.ServiceError>((resolve) => relay.client.watchTraces([tracedId, 'no-such-rule']).on('error', resolve));
    expect([statusName(badWatch.code), namesField(badWatch.details, 'rules[1]')], badWatch.details).to.deep.equal(['NOT_FOUND', true]);
  });

  it('traces exactly the traced rule, with addresses, TTL, frames, verdicts and per-output results', async function () {
    const packets = 1000;
    const all = await watcher(relay.client);
    const only = await watcher(relay.client, ['traced']); // by name
    try {
      const started = await relay.client.enableTrace(tracedId, { recordLimit: 10_000 });
      expect(started).to.include({ ruleId: tracedId, state: TraceState.TRACE_STATE_RUNNING, sampleEvery: 1, snapLength: 128, recordLimit: 10_000, timeLimitMs: 60_000 });
      await all.statusReached(tracedId, TraceState.TRACE_STATE_RUNNING);
      const startMs = Date.now();
      const result = await traffic(packets, 1000, 71);
      expectDelivered(result, TRACED_IN, 'sink2', REACHABLE);
      expectDelivered(result, OTHER_IN, 'sink2', OTHER_OUT);
      const endMs = Date.now();

      const { status, records } = await waitFor(
        `${packets} records in the trace`,
        () => relay.client.getTrace(tracedId),
        (t) => t.status!.records >= BigInt(packets),
        10_000,
      );
      expect(status, describeValue(status)).to.include({ state: TraceState.TRACE_STATE_RUNNING, records: BigInt(packets), recordsLost: 0n });
      expect(records).to.have.length(packets);
      expect(new Set(records.map((r) => r.ruleId)), 'rules in the trace').to.deep.equal(new Set([tracedId]));

      const sourcePorts = new Set(records.map((r) => r.sourcePort));
      expect(sourcePorts.size, 'one sending socket').to.equal(1);
      expect([...sourcePorts][0]).to.be.within(1, 65535);
      for (const r of records) {
        const summary = describeValue({ ...r, frame: r.frame.toString('hex') });
        expect(r, summary).to.deep.include({
          worker: tracedWorker,
          inputInterface: NET.relayIn.ifname,
          sourceAddress: NET.src.address,
          destinationAddress: TRACED_IN.address,
          destinationPort: TRACED_IN.port,
          ipLength: IP_UDP_HEADERS + SIZE,
          ttl: 1,
          dscp: 0,
          verdict: Verdict.VERDICT_FORWARDED,
          dropReason: '',
          frameLength: ETHERNET_HEADER + IP_UDP_HEADERS + SIZE,
        });
        expect(Number(r.timestampUnixNanos / 1_000_000n), 'timestamp (ms)').to.be.within(startMs - 1000, endMs + 1000);
        expect(r.timeInMcrNanos > 0n && r.timeInMcrNanos < 1_000_000_000n, `time in mcr ${r.timeInMcrNanos} ns`).to.equal(true);
        // The first 128 bytes of the frame as it arrived: IPv4, from the source, to the group and port.
        expect(r.frame.length, 'snap length').to.equal(128);
        expect(r.frame.readUInt16BE(12), 'ethertype').to.equal(0x0800);
        expect(r.frame.subarray(26, 30).join('.'), 'IPv4 source in the frame').to.equal(NET.src.address);
        expect(r.frame.subarray(30, 34).join('.'), 'IPv4 destination in the frame').to.equal(TRACED_IN.address);
        expect(r.frame.readUInt16BE(36), 'UDP destination port in the frame').to.equal(TRACED_IN.port);
        expect(r.outputs.map((o) => [o.index, o.interface, o.address, o.port]), summary).to.deep.equal([
          [0, REACHABLE.interface, REACHABLE.address, REACHABLE.port],
          [1, UNREACHABLE.interface, UNREACHABLE.address, UNREACHABLE.port],
          [2, FAILING.interface, FAILING.address, FAILING.port],
        ]);
        expect([r.outputs[0].result, r.outputs[0].error], `reachable output; ${summary}`).to.deep.equal([OutputResult.OUTPUT_RESULT_SENT, '']);
        expect([[OutputResult.OUTPUT_RESULT_SENT, ''], [OutputResult.OUTPUT_RESULT_UNREACHABLE, 'ECONNREFUSED']], `closed port output; ${summary}`).to.deep.include([
          r.outputs[1].result,
          r.outputs[1].error,
        ]);
        expect([r.outputs[2].result, r.outputs[2].error], `failing output; ${summary}`).to.deep.equal([OutputResult.OUTPUT_RESULT_ERROR, 'EACCES']);
      }
      const stamps = records.map((r) => r.timestampUnixNanos);
      expect(stamps.every((t, i) => i === 0 || t >= stamps[i - 1]), 'oldest first').to.equal(true);

      // The closed port refused some sends (each ICMP port unreachable fails the next send), and the
      // trace saw exactly the refusals the output's counters counted.
      const refused = count(records, (r) => r.outputs[1].result === OutputResult.OUTPUT_RESULT_UNREACHABLE);
      expect(refused, 'records whose send to the closed port was refused').to.be.above(0);
      const [stats] = await relay.client.getStats(tracedId);
      expect(stats.packetsReceived, 'every packet of the rule was traced').to.equal(BigInt(packets));
      expect(stats.outputs[1].errorsUnreachable, 'refusals counted = refusals traced').to.equal(BigInt(refused));
      expect(stats.outputs[2].errorsOther, 'every send to the broadcast address failed').to.equal(BigInt(packets));

      // Both subscribers got the same records, live, and nothing of the other rule.
      await waitFor('every record on both subscribers', async () => [all.records().length, only.records().length], (n) => n.every((c) => c >= packets), 5000);
      for (const w of [all, only]) {
        expect(w.records().length).to.equal(packets);
        expect(new Set(w.records().map((r) => r.ruleId))).to.deep.equal(new Set([tracedId]));
        expect(w.lost()).to.equal(0n);
        expect(w.records().map((r) => r.timestampUnixNanos)).to.deep.equal(stamps);
      }

      const stopped = await relay.client.disableTrace(tracedId);
      expect(stopped).to.include({ state: TraceState.TRACE_STATE_STOPPED, records: BigInt(packets) });
      await all.statusReached(tracedId, TraceState.TRACE_STATE_STOPPED);
      expect((await relay.client.getTrace(tracedId)).records, 'records stay readable once stopped').to.have.length(packets);
      expect((await relay.client.listTraces()).map((s) => [s.ruleId, s.state])).to.deep.equal([[tracedId, TraceState.TRACE_STATE_STOPPED]]);
      await waitForWorkersInSync(relay.client, WORKERS);
    } finally {
      all.cancel();
      only.cancel();
    }
  });

  it('switches itself off at its record limit, and the workers stop tracing', async function () {
    const w = await watcher(relay.client, [tracedId]);
    try {
      await relay.client.enableTrace(tracedId, { recordLimit: 50 });
      await traffic(500, 1000, 72, { alone: true });
      const done = await w.statusReached(tracedId, TraceState.TRACE_STATE_RECORD_LIMIT);
      expect(done.records).to.equal(50n);
      const { status, records } = await relay.client.getTrace(tracedId);
      expect([status!.state, status!.records, records.length]).to.deep.equal([TraceState.TRACE_STATE_RECORD_LIMIT, 50n, 50]);
      expect(w.records(), 'records on the subscriber before the limit').to.have.length(50);
      const order = w.events.map((e) => (e.event.status ? TraceState[e.event.status.state] : 'records'));
      expect(order.at(-1), 'the limit is announced after the last record').to.equal('TRACE_STATE_RECORD_LIMIT');
      // The workers' tables no longer trace the rule: their reported hashes match the untraced rule set.
      await waitForWorkersInSync(relay.client, WORKERS);
    } finally {
      w.cancel();
    }
  });

  it('switches itself off at its time limit', async function () {
    const limitMs = 1500;
    let started: TraceStatus | undefined;
    await traffic(3000, 1000, 73, {
      alone: true,
      during: async () => {
        await sleep(300);
        started = await relay.client.enableTrace(tracedId, { timeLimitMs: limitMs, recordLimit: 100_000 });
      },
    });
    const { status, records } = await waitFor(
      'the trace to stop at its time limit',
      () => relay.client.getTrace(tracedId),
      (t) => t.status!.state !== TraceState.TRACE_STATE_RUNNING,
      10_000,
    );
    expect(status!.state, describeValue(status)).to.equal(TraceState.TRACE_STATE_TIME_LIMIT);
    const ranMs = Number(status!.stoppedUnixNanos - started!.startedUnixNanos) / 1e6;
    expect(ranMs, 'ran for (ms)').to.be.within(limitMs - 50, limitMs + 1000);
    // About 1.5 s of a 3 s stream at 1000 pps.
    expect(records.length, 'records while it ran').to.be.within(500, 2500);
    // Each record was read before mcrd took it, and mcrd took none after the stop (whose time has
    // millisecond resolution).
    const latest = records.reduce((max, r) => (r.timestampUnixNanos > max ? r.timestampUnixNanos : max), 0n);
    expect(latest < status!.stoppedUnixNanos + 1_000_000n, `no record after it stopped: last ${latest}, stopped ${status!.stoppedUnixNanos}`).to.equal(true);
    await waitForWorkersInSync(relay.client, WORKERS);
  });

  it('sampling 1 in 10 keeps about a tenth of the packets', async function () {
    const packets = 2000;
    await relay.client.enableTrace(tracedId, { sampleEvery: 10, recordLimit: packets });
    await traffic(packets, 1000, 74, { alone: true });
    await sleep(1000); // the last records on their way
    const { status, records } = await relay.client.getTrace(tracedId);
    expect(status).to.include({ state: TraceState.TRACE_STATE_RUNNING, sampleEvery: 10 });
    expect(records.length, `records of ${packets} packets sampled 1 in 10`).to.be.within(packets * 0.05, packets * 0.15);
    await relay.client.disableTrace(tracedId);
  });

  it('asks the kernel for receive times on a traced rule\'s capture socket only while it is traced', async () => {
    const workers = await relay.client.listWorkers();
    const stamped = async () => Object.fromEntries(await Promise.all(workers.map(async (w) => [w.index, Object.values(await receiveTimesOf(w.pid))] as const)));
    const before = await stamped();
    expect(before[tracedWorker], 'the traced worker\'s capture socket before the trace').to.deep.equal([false]);
    for (const w of workers) expect(before[w.index], `worker ${w.index}'s capture sockets untraced`).to.satisfy((on: boolean[]) => on.every((x) => !x));
    await relay.client.enableTrace(tracedId, { recordLimit: 10 });
    const during = await stamped();
    expect(during[tracedWorker], 'the traced worker\'s capture socket (one input interface)').to.deep.equal([true]);
    for (const w of workers) if (w.index !== tracedWorker) expect(during[w.index], `worker ${w.index} traces nothing`).to.satisfy((on: boolean[]) => on.every((x) => !x));
    await relay.client.disableTrace(tracedId);
    const after = await stamped();
    expect(after[tracedWorker], 'once the trace stopped').to.deep.equal([false]);
  });

  it('packets read in one batch each carry the kernel time of their own receipt', async function () {
    // The traced worker is stopped while the packets arrive, so that its data plane reads them all in
    // one batch once it runs again: their times and times in mcr must still be each their own.
    const worker = (await relay.client.listWorkers()).find((w) => w.index === tracedWorker)!;
    const sender = spawnIn(relay.topology.ns.src, ['python3', '-c', PACED_SENDER], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = readline.createInterface({ input: sender.stdout! })[Symbol.asyncIterator]();
    let gapsNs: number[] = [];
    try {
      expect((await lines.next()).value, 'the sender').to.equal('ready');
      await relay.client.enableTrace(tracedId, { recordLimit: 100 });
      const startNs = BigInt(Date.now()) * 1_000_000n;
      process.kill(worker.pid, 'SIGSTOP');
      let stoppedMs = 0;
      try {
        const stoppedAt = Date.now();
        await waitFor(`worker ${worker.pid} stopped, every thread`, async () => threadStates(worker.pid), (states) => states.every((state) => state === 'T'), 5_000);
        sender.stdin!.write('go\n');
        gapsNs = JSON.parse((await lines.next()).value as string) as number[];
        await sleep(50);
        stoppedMs = Date.now() - stoppedAt;
      } finally {
        process.kill(worker.pid, 'SIGCONT');
      }
      const { records } = await waitFor(
        `${PACED_PACKETS} records`,
        () => relay.client.getTrace(tracedId),
        (t) => t.records.length >= PACED_PACKETS,
        10_000,
      );
      const paced = records.filter((r) => r.timestampUnixNanos >= startNs).sort((a, b) => Number(a.timestampUnixNanos - b.timestampUnixNanos));
      expect(paced.map((r) => r.frame[ETHERNET_HEADER + IP_UDP_HEADERS]), 'the paced packets, in order').to.deep.equal([...Array(PACED_PACKETS).keys()]);
      const times = paced.map((r) => r.timestampUnixNanos);
      const summary = describeValue({ gapsNs, times, inMcr: paced.map((r) => r.timeInMcrNanos), stoppedMs });
      paced.slice(1).forEach((r, i) => {
        const gapNs = r.timestampUnixNanos - paced[i].timestampUnixNanos;
        expect(Number(gapNs), `packet ${i + 1}: ${gapNs} ns after the one before, sent ${gapsNs[i]} ns after it; ${summary}`).to.be.above(300_000);
        // Read and sent in one batch: a later packet spent exactly that much less time in mcr.
        expect(paced[i].timeInMcrNanos - r.timeInMcrNanos, `packet ${i + 1}'s time in mcr; ${summary}`).to.equal(gapNs);
      });
      const spanNs = Number(times[times.length - 1] - times[0]);
      const sentSpanNs = gapsNs.reduce((sum, gap) => sum + gap, 0);
      expect(Math.abs(spanNs - sentSpanNs), `first to last: ${spanNs} ns, sent over ${sentSpanNs} ns; ${summary}`).to.be.below(1_000_000);
      expect(Number(paced[0].timeInMcrNanos) / 1e6, `the first packet waited for the stopped worker (ms); ${summary}`).to.be.above(40);
      await relay.client.disableTrace(tracedId);
    } finally {
      sender.kill();
    }
  });

  it('a subscriber that stops reading loses records and is told how many; memory stays bounded; another stays on time', async function () {
    const SLOW = 12;
    const rate = 4000;
    const seconds = 6;
    const packets = rate * seconds;
    const payload = 1400;
    const frameBytes = ETHERNET_HEADER + IP_UDP_HEADERS + payload;
    /**
     * How far mcrd's RSS may grow: the trace's own buffer (3.5 MiB encoded), each subscriber's bounded
     * queue and stream buffers, and the collector's slack under 4000 traced packets/s of garbage
     * (40-75 MB over this stream, measured; with forced collections the heap stays flat, and the
     * queue bound itself is checked exactly by test/unit/trace-manager.test.ts).
     */
    const RSS_BOUND = 128 << 20;
    const MAX_GAP_MS = 1000;
    const MB = (bytes: number) => `${(bytes / (1 << 20)).toFixed(1)} MB`;

    const mcrd = relay.mcrd;
    const healthyClient = new McrClient(mcrd.socketPath, { ownConnection: true });
    const healthy = await watcher(healthyClient, [tracedId]);
    const slowClients: McrClient[] = [];
    const slow: Watcher[] = [];
    try {
      for (let i = 0; i < SLOW; i++) {
        // Each on its own connection, paused after its first event (the RUNNING status): once its
        // buffers and HTTP/2 window are full, mcrd cannot write to it.
        const client = new McrClient(mcrd.socketPath, { ownConnection: true });
        const w = new Watcher(client, [tracedId]);
        w.call.once('data', () => w.call.pause());
        slowClients.push(client);
        slow.push(w);
      }
      await sleep(500);
      const baseline = mcrd.residentBytes();
      await relay.client.enableTrace(tracedId, { snapLength: 2048, recordLimit: 100_000, timeLimitMs: 120_000 });
      await healthy.statusReached(tracedId, TraceState.TRACE_STATE_RUNNING);

      const rss: Array<{ atMs: number; bytes: number }> = [];
      let startMs = 0;
      let endMs = 0;
      await traffic(packets, rate, 75, {
        alone: true,
        size: payload,
        during: async (senderDone: () => boolean) => {
          startMs = Date.now();
          while (!senderDone()) {
            rss.push({ atMs: Date.now() - startMs, bytes: mcrd.residentBytes() });
            await sleep(500);
          }
          endMs = Date.now();
          await sleep(500); // the last records on their way
          rss.push({ atMs: Date.now() - startMs, bytes: mcrd.residentBytes() });
        },
      });
      const { status } = await relay.client.getTrace(tracedId);
      const traced = Number(status!.records);
      expect(traced, `records traced; ${describeValue(status)}`).to.be.at.least(packets * 0.9);

      // The subscriber that reads got (nearly) everything, without long pauses while traffic flowed.
      const arrivals = healthy.events.filter((e) => e.event.records.length > 0 && e.atMs >= startMs && e.atMs <= endMs).map((e) => e.atMs);
      const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]);
      expect(healthy.records().length, `records on the reading subscriber (lost ${healthy.lost()})`).to.be.at.least(traced * 0.95);
      expect(Math.max(...gaps), 'longest pause between its events while traffic flowed (ms)').to.be.below(MAX_GAP_MS);

      // mcrd's memory stayed bounded.
      const growth = rss.map((r) => `+${r.atMs} ms: ${MB(r.bytes - baseline)}`).join(', ');
      const peak = Math.max(...rss.map((r) => r.bytes));
      expect(peak - baseline, `mcrd RSS growth (baseline ${MB(baseline)}): ${growth}`).to.be.below(RSS_BOUND);

      // A slow subscriber that reads again is told how many records it lost: nearly all of them.
      const resumed = slow[0];
      resumed.call.resume();
      await waitFor('the resumed subscriber to report lost records', async () => resumed.lost(), (lost) => lost > 0n, 10_000);
      await sleep(1000);
      const lost = Number(resumed.lost());
      const got = resumed.records().length;
      expect(got + lost, `records received (${got}) + lost (${lost}) by the resumed subscriber`).to.equal(traced);
      expect(got, 'records it could still get: its queue and what was in flight').to.be.below(traced / 4);
      // Writing to the slow streams regardless of backpressure would have had each of them serialize
      // and buffer its own copy of every record it lost: far more than mcrd may grow by.
      expect(lost * frameBytes * SLOW, `frame bytes ${SLOW} unbounded streams would have buffered`).to.be.above(2 * RSS_BOUND);
    } finally {
      healthy.cancel();
      for (const w of slow) w.cancel();
      healthyClient.close();
      for (const client of slowClients) client.close();
      await relay.client.disableTrace(tracedId).catch(() => undefined);
    }
  });
});
