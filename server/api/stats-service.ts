/** mcr.v1.StatsService: counters per rule, per output and per worker input. */
import { status } from '@grpc/grpc-js';

import { GetStatsRequest, GetStatsResponse, GetWorkerStatsResponse, StatsServiceServer } from '../../gen/mcr/v1/stats';
import type { RuleStore } from '../rules/store';
import type { StatsCollector } from '../stats/collector';
import { ApiError } from './errors';
import { CallGate, unary } from './unary';

export interface StatsServiceDeps {
  store: RuleStore;
  collector: StatsCollector;
  gate: CallGate;
}

const nowNanos = () => BigInt(Date.now()) * 1_000_000n;

export function statsService({ store, collector, gate }: StatsServiceDeps): StatsServiceServer {
  return {
    getStats: unary(gate, 'GetStats', async (req: GetStatsRequest): Promise<GetStatsResponse> => {
      const wanted = req.rule ? store.find(req.rule) : undefined;
      if (req.rule && !wanted) throw new ApiError(status.NOT_FOUND, 'rule', `no rule with id or name "${req.rule}"`);
      const { rules } = await collector.collect();
      return {
        rules: wanted ? rules.filter((r) => r.ruleId === wanted.id) : rules,
        collectedUnixNanos: nowNanos(),
      };
    }),

    getWorkerStats: unary(gate, 'GetWorkerStats', async (): Promise<GetWorkerStatsResponse> => {
      const { inputs } = await collector.collect();
      return { inputs, collectedUnixNanos: nowNanos() };
    }),
  };
}
