/**
 * The real mcrd under measurement (test/support/mcrd.ts, in the control-plane namespace) with a client
 * of the project's client library, and what the section asks it: are all N rules installed, how many
 * worker restarts so far, how many rules are ACTIVE.
 *
 * "Installed" is what ListWorkers tells: every worker RUNNING, each reporting the rule-set hash the
 * supervisor expects of it, and their rule counts adding up to N. ListRules then confirms every rule's
 * status is ACTIVE (page by page when the API has page_size; a refusal, e.g. RESOURCE_EXHAUSTED for an
 * answer larger than the client accepts, is recorded, not fatal).
 */
import { connect, McrClient } from '../../clients/lib';
import { ListRulesRequest, ListRulesResponse, RuleState } from '../../gen/mcr/v1/rules';
import { Worker, WorkerState } from '../../gen/mcr/v1/system';
import { Mcrd } from '../../test/support/mcrd';
import { describeError, sleep } from './bounded';

/** Deadline of the polling calls (ListWorkers) while waiting for installation. */
const POLL_CALL_MS = 5000;
const POLL_INTERVAL_MS = 25;
/** Rules per ListRules page when the API pages. */
const PAGE_SIZE = 1000;

export class RestartCounter {
  /** Restarts banked from mcrd processes that have ended. */
  private banked = 0;
  /** Highest restart count seen per worker index of the current mcrd. */
  private current = new Map<number, number>();
  readonly reasons = new Set<string>();

  observe(workers: readonly Worker[]): void {
    for (const w of workers) {
      this.current.set(w.index, Math.max(this.current.get(w.index) ?? 0, w.restarts));
      if (w.lastRestartReason) this.reasons.add(`worker ${w.index}: ${w.lastRestartReason}`);
    }
  }

  /** mcrd is restarted: its workers' counters start again from 0. */
  newDaemon(): void {
    this.banked = this.total;
    this.current = new Map();
  }

  get total(): number {
    return this.banked + [...this.current.values()].reduce((a, b) => a + b, 0);
  }
}

export class MeasuredMcrd {
  readonly mcrd: Mcrd;
  client: McrClient;
  readonly restarts = new RestartCounter();

  constructor(
    readonly ns: string,
    readonly args: readonly string[],
    /** More node flags for mcrd (e.g. --cpu-prof). */
    nodeFlags: readonly string[] = [],
  ) {
    this.mcrd = new Mcrd(ns, { workers: undefined, logLevel: 'warn', extraArgs: args, nodeFlags });
    this.client = connect({ socket: this.mcrd.socketPath });
  }

  get pid(): number {
    const pid = this.mcrd.pid;
    if (pid === undefined) throw new Error('mcrd is not running');
    return pid;
  }

  /** Starts mcrd; resolves once it is SERVING (at most `timeoutMs`). */
  async start(timeoutMs: number): Promise<void> {
    await this.mcrd.start(timeoutMs);
    this.client.close();
    this.client = connect({ socket: this.mcrd.socketPath });
  }

  /** Stops mcrd (SIGTERM, SIGKILL after 10 s); the next start() finds the same store. */
  async stop(): Promise<void> {
    try {
      this.restarts.observe((await this.client.listWorkers({}, { timeoutMs: 2000 })).workers);
    } catch {
      // a daemon that does not answer has no restarts to tell
    }
    await this.mcrd.stop();
    this.restarts.newDaemon();
  }

  async dispose(): Promise<void> {
    this.client.close();
    await this.mcrd.dispose();
  }

  async workers(timeoutMs = POLL_CALL_MS): Promise<Worker[]> {
    const { workers } = await this.client.listWorkers({}, { timeoutMs });
    this.restarts.observe(workers);
    return workers;
  }

  /** Polls ListWorkers until the workers hold `rules` rules in sync with the supervisor (no bound of its own). */
  async waitInstalled(rules: number, remainingMs: () => number): Promise<void> {
    for (;;) {
      try {
        if (workersInstalled(await this.workers(Math.min(POLL_CALL_MS, remainingMs())), rules)) return;
      } catch {
        // not answering yet (starting, or busy): keep polling until the caller's bound
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }

  /** How many rules ListRules reports ACTIVE, or why it could not tell. */
  async activeRules(timeoutMs: number): Promise<{ active: number; total: number } | { error: string }> {
    const deadline = Date.now() + timeoutMs;
    // page_size / page_token when the API has them (issue 15 point 3); one call otherwise.
    const paged = 'pageSize' in (ListRulesRequest.fromPartial({}) as object);
    let active = 0;
    let total = 0;
    let token = '';
    try {
      for (;;) {
        const request = (paged ? { pageSize: PAGE_SIZE, pageToken: token } : {}) as Parameters<McrClient['listRules']>[0];
        const page: ListRulesResponse = await this.client.listRules(request, { timeoutMs: Math.max(1, deadline - Date.now()) });
        total += page.rules.length;
        active += page.rules.filter((r) => r.status?.state === RuleState.RULE_STATE_ACTIVE).length;
        token = paged ? String((page as unknown as { nextPageToken?: string }).nextPageToken ?? '') : '';
        if (!token) return { active, total };
      }
    } catch (err) {
      return { error: `ListRules: ${describeError(err)}` };
    }
  }
}

/** Every worker running, in sync with what the supervisor expects, and `rules` rules among them. */
export function workersInstalled(workers: readonly Worker[], rules: number): boolean {
  return (
    workers.length > 0 &&
    workers.every((w) => w.state === WorkerState.WORKER_STATE_RUNNING && w.expectedRulesetHash !== '' && w.rulesetHash === w.expectedRulesetHash) &&
    workers.reduce((sum, w) => sum + w.rules, 0) === rules
  );
}
