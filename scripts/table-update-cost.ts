/**
 * What a rule change costs a worker, in process on the real data plane (as root: a packet socket and
 * an egress socket on loopback, no traffic): WorkerRuntime's updateRules request (JavaScript and
 * native) for a one-rule upsert (a new rule), a one-rule change (an installed rule's outputs), a
 * one-rule remove, and a full resend of every installed rule in the supervisor's pieces, with
 * `--rules` rules of `--outputs` outputs each installed (every output its own destination, counters
 * in a counter region, as mcrd runs them). Medians and p99 of `--runs` changes, in ms.
 *
 * `--batch B`: also the pass of many writers at once, as the supervisor sends it: the outputs of B new
 * rules added, one updateRules with those B rules and B installed ones removed, the removed rules'
 * outputs removed.
 *
 *   node -r ts-node/register/transpile-only scripts/table-update-cost.ts [--rules 10000] [--outputs 4]
 *       [--runs 200] [--resends 5] [--batch 0]
 */
import { percentile } from '../bench/control-plane/latency';
import { native, type DataplaneRule } from '../native';
import { pieces, PIECE_WEIGHT } from '../server/forwarding/worker-sync';
import { WorkerReply, WorkerRequest } from '../workers/protocol';
import { WorkerRuntime } from '../workers/runtime';
import { numberOption } from './lib/argv';

const RULES = numberOption('rules', 10_000);
const OUTPUTS = numberOption('outputs', 4);
const RUNS = numberOption('runs', 200);
const RESENDS = numberOption('resends', 5);
const BATCH = numberOption('batch', 0);

type Body = WorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'seq'> : never) : never;

function main(): void {
  const addon = native();
  const runtime = new WorkerRuntime(addon, () => undefined);
  let seq = 0;
  const send = (body: Body, fds: number[] = []): void => {
    const reply = runtime.handle({ ...body, seq: ++seq } as WorkerRequest, fds) as WorkerReply & { error?: string };
    if (!reply.ok) throw new Error(`${body.type}: ${reply.error}`);
  };
  const extra = RUNS * (1 + BATCH) + 1; // rules added by the measurement, each with its own slots and outputs
  const slotsPerRule = 1 + OUTPUTS;
  const region = addon.createCounterRegion(2 + 2 + (RULES + extra) * slotsPerRule);
  send({ type: 'hello', index: 0, core: -1, batch: 8, logLevel: 'error', counters: true } as Body, [region.fd]);
  send({ type: 'addInput', handle: 1, interface: 'lo', counterSlot: 2 }, [addon.openPacketSocket({ ifindex: 1, rcvbuf: 65536, filter: [[0x06, 0, 0, 0]] })]);
  send({ type: 'addSenders', senders: [{ handle: 1, interface: 'lo', ttl: 64, tos: 0, keepTos: 0, decrementTtl: false, dontFragment: false, mtu: 0 }] }, [addon.openEgressSocket({ ifname: 'lo', ifindex: 1, ttl: 64, tos: 0, dontFragment: false, sndbuf: 65536 })]);

  const total = RULES + extra;
  const outputs = Array.from({ length: total * OUTPUTS }, (_, h) => ({ handle: 10 + h, sender: 1, address: `127.${(h >> 16) & 255}.${(h >> 8) & 255}.${h & 255}`, port: 1000 + (h % 60000) }));
  // The batches' rules add their outputs themselves.
  for (const piece of pieces(outputs.slice(0, (RULES + RUNS + 1) * OUTPUTS), () => 1, 8192)) send({ type: 'addOutputs', outputs: piece });
  const ruleAt = (i: number, shift = 0): DataplaneRule => {
    const handles = Array.from({ length: OUTPUTS }, (_, j) => 10 + i * OUTPUTS + ((j + shift) % OUTPUTS));
    const firstSlot = 4 + i * slotsPerRule;
    return {
      id: `rule-${i}`,
      input: 1,
      group: `239.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      port: 5000 + (i % 1000),
      source: '',
      outputs: handles,
      counterSlot: firstSlot,
      outputSlots: handles.map((_h, j) => firstSlot + 1 + j),
    } as DataplaneRule;
  };
  const installed = Array.from({ length: RULES }, (_, i) => ruleAt(i));
  const resend = (): number => {
    const list = pieces(installed, (r) => 1 + r.outputs.length, PIECE_WEIGHT);
    const t0 = performance.now();
    list.forEach((upserts, i) => {
      const resendPiece = list.length === 1 ? 'only' : i === 0 ? 'first' : i === list.length - 1 ? 'last' : 'middle';
      send({ type: 'updateRules', upserts, removes: [], resend: resendPiece });
    });
    return performance.now() - t0;
  };

  const time = (body: Body): number => {
    const t0 = performance.now();
    send(body);
    return performance.now() - t0;
  };
  const first = resend();
  const upsert: number[] = [];
  const change: number[] = [];
  const remove: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const added = ruleAt(RULES + run);
    upsert.push(time({ type: 'updateRules', upserts: [added], removes: [] }));
    change.push(time({ type: 'updateRules', upserts: [ruleAt(RULES + run, 1)], removes: [] }));
    remove.push(time({ type: 'updateRules', upserts: [], removes: [added.id] }));
  }
  const batches: number[] = [];
  let next = RULES + RUNS + 1;
  for (let run = 0; run < (BATCH > 0 ? RUNS : 0); run++) {
    const created = Array.from({ length: BATCH }, () => ruleAt(next++));
    const removed = installed.splice(0, BATCH);
    const t0 = performance.now();
    send({ type: 'addOutputs', outputs: created.flatMap((rule) => rule.outputs.map((h) => outputs[h - 10])) });
    send({ type: 'updateRules', upserts: created, removes: removed.map((rule) => rule.id) });
    send({ type: 'removeOutputs', handles: removed.flatMap((rule) => rule.outputs) });
    batches.push(performance.now() - t0);
    installed.push(...created);
  }
  const resends = Array.from({ length: RESENDS }, () => resend());
  const line = (what: string, values: number[]) =>
    `${what.padEnd(34)} p50 ${percentile(values, 50).toFixed(3).padStart(9)} ms   p99 ${percentile(values, 99).toFixed(3).padStart(9)} ms`;
  process.stdout.write(
    [
      `${RULES} rules x ${OUTPUTS} outputs installed (${RUNS} runs; first install in pieces: ${first.toFixed(0)} ms)`,
      line('one-rule upsert (new rule)', upsert),
      line('one-rule upsert (changed outputs)', change),
      line('one-rule remove', remove),
      line('full resend, unchanged rules', resends),
      ...(BATCH > 0 ? [line(`pass of ${BATCH} creates + ${BATCH} deletes`, batches)] : []),
      '',
    ].join('\n'),
  );
  runtime.close();
}

main();
