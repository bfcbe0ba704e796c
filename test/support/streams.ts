/**
 * Streams across the test topology: the source sends flows from src, sinks in the sink namespaces
 * (or the relay itself, for the baseline) receive them, and the reports come back together.
 */
import { NET, Role, Topology } from './netns';
import { Endpoint, expectExactDelivery, FlowSpec, receivedStream, sendTraffic, SendReport, sentFlow, SinkReport, startSink } from './traffic';

type SinkRole = Exclude<Role, 'src'>;

/** Local address of the interface each sink namespace receives on. */
const SINK_INTERFACE_ADDRESS: Record<SinkRole, string> = {
  relay: NET.relayIn.address,
  sink1: NET.sink1.address,
  sink2: NET.sink2.address,
};

/** An endpoint in namespace `role`: a multicast group joined on its interface, or a unicast address. */
export function endpointIn(role: SinkRole, address: string, port: number, expect?: number): Endpoint {
  return { address, port, interfaceAddress: SINK_INTERFACE_ADDRESS[role], expect };
}

export interface Destination {
  address: string;
  port: number;
}

export interface StreamsOptions {
  flows: FlowSpec[];
  /** Packets per second, all flows together. */
  rate: number;
  /** TTL at the source (default 1, which the kernel would never forward). */
  ttl?: number;
  sinks: Partial<Record<SinkRole, Endpoint[]>>;
  /**
   * How long sinks may go on waiting once the sender has finished (default 5 s): they stop earlier
   * when complete or idle, and are stopped then otherwise (a stream that never arrives).
   */
  graceAfterSendMs?: number;
  /** Sinks report pauses in arrivals at least this long (see SinkOptions.gapThresholdMs). */
  gapThresholdMs?: number;
  /** Runs while the sender runs; `senderDone()` tells whether the sender has finished. */
  during?: (senderDone: () => boolean) => Promise<void>;
}

export interface StreamsResult {
  sent: SendReport;
  received: Partial<Record<SinkRole, SinkReport>>;
}

/** Starts the sinks, waits until they are ready, sends every flow from src, and collects the reports. */
export async function runStreams(topology: Topology, options: StreamsOptions): Promise<StreamsResult> {
  const packets = options.flows.reduce((sum, flow) => sum + flow.count, 0);
  const sendSeconds = Math.ceil(packets / options.rate) + 10;
  // Sinks stop when complete, 3 s after their last packet, when stopped after the grace below, or at
  // the latest after the whole sending time and a margin.
  const roles = Object.keys(options.sinks) as SinkRole[];
  const sinks = roles.map((role) =>
    startSink(topology.ns[role], { endpoints: options.sinks[role]!, maxSeconds: sendSeconds + 15, idleSeconds: 3, gapThresholdMs: options.gapThresholdMs }),
  );
  try {
    await Promise.all(sinks.map((sink) => sink.ready));
  } catch (err) {
    for (const sink of sinks) sink.stop();
    throw err;
  }
  let senderDone = false;
  const sending = sendTraffic(topology.ns.src, {
    flows: options.flows,
    interfaceAddress: NET.src.address,
    ttl: options.ttl ?? 1,
    rate: options.rate,
    maxSeconds: sendSeconds,
  }).finally(() => {
    senderDone = true;
  });
  try {
    const [sent] = await Promise.all([sending, options.during?.(() => senderDone)]);
    const stopper = setTimeout(() => sinks.forEach((sink) => sink.stop()), options.graceAfterSendMs ?? 5000);
    const reports = await Promise.all(sinks.map((sink) => sink.report)).finally(() => clearTimeout(stopper));
    return { sent, received: Object.fromEntries(roles.map((role, i) => [role, reports[i]])) };
  } catch (err) {
    for (const sink of sinks) sink.stop();
    throw err;
  }
}

/**
 * Asserts that the sink in `role` got the flow sent to `from` on its endpoint `to` exactly once,
 * byte for byte, in order.
 */
export function expectDelivered(result: StreamsResult, from: Destination, role: SinkRole, to: Destination = from): void {
  const report = result.received[role];
  if (!report) throw new Error(`no sink ran in ${role}`);
  expectExactDelivery(`${role}`, sentFlow(result.sent, from.address, from.port), receivedStream(report, to.address, to.port));
}
