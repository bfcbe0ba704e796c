/**
 * Observation helpers for the resilience tests, which do the faults themselves (kill, stop or corrupt
 * a worker, kill mcrd): a worker's ListWorkers entry sampled over time, API calls timed one by one,
 * the measured figures printed with the results, and the end-of-file check that mcrd stops cleanly and
 * leaves no process behind.
 */
import { expect } from 'chai';

import { Worker, WorkerState } from '../../gen/mcr/v1/system';
import type { RelayContext } from './fixture';
import { McrClient } from './grpc';
import { describeValue, sleep, waitFor } from './poll';
import { ProcessTracker } from './processes';

export interface WorkerSample {
  /** When the entry was read: halfway between sending ListWorkers and getting its answer (unix ms). */
  atUnixMs: number;
  worker: Worker;
}

/** ListWorkers' entry for worker `index`. */
export async function workerEntry(client: McrClient, index: number): Promise<Worker> {
  const worker = (await client.listWorkers()).find((w) => w.index === index);
  if (!worker) throw new Error(`ListWorkers has no worker ${index}`);
  return worker;
}

/**
 * Reads worker `index`'s ListWorkers entry every `intervalMs` until `until` holds for one (kept as the
 * last sample). Fails after `timeoutMs` with the last entries read.
 */
export async function sampleWorker(
  client: McrClient,
  index: number,
  until: (worker: Worker) => boolean,
  { intervalMs, timeoutMs }: { intervalMs: number; timeoutMs: number },
): Promise<WorkerSample[]> {
  const samples: WorkerSample[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sent = Date.now();
    const worker = await workerEntry(client, index);
    const sample = { atUnixMs: (sent + Date.now()) / 2, worker };
    samples.push(sample);
    if (until(worker)) return samples;
    if (Date.now() >= deadline) {
      throw new Error(`worker ${index} did not reach the awaited state within ${timeoutMs} ms; last entries: ${samples.slice(-3).map((s) => describeValue(s.worker)).join('; ')}`);
    }
    await sleep(Math.max(0, sent + intervalMs - Date.now()));
  }
}

/** The first sample matching `match`; fails naming `what` if none does. */
export function firstSample(samples: WorkerSample[], what: string, match: (worker: Worker) => boolean): WorkerSample {
  const found = samples.find((s) => match(s.worker));
  if (!found) throw new Error(`no ListWorkers sample showed ${what}; last: ${describeValue(samples[samples.length - 1]?.worker)}`);
  return found;
}

/** A worker that runs again as a new process, with the rule set the supervisor expects it to have. */
export function runsAgainInSync(oldPid: number): (worker: Worker) => boolean {
  return (w) => w.state === WorkerState.WORKER_STATE_RUNNING && w.pid !== 0 && w.pid !== oldPid && w.rulesetHash !== '' && w.rulesetHash === w.expectedRulesetHash;
}

export interface TimedCall {
  call: string;
  /** When it was made (unix ms) and how long it took. */
  atUnixMs: number;
  ms: number;
  /** The error message, if the call failed. */
  error?: string;
}

/** API calls timed one by one (how long the client waited for each answer). */
export class CallTimings {
  readonly calls: TimedCall[] = [];

  async time<T>(call: string, run: () => Promise<T>): Promise<T> {
    const atUnixMs = Date.now();
    const started = performance.now();
    try {
      const result = await run();
      this.calls.push({ call, atUnixMs, ms: round1(performance.now() - started) });
      return result;
    } catch (err) {
      this.calls.push({ call, atUnixMs, ms: round1(performance.now() - started), error: (err as Error).message });
      throw err;
    }
  }

  /** Per call name: count, median and max in ms. */
  summary(): Record<string, { count: number; p50Ms: number; maxMs: number }> {
    const byCall = new Map<string, number[]>();
    for (const { call, ms } of this.calls) byCall.set(call, [...(byCall.get(call) ?? []), ms]);
    const result: Record<string, { count: number; p50Ms: number; maxMs: number }> = {};
    for (const [call, values] of byCall) {
      values.sort((a, b) => a - b);
      result[call] = { count: values.length, p50Ms: round1(values[Math.floor(values.length / 2)]), maxMs: round1(values[values.length - 1]) };
    }
    return result;
  }
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Prints the figures a test measured under its title, so a run shows them along with the results. */
export function reportMeasured(what: string, figures: unknown): void {
  process.stdout.write(`      measured (${what}): ${describeValue(figures)}\n`);
}

/**
 * The end of a resilience file: mcrd stops on SIGTERM with exit code 0, no process is left in the
 * relay namespace, and none of the mcrd and worker processes the file met still exists, not even as
 * a zombie (the tracker is given mcrd and its current workers here; the tests add those they replace).
 */
export async function expectCleanStop(relay: RelayContext, tracker: ProcessTracker): Promise<void> {
  // Not running means an earlier test failed before starting it again: the processes are still checked.
  const wasRunning = relay.mcrd.running;
  if (wasRunning) {
    const pid = relay.mcrd.pid;
    tracker.track(pid, 'mcrd');
    tracker.trackWorkersOf(pid);
    const exit = await relay.mcrd.stop();
    expect(exit, 'how mcrd ended on SIGTERM').to.deep.equal({ code: 0, signal: null, killed: false });
  }
  await waitFor('no process left in the relay namespace after mcrd stopped', () => relay.topology.pids('relay'), (pids) => pids.length === 0, 5000, 50);
  await tracker.expectAllGone(5000);
  expect(wasRunning, 'mcrd running when the file ends (an earlier test failed before starting it again)').to.equal(true);
}
