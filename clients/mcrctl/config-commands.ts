/**
 * `mcrctl config check|load|show|save`: config files (docs/reference/config.md) from the command line.
 * check and load read the file with mcrd's own parser (server/config/config-file.ts), so a file
 * check passes is one mcrd reads; a file with problems lists each as FILE:LINE:COLUMN: field: reason
 * on stderr and exits 2 without anything being sent. show and save write the running rules in the
 * file's format, so that `config load FILE --replace` of what save wrote changes nothing.
 */
import { Command, CommanderError } from 'commander';
import { promises as fs } from 'fs';

import { ApplyRulesResponse } from '../../gen/mcr/v1/rules';
import { ConfigFile, ConfigFileError, formatProblem, problemFromRefusal, readConfigFile } from '../../server/config/config-file';
import { renderRulesJson5, RulesDocument, rulesDocument } from '../../server/config/config-render';
import { writeFileAtomic } from '../../server/rules/atomic-file';
import { McrCallError } from '../lib/errors';
import { CommandContext, show, toJsonText } from './command-context';
import { applyView, checkedView } from './config-view';
import { ExitCode } from './exit-codes';
import type { CliCommand } from './invocation';

export type ConfigCommand =
  | { name: 'config check'; file: string }
  | { name: 'config load'; file: string; replace: boolean; dryRun: boolean }
  | { name: 'config show' }
  | { name: 'config save'; file: string };

/** program.ts's leaf(): makes `command` a leaf whose action builds the CliCommand. */
type Leaf = (command: Command, build: (args: string[], options: object, self: Command) => CliCommand) => Command;

/** Mode of a file `config save` creates (one it replaces keeps its own). */
const NEW_FILE_MODE = 0o644;

export function defineConfigCommands(program: Command, leaf: Leaf): void {
  const config = program
    .command('config')
    .description('check, load, show and save config files: mcrd\'s settings and rules in JSON5 (see docs/reference/config.md)');
  leaf(
    config
      .command('check')
      .description('validate FILE here, sending nothing: each problem as FILE:LINE:COLUMN: field: reason; exit 2 when there is one')
      .argument('<FILE>', 'the config file'),
    ([file]) => ({ name: 'config check', file }),
  );
  leaf(
    config
      .command('load')
      .description("apply FILE's rules to mcrd in one step, all or nothing, and print what changed; only the rules that differ are touched")
      .argument('<FILE>', 'the config file')
      .option('--replace', 'remove the rules FILE does not have (default: merge, keeping them)')
      .option('--dry-run', 'print what would change, change nothing'),
    ([file], _options, self) => {
      const options = self.opts<{ replace?: boolean; dryRun?: boolean }>();
      return { name: 'config load', file, replace: options.replace === true, dryRun: options.dryRun === true };
    },
  );
  leaf(config.command('show').description("print mcrd's rules in the config file format (JSON5; with --json, JSON)"), () => ({ name: 'config show' }));
  leaf(
    config
      .command('save')
      .description("write mcrd's rules to FILE in the config file format, atomically (a reader sees the old file or the new one)")
      .argument('<FILE>', 'the file to write'),
    ([file]) => ({ name: 'config save', file }),
  );
}

export async function runConfigCommand(command: ConfigCommand, context: CommandContext): Promise<void> {
  switch (command.name) {
    case 'config check': {
      const config = await readChecked(command.file, context, 'checked');
      const { printer } = context;
      printer.write(printer.json ? toJsonText({ file: config.file, valid: true, rules: config.rules?.length ?? null }) : checkedView(config));
      return;
    }
    case 'config load':
      return load(command, context);
    case 'config show': {
      const running = await runningRules(context);
      context.printer.write(context.printer.json ? toJsonText(running.document) : running.json5);
      return;
    }
    case 'config save': {
      const running = await runningRules(context);
      await writeFileAtomic(command.file, running.json5, await modeOf(command.file));
      const count = running.document.rules.length;
      const { printer } = context;
      printer.write(printer.json ? toJsonText({ file: command.file, rules: count }) : `Saved ${count} rule${count === 1 ? '' : 's'} to ${command.file}.\n`);
      return;
    }
  }
}

/**
 * The file, read and checked; with problems, lists them (on stderr, or as JSON on stdout with
 * --json) and throws the usage error that exits 2.
 */
async function readChecked(file: string, context: CommandContext, outcome: 'checked' | 'sent'): Promise<ConfigFile> {
  try {
    return await readConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigFileError)) throw err;
    if (context.printer.json) context.printer.write(toJsonText({ file, valid: false, problems: err.problems }));
    else for (const problem of err.problems) context.note(formatProblem(file, problem));
    const count = `${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}`;
    throw usageFailure(outcome === 'checked' ? `${file} is not valid (${count})` : `${file} is not valid (${count}): nothing was sent`);
  }
}

/** An error main() reports as a usage error: exit 2 (the file is what is wrong; mcrd was not asked). */
function usageFailure(message: string): CommanderError {
  return new CommanderError(ExitCode.Usage, 'mcrctl.config', message);
}

async function load(command: Extract<ConfigCommand, { name: 'config load' }>, context: CommandContext): Promise<void> {
  const config = await readChecked(command.file, context, 'sent');
  if (config.rules === undefined) throw usageFailure(`${command.file} has no "rules": nothing to load`);
  const settings = (['listen', 'workers', 'logLevel'] as const).filter((key) => config[key] !== undefined);
  if (settings.length > 0) {
    context.note(`note: ${settings.join(', ')} in ${command.file} take effect when mcrd starts with --config; config load applies the rules`);
  }
  let response: ApplyRulesResponse;
  try {
    response = await context.client.applyRules({ rules: config.rules, replace: command.replace, dryRun: command.dryRun });
  } catch (err) {
    // mcrd names the field it refuses (rules[2].name: ...): point at it in the file too.
    const problem = err instanceof McrCallError ? problemFromRefusal(config, err.details) : undefined;
    if (problem) context.note(formatProblem(command.file, problem));
    throw err;
  }
  show(context.printer, ApplyRulesResponse, response, () => applyView(response));
}

/** mcrd's rules as a config document, and as its JSON5 text with a header comment. */
async function runningRules(context: CommandContext): Promise<{ document: RulesDocument; json5: string }> {
  const { client } = context;
  const response = await client.listRules();
  const document = rulesDocument(response.rules);
  const json5 = renderRulesJson5(document, [
    `mcr rules from ${client.target}, store generation ${response.storeGeneration}, ${new Date().toISOString()}`,
    'Apply with: mcrctl config load FILE --replace (see docs/reference/config.md)',
  ]);
  return { document, json5 };
}

/** The permission bits `file` has. */
async function modeOf(file: string): Promise<number> {
  const stat = await fs.stat(file).catch(() => undefined);
  return stat ? stat.mode & 0o777 : NEW_FILE_MODE;
}
