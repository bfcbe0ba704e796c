/**
 * The trace commands: `trace RULE` enables a trace and prints its records as they come until the
 * trace switches itself off or the user stops it (then it disables the trace); `trace show` prints
 * what a trace buffered; `trace stop` disables one; `trace list` lists them.
 */
import { status as grpcStatus } from '@grpc/grpc-js';

import { Rule } from '../../gen/mcr/v1/rules';
import { DisableTraceResponse, GetTraceResponse, ListTracesResponse, TraceState, TraceStatus, WatchTracesResponse } from '../../gen/mcr/v1/trace';
import { McrClient } from '../lib/client';
import { McrCallError } from '../lib/errors';
import { CommandContext, Printer, show } from './command-context';
import { TraceSettings } from './invocation';
import { answeredRule, ruleLabel } from './rule-view';
import { keepWatching } from './reconnect';
import { openTraceOutput, PcapDestination, TraceFormat, TraceOutput } from './trace-output';
import { recordsLostNote, recordsMissedNote, traceDetail, traceEndedNote, traceLine, traceStartedNote, tracesTable } from './trace-view';
import { StreamEndedError } from './watch-loss';

/** The format of the records: pcapng when asked for, else JSON lines with --json, else lines. */
function traceFormat(printer: Printer, pcap: PcapDestination | undefined): TraceFormat {
  if (pcap) return { kind: 'pcapng', destination: pcap };
  return printer.json ? { kind: 'json' } : { kind: 'lines' };
}

/** A trace RPC answered without the status it always carries: a server bug. */
function answeredStatus(status: TraceStatus | undefined, rpc: string): TraceStatus {
  if (status === undefined) throw new Error(`mcrd answered ${rpc} without a trace status`);
  return status;
}

/** The rule a trace command names, and the id to send: the rule's, or RULE itself for a rule gone. */
interface TraceTarget {
  ruleId: string;
  label: string;
  rule?: Rule;
}

/**
 * Resolves RULE (id or name) to the rule's id through GetRule, so that every trace RPC gets an id.
 * With `orGone`, a RULE mcrd knows no rule by is passed on as it is, for the trace RPC to find (a
 * trace kept under the id of a rule that is no more) or refuse with its own NOT_FOUND.
 */
async function traceTarget(client: McrClient, ref: string, orGone: boolean): Promise<TraceTarget> {
  try {
    const rule = answeredRule((await client.getRule({ rule: ref })).rule, 'GetRule');
    return { ruleId: rule.id, label: ruleLabel(rule), rule };
  } catch (err) {
    if (orGone && err instanceof McrCallError && err.code === grpcStatus.NOT_FOUND) return { ruleId: ref, label: ref };
    throw err;
  }
}

/** How a followed trace ended, and what this client got of it. */
interface FollowResult {
  /** The trace's status when it switched itself off; undefined when the stream ended first. */
  final?: TraceStatus;
  /** Records received and written. */
  received: bigint;
  /** Records mcrd dropped for this client (it read too slowly). */
  lost: bigint;
}

/** Whether `status` says that the trace started at `started` is no longer running. */
function endsTrace(status: TraceStatus, started: TraceStatus): boolean {
  if (status.ruleId !== started.ruleId || status.state === TraceState.TRACE_STATE_RUNNING) return false;
  // A status about an earlier trace of the rule (sent before ours was enabled) is not our end.
  return status.startedUnixNanos === 0n || status.startedUnixNanos >= started.startedUnixNanos;
}

/**
 * Writes the records of `events` to `output` until a status event says the trace `started` ended,
 * or until the stream ends (cancelled by Ctrl-C). Losses are noted as they are reported.
 */
async function follow(events: AsyncIterable<WatchTracesResponse>, started: TraceStatus, output: TraceOutput, note: (text: string) => void): Promise<FollowResult> {
  const result: FollowResult = { received: 0n, lost: 0n };
  for await (const event of events) {
    if (event.lost > 0n) {
      result.lost += event.lost;
      note(recordsLostNote(event.lost, result.lost));
    }
    for (const record of event.records) {
      if (record.ruleId !== started.ruleId) continue;
      output.record(record);
      result.received++;
    }
    if (event.status && endsTrace(event.status, started)) {
      result.final = event.status;
      break; // leaving the loop cancels the stream
    }
  }
  return result;
}

