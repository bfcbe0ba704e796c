/**
 * The lists page end to end in process: the client library (its message size limit, its walks) over
 * gRPC against mcrd's own RuleService over a real rule store, and its StatsService over a collector
 * stand-in, at the worst case the message limits are computed for (server/api/message-limits.ts): a
 * full page of rules with 64 outputs, 63-character ids and names and a status reason at its cap, and
 * a full page of their counters at the largest values. The real mcrd is walked in
 * test/e2e/list-pages.test.ts.
 */
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { ListRulesRequest, ListRulesResponse, Rule, RuleServiceService, RuleState } from '../../gen/mcr/v1/rules';
import { GetStatsRequest, GetStatsResponse, RuleStats, StatsServiceService, WatchStatsResponse } from '../../gen/mcr/v1/stats';
import { connect, McrClient } from '../../clients/lib/client';
import { MAX_RESPONSE_BYTES as CLIENT_MAX_RESPONSE_BYTES } from '../../clients/lib/defaults';
import { errorDetails, McrCallError } from '../../clients/lib/errors';
import { collectStorePages, walkPages } from '../../clients/lib/pages';
import { wholeStatsUpdates } from '../../clients/lib/stats-updates';
import { MAX_PAGE_SIZE, MAX_RESPONSE_BYTES, PAGE_BUDGET_BYTES, REASON_MAX_BYTES } from '../../server/api/message-limits';
import { encodePageToken, queryFingerprint, sizeInList } from '../../server/api/paging';
import { filterQuery } from '../../server/api/rule-filter';
import { ruleService } from '../../server/api/rule-service';
import { PAGE_READING_REUSE_MS, statsService } from '../../server/api/stats-service';
import { acceptPreEncoded } from '../../server/api/pre-encoded';
import { EventBus } from '../../server/events/bus';
import type { Forwarder } from '../../server/forwarding/forwarder';
import type { StatsCollector } from '../../server/stats/collector';
import { RuleStore } from '../../server/rules/store';

const MAX_U64 = 0xffff_ffff_ffff_ffffn;
const OUTPUTS = 64;

/** A rule as large as validation allows: 63-character id and name, 15-byte interfaces, 15-character addresses, 64 outputs. */
function largestRule(i: number): Rule {
  const n = String(i).padStart(6, '0');
  return Rule.fromPartial({
    id: `${'i'.repeat(57)}${n}`,
    name: `${'n'.repeat(57)}${n}`,
    input: { interface: 'x'.repeat(15), group: `239.200.${100 + Math.floor(i / 10)}.${100 + (i % 10)}`, port: 65535, source: '100.100.100.100' },
    outputs: Array.from({ length: OUTPUTS }, (_, j) => ({ interface: 'y'.repeat(15), address: `239.255.${100 + j}.200`, port: 65535, ttl: 255, dscp: 63 })),
  });
}

/** The counters of `rule` at their largest values. */
function largestStats(rule: Rule): RuleStats {
  return RuleStats.fromPartial({
    ruleId: rule.id,
    name: rule.name,
    worker: 0xffff_ffff,
    packetsReceived: MAX_U64,
    bytesReceived: MAX_U64,
    packetsForwarded: MAX_U64,
    drops: { sendFailed: MAX_U64, noBuffer: MAX_U64, unreachable: MAX_U64, sendError: MAX_U64 },
    lastPacketUnixNanos: -1n,
    outputs: rule.outputs.map((o, index) => ({
      index: 0xffff_ffff - index,
      interface: o.interface,
      address: o.address,
      port: o.port,
      packets: MAX_U64,
      bytes: MAX_U64,
      errorsWouldBlock: MAX_U64,
      errorsUnreachable: MAX_U64,
      errorsOther: MAX_U64,
      packetsPerSecond: Math.PI * 1e9,
      bitsPerSecond: Math.PI * 1e12,
    })),
    packetsPerSecond: Math.PI * 1e9,
    bitsPerSecond: Math.PI * 1e12,
  });
}

