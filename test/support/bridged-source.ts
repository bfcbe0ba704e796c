/**
 * A second source whose links into the relay come and go while it sends, for the tests of input
 * interfaces that appear, disappear and are re-created:
 *
 *   src                                   relay
 *   br9 10.21.0.2/24 (bridge) ── sN ─────── inN   (one veth pair per input link, made and deleted
 *                                                    by the test; no address on inN)
 *
 * The sender binds to the bridge's address, which exists throughout, so it keeps sending while the
 * veths under the bridge are deleted and re-created; the bridge floods its multicast to every port.
 * The source subnet is one the relay cannot route back to, as for the main source.
 */
import { ipBatch, ipIn, linkNumber } from './links';
import { Topology } from './netns';
import { waitFor } from './poll';
import { Endpoint, FlowSpec, receivedStream, ReceivedStream, sendTraffic, SentFlow, sentFlow, startSink } from './traffic';

export const SOURCE_BRIDGE = { ifname: 'br9', address: '10.21.0.2', prefixLength: 24 } as const;

/** Packets the sender must have put on the bridge before `during` runs. */
const SENDING_PACKETS = 50;
/** ts-node start-up of the sender before its first packet. */
const SENDER_START_TIMEOUT_MS = 20_000;
/** Time for the last forwarded packets to reach the sink once the sender has finished. */
const DRAIN_MS = 500;

/** Creates the bridge in the src namespace (no ports yet), with multicast snooping off so it floods. */
export async function createSourceBridge(topology: Topology): Promise<void> {
  const ns = topology.ns.src;
  await ipIn(ns, ['link', 'add', SOURCE_BRIDGE.ifname, 'type', 'bridge', 'mcast_snooping', '0']);
  await ipIn(ns, ['address', 'add', `${SOURCE_BRIDGE.address}/${SOURCE_BRIDGE.prefixLength}`, 'dev', SOURCE_BRIDGE.ifname]);
  await ipIn(ns, ['link', 'set', SOURCE_BRIDGE.ifname, 'up']);
}

/** Name of the bridge port paired with relay interface `ifname` ("in9" -> "s-in9"). */
function portName(ifname: string): string {
  return `s-${ifname}`;
}

/** Names the replacement of relay interface `ifname` has before the swap, and the replaced one after it. */
function swapNames(ifname: string): { replacement: string; replaced: string } {
  return { replacement: `new-${ifname}`, replaced: `old-${ifname}` };
}

/**
 * Creates relay interface `ifname`, administratively up from its first moment, as a veth whose peer
 * joins the bridge (which gives it carrier): mcrd first sees it up without carrier, then running.
 */
export async function addInputLink(topology: Topology, ifname: string): Promise<void> {
  await ipIn(topology.ns.relay, ['link', 'add', ifname, 'up', 'type', 'veth', 'peer', 'name', portName(ifname), 'netns', topology.ns.src]);
  await attachPort(topology, ifname);
}

/** Puts the peer of relay interface `ifname` into the bridge and up. */
async function attachPort(topology: Topology, ifname: string): Promise<void> {
  await ipIn(topology.ns.src, ['link', 'set', portName(ifname), 'master', SOURCE_BRIDGE.ifname, 'up']);
}

/**
 * Replaces relay interface `ifname` by a new one (new index) by renaming, as container and udev
 * tooling do: the new veth is made under a temporary name ahead of time; then one `ip -batch` takes
 * the old interface down and renames it away, renames the new one to `ifname` and brings it up, all
 * within a millisecond (faster than mcrd's coalescing: mcrd sees the name move to a new index at once,
 * never missing), and only then deletes the old one. Resolves with the moment of the swap (unix ms).
 */
