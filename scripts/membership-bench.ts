/**
 * What mcrd's IGMP memberships (server/net/memberships.ts) cost at scale, and how long they hold the
 * event loop, on a veth in a namespace this script makes:
 *
 *   node -r ts-node/register/transpile-only scripts/membership-bench.ts [--groups 20000] [--pairs 1000]
 *       [--max-memberships 20000] [--cpu-prof DIR] [--close-strategies] [--batch-cost [--rounds 7]] [--family 4|6]
 *
 * (a) joining `--groups` groups in one change (mcrd's start-up); (b) `--pairs` leave+join pairs of the
 * oldest groups, one change each, as DeleteRule then CreateRule (each group left is deep in the
 * interface's list), with the time of one change from call to done; (c) close() (mcrd's shutdown). For each: the wall time, the time the event loop
 * was busy (performance.eventLoopUtilization: JavaScript and whatever it waits for synchronously, the
 * system calls included when they are made on the loop; wall-clock time, so it also counts the loop's
 * thread waiting for a CPU on a loaded machine), the CPU time of the loop's thread (10 ms ticks) and
 * the loop's longest stall (the largest gap between 1 ms timer ticks, less the 1 ms). `--max-memberships` is the namespace's igmp_max_memberships
 * (raised as the control-plane bench does: sockets of min(it, 1,024) memberships).
 *
 * `--close-strategies` measures instead how long the kernel takes to drop the groups at shutdown,
 * leaving them or closing the sockets (closeStrategies(); docs/decisions/0045).
 *
 * `--batch-cost` measures what one batch of `--groups` joins costs the event loop: encoding the steps
 * and the addon's check and copy of them, i.e. applySteps() up to its hand-over to the pool
 * (batchCost(); docs/decisions/0068), and the batch from call to done, over `--rounds` rounds.
 *
 * `--family 6` makes the groups IPv6 ones (MLD, IPv6 enabled on the veth), for the phases and for
 * `--batch-cost`.
 *
 * Runs as root; the measuring half runs inside the namespace (this file with --inside), with node's
 * --cpu-prof when `--cpu-prof DIR` is given.
 */
import { execFileSync } from 'child_process';
import crypto from 'crypto';
import fs from 'fs';
import { performance } from 'perf_hooks';

import { ipBatch } from '../bench/control-plane/namespaces';
import { NAMESPACE_PREFIX } from '../bench/lib/topology';
import { MembershipOpKind, native } from '../native';
import { logger } from '../server/log';
import { applySteps, MembershipStep } from '../server/net/membership-batch';
import { MAX_PER_SOCKET, Membership, Memberships } from '../server/net/memberships';
import { registerCleanup } from '../test/support/cleanup';
import { deleteNamespace, ip, sweepStaleNamespaces, sysctl } from '../test/support/netns';
import { numberOption, textOption } from './lib/argv';

const GROUPS = numberOption('groups', 20_000);
const PAIRS = numberOption('pairs', 1_000);
const MAX_MEMBERSHIPS = numberOption('max-memberships', 20_000);
const PROFILE_DIR = textOption('cpu-prof');
const CLOSE_STRATEGIES = process.argv.includes('--close-strategies');
const BATCH_COST = process.argv.includes('--batch-cost');
const ROUNDS = numberOption('rounds', 7);
const FAMILY = numberOption('family', 4) === 6 ? 6 : 4;
const IFNAME = 'mb0';
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** Group i: 239.1.0.0 + i + 1 (up to 65,534 groups); with --family 6, ff3e::1:0 + i + 1. */
function groupOf(i: number): string {
  const n = i + 1;
  return FAMILY === 6 ? `ff3e::1:${n.toString(16)}` : `239.1.${n >>> 8}.${n & 0xff}`;
}

interface Phase {
  label: string;
  wallMs: number;
  busyMs: number;
  threadCpuMs: number;
  longestStallMs: number;
}

/** CPU time of the event loop's thread (utime + stime of /proc/self/task/PID/stat, in 10 ms ticks). */
function loopThreadCpuMs(): number {
  const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), counted from after the command name (field 3 is fields[0]).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** Runs `body`, measuring its wall time, the event loop's busy time and its longest stall. */
async function measure(label: string, body: () => Promise<void>): Promise<Phase> {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last - 1);
    last = now;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 5));
  last = performance.now();
  longest = 0;
  const elu = performance.eventLoopUtilization();
  const cpu0 = loopThreadCpuMs();
  const t0 = performance.now();
  await body();
  const wallMs = performance.now() - t0;
  const busyMs = performance.eventLoopUtilization(elu).active;
  const threadCpuMs = loopThreadCpuMs() - cpu0;
  // The stall that ends with the body (a synchronous body) shows at the next tick.
  await new Promise((resolve) => setTimeout(resolve, 2));
  clearInterval(ticker);
  return { label, wallMs, busyMs, threadCpuMs, longestStallMs: Math.max(longest, performance.now() - last - 1, 0) };
}

