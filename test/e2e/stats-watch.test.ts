/**
 * WatchStats under a slow reader: while watchers that never read keep their streams open for 30 s
 * (HTTP/2 flow control stops mcrd from sending to them), a healthy watcher still gets an update every
 * 100 ms, mcrd's memory stays bounded, and a slow watcher that starts reading again is told how many
 * updates it lost. Also `mcrctl stats --watch`, as JSON lines and as plain tables, ended by Ctrl-C.
 */
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';

import { WatchStatsResponse } from '../../gen/mcr/v1/stats';
import { connect } from '../../clients/lib';
import { useRelay } from '../support/fixture';
import { McrClient } from '../support/grpc';
import { startMcrctl } from '../support/mcrctl';
import { NET } from '../support/netns';
import { sleep, waitFor } from '../support/poll';
import { waitForWorkersInSync } from '../support/rules';

const WORKERS = 2;
/**
 * Rules with many outputs make each update about 9 kB encoded (over 10 times that as objects).
 * Updates are kept this small because mcrd's garbage (which RSS also shows until V8 collects it)
 * grows with their size; a watcher that cannot be written to costs no collection.
 */
const RULES = 10;
const OUTPUTS_PER_RULE = 32;
const INTERVAL_MS = 100;
const SLOW_WATCHERS = 12;
const SLOW_FOR_MS = 30_000;
/**
 * How far mcrd's RSS may grow while the slow watchers are open. Each may hold the updates its
 * stream's buffers take before writes stop (about 17 updates, some 1.5 MB as objects here): about
 * 18 MB. With mcrd's 2 MB young generation (docs/decisions/0010) short-lived garbage reaches the old
 * generation, which is collected in larger steps: peaks run up to about 12 MB above what is held
 * (measured: peak +31 MB, back to +16 MB once collected). The late-growth bound below is what tells
 * bounded from queueing.
 */
const RSS_BOUND = 40 << 20;
/**
 * Growth of mcrd's live heap (after a full collection) allowed over the second half of the window,
 * once those buffers are full: a plateau. A queueing mcrd would grow steadily instead, by at least
 * the encoded size of what it queued. RSS cannot show this: with a small young generation, garbage
 * piles up in the old generation for tens of seconds before a collection (measured: +0.8 MB/s, then
 * back by 10 MB), so the heap is read after a collection mcrd makes on request (a test hook).
 */
const LATE_GROWTH_BOUND = 5 << 20;
const MAX_GAP_MS = 1000;

const MB = (bytes: number) => `${(bytes / (1 << 20)).toFixed(1)} MB`;

