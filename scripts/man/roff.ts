/**
 * A man page in roff (man(7) macros) generated from a commander program, through the same walk of its
 * command tree as the shell completion (clients/mcrctl/command-tree.ts): the synopsis and every
 * command, argument and option with its help text come from the program itself, so the page cannot
 * drift from the command line. The prose around them (description, exit status, files...) is the
 * caller's.
 */
import { Command, Help } from 'commander';

import { commandTree, CommandNode, OptionNode, ValueSpec } from '../../clients/mcrctl/command-tree';

/** A block of a section: a paragraph, a list of terms with their text, or lines shown as typed. */
export type ManBlock = string | { items: Array<[term: string, text: string]> } | { example: string[] };

export interface ManSection {
  title: string;
  blocks: ManBlock[];
}

export interface ManPage {
  program: Command;
  section: number;
  /** The footer's source: "mcr 0.1.0". */
  source: string;
  /** The header's manual: "User Commands". */
  manual: string;
  /** The NAME line's summary, after the name. */
  summary: string;
  /** The DESCRIPTION section, before the generated OPTIONS and COMMANDS. */
  description: ManBlock[];
  /** Sections after the generated ones (EXIT STATUS, ENVIRONMENT, FILES, SEE ALSO...). */
  sections: ManSection[];
}

const help = new Help();

/** Text safe in roff: backslashes, and minus signs (as \-, so that options copy as typed), escaped. */
export function roffEscape(text: string): string {
  return text.replace(/\\/g, '\\e').replace(/-/g, '\\-');
}

/** Lines of text; a line that would start with a control character is protected. */
function textLines(text: string): string {
  return roffEscape(text)
    .split('\n')
    .map((line) => line.trim())
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n.br\n');
}

/** A macro argument in double quotes (a quote inside is doubled). */
function macroArgument(text: string): string {
  return `"${roffEscape(text).replace(/"/g, '""')}"`;
}

/** "-w, --write <FILE>" as \fB\-w\fR, \fB\-\-write\fR \fIFILE\fR: flags in bold, placeholders in italics. */
export function optionTerm(option: OptionNode): string {
  return option.option.flags
    .split(/(<[^>]+>|\[[^\]]+\])/)
    .map((part) => {
      const placeholder = /^[<[](.*)[>\]]$/.exec(part);
      if (placeholder) return part.startsWith('[') ? `[\\fI${roffEscape(placeholder[1])}\\fR]` : `\\fI${roffEscape(placeholder[1])}\\fR`;
      return part.replace(/-[^\s,|]+/g, (flag) => `\\fB${roffEscape(flag)}\\fR`);
    })
    .join('');
}

function argumentTerm(argument: ValueSpec): string {
  return argument.optional ? `[\\fI${roffEscape(argument.placeholder)}\\fR]` : `\\fI${roffEscape(argument.placeholder)}\\fR`;
}

function taggedParagraph(term: string, text: string): string {
  return `.TP\n${term}\n${textLines(text)}`;
}

function block(content: ManBlock): string {
  if (typeof content === 'string') return `.PP\n${textLines(content)}`;
  if ('items' in content) return content.items.map(([term, text]) => taggedParagraph(`\\fB${roffEscape(term)}\\fR`, text)).join('\n');
  return `.PP\n.RS 4\n.nf\n${content.example.map(textLines).join('\n')}\n.fi\n.RE`;
}

function optionList(options: OptionNode[]): string[] {
  return options.map((o) => taggedParagraph(optionTerm(o), help.optionDescription(o.option)));
}

/** "mcrctl rule add" and its usage, as the synopsis line of a command. */
function synopsis(node: CommandNode, programName: string): string {
  const name = [programName, ...node.words].join(' ');
  return `.B ${macroArgument(name)}\n${textLines(node.command.usage())}`;
}

/** One command of a program with subcommands: usage, description, arguments, options. */
function commandSubsection(node: CommandNode, programName: string): string {
  const parts = [`.SS ${macroArgument([programName, ...node.words].join(' '))}`, synopsis(node, programName)];
  const description = help.commandDescription(node.command);
  if (description) parts.push(`.PP\n${textLines(description)}`);
  const args = node.command.registeredArguments;
  parts.push(...node.arguments.map((arg, i) => taggedParagraph(argumentTerm(arg), help.argumentDescription(args[i]))));
  // --help is everywhere: listed once, with the program's options.
  parts.push(...optionList(node.options.filter((o) => !o.flags.includes('--help'))));
  return parts.join('\n');
}

export function renderManPage(page: ManPage): string {
  const tree = commandTree(page.program);
  const [root, ...commands] = tree;
  const name = page.program.name();
  const out = [
    `.\\" Generated from ${name}'s command line definition (npm run build:man); do not edit.`,
    `.TH ${name.toUpperCase()} ${page.section} "" ${macroArgument(page.source)} ${macroArgument(page.manual)}`,
    '.SH NAME',
    `${roffEscape(name)} \\- ${textLines(page.summary)}`,
    '.SH SYNOPSIS',
    synopsis(root, name),
    // Every command that does something (not those that only group others, as "rule").
    ...commands.filter((node) => node.subcommands.length === 0 || node.arguments.length > 0).flatMap((node) => ['.br', synopsis(node, name)]),
    '.SH DESCRIPTION',
    ...page.description.map(block),
    '.SH OPTIONS',
    ...optionList(root.options),
  ];
  if (commands.length > 0) out.push('.SH COMMANDS', ...commands.map((node) => commandSubsection(node, name)));
  for (const section of page.sections) out.push(`.SH ${macroArgument(section.title.toUpperCase())}`, ...section.blocks.map(block));
  return `${out.join('\n')}\n`;
}
