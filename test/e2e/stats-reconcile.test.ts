/**
 * Counters that reconcile to the packet (issue 15 point 4): N packets through an event that used to
 * lose or double counts, then, exactly,
 *   - every output's SENT == what its receiver got, and
 *   - the rules' RECEIVED (summed) == the frames the worker took from its input socket.
 * The events: an output deleted right after the stream, the rule deleted right after it, the worker
 * killed with SIGKILL mid-stream, and the worker stopped (SIGSTOP) mid-stream so that the supervisor
 * restarts it. One worker, so that every rule is on it; traffic inside the test's namespaces, bounded.
 */
import { expect } from 'chai';

import type { InputStats, RuleStats } from '../../gen/mcr/v1/stats';
import { useRelay } from '../support/fixture';
import { runsAgainInSync, sampleWorker, workerEntry } from '../support/faults';
import type { RuleSpec } from '../support/grpc';
import { NET } from '../support/netns';
import { describeValue, sleep, waitFor } from '../support/poll';
import { waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { endpointIn, runStreams, StreamsResult } from '../support/streams';
import { receivedStream } from '../support/traffic';

const SIZE = 200;
const RATE = 1000;
const PACKETS = 3000;
/** How long the counters are watched after the event for a late change (a double count, a loss). */
const WATCH_MS = 2500;

interface Out {
  sink: 'sink1' | 'sink2';
  interface: string;
  address: string;
  port: number;
}
const OUT1: Out = { sink: 'sink1', interface: NET.relayOut1.ifname, address: '239.8.1.1', port: 6001 };
const OUT2: Out = { sink: 'sink2', interface: NET.relayOut2.ifname, address: '239.8.1.2', port: 6002 };

describe('e2e: counters reconcile with what receivers got', function () {
  this.timeout(180_000);
  const relay = useRelay({ workers: 1, extraArgs: ['--test-hooks'] });
  let group = 0;

  /** A rule on a fresh group sending to `outs`, installed. */
  async function ruleTo(name: string, outs: Out[]): Promise<{ id: string; input: { address: string; port: number } }> {
    const input = { address: `239.7.0.${++group}`, port: 5000 + group };
    const spec: RuleSpec = {
      name,
      input: { interface: NET.relayIn.ifname, group: input.address, port: input.port },
      outputs: outs.map(({ interface: iface, address, port }) => ({ interface: iface, address, port })),
    };
    const rule = await relay.client.createRule(spec);
    await waitForRuleState(relay.client, rule.id);
    await waitForWorkersInSync(relay.client, 1);
    return { id: rule.id, input };
  }

  let lastInputs: InputStats[] = [];
  async function frames(): Promise<bigint> {
    lastInputs = (await relay.client.getWorkerStats()).filter((i) => i.interface === NET.relayIn.ifname);
    return lastInputs.reduce((sum, i) => sum + i.frames, 0n);
  }

  async function stats(): Promise<RuleStats[]> {
    return relay.client.getStats();
  }

  /** Sends PACKETS on each input to the rules' outputs; `during` runs while the sender runs. */
  function stream(flows: Array<{ input: { address: string; port: number }; outs: Out[] }>, seed: number, during?: (done: () => boolean) => Promise<void>): Promise<StreamsResult> {
    const sinks: Partial<Record<Out['sink'], Array<ReturnType<typeof endpointIn>>>> = {};
    for (const flow of flows) for (const o of flow.outs) (sinks[o.sink] ??= []).push(endpointIn(o.sink, o.address, o.port));
    return runStreams(relay.topology, {
      flows: flows.map((f, i) => ({ ...f.input, count: PACKETS, size: SIZE, seed: seed + i })),
      rate: RATE,
      sinks,
      graceAfterSendMs: 2000,
      during,
    });
  }

  const got = (result: StreamsResult, o: Out): number => receivedStream(result.received[o.sink]!, o.address, o.port).received;

  /** The counters stay put for WATCH_MS (no late double count) and satisfy `check` then. */
  async function settled(check: (rules: RuleStats[], frames: bigint) => void): Promise<void> {
    const first = await waitFor(
      'counters that reconcile',
      async () => ({ rules: await stats(), frames: await frames() }),
      ({ rules, frames: f }) => {
        try {
          check(rules, f);
          return true;
        } catch {
          return false;
        }
      },
      10_000,
      200,
    ).catch(async (err: Error) => {
      const rules = await stats();
      const f = await frames();
      check(rules, f); // fails with the precise difference
      throw err;
    });
    await sleep(WATCH_MS);
    const later = { rules: await stats(), frames: await frames() };
    expect(later.frames, 'input frames after the watch').to.equal(first.frames);
    check(later.rules, later.frames);
  }

  function received(rules: RuleStats[]): bigint {
    return rules.reduce((sum, r) => sum + r.packetsReceived, 0n);
  }

  it('an output deleted right after the stream: the other keeps its exact count, nothing counted twice', async function () {
    const framesBefore = await frames();
    const rule = await ruleTo('two-outputs', [OUT1, OUT2]);
    const result = await stream([{ input: rule.input, outs: [OUT1, OUT2] }], 10);
    const { rule: updated } = { rule: await relay.client.updateRule(rule.id, { outputs: [{ interface: OUT2.interface, address: OUT2.address, port: OUT2.port }] }, { updateMask: ['outputs'] }) };
    expect(updated.outputs.length).to.equal(1);
    await settled((rules, f) => {
      const r = rules.find((x) => x.ruleId === rule.id)!;
      expect(Number(r.outputs[0].packets), `SENT on ${OUT2.address} (now output 0) vs its receiver`).to.equal(got(result, OUT2));
      expect(r.packetsReceived, 'RECEIVED vs frames the worker read').to.equal(f - framesBefore);
    });
    await relay.client.deleteRule(rule.id);
  });

  it('a rule deleted right after the stream: the other rule and the input frames stay exact', async function () {
    const framesBefore = await frames();
    const kept = await ruleTo('kept', [OUT1]);
    const deleted = await ruleTo('deleted', [OUT2]);
    const result = await stream([{ input: kept.input, outs: [OUT1] }, { input: deleted.input, outs: [OUT2] }], 20);
    const last = (await stats()).find((r) => r.ruleId === deleted.id)!;
    expect(Number(last.outputs[0].packets), 'the deleted rule, before: SENT vs its receiver').to.equal(got(result, OUT2));
    await relay.client.deleteRule(deleted.id);
    await settled((rules, f) => {
      const r = rules.find((x) => x.ruleId === kept.id)!;
      expect(rules.some((x) => x.ruleId === deleted.id), 'the deleted rule is gone').to.equal(false);
      expect(Number(r.outputs[0].packets), 'SENT vs receiver').to.equal(got(result, OUT1));
      expect(r.packetsReceived + last.packetsReceived, 'RECEIVED of both rules vs frames the worker read').to.equal(f - framesBefore);
    });
    await relay.client.deleteRule(kept.id);
  });

  for (const fault of ['SIGKILL', 'SIGSTOP'] as const) {
    it(`a worker ${fault === 'SIGKILL' ? 'killed (SIGKILL)' : 'stopped (SIGSTOP) and restarted by mcrd'} mid-stream: what it counted is kept, exactly`, async function () {
      const framesBefore = await frames();
      const rule = await ruleTo(`fault-${fault}`, [OUT1, OUT2]);
      const before = await workerEntry(relay.client, 0);
      const result = await stream([{ input: rule.input, outs: [OUT1, OUT2] }], fault === 'SIGKILL' ? 30 : 40, async () => {
        await waitFor('the stream to be half way', () => stats(), (rules) => (rules.find((r) => r.ruleId === rule.id)?.packetsReceived ?? 0n) >= BigInt(PACKETS / 2), 10_000, 50);
        process.kill(before.pid, fault);
        await sampleWorker(relay.client, 0, runsAgainInSync(before.pid), { intervalMs: 50, timeoutMs: 10_000 });
      });
      expect(got(result, OUT1), 'packets after the restart reached the receiver').to.be.greaterThan(PACKETS / 2);
      await settled((rules, f) => {
        const r = rules.find((x) => x.ruleId === rule.id)!;
        const detail = describeValue(r);
        expect(Number(r.outputs[0].packets), `SENT on output 0 vs its receiver; ${detail}`).to.equal(got(result, OUT1));
        expect(Number(r.outputs[1].packets), `SENT on output 1 vs its receiver; ${detail}`).to.equal(got(result, OUT2));
        expect(r.packetsReceived, `RECEIVED vs frames the worker read; inputs ${describeValue(lastInputs)}`).to.equal(f - framesBefore);
        expect(lastInputs.every((i) => i.unmatched === 0n), 'no frame read before its rule was installed (unmatched)').to.equal(true);
      });
      await relay.client.deleteRule(rule.id);
    });
  }
});
