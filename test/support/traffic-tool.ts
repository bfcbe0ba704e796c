/**
 * UDP traffic generator and sink for the end-to-end tests, run as its own process inside a network
 * namespace (see traffic.ts, which starts it and parses what it prints):
 *
 *   node -r ts-node/register/transpile-only test/support/traffic-tool.ts send '<SendOptions JSON>'
 *   node -r ts-node/register/transpile-only test/support/traffic-tool.ts sink '<SinkOptions JSON>'
 *
 * `send` paces the packets of one or more flows (round-robin) at a total rate and prints one
 * SendReport line with the sha256 of every payload it sent. `sink` binds one socket per endpoint
 * (joining the group on the given interface for multicast), prints {"event":"ready"} once every socket
 * is ready, and prints one SinkReport line when every endpoint has its expected count, when no packet
 * came for idleSeconds after the first one, at the maxSeconds deadline, or on SIGTERM. For each
 * endpoint it also reports the pauses in arrivals longer than gapThresholdMs (when a flow stopped and
 * when it resumed), for the tests that interrupt a flow on purpose.
 * Everything is bounded by packet counts and maxSeconds.
 */
import dgram from 'dgram';
import fs from 'fs';
import net from 'net';

import { buildPayload, nowNs, readHeader, sha256 } from './payload';

export interface FlowSpec {
  /** Destination (multicast group or unicast address) and port. */
  address: string;
  port: number;
  count: number;
  /** Payload bytes per packet (>= 16). */
  size: number;
  /** Seeds the payloads' pseudo-random bytes. */
  seed: number;
}

export interface SendOptions {
  flows: FlowSpec[];
  /** Local address: the socket is bound to it and it selects the multicast interface. */
  interfaceAddress: string;
  /** IP TTL (multicast and unicast); default 1. */
  ttl?: number;
  /** Packets per second, all flows together. */
  rate: number;
  /** Hard bound: sending stops here even if packets remain. */
  maxSeconds: number;
}

export interface SentFlow {
  address: string;
  port: number;
  /** Packets handed to the kernel successfully. */
  sent: number;
  sendErrors: number;
  firstError: string | null;
  /** sha256 (hex) of each payload, indexed by sequence number. */
  hashes: string[];
}

export interface SendReport {
  flows: SentFlow[];
  elapsedMs: number;
  /** The deadline stopped the sender before every packet was sent. */
  timedOut: boolean;
}

export interface Endpoint {
  /** Multicast group to join, or a local unicast address, to bind to. */
  address: string;
  port: number;
  /** For a multicast group: the local address of the interface to join it on. */
  interfaceAddress?: string;
  /** Distinct sequence numbers after which this endpoint is complete. */
  expect?: number;
}

export interface SinkOptions {
  endpoints: Endpoint[];
  maxSeconds: number;
  /** Stop when nothing arrived for this long after the first packet (default: maxSeconds). */
  idleSeconds?: number;
  /** Keep listening this long after completion, to catch late duplicates (default 300 ms). */
  lingerMs?: number;
  /** Pauses between two arrivals at least this long are reported in `gaps` (default 100 ms). */
  gapThresholdMs?: number;
}

export interface LatencySummary {
  minUs: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

/** A pause in the arrivals at one endpoint: nothing came between these two packets. */
export interface ArrivalGap {
  /** Sequence number and arrival time (unix ms) of the last packet before the pause. */
  beforeSequence: number;
  fromUnixMs: number;
  /** Sequence number and arrival time (unix ms) of the first packet after it. */
  afterSequence: number;
  toUnixMs: number;
}

export interface ReceivedStream {
  address: string;
  port: number;
  /** Datagrams received, duplicates included. */
  received: number;
  /** Distinct sequence numbers. */
  unique: number;
  duplicates: number;
  /** Duplicates whose payload differed from the first copy. */
  conflicting: number;
  /** Datagrams whose sequence number was lower than one already seen. */
  reordered: number;
  /** Datagrams too short to carry the payload header. */
  malformed: number;
  /** sha256 (hex) of the first payload received for each sequence number. */
  hashes: Record<string, string>;
  latency: LatencySummary | null;
  /** Arrival time (unix ms) of the first and of the last datagram; null before any. */
  firstArrivalUnixMs: number | null;
  lastArrivalUnixMs: number | null;
  /** Pauses of at least gapThresholdMs between arrivals, oldest first (at most MAX_GAPS). */
  gaps: ArrivalGap[];
  /** The socket's kernel drop counter (/proc/net/udp), or null if it could not be read. */
  socketDrops: number | null;
}

export type StopReason = 'complete' | 'idle' | 'deadline' | 'signal';

export interface SinkReport {
  endpoints: ReceivedStream[];
  elapsedMs: number;
  stopReason: StopReason;
}

const RECEIVE_BUFFER_BYTES = 4 << 20;
const DEFAULT_GAP_THRESHOLD_MS = 100;
/** Bound on the gaps reported per endpoint (a flow that trickles would otherwise make a huge report). */
const MAX_GAPS = 100;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function bind(socket: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.removeListener('error', reject);
      resolve();
    });
  });
}

