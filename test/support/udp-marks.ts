/**
 * The marks receiver (udp-marks-receiver.py) run in a namespace: per endpoint, how many distinct
 * payloads arrived and the TTLs and TOS bytes of the IP headers they came in (and, per payload, its
 * own when asked).
 */
import path from 'path';

import { startReportingChild } from './reporting-child';

const RECEIVER = path.join(__dirname, 'udp-marks-receiver.py');

export interface MarksEndpoint {
  address: string;
  port: number;
  /** Where an IPv4 multicast address is joined. */
  interfaceAddress?: string;
  /** IPv6: the interface a multicast address is joined on, and a link-local one bound in the scope of. */
  interface?: string;
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
  return startReportingChild<Marks[]>(ns, options.perPayload ? [...args, 'per-payload'] : args, 'receiver');
}
