/**
 * CreateRule / DeleteRule latency with the store full: each client takes rules of its own from the
 * installed set and, for each, deletes it and creates it again (so the store holds N-1..N rules
 * throughout and no headroom above --max-rules is needed). One client, or many at once; the phase has a
 * bound, each call a deadline inside it; what did not finish in the bound is reported as such.
 */
import * as grpc from '@grpc/grpc-js';

import { connect, McrClient } from '../../clients/lib';
import { secondsSince } from './bounded';
import { summarize } from './latency';
import type { WritePhase } from './results';
import { ruleAt } from './rule-set';

/** The most any one call may wait. */
const CALL_DEADLINE_MS = 30_000;
/** A deadline error this close to the end of the bound is the bound's doing. */
const CUT_SLACK_MS = 50;

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? (grpc.status[code] ?? String(code)) : 'ERROR';
}

/**
 * `clients` clients (each its own client-library channel; grpc-js shares one connection per target
 * between them) do `pairs` delete+create pairs in all, of rules 0..pairs-1 of a set of `outputs`
 * outputs, within `boundMs`.
 */
export async function measureWrites(socket: string, outputs: number, clients: number, pairs: number, boundMs: number): Promise<WritePhase> {
  const start = process.hrtime.bigint();
  const deadline = Date.now() + boundMs;
  const created: number[] = [];
  const deleted: number[] = [];
  const createErrors: string[] = [];
  const deleteErrors: string[] = [];
  /** Calls whose deadline was the end of the phase's bound and that reached it: cut by the bound, not failed. */
  let cut = 0;
  const timed = async (call: () => Promise<unknown>, into: number[], errors: string[]): Promise<void> => {
    const t0 = process.hrtime.bigint();
    try {
      await call();
      into.push(secondsSince(t0) * 1000);
    } catch (err) {
      if (codeOf(err) === 'DEADLINE_EXCEEDED' && Date.now() >= deadline - CUT_SLACK_MS) cut++;
      else errors.push(codeOf(err));
    }
  };
  const callMs = () => Math.max(1, Math.min(CALL_DEADLINE_MS, deadline - Date.now()));
  const worker = async (client: McrClient, c: number) => {
    for (let i = c; i < pairs && Date.now() < deadline; i += clients) {
      const rule = ruleAt(i, outputs);
      await timed(() => client.deleteRule({ rule: rule.name }, { timeoutMs: callMs() }), deleted, deleteErrors);
      if (Date.now() >= deadline) break;
      await timed(() => client.createRule({ rule }, { timeoutMs: callMs() }), created, createErrors);
    }
  };
  const list: McrClient[] = Array.from({ length: clients }, () => connect({ socket }));
  try {
    await Promise.all(list.map((client, c) => worker(client, c)));
  } finally {
    for (const client of list) client.close();
  }
  const seconds = secondsSince(start);
  const finished = created.length + createErrors.length;
  const timedOut = finished < pairs;
  return {
    clients,
    pairs,
    status: timedOut ? 'timeout' : 'ok',
    ...(timedOut ? { detail: `${finished} of ${pairs} pairs done within the bound${cut ? `, ${cut} calls cut by it` : ''}` } : {}),
    seconds,
    boundSeconds: boundMs / 1000,
    create: summarize(created, createErrors),
    delete: summarize(deleted, deleteErrors),
    writesPerSecond: seconds > 0 ? (created.length + deleted.length) / seconds : 0,
  };
}