// ---------------------------------------------------------------------------------------------- send

/** Yields flow indexes round-robin, skipping flows that have sent their count. */
function* roundRobin(flows: FlowSpec[]): Generator<number> {
  const remaining = flows.map((flow) => flow.count);
  let left = remaining.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0; i = (i + 1) % flows.length) {
    if (remaining[i] === 0) continue;
    remaining[i]--;
    left--;
    yield i;
  }
}

export async function send(options: SendOptions): Promise<SendReport> {
  const socket = dgram.createSocket({ type: 'udp4' });
  await bind(socket, options.interfaceAddress, 0);
  const ttl = options.ttl ?? 1;
  socket.setMulticastInterface(options.interfaceAddress);
  socket.setMulticastTTL(ttl);
  socket.setMulticastLoopback(false);
  socket.setTTL(ttl);

  const flows: SentFlow[] = options.flows.map((f) => ({ address: f.address, port: f.port, sent: 0, sendErrors: 0, firstError: null, hashes: [] }));
  const nextSequence = options.flows.map(() => 0);
  const order = roundRobin(options.flows);
  const total = options.flows.reduce((sum, flow) => sum + flow.count, 0);
  const started = performance.now();
  const deadline = started + options.maxSeconds * 1000;
  let queued = 0;
  let timedOut = false;

  const sendOne = (flowIndex: number): Promise<void> => {
    const spec = options.flows[flowIndex];
    const flow = flows[flowIndex];
    const sequence = nextSequence[flowIndex]++;
    const payload = buildPayload(spec.seed, sequence, spec.size, nowNs());
    flow.hashes[sequence] = sha256(payload);
    return new Promise((resolve) => {
      socket.send(payload, spec.port, spec.address, (err) => {
        if (err) {
          flow.sendErrors++;
          flow.firstError ??= err.message;
        } else {
          flow.sent++;
        }
        resolve();
      });
    });
  };

  // Every tick sends the packets that are due by now at the requested rate (a short burst after a
  // late timer), then waits for them to leave before the next tick.
  while (queued < total) {
    const now = performance.now();
    if (now > deadline) {
      timedOut = true;
      break;
    }
    const due = Math.min(total, Math.floor(((now - started) / 1000) * options.rate) + 1);
    const burst: Promise<void>[] = [];
    for (; queued < due; queued++) burst.push(sendOne(order.next().value as number));
    await Promise.all(burst);
    if (queued < total) await sleep(1);
  }
  socket.close();
  return { flows, elapsedMs: Math.round(performance.now() - started), timedOut };
}

// ---------------------------------------------------------------------------------------------- sink

/** Drop counters of this namespace's UDP sockets, by local port (the last column of /proc/net/udp). */
function udpDropsByPort(): Map<number, number> {
  const drops = new Map<number, number>();
  let text: string;
  try {
    text = fs.readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return drops;
  }
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 13) continue;
    const port = parseInt(fields[1].split(':')[1], 16);
    drops.set(port, (drops.get(port) ?? 0) + Number(fields[fields.length - 1]));
  }
  return drops;
}

