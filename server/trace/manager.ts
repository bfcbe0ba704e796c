/**
 * Trace sessions per rule and their subscribers. It decides which rules the data plane traces
 * (traceOf, read by the forwarding plan), turns what the workers record into TraceRecords, keeps
 * them per session and fans them out, and switches traces off at their record or time limit, on
 * DisableTrace, and when their rule goes away or changes its match.
 */

import type { Rule } from '../../gen/mcr/v1/rules';
import { EnableTraceRequest, GetTraceResponse, TraceRecord, TraceState, TraceStatus } from '../../gen/mcr/v1/trace';
import type { DataplaneTrace, TracedPacket } from '../../native';
import { exhausted, invalid, notFound, quote, RULE_RESOURCE, unknownRule } from '../rules/errors';
import { logger } from '../log';
import { HandleResolver, toTraceRecord } from './record';
import { traceMatchKey, TraceSession } from './session';
import { resolveSettings } from './settings';
import type { ServerLimits } from '../config/limits';
import { TraceEventSink, TraceSubscriber } from './subscriber';

const log = logger('supervisor');

/** Stopped traces kept for GetTrace; beyond it the one stopped longest ago is forgotten. */
export const MAX_KEPT_STOPPED = 16;

function requireRef(ref: string): void {
  if (!ref) throw invalid('rule', 'required: a rule id or name');
}

export interface TraceManagerDeps {
  /** The rule with this id, else with this name. */
  findRule(ref: string): Rule | undefined;
  /** Brings the workers' tables in line with traceOf(); resolves once they are. */
  apply(): Promise<void>;
  limits: Pick<ServerLimits, 'maxTracedRules' | 'maxTraceWatchers' | 'maxTraceRecords'>;
}

export class TraceManager {
  private readonly sessions = new Map<string, TraceSession>();
  private readonly subscribers = new Set<TraceSubscriber>();

  constructor(private readonly deps: TraceManagerDeps) {}

  /** The data-plane trace settings of a rule while it is traced (the forwarding plan's TraceLookup). */
  readonly traceOf = (ruleId: string): DataplaneTrace | undefined => {
    const session = this.sessions.get(ruleId);
    return session?.running ? session.dataplaneTrace : undefined;
  };

  /** Starts tracing a rule, or restarts its trace with new settings; resolves once the workers trace it. */
  async enable(request: EnableTraceRequest): Promise<TraceStatus> {
    requireRef(request.rule);
    const settings = resolveSettings(request, this.deps.limits.maxTraceRecords);
    const rule = this.deps.findRule(request.rule);
    if (!rule) throw unknownRule('rule', request.rule);
    const previous = this.sessions.get(rule.id);
    const { maxTracedRules } = this.deps.limits;
    if (!previous?.running && this.runningCount() >= maxTracedRules) {
      throw exhausted(undefined, `${maxTracedRules} rules are traced already (the limit, --max-traced-rules): disable one first`, '--max-traced-rules');
    }
    previous?.stop(TraceState.TRACE_STATE_STOPPED); // replaced: its records go with it
    const session = new TraceSession(rule.id, traceMatchKey(rule), settings, (expired) => void this.finish(expired, TraceState.TRACE_STATE_TIME_LIMIT));
    this.sessions.set(rule.id, session);
    log.info('trace enabled', { rule: rule.id, ...settings });
    this.announce(session);
    await this.deps.apply();
    return session.status();
  }

  /** Stops a rule's trace (its records stay); a stopped trace is left as it is. */
  async disable(ref: string): Promise<TraceStatus> {
    const session = this.sessionOf(ref);
    if (session.running) await this.finish(session, TraceState.TRACE_STATE_STOPPED);
    return session.status();
  }

  get(ref: string): GetTraceResponse {
    const session = this.sessionOf(ref);
    return { status: session.status(), records: session.buffer.list() };
  }

  list(): TraceStatus[] {
    return [...this.sessions.values()].map((s) => s.status()).sort((a, b) => (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0));
  }

  /**
   * Adds a subscriber for the rules `refs` names (ids or names; none = every rule). Returns the
   * function that removes it.
   */
  subscribe(sink: TraceEventSink, refs: readonly string[]): () => void {
    const ids = refs.map((ref, i) => {
      const id = this.sessions.has(ref) ? ref : this.deps.findRule(ref)?.id;
      if (!id) throw unknownRule(`rules[${i}]`, ref);
      return id;
    });
    if (this.subscribers.size >= this.deps.limits.maxTraceWatchers) {
      throw exhausted(undefined, `${this.subscribers.size} trace watchers are open (the limit, --max-trace-watchers)`, '--max-trace-watchers');
    }
    const subscriber = new TraceSubscriber(sink, ids.length > 0 ? new Set(ids) : null);
    this.subscribers.add(subscriber);
    return () => {
      subscriber.close();
      this.subscribers.delete(subscriber);
    };
  }

