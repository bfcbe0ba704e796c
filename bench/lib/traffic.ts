/**
 * Typed starts of the generator and the sink (bench/src/gen.c, sink.c) and the reports they print.
 */
import { NamespaceProcess } from './process';

/** Time allowed on top of a tool's own bound before it is killed. */
const GRACE_MS = 10_000;

export interface GenOptions {
  /** Destinations "group:port", one flow each, sent round-robin. */
  destinations: string[];
  /** Local address of the sending interface. */
  bind: string;
  size: number;
  /** Packets per second; 0 = flat out. */
  rate: number;
  seconds: number;
  /** Stop after this many packets (default: bounded by seconds only). */
  count?: number;
  run: number;
  ttl: number;
  /** IPv4 TOS byte of every packet (default 0). */
  tos?: number;
  cpu?: number;
}

export interface GenReport {
  run: number;
  size: number;
  requested_pps: number;
  sent: number;
  errors: number;
  first_error: string | null;
  elapsed_ns: number;
  /** CPU time the generator used. */
  cpu_ns: number;
  /** Time it was runnable but waiting for a CPU. */
  run_delay_ns: number;
  achieved_pps: number;
  stopped_by: string;
  flows: { dest: string; sent: number }[];
}

/** Runs the generator in `ns` to completion. */
export function runGen(tool: string, ns: string, o: GenOptions): Promise<GenReport> {
  const argv = [tool, '--bind', o.bind, '--size', String(o.size), '--rate', String(Math.round(o.rate)), '--seconds', String(o.seconds)];
  argv.push('--run', String(o.run), '--ttl', String(o.ttl));
  for (const destination of o.destinations) argv.push('--dest', destination);
  if (o.count !== undefined) argv.push('--count', String(o.count));
  if (o.tos !== undefined) argv.push('--tos', String(o.tos));
  if (o.cpu !== undefined) argv.push('--cpu', String(o.cpu));
  return new NamespaceProcess('generator', ns, argv, o.seconds * 1000 + GRACE_MS).report<GenReport>();
}

export interface SinkOptions {
  port: number;
  groups: string[];
  /** Local addresses of the interfaces to join the groups on. */
  joins: string[];
  run: number;
  /** Hard bound on its life. */
  seconds: number;
  /** After SIGTERM: stop once nothing arrived for this long. */
  idleMs: number;
  cpu?: number;
}

export interface SinkStream {
  ifindex: number;
  ifname: string;
  flow: number;
  unique: number;
  duplicates: number;
  reordered: number;
  beyond_bitmap: number;
  highest: number;
}

export interface LatencyReport {
  count: number;
  min: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export interface SinkReport {
  run: number;
  datagrams: number;
  other_run: number;
  foreign: number;
  truncated: number;
  socket_drops: number;
  streams_overflow: number;
  /** CPU time the sink used. */
  cpu_ns: number;
  /** Time it was runnable but waiting for a CPU. */
  run_delay_ns: number;
  first_ns: number;
  last_ns: number;
  streams: SinkStream[];
  latency_ns: LatencyReport;
}

export class Sink {
  private constructor(private readonly process: NamespaceProcess) {}

  /** Starts a sink in `ns` and resolves once it has joined its groups. */
  static async start(tool: string, ns: string, o: SinkOptions): Promise<Sink> {
    const argv = [tool, '--port', String(o.port), '--run', String(o.run), '--seconds', String(o.seconds), '--idle-ms', String(o.idleMs)];
    for (const group of o.groups) argv.push('--group', group);
    for (const join of o.joins) argv.push('--join', join);
    if (o.cpu !== undefined) argv.push('--cpu', String(o.cpu));
    const process = new NamespaceProcess('sink', ns, argv, o.seconds * 1000 + GRACE_MS);
    try {
      await process.waitForEvent('ready', GRACE_MS);
    } catch (err) {
      process.signal('SIGKILL');
      throw err;
    }
    return new Sink(process);
  }

  /** Asks the sink to finish (it drains until idle) and returns its report. */
  finish(): Promise<SinkReport> {
    this.process.signal('SIGTERM');
    return this.process.report<SinkReport>();
  }
}
