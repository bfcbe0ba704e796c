/**
 * One flow per worker, for the tests that hurt one worker and watch both flows: each flow has its own
 * rule (in0 -> out1, received in sink1), placed on a chosen worker. A run sends every flow at once
 * and does the fault once each flow is visibly forwarding.
 */
import { Rule } from '../../gen/mcr/v1/rules';
import type { RelayContext } from './fixture';
import { McrClient, RuleSpec } from './grpc';
import { NET } from './netns';
import { createRuleOnChosenWorker, waitForRulePackets, waitForRuleState } from './rules';
import { Destination, endpointIn, runStreams, StreamsResult } from './streams';
import { interruptionAt, Interruption, receivedStream, sentFlow } from './traffic';

/** Candidate input groups per flow: placement hashes group and port, so some land on each worker. */
const CANDIDATES = 16;
/** Pauses in arrivals from this long are reported by the sink by default (normal pacing is a few ms). */
const GAP_THRESHOLD_MS = 100;

export interface PlacedFlow {
  worker: number;
  rule: Rule;
  input: Destination;
  output: Destination;
}

/** Rule candidates for the flow of worker `n`: inputs 239.5.n.1.. on port 5000+n, output 239.9.5.n+1:6000+n. */
function candidates(n: number): RuleSpec[] {
  return Array.from({ length: CANDIDATES }, (_, i) => ({
    name: `flow-${n}`,
    input: { interface: NET.relayIn.ifname, group: `239.5.${n}.${i + 1}`, port: 5000 + n },
    outputs: [{ interface: NET.relayOut1.ifname, address: `239.9.5.${n + 1}`, port: 6000 + n }],
  }));
}

/** Creates one flow's rule on each of `workers` workers and waits until each is active. */
export async function placeFlowPerWorker(client: McrClient, workers: number): Promise<PlacedFlow[]> {
  const flows: PlacedFlow[] = [];
  for (let worker = 0; worker < workers; worker++) {
    const rule = await createRuleOnChosenWorker(client, worker, candidates(worker));
    await waitForRuleState(client, rule.id);
    const output = rule.outputs[0];
    flows.push({ worker, rule, input: { address: rule.input!.group, port: rule.input!.port }, output: { address: output.address, port: output.port } });
  }
  return flows;
}

export interface FlowRunOptions {
  /** Seeds the payloads (flow i uses seed + i). */
  seed: number;
  /** Packets per flow. */
  packets: number;
  /** Packets per second, all flows together. */
  rate: number;
  /** Packets each flow must have forwarded in this run before the fault. */
  beforeFault: number;
  /** Pauses in arrivals from this long are reported (default 100 ms). */
  gapThresholdMs?: number;
  /** Does the fault; resolves with its time (unix ms) once it has watched the outcome. */
  fault: () => Promise<number>;
}

export interface FlowRun {
  result: StreamsResult;
  faultAt: number;
  /** Whether the sender still ran when `fault` resolved (the fault and its outcome were under traffic). */
  faultUnderTraffic: boolean;
}

/** Sends every flow at once and does the fault once each flow forwards. */
export async function runPlacedFlows(relay: RelayContext, flows: PlacedFlow[], options: FlowRunOptions): Promise<FlowRun> {
  const { client } = relay;
  // Counters add up over a file's runs: wait for packets of this run.
  const counted = await Promise.all(flows.map(async (f) => Number((await client.getStats(f.rule.id))[0]?.packetsReceived ?? 0n)));
  let faultAt = 0;
  let faultUnderTraffic = false;
  const result = await runStreams(relay.topology, {
    flows: flows.map((f, i) => ({ ...f.input, count: options.packets, size: 200, seed: options.seed + i })),
    rate: options.rate,
    gapThresholdMs: options.gapThresholdMs ?? GAP_THRESHOLD_MS,
    sinks: { sink1: flows.map((f) => endpointIn('sink1', f.output.address, f.output.port, options.packets)) },
    during: async (senderDone) => {
      for (const [i, f] of flows.entries()) await waitForRulePackets(client, f.rule.id, counted[i] + options.beforeFault, 20_000);
      faultAt = await options.fault();
      faultUnderTraffic = !senderDone();
    },
  });
  return { result, faultAt, faultUnderTraffic };
}

/**
 * How `flow` went through the fault of `run` (lasting until `faultEndUnixMs` if it was not a one-off);
 * fails if its arrivals show no pause around it.
 */
export function interruptionOf(run: FlowRun, flow: PlacedFlow, faultEndUnixMs = run.faultAt): Interruption {
  const stream = receivedStream(run.result.received.sink1!, flow.output.address, flow.output.port);
  const interruption = interruptionAt(sentFlow(run.result.sent, flow.input.address, flow.input.port), stream, run.faultAt, faultEndUnixMs);
  if (!interruption) {
    throw new Error(`the flow of worker ${flow.worker} shows no pause around the fault (${run.faultAt} to ${faultEndUnixMs}): was the right process hit? pauses: ${JSON.stringify(stream.gaps)}`);
  }
  return interruption;
}
