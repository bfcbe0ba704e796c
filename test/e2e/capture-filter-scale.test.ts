/**
 * The capture filter at scale (issue 15 part 7), through the real mcrd:
 * - eBPF (the default where the kernel takes it), SCALE_RULES rules on one input, far beyond what the
 *   classic program holds exactly: mcrd says (log, metric) it uses eBPF and never admits all
 *   multicast; frames of a configured (group, port) are forwarded; frames of unconfigured pairs never
 *   reach the worker (its input frames grow by exactly the configured ones, unmatched by 0).
 *   Installing the rules in pieces also grows the socket's map (replaced while traffic is admitted).
 * - eBPF, a rule added and then removed while another flow streams: the added flow is forwarded,
 *   after the removal its frames no longer reach the worker, and the streaming flow loses nothing.
 * - classic, forced with MCR_CAPTURE_FILTER=classic (the diagnostic): exact for a few rules; past its
 *   size it admits all multicast, so unconfigured frames reach the worker and are counted unmatched.
 *
 * SCALE_RULES is 6,000 by default; MCR_E2E_CAPTURE_RULES=20000 runs the 20,000. At 20,000
 * the forwarding check fails today for a reason outside the filter: the supervisor kills and
 * restarts the worker in a loop (setRules and heartbeats time out on a 20,000-rule table, issue 15
 * parts 1 and 5), so nothing is forwarded; the eBPF-in-use check passes. The filter itself is checked
 * with 20,000 pairs in the kernel by test/unit/ebpf-filter.test.ts.
 */
import { expect } from 'chai';

import { connect, McrClient as LibraryClient } from '../../clients/lib';
import { DeepPartial, Rule, RuleState } from '../../gen/mcr/v1/rules';
import { WorkerState } from '../../gen/mcr/v1/system';
import { parseIPv4, formatIPv4 } from '../../server/formats/addresses';
import { RelayContext, useRelay } from '../support/fixture';
import { httpGetIn } from '../support/http';
import { parsePrometheusText, sampleValue } from '../support/prometheus';
import { NET } from '../support/netns';
import { sleep, waitFor } from '../support/poll';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';
import { expectExactDelivery, receivedStream, SendReport, sendTraffic, sentFlow } from '../support/traffic';

const SCALE_RULES = Number(process.env.MCR_E2E_CAPTURE_RULES ?? 6000);
if (!Number.isInteger(SCALE_RULES) || SCALE_RULES < 2000 || SCALE_RULES > 100_000) throw new RangeError(`MCR_E2E_CAPTURE_RULES must be 2000..100000, got ${process.env.MCR_E2E_CAPTURE_RULES}`);
/** Rules per ApplyRules (replace: false), so each call stays well inside the API's deadline. */
const PIECE = 2_000;
/** Bound on installing all of them (the store is slow at this scale for now: issue 15 part 1). */
const INSTALL_TIMEOUT_MS = 600_000;
/** Rules installed for the run-time change test. */
const RUNTIME_RULES = 1000;
const OUTPUT = { address: '239.9.20.1', port: 6000 };
const ADDED_OUTPUT = { address: '239.9.20.2', port: 6002 };
const PACKETS = 2000;
const RATE = 1000;

/** Inside the relay namespace, whose loopback nobody else uses. */
const METRICS = '127.0.0.1:9464';

/** mcr_capture_filter_info's sample for these labels (scraped before rules exist: a scrape collects every rule's stats). */
async function filterInfo(relay: RelayContext, labels: Record<string, string>): Promise<number | undefined> {
  const response = await httpGetIn(relay.topology.ns.relay, `http://${METRICS}/metrics`);
  expect(response.status).to.equal(200);
  return sampleValue(parsePrometheusText(response.body), 'mcr_capture_filter_info', labels);
}

/** Rule i: 239.20.0.0 + i/2, ports 5000 and 5002; every rule sends to one output socket. */
function scaleRule(i: number): DeepPartial<Rule> {
  return {
    input: { interface: NET.relayIn.ifname, group: formatIPv4(parseIPv4('239.20.0.0')! + (i >> 1)), port: 5000 + 2 * (i & 1) },
    outputs: [{ interface: NET.relayOut1.ifname, ...OUTPUT }],
  };
}