export async function replaceInputLinkAtOnce(topology: Topology, ifname: string): Promise<number> {
  const { replacement, replaced } = swapNames(ifname);
  await ipIn(topology.ns.relay, ['link', 'add', replacement, 'type', 'veth', 'peer', 'name', portName(replacement), 'netns', topology.ns.src]);
  await attachPort(topology, replacement);
  const swappedAt = Date.now();
  await ipBatch(topology.ns.relay, [
    `link set ${ifname} down`,
    `link set ${ifname} name ${replaced}`,
    `link set ${replacement} name ${ifname}`,
    `link set ${ifname} up`,
    `link del ${replaced}`,
  ]);
  return swappedAt;
}

/** Deletes relay interface `ifname` (and with it its bridge port). */
export async function deleteInputLink(topology: Topology, ifname: string): Promise<void> {
  await ipIn(topology.ns.relay, ['link', 'del', ifname]);
}

/**
 * Deletes the input link, and those of a swap in progress, if they exist (cleanup after a test that
 * may have failed half-way).
 */
export async function removeInputLinkIfPresent(topology: Topology, ifname: string): Promise<void> {
  const links = await ipIn(topology.ns.relay, ['-o', 'link', 'show']);
  const { replacement, replaced } = swapNames(ifname);
  for (const name of [ifname, replacement, replaced]) {
    if (new RegExp(`^\\d+: ${name}[@:]`, 'm').test(links)) await deleteInputLink(topology, name);
  }
}

export interface BridgedRunOptions {
  flow: FlowSpec;
  /** Packets per second. */
  rate: number;
  /** Where sink1 receives the forwarded flow. */
  sink: Endpoint;
  /** Pauses in arrivals from this long are reported (default 100 ms). */
  gapThresholdMs?: number;
  /** Runs once the sender is visibly sending; what it does to the links happens under traffic. */
  during: () => Promise<void>;
}

export interface BridgedRun {
  sent: SentFlow;
  got: ReceivedStream;
  /** Whether the sender was still sending when `during` finished. */
  duringUnderTraffic: boolean;
}

/**
 * Starts a sink in sink1, sends the flow from the bridge, runs `during` once packets leave the
 * bridge, and returns what was sent and received. The sink never stops for idleness (the flow may
 * pause for a long time on purpose): it is stopped once the sender has finished.
 */
export async function runFromBridge(topology: Topology, options: BridgedRunOptions): Promise<BridgedRun> {
  const sendSeconds = Math.ceil(options.flow.count / options.rate) + 10;
  const sink = startSink(topology.ns.sink1, {
    endpoints: [options.sink],
    maxSeconds: sendSeconds + 15,
    idleSeconds: sendSeconds + 15,
    gapThresholdMs: options.gapThresholdMs,
  });
  try {
    await sink.ready;
    const txBefore = await bridgeTxPackets(topology);
    let senderDone = false;
    const sending = sendTraffic(topology.ns.src, {
      flows: [options.flow],
      interfaceAddress: SOURCE_BRIDGE.address,
      ttl: 1,
      rate: options.rate,
      maxSeconds: sendSeconds,
    }).finally(() => {
      senderDone = true;
    });
    sending.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    await Promise.race([
      waitFor('the sender to put packets on the bridge', () => bridgeTxPackets(topology), (tx) => tx >= txBefore + SENDING_PACKETS, SENDER_START_TIMEOUT_MS, 20),
      sending.then(() => Promise.reject(new Error('the sender finished before it was seen sending'))),
    ]);
    await options.during();
    const duringUnderTraffic = !senderDone;
    const sent = await sending;
    await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
    sink.stop();
    const report = await sink.report;
    return {
      sent: sentFlow(sent, options.flow.address, options.flow.port),
      got: receivedStream(report, options.sink.address, options.sink.port),
      duringUnderTraffic,
    };
  } finally {
    sink.stop(); // no-op once it has reported
  }
}

function bridgeTxPackets(topology: Topology): Promise<number> {
  return linkNumber(topology.ns.src, SOURCE_BRIDGE.ifname, 'statistics/tx_packets');
}