function summarizeLatency(samples: number[]): LatencySummary | null {
  if (samples.length === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  return { minUs: Math.round(sorted[0]), p50Us: at(0.5), p99Us: at(0.99), maxUs: Math.round(sorted[sorted.length - 1]) };
}

/** What one endpoint has received so far. */
class StreamRecorder {
  readonly stream: ReceivedStream;
  private highest = -1;
  private readonly latenciesUs: number[] = [];
  private lastSequence = -1;

  constructor(
    readonly endpoint: Endpoint,
    private readonly gapThresholdMs: number,
  ) {
    this.stream = {
      address: endpoint.address,
      port: endpoint.port,
      received: 0,
      unique: 0,
      duplicates: 0,
      conflicting: 0,
      reordered: 0,
      malformed: 0,
      hashes: {},
      latency: null,
      firstArrivalUnixMs: null,
      lastArrivalUnixMs: null,
      gaps: [],
      socketDrops: null,
    };
  }

  record(payload: Buffer, receivedNs: bigint): void {
    const s = this.stream;
    s.received++;
    const header = readHeader(payload);
    if (!header) {
      s.malformed++;
      return;
    }
    this.noteArrival(header.sequence, Number(receivedNs) / 1e6);
    const hash = sha256(payload);
    const key = String(header.sequence);
    const previous = s.hashes[key];
    if (previous !== undefined) {
      s.duplicates++;
      if (previous !== hash) s.conflicting++;
    } else {
      s.hashes[key] = hash;
      s.unique++;
    }
    if (header.sequence < this.highest) s.reordered++;
    else this.highest = header.sequence;
    this.latenciesUs.push(Number(receivedNs - header.sentNs) / 1000);
  }

  private noteArrival(sequence: number, atUnixMs: number): void {
    const s = this.stream;
    const previous = s.lastArrivalUnixMs;
    if (previous !== null && atUnixMs - previous >= this.gapThresholdMs && s.gaps.length < MAX_GAPS) {
      s.gaps.push({ beforeSequence: this.lastSequence, fromUnixMs: previous, afterSequence: sequence, toUnixMs: atUnixMs });
    }
    s.firstArrivalUnixMs ??= atUnixMs;
    s.lastArrivalUnixMs = atUnixMs;
    this.lastSequence = sequence;
  }

  get complete(): boolean {
    return this.endpoint.expect !== undefined && this.stream.unique >= this.endpoint.expect;
  }

  finish(drops: Map<number, number>): ReceivedStream {
    this.stream.latency = summarizeLatency(this.latenciesUs);
    this.stream.socketDrops = drops.get(this.endpoint.port) ?? null;
    return this.stream;
  }
}

function isMulticast(address: string): boolean {
  const first = Number(address.split('.')[0]);
  return net.isIPv4(address) && first >= 224 && first <= 239;
}

async function openEndpoint(endpoint: Endpoint, recorder: StreamRecorder, onPacket: () => void): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: RECEIVE_BUFFER_BYTES });
  socket.on('message', (payload) => {
    recorder.record(payload, nowNs());
    onPacket();
  });
  await bind(socket, endpoint.address, endpoint.port);
  if (isMulticast(endpoint.address)) {
    if (!endpoint.interfaceAddress) throw new Error(`endpoint ${endpoint.address}:${endpoint.port} is multicast but has no interfaceAddress`);
    socket.addMembership(endpoint.address, endpoint.interfaceAddress);
  }
  return socket;
}

export async function sink(options: SinkOptions, onReady: () => void): Promise<SinkReport> {
  const started = performance.now();
  const gapThresholdMs = options.gapThresholdMs ?? DEFAULT_GAP_THRESHOLD_MS;
  const recorders = options.endpoints.map((endpoint) => new StreamRecorder(endpoint, gapThresholdMs));
  const idleMs = (options.idleSeconds ?? options.maxSeconds) * 1000;
  const lingerMs = options.lingerMs ?? 300;
  const sockets: dgram.Socket[] = [];
  let lastPacketAt = 0;
  let completedAt = 0;

  const stopReason = await new Promise<StopReason>((resolve, reject) => {
    const finish = (reason: StopReason) => {
      clearInterval(timer);
      process.removeListener('SIGTERM', onSignal);
      resolve(reason);
    };
    const onSignal = () => finish('signal');
    const onPacket = () => {
      lastPacketAt = performance.now();
      if (completedAt === 0 && recorders.every((r) => r.complete)) completedAt = lastPacketAt;
    };
    const timer = setInterval(() => {
      const now = performance.now();
      if (completedAt > 0 && now - completedAt >= lingerMs) finish('complete');
      else if (lastPacketAt > 0 && now - lastPacketAt >= idleMs) finish('idle');
      else if (now - started >= options.maxSeconds * 1000) finish('deadline');
    }, 20);
    process.on('SIGTERM', onSignal);
    Promise.all(recorders.map((r) => openEndpoint(r.endpoint, r, onPacket)))
      .then((opened) => {
        sockets.push(...opened);
        onReady();
      })
      .catch((err) => {
        clearInterval(timer);
        reject(err);
      });
  });

  // Read the drop counters while the sockets still exist.
  const drops = udpDropsByPort();
  for (const socket of sockets) socket.close();
  return { endpoints: recorders.map((r) => r.finish(drops)), elapsedMs: Math.round(performance.now() - started), stopReason };
}

// ---------------------------------------------------------------------------------------------- main

/** Writes one JSON line; resolves once it is flushed (a pipe may take a large report in pieces). */
function printLine(value: unknown): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(JSON.stringify(value) + '\n', (err) => (err ? reject(err) : resolve())));
}

async function main(argv: string[]): Promise<void> {
  const [command, json] = argv;
  if ((command !== 'send' && command !== 'sink') || json === undefined) {
    throw new Error("usage: traffic-tool.ts send|sink '<options JSON>'");
  }
  const options = JSON.parse(json);
  if (command === 'send') await printLine(await send(options as SendOptions));
  else await printLine(await sink(options as SinkOptions, () => void printLine({ event: 'ready' })));
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`traffic-tool: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
