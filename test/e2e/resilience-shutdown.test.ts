/**
 * Resilience: signals to mcrd under traffic. SIGHUP must leave it serving with the same workers and
 * the flow untouched. SIGTERM, while a flow runs and a client keeps calling the API (unary calls only,
 * no WatchStats), must take it down in order: calls refused with UNAVAILABLE from then on (none left
 * hanging), final counters logged, exit code 0 within 10 s, no worker left, the socket removed.
 */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';

import { useRelay } from '../support/fixture';
import { CallTimings, reportMeasured } from '../support/faults';
import { McrClient } from '../support/grpc';
import { NET } from '../support/netns';
import { sleep, waitFor } from '../support/poll';
import { ProcessTracker, workerProcessesOf } from '../support/processes';
import { waitForRulePackets, waitForRuleState } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const INPUT = { address: '239.4.0.1', port: 5000 };
const OUTPUT = { address: '239.9.4.1', port: 6000 };
const PACKETS = 3000;
const RATE = 1000;
/** mcrd must be gone this soon after SIGTERM. */
const SHUTDOWN_LIMIT_MS = 10_000;
/** A refused call must be refused at once, not after waiting out its deadline. */
const REFUSAL_LIMIT_MS = 1000;
const MAX_ROUNDS = 5000;

interface Answer {
  call: string;
  atUnixMs: number;
  ms: number;
  /** "OK", the health status, or the gRPC status name of the failure. */
  outcome: string;
}

/**
 * Calls the API round after round (GetRule, ListRules, ListWorkers, health) until `done()`, recording
 * every answer. Never throws: failures are answers too.
 */
async function callInLoop(client: McrClient, ruleId: string, done: () => boolean): Promise<Answer[]> {
  const answers: Answer[] = [];
  const timings = new CallTimings();
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['GetRule', () => client.getRule(ruleId)],
    ['ListRules', () => client.listRules()],
    ['ListWorkers', () => client.listWorkers()],
    ['Health', () => client.healthStatus()],
  ];
  for (let round = 0; round < MAX_ROUNDS && !done(); round++) {
    for (const [call, run] of calls) {
      let outcome: string;
      try {
        const result = await timings.time(call, run);
        outcome = typeof result === 'string' ? result : 'OK';
      } catch (err) {
        const code = (err as { code?: number }).code;
        outcome = code === undefined ? `error: ${(err as Error).message}` : status[code];
      }
      const timed = timings.calls[timings.calls.length - 1];
      answers.push({ call, atUnixMs: timed.atUnixMs, ms: timed.ms, outcome });
    }
    await sleep(5);
  }
  return answers;
}

