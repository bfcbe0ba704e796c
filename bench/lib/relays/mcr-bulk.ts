/**
 * mcr with many rules (the rules-20000 case, ../cases/rules-scale.ts): rules installed with
 * ApplyRules in pieces rather than one CreateRule each, and counters read for the traffic rules
 * only, through a client whose deadline allows for calls that take seconds at that scale while the
 * control plane is being made faster (issue 15 parts 1 and 5).
 */
import { connect, McrClient } from '../../../clients/lib';
import type { DeepPartial, Rule } from '../../../gen/mcr/v1/rules';
import type { InputStats, RuleStats } from '../../../gen/mcr/v1/stats';
import { waitFor } from '../../../test/support/poll';

/** More rules than this are installed in pieces of this many. */
export const BULK_PIECE = 2000;
/** mcrd's default --max-rules: more rules need the flag. */
const DEFAULT_MAX_RULES = 10_000;
const TIMEOUT_MS = 900_000;

export function maxRulesArgs(rules: number): string[] {
  return rules > DEFAULT_MAX_RULES ? ['--max-rules', String(rules)] : [];
}

export class BulkRules {
  private constructor(
    private readonly client: McrClient,
    /** Ids of the rules that carry traffic. */
    private readonly trafficRules: string[],
  ) {}

  /** Installs `rules` (the first `traffic` of them carry traffic) and waits until `workers` hold them all. */
  static async install(socket: string, rules: Array<DeepPartial<Rule>>, traffic: number, workers: number): Promise<BulkRules> {
    const client = connect({ socket, timeoutMs: TIMEOUT_MS });
    try {
      let trafficRules: string[] = [];
      for (let i = 0; i < rules.length; i += BULK_PIECE) {
        const applied = await client.applyRules({ rules: rules.slice(i, i + BULK_PIECE), replace: false });
        // The traffic rules come first, and `added` is in request order.
        if (i === 0) trafficRules = applied.added.slice(0, traffic).map((r) => r.id);
      }
      await waitFor(
        `the workers to hold all ${rules.length} rules`,
        async () => (await client.listWorkers({})).workers,
        (list) => list.length === workers && list.every((w) => w.rulesetHash === w.expectedRulesetHash) && list.reduce((n, w) => n + w.rules, 0) === rules.length,
        TIMEOUT_MS,
        250,
      );
      return new BulkRules(client, trafficRules);
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** Every input's counters and the traffic rules' (not the idle ones'). */
  async counters(): Promise<[InputStats[], RuleStats[]]> {
    const [workerStats, ruleStats] = await Promise.all([
      this.client.getWorkerStats({}),
      Promise.all(this.trafficRules.map((rule) => this.client.getStats({ rule }))),
    ]);
    return [workerStats.inputs, ruleStats.flatMap((s) => s.rules)];
  }

  async rulesPerWorker(): Promise<number[]> {
    return (await this.client.listWorkers({})).workers.sort((a, b) => a.index - b.index).map((w) => w.rules);
  }

  close(): void {
    this.client.close();
  }
}
