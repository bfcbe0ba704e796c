/**
 * A multicast receiver that reports where its packets came from (the source address the kernel gives
 * for each datagram), for the tests that change an output interface's address. Run as its own
 * process inside a sink namespace:
 *
 *   node -r ts-node/register/transpile-only test/support/source-sink.ts '<SourceSinkOptions JSON>'
 *
 * It joins the group on the given interface, prints {"event":"ready"}, and on SIGTERM or at the
 * maxSeconds deadline prints one SourceSinkReport line: per source address, how many datagrams came
 * and which sequence numbers (from the test payload header) and arrival times they spanned.
 * startSourceSink() runs it from a test.
 */
import dgram from 'dgram';

import { runTool, startTool, ToolRun } from './json-tool';
import { nowNs, readHeader } from './payload';

export interface SourceSinkOptions {
  group: string;
  port: number;
  /** Local address of the interface to join the group on. */
  interfaceAddress: string;
  maxSeconds: number;
}

/** What came from one source address. */
export interface SourceSeen {
  address: string;
  datagrams: number;
  /** Lowest and highest sequence number received from it. */
  minSequence: number;
  maxSequence: number;
  /** Arrival (unix ms) of its first and last datagram. */
  firstArrivalUnixMs: number;
  lastArrivalUnixMs: number;
}

export interface SourceSinkReport {
  sources: SourceSeen[];
  /** Datagrams too short to carry the payload header. */
  malformed: number;
  stopReason: 'signal' | 'deadline';
}

// -------------------------------------------------------------------------------------- the receiver

/** Room for a second or more of traffic, should the receiver be held up on a busy machine. */
const RECEIVE_BUFFER_BYTES = 4 << 20;

async function receive(options: SourceSinkOptions, onReady: () => void): Promise<SourceSinkReport> {
  const bySource = new Map<string, SourceSeen>();
  let malformed = 0;
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: RECEIVE_BUFFER_BYTES });
  socket.on('message', (payload, rinfo) => {
    const atUnixMs = Number(nowNs()) / 1e6;
    const header = readHeader(payload);
    if (!header) {
      malformed++;
      return;
    }
    const seen = bySource.get(rinfo.address);
    if (!seen) {
      const first = { minSequence: header.sequence, maxSequence: header.sequence, firstArrivalUnixMs: atUnixMs, lastArrivalUnixMs: atUnixMs };
      bySource.set(rinfo.address, { address: rinfo.address, datagrams: 1, ...first });
      return;
    }
    seen.datagrams++;
    seen.minSequence = Math.min(seen.minSequence, header.sequence);
    seen.maxSequence = Math.max(seen.maxSequence, header.sequence);
    seen.lastArrivalUnixMs = atUnixMs;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: options.group, port: options.port }, () => {
      socket.removeListener('error', reject);
      resolve();
    });
  });
  socket.addMembership(options.group, options.interfaceAddress);
  const stopReason = await new Promise<SourceSinkReport['stopReason']>((resolve) => {
    const timer = setTimeout(() => resolve('deadline'), options.maxSeconds * 1000);
    process.once('SIGTERM', () => {
      clearTimeout(timer);
      resolve('signal');
    });
    onReady();
  });
  socket.close();
  return { sources: [...bySource.values()], malformed, stopReason };
}

if (require.main === module) runTool('source-sink.ts', receive);

// -------------------------------------------------------------------------------------- the launcher

export type SourceSink = ToolRun<SourceSinkReport>;

/** Starts the receiver in namespace `ns`. */
export function startSourceSink(ns: string, options: SourceSinkOptions): SourceSink {
  return startTool<SourceSinkReport>(__filename, options, { label: 'source sink', boundMs: options.maxSeconds * 1000, ns });
}
