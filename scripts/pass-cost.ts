/**
 * What a forwarding pass of many writers costs, in process (as root: a packet socket and egress
 * sockets on loopback, no traffic, no gRPC, no journal): the supervisor's side (ForwardingState and
 * WorkerSync, as mcrd runs them) and the worker's (a WorkerRuntime over the real data plane, answering
 * in the same process), with `--rules` rules of `--outputs` outputs each installed on one worker, every
 * output its own destination. Each pass deletes `--batch` installed rules and creates `--batch` new
 * ones, as `--batch` pairs of clients' writes gathered into one pass; `--passes` passes, after as many
 * to warm up. Prints the median and p90 per pass, and the split between the two sides per write.
 *
 *   node -r ts-node/register/transpile-only scripts/pass-cost.ts [--rules 1000] [--outputs 64]
 *       [--batch 12] [--passes 200]
 */
import { Rule } from '../gen/mcr/v1/rules';
import { percentile } from '../bench/control-plane/latency';
import { native } from '../native';
import { planForwarding } from '../server/forwarding/plan';
import { WorkerSync } from '../server/forwarding/worker-sync';
import { logger } from '../server/log';
import type { InterfaceInfo } from '../server/net/interfaces';
import { CounterRegion } from '../server/workers/counter-region';
import { CounterTotals } from '../server/workers/counter-totals';
import type { WorkerProcess } from '../server/workers/worker-process';
import { WorkerReply, WorkerRequest } from '../workers/protocol';
import { WorkerRuntime } from '../workers/runtime';
import { numberOption } from './lib/argv';

const RULES = numberOption('rules', 1000);
const OUTPUTS = numberOption('outputs', 64);
const BATCH = numberOption('batch', 12);
const PASSES = numberOption('passes', 200);

/** Every output goes out on loopback; they differ by TTL, so that a rule's outputs use K egress sockets (as K interfaces would). */
const LOOPBACK: InterfaceInfo = { name: 'lo', index: 1, up: true, running: true, mtu: 65536, mac: '00:00:00:00:00:00' } as InterfaceInfo;

function ruleAt(i: number): Rule {
  const group = `239.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  return Rule.fromPartial({
    id: `rule-${i}`,
    name: `r${i}`,
    input: { interface: 'lo', group, port: 5000 },
    outputs: Array.from({ length: OUTPUTS }, (_, k) => ({ interface: 'lo', address: `127.${(i >> 8) & 255}.${i & 255}.${k + 1}`, port: 6000, ttl: k + 1 })),
  }) as Rule;
}

async function main(): Promise<void> {
  const addon = native();
  const runtime = new WorkerRuntime(addon, () => undefined);
  let seq = 0;
  let workerMs = 0;
  const worker = {
    alive: true,
    async request(body: Omit<WorkerRequest, 'seq'>, fds: number[] = []): Promise<WorkerReply> {
      const t0 = performance.now();
      const reply = runtime.handle({ ...body, seq: ++seq } as WorkerRequest, [...fds]) as WorkerReply & { ok: boolean; error?: string };
      workerMs += performance.now() - t0;
      if (!reply.ok) throw new Error(`${body.type}: ${reply.error}`);
      return reply;
    },
  } as unknown as WorkerProcess;
  const region = new CounterRegion(addon);
  await worker.request({ type: 'hello', index: 0, core: -1, batch: 8, logLevel: 'error', counters: true }, [region.handle]);
  // The runtime closed the fd it was given (in mcrd it gets a copy over the channel).
  const log = logger('workers');
  const sync = new WorkerSync(worker, addon, { rcvbuf: 1 << 20, sndbuf: 1 << 16, fileLimit: 65536 }, log, region, new CounterTotals(), 0);

  const interfaces = { get: (name: string) => (name === 'lo' ? LOOPBACK : undefined) };
  const installed = Array.from({ length: RULES }, (_, i) => ruleAt(i));
  const state = planForwarding(installed, 1, interfaces);
  const first = performance.now();
  await sync.apply(state.workers[0]);
  const firstMs = performance.now() - first;

  let next = RULES;
  const totals: number[] = [];
  const workers: number[] = [];
  for (let pass = 0; pass < 2 * PASSES; pass++) {
    const created = Array.from({ length: BATCH }, () => ruleAt(next++));
    const removed = installed.splice(0, BATCH);
    workerMs = 0;
    const t0 = performance.now();
    for (const rule of removed) state.remove(rule.id);
    for (const rule of created) state.set(rule);
    const delta = state.take();
    const errors = await sync.apply(state.workers[0], delta.workers[0]);
    const ms = performance.now() - t0;
    if (errors.size > 0) throw new Error(`pass ${pass}: ${[...errors.values()][0]}`);
    installed.push(...created);
    if (pass >= PASSES) {
      totals.push(ms);
      workers.push(workerMs);
    }
  }
  const writes = 2 * BATCH;
  const median = (values: number[]) => percentile(values, 50);
  const supervisor = totals.map((t, i) => t - workers[i]);
  process.stdout.write(
    [
      `${RULES} rules x ${OUTPUTS} outputs on one worker (first install ${firstMs.toFixed(0)} ms); ${PASSES} passes of ${BATCH} deletes + ${BATCH} creates`,
      `pass: median ${median(totals).toFixed(2)} ms, p90 ${percentile(totals, 90).toFixed(2)} ms`,
      `per write: supervisor ${((median(supervisor) / writes) * 1000).toFixed(1)} us, worker ${((median(workers) / writes) * 1000).toFixed(1)} us`,
      '',
    ].join('\n'),
  );
  runtime.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
