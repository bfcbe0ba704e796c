/**
 * Runs a parsed mcrctl command against mcrd: the RPCs it needs, then its output, as a table or
 * detail view by default and as the response's proto3 JSON (the generated toJSON) with --json.
 */
import {
  CreateRuleResponse,
  DeleteRuleResponse,
  GetRuleResponse,
  ListRulesResponse,
  Rule,
  UpdateRuleResponse,
} from '../../gen/mcr/v1/rules';
import { GetStatsResponse } from '../../gen/mcr/v1/stats';
import { GetVersionResponse, ListWorkersResponse } from '../../gen/mcr/v1/system';
import { McrClient } from '../lib/client';
import { CLIENT_VERSION, PROTOCOL_MAJOR } from '../lib/version';
import { CliCommand } from './invocation';
import { mergeRuleUpdate, newRuleDefinition } from './rule-edit';
import { ruleDetail, rulesTable } from './rule-view';
import { statsView } from './stats-view';
import { versionView, workersTable } from './system-view';

/** Where a command's result goes. */
export interface Printer {
  json: boolean;
  write(text: string): void;
}

/** Prints `response` as JSON through its generated codec, or as `text()`. */
function show<T>(printer: Printer, codec: { toJSON(message: T): unknown }, response: T, text: () => string): void {
  printer.write(printer.json ? toJsonText(codec.toJSON(response)) : text());
}

function toJsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** The rule a rule RPC answered with; mcrd always sends one, so its absence is a server bug. */
function answeredRule(rule: Rule | undefined, rpc: string): Rule {
  if (rule === undefined) throw new Error(`mcrd answered ${rpc} without a rule`);
  return rule;
}

function ruleLabel(rule: Rule): string {
  return rule.name ? `${rule.id} (${rule.name})` : rule.id;
}

export async function runCommand(command: CliCommand, client: McrClient, printer: Printer): Promise<void> {
  switch (command.name) {
    case 'rule add': {
      const response = await client.createRule({ rule: newRuleDefinition(command.edit), validateOnly: command.dryRun });
      const rule = answeredRule(response.rule, 'CreateRule');
      const heading = command.dryRun ? `Valid; would create rule ${ruleLabel(rule)} (dry run, nothing changed):` : `Created rule ${ruleLabel(rule)}.`;
      show(printer, CreateRuleResponse, response, () => `${heading}\n${ruleDetail(rule)}`);
      return;
    }
    case 'rule list': {
      const response = await client.listRules();
      show(printer, ListRulesResponse, response, () => rulesTable(response.rules));
      return;
    }
    case 'rule get': {
      const response = await client.getRule({ rule: command.rule });
      show(printer, GetRuleResponse, response, () => ruleDetail(answeredRule(response.rule, 'GetRule')));
      return;
    }
    case 'rule update': {
      // Read, merge, and write back guarded by the generation read: a change made by someone else in
      // between makes mcrd refuse with ABORTED instead of this update silently undoing it.
      const existing = answeredRule((await client.getRule({ rule: command.rule })).rule, 'GetRule');
      const response = await client.updateRule({
        rule: existing.id,
        definition: mergeRuleUpdate(existing, command.edit),
        expectedGeneration: command.expectGeneration ?? existing.generation,
        validateOnly: command.dryRun,
      });
      const rule = answeredRule(response.rule, 'UpdateRule');
      const heading = command.dryRun
        ? `Valid; would update rule ${ruleLabel(rule)} (dry run, nothing changed):`
        : `Updated rule ${ruleLabel(rule)} to generation ${rule.generation}.`;
      show(printer, UpdateRuleResponse, response, () => `${heading}\n${ruleDetail(rule)}`);
      return;
    }
    case 'rule delete': {
      const response = await client.deleteRule({ rule: command.rule, expectedGeneration: command.expectGeneration });
      show(printer, DeleteRuleResponse, response, () => `Deleted rule ${ruleLabel(answeredRule(response.rule, 'DeleteRule'))}.\n`);
      return;
    }
    case 'stats': {
      const response = await client.getStats({ rule: command.rule ?? '' });
      show(printer, GetStatsResponse, response, () => statsView(response));
      return;
    }
    case 'workers': {
      const response = await client.listWorkers();
      show(printer, ListWorkersResponse, response, () => workersTable(response.workers));
      return;
    }
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
