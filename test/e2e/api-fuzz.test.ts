/**
 * API property test: a few hundred pseudo-random invalid and edge-case RuleService requests
 * (test/support/api-fuzz/), a share of them corrupted at the protobuf wire level, sent to a real mcrd
 * as raw bytes. For every request:
 *   - the answer is what the request calls for: success for a valid one; for one with faults, the
 *     status of one of its faults; for bytes the strict deserializer refuses (not a well-formed
 *     message, a known field with the wrong wire type, a string that is not UTF-8), INVALID_ARGUMENT
 *     saying so (see wire-requests.ts); for other corrupted bytes, a documented refusal or a success.
 *     Never UNKNOWN, never INTERNAL, never a deadline;
 *   - nothing is half-applied: after a refusal ListRules (rules and store_generation) is exactly as
 *     before; after a success it differs by exactly the rule the request named;
 *   - mcrd keeps serving: health SERVING after each request; at the end the same worker processes,
 *     running, and no "request failed" (an unexpected exception in a handler) in mcrd's log.
 *
 * Also, without randomness: a refusal that quotes a 100,000-character value reaches the client.
 *
 * MCR_API_FUZZ_SEED=N repeats a run (the seed is printed when a test fails);
 * MCR_API_FUZZ_REQUESTS=N changes the number of requests (default 600).
 */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { WorkerState } from '../../gen/mcr/v1/system';
import { DEFAULT_RULE_LIMITS } from '../../server/rules/validate';
import { RuleRequestGenerator } from '../support/api-fuzz/rule-requests';
import { expectSameStore, StoreSnapshot, storeAfterSuccess } from '../support/api-fuzz/store-transitions';
import { createWithWidePort, decodeRequest, WireRequest, WireRequestBuilder } from '../support/api-fuzz/wire-requests';
import { useRelay } from '../support/fixture';
import { grpcFailure, McrClient, statusName } from '../support/grpc';
import { NET } from '../support/netns';
import { RawOutcome, RawUnaryClient } from '../support/raw-grpc';
import { SeededRandom, seedFromEnv } from '../support/seeded-random';

const SEED_VARIABLE = 'MCR_API_FUZZ_SEED';
const DEFAULT_REQUESTS = 600;
/** Share of generated requests corrupted at the wire level. */
const CORRUPT_SHARE = 0.3;
/** Every this many requests, one whose input port is a varint wider than 32 bits. */
const WIDE_PORT_EVERY = 40;

/** Statuses mcrd documents for refusing a rule request (DESIGN.md §3; UNAVAILABLE only while stopping). */
const DOCUMENTED_REFUSALS = [status.INVALID_ARGUMENT, status.NOT_FOUND, status.ALREADY_EXISTS, status.RESOURCE_EXHAUSTED, status.ABORTED];

function requestCount(): number {
  const text = process.env.MCR_API_FUZZ_REQUESTS;
  if (!text) return DEFAULT_REQUESTS;
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1) throw new Error(`MCR_API_FUZZ_REQUESTS must be a whole number >= 1, got ${JSON.stringify(text)}`);
  return count;
}

async function snapshot(client: McrClient): Promise<StoreSnapshot> {
  const { rules, storeGeneration } = await client.listRules();
  return { rules, generation: storeGeneration };
}

const codes = (list: status[]) => list.map(statusName).join(' or ');

/** Asserts the answer is the one the request calls for (the store is checked separately). */
function checkAnswer(request: WireRequest, outcome: RawOutcome, context: string): void {
  const { expect: expected } = request;
  if (outcome.ok) {
    expect(expected.kind === 'succeeds' || expected.kind === 'any', `succeeded, but should have been refused (${context})`).to.equal(true);
    return;
  }
  const { code, details } = outcome.error;
  const answer = `${statusName(code)} "${details.slice(0, 200)}"`;
  switch (expected.kind) {
    case 'succeeds':
      expect.fail(`a valid request was refused with ${answer} (${context})`);
      break;
    case 'refused':
      expect(expected.codes, `refused with ${answer}, expected ${codes(expected.codes)} (${context})`).to.include(code);
      break;
    case 'malformed':
      expect([code, details], `malformed bytes answered with ${answer} (${context})`).to.deep.equal([status.INVALID_ARGUMENT, expected.details]);
      break;
    case 'any':
      expect(DOCUMENTED_REFUSALS, `refused with ${answer}, not one of ${codes(DOCUMENTED_REFUSALS)} (${context})`).to.include(code);
      break;
  }
}

/** Counts answers by method and status, for the summary. */
class Tally {
  private readonly counts = new Map<string, number>();
  total = 0;
  /** Requests refused as malformed bodies (INVALID_ARGUMENT "request body is not a valid ..."). */
  malformed = 0;

