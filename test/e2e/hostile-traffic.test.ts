/**
 * Hostile traffic on an input: 10,000 malformed, foreign and random frames (test/support/
 * hostile-frames.ts) sent into in0 while two valid streams flow, one per worker, the frames aimed at
 * the rule of worker 0. Every valid packet of both streams is forwarded exactly once; the frames the
 * kernel capture filter admits are counted by the worker, each under its parse error, and nothing
 * else reaches it (frames read = the streams + the admitted frames; nothing unmatched, no kernel
 * drops); mcrd and its workers keep running, and their resident memory grows by less than 20 MB.
 */
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';

import { InputStats } from '../../gen/mcr/v1/stats';
import { WorkerState } from '../../gen/mcr/v1/system';
import { useRelay } from '../support/fixture';
import { McrClient } from '../support/grpc';
import { Fate, HOSTILE_KINDS, HostileTarget, PARSE_ERRORS, ParseError, randomFrame, ReceivePath, sendFrames, writeFrameFile } from '../support/hostile-frames';
import { NET } from '../support/netns';
import { PlacedFlow, placeFlowPerWorker } from '../support/placed-flows';
import { describeValue, waitFor } from '../support/poll';
import { waitForRulePackets } from '../support/rules';
import { SeededRandom } from '../support/seeded-random';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const WORKERS = 2;
const HOSTILE_FRAMES = 10_000;
/** Every this many hostile frames, one of random bytes; the others cycle through the kinds. */
const RANDOM_EVERY = 4;
const HOSTILE_RATE = 2500;
const PACKETS_PER_FLOW = 6000;
const STREAM_RATE = 2000; // both flows together: 6 s of traffic, the hostile frames in its middle
const WARM_UP_PACKETS = 1000;
const MAX_RSS_GROWTH_BYTES = 20 * 1024 * 1024;
const SEED = 9;

/** What the worker reads on in0, summed over the workers. */
interface InputCounters {
  frames: number;
  unmatched: number;
  kernelDrops: number;
  errors: Record<ParseError, number>;
}

async function inputCounters(client: McrClient): Promise<InputCounters> {
  const inputs: InputStats[] = (await client.getWorkerStats()).filter((input) => input.interface === NET.relayIn.ifname);
  const sum = (value: (input: InputStats) => bigint | undefined) => inputs.reduce((total, input) => total + Number(value(input) ?? 0n), 0);
  const errors = Object.fromEntries(PARSE_ERRORS.map((key) => [key, sum((input) => input.parseErrors?.[key])])) as Record<ParseError, number>;
  return { frames: sum((i) => i.frames), unmatched: sum((i) => i.unmatched), kernelDrops: sum((i) => i.kernelDrops), errors };
}

