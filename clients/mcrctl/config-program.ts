/**
 * The `mcrctl config check|load|show|save` commands on the command line: their arguments and options,
 * parsed into a ConfigCommand. Running them is config-commands.ts's job (which loads mcrd's config
 * parser and the client: this file stays light, as parsing the command line needs it).
 */
import { Command } from 'commander';


export type ConfigCommand =
  | { name: 'config check'; file: string }
  | { name: 'config load'; file: string; replace: boolean; dryRun: boolean }
  | { name: 'config show' }
  | { name: 'config save'; file: string };

/** program.ts's leaf(): makes `command` a leaf whose action builds the command (one of mcrctl's CliCommands). */
type Leaf = (command: Command, build: (args: string[], options: object, self: Command) => ConfigCommand) => Command;

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