/** The bench's groups the kernel holds on the veth (`ip maddr show`). */
function joinedCount(): number {
  return execFileSync('ip', ['maddr', 'show', 'dev', IFNAME], { encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\n')
    .filter((line) => /^\s+(inet\s+239\.1\.|inet6\s+ff3e::1:)/.test(line)).length;
}

async function inside(): Promise<void> {
  const ifindex = native().ifNameToIndex(IFNAME);
  const wanted: Membership[] = Array.from({ length: GROUPS }, (_, i) => ({ key: `${ifindex}|${groupOf(i)}|`, ifindex, group: groupOf(i), source: '' }));
  const memberships = new Memberships(native(), logger('net'));
  const phases: Phase[] = [];
  // `await` of what change()/close() return: a promise now, nothing in the synchronous version before it.
  phases.push(await measure(`(a) join ${GROUPS} groups, one change`, async () => void (await memberships.change(wanted, []))));
  const failures = memberships.failures.size;
  const changeMs: number[] = [];
  const timedChange = async (join: Membership[], leave: string[]) => {
    const t0 = performance.now();
    await memberships.change(join, leave);
    changeMs.push(performance.now() - t0);
  };
  phases.push(
    await measure(`(b) ${PAIRS} leave+join pairs of old groups, one change each`, async () => {
      for (let i = 0; i < PAIRS; i++) {
        const m = wanted[i % GROUPS];
        await timedChange([], [m.key]);
        await timedChange([m], []);
      }
    }),
  );
  changeMs.sort((a, b) => a - b);
  const perChange = { p50: changeMs[Math.floor(changeMs.length / 2)], p99: changeMs[Math.floor(changeMs.length * 0.99)] };
  const joined = joinedCount();
  phases.push(await measure(`(c) close() at ${GROUPS}`, async () => void (await memberships.close())));
  const left = joinedCount();
  console.log(JSON.stringify({ phases, perChange, failures, joined, left }));
}

/**
 * --close-strategies: what leaving `GROUPS` groups at shutdown costs the kernel, through the addon
 * alone: leave newest first then close the sockets, or only close them (newest socket first, or
 * oldest), on a fresh set and after `PAIRS * 5` leave+join pairs of the oldest groups (each joined
 * again on the socket it left, as a socket with room takes it).
 */
async function closeStrategies(): Promise<Array<{ strategy: string; perSocket: number; pairs: number; ms: number }>> {
  const addon = native();
  const ifindex = addon.ifNameToIndex(IFNAME);
  const group = (i: number) => ((239 << 24) | (1 << 16) | (i + 1)) >>> 0;
  const step = (kind: number, fd: number, i: number) => [kind, fd, group(i), ifindex, 0];
  const run = async (steps: number[]) => {
    const { failures } = await addon.applyMemberships(new Uint32Array(steps));
    if (failures.length > 0) throw new Error(failures[0].message);
  };
  const rows = [];
  for (const pairs of [0, PAIRS * 5]) {
    for (const perSocket of [MAX_PER_SOCKET, 20]) {
      for (const strategy of ['leave newest first, then close', 'close, newest socket first', 'close, oldest socket first']) {
        const fds: number[] = [];
        const socketOf: number[] = [];
        const joins: number[] = [];
        for (let i = 0; i < GROUPS; i++) {
          if (i % perSocket === 0) fds.push(addon.openMembershipSocket());
          socketOf.push(fds[fds.length - 1]);
          joins.push(...step(MembershipOpKind.join, socketOf[i], i));
        }
        await run(joins);
        const order = Array.from({ length: GROUPS }, (_, i) => i); // oldest first
        const churn: number[] = [];
        for (let i = 0; i < pairs; i++) {
          churn.push(...step(MembershipOpKind.leave, socketOf[i % GROUPS], i % GROUPS), ...step(MembershipOpKind.join, socketOf[i % GROUPS], i % GROUPS));
          order.push(order.shift()!);
        }
        await run(churn);
        const closing: number[] = [];
        if (strategy.startsWith('leave')) for (const i of order.reverse()) closing.push(...step(MembershipOpKind.leave, socketOf[i], i));
        for (const fd of strategy.includes('oldest') ? fds : [...fds].reverse()) closing.push(MembershipOpKind.close, fd, 0, 0, 0);
        const t0 = performance.now();
        await run(closing);
        rows.push({ strategy, perSocket, pairs, ms: performance.now() - t0 });
      }
    }
  }
  return rows;
}

interface BatchCost {
  /** applySteps() up to the hand-over: encoding, and the addon's check and copy. */
  handOverMs: number;
  /** From the call to the results. */
  wallMs: number;
}

/**
 * --batch-cost: one batch of GROUPS joins (1,000 per socket), `ROUNDS` times; each round's groups are
 * left newest first and their sockets closed before the next (not measured).
 */
async function batchCost(): Promise<BatchCost[]> {
  const addon = native();
  const ifindex = addon.ifNameToIndex(IFNAME);
  const rounds: BatchCost[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const fds = Array.from({ length: Math.ceil(GROUPS / 1000) }, () => addon.openMembershipSocket(FAMILY));
    const memberships: Membership[] = Array.from({ length: GROUPS }, (_, i) => ({ key: `${ifindex}|${groupOf(i)}|`, ifindex, group: groupOf(i), source: '' }));
    const stepsOf = (kind: 'join' | 'leave') => memberships.map((membership, i): MembershipStep => ({ kind, fd: fds[Math.floor(i / 1000)], membership }));
    const joins = stepsOf('join');
    const t0 = performance.now();
    const done = applySteps(addon, joins);
    const handOverMs = performance.now() - t0;
    const results = await done;
    const wallMs = performance.now() - t0;
    const failed = results.find((result) => result !== undefined);
    if (failed) throw new Error(failed.message);
    await applySteps(addon, [...stepsOf('leave').reverse(), ...fds.map((fd): MembershipStep => ({ kind: 'close', fd }))]);
    rounds.push({ handOverMs, wallMs });
  }
  return rounds;
}

async function outside(): Promise<void> {
  sweepStaleNamespaces(NAMESPACE_PREFIX);
  const ns = `${NAMESPACE_PREFIX}${crypto.randomBytes(2).toString('hex')}-${process.pid}-members`;
  const unregister = registerCleanup(() => deleteNamespace(ns));
  try {
    ip(['netns', 'add', ns]);
    sysctl(ns, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1, 'net.ipv4.igmp_max_memberships': MAX_MEMBERSHIPS });
    ipBatch(ns, ['link set lo up', `link add ${IFNAME} type veth peer name ${IFNAME}p`, `addr add 10.98.0.1/24 dev ${IFNAME}`, `link set ${IFNAME} up`, `link set ${IFNAME}p up`]);
    if (FAMILY === 6) sysctl(ns, { [`net.ipv6.conf.${IFNAME}.disable_ipv6`]: 0 });
    const profile = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [];
    const argv = [process.execPath, ...profile, '-r', require.resolve('ts-node/register/transpile-only'), __filename, '--inside', ...process.argv.slice(2)];
    const output = execFileSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'inherit'] });
    if (BATCH_COST) {
      const rounds = JSON.parse(output.trim().split('\n').pop()!) as BatchCost[];
      const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
      const range = (values: number[]) => `${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)}`;
      const handOver = rounds.map((r) => r.handOverMs);
      const wall = rounds.map((r) => r.wallMs);
      console.log(`one batch of ${GROUPS} IPv${FAMILY} joins, ${rounds.length} rounds`);
      console.log(`event loop (encode, check, copy): median ${median(handOver).toFixed(1)} ms (${range(handOver)})`);
      console.log(`call to results: median ${median(wall).toFixed(1)} ms (${range(wall)})`);
      return;
    }
    if (CLOSE_STRATEGIES) {
      const rows = JSON.parse(output.trim().split('\n').pop()!) as Array<{ strategy: string; perSocket: number; pairs: number; ms: number }>;
      console.log(`closing at ${GROUPS} groups on one veth (the close batch alone)`);
      console.log('| leave+join pairs before | memberships per socket | at shutdown | time |');
      console.log('| ---: | ---: | --- | ---: |');
      for (const r of rows) console.log(`| ${r.pairs} | ${r.perSocket} | ${r.strategy} | ${r.ms.toFixed(0)} ms |`);
      return;
    }
    const report = JSON.parse(output.trim().split('\n').pop()!) as {
      phases: Phase[];
      perChange: { p50: number; p99: number };
      failures: number;
      joined: number;
      left: number;
    };
    console.log(`${GROUPS} IPv${FAMILY} groups on one veth, igmp_max_memberships ${MAX_MEMBERSHIPS}`);
    console.log('| phase | wall | event loop busy | its thread\'s CPU | longest stall |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const p of report.phases) {
      console.log(`| ${p.label} | ${p.wallMs.toFixed(0)} ms | ${p.busyMs.toFixed(0)} ms | ${p.threadCpuMs.toFixed(0)} ms | ${p.longestStallMs.toFixed(1)} ms |`);
    }
    console.log(`(b) one change (a leave or a join) from call to done: p50 ${report.perChange.p50.toFixed(3)} ms, p99 ${report.perChange.p99.toFixed(3)} ms`);
    console.log(`failed joins ${report.failures}; groups joined before close ${report.joined}, after ${report.left}`);
  } finally {
    unregister();
    deleteNamespace(ns);
  }
}

function insideMain(): () => Promise<void> {
  if (BATCH_COST) return async () => console.log(JSON.stringify(await batchCost()));
  if (CLOSE_STRATEGIES) return async () => console.log(JSON.stringify(await closeStrategies()));
  return inside;
}

const main = process.argv.includes('--inside') ? insideMain() : outside;
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