const configured = (i: number) => ({ address: scaleRule(i).input!.group!, port: scaleRule(i).input!.port! });
/** Same group as a configured rule, a port no rule has. */
const UNCONFIGURED_PORT = { address: configured(1234).address, port: 5001 };
/** A group no rule has. */
const UNCONFIGURED_GROUP = { address: '239.21.0.1', port: 5000 };

/**
 * Calls that read or change per-rule state get long deadlines: at 20,000 rules GetWorkerStats and
 * ListWorkers take seconds for now (issue 15 parts 1 and 5 are making them fast).
 */
const CALL_TIMEOUT_MS = 120_000;

/** The worker's counters for in0 (one worker). */
async function inputCounters(mcr: LibraryClient): Promise<{ frames: number; unmatched: number }> {
  const inputs = (await mcr.getWorkerStats({})).inputs.filter((input) => input.interface === NET.relayIn.ifname);
  return { frames: inputs.reduce((n, i) => n + Number(i.frames), 0), unmatched: inputs.reduce((n, i) => n + Number(i.unmatched), 0) };
}

/** Installs rules [from, to) in pieces, each call bounded; returns the time it took. */
async function installRules(mcr: LibraryClient, from: number, to: number): Promise<number> {
  const start = Date.now();
  const pieces: string[] = [];
  for (let first = from; first < to; first += PIECE) {
    const rules = Array.from({ length: Math.min(PIECE, to - first) }, (_, k) => scaleRule(first + k));
    const called = Date.now();
    await mcr.applyRules({ rules, replace: false });
    pieces.push(((Date.now() - called) / 1000).toFixed(1));
  }
  if (pieces.length > 1) console.log(`      ApplyRules of ${PIECE} rules each took (s): ${pieces.join(', ')}`);
  return Date.now() - start;
}

/** Sends `count` packets to each destination from src (no sink: they are not to be forwarded). */
async function sendOnly(relay: RelayContext, destinations: Array<{ address: string; port: number }>, count: number): Promise<SendReport> {
  const report = await sendTraffic(relay.topology.ns.src, {
    flows: destinations.map((d, i) => ({ ...d, count, size: 200, seed: 40 + i })),
    interfaceAddress: NET.src.address,
    rate: RATE,
    maxSeconds: (destinations.length * count) / RATE + 10,
  });
  for (const flow of report.flows) expect(flow.sent, `${flow.address}:${flow.port} sent`).to.equal(count);
  return report;
}

/** Waits until the counters stop moving (the worker has read everything sent so far). */
async function settled(mcr: LibraryClient): Promise<{ frames: number; unmatched: number }> {
  let last = await inputCounters(mcr);
  for (;;) {
    await sleep(700);
    const now = await inputCounters(mcr);
    if (now.frames === last.frames) return now;
    last = now;
  }
}

/** Waits until the one worker runs the rule set mcrd expects it to have. */
function workerInSync(mcr: LibraryClient): Promise<unknown> {
  return waitFor(
    'the worker to hold the expected rule set',
    () => mcr.listWorkers({}),
    ({ workers }) => workers.length === 1 && workers[0].state === WorkerState.WORKER_STATE_RUNNING && workers[0].rulesetHash === workers[0].expectedRulesetHash,
    CALL_TIMEOUT_MS,
    250,
  );
}

