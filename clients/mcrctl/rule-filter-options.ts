/**
 * The options that select rules by what they are (`rule list`, `stats`): --in IF, --group PREFIX,
 * --state STATE (repeatable), --name-prefix TEXT, sent as mcr.v1 RuleFilter. mcrd checks the values
 * (a prefix with host bits set, a bad interface name) and names the field it refuses.
 */
import { Command, InvalidArgumentError, Option } from 'commander';

import type { RuleFilter, RuleState } from '../../gen/mcr/v1/rules';
import { rulesProto } from './generated-code';

/** The state words, by the name of the generated enum value (read before the generated code loads). */
const STATE_WORDS: ReadonlyArray<readonly [keyof typeof RuleState, string]> = [
  ['RULE_STATE_ACTIVE', 'active'],
  ['RULE_STATE_WAITING_FOR_INTERFACE', 'waiting'],
  ['RULE_STATE_INTERFACE_DOWN', 'down'],
  ['RULE_STATE_ERROR', 'error'],
];

export const RULE_STATE_WORDS: readonly string[] = STATE_WORDS.map(([, word]) => word);

/** The filter options as commander leaves them. */
export interface RuleFilterOptions {
  /** A string here (`rule add` has its own --in, which takes two values). */
  in?: string | string[];
  group?: string;
  state?: string[];
  namePrefix?: string;
}

function collectState(word: string, previous: string[] | undefined): string[] {
  if (!RULE_STATE_WORDS.includes(word)) throw new InvalidArgumentError(`must be one of ${RULE_STATE_WORDS.join(', ')}.`);
  return [...(previous ?? []), word];
}

/** Adds the filter options to `command`; `what` says what they select ("rules", "the rules' counters"). */
export function ruleFilterOptions(command: Command, what: string): Command {
  return command
    .option('--in <IF>', `only ${what} capturing on interface IF`)
    .option('--group <PREFIX>', `only ${what} whose input group is inside PREFIX (239.1.0.0/16, or one group)`)
    .addOption(
      new Option('--state <STATE>', `only ${what} in this state (repeatable: any of them)`).choices(RULE_STATE_WORDS).argParser(collectState),
    )
    .option('--name-prefix <TEXT>', `only ${what} whose name starts with TEXT`);
}

/** The RuleFilter the options give, or undefined when none is given. */
export function ruleFilter(options: RuleFilterOptions): RuleFilter | undefined {
  const { group, state, namePrefix } = options;
  const inputInterface = typeof options.in === 'string' ? options.in : undefined;
  if (inputInterface === undefined && group === undefined && state === undefined && namePrefix === undefined) return undefined;
  const states = (state ?? []).map((word) => rulesProto().RuleState[STATE_WORDS.find(([, w]) => w === word)![0]]);
  return { inputInterface: inputInterface ?? '', groupPrefix: group ?? '', states: [...new Set(states)], namePrefix: namePrefix ?? '' };
}
