/**
 * Every bound mcrd puts on what clients may make it hold, each settable on the command line and
 * answered with RESOURCE_EXHAUSTED when reached (docs/reference/api.md, "Limits").
 */
import { DEFAULT_RULE_LIMITS } from '../rules/validate';

export interface ServerLimits {
  maxRules: number;
  maxOutputsPerRule: number;
  /** WatchStats streams open at once. */
  maxStatsWatchers: number;
  /** Rules traced at once. */
  maxTracedRules: number;
  /** WatchTraces streams open at once. */
  maxTraceWatchers: number;
  /** The largest record_limit a trace may ask for. */
  maxTraceRecords: number;
  /** The largest request message, bytes (grpc-js refuses larger ones). */
  maxRequestBytes: number;
  /** Server streams (WatchStats, WatchEvents, WatchTraces) open at once, all clients together. */
  maxStreams: number;
}

export interface LimitFlag {
  key: keyof ServerLimits;
  flag: string;
  description: string;
  min: number;
  max: number;
  default: number;
}

export const LIMIT_FLAGS: readonly LimitFlag[] = [
  // 100,000 rules: the store, apply and start-up costs are measured up to there (docs/decisions/0023).
  { key: 'maxRules', flag: '--max-rules', description: 'rules in the store', min: 1, max: 100_000, default: DEFAULT_RULE_LIMITS.maxRules },
  { key: 'maxOutputsPerRule', flag: '--max-outputs-per-rule', description: 'outputs of one rule', min: 1, max: 64, default: DEFAULT_RULE_LIMITS.maxOutputsPerRule },
  { key: 'maxStatsWatchers', flag: '--max-stats-watchers', description: 'WatchStats streams at once', min: 1, max: 10_000, default: 64 },
  { key: 'maxTracedRules', flag: '--max-traced-rules', description: 'rules traced at once', min: 1, max: 1000, default: 16 },
  { key: 'maxTraceWatchers', flag: '--max-trace-watchers', description: 'WatchTraces streams at once', min: 1, max: 10_000, default: 64 },
  { key: 'maxTraceRecords', flag: '--max-trace-records', description: 'record_limit a trace may ask for', min: 1, max: 100_000, default: 100_000 },
  { key: 'maxRequestBytes', flag: '--max-request-bytes', description: 'size of one request message', min: 1024, max: 64 << 20, default: 4 << 20 },
  { key: 'maxStreams', flag: '--max-streams', description: 'server streams at once, all kinds and clients', min: 1, max: 10_000, default: 128 },
];

export const DEFAULT_LIMITS: ServerLimits = Object.fromEntries(LIMIT_FLAGS.map((l) => [l.key, l.default])) as unknown as ServerLimits;
