/**
 * Runs a parsed mcrctl command against mcrd: the RPCs it needs, then its output, as a table or
 * detail view by default and as the response's proto3 JSON (the generated toJSON) with --json.
 * `stats --watch` prints updates until interrupted (see watch.ts), `events` one line per event,
 * `trace` the records of a trace as they come (see trace-command.ts).
 */
import {
  CreateRuleResponse,
  RuleFilter,
  DeleteRuleResponse,
  GetRuleResponse,
  ListRulesResponse,
  UpdateRuleResponse,
} from '../../gen/mcr/v1/rules';
import { GetStatsResponse, GetWorkerStatsResponse, WatchStatsResponse } from '../../gen/mcr/v1/stats';
import {
  EventKind,
  GetLogLevelsResponse,
  GetVersionResponse,
  ListInterfacesResponse,
  ListWorkersResponse,
  SetLogLevelResponse,
  WatchEventsResponse,
} from '../../gen/mcr/v1/system';
import { CLIENT_VERSION, PROTOCOL_MAJOR } from '../lib/version';
import { CommandContext, show, toJsonText } from './command-context';
import { printCompletionNames } from './completion-names';
import { EventLines } from './event-view';
import { interfacesTable } from './interface-view';
import { CliCommand, WatchOptions } from './invocation';
import { maskedRuleUpdate, needsCurrentRule, newRuleDefinition } from './rule-edit';
import { answeredRule, ruleDetail, ruleLabel, rulesTable } from './rule-view';
import { warnAfterRuleChange } from './rule-warnings';
import { inputsView, statsView, watchHeading } from './stats-view';
import { logLevelChange, logLevelsTable, versionView, workersTable } from './system-view';
import { followTrace, listTraces, showTrace, stopTrace } from './trace-command';
import { keepWatching } from './reconnect';
import { poll, showUpdates, watchMode } from './watch';
import { StreamEndedError } from './watch-loss';
import { wholeStatsUpdates } from '../lib/stats-updates';
import { noteStoreChange } from './store-change-note';

/**
 * `stats --watch`: WatchStats updates (GetWorkerStats polled at the interval with --inputs, which
 * WatchStats does not carry) until Ctrl-C, which cancels the call and ends the command normally.
 * mcrd going away ends it with exit 1, or with --reconnect waits for mcrd (see reconnect.ts).
 */
async function watchStats(command: { rule?: string; filter?: RuleFilter; inputs: boolean }, watch: WatchOptions, context: CommandContext): Promise<void> {
  const { printer } = context;
  const mode = watchMode(printer);
  await keepWatching(context, watch.reconnect, async ({ client, signal, connected }) => {
    if (command.inputs) {
      const fetch = async () => {
        const update = await client.getWorkerStats();
        connected();
        return update;
      };
      await showUpdates(poll(fetch, watch.intervalMs, signal), mode, (update) => ({
        heading: watchHeading({ intervalMs: watch.intervalMs, collectedUnixNanos: update.collectedUnixNanos }),
        body: inputsView(update),
        json: GetWorkerStatsResponse.toJSON(update),
      }), printer.write);
      return;
    }
    const request = { rule: command.rule ?? '', intervalMs: watch.intervalMs, ...(command.filter && { filter: command.filter }) };
    // An update too large for one message comes in parts: shown whole.
    const updates = wholeStatsUpdates(client.watchStats(request, { signal }));
    await showUpdates(updates, mode, (update) => ({
      heading: watchHeading(update),
      body: statsView(update),
      json: WatchStatsResponse.toJSON(update),
    }), printer.write);
    if (!signal.aborted) throw new StreamEndedError('WatchStats');
  });
}

/**
 * `events`: one line per WatchEvents message (one compact JSON object per line with --json) until
 * Ctrl-C or a closed pipe, which cancels the call and ends the command normally; mcrd going away as
 * for `stats --watch`.
 */
async function watchEvents(command: { kinds: EventKind[]; reconnect: boolean }, context: CommandContext): Promise<void> {
  const { printer } = context;
  await keepWatching(context, command.reconnect, async ({ client, signal }) => {
    // Dropped counts are per stream: each attempt starts from zero.
    const lines = new EventLines();
    for await (const response of client.watchEvents({ kinds: command.kinds }, { signal })) {
      printer.write(printer.json ? JSON.stringify(WatchEventsResponse.toJSON(response)) + '\n' : lines.render(response));
    }
    if (!signal.aborted) throw new StreamEndedError('WatchEvents');
  });
}

