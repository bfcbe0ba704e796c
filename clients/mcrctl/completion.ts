/**
 * `mcrctl completion bash|zsh`: shell completion scripts generated from mcrctl's own command tree
 * (command-tree.ts), so they complete exactly the commands and options this mcrctl has. Values are
 * completed by what their placeholder says: RULE (rule ids and names) and IF (interface names) are
 * asked of the running mcrd through the hidden `mcrctl __complete rules|interfaces`, with the
 * --socket, --address and other connection options already on the line; FILE and PATH complete file
 * names; an argument with fixed choices offers them.
 *
 *   source <(mcrctl completion bash)                                  # this shell
 *   mcrctl completion bash > /etc/bash_completion.d/mcrctl            # every shell
 *   mcrctl completion zsh > "${fpath[1]}/_mcrctl"                     # zsh, then compinit
 *
 * Both scripts share the lookups and the walk over the words typed, written in the part of bash's
 * syntax zsh runs alike; only the entry functions (how each shell hands over the words and takes the
 * candidates) differ.
 */
import { Command } from 'commander';

import { commandTree, CommandNode, OptionNode, ValueKind } from './command-tree';

export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** The hidden command the scripts run to ask mcrd for names (program.ts defines it). */
export const COMPLETE_COMMAND = '__complete';

