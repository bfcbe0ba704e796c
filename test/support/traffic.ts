/**
 * Starts the traffic tool (traffic-tool.ts) and the frame injector (inject-frames.py) inside network
 * namespaces, and compares what a sink received with what the sender sent.
 */
import { assert } from 'chai';
import { ChildProcess } from 'child_process';
import path from 'path';

import { runIn, spawnIn } from './netns';
import type { ArrivalGap, ReceivedStream, SendOptions, SendReport, SentFlow, SinkOptions, SinkReport } from './traffic-tool';

export type { ArrivalGap, Endpoint, FlowSpec, ReceivedStream, SendOptions, SendReport, SentFlow, SinkOptions, SinkReport } from './traffic-tool';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const TRAFFIC_TOOL = path.join(__dirname, 'traffic-tool.ts');
const INJECT_FRAMES = path.join(__dirname, 'inject-frames.py');
/** Time allowed on top of a tool's own bound (process start-up, ts-node compiling the tool). */
const STARTUP_ALLOWANCE_MS = 20_000;

/** A running tool process: its output lines and its final JSON report. */
class ToolProcess<Report> {
  readonly child: ChildProcess;
  readonly report: Promise<Report>;
  private stderr = '';
  private lineListeners: ((line: string) => void)[] = [];

  constructor(ns: string, label: string, argv: string[], boundMs: number) {
    this.child = spawnIn(ns, argv, { cwd: REPO_ROOT });
    let stdout = '';
    let pending = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        for (const listener of this.lineListeners) listener(line);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    const what = `${label} in ${ns}`;
    this.report = new Promise<Report>((resolve, reject) => {
      const killer = setTimeout(() => this.child.kill('SIGKILL'), boundMs + STARTUP_ALLOWANCE_MS);
      this.child.on('error', (err) => reject(new Error(`${what}: ${err.message}`)));
      this.child.on('close', (code, signal) => {
        clearTimeout(killer);
        const last = stdout.trim().split('\n').pop() ?? '';
        if (code !== 0) {
          reject(new Error(`${what} exited with ${signal ?? code}: ${this.stderr.trim() || '(no stderr)'}`));
          return;
        }
        try {
          resolve(JSON.parse(last) as Report);
        } catch {
          reject(new Error(`${what} printed no report: ${JSON.stringify(last.slice(0, 200))}; stderr: ${this.stderr.trim()}`));
        }
      });
    });
  }

  onLine(listener: (line: string) => void): void {
    this.lineListeners.push(listener);
  }
}

function trafficToolArgv(command: 'send' | 'sink', options: SendOptions | SinkOptions): string[] {
  return [process.execPath, '-r', 'ts-node/register/transpile-only', TRAFFIC_TOOL, command, JSON.stringify(options)];
}

/** Sends the flows from namespace `ns`; resolves when the sender is done. */
export function sendTraffic(ns: string, options: SendOptions): Promise<SendReport> {
  return new ToolProcess<SendReport>(ns, 'sender', trafficToolArgv('send', options), options.maxSeconds * 1000).report;
}

export interface Sink {
  /** Resolves once every endpoint is bound and joined (start the sender after this). */
  ready: Promise<void>;
  report: Promise<SinkReport>;
  /** Makes the sink report now (SIGTERM). */
  stop(): void;
}

/** Starts a sink in namespace `ns`. */
export function startSink(ns: string, options: SinkOptions): Sink {
  const tool = new ToolProcess<SinkReport>(ns, 'sink', trafficToolArgv('sink', options), options.maxSeconds * 1000);
  const ready = new Promise<void>((resolve, reject) => {
    tool.onLine((line) => {
      if (line === '{"event":"ready"}') resolve();
    });
    tool.report.then(() => reject(new Error(`sink in ${ns} reported before it was ready`)), reject);
  });
  ready.catch(() => undefined); // also surfaced through `report`
  return { ready, report: tool.report, stop: () => tool.child.kill('SIGTERM') };
}

export interface InjectOptions {
  interface: string;
  source: string;
  group: string;
  port: number;
  /** Frames of each kind. */
  count: number;
  intervalMs?: number;
}

export interface InjectReport {
  interface: string;
  /** Frames sent, by kind (see inject-frames.py). */
  frames: Record<string, number>;
  total: number;
}

/** Sends malformed frames from namespace `ns` (see inject-frames.py for the kinds). */
export async function injectMalformedFrames(ns: string, options: InjectOptions): Promise<InjectReport> {
  const argv = ['python3', INJECT_FRAMES, '--interface', options.interface, '--source', options.source, '--group', options.group];
  argv.push('--port', String(options.port), '--count', String(options.count), '--interval-ms', String(options.intervalMs ?? 1));
  return JSON.parse(await runIn(ns, argv, 60_000)) as InjectReport;
}

// ------------------------------------------------------------------------------------------ checking

export interface Delivery {
  /** Sequence numbers the sender generated. */
  expected: number;
  sent: number;
  sendErrors: number;
  received: number;
  missing: number;
  /** Received with a payload other than the one sent. */
  corrupted: number;
  /** Received, but never sent. */
  unexpected: number;
  duplicates: number;
  reordered: number;
  malformed: number;
  socketDrops: number | null;
  /** A few of the offending sequence numbers, for the failure message. */
  examples: { missing: number[]; corrupted: number[]; unexpected: string[] };
}

