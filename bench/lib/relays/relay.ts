/**
 * What every relay under test (mcr, the kernel's multicast routing or unicast forwarding, socat) offers the benchmark.
 */
import type { BenchTopology } from '../topology';
import type { ToolName } from '../tools';

/** One multicast flow from the source: the relay receives it on in0 and sends it, same group and port, on its outputs. */
export interface Flow {
  group: string;
  port: number;
}

export interface RelaySetup {
  /** Flows that carry traffic. */
  flows: Flow[];
  /** Output links (1..10) every flow is sent out on. */
  outputs: number[];
  /** Further (group, port) rules installed that carry no traffic. */
  idleFlows: Flow[];
}

export interface RelayContext {
  topology: BenchTopology;
  tools: Record<ToolName, string>;
  /** The CPU single-threaded relays are pinned to (mcr pins its own workers: worker i on CPU i). */
  relayCpu: number;
  log: (line: string) => void;
}

export interface Relay {
  /** Short identifier used in tables and files: "mcr-w1", "kernel", "kernel-unicast", "socat". */
  readonly name: string;
  /** One line for the report: what runs and how. */
  readonly description: string;
  /** Why this relay cannot be measured with `setup`, or null. */
  unsupported(setup: RelaySetup): string | null;
  /** Starts forwarding `setup` (the caller then checks with traffic that it does). */
  start(setup: RelaySetup): Promise<void>;
  stop(): Promise<void>;
  /** Pids whose CPU time is the relay's (every process in the relay namespace). */
  pids(): number[];
  /**
   * Where the sender addresses the flows when it is not their group: a unicast-forwarding relay
   * (kernel-unicast) forwards to the receiver's own address on the output link. Absent: the group.
   */
  trafficAddress?(outputs: readonly number[]): string;
  /** The TOS byte the sender marks the flows with when it is not 0 (mcr-w1-dscp: DSCP preserved per packet). */
  readonly trafficTos?: number;
  /** Runs before each probe's traffic (mcr with tracing re-enables its traces, which end at their record limit). */
  beforeProbe?(): Promise<void>;
  /** The relay's own counters (monotonic), to tell where packets were lost; empty when it has none. */
  counters(): Promise<Record<string, number>>;
  /** Resident memory (kB) of the relay's processes, by process label. */
  memory(): Record<string, number>;
}
