/**
 * Times mcrd's API from a process of its own, so that what it measures is mcrd's responsiveness, not
 * pauses of the test process (whose heap grows over a long run):
 *
 *   node -r ts-node/register/transpile-only test/support/api-prober.ts '<ApiProberOptions JSON>'
 *
 * It calls GetRule, ListRules and ListInterfaces in turn, one at a time (about 200 a second), timing
 * each, from its ready line until SIGTERM or maxSeconds, then reports every call and its own
 * event-loop delay (a large one means the prober itself was held up: the machine is busy).
 * startApiProber() runs it from a test.
 */
import { monitorEventLoopDelay } from 'perf_hooks';

import { CallTimings, TimedCall } from './faults';
import { McrClient } from './grpc';
import { runTool, startTool, ToolRun } from './json-tool';
import { sleep } from './poll';
import { SystemEvents } from './system-events';

export interface ApiProberOptions {
  socketPath: string;
  /** The rule GetRule asks for. */
  rule: string;
  maxSeconds: number;
}

export interface ApiProberReport {
  calls: TimedCall[];
  /** The prober's own largest event-loop delay while calling, ms. */
  loopDelayMaxMs: number;
}

/** Deadline of each call: far above the limits the tests check, so a slow call is measured, not cut. */
const CALL_DEADLINE_MS = 5000;
/** Calls start at most this often (about 200 a second), leaving the CPU to mcrd and the traffic. */
const CALL_INTERVAL_MS = 5;

async function probe(options: ApiProberOptions, onReady: () => void): Promise<ApiProberReport> {
  const client = new McrClient(options.socketPath, { ownConnection: true });
  const system = new SystemEvents(options.socketPath);
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['GetRule', () => client.getRule(options.rule)],
    ['ListRules', () => client.listRules()],
    ['ListInterfaces', () => system.listInterfaces(CALL_DEADLINE_MS)],
  ];
  // One untimed round first: connections are made, and code paths warmed up, before the ready line.
  for (const [, call] of calls) await call();
  let stopped = false;
  const deadline = setTimeout(() => (stopped = true), options.maxSeconds * 1000);
  process.once('SIGTERM', () => (stopped = true));
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  onReady();
  const timings = new CallTimings();
  for (let i = 0; !stopped; i++) {
    const [name, call] = calls[i % calls.length];
    const started = Date.now();
    await timings.time(name, call).catch(() => undefined); // a failed call is recorded with its error
    await sleep(Math.max(0, started + CALL_INTERVAL_MS - Date.now()));
  }
  delay.disable();
  clearTimeout(deadline);
  client.close();
  system.close();
  return { calls: timings.calls, loopDelayMaxMs: Math.round(delay.max / 1e6) };
}

if (require.main === module) runTool('api-prober.ts', probe);

export type ApiProber = ToolRun<ApiProberReport>;

/** Starts the prober (in the test's own namespace: mcrd's socket is a file). */
export function startApiProber(options: ApiProberOptions): ApiProber {
  return startTool<ApiProberReport>(__filename, options, { label: 'API prober', boundMs: options.maxSeconds * 1000 });
}