describe('e2e: WatchStats with a watcher that stops reading', function () {
  this.timeout(180_000);
  const relay = useRelay({ workers: WORKERS, logLevel: 'info', extraArgs: ['--test-hooks'], nodeFlags: ['--expose-gc'] });

  /** mcrd's live heap: it collects garbage and logs the heap in use on SIGUSR2 (--test-hooks). */
  async function liveHeap(): Promise<number> {
    const reports = () => [...relay.mcrd.logs().matchAll(/"heapUsed":(\d+)/g)].map((m) => Number(m[1]));
    const before = reports().length;
    relay.mcrd.signal('SIGUSR2');
    const deadline = Date.now() + 5000;
    while (reports().length === before) {
      if (Date.now() > deadline) throw new Error('mcrd did not report its heap within 5 s of SIGUSR2');
      await sleep(20);
    }
    return reports()[before];
  }
  const ruleIds: string[] = [];

  before(async function () {
    this.timeout(120_000);
    const outputs = Array.from({ length: OUTPUTS_PER_RULE }, (_, k) => ({ interface: NET.relayOut1.ifname, address: `239.77.0.${k + 1}`, port: 6000 }));
    for (let r = 0; r < RULES; r++) {
      const rule = await relay.client.createRule({
        name: `watched-${r}`,
        input: { interface: NET.relayIn.ifname, group: `239.50.0.${r + 1}`, port: 5000 },
        outputs,
      });
      ruleIds.push(rule.id);
    }
    await waitForWorkersInSync(relay.client, WORKERS, 30_000);
  });

  it('mcrctl stats --watch --json prints one JSON update per line and exits 0 on Ctrl-C', async function () {
    const run = startMcrctl(['--socket', relay.mcrd.socketPath, '--json', 'stats', '--watch', '--interval', '200']);
    await waitFor('3 JSON lines from mcrctl stats --watch', async () => run.stdout().split('\n').length - 1, (lines) => lines >= 3, 10_000);
    run.kill('SIGINT');
    const result = await run.result;
    expect({ code: result.code, signal: result.signal, stderr: result.stderr }).to.deep.equal({ code: 0, signal: null, stderr: '' });
    const updates = result.stdout.trimEnd().split('\n').map((line) => WatchStatsResponse.fromJSON(JSON.parse(line)));
    expect(updates.length).to.be.at.least(3);
    for (const update of updates) {
      expect(update.intervalMs).to.equal(200);
      expect(update.rules.map((r) => r.ruleId).sort()).to.deep.equal([...ruleIds].sort());
      expect(update.rules[0].outputs).to.have.length(OUTPUTS_PER_RULE);
    }
  });

  it('mcrctl stats RULE --watch prints successive tables when not on a terminal and exits 0 on Ctrl-C', async function () {
    const run = startMcrctl(['--socket', relay.mcrd.socketPath, 'stats', 'watched-0', '--watch', '--interval', '200']);
    const headings = (text: string) => text.match(/^Every 200 ms, collected \d{4}-\d\d-\d\dT[\d:.]+Z$/gm) ?? [];
    await waitFor('2 updates from mcrctl stats --watch', async () => headings(run.stdout()).length, (n) => n >= 2, 10_000);
    run.kill('SIGINT');
    const result = await run.result;
    expect({ code: result.code, signal: result.signal, stderr: result.stderr }).to.deep.equal({ code: 0, signal: null, stderr: '' });
    expect(result.stdout, 'no terminal control codes in a pipe').to.not.include('\x1b[');
    // Each update: heading, blank line, the rules table (one rule), blank line, the outputs table.
    const blocks = result.stdout.split(/^(?=Every 200 ms)/m);
    for (const block of blocks) {
      expect(block).to.match(/\n\nRULE +NAME +WORKER +RECEIVED/);
      expect(block.match(new RegExp(`^${ruleIds[0]} `, 'gm')), 'one rule row and one row per output').to.have.length(1 + OUTPUTS_PER_RULE);
    }
  });

  it(`keeps a healthy watcher on time and its memory bounded while ${SLOW_WATCHERS} watchers do not read for ${SLOW_FOR_MS / 1000} s`, async function () {
    const mcrd = relay.mcrd;
    const healthy = connect({ socket: mcrd.socketPath });
    const slowClients: McrClient[] = [];
    const slowCalls: Array<grpc.ClientReadableStream<WatchStatsResponse>> = [];
    const stop = new AbortController();
    const arrivals: number[] = [];
    let healthyDropped = 0n;
    let updateBytes = 0;
    let intervalSeen = 0;
    const reading = (async () => {
      for await (const update of healthy.watchStats({ intervalMs: INTERVAL_MS }, { signal: stop.signal })) {
        arrivals.push(Date.now());
        healthyDropped = update.droppedUpdates;
        intervalSeen = update.intervalMs;
        updateBytes = Math.max(updateBytes, WatchStatsResponse.encode(update).finish().length);
      }
    })();
    try {
      // Warm up: mcrd's heap settles with one watcher before the baseline is taken.
      await sleep(3000);
      const baseline = mcrd.residentBytes();
      for (let i = 0; i < SLOW_WATCHERS; i++) {
        // Each on its own connection, paused after its first update: once its buffers and its HTTP/2
        // window are full, mcrd cannot send more. (A call never read at all would not do: grpc-js then
        // keeps reading messages from the connection into memory of its own.)
        const client = new McrClient(mcrd.socketPath, { ownConnection: true });
        const call = client.watchStats('', INTERVAL_MS);
        call.once('data', () => call.pause());
        call.on('error', () => undefined); // cancelled at the end
        slowClients.push(client);
        slowCalls.push(call);
      }
      const windowStart = Date.now();
      const rss: Array<{ atMs: number; bytes: number }> = [];
      let heapAtHalf: number | null = null;
      while (Date.now() - windowStart < SLOW_FOR_MS) {
        await sleep(500);
        rss.push({ atMs: Date.now() - windowStart, bytes: mcrd.residentBytes() });
        if (heapAtHalf === null && Date.now() - windowStart >= SLOW_FOR_MS / 2) heapAtHalf = await liveHeap();
      }
      const heapAtEnd = await liveHeap();
      const peak = Math.max(baseline, ...rss.map((r) => r.bytes));
      const lateGrowth = heapAtEnd - heapAtHalf!;
      const growth = rss.map((r) => `+${r.atMs} ms: ${MB(r.bytes - baseline)}`).join(', ');
      const windowEnd = Date.now();

      // The healthy watcher got its updates on time all along.
      const during = arrivals.filter((t) => t >= windowStart - MAX_GAP_MS && t <= windowEnd);
      const gaps = during.slice(1).map((t, i) => t - during[i]);
      expect(intervalSeen, 'interval used').to.equal(INTERVAL_MS);
      expect(during.length, `updates in ${SLOW_FOR_MS} ms at ${INTERVAL_MS} ms`).to.be.at.least((SLOW_FOR_MS / INTERVAL_MS) * 0.5);
      expect(Math.max(...gaps), 'longest gap between updates of the healthy watcher (ms)').to.be.below(MAX_GAP_MS);
      expect(healthyDropped, 'updates the healthy watcher lost').to.equal(0n);

      // Memory stayed bounded.
      expect(peak - baseline, `mcrd RSS growth (baseline ${MB(baseline)}, peak ${MB(peak)}): ${growth}`).to.be.below(RSS_BOUND);
      expect(lateGrowth, `mcrd live heap growth over the second ${SLOW_FOR_MS / 2000} s (${MB(heapAtHalf!)} -> ${MB(heapAtEnd)})`).to.be.below(LATE_GROWTH_BOUND);

      // A slow watcher that reads again learns how many updates it lost, and they are many: had mcrd
      // queued them for every slow watcher instead, their encoded bytes alone would have added more
      // than the late-growth bound in the second half of the window.
      const resumed = await new Promise<WatchStatsResponse>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the resumed watcher saw no update with dropped_updates > 0 within 10 s')), 10_000);
        slowCalls[0].on('data', (update: WatchStatsResponse) => {
          if (update.droppedUpdates > 0n) {
            clearTimeout(timer);
            resolve(update);
          }
        });
        slowCalls[0].resume();
      });
      const dropped = Number(resumed.droppedUpdates);
      expect(dropped, 'updates the slow watcher lost').to.be.at.least((SLOW_FOR_MS / INTERVAL_MS) * 0.5);
      const lateQueue = (dropped / 2) * updateBytes * SLOW_WATCHERS;
      expect(lateQueue, `bytes a queueing mcrd would add in the second half (${dropped} updates of ${updateBytes} bytes, ${SLOW_WATCHERS} watchers)`).to.be.above(
        2 * LATE_GROWTH_BOUND,
      );
    } finally {
      stop.abort();
      for (const call of slowCalls) call.cancel();
      for (const client of slowClients) client.close();
      await reading.catch(() => undefined);
      healthy.close();
    }
  });
});
