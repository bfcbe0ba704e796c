/**
 * One probe: a sink in the receiver, the generator in the sender at a given rate for a given time, CPU
 * snapshots around it, and the comparison of what arrived with what was sent.
 *
 * Loss is counted per stream (receiver interface, flow): every flow is expected once on every output
 * link in use (or once on d1 on the direct path), and each stream must hold every sequence number the
 * generator sent for its flow.
 */
import { CpuSnapshot, CpuUsage, snapshot, usageBetween } from './cpu';
import { Flow, Relay } from './relays/relay';
import { BenchTopology, DIRECT_RECEIVER, DIRECT_SENDER, outputLink, SOURCE } from './topology';
import type { ToolName } from './tools';
import { GenReport, LatencyReport, runGen, Sink, SinkReport } from './traffic';

/** IP TTL of the generated packets: the kernel's forwarding needs more than 1. */
export const SOURCE_TTL = 8;
/** After the generator stops, the sink ends once nothing arrived for this long. */
const DRAIN_IDLE_MS = 150;

export interface Traffic {
  /** Through the relay (s0 -> in0, outputs -> r1..r10) or sender to receiver directly (d0 -> d1). */
  path: 'relay' | 'direct';
  flows: Flow[];
  /** Output links in use (relay path). */
  outputs: number[];
  size: number;
}

export interface ProbeRequest {
  /** Packets per second, all flows together; 0 = flat out. */
  rate: number;
  seconds: number;
}

export interface ProbeResult {
  requestedPps: number;
  /** Rate the generator achieved (packets the kernel accepted / time). */
  offeredPps: number;
  sent: number;
  sendErrors: number;
  /** Copies that should have arrived (sent x outputs). */
  expected: number;
  delivered: number;
  loss: number;
  /** Delivered copies per second over the receiving window (first to last arrival). */
  deliveredPps: number;
  duplicates: number;
  reordered: number;
  /** Packets on streams nobody expects (wrong interface, unknown flow). */
  unexpected: number;
  /** Late packets of an earlier probe. */
  stale: number;
  sinkSocketDrops: number;
  latencyNs: LatencyReport;
  cpu: CpuUsage;
  /** CPU seconds the generator and the sink used (the harness's processes). */
  generatorCpuSeconds: number;
  sinkCpuSeconds: number;
  /**
   * Time the relay's threads were runnable but waiting for a CPU (summed over threads), over the sending
   * time: how much other work (on this machine, or the relay's own other threads) got in their way.
   */
  waitFraction: number;
  /** The same for generator and sink, seconds (they share the harness CPU, so they wait for each other). */
  generatorWaitSeconds: number;
  sinkWaitSeconds: number;
  /** Changes of the relay's own counters during the probe. */
  relayCounters: Record<string, number>;
}

export interface ProberContext {
  topology: BenchTopology;
  tools: Record<ToolName, string>;
  /** CPU the generator and the sink are pinned to. */
  harnessCpu: number;
  /** CPU that does the relay's work (CPU time is accounted by it). */
  relayCpu: number;
}

function expectedInterfaces(traffic: Traffic): string[] {
  return traffic.path === 'direct' ? [DIRECT_RECEIVER.ifname] : traffic.outputs.map((k) => outputLink(k).receiver.ifname);
}

function joinAddresses(traffic: Traffic): string[] {
  return traffic.path === 'direct' ? [DIRECT_RECEIVER.address] : traffic.outputs.map((k) => outputLink(k).receiver.address);
}

function counterDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)]));
}

export class Prober {
  private nextRun = 1;

  constructor(private readonly ctx: ProberContext) {}

