/** mcr.v1.StatsService: counters per rule, per output and per worker input, once or as a stream. */
import { ServerWritableStream, status } from '@grpc/grpc-js';

import {
  GetStatsRequest,
  GetStatsResponse,
  GetWorkerStatsResponse,
  RuleStats,
  StatsServiceServer,
  WatchStatsRequest,
  WatchStatsResponse,
} from '../../gen/mcr/v1/stats';
import type { RuleStore } from '../rules/store';
import type { CollectedStats, StatsCollector } from '../stats/collector';
import { BoundedWriter } from './bounded-writer';
import { logger } from '../log';
import { unknownRule } from '../rules/errors';
import { ApiError, shuttingDown, toApiError } from './errors';
import { CallGate, unary } from './unary';

const log = logger('api');

export const WATCH_INTERVAL_DEFAULT_MS = 1000;
export const WATCH_INTERVAL_MIN_MS = 100;
export const WATCH_INTERVAL_MAX_MS = 60_000;

export interface StatsServiceDeps {
  store: RuleStore;
  collector: StatsCollector;
  gate: CallGate;
  /** Concurrent WatchStats streams (--max-stats-watchers). */
  maxWatchers: number;
}

export function clampInterval(ms: number): number {
  if (ms === 0) return WATCH_INTERVAL_DEFAULT_MS;
  return Math.min(WATCH_INTERVAL_MAX_MS, Math.max(WATCH_INTERVAL_MIN_MS, ms));
}

export function statsService({ store, collector, gate, maxWatchers }: StatsServiceDeps): StatsServiceServer {
  let watchers = 0;

  /** The rules a request asks for: one (by id or name), or all when `ref` is empty. */
  const selector = (ref: string): ((stats: RuleStats[]) => RuleStats[]) => {
    if (!ref) return (stats) => stats;
    const rule = store.find(ref);
    if (!rule) throw unknownRule('rule', ref);
    return (stats) => stats.filter((s) => s.ruleId === rule.id);
  };

  const watchStats = (call: ServerWritableStream<WatchStatsRequest, WatchStatsResponse>): void => {
    const refuse = (err: ApiError): void => {
      call.emit('error', err.toServiceError());
    };
    if (gate.closing) return refuse(shuttingDown());
    if (watchers >= maxWatchers) {
      return refuse(new ApiError(status.RESOURCE_EXHAUSTED, undefined, `${watchers} stats watchers are open (the limit, --max-stats-watchers)`, { limit: '--max-stats-watchers' }));
    }
    let select: (stats: RuleStats[]) => RuleStats[];
    try {
      select = selector(call.request.rule);
    } catch (err) {
      return refuse(toApiError(err) as ApiError);
    }
    const intervalMs = clampInterval(call.request.intervalMs);
    watchers++;
    // No backlog: an update that cannot be written at once is stale by the next tick anyway.
    const writer = new BoundedWriter<CollectedStats, WatchStatsResponse>(call, 0, (snapshot, dropped) => ({
      rules: select(snapshot.rules),
      collectedUnixNanos: snapshot.collectedUnixNanos,
      intervalMs,
      droppedUpdates: dropped,
    }));
    let done = false;
    const send = async () => {
      if (gate.closing) return finish(() => call.emit('error', shuttingDown().toServiceError()));
      if (!writer.hasRoom) return writer.drop();
      const snapshot = await collector.collect();
      if (!done) writer.push(snapshot);
    };
    const timer = setInterval(() => void send().catch((err: Error) => log.warn('stats update failed', { error: err.message })), intervalMs);
    const finish = (last?: () => void) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      writer.close();
      watchers--;
      last?.();
    };
    for (const event of ['cancelled', 'close', 'error']) call.on(event, () => finish());
    void send();
  };

  return {
    getStats: unary(gate, 'GetStats', async (req: GetStatsRequest): Promise<GetStatsResponse> => {
      const select = selector(req.rule);
      const { rules, collectedUnixNanos } = await collector.collect();
      return { rules: select(rules), collectedUnixNanos };
    }),

    watchStats,

    getWorkerStats: unary(gate, 'GetWorkerStats', async (): Promise<GetWorkerStatsResponse> => {
      const { inputs, collectedUnixNanos } = await collector.collect();
      return { inputs, collectedUnixNanos };
    }),
  };
}
