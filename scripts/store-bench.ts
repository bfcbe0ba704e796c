/**
 * Store-level figures of the rule store (docs/decisions/0022, 0023), calling RuleStore directly on a
 * temporary state directory (on the same file system as the working directory, so fsync is real):
 *
 *   node -r ts-node/register/transpile-only scripts/store-bench.ts [--rules 20000] [--outputs 4]
 *
 * - apply: ApplyRules of N fresh rules into an empty store (plan, journal write, fsync);
 * - open: a new RuleStore.open of that directory (the snapshot the apply's compaction wrote);
 * - diff: ApplyRules of the same N rules with one of them changed;
 * - create/delete, one client: p50 / p99 of each call, each acknowledged after fsync;
 * - 50 clients: creates and deletes issued by 50 concurrent loops, durable writes per second;
 * - open again: snapshot and the journal of all those changes.
 */
import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';

import { Rule } from '../gen/mcr/v1/rules';
import { RuleStore } from '../server/rules/store';
import { numberOption } from './lib/argv';


const RULES = numberOption('rules', 20_000);
const OUTPUTS = numberOption('outputs', 4);
const SINGLE_CALLS = numberOption('calls', 400);
const CLIENTS = numberOption('clients', 50);
const CLIENT_CALLS = numberOption('client-calls', 40);
const LIMITS = { maxRules: 100_000, maxOutputsPerRule: 64 };

/** Rule `i` of the bench: a group of its own on eth0, OUTPUTS outputs. */
function rule(i: number, variant = 0): Rule {
  return Rule.fromPartial({
    name: `bench-${i}`,
    input: { interface: 'eth0', group: `239.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 5000 },
    outputs: Array.from({ length: OUTPUTS }, (_, k) => ({ interface: `eth${1 + (k % 4)}`, address: `10.${k >> 8}.${k & 255}.${(i % 250) + 1}`, port: 6000 + variant })),
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await run();
  return [result, performance.now() - start];
}

async function main(): Promise<void> {
  const parent = await fs.mkdtemp(path.join(process.env.STORE_BENCH_DIR ?? os.tmpdir(), 'mcr-store-bench-'));
  const dir = path.join(parent, 'state');
  const now = () => BigInt(Date.now()) * 1_000_000n;
  try {
    const desired = Array.from({ length: RULES }, (_, i) => rule(i));
    const store = await RuleStore.open(dir, LIMITS);
    const [, apply] = await timed(() => store.apply(desired, { replace: true }, now()));
    console.log(`apply ${RULES} fresh rules x ${OUTPUTS} outputs: ${ms(apply)}`);

    await store.close(); // also waits for the compaction the apply set off

    const [reopened, open] = await timed(() => RuleStore.open(dir, LIMITS));
    console.log(`open ${reopened.size} rules x ${OUTPUTS} outputs from disk: ${ms(open)}`);

    const diffs: number[] = [];
    for (let round = 1; round <= 10; round++) {
      const changed = [...desired];
      changed[RULES >> 1] = rule(RULES >> 1, round); // one rule, another version of it each time
      const [result, diff] = await timed(() => reopened.apply(changed, { replace: true }, now()));
      if (result.changed.length !== 1) throw new Error(`the diff changed ${result.changed.length} rules`);
      diffs.push(diff);
    }
    const firstDiff = diffs[0];
    diffs.sort((a, b) => a - b);
    console.log(`apply ${RULES} rules, one changed (10 times): first ${ms(firstDiff)}, median ${ms(quantile(diffs, 0.5))}, max ${ms(diffs[diffs.length - 1])}`);

    const single: number[] = [];
    for (let i = 0; i < SINGLE_CALLS; i++) {
      const r = rule(RULES + i);
      const [created, create] = await timed(() => reopened.create(r, now()));
      const [, remove] = await timed(() => reopened.delete(created.id, undefined));
      single.push(create, remove);
    }
    single.sort((a, b) => a - b);
    console.log(`one client, ${single.length} creates and deletes: p50 ${ms(quantile(single, 0.5))}, p99 ${ms(quantile(single, 0.99))}, max ${ms(single[single.length - 1])}`);

    const latencies: number[] = [];
    const start = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let k = 0; k < CLIENT_CALLS; k++) {
          const i = RULES + SINGLE_CALLS + c * CLIENT_CALLS + k;
          const [created, create] = await timed(() => reopened.create(rule(i), now()));
          const [, remove] = await timed(() => reopened.delete(created.id, undefined));
          latencies.push(create, remove);
        }
      }),
    );
    const elapsed = performance.now() - start;
    latencies.sort((a, b) => a - b);
    console.log(
      `${CLIENTS} clients, ${latencies.length} creates and deletes: ${Math.round((latencies.length / elapsed) * 1000)} durable writes/s, ` +
        `p50 ${ms(quantile(latencies, 0.5))}, p99 ${ms(quantile(latencies, 0.99))}`,
    );
    await reopened.close();

    const [compacted, openCompacted] = await timed(() => RuleStore.open(dir, LIMITS));
    console.log(`open ${compacted.size} rules again: ${ms(openCompacted)}`);
    await compacted.close();
  } finally {
    await fs.rm(parent, { recursive: true, force: true });
  }
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