describe(`e2e: capture filter at ${SCALE_RULES} rules (eBPF)`, function () {
  this.timeout(INSTALL_TIMEOUT_MS + 120_000);
  const relay = useRelay({ workers: 1, extraArgs: ['--max-rules', '100000', '--metrics', METRICS] });
  let mcr: LibraryClient;
  let exposed: number | undefined;

  before(async function () {
    this.timeout(INSTALL_TIMEOUT_MS + 30_000);
    exposed = await filterInfo(relay, { filter: 'ebpf', reason: 'supported' });
    mcr = connect({ socket: relay.mcrd.socketPath, timeoutMs: INSTALL_TIMEOUT_MS });
    const took = await installRules(mcr, 0, SCALE_RULES);
    await workerInSync(mcr);
    console.log(`      ${SCALE_RULES} rules installed in ${(took / 1000).toFixed(1)} s`);
    if (took > INSTALL_TIMEOUT_MS) throw new Error(`installing took ${took} ms, over the ${INSTALL_TIMEOUT_MS} ms bound`);
  });
  after(() => mcr?.close());

  it('uses the eBPF filter, says so once, and never falls back to admitting all multicast', function () {
    const logs = relay.mcrd.logs();
    if (/capture filter: eBPF refused/.test(logs)) this.skip(); // the kernel refuses it: the classic tests below cover that path
    expect(logs.match(/capture filter: eBPF hash map/g), 'one line saying which filter').to.have.lengthOf(1);
    expect(exposed, 'mcr_capture_filter_info{filter="ebpf",reason="supported"}').to.equal(1);
    expect(logs).not.to.match(/admitting all multicast/);
  });

  it('forwards a configured pair; frames of unconfigured pairs never reach the worker', async function () {
    if (/capture filter: eBPF refused/.test(relay.mcrd.logs())) this.skip();
    const before = await settled(mcr);
    await sendOnly(relay, [UNCONFIGURED_PORT, UNCONFIGURED_GROUP], PACKETS);
    const flow = configured(1234);
    const result = await runStreams(relay.topology, {
      flows: [{ ...flow, count: PACKETS, size: 200, seed: 7 }],
      rate: RATE,
      sinks: { sink1: [endpointIn('sink1', OUTPUT.address, OUTPUT.port, PACKETS)] },
    });
    expectDelivered(result, flow, 'sink1', OUTPUT);
    const after = await settled(mcr);
    expect(after.frames - before.frames, 'frames the worker read: only the configured flow').to.equal(PACKETS);
    expect(after.unmatched - before.unmatched, 'unmatched frames').to.equal(0);
  });
});

describe(`e2e: capture filter, a rule added and removed at run time (eBPF, ${RUNTIME_RULES} rules)`, function () {
  this.timeout(300_000);
  // Fewer rules than above: at several thousand rules the worker misses heartbeats under load and is
  // restarted for now (issue 15 parts 4-6), which would cut the stream this test watches.
  const relay = useRelay({ workers: 1 });
  let mcr: LibraryClient;

  before(async function () {
    mcr = connect({ socket: relay.mcrd.socketPath, timeoutMs: CALL_TIMEOUT_MS });
    await installRules(mcr, 0, RUNTIME_RULES);
    await workerInSync(mcr);
  });
  after(() => mcr?.close());

  it('a rule added and removed at run time changes what is admitted; a streaming flow loses nothing', async function () {
    if (/capture filter: eBPF refused/.test(relay.mcrd.logs())) this.skip();
    const streaming = configured(7);
    const added = { address: '239.22.0.1', port: 5004 };
    // Long enough to outlast the changes below, which wait on slow calls at this scale for now.
    const STREAM = 20_000;
    const BATCH = 500;
    let firstBatch: SendReport | undefined;
    // Counters are read before and after, not during the stream: at this scale a GetWorkerStats
    // keeps the worker busy for seconds for now, and under load it can miss heartbeats and be
    // restarted (issue 15 parts 4-6), which this test is not about.
    const before = await settled(mcr);
    const result = await runStreams(relay.topology, {
      flows: [{ ...streaming, count: STREAM, size: 200, seed: 9 }],
      rate: RATE,
      sinks: { sink1: [endpointIn('sink1', OUTPUT.address, OUTPUT.port, STREAM)], sink2: [endpointIn('sink2', ADDED_OUTPUT.address, ADDED_OUTPUT.port, BATCH)] },
      during: async (senderDone) => {
        await sleep(1000);
        const created = await mcr.createRule({
          rule: { input: { interface: NET.relayIn.ifname, group: added.address, port: added.port }, outputs: [{ interface: NET.relayOut2.ifname, ...ADDED_OUTPUT }] },
        });
        const id = created.rule!.id;
        await waitFor('the added rule to be active', () => mcr.getRule({ rule: id }), ({ rule }) => rule?.status?.state === RuleState.RULE_STATE_ACTIVE, CALL_TIMEOUT_MS, 250);
        await sleep(300); // the filter follows the table in the same sync
        firstBatch = await sendOnly(relay, [added], BATCH); // forwarded: sink2 expects them
        await mcr.deleteRule({ rule: id });
        await workerInSync(mcr);
        await sleep(300);
        await sendOnly(relay, [added], BATCH); // no longer admitted: they would count as unmatched
        expect(senderDone(), 'the changes happened while the flow streamed').to.equal(false);
      },
    });
    expectDelivered(result, streaming, 'sink1', OUTPUT);
    expectExactDelivery('sink2', sentFlow(firstBatch!, added.address, added.port), receivedStream(result.received.sink2!, ADDED_OUTPUT.address, ADDED_OUTPUT.port));
    const after = await settled(mcr);
    expect(after.unmatched - before.unmatched, 'frames of the removed rule that reached the worker').to.equal(0);
    expect(after.frames - before.frames, 'frames the worker read: the stream and the first batch').to.equal(STREAM + BATCH);
  });
});