  /**
   * Takes a batch of records from worker `worker`: each one of a running trace is converted, kept
   * and sent to the subscribers, until the trace's record limit switches it off. `lost` (records the
   * worker's data plane dropped) is counted against every trace running on that worker, since the
   * data plane does not say whose they were.
   */
  ingest(worker: number, packets: readonly TracedPacket[], lost: number, handles: HandleResolver): void {
    if (lost > 0) for (const session of this.sessions.values()) if (session.running && handles.owns(session.ruleId)) session.noteLost(lost);
    const taken: TraceRecord[] = [];
    const filled = new Set<TraceSession>();
    for (const packet of packets) {
      const session = this.sessions.get(packet.ruleId);
      // Records of a trace that has stopped but whose worker has not heard yet are dropped.
      if (!session?.running || session.full) continue;
      const record = toTraceRecord(packet, worker, handles);
      session.take(record);
      taken.push(record);
      if (session.full) filled.add(session);
    }
    if (taken.length > 0) for (const subscriber of this.subscribers) subscriber.offerRecords(taken);
    for (const session of filled) void this.finish(session, TraceState.TRACE_STATE_RECORD_LIMIT);
  }

  /** A rule was created, updated or deleted: its trace ends (RULE_GONE) if it is gone or matches otherwise now. */
  ruleChanged(ruleId: string): void {
    const session = this.sessions.get(ruleId);
    if (!session) return;
    const found = this.deps.findRule(ruleId);
    const rule = found?.id === ruleId ? found : undefined;
    if (!rule || traceMatchKey(rule) !== session.match) void this.finish(session, TraceState.TRACE_STATE_RULE_GONE);
    // A deleted rule's records go with it.
    if (!rule) this.sessions.delete(ruleId);
  }

  /** Stops every trace timer and ends every subscriber's stream (the daemon is stopping). */
  close(): void {
    for (const session of this.sessions.values()) session.stop(TraceState.TRACE_STATE_STOPPED);
    for (const subscriber of this.subscribers) subscriber.end();
    this.subscribers.clear();
  }

  /** The trace of the rule `ref` names: by rule id first (a rule that has gone), else by rule name. */
  private sessionOf(ref: string): TraceSession {
    requireRef(ref);
    const session = this.sessions.get(ref) ?? this.sessions.get(this.deps.findRule(ref)?.id ?? '');
    if (!session) throw notFound('rule', `rule ${quote(ref)} has not been traced`, { reason: 'RULE_NOT_TRACED', resource: { type: RULE_RESOURCE, name: ref } });
    return session;
  }

  private runningCount(): number {
    let running = 0;
    for (const session of this.sessions.values()) if (session.running) running++;
    return running;
  }

  /**
   * Stops a running trace, tells the subscribers, and has the workers stop tracing its rule; resolves
   * once they have (callers other than DisableTrace need not wait).
   */
  private finish(session: TraceSession, state: TraceState): Promise<void> {
    if (!session.running) return Promise.resolve();
    session.stop(state);
    log.info('trace stopped', { rule: session.ruleId, state: TraceState[state], records: String(session.status().records) });
    this.announce(session);
    this.forgetOldStopped();
    return this.deps.apply().catch((err: Error) => {
      log.warn('cannot switch a trace off in the workers', { rule: session.ruleId, error: err.message });
    });
  }

  private announce(session: TraceSession): void {
    const status = session.status();
    for (const subscriber of this.subscribers) subscriber.offerStatus(status);
  }

  private forgetOldStopped(): void {
    const stopped = [...this.sessions.values()].filter((s) => !s.running);
    if (stopped.length <= MAX_KEPT_STOPPED) return;
    stopped.sort((a, b) => (a.stoppedAtNanos < b.stoppedAtNanos ? -1 : a.stoppedAtNanos > b.stoppedAtNanos ? 1 : 0));
    for (const session of stopped.slice(0, stopped.length - MAX_KEPT_STOPPED)) this.sessions.delete(session.ruleId);
  }
}