  async probe(traffic: Traffic, request: ProbeRequest, relay: Relay | null): Promise<ProbeResult> {
    if (traffic.flows.length === 0) throw new Error('a probe needs at least one flow');
    const port = traffic.flows[0].port;
    if (traffic.flows.some((f) => f.port !== port)) throw new Error('all flows of a probe share one port');
    const run = this.nextRun++;
    // A unicast-forwarding relay gets the flows addressed to the receiver; the sink (bound to the port
    // on every address) then joins no group.
    const unicast = traffic.path === 'relay' && relay?.trafficAddress ? relay.trafficAddress(traffic.outputs) : null;
    const sink = await Sink.start(this.ctx.tools.sink, this.ctx.topology.ns.receiver, {
      port,
      groups: unicast === null ? [...new Set(traffic.flows.map((f) => f.group))] : [],
      joins: joinAddresses(traffic),
      run,
      seconds: request.seconds + 30,
      idleMs: DRAIN_IDLE_MS,
      cpu: this.ctx.harnessCpu,
    });
    let gen: GenReport;
    let received: SinkReport;
    let after: CpuSnapshot;
    const pids = relay?.pids() ?? [];
    await relay?.beforeProbe?.();
    const countersBefore = (await relay?.counters()) ?? {};
    // CPU is measured over the sending time only: the sink's drain afterwards is mostly idle time.
    const before = snapshot(pids, this.ctx.relayCpu);
    try {
      gen = await runGen(this.ctx.tools.gen, this.ctx.topology.ns.sender, {
        destinations: traffic.flows.map((f) => `${unicast ?? f.group}:${f.port}`),
        bind: traffic.path === 'direct' ? DIRECT_SENDER.address : SOURCE.address,
        size: traffic.size,
        rate: request.rate,
        seconds: request.seconds,
        run,
        ttl: SOURCE_TTL,
        tos: relay?.trafficTos,
        cpu: this.ctx.harnessCpu,
      });
      after = snapshot(pids, this.ctx.relayCpu);
    } finally {
      received = await sink.finish();
    }
    const countersAfter = (await relay?.counters()) ?? {};
    return this.evaluate(traffic, request, gen, received, usageBetween(before, after), counterDelta(countersBefore, countersAfter));
  }

  private evaluate(traffic: Traffic, request: ProbeRequest, gen: GenReport, sink: SinkReport, cpu: CpuUsage, relayCounters: Record<string, number>): ProbeResult {
    const interfaces = expectedInterfaces(traffic);
    const isExpected = (ifname: string, flow: number) => interfaces.includes(ifname) && flow < traffic.flows.length;
    const streams = sink.streams.filter((s) => isExpected(s.ifname, s.flow));
    const unexpected = sink.streams.filter((s) => !isExpected(s.ifname, s.flow)).reduce((n, s) => n + s.unique + s.duplicates, 0);
    const delivered = streams.reduce((n, s) => n + s.unique, 0);
    const expected = gen.flows.reduce((n, f) => n + f.sent, 0) * interfaces.length;
    const windowS = (sink.last_ns - sink.first_ns) / 1e9;
    return {
      requestedPps: request.rate,
      offeredPps: gen.achieved_pps,
      sent: gen.sent,
      sendErrors: gen.errors,
      expected,
      delivered,
      loss: expected > 0 ? Math.max(0, expected - delivered) / expected : 0,
      deliveredPps: windowS > 0 ? delivered / windowS : 0,
      duplicates: streams.reduce((n, s) => n + s.duplicates, 0),
      reordered: streams.reduce((n, s) => n + s.reordered, 0),
      unexpected: unexpected + sink.streams_overflow,
      stale: sink.other_run,
      sinkSocketDrops: sink.socket_drops,
      latencyNs: sink.latency_ns,
      cpu,
      generatorCpuSeconds: gen.cpu_ns / 1e9,
      sinkCpuSeconds: sink.cpu_ns / 1e9,
      waitFraction: gen.elapsed_ns > 0 ? (cpu.relayWaitSeconds * 1e9) / gen.elapsed_ns : 0,
      generatorWaitSeconds: gen.run_delay_ns / 1e9,
      sinkWaitSeconds: sink.run_delay_ns / 1e9,
      relayCounters,
    };
  }
}
