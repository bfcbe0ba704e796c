/**
 * A commander program as a flat list of its commands, each with what it accepts: subcommands,
 * options (and what their values are), positional arguments. The shell completion scripts and the
 * man pages are generated from this walk, so they list exactly the commands and options the program
 * has. Hidden commands and options (`mcrctl __complete`) and commander's implicit `help` command are
 * left out; `--help` is listed, as every command accepts it.
 */
import { Argument, Command, Help, Option } from 'commander';

/**
 * What a value on the command line is, from its placeholder: RULE (a rule id or name), IF (an
 * interface), FILE or PATH (a file), one of a fixed set of words (an argument with choices), or
 * anything else.
 */
export type ValueKind = { kind: 'rule' } | { kind: 'interface' } | { kind: 'file' } | { kind: 'choice'; words: string[] } | { kind: 'any' };

export interface ValueSpec {
  /** The placeholder as help shows it: "IF", "GROUP:PORT", "RULE". */
  placeholder: string;
  /** The placeholder is in [brackets]: the value may be left out. */
  optional: boolean;
  kind: ValueKind;
}

export interface OptionNode {
  option: Option;
  /** "--in", "-w"... every spelling: the long form first when there is one. */
  flags: string[];
  /** The values it takes each time it is given: none for a switch, two for --in IF GROUP:PORT. */
  values: ValueSpec[];
}

export interface CommandNode {
  command: Command;
  /** Words below the program: [] for the program itself, ["rule", "add"]... */
  words: string[];
  /** The names of its visible subcommands. */
  subcommands: string[];
  /** Its own visible options, --help included. */
  options: OptionNode[];
  /** Options it accepts because the program declares them (the program's own, less --help and --version). */
  inherited: OptionNode[];
  arguments: ValueSpec[];
}

const help = new Help();

function kindOf(placeholder: string, choices: readonly string[] | undefined): ValueKind {
  if (choices !== undefined && choices.length > 0) return { kind: 'choice', words: [...choices] };
  const name = placeholder.replace(/\.\.\.$/, '');
  if (name === 'RULE') return { kind: 'rule' };
  if (name === 'IF') return { kind: 'interface' };
  if (name === 'FILE' || name === 'PATH') return { kind: 'file' };
  return { kind: 'any' };
}

/** The placeholders of an option's flags: "--in <IF> <GROUP:PORT>" has IF and GROUP:PORT. */
function optionValues(option: Option): ValueSpec[] {
  return [...option.flags.matchAll(/<([^>]+)>|\[([^\]]+)\]/g)].map((match) => {
    const placeholder = match[1] ?? match[2];
    return { placeholder, optional: match[2] !== undefined, kind: kindOf(placeholder, option.argChoices) };
  });
}

function optionNode(option: Option): OptionNode {
  const flags = [option.long, option.short].filter((flag): flag is string => flag !== undefined);
  return { option, flags, values: optionValues(option) };
}

function argumentSpec(argument: Argument): ValueSpec {
  return { placeholder: argument.name(), optional: !argument.required, kind: kindOf(argument.name(), argument.argChoices) };
}

function visibleSubcommands(command: Command): Command[] {
  // commander's implicit `help` command is left out: `--help` does the same.
  return help.visibleCommands(command).filter((sub) => sub.name() !== 'help');
}

function walk(command: Command, words: string[], inherited: OptionNode[]): CommandNode[] {
  const children = visibleSubcommands(command);
  const node: CommandNode = {
    command,
    words,
    subcommands: children.map((child) => child.name()),
    options: help.visibleOptions(command).map(optionNode),
    inherited,
    arguments: command.registeredArguments.map(argumentSpec),
  };
  const global = words.length === 0 ? node.options.filter((o) => !o.flags.includes('--help') && !o.flags.includes('--version')) : inherited;
  return [node, ...children.flatMap((child) => walk(child, [...words, child.name()], global))];
}

/** Every visible command of `program`, the program itself first, parents before their subcommands. */
export function commandTree(program: Command): CommandNode[] {
  return walk(program, [], []);
}