/** Single-quoted for the shell. */
function quoted(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A value kind as one word for the scripts: rule, interface, file, - (anything), or the choices joined by |. */
function kindWord(kind: ValueKind): string {
  if (kind.kind === 'choice') return kind.words.join('|');
  return kind.kind === 'any' ? '-' : kind.kind;
}

function longFlags(options: OptionNode[]): string[] {
  return options.map((o) => o.option.long).filter((flag): flag is string => flag !== undefined);
}

/** A function that echoes the output of the first arm whose pattern matches `subject`. */
function caseFunction(name: string, comment: string, subject: string, arms: Array<[pattern: string, output: string]>): string {
  const lines = arms.map(([pattern, output]) => `    ${pattern}) echo ${quoted(output)} ;;`);
  return `# ${comment}\n${name}() {\n  case ${subject} in\n${lines.join('\n')}\n  esac\n}`;
}

/** The functions both scripts share: lookups generated from the tree, and the walk over the words. */
function sharedFunctions(tree: CommandNode[]): string {
  const path = (node: CommandNode) => node.words.join(' ');
  const root = tree[0];
  const takesValues = (option: OptionNode) => option.values.length > 0;
  const kinds = (option: OptionNode) => option.values.map((v) => kindWord(v.kind)).join(' ');
  const rootValueFlags = root.options.filter(takesValues).flatMap((o) => o.flags);
  // An option of the program is accepted after any command: its arm matches every path (and comes last).
  const optionArms: Array<[string, string]> = [
    ...tree.slice(1).flatMap((node) => node.options.filter(takesValues).flatMap((o) => o.flags.map((flag): [string, string] => [quoted(`${path(node)} ${flag}`), kinds(o)]))),
    ...root.options.filter(takesValues).flatMap((o) => o.flags.map((flag): [string, string] => [`*${quoted(` ${flag}`)}`, kinds(o)])),
  ];
  const argumentArms = tree.flatMap((node) => node.arguments.map((a, i): [string, string] => [quoted(`${path(node)} ${i}`), kindWord(a.kind)]));
  return [
    caseFunction('_mcrctl_subcommands', 'The subcommands of a command path ("" for mcrctl itself).', '"$1"', tree.map((n) => [quoted(path(n)), n.subcommands.join(' ')])),
    caseFunction('_mcrctl_options', 'The long options a command path accepts.', '"$1"', tree.map((n) => [quoted(path(n)), [...new Set([...longFlags(n.options), ...longFlags(n.inherited)])].join(' ')])),
    caseFunction(
      '_mcrctl_option_values',
      'What each value of option $2 of command path $1 is (rule, interface, file, -, or choices a|b); nothing for a switch.',
      '"$1 $2"',
      optionArms,
    ),
    caseFunction('_mcrctl_argument', 'What positional argument $2 (from 0) of command path $1 is; nothing past the last.', '"$1 $2"', argumentArms),
    `# Whether $1 is an option of mcrctl itself that takes a value (--socket...): passed on to ${COMPLETE_COMMAND}.
_mcrctl_connection() {
  case "$1" in
    ${rootValueFlags.map(quoted).join('|')}) return 0 ;;
  esac
  return 1
}`,
    `# Reads the words typed before the one being completed (without mcrctl) and sets the caller's
# mc_path (the command path), mc_value (1: the word is an option's value), mc_expect (what the word
# is: rule, interface, file, -, choices a|b, or nothing) and mc_conn (the connection options given).
_mcrctl_state() {
  local word pending='' carry=''
  mc_path='' mc_expect='' mc_value=0
  local argn=0
  mc_conn=()
  for word in "$@"; do
    if [ -n "$pending" ]; then
      [ -n "$carry" ] && mc_conn+=("$carry" "$word")
      carry=''
      case "$pending" in
        *' '*) pending=\${pending#* } ;;
        *) pending='' ;;
      esac
      continue
    fi
    case "$word" in
      --*=*) _mcrctl_connection "\${word%%=*}" && mc_conn+=("$word") ;;
      -?*)
        pending=$(_mcrctl_option_values "$mc_path" "$word")
        [ -n "$pending" ] && _mcrctl_connection "$word" && carry=$word ;;
      *)
        case " $(_mcrctl_subcommands "$mc_path") " in
          *" $word "*) mc_path=\${mc_path:+$mc_path }$word argn=0 ;;
          *) argn=$((argn + 1)) ;;
        esac ;;
    esac
  done
  if [ -n "$pending" ]; then
    mc_value=1
    mc_expect=\${pending%% *}
  else
    mc_expect=$(_mcrctl_argument "$mc_path" "$argn")
  fi
}`,
  ].join('\n');
}

/** How each script turns mc_expect into candidates: names from mcrd, or the choices. */
function dynamicCandidates(files: string): string {
  return `  case "$mc_expect" in
    rule) candidates=$(mcrctl "\${mc_conn[@]}" ${COMPLETE_COMMAND} rules 2>/dev/null) ;;
    interface) candidates=$(mcrctl "\${mc_conn[@]}" ${COMPLETE_COMMAND} interfaces 2>/dev/null) ;;
    file) ${files} ;;
    -|'') ;;
    *) candidates=\${mc_expect//|/ } ;;
  esac
  if [ "$mc_value" = 0 ]; then
    candidates="$candidates $(_mcrctl_subcommands "$mc_path") $(_mcrctl_options "$mc_path")"
  fi`;
}

export function bashCompletion(program: Command): string {
  return `# bash completion for mcrctl (generated by \`mcrctl completion bash\`)
${sharedFunctions(commandTree(program))}
_mcrctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" candidates='' word i join=0
  local mc_path mc_expect mc_value
  local -a mc_conn=() typed=()
  # bash splits words at the characters of COMP_WORDBREAKS: "239.1.1.1:5000" and "--socket=PATH"
  # arrive as three words each. They are glued back before the walk.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if ((\${#typed[@]} > 0)) && { ((join)) || [[ $word == [:=] ]]; }; then
      typed[\${#typed[@]}-1]+=$word
      if [[ $word == [:=] ]]; then join=1; else join=0; fi
    else
      typed+=("$word")
      join=0
    fi
  done
  _mcrctl_state "\${typed[@]}"
${dynamicCandidates('compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return')}
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
complete -F _mcrctl mcrctl
`;
}

export function zshCompletion(program: Command): string {
  return `#compdef mcrctl
# zsh completion for mcrctl (generated by \`mcrctl completion zsh\`): put it in a directory of $fpath
# as _mcrctl, or source it after compinit.
${sharedFunctions(commandTree(program))}
_mcrctl() {
  local candidates='' mc_path mc_expect mc_value
  local -a mc_conn
  _mcrctl_state "\${(@)words[2,CURRENT-1]}"
${dynamicCandidates('_files; return')}
  compadd -- \${=candidates}
}
# Sourced: register the function. Autoloaded from $fpath: this file is the body of _mcrctl, which
# has just been redefined above; run it for the completion under way.
if [ "\${funcstack[1]-}" = _mcrctl ]; then
  _mcrctl "$@"
else
  compdef _mcrctl mcrctl
fi
`;
}

export function completionScript(shell: CompletionShell, program: Command): string {
  return shell === 'bash' ? bashCompletion(program) : zshCompletion(program);
}