describe('e2e: resilience: SIGHUP and SIGTERM to mcrd under traffic', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 2 });
  const processes = new ProcessTracker();
  let ruleId = '';

  before(async function () {
    const rule = await relay.client.createRule({
      name: 'shutdown-flow',
      input: { interface: NET.relayIn.ifname, group: INPUT.address, port: INPUT.port },
      outputs: [{ interface: NET.relayOut1.ifname, ...OUTPUT }],
    });
    ruleId = rule.id;
    await waitForRuleState(relay.client, ruleId);
  });

  function stream(seed: number, during: () => Promise<void>) {
    return runStreams(relay.topology, {
      flows: [{ ...INPUT, count: PACKETS, size: 200, seed }],
      rate: RATE,
      sinks: { sink1: [endpointIn('sink1', OUTPUT.address, OUTPUT.port, PACKETS)] },
      during: async () => {
        const counted = Number((await relay.client.getStats(ruleId))[0]?.packetsReceived ?? 0n);
        await waitForRulePackets(relay.client, ruleId, counted + 500, 20_000);
        await during();
      },
    });
  }

  it('SIGHUP leaves mcrd serving, with the same workers, and the flow loses nothing', async function () {
    const { client, mcrd } = relay;
    const before = (await client.listWorkers()).map((w) => [w.pid, w.restarts]);
    const result = await stream(700, async () => {
      mcrd.signal('SIGHUP');
      await sleep(500);
      expect(mcrd.running, 'mcrd still runs after SIGHUP').to.equal(true);
      expect(await client.healthStatus(), 'health after SIGHUP').to.equal('SERVING');
      expect((await client.getRule(ruleId)).id).to.equal(ruleId);
    });
    expectDelivered(result, INPUT, 'sink1', OUTPUT);
    expect((await client.listWorkers()).map((w) => [w.pid, w.restarts]), 'worker pids and restarts').to.deep.equal(before);
  });

  it('SIGTERM: calls refused with UNAVAILABLE, final counters logged, exit 0 within 10 s, no worker left, socket removed', async function () {
    const { mcrd } = relay;
    const mcrdPid = mcrd.pid!;
    processes.track(mcrdPid, 'mcrd');
    const workers = workerProcessesOf(mcrdPid);
    expect(workers, 'worker processes of mcrd').to.have.length(2);
    workers.forEach((w) => processes.track(w.pid, 'worker'));
    const caller = new McrClient(mcrd.socketPath);
    let answers: Answer[] = [];
    let signalledAt = 0;
    let exitedAfterMs = 0;

    try {
      await stream(800, async () => {
        let exited = false;
        const calling = callInLoop(caller, ruleId, () => exited);
        await sleep(200); // the loop is well under way
        signalledAt = Date.now();
        mcrd.signal('SIGTERM');
        const exit = await mcrd.waitForExit(SHUTDOWN_LIMIT_MS + 5000);
        exitedAfterMs = Date.now() - signalledAt;
        await sleep(200); // a few more rounds against the closed socket
        exited = true;
        answers = await calling;
        expect(exit, 'how mcrd ended on SIGTERM').to.deep.equal({ code: 0, signal: null, killed: false });
      });
    } finally {
      caller.close();
    }

    const served = answers.filter((a) => a.outcome === 'OK' || a.outcome === 'SERVING');
    const firstRefusal = answers.find((a) => !served.includes(a));
    const outcomes = [...new Set(answers.filter((a) => !served.includes(a)).map((a) => a.outcome))];
    reportMeasured('SIGTERM', { exitedAfterMs, calls: answers.length, served: served.length, refusedOutcomes: outcomes, slowestCallMs: Math.max(...answers.map((a) => a.ms)) });

    expect(exitedAfterMs, 'ms from SIGTERM to exit').to.be.at.most(SHUTDOWN_LIMIT_MS);
    const finalCounters = mcrd.logs().split('\n').filter((line) => line.includes('"final counters"'));
    expect(finalCounters.some((line) => line.includes(ruleId)), `a final counters line for ${ruleId} in:\n${finalCounters.join('\n')}`).to.equal(true);
    const totals = mcrd.logs().split('\n').find((line) => line.includes('"final counters of all rules"'));
    expect(totals, 'the final totals line').to.be.a('string');
    const forwarded = BigInt(JSON.parse(totals!).forwarded as string);
    expect(forwarded > 0n, `forwarded in the totals line ${totals}`).to.equal(true);
    expect(fs.existsSync(mcrd.socketPath), 'the socket file after exit').to.equal(false);
    await waitFor('no process left in the relay namespace', () => relay.topology.pids('relay'), (pids) => pids.length === 0, 5000, 50);
    await processes.expectAllGone(5000);

    // The calls: served until the shutdown began, then refused at once, as UNAVAILABLE, for good.
    expect(served.length, 'calls served before SIGTERM').to.be.greaterThan(0);
    expect(firstRefusal, 'a refused call').to.not.equal(undefined);
    expect(answers.filter((a) => a.atUnixMs > firstRefusal!.atUnixMs && served.includes(a)), 'calls served after the first refusal').to.deep.equal([]);
    expect(firstRefusal!.atUnixMs - signalledAt, 'ms from SIGTERM to the first refused call').to.be.at.most(REFUSAL_LIMIT_MS);
    const refusedOtherwise = answers.filter((a) => !served.includes(a) && a.outcome !== 'UNAVAILABLE' && a.outcome !== 'NOT_SERVING');
    expect(refusedOtherwise, 'calls refused other than with UNAVAILABLE (or health NOT_SERVING)').to.deep.equal([]);
    expect(answers.filter((a) => a.ms > REFUSAL_LIMIT_MS), `calls that took over ${REFUSAL_LIMIT_MS} ms`).to.deep.equal([]);
  });
});
