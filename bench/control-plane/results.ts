/**
 * The shape of the control-plane section's results (issue 15 point 1), written into the benchmark's
 * JSON next to the forwarding figures; the markdown table, the target verdicts and the growth plot are
 * drawn from it.
 */

/** How a bounded step ended: measured, stopped at its bound, failed, or not run (and why). */
export type StepStatus = 'ok' | 'timeout' | 'error' | 'skipped';

/** A duration measured by a bounded step. */
export interface Timed {
  status: StepStatus;
  /** Seconds the step took (for 'timeout': the bound; for 'error': until the error). */
  seconds: number;
  /** The step's bound, seconds. */
  boundSeconds: number;
  /** The error, why it was skipped, or a remark on the figure (e.g. how installation was confirmed). */
  detail?: string;
}

/** Latencies of a run of calls, milliseconds. */
export interface LatencySummary {
  /** Calls that answered OK. */
  count: number;
  /** Calls that failed (their error codes in `errors`). */
  failed: number;
  p50: number;
  p99: number;
  max: number;
  /** Failure counts by gRPC status name ("DEADLINE_EXCEEDED": 3). */
  errors: Record<string, number>;
}

/** CreateRule and DeleteRule calls of one phase (one client, or many at once). */
export interface WritePhase {
  clients: number;
  /** Delete-then-create pairs asked for, all clients together. */
  pairs: number;
  status: StepStatus;
  detail?: string;
  /** Wall time of the phase, seconds. */
  seconds: number;
  boundSeconds: number;
  create: LatencySummary;
  delete: LatencySummary;
  /** Successful writes (creates + deletes) per second of wall time. */
  writesPerSecond: number;
}

/** CPU over a window, as % of one core (100 = one core busy all the time). */
export interface CpuWindow {
  seconds: number;
  mcrd: number;
  /** All workers together. */
  workers: number;
  total: number;
}

/** One `mcrctl` run. */
export interface CommandRun {
  command: string;
  status: StepStatus;
  exitCode: number | null;
  seconds: number;
  boundSeconds: number;
  /** Rows it printed (rules in its JSON answer), or null when it printed none. */
  rows: number | null;
  /** The end of its stderr when it failed. */
  detail?: string;
}

/** The same number of routes in the kernel's table, for comparison. */
export interface KernelRoutes {
  /** (S,G) multicast routes: whether this kernel has them (CONFIG_IP_MROUTE), and why not. */
  multicastRouting: { available: boolean; reason: string };
  /** N unicast /32 routes, each with as many next hops as the rules have outputs, by one `ip -batch`. */
  routes: number;
  nexthops: number;
  batch: Timed;
  /** One more route added / deleted by one `ip route` command each (process start included). */
  addOne: Timed;
  deleteOne: Timed;
}

/** Everything measured for one shape (N rules x K outputs). */
export interface ShapeResult {
  rules: number;
  outputs: number;
  workers: number;
  /** mcrd flags beyond the bench's defaults (e.g. --max-rules). */
  mcrdArgs: string[];
  /** Empty store to SERVING. */
  startEmpty: Timed;
  /** The ApplyRules call of all N rules to an empty store, and from its start until every rule is installed. */
  applyAll: Timed;
  applyAllInstalled: Timed;
  /** ApplyRules of the same N rules with one changed, and until installed. */
  diff: Timed;
  diffInstalled: Timed;
  /** One-rule diffs answered in the CHANGES view (what changed, the rest counted): their median. */
  diffChanges?: Timed;
  /**
   * The same diffs with the request encoded before the clock starts, on a channel of its own: the
   * round trip without the client's encoding (the transfer, mcrd's part, the answer's decoding).
   */
  diffChangesPreEncoded?: Timed;
  /** The client library's encoding of one such request (clients/lib/apply-rules-encoding.ts), median, ms. */
  diffEncodeMs?: number;
  /** mcrd started on a store holding the N rules: until it answers, until every rule is installed. */
  restartServing: Timed;
  restartInstalled: Timed;
  /** The CPU over the settling time between the install and the idle window (its GC of the install). */
  settleCpu?: CpuWindow;
  idleCpu?: CpuWindow;
  /** RSS in MB with the rules installed. */
  rssMb?: { mcrd: number; workers: number[] };
  /** A WatchStats stream of every rule at 1 s: CPU during it, and over idle. */
  stats?: { cpu: CpuWindow; overIdle: number; updates: number; first?: CpuWindow; status: StepStatus; detail?: string };
  single?: WritePhase;
  concurrent?: WritePhase;
  mcrctl: CommandRun[];
  /** Worker restarts seen (ListWorkers restart counters, over every mcrd of the shape), and why. */
  workerRestarts: { total: number; byStep: Record<string, number>; reasons: string[] };
  kernel?: KernelRoutes;
  /** Stopped by an error outside any bounded step. */
  failed?: string;
  notes: string[];
  /** Wall time of the whole shape, seconds. */
  seconds: number;
}

/** One size of the growth series (N rules x 4 outputs): the main costs only. */
export interface GrowthPoint {
  rules: number;
  outputs: number;
  /** Not measured, and why (a smaller size already ran into its bound). */
  skipped?: string;
  applyAll?: Timed;
  diff?: Timed;
  /** The one-rule diff in the CHANGES view (median of the shape's samples). */
  diffChanges?: Timed;
  restartInstalled?: Timed;
  create?: WritePhase;
  idleCpuPercent?: number;
  rssMb?: number;
  failed?: string;
  seconds: number;
}

export interface TargetVerdict {
  /** "20000 x 4" */
  shape: string;
  figure: string;
  measured: string;
  target: string;
  verdict: 'met' | 'missed' | 'not measured' | 'reported';
  /** The kernel's figure for the same work, where there is one. */
  kernel?: string;
}

export interface ControlPlaneResults {
  startedAt: string;
  durationSeconds: number;
  /** The bound the whole section was planned to stay within, seconds. */
  boundSeconds: number;
  shapes: ShapeResult[];
  growth: GrowthPoint[];
  targets: TargetVerdict[];
  notes: string[];
}