  add(request: WireRequest, outcome: RawOutcome): void {
    const key = `${request.method} ${outcome.ok ? 'OK' : statusName(outcome.error.code)}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.total++;
    if (request.expect.kind === 'malformed') this.malformed++;
  }

  count(answer: string): number {
    return [...this.counts].filter(([key]) => key.endsWith(` ${answer}`)).reduce((sum, [, n]) => sum + n, 0);
  }

  toString(): string {
    return [...this.counts].sort(([a], [b]) => a.localeCompare(b)).map(([key, n]) => `${key}: ${n}`).join(', ');
  }
}

describe('e2e: API property test (random invalid and edge-case rule requests)', function () {
  this.timeout(600_000);
  const relay = useRelay({ workers: 2 });
  const seed = seedFromEnv(SEED_VARIABLE);
  const requests = requestCount();
  let raw: RawUnaryClient | null = null;

  before(function () {
    raw = new RawUnaryClient(relay.mcrd.socketPath);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`\napi-fuzz: repeat this run with ${SEED_VARIABLE}=${seed}\n`);
  });

  after(function () {
    raw?.close();
  });

  it('answers requests quoting a 100,000-character value, and their connection keeps working', async function () {
    // A connection of its own: should it wedge, the other tests' connection is not the one.
    const own = new McrClient(relay.mcrd.socketPath, { ownConnection: true });
    try {
      const huge = 'x'.repeat(100_000);
      const notFound = await grpcFailure(own.getRule(huge));
      expect(statusName(notFound.code), 'GetRule of a 100,000-character reference').to.equal('NOT_FOUND');
      const spec = { name: huge, input: { interface: 'fz0', group: '239.66.0.1', port: 5000 }, outputs: [{ interface: 'fz1', address: '239.66.0.2', port: 5000 }] };
      const invalid = await grpcFailure(own.createRule(spec));
      expect(statusName(invalid.code), 'CreateRule with a 100,000-character name').to.equal('INVALID_ARGUMENT');
      expect(await own.healthStatus(2000), 'health on the same connection').to.equal('SERVING');
    } finally {
      own.close();
    }
  });

  it(`answers ${requests} random requests as documented, never half-applies and keeps serving`, async function () {
    const { client, mcrd } = relay;
    const random = new SeededRandom(seed);
    const generator = new RuleRequestGenerator(random, DEFAULT_RULE_LIMITS.maxOutputsPerRule, {
      inputs: [NET.relayIn.ifname],
      outputs: [NET.relayOut1.ifname, NET.relayOut2.ifname],
    });
    const builder = new WireRequestBuilder(random);
    const workersBefore = await client.listWorkers();
    const tally = new Tally();

    let store = await snapshot(client);
    for (let i = 0; i < requests; i++) {
      const request =
        i % WIDE_PORT_EVERY === WIDE_PORT_EVERY - 1
          ? builder.raw('CreateRule', createWithWidePort(random, `239.99.${(i >> 8) & 0xff}.${i & 0xff}`), 'an input port given as a varint wider than 32 bits')
          : builder.build(generator.next(store.rules), CORRUPT_SHARE);
      const context = `request ${i}, seed ${seed}: ${request.description}`;
      const outcome = await raw!.call(request.path, request.bytes);
      tally.add(request, outcome);
      checkAnswer(request, outcome, context);

      const after = await snapshot(client);
      if (outcome.ok) {
        const expected = storeAfterSuccess(store, decodeRequest(request.method, request.bytes), outcome.response, context);
        expectSameStore(after, expected, `the store after the success of ${context}`);
      } else {
        expectSameStore(after, store, `nothing applied by the refused ${context}`);
      }
      store = after;
      expect(await client.healthStatus(2000), `health after ${context}`).to.equal('SERVING');
    }

    process.stdout.write(`      seed ${seed}: ${tally.total} requests; ${tally}\n`);
    // The run exercised both sides: valid requests that succeeded and malformed bytes.
    expect(tally.count('OK'), 'requests that succeeded').to.be.greaterThan(requests / 20);
    expect(tally.malformed, 'malformed requests').to.be.greaterThan(0);
    expect(tally.count('INTERNAL'), 'requests answered INTERNAL').to.equal(0);

    expect(mcrd.running, 'mcrd is running').to.equal(true);
    const workersAfter = await client.listWorkers();
    expect(workersAfter.map((w) => [w.index, w.pid, w.state]), 'the same workers, running').to.deep.equal(
      workersBefore.map((w) => [w.index, w.pid, WorkerState.WORKER_STATE_RUNNING]),
    );
    expect(mcrd.logs(), 'mcrd logged no failed request (an exception in a handler)').not.to.include('request failed');
  });
});
