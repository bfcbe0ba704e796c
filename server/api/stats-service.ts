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
import type { Rule, RuleFilter, RuleState } from '../../gen/mcr/v1/rules';
import { unknownRule } from '../rules/errors';
import type { RuleStore } from '../rules/store';
import type { StatsCollector } from '../stats/collector';
import { BoundedWriter } from './bounded-writer';
import { logger } from '../log';
import { ApiError, invalid, shuttingDown, toApiError } from './errors';
import { PAGE_BUDGET_BYTES } from './message-limits';
import { checkedTogether, pageCursor, takePage } from './paging';
import { PreEncoded } from './pre-encoded';
import { encodedRuleStats, encodeRulesField, encodeWatchStatsResponse, ruleStatsSizeInList, sizeInRules } from './stats-encoding';
import { filterQuery, ruleMatcher } from './rule-filter';
import { ruleListing } from './rule-listing';
import { CallGate, unary } from './unary';

const log = logger('api');

export const WATCH_INTERVAL_DEFAULT_MS = 1000;
export const WATCH_INTERVAL_MIN_MS = 100;
export const WATCH_INTERVAL_MAX_MS = 60_000;

export interface StatsServiceDeps {
  store: RuleStore;
  collector: StatsCollector;
  gate: CallGate;
  /** A rule's state now (for filter.states). */
  ruleState: (rule: Rule) => RuleState;
  /** Concurrent WatchStats streams (--max-stats-watchers). */
  maxWatchers: number;
  /** How long a GetStats reading serves the pages after it (default PAGE_READING_REUSE_MS). */
  pageReadingReuseMs?: number;
}

export function clampInterval(ms: number): number {
  if (ms === 0) return WATCH_INTERVAL_DEFAULT_MS;
  return Math.min(WATCH_INTERVAL_MAX_MS, Math.max(WATCH_INTERVAL_MIN_MS, ms));
}

/** The rules a request selects: by id or name (`rule`, `rules`; none = every rule), and by filter. */
export interface StatsSelection {
  rule: string;
  rules?: readonly string[];
  filter?: RuleFilter;
}

/** One message of a WatchStats update: its rules and their encodings (stats-encoding.ts). */
interface UpdatePart {
  rules: RuleStats[];
  encodings: Uint8Array[];
  continued: boolean;
}

/**
 * The messages of one WatchStats update: the selected rules, in id order, cut where the next would
 * pass PAGE_BUDGET_BYTES (at least one rule each); one message when they fit. Sizes are those of the
 * rules' kept encodings, which the messages are then made of.
 */
export function updateParts(rules: readonly RuleStats[], select: (stats: RuleStats) => boolean): UpdatePart[] {
  const parts: UpdatePart[] = [{ rules: [], encodings: [], continued: false }];
  let part = parts[0];
  let bytes = 0;
  for (const stats of byRuleId(rules)) {
    if (!select(stats)) continue;
    const encoding = encodedRuleStats(stats);
    const size = sizeInRules(encoding);
    if (part.rules.length > 0 && bytes + size > PAGE_BUDGET_BYTES) {
      part.continued = true;
      part = { rules: [], encodings: [], continued: false };
      parts.push(part);
      bytes = 0;
    }
    part.rules.push(stats);
    part.encodings.push(encoding);
    bytes += size;
  }
  return parts;
}

/** A message of a WatchStats update as it is kept between updates: its `rules` field encoded. */
interface EncodedPart {
  rulesField: Buffer;
  continued: boolean;
}

/**
 * The messages of the WatchStats updates of one stream, their `rules` fields kept from one update to
 * the next while the collector hands out the same stats (the same array: no counter moved, no rule
 * changed; see server/stats/resting-reading.ts) and which rules are selected cannot have changed
 * either (`fixed`: by id or all, no filter, whose rule states may change without any counter): the
 * update is then the same bytes as the last one, but for its time and dropped count.
 */
function updateEncoder(select: (stats: RuleStats) => boolean, fixed: boolean): (rules: readonly RuleStats[]) => EncodedPart[] {
  let kept: { rules: readonly RuleStats[]; parts: EncodedPart[] } | undefined;
  return (rules) => {
    if (kept?.rules === rules) return kept.parts;
    const parts = updateParts(rules, select).map(({ encodings, continued }) => ({ rulesField: encodeRulesField(encodings), continued }));
    kept = fixed ? { rules, parts } : undefined;
    return parts;
  };
}

/** The collector's rules in id order (it lists them as the store does, by id: checked, not assumed). */
function byRuleId(stats: readonly RuleStats[]): readonly RuleStats[] {
  for (let i = 1; i < stats.length; i++) {
    if (stats[i - 1].ruleId >= stats[i].ruleId) return [...stats].sort((a, b) => (a.ruleId < b.ruleId ? -1 : 1));
  }
  return stats;
}

/**
 * How long the counters read for a GetStats page serve the pages that follow it (calls with a
 * page_token): a walk read quickly is one reading, consistent across its pages, and costs one
 * collection instead of one per page. About the collector's sampling window, so no page is staler
 * than the rates it shows.
 */