const EXAMPLES = 10;

/** Compares, sequence number by sequence number, the payload hashes the sink got with those sent. */
export function compareDelivery(sent: SentFlow, got: ReceivedStream): Delivery {
  const missing: number[] = [];
  const corrupted: number[] = [];
  sent.hashes.forEach((hash, sequence) => {
    const received = got.hashes[String(sequence)];
    if (received === undefined) missing.push(sequence);
    else if (received !== hash) corrupted.push(sequence);
  });
  const unexpected = Object.keys(got.hashes).filter((key) => !(Number(key) < sent.hashes.length));
  return {
    expected: sent.hashes.length,
    sent: sent.sent,
    sendErrors: sent.sendErrors,
    received: got.received,
    missing: missing.length,
    corrupted: corrupted.length,
    unexpected: unexpected.length,
    duplicates: got.duplicates,
    reordered: got.reordered,
    malformed: got.malformed,
    socketDrops: got.socketDrops,
    examples: { missing: missing.slice(0, EXAMPLES), corrupted: corrupted.slice(0, EXAMPLES), unexpected: unexpected.slice(0, EXAMPLES) },
  };
}

/**
 * Asserts that `got` holds every payload of `sent` exactly once, byte for byte, in order.
 * A flow is handled by one worker, so mcr must never reorder it.
 */
export function expectExactDelivery(label: string, sent: SentFlow, got: ReceivedStream): void {
  const d = compareDelivery(sent, got);
  const ok = d.sendErrors === 0 && d.sent === d.expected && d.missing + d.corrupted + d.unexpected + d.duplicates + d.reordered + d.malformed === 0;
  if (!ok) assert.fail(`${label} (${sent.address}:${sent.port} -> ${got.address}:${got.port}) was not delivered exactly: ${JSON.stringify(d)}`);
}

/** The sender's report for the flow to address:port. */
export function sentFlow(report: SendReport, address: string, port: number): SentFlow {
  const flow = report.flows.find((f) => f.address === address && f.port === port);
  if (!flow) throw new Error(`the sender has no flow to ${address}:${port}`);
  return flow;
}

/** The sink's stream for address:port. */
export function receivedStream(report: SinkReport, address: string, port: number): ReceivedStream {
  const stream = report.endpoints.find((e) => e.address === address && e.port === port);
  if (!stream) throw new Error(`the sink has no endpoint ${address}:${port}`);
  return stream;
}

// ------------------------------------------------------------------------------------ interruptions

/** How a flow went through a fault (a killed, hung or crash-looping worker) between known moments. */
export interface Interruption {
  /** Arrival (unix ms) of the last packet before the outage and of the first packet after it. */
  lastBeforeUnixMs: number;
  resumedUnixMs: number;
  /** From the start of the fault to the first packet after the outage. */
  resumedAfterMs: number;
  /** From the last packet before the outage to the first after it. */
  outageMs: number;
  /** Sequence numbers sent during the outage that never arrived. */
  lostInOutage: number;
  /** Sequence numbers that never arrived outside the outage (the fault must not cost more). */
  lostOutsideOutage: number[];
}

/**
 * The outage that a fault lasting from `startUnixMs` to `endUnixMs` (the same moment for a one-off
 * fault) caused in the flow: from the pause in arrivals around the start to the pause around the end
 * (a worker that crashes again and again may forward briefly in between). A pause is "around" a moment
 * if it ends after it and began no later than `slackMs` after it, as packets the worker had already
 * forwarded may still arrive just after the fault. Null if the arrivals show no such pause.
 */
export function interruptionAt(sent: SentFlow, got: ReceivedStream, startUnixMs: number, endUnixMs = startUnixMs, slackMs = 50): Interruption | null {
  const around = (at: number) => (g: ArrivalGap) => g.toUnixMs > at && g.fromUnixMs <= at + slackMs;
  const first = got.gaps.find(around(startUnixMs));
  const last = got.gaps.find(around(endUnixMs));
  if (!first || !last) return null;
  const inOutage = (sequence: number) => sequence > first.beforeSequence && sequence < last.afterSequence;
  const missing = missingSequences(sent, got);
  return {
    lastBeforeUnixMs: first.fromUnixMs,
    resumedUnixMs: last.toUnixMs,
    resumedAfterMs: Math.round(last.toUnixMs - startUnixMs),
    outageMs: Math.round(last.toUnixMs - first.fromUnixMs),
    lostInOutage: missing.filter(inOutage).length,
    lostOutsideOutage: missing.filter((sequence) => !inOutage(sequence)),
  };
}

/** Sequence numbers the sender sent that the sink never received. */
function missingSequences(sent: SentFlow, got: ReceivedStream): number[] {
  const missing: number[] = [];
  for (let sequence = 0; sequence < sent.hashes.length; sequence++) if (got.hashes[String(sequence)] === undefined) missing.push(sequence);
  return missing;
}