export async function runCommand(command: CliCommand, context: CommandContext): Promise<void> {
  const { client, printer } = context;
  switch (command.name) {
    case 'rule add': {
      const response = await client.createRule({ rule: newRuleDefinition(command.edit), validateOnly: command.dryRun });
      const rule = answeredRule(response.rule, 'CreateRule');
      const heading = command.dryRun ? `Valid; would create rule ${ruleLabel(rule)} (dry run, nothing changed):` : `Created rule ${ruleLabel(rule)}.`;
      show(printer, CreateRuleResponse, response, () => `${heading}\n${ruleDetail(rule)}`);
      await warnAfterRuleChange(context, rule, !command.dryRun);
      return;
    }
    case 'rule list': {
      const response = await client.listAllRules({ filter: command.filter });
      noteStoreChange(context, response);
      show(printer, ListRulesResponse, response, () => rulesTable(response.rules));
      return;
    }
    case 'rule get': {
      const response = await client.getRule({ rule: command.rule });
      show(printer, GetRuleResponse, response, () => ruleDetail(answeredRule(response.rule, 'GetRule')));
      return;
    }
    case 'rule update': {
      // Only the fields given are sent, with an update_mask naming them: mcrd merges them into the
      // rule as it is then. An edit of the outputs the rule has (or one written for the protocol it
      // relays) reads the rule first and is guarded by the generation read: a change made by someone
      // else in between makes mcrd refuse with ABORTED instead of this update silently undoing it.
      const existing = needsCurrentRule(command.edit) ? answeredRule((await client.getRule({ rule: command.rule })).rule, 'GetRule') : undefined;
      const { definition, paths } = maskedRuleUpdate(command.edit, existing);
      const response = await client.updateRule({
        rule: existing?.id ?? command.rule,
        definition,
        updateMask: paths,
        expectedGeneration: command.expectGeneration ?? existing?.generation,
        validateOnly: command.dryRun,
      });
      const rule = answeredRule(response.rule, 'UpdateRule');
      const heading = command.dryRun
        ? `Valid; would update rule ${ruleLabel(rule)} (dry run, nothing changed):`
        : `Updated rule ${ruleLabel(rule)} to generation ${rule.generation}.`;
      show(printer, UpdateRuleResponse, response, () => `${heading}\n${ruleDetail(rule)}`);
      await warnAfterRuleChange(context, rule, !command.dryRun);
      return;
    }
    case 'rule delete': {
      const response = await client.deleteRule({ rule: command.rule, expectedGeneration: command.expectGeneration });
      show(printer, DeleteRuleResponse, response, () => `Deleted rule ${ruleLabel(answeredRule(response.rule, 'DeleteRule'))}.\n`);
      await warnAfterRuleChange(context, undefined, true);
      return;
    }
    case 'stats': {
      if (command.watch) return watchStats(command, command.watch, context);
      if (command.inputs) {
        const response = await client.getWorkerStats();
        show(printer, GetWorkerStatsResponse, response, () => inputsView(response));
        return;
      }
      const response = await client.getAllStats({ rule: command.rule ?? '', filter: command.filter });
      noteStoreChange(context, response);
      show(printer, GetStatsResponse, response, () => statsView(response));
      return;
    }
    case 'workers': {
      const response = await client.listWorkers();
      show(printer, ListWorkersResponse, response, () => workersTable(response.workers));
      return;
    }
    case 'interfaces': {
      const response = await client.listAllInterfaces();
      show(printer, ListInterfacesResponse, response, () => interfacesTable(response.interfaces));
      return;
    }
    case 'events':
      return watchEvents(command, context);
    case 'log-level get': {
      const response = await client.getLogLevels();
      show(printer, GetLogLevelsResponse, response, () => logLevelsTable(response.levels));
      return;
    }
    case 'log-level set': {
      const response = await client.setLogLevel({ facility: command.facility, level: command.level });
      show(printer, SetLogLevelResponse, response, () => `${logLevelChange(command.facility, command.level)}\n${logLevelsTable(response.levels)}`);
      return;
    }
    case 'trace start':
      return followTrace(command, context);
    case 'trace list':
      return listTraces(context);
    case 'trace show':
      return showTrace(command, context);
    case 'trace stop':
      return stopTrace(command, context);
    case 'config check':
    case 'config load':
    case 'config show':
    case 'config save':
      // Loaded here only: it brings mcrd's config file parser (json5 and the rule checks) with it.
      return (await import('./config-commands')).runConfigCommand(command, context);
    case '__complete':
      return printCompletionNames(command.of, context);
    case 'version': {
      const response = await client.getVersion();
      const clientVersion = { version: CLIENT_VERSION, protocolMajor: PROTOCOL_MAJOR };
      // Both sides' versions are the point of this command, so --json reports both.
      printer.write(
        printer.json
          ? toJsonText({ client: clientVersion, server: GetVersionResponse.toJSON(response) })
          : versionView(clientVersion, response),
      );
      return;
    }
  }
}
