/**
 * The marks receiver (udp-marks-receiver.py) run in a namespace: per endpoint, how many distinct
 * payloads arrived and the TTLs and TOS bytes of the IP headers they came in (and, per payload, its
 * own when asked).
 */
import path from 'path';

import { spawnIn } from './netns';

const RECEIVER = path.join(__dirname, 'udp-marks-receiver.py');

export interface MarksEndpoint {
  address: string;
  port: number;
  /** Where a multicast address is joined. */
  interfaceAddress: string;
  /** Payloads to wait for here, when not expectEach. */
  expect?: number;
}

export interface Marks {
  address: string;
  port: number;
  payloads: number;
  datagrams: number;
  ttls: number[];
  toses: number[];
  /** The source addresses the datagrams came from. */
  sources: string[];
  /** With perPayload: by the payload's first 4 bytes, the [ttl, tos] it arrived with. */
  marks?: Record<string, [number, number]>;
  /** With perPayload: by the payload's first 4 bytes, its length and SHA-256 (hex). */
  digests?: Record<string, [number, string]>;
}

/**
 * Starts the receiver in `ns` and resolves once it is listening; `done` resolves with its report once
 * every endpoint has `expectEach` payloads, or after `maxSeconds`.
 */
export async function startMarksReceiver(
  ns: string,
  endpoints: MarksEndpoint[],
  expectEach: number,
  options: { maxSeconds?: number; perPayload?: boolean } = {},
): Promise<{ done: Promise<Marks[]> }> {
  const args = ['python3', RECEIVER, JSON.stringify(endpoints), String(expectEach), String(options.maxSeconds ?? 20)];
  const child = spawnIn(ns, options.perPayload ? [...args, 'per-payload'] : args);
  let output = '';
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.startsWith('ready\n')) resolve();
    });
    void exited.then(() => reject(new Error(`the receiver exited before it was ready: ${errors}`)));
  });
  return {
    done: exited.then(() => {
      const report = output.split('\n')[1];
      if (!report) throw new Error(`the receiver gave no report: ${errors}`);
      return JSON.parse(report) as Marks[];
    }),
  };
}
