/**
 * Counters across a worker crash: a worker is killed with SIGKILL while two streams flow. GetStats
 * totals sampled before, during and after its restart never decrease (every counter of every rule
 * and output), the worker comes back (RUNNING, one more restart, a new pid) and traffic resumes,
 * counted exactly from then on.
 */
import { expect } from 'chai';

import { InputStats, RuleStats } from '../../gen/mcr/v1/stats';
import { WorkerState } from '../../gen/mcr/v1/system';
import { useRelay } from '../support/fixture';
import { NET } from '../support/netns';
import { describeValue, sleep, waitFor } from '../support/poll';
import { createRuleOnWorker, waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const WORKERS = 2;
const FLOWS = [
  { input: { address: '239.1.1.1', port: 5000 }, output: { interface: NET.relayOut1.ifname, address: '239.9.9.9', port: 6000 }, sink: 'sink1' as const },
  { input: { address: '239.1.1.3', port: 5000 }, output: { interface: NET.relayOut2.ifname, address: '239.9.9.10', port: 6001 }, sink: 'sink2' as const },
];
/** Per flow, during the crash: 6 s at 1000 pps per flow. */
const PACKETS = 6000;
const RATE = 2000;
const SIZE = 400;
const SAMPLE_EVERY_MS = 150;

/** Every counter of every rule and output (and worker input, if given), by a name that says which. */
function counters(rules: readonly RuleStats[], inputs: readonly InputStats[] = []): Map<string, bigint> {
  const all = new Map<string, bigint>();
  for (const i of inputs) {
    const input = `input ${i.worker}/${i.interface}`;
    for (const field of ['frames', 'bytes', 'unmatched', 'kernelDrops'] as const) all.set(`${input} ${field}`, i[field]);
    for (const [reason, value] of Object.entries(i.parseErrors ?? {})) all.set(`${input} parseErrors.${reason}`, value as bigint);
  }
  for (const r of rules) {
    const rule = `rule ${r.ruleId}`;
    all.set(`${rule} packetsReceived`, r.packetsReceived);
    all.set(`${rule} bytesReceived`, r.bytesReceived);
    all.set(`${rule} packetsForwarded`, r.packetsForwarded);
    for (const [reason, value] of Object.entries(r.drops ?? {})) all.set(`${rule} drops.${reason}`, value as bigint);
    for (const o of r.outputs) {
      const output = `${rule} output ${o.index}`;
      all.set(`${output} packets`, o.packets);
      all.set(`${output} bytes`, o.bytes);
      all.set(`${output} errorsWouldBlock`, o.errorsWouldBlock);
      all.set(`${output} errorsUnreachable`, o.errorsUnreachable);
      all.set(`${output} errorsOther`, o.errorsOther);
    }
  }
  return all;
}

interface Sample {
  atMs: number;
  counters: Map<string, bigint>;
}

/**
 * Every counter that read lower than it had read before, or (for rules and outputs) vanished,
 * described. A worker's inputs are listed only while it runs: they may be missing for a while, but
 * must come back no lower than they were.
 */
function decreases(samples: readonly Sample[]): string[] {
  const found: string[] = [];
  const seen = new Map<string, { value: bigint; atMs: number }>();
  for (const sample of samples) {
    for (const [key, last] of seen) {
      const value = sample.counters.get(key);
      if (value === undefined && key.startsWith('rule ')) found.push(`${key} disappeared at +${sample.atMs} ms`);
      else if (value !== undefined && value < last.value) found.push(`${key} went from ${last.value} (+${last.atMs} ms) to ${value} (+${sample.atMs} ms)`);
    }
    for (const [key, value] of sample.counters) seen.set(key, { value, atMs: sample.atMs });
  }
  return found;
}

describe('e2e: counters across a worker restart', function () {
  this.timeout(180_000);
  const relay = useRelay({ workers: WORKERS });

  it('never go backwards while a worker is killed mid-stream, and the stream resumes', async function () {
    const { client } = relay;
    const rules: string[] = [];
    let victim = -1;
    for (const [i, flow] of FLOWS.entries()) {
      const { rule, worker } = await createRuleOnWorker(client, {
        name: `flow-${i}`,
        input: { interface: NET.relayIn.ifname, group: flow.input.address, port: flow.input.port },
        outputs: [flow.output],
      });
      await waitForRuleState(client, rule.id);
      rules.push(rule.id);
      if (i === 0) victim = worker;
    }
    const before = await waitForWorkersInSync(client, WORKERS);
    const target = before.find((w) => w.index === victim)!;
    expect(target.pid, 'pid of the worker to kill').to.be.greaterThan(0);

    const samples: Sample[] = [];
    const started = Date.now();
    let killedAtSample = -1;
    await runStreams(relay.topology, {
      flows: FLOWS.map((f, i) => ({ ...f.input, count: PACKETS, size: SIZE, seed: 60 + i })),
      rate: RATE,
      // No expected counts: packets that arrive while the worker is down are lost, by design.
      sinks: Object.fromEntries(FLOWS.map((f) => [f.sink, [endpointIn(f.sink, f.output.address, f.output.port)]])),
      graceAfterSendMs: 2000,
      during: async (senderDone) => {
        let doneSince = 0;
        // Until a second after the sender finished; bounded by the stream's own length in any case.
        while (Date.now() - started < 60_000 && (doneSince === 0 || Date.now() - doneSince < 1000)) {
          const [rulesNow, inputsNow] = await Promise.all([client.getStats(), client.getWorkerStats()]);
          samples.push({ atMs: Date.now() - started, counters: counters(rulesNow, inputsNow) });
          const first = samples[samples.length - 1].counters.get(`rule ${rules[0]} packetsReceived`) ?? 0n;
          if (killedAtSample < 0 && first >= 1500n) {
            process.kill(target.pid, 'SIGKILL');
            killedAtSample = samples.length - 1;
          }
          if (doneSince === 0 && senderDone()) doneSince = Date.now();
          await sleep(SAMPLE_EVERY_MS);
        }
      },
    });
    expect(killedAtSample, `the worker was killed mid-stream (samples: ${samples.length})`).to.be.at.least(0);
    expect(samples.length - killedAtSample, 'samples taken after the kill').to.be.greaterThan(10);
    const victimInputs = (s: Sample) => [...s.counters.keys()].filter((k) => k.startsWith(`input ${victim}/`)).length;
    expect(victimInputs(samples[0]), `inputs of worker ${victim} in the first sample`).to.be.greaterThan(0);
    expect(victimInputs(samples[samples.length - 1]), `inputs of worker ${victim} in the last sample`).to.be.greaterThan(0);
    const went = decreases(samples);
    expect(went, `counters that went backwards:\n${went.join('\n')}`).to.deep.equal([]);

    // The killed worker is back: running, one more restart, another process.
    const after = await waitFor(
      `worker ${victim} running again after SIGKILL`,
      () => client.listWorkers(),
      (list) => list.some((w) => w.index === victim && w.state === WorkerState.WORKER_STATE_RUNNING && w.pid > 0 && w.pid !== target.pid),
      15_000,
    );
    const revived = after.find((w) => w.index === victim)!;
    expect(revived.restarts, `restarts of worker ${victim}; ${describeValue(revived)}`).to.equal(target.restarts + 1);

    // Traffic resumed during the stream: the killed worker's rule counted well beyond what it had when killed.
    const key = `rule ${rules[0]} packetsReceived`;
    const atKill = samples[killedAtSample].counters.get(key)!;
    const atEnd = samples[samples.length - 1].counters.get(key)!;
    expect(atEnd - atKill > 1000n, `${key}: ${atKill} when killed, ${atEnd} at the end`).to.equal(true);

    // And from now on every packet is delivered and counted exactly, on top of the totals so far.
    await waitForWorkersInSync(client, WORKERS);
    const totals = counters(await client.getStats());
    const more = 1000;
    const result = await runStreams(relay.topology, {
      flows: FLOWS.map((f, i) => ({ ...f.input, count: more, size: SIZE, seed: 70 + i })),
      rate: RATE,
      sinks: Object.fromEntries(FLOWS.map((f) => [f.sink, [endpointIn(f.sink, f.output.address, f.output.port, more)]])),
    });
    for (const f of FLOWS) expectDelivered(result, f.input, f.sink, f.output);
    const final = await waitFor(
      `both rules to count ${more} more packets`,
      async () => counters(await client.getStats()),
      (c) => rules.every((id) => c.get(`rule ${id} packetsReceived`)! >= totals.get(`rule ${id} packetsReceived`)! + BigInt(more)),
      10_000,
    );
    for (const id of rules) {
      for (const field of ['packetsReceived', 'packetsForwarded', 'output 0 packets']) {
        const name = `rule ${id} ${field}`;
        expect(final.get(name)! - totals.get(name)!, `${name} after the restart`).to.equal(BigInt(more));
      }
    }
  });
});