/**
 * `trace RULE`: subscribes to the rule's records, enables the trace, and writes each record until the
 * trace switches itself off (record or time limit, rule deleted, someone else's `trace stop`), or
 * until Ctrl-C, SIGTERM or a closed pipe, which disable the trace. Notes go to stderr. mcrd going
 * away ends it with exit 1; with --reconnect, the trace is enabled again (afresh, with the same
 * settings) once mcrd answers, and the records go on to the same output.
 */
export async function followTrace(
  command: { rule: string; settings: TraceSettings; pcap?: PcapDestination; reconnect: boolean },
  context: CommandContext,
): Promise<void> {
  const { printer, note } = context;
  let output: TraceOutput | undefined;
  try {
    await keepWatching(context, command.reconnect, async ({ client, signal, connected }) => {
      // The rule is looked up before the output is opened: an unknown rule creates no capture file.
      const target = await traceTarget(client, command.rule, false);
      const first = output === undefined;
      output ??= openTraceOutput(traceFormat(printer, command.pcap), printer);
      // Subscribed before enabling: mcrd sends only what happens after it accepted the subscription.
      const events = client.watchTraces({ rules: [target.ruleId] }, { signal });
      let started: TraceStatus;
      try {
        const { settings } = command;
        const enabled = await client.enableTrace({
          rule: target.ruleId,
          sampleEvery: settings.sampleEvery ?? 0,
          snapLength: settings.snapLength ?? 0,
          recordLimit: settings.recordLimit ?? 0,
          timeLimitMs: settings.timeLimitMs ?? 0,
        });
        started = answeredStatus(enabled.status, 'EnableTrace');
      } catch (err) {
        events.cancel();
        throw err;
      }
      connected();
      note(traceStartedNote(target.label, started));
      if (first) output.begin({ status: started, inputInterface: target.rule?.input?.interface });

      const { final, received, lost } = await follow(events, started, output, note);
      if (final) {
        note(traceEndedNote(target.label, final));
        const missed = final.records - received - lost;
        if (missed > 0n) note(recordsMissedNote(missed, command.rule));
        return;
      }
      if (!signal.aborted) throw new StreamEndedError('WatchTraces');
      note(traceEndedNote(target.label, answeredStatus((await client.disableTrace({ rule: target.ruleId })).status, 'DisableTrace')));
    });
  } finally {
    output?.close();
  }
}

/** `trace show RULE`: the trace's status and records (text or JSON), or its records as pcapng. */
export async function showTrace(command: { rule: string; pcap?: PcapDestination }, context: CommandContext): Promise<void> {
  const { client, printer } = context;
  const target = await traceTarget(client, command.rule, true);
  const response = await client.getTrace({ rule: target.ruleId });
  const status = answeredStatus(response.status, 'GetTrace');
  if (command.pcap) {
    const output = openTraceOutput({ kind: 'pcapng', destination: command.pcap }, printer);
    try {
      output.begin({ status, inputInterface: target.rule?.input?.interface });
      for (const record of response.records) output.record(record);
    } finally {
      output.close();
    }
    return;
  }
  show(printer, GetTraceResponse, response, () => {
    const lines = response.records.map((record) => traceLine(record) + '\n').join('');
    return `${traceDetail(status)}\n${lines || '(no records)\n'}`;
  });
}

/** `trace stop RULE`: disables the trace and says how it ended. */
export async function stopTrace(command: { rule: string }, context: CommandContext): Promise<void> {
  const target = await traceTarget(context.client, command.rule, true);
  const response = await context.client.disableTrace({ rule: target.ruleId });
  const final = answeredStatus(response.status, 'DisableTrace');
  show(context.printer, DisableTraceResponse, response, () => `${traceEndedNote(target.label, final)} \`mcrctl trace show ${command.rule}\` prints them.\n`);
}

/** `trace list`: every trace mcrd knows. */
export async function listTraces(context: CommandContext): Promise<void> {
  const response = await context.client.listAllTraces();
  show(context.printer, ListTracesResponse, response, () => tracesTable(response.traces));
}
