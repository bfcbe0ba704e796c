/**
 * `mcrctl config check|load|show|save`: config files (docs/reference/config.md) from the command line.
 * check and load read the file with mcrd's own parser (server/config/config-file.ts), so a file
 * check passes is one mcrd reads; a file with problems lists each as FILE:LINE:COLUMN: field: reason
 * on stderr and exits 2 without anything being sent. show and save write the running rules in the
 * file's format, so that `config load FILE --replace` of what save wrote changes nothing.
 * check and load also warn, as FILE:LINE:COLUMN: warning: field: reason, about the interfaces the
 * rules name that do not exist (see interface-warnings.ts), which is no problem: exit 0.
 */
import { CommanderError } from 'commander';
import { promises as fs } from 'fs';

import { ApplyRulesResponse } from '../../gen/mcr/v1/rules';
import { ConfigFile, ConfigFileError, formatProblem, problemFromRefusal, readConfigFile } from '../../server/config/config-file';
import { renderRulesJson5, RulesDocument, rulesDocument } from '../../server/config/config-render';
import { writeFileAtomic } from '../../server/files/atomic-file';
import { formatGrpcError, McrCallError } from '../lib/errors';
import { CommandContext, show, toJsonText } from './command-context';
import { applyView, checkedView } from './config-view';
import { ExitCode } from './exit-codes';
import { existingInterfaces, localInterfaces, SYS_CLASS_NET } from './interface-names';
import { InterfacesOf, missingInterfaceWarnings } from './interface-warnings';
import type { ConfigCommand } from './config-program';
import { mcrdInterfaces } from './rule-warnings';
import { noteStoreChange } from './store-change-note';

/** Mode of a file `config save` creates (one it replaces keeps its own). */
const NEW_FILE_MODE = 0o644;

export async function runConfigCommand(command: ConfigCommand, context: CommandContext): Promise<void> {
  switch (command.name) {
    case 'config check': {
      const config = await readChecked(command.file, context, 'checked');
      const { printer } = context;
      printer.write(printer.json ? toJsonText({ file: config.file, valid: true, rules: config.rules?.length ?? null }) : checkedView(config));
      if (config.rules?.length) warnInterfaces(config, await checkedAgainst(context), context);
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
  const settings = (['listen', 'workers', 'cpus', 'interfaceCpus', 'logLevel'] as const).filter((key) => config[key] !== undefined);
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
  const interfaces = await mcrdInterfaces(context.client);
  if (interfaces) warnInterfaces(config, { names: interfaces, of: 'mcrd' }, context);
}

/** How long `config check` waits for mcrd's interfaces before it takes this host's. */
const CHECK_LOOKUP_MS = 1000;

/** The interfaces a file's rules are checked against, whose they are, and why not mcrd's. */
interface CheckedAgainst {
  names: string[];
  of: InterfacesOf;
  /** Why these are this host's: mcrd did not answer. */
  why?: string;
}

/**
 * What `config check` checks the rules' interfaces against: mcrd's, when it answers (the file is for
 * it, and it may run in another network namespace than mcrctl), else this host's; undefined (with a
 * note) when neither can be had.
 */
async function checkedAgainst(context: CommandContext): Promise<CheckedAgainst | undefined> {
  const { client } = context;
  try {
    const response = await client.listAllInterfaces({}, { timeoutMs: Math.min(client.timeoutMs, CHECK_LOOKUP_MS) });
    return { names: existingInterfaces(response), of: 'mcrd' };
  } catch (err) {
    const why = formatGrpcError(err);
    try {
      return { names: localInterfaces(), of: 'this host', why };
    } catch (listErr) {
      context.note(`note: the rules' interfaces were not checked: ${why}, and ${SYS_CLASS_NET} cannot be read: ${(listErr as Error).message}`);
      return undefined;
    }
  }
}

/** Warns, at its place in the file, about each interface the file's rules name that is not in `against`. */
function warnInterfaces(config: ConfigFile, against: CheckedAgainst | undefined, context: CommandContext): void {
  if (!against) return;
  const warnings = (config.rules ?? []).flatMap((rule, index) => missingInterfaceWarnings(rule, `rules[${index}]`, against.names, against.of));
  if (warnings.length > 0 && against.why) context.note(`note: the interfaces below are this host's (${SYS_CLASS_NET}): ${against.why}`);
  for (const warning of warnings) {
    const { line, column } = config.locate(warning.field);
    context.note(`${config.file}:${line}:${column}: warning: ${warning.field}: ${warning.message}`);
  }
}

/** Walks of the rules made again for `config show` and `save` when the rules changed during one. */
const SNAPSHOT_RETRIES = 2;

/** mcrd's rules as a config document, and as its JSON5 text with a header comment. */
async function runningRules(context: CommandContext): Promise<{ document: RulesDocument; json5: string }> {
  const { client } = context;
  // A file is one state of the rules: read again (twice at most) when they changed during the walk.
  let response = await client.listAllRules();
  for (let retry = 0; retry < SNAPSHOT_RETRIES && response.storeChanged; retry++) response = await client.listAllRules();
  noteStoreChange(context, response);
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