describe('e2e: capture filter, classic forced (MCR_CAPTURE_FILTER=classic)', function () {
  this.timeout(600_000);
  const saved = process.env.MCR_CAPTURE_FILTER;
  // Before useRelay's hook, so that mcrd inherits it.
  before(() => {
    process.env.MCR_CAPTURE_FILTER = 'classic';
  });
  const relay = useRelay({ workers: 1, extraArgs: ['--max-rules', '100000', '--metrics', METRICS] });
  let mcr: LibraryClient;
  before(() => {
    if (saved === undefined) delete process.env.MCR_CAPTURE_FILTER;
    else process.env.MCR_CAPTURE_FILTER = saved;
    mcr = connect({ socket: relay.mcrd.socketPath, timeoutMs: CALL_TIMEOUT_MS });
  });
  after(() => mcr?.close());

  /** Frames of unconfigured pairs that reached the worker, counted unmatched. */
  async function unconfiguredReaching(): Promise<number> {
    const before = await settled(mcr);
    await sendOnly(relay, [UNCONFIGURED_PORT, UNCONFIGURED_GROUP], PACKETS);
    return (await settled(mcr)).unmatched - before.unmatched;
  }

  it('says classic was forced; exact for 10 rules, then all multicast past its size, still forwarding', async () => {
    const said = relay.mcrd.logs().split('\n').filter((line) => line.includes('capture filter: classic BPF'));
    expect(said, 'one line saying which filter').to.have.lengthOf(1);
    expect(said[0]).to.include('"reason":"forced"');
    expect(await filterInfo(relay, { filter: 'classic', reason: 'forced' }), 'mcr_capture_filter_info').to.equal(1);
    await installRules(mcr, 1230, 1240); // rule 1234 among them
    await workerInSync(mcr);
    expect(await unconfiguredReaching(), 'exact classic program').to.equal(0);

    await installRules(mcr, 0, 6000); // 3000 groups x 2 ports: more than 4096 instructions
    await workerInSync(mcr);
    expect(relay.mcrd.logs()).to.match(/admitting all multicast/);
    expect(await unconfiguredReaching(), 'coarse classic program: the data plane counts them').to.equal(2 * PACKETS);

    const flow = configured(1234);
    const result = await runStreams(relay.topology, {
      flows: [{ ...flow, count: PACKETS, size: 200, seed: 8 }],
      rate: RATE,
      sinks: { sink1: [endpointIn('sink1', OUTPUT.address, OUTPUT.port, PACKETS)] },
    });
    expectDelivered(result, flow, 'sink1', OUTPUT);
  });
});