describe('list pages through the client library', function () {
  this.timeout(120_000);
  let dir: string;
  let store: RuleStore;
  let server: grpc.Server;
  let client: McrClient;
  let states = new Map<string, RuleState>();
  let collections = 0;
  const RULES = MAX_PAGE_SIZE.ListRules + 20;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-pages-'));
    const socket = path.join(dir, 'mcr.sock');
    store = await RuleStore.open(path.join(dir, 'state'), { maxRules: 100_000, maxOutputsPerRule: OUTPUTS });
    await store.apply(Array.from({ length: RULES }, (_, i) => largestRule(i)), { replace: true }, 1_700_000_000_000_000_000n);
    // Every output failed: the longest reasons a forwarder gives, cut by the API to REASON_MAX_BYTES.
    const reason = Array.from({ length: OUTPUTS }, (_, j) => `output ${j} (yyyyyyyyyyyyyyy 239.255.${100 + j}.200:65535): socket: Operation not permitted`).join('; ');
    const forwarder = {
      sync: async () => undefined,
      syncChanges: async () => undefined,
      status: (rule: Rule) => ({ state: states.get(rule.id) ?? RuleState.RULE_STATE_ERROR, reason, worker: 0xffff_ffff, lastPacketUnixNanos: -1n }),
    } as unknown as Forwarder;
    const collector = {
      collect: async () => ({ rules: store.list().map(largestStats), inputs: [], collectedUnixNanos: BigInt(++collections) }),
    } as unknown as StatsCollector;
    server = new grpc.Server({ 'grpc.max_send_message_length': MAX_RESPONSE_BYTES });
    const gate = { closing: false };
    server.addService(acceptPreEncoded(RuleServiceService), ruleService({ store, forwarder, gate, events: new EventBus() }));
    server.addService(acceptPreEncoded(StatsServiceService), statsService({ store, collector, gate, ruleState: (rule) => forwarder.status(rule).state, maxWatchers: 4, pageReadingReuseMs: 60_000 }));
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    client = connect({ socket, timeoutMs: 30_000 });
  });

  after(() => {
    client?.close();
    server?.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    states = new Map();
  });

  it('the client library accepts exactly what mcrd sends at most', () => {
    expect(CLIENT_MAX_RESPONSE_BYTES).to.equal(MAX_RESPONSE_BYTES);
  });

  it(`a full page of the largest rules (${MAX_PAGE_SIZE.ListRules} with 64 outputs) fits in one message; a larger page_size counts as the maximum`, async () => {
    const page = await client.listRules({ pageSize: 1_000_000 });
    expect(page.rules).to.have.length(MAX_PAGE_SIZE.ListRules);
    expect(page.nextPageToken).to.not.equal('');
    const bytes = ListRulesResponse.encode(page).finish().length;
    expect(bytes, 'the page is near the limit: this is the worst case').to.be.above(0.95 * MAX_RESPONSE_BYTES);
    expect(bytes).to.be.at.most(MAX_RESPONSE_BYTES);
    expect(Buffer.byteLength(page.rules[0].status!.reason)).to.equal(REASON_MAX_BYTES);
    expect(page.rules[0].status!.reason).to.match(/\.\.\. \(cut\)$/);
    const rest = await client.listRules({ pageSize: 1_000_000, pageToken: page.nextPageToken });
    expect(rest.rules.map((r) => r.id)).to.deep.equal(store.list().slice(MAX_PAGE_SIZE.ListRules).map((r) => r.id));
    expect(rest.nextPageToken).to.equal('');
  });

  it('page_size 0 returns as many as fit in one message', async () => {
    const page = await client.listRules({});
    expect(page.rules.length).to.be.within(MAX_PAGE_SIZE.ListRules - 30, RULES - 1);
    expect(page.nextPageToken).to.not.equal('');
    expect(ListRulesResponse.encode(page).finish().length).to.be.at.most(MAX_RESPONSE_BYTES);
  });

  it(`a full page of the largest counters (${MAX_PAGE_SIZE.GetStats} rules of 64 outputs) fits in one message`, async () => {
    const page = await client.getStats({ pageSize: MAX_PAGE_SIZE.GetStats + 1 });
    expect(page.rules).to.have.length(MAX_PAGE_SIZE.GetStats);
    const bytes = GetStatsResponse.encode(page).finish().length;
    expect(bytes, 'near the limit').to.be.above(0.9 * MAX_RESPONSE_BYTES);
    expect(bytes).to.be.at.most(MAX_RESPONSE_BYTES);
  });

  it('a GetStats walk read within the reuse window is one reading; a first page reads anew', async () => {
    const before = collections;
    const walk = await client.getAllStats({ pageSize: 100 });
    expect(collections - before, 'one collection for 11 pages').to.equal(1);
    expect(walk.collectedUnixNanos).to.equal(BigInt(collections));
    const first = await client.getStats({ pageSize: 100 });
    expect(first.collectedUnixNanos, 'a first page reads anew').to.equal(BigInt(collections));
    expect(collections - before).to.equal(2);
  });

  it(`a page after the reuse window (${PAGE_READING_REUSE_MS} ms by default) reads anew`, async () => {
    const gate = { closing: false };
    const shortLived = statsService({ store, collector: { collect: async () => ({ rules: [], inputs: [], collectedUnixNanos: BigInt(++collections) }) } as unknown as StatsCollector,
      gate, ruleState: () => RuleState.RULE_STATE_ACTIVE, maxWatchers: 1, pageReadingReuseMs: 1000 });
    const getStats = (request: Partial<GetStatsRequest>) =>
      new Promise<GetStatsResponse>((resolve, reject) =>
        (shortLived.getStats as unknown as (call: unknown, cb: (err: unknown, res: GetStatsResponse) => void) => void)(
          { request: GetStatsRequest.fromPartial(request) },
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
    const first = await getStats({ pageSize: 10 });
    const token = encodePageToken('GetStats', queryFingerprint({ rule: '', filter: filterQuery(undefined) }), ['a']);
    expect((await getStats({ pageSize: 10, pageToken: token })).collectedUnixNanos, 'within the window').to.equal(first.collectedUnixNanos);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await getStats({ pageSize: 10, pageToken: token })).collectedUnixNanos, 'past it').to.equal(first.collectedUnixNanos + 1n);
  });

  it('a WatchStats update larger than one message comes in parts, each under 4 MiB, joined whole by the library', async () => {
    const ids = store.list().map((r) => r.id);
    const stream = client.watchStats({ intervalMs: 100 });
    const messages: WatchStatsResponse[] = [];
    const updates: WatchStatsResponse[] = [];
    async function* recorded(): AsyncGenerator<WatchStatsResponse> {
      for await (const message of stream) {
        messages.push(message);
        yield message;
      }
    }
    for await (const update of wholeStatsUpdates(recorded())) {
      updates.push(update);
      if (updates.length === 2) break;
    }
    const perUpdate = Math.ceil(ids.length / Math.floor(PAGE_BUDGET_BYTES / sizeInList(RuleStats.encode(largestStats(store.list()[0])).finish().length)));
    expect(perUpdate, 'the worst update needs several messages').to.be.above(1);
    expect(messages.slice(0, perUpdate).map((m) => m.continued)).to.deep.equal([...Array(perUpdate - 1).fill(true), false]);
    for (const m of messages) expect(WatchStatsResponse.encode(m).finish().length).to.be.at.most(MAX_RESPONSE_BYTES);
    for (const update of updates) {
      expect(update.rules.map((r) => r.ruleId)).to.deep.equal(ids);
      expect(update.continued).to.equal(false);
    }
    expect(new Set(messages.slice(0, perUpdate).map((m) => m.collectedUnixNanos)).size, 'the parts of one update').to.equal(1);
  });

  it('listAllRules and getAllStats walk every page: disjoint, in id order, complete', async () => {
    const ids = store.list().map((r) => r.id);
    const rules = await client.listAllRules();
    expect(rules.rules.map((r) => r.id)).to.deep.equal(ids);
    expect(rules.storeChanged).to.equal(false);
    const stats = await client.getAllStats({ pageSize: 77 });
    expect(stats.rules.map((s) => s.ruleId)).to.deep.equal(ids);
    expect(stats.nextPageToken).to.equal('');
  });

  it('filters select before paging; a token sent with another filter is INVALID_ARGUMENT with a BadRequest', async () => {
    const ids = store.list().map((r) => r.id);
    const active = ids.filter((_, i) => i % 7 === 0);
    for (const id of active) states.set(id, RuleState.RULE_STATE_ACTIVE);
    const filter = { states: [RuleState.RULE_STATE_ACTIVE], namePrefix: 'nnn' };
    const listed = await client.listAllRules({ filter, pageSize: 10 });
    expect(listed.rules.map((r) => r.id)).to.deep.equal(active);
    const counted = await client.getAllStats({ filter, pageSize: 10 });
    expect(counted.rules.map((r) => r.ruleId)).to.deep.equal(active);

    const first = await client.listRules({ filter, pageSize: 10 });
    const err = await client.listRules({ filter: { ...filter, namePrefix: 'n' }, pageSize: 10, pageToken: first.nextPageToken }).then(
      () => expect.fail('accepted'),
      (e: McrCallError) => e,
    );
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(errorDetails(err).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['page_token']);
    expect(errorDetails(err).errorInfo?.reason).to.equal('INVALID_PAGE_TOKEN');
    const statsErr = await client.getStats({ pageSize: 10, pageToken: first.nextPageToken }).then(() => expect.fail('accepted'), (e: McrCallError) => e);
    expect(statsErr.details).to.equal('page_token: was issued by ListRules, not GetStats');
  });

  it('invalid page_size and filter fields are INVALID_ARGUMENT naming each', async () => {
    const sizeErr = await client.listRules({ pageSize: -5 }).then(() => expect.fail('accepted'), (e: McrCallError) => e);
    expect(sizeErr.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(errorDetails(sizeErr).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['page_size']);
    const filterErr = await client
      .getStats({ filter: { groupPrefix: '239.200.0.0/8', inputInterface: 'no such/if' } })
      .then(() => expect.fail('accepted'), (e: McrCallError) => e);
    expect(filterErr.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(errorDetails(filterErr).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['filter.input_interface', 'filter.group_prefix']);
    const together = await client
      .listRules({ pageSize: -1, pageToken: 'x!', filter: { namePrefix: 'no spaces' } })
      .then(() => expect.fail('accepted'), (e: McrCallError) => e);
    expect(together.details, 'the first in the message').to.match(/^filter\.name_prefix: /);
    expect(errorDetails(together).badRequest?.fieldViolations.map((v) => v.field), 'every violation at once').to.deep.equal(['filter.name_prefix', 'page_size', 'page_token']);
    const statsTogether = await client.getStats({ pageSize: -1, filter: { states: [99 as RuleState] } }).then(() => expect.fail('accepted'), (e: McrCallError) => e);
    expect(errorDetails(statsTogether).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['filter.states[0]', 'page_size']);
  });

  it('a walk while rules are created and deleted lists every rule that stayed exactly once, and says the store changed', async () => {
    const before = store.list().map((r) => r.id);
    const deleted = before.filter((_, i) => i % 50 === 1);
    let calls = 0;
    const call = async (request: ListRulesRequest) => {
      const page = await client.listRules(request);
      if (++calls === 3) {
        for (const id of deleted) await store.delete(id, undefined);
        await store.create(largestRule(RULES + 1), 1n);
      }
      return page;
    };
    const walked = await collectStorePages(walkPages('ListRules', call, ListRulesRequest.fromPartial({ pageSize: 100 })), 'rules');
    const seen = walked.rules.map((r) => r.id);
    expect(calls).to.equal(Math.ceil(RULES / 100));
    expect(new Set(seen).size, 'no rule twice').to.equal(seen.length);
    for (const id of before.filter((id) => !deleted.includes(id))) expect(seen).to.include(id);
    expect(walked.storeChanged).to.equal(true);
    expect(walked.storeGeneration - walked.firstStoreGeneration).to.equal(BigInt(deleted.length + 1));
    const again = await client.listAllRules({ pageSize: 100 });
    expect(again.rules.map((r) => r.id)).to.deep.equal(store.list().map((r) => r.id));
    expect(again.storeChanged).to.equal(false);
  });
});
