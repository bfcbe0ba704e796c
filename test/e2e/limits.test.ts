/**
 * Limits (issue 9): each configured low, reached, answered RESOURCE_EXHAUSTED, and mcrd stays
 * healthy (health SERVING, a normal call still works, nothing half-applied).
 */
import { expect } from 'chai';

import { connect, McrClient, McrStream } from '../../clients/lib';
import { useRelay } from '../support/fixture';
import { grpcCode } from '../support/grpc';
import { NET } from '../support/netns';

const LIMITS = {
  '--max-rules': 3,
  '--max-outputs-per-rule': 2,
  '--max-stats-watchers': 2,
  '--max-traced-rules': 1,
  '--max-trace-watchers': 1,
  '--max-trace-records': 10,
  '--max-request-bytes': 4096,
  '--max-streams': 4,
};

/** The first message of a stream (or its error). */
function firstOf<T>(stream: McrStream<T>): Promise<IteratorResult<T>> {
  return stream[Symbol.asyncIterator]().next();
}

const rule = (port: number, outputs = 1) => ({
  rule: {
    name: `r${port}`,
    input: { interface: NET.relayIn.ifname, group: '239.1.1.1', port },
    outputs: Array.from({ length: outputs }, (_, i) => ({ interface: NET.relayOut1.ifname, address: '239.9.9.9', port: 6000 + i })),
  },
});

describe('e2e: limits answer RESOURCE_EXHAUSTED and leave mcrd healthy', function () {
  this.timeout(60_000);
  const relay = useRelay({ workers: 1, extraArgs: Object.entries(LIMITS).flatMap(([flag, value]) => [flag, String(value)]) });
  let client: McrClient;
  const streams: Array<McrStream<unknown>> = [];

  before(() => {
    client = connect({ socket: relay.mcrd.socketPath });
  });
  afterEach(async function () {
    for (const stream of streams.splice(0)) stream.cancel();
    expect(await relay.client.healthStatus(), 'health after the test').to.equal('SERVING');
    expect(await grpcCode(client.getVersion({})), 'a normal call after the test').to.equal('OK');
  });
  after(() => client.close());

  it('rules (--max-rules) and outputs per rule (--max-outputs-per-rule)', async function () {
    expect(await grpcCode(client.createRule(rule(5000, 3)))).to.equal('RESOURCE_EXHAUSTED');
    for (const port of [5001, 5002, 5003]) await client.createRule(rule(port, 2));
    const before = await client.listRules({});
    expect(await grpcCode(client.createRule(rule(5004)))).to.equal('RESOURCE_EXHAUSTED');
    expect(await grpcCode(client.applyRules({ rules: [...before.rules, rule(5005).rule], replace: false }))).to.equal('RESOURCE_EXHAUSTED');
    const after = await client.listRules({});
    expect(after.storeGeneration, 'nothing applied').to.equal(before.storeGeneration);
  });

  it('traced rules (--max-traced-rules) and trace records (--max-trace-records)', async function () {
    expect(await grpcCode(client.enableTrace({ rule: 'r5001', recordLimit: 11 }))).to.equal('RESOURCE_EXHAUSTED');
    await client.enableTrace({ rule: 'r5001', recordLimit: 10 });
    expect(await grpcCode(client.enableTrace({ rule: 'r5002', recordLimit: 5 }))).to.equal('RESOURCE_EXHAUSTED');
    await client.disableTrace({ rule: 'r5001' });
    await client.enableTrace({ rule: 'r5002', recordLimit: 5 });
    await client.disableTrace({ rule: 'r5002' });
  });

  it('stats watchers (--max-stats-watchers) and trace watchers (--max-trace-watchers)', async function () {
    for (let i = 0; i < 2; i++) {
      const stream = client.watchStats({ intervalMs: 100 });
      streams.push(stream);
      await firstOf(stream);
    }
    const third = client.watchStats({ intervalMs: 100 });
    streams.push(third);
    expect(await grpcCode(firstOf(third))).to.equal('RESOURCE_EXHAUSTED');
    for (const stream of streams.splice(0)) stream.cancel();

    const traces = client.watchTraces({});
    streams.push(traces);
    await client.enableTrace({ rule: 'r5001', recordLimit: 1, timeLimitMs: 100 });
    await firstOf(traces); // the status event of the trace just enabled
    const second = client.watchTraces({});
    streams.push(second);
    expect(await grpcCode(firstOf(second))).to.equal('RESOURCE_EXHAUSTED');
  });

  it('server streams of every kind together (--max-streams)', async function () {
    for (let i = 0; i < 4; i++) {
      const stream = client.watchEvents({});
      streams.push(stream);
    }
    await new Promise((resolve) => setTimeout(resolve, 300)); // the four are open on the server
    const fifth = client.watchEvents({});
    streams.push(fifth);
    expect(await grpcCode(firstOf(fifth))).to.equal('RESOURCE_EXHAUSTED');
    for (const stream of streams.splice(0)) stream.cancel();
    await new Promise((resolve) => setTimeout(resolve, 300)); // closed streams are counted out
    const again = client.watchStats({ intervalMs: 100 });
    streams.push(again);
    expect(await grpcCode(firstOf(again)), 'a stream once others closed').to.equal('OK');
  });

  it('request size (--max-request-bytes)', async function () {
    const huge = rule(5009);
    huge.rule.name = 'n'.repeat(5000);
    expect(await grpcCode(client.createRule(huge))).to.equal('RESOURCE_EXHAUSTED');
  });
});
