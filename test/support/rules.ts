/**
 * Rule-level helpers for the end-to-end tests: waiting for a rule to be installed, finding which
 * worker owns a rule, waiting for counters.
 */
import { Rule, RuleState } from '../../gen/mcr/v1/rules';
import { RuleStats } from '../../gen/mcr/v1/stats';
import { Worker, WorkerState } from '../../gen/mcr/v1/system';
import { McrClient, RuleSpec } from './grpc';
import { waitFor } from './poll';

/** Waits until the rule reports `state` (by default ACTIVE: installed in its worker). */
export function waitForRuleState(client: McrClient, rule: string, state = RuleState.RULE_STATE_ACTIVE, timeoutMs = 10_000): Promise<Rule> {
  return waitFor(`rule ${rule} to be ${RuleState[state]}`, () => client.getRule(rule), (r) => r.status?.state === state, timeoutMs);
}

/** Waits until every worker runs and reports the rule set the supervisor expects it to have. */
export function waitForWorkersInSync(client: McrClient, workers: number, timeoutMs = 10_000): Promise<Worker[]> {
  return waitFor(
    `${workers} running workers with the expected rule sets`,
    () => client.listWorkers(),
    (list) => list.length === workers && list.every((w) => w.state === WorkerState.WORKER_STATE_RUNNING && w.rulesetHash === w.expectedRulesetHash),
    timeoutMs,
  );
}

/**
 * Creates the rule and tells which worker took it: the worker its status names once it is ACTIVE
 * (installed there). Not from ListWorkers' per-worker counts before and after: CreateRule and
 * DeleteRule may answer before the worker has the change (PENDING, once their 80 ms budget is spent
 * on a busy machine), so counts read at once can still hold a rule deleted just before.
 */
export async function createRuleOnWorker(client: McrClient, spec: RuleSpec): Promise<{ rule: Rule; worker: number }> {
  const created = await client.createRule(spec);
  const rule = await waitForRuleState(client, created.id);
  return { rule, worker: rule.status!.worker };
}

/** Waits until the rule has matched at least `packets` packets, and returns its counters. */
export async function waitForRulePackets(client: McrClient, rule: string, packets: number, timeoutMs = 10_000): Promise<RuleStats> {
  const stats = await waitFor(
    `rule ${rule} to count ${packets} packets`,
    () => client.getStats(rule),
    (list) => list.length === 1 && list[0].packetsReceived >= BigInt(packets),
    timeoutMs,
  );
  return stats[0];
}

/**
 * Creates the first of `candidates` that lands on `worker` (placement hashes the group and port);
 * a candidate that lands on another worker is deleted again. Fails if none lands on it.
 */
export async function createRuleOnChosenWorker(client: McrClient, worker: number, candidates: readonly RuleSpec[]): Promise<Rule> {
  const missed: string[] = [];
  for (const spec of candidates) {
    const placed = await createRuleOnWorker(client, spec);
    if (placed.worker === worker) return placed.rule;
    await client.deleteRule(placed.rule.id);
    missed.push(`${spec.input?.group}:${spec.input?.port} -> worker ${placed.worker}`);
  }
  throw new Error(`none of ${candidates.length} candidate rules landed on worker ${worker}: ${missed.join(', ')}`);
}