export const PAGE_READING_REUSE_MS = 1000;

export function statsService(deps: StatsServiceDeps): StatsServiceServer {
  const { store, collector, gate, ruleState, maxWatchers, pageReadingReuseMs = PAGE_READING_REUSE_MS } = deps;
  let watchers = 0;
  const listing = ruleListing(store);
  /** The latest reading GetStats made, sorted by rule id, and when (monotonic milliseconds). */
  let reading: { rules: readonly RuleStats[]; collectedUnixNanos: bigint; at: number } | undefined;
  const readCounters = async (continuing: boolean) => {
    if (continuing && reading && performance.now() - reading.at < pageReadingReuseMs) return reading;
    const { rules, collectedUnixNanos } = await collector.collect();
    const fresh = { rules: byRuleId(rules), collectedUnixNanos, at: performance.now() };
    reading = fresh;
    // Not kept past its use: thousands of rules' counters are megabytes.
    setTimeout(() => {
      if (reading === fresh) reading = undefined;
    }, pageReadingReuseMs).unref();
    return fresh;
  };

  /**
   * Whether a rule's stats are selected: names are resolved now (NOT_FOUND naming the field), the
   * filter checked now (INVALID_ARGUMENT) and applied to the rule as it is when asked.
   */
  const selector = ({ rule, rules = [], filter }: StatsSelection): ((stats: RuleStats) => boolean) => {
    const refs = [...(rule ? [{ field: 'rule', ref: rule }] : []), ...rules.map((ref, i) => ({ field: `rules[${i}]`, ref }))];
    const ids = refs.map(({ field, ref }) => {
      if (!ref) throw invalid(field, 'empty: a rule id or name');
      const found = store.find(ref);
      if (!found) throw unknownRule(field, ref);
      return found.id;
    });
    const only = ids.length > 0 ? new Set(ids) : undefined;
    const matches = ruleMatcher(filter);
    return (stats) => {
      if (only && !only.has(stats.ruleId)) return false;
      if (!filter) return true;
      const defined = listing().byId.get(stats.ruleId);
      return defined !== undefined && matches(defined, () => ruleState(defined));
    };
  };

  const watchStats = (call: ServerWritableStream<WatchStatsRequest, WatchStatsResponse>): void => {
    const refuse = (err: ApiError): void => {
      call.emit('error', err.toServiceError());
    };
    if (gate.closing) return refuse(shuttingDown());
    if (watchers >= maxWatchers) {
      return refuse(new ApiError(status.RESOURCE_EXHAUSTED, undefined, `${watchers} stats watchers are open (the limit, --max-stats-watchers)`, { limit: '--max-stats-watchers' }));
    }
    let select: (stats: RuleStats) => boolean;
    try {
      select = selector(call.request);
    } catch (err) {
      return refuse(toApiError(err) as ApiError);
    }
    const intervalMs = clampInterval(call.request.intervalMs);
    watchers++;
    // No backlog: an update that cannot be written at once is stale by the next tick anyway. An
    // update is written as one message, or as several when its rules do not fit in one (each part
    // a message, `continued` on all but the last).
    // Written pre-encoded (see acceptPreEncoded): the rules' encodings are kept between updates.
    const stream = call as unknown as ServerWritableStream<WatchStatsRequest, PreEncoded>;
    const writer = new BoundedWriter<{ part: EncodedPart; collectedUnixNanos: bigint }, PreEncoded>(stream, 0, ({ part, collectedUnixNanos }, dropped) =>
      encodeWatchStatsResponse({ collectedUnixNanos, intervalMs, droppedUpdates: dropped, continued: part.continued }, part.rulesField),
    );
    const encode = updateEncoder(select, call.request.filter === undefined);
    let done = false;
    const send = async () => {
      if (gate.closing) return finish(() => call.emit('error', shuttingDown().toServiceError()));
      if (!writer.hasRoom) return writer.drop();
      const { rules, collectedUnixNanos } = await collector.collect();
      if (!done) writer.pushGroup(encode(rules).map((part) => ({ part, collectedUnixNanos })));
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
      const query = { rule: req.rule, filter: filterQuery(req.filter) };
      // Checked before counters are collected: a bad token costs nothing.
      const [select, cursor] = checkedTogether(() => selector(req), () => pageCursor(req, 'GetStats', query, 1));
      const storeGeneration = store.generation;
      const { rules, collectedUnixNanos } = await readCounters(cursor.after !== undefined);
      const page = takePage(cursor, {
        sorted: rules,
        keyOf: (stats) => [stats.ruleId],
        select: (stats) => (select(stats) ? stats : undefined),
        sizeOf: ruleStatsSizeInList,
      });
      return { rules: page.items, collectedUnixNanos, nextPageToken: page.nextPageToken, storeGeneration };
    }),

    watchStats,

    getWorkerStats: unary(gate, 'GetWorkerStats', async (): Promise<GetWorkerStatsResponse> => {
      const { inputs, collectedUnixNanos } = await collector.collect();
      return { inputs, collectedUnixNanos };
    }),
  };
}