function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Resident memory of mcrd and of each worker, by label. */
async function memory(relay: { client: McrClient; mcrd: { residentBytes(): number } }): Promise<Record<string, number>> {
  const workers = await relay.client.listWorkers();
  return Object.fromEntries([['mcrd', relay.mcrd.residentBytes()], ...workers.map((w) => [`worker ${w.index}`, residentBytes(w.pid)])]);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** The hostile frames, in sending order, and how many of each fate they hold. */
function hostileFrames(target: HostileTarget, receive: ReceivePath): { frames: Buffer[]; fates: Record<Fate, number> } {
  const random = new SeededRandom(SEED);
  const fates = Object.fromEntries(['filtered', ...PARSE_ERRORS].map((fate) => [fate, 0])) as Record<Fate, number>;
  const frames: Buffer[] = [];
  for (let i = 0; i < HOSTILE_FRAMES; i++) {
    if (i % RANDOM_EVERY === RANDOM_EVERY - 1) {
      const { bytes, fate } = randomFrame(random, target, receive);
      frames.push(bytes);
      fates[fate]++;
    } else {
      const kind = HOSTILE_KINDS[(i - Math.floor(i / RANDOM_EVERY)) % HOSTILE_KINDS.length];
      frames.push(kind.build(target));
      fates[kind.fate]++;
    }
  }
  return { frames, fates };
}

describe('e2e: hostile traffic', function () {
  this.timeout(180_000);
  const relay = useRelay({ workers: WORKERS });
  let flows: PlacedFlow[];
  let target: HostileTarget;
  let receive: ReceivePath;
  let frameFile: string | null = null;

  before(async function () {
    flows = await placeFlowPerWorker(relay.client, WORKERS);
    const attacked = flows[0];
    target = { source: NET.src.address, group: attacked.input.address, port: attacked.input.port, otherGroup: '239.5.200.1', otherPort: 5999 };
    // Each worker's capture filter admits its own rule's (group, port).
    receive = new ReceivePath(flows.map((flow) => [{ group: flow.input.address, port: flow.input.port }]));
  });

  after(function () {
    if (frameFile) fs.rmSync(path.dirname(frameFile), { recursive: true, force: true });
  });

  it('the fate of every kind of frame is what the capture filter and the parser make of it', function () {
    const wrong = HOSTILE_KINDS.map((kind) => ({ kind: kind.name, table: kind.fate, model: receive.fateOf(kind.build(target)) })).filter((k) => k.table !== k.model);
    expect(wrong, 'kinds whose fate in HOSTILE_KINDS differs from the model').to.deep.equal([]);
    const fates = new Set(HOSTILE_KINDS.map((kind) => kind.fate));
    expect([...fates].sort(), 'the kinds reach the kernel filter and every parse error the filter lets through').to.deep.equal(
      ['badHeader', 'badLength', 'filtered', 'fragment', 'notUdp', 'truncated'],
    );
  });

  it(`forwards every valid packet exactly once among ${HOSTILE_FRAMES} hostile frames, counts what reaches the worker, keeps memory bounded`, async function () {
    const { client, topology } = relay;
    const { frames, fates } = hostileFrames(target, receive);
    frameFile = writeFrameFile(frames);
    const sinks = { sink1: flows.map((f) => endpointIn('sink1', f.output.address, f.output.port, PACKETS_PER_FLOW)) };
    const streamFlows = (count: number, seed: number) => flows.map((f, i) => ({ ...f.input, count, size: 200, seed: seed + i }));

    // Warm up (JIT, buffers, sockets) before the memory baseline.
    const warmUp = await runStreams(topology, { flows: streamFlows(WARM_UP_PACKETS, 100), rate: STREAM_RATE, sinks: { sink1: flows.map((f) => endpointIn('sink1', f.output.address, f.output.port, WARM_UP_PACKETS)) } });
    for (const f of flows) expectDelivered(warmUp, f.input, 'sink1', f.output);
    const memoryBefore = await memory(relay);
    const workersBefore = await client.listWorkers();
    const before = await inputCounters(client);
    const rulesBefore = await Promise.all(flows.map(async (f) => (await client.getStats(f.rule.id))[0]));

    let sendReport = { sent: 0, seconds: 0 };
    const result = await runStreams(topology, {
      flows: streamFlows(PACKETS_PER_FLOW, 200),
      rate: STREAM_RATE,
      sinks,
      during: async (senderDone) => {
        for (const [i, f] of flows.entries()) await waitForRulePackets(client, f.rule.id, Number(rulesBefore[i].packetsReceived) + 200, 20_000);
        sendReport = await sendFrames(topology.ns.src, NET.src.ifname, frameFile!, HOSTILE_RATE, 30);
        expect(senderDone(), 'the valid streams were still flowing when the last hostile frame left').to.equal(false);
      },
    });
    expect(sendReport.sent, 'hostile frames sent').to.equal(HOSTILE_FRAMES);
    for (const f of flows) expectDelivered(result, f.input, 'sink1', f.output);

    // Counters reach mcrd asynchronously: wait for the expected frame count, then compare everything.
    const admitted = HOSTILE_FRAMES - fates.filtered;
    const expected: InputCounters = {
      frames: before.frames + flows.length * PACKETS_PER_FLOW + admitted,
      unmatched: before.unmatched,
      kernelDrops: before.kernelDrops,
      errors: Object.fromEntries(PARSE_ERRORS.map((key) => [key, before.errors[key] + (fates[key] ?? 0)])) as Record<ParseError, number>,
    };
    const counted = await waitFor(
      `in0 to count ${describeValue(expected)}`,
      () => inputCounters(client),
      (c) => c.frames >= expected.frames && PARSE_ERRORS.every((key) => c.errors[key] >= expected.errors[key]),
      15_000,
    );
    expect(counted, `what the workers read on in0 (hostile frames by fate: ${describeValue(fates)})`).to.deep.equal(expected);
    for (const [i, f] of flows.entries()) {
      const stats = (await client.getStats(f.rule.id))[0];
      expect([stats.packetsReceived - rulesBefore[i].packetsReceived, stats.packetsForwarded - rulesBefore[i].packetsForwarded], `rule of worker ${f.worker}: matched, forwarded`).to.deep.equal([
        BigInt(PACKETS_PER_FLOW),
        BigInt(PACKETS_PER_FLOW),
      ]);
    }

    // Nothing crashed or restarted; memory did not grow.
    expect(await client.healthStatus(2000)).to.equal('SERVING');
    const workersAfter = await client.listWorkers();
    expect(workersAfter.map((w) => [w.index, w.pid, w.state, w.restarts])).to.deep.equal(workersBefore.map((w) => [w.index, w.pid, WorkerState.WORKER_STATE_RUNNING, w.restarts]));
    const memoryAfter = await memory(relay);
    const growth = Object.entries(memoryAfter).map(([label, bytes]) => `${label} ${mb(memoryBefore[label])} -> ${mb(bytes)}`);
    process.stdout.write(`      hostile frames: ${describeValue(fates)} (sent in ${sendReport.seconds} s); resident memory: ${growth.join(', ')}\n`);
    for (const [label, bytes] of Object.entries(memoryAfter)) {
      expect(bytes - memoryBefore[label], `${label} resident memory growth (${growth.join(', ')})`).to.be.below(MAX_RSS_GROWTH_BYTES);
    }
  });
});
