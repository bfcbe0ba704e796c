/**
 * One trace of one rule: its settings, its state, its counts and the records it keeps. It takes
 * records until its record limit and then says it is full; stopping it is the manager's call.
 */
import { TraceRecord, TraceState, TraceStatus } from '../../gen/mcr/v1/trace';
import type { Rule } from '../../gen/mcr/v1/rules';
import type { DataplaneTrace } from '../../native';
import { RecordBuffer } from './record-buffer';
import type { TraceSettings } from './settings';
import { matchKey } from '../rules/id';

/** What makes a rule the same rule for a trace: its match (input interface, group, port or protocol, source, VLAN). */
export function traceMatchKey(rule: Rule): string {
  return rule.input ? matchKey(rule.input) : '';
}

export function nowUnixNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export class TraceSession {
  private currentState = TraceState.TRACE_STATE_RUNNING;
  private stoppedUnixNanos = 0n;
  private taken = 0;
  private lost = 0n;
  private timer?: NodeJS.Timeout;
  readonly startedUnixNanos = nowUnixNanos();
  readonly buffer = new RecordBuffer();

  constructor(
    readonly ruleId: string,
    /** traceMatchKey() of the rule when the trace started. */
    readonly match: string,
    readonly settings: TraceSettings,
    /** Called once when the time limit passes while running. */
    onTimeLimit: (session: TraceSession) => void,
  ) {
    this.timer = setTimeout(() => onTimeLimit(this), settings.timeLimitMs);
    this.timer.unref();
  }

  get state(): TraceState {
    return this.currentState;
  }

  get running(): boolean {
    return this.currentState === TraceState.TRACE_STATE_RUNNING;
  }

  /** Whether it has taken as many records as its limit allows. */
  get full(): boolean {
    return this.taken >= this.settings.recordLimit;
  }

  /** When it stopped (unix ns), for keeping the most recent stopped traces; 0 while running. */
  get stoppedAtNanos(): bigint {
    return this.stoppedUnixNanos;
  }

  /** What the data plane needs while it runs. */
  get dataplaneTrace(): DataplaneTrace {
    return { sampleEvery: this.settings.sampleEvery, snapLength: this.settings.snapLength };
  }

  /** Keeps a record; false (and nothing kept) once stopped or full. */
  take(record: TraceRecord): boolean {
    if (!this.running || this.full) return false;
    this.taken++;
    this.buffer.push(record);
    return true;
  }

  /** Counts records the data plane could not hand over. */
  noteLost(count: number): void {
    this.lost += BigInt(count);
  }

  /** Ends the trace in `state` (not RUNNING); no effect once stopped. */
  stop(state: TraceState): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.currentState = state;
    this.stoppedUnixNanos = nowUnixNanos();
  }

  status(): TraceStatus {
    return {
      ruleId: this.ruleId,
      state: this.currentState,
      sampleEvery: this.settings.sampleEvery,
      snapLength: this.settings.snapLength,
      recordLimit: this.settings.recordLimit,
      timeLimitMs: this.settings.timeLimitMs,
      startedUnixNanos: this.startedUnixNanos,
      stoppedUnixNanos: this.stoppedUnixNanos,
      records: BigInt(this.taken),
      recordsLost: this.lost,
    };
  }
}
