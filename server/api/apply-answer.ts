/**
 * The answer of an ApplyRules, in the view asked for, and never larger than one message may be: an
 * apply of 20,000 rules is made whatever the size of its answer, so an answer that would pass
 * MAX_RESPONSE_BYTES comes in a smaller view (whole rules, then BASIC, then COUNTS), saying which.
 * The CHANGES view carries the added, changed and removed rules whole and only counts the others;
 * when even that would not fit, it comes as COUNTS.
 */
import { ApplyRulesResponse, ApplyRulesView, Rule } from '../../gen/mcr/v1/rules';
import { MAX_RESPONSE_BYTES } from './message-limits';

/** The encoded size of the largest Rule (64 outputs, longest id, name and reason: message-limits.ts). */
const LARGEST_RULE_BYTES = 4_149;
/** The largest a rule in the BASIC view encodes to (63-character id and name, a generation). */
const LARGEST_BASIC_RULE_BYTES = 2 + 63 + 2 + 63 + 11 + 3;
/** Room for the fields other than the rules. */
const ENVELOPE_BYTES = 64;

/** The rule lists of an answer, each rule whole. */
export interface AppliedLists {
  added: readonly Rule[];
  changed: readonly Rule[];
  removed: readonly Rule[];
  unchanged: readonly Rule[];
}

type Lists = AppliedLists;
const LISTS = ['added', 'changed', 'removed', 'unchanged'] as const;

function basic(rule: Rule): Rule {
  return { id: rule.id, name: rule.name, input: undefined, outputs: [], generation: rule.generation, status: undefined, createdUnixNanos: 0n, updatedUnixNanos: 0n };
}

function mapLists(lists: Lists, map: (rule: Rule) => Rule): Lists {
  return { added: lists.added.map(map), changed: lists.changed.map(map), removed: lists.removed.map(map), unchanged: lists.unchanged.map(map) };
}

const EMPTY: Lists = { added: [], changed: [], removed: [], unchanged: [] };

/** Whether `lists` in `view` fit in one message: by a bound where it is enough, else by encoding. */
function fits(answer: ApplyRulesResponse, largestRule: number): boolean {
  const count = LISTS.reduce((n, list) => n + answer[list].length, 0);
  if (ENVELOPE_BYTES + count * largestRule <= MAX_RESPONSE_BYTES) return true;
  return ApplyRulesResponse.encode(answer).finish().length <= MAX_RESPONSE_BYTES;
}

/**
 * The ApplyRulesResponse of `lists` (rules whole) in `asked` view, or the smallest view it must come
 * down to: UNSPECIFIED (whole) -> BASIC -> COUNTS, or CHANGES -> COUNTS. `lists.unchanged` is not read
 * for CHANGES or COUNTS beyond its length.
 */
export function applyAnswer(lists: Lists, fields: { storeGeneration: bigint; dryRun: boolean }, asked: ApplyRulesView): ApplyRulesResponse {
  const counts = {
    addedCount: lists.added.length,
    changedCount: lists.changed.length,
    removedCount: lists.removed.length,
    unchangedCount: lists.unchanged.length,
  };
  const answer = (view: ApplyRulesView, rules: Lists): ApplyRulesResponse => ({
    added: [...rules.added],
    changed: [...rules.changed],
    removed: [...rules.removed],
    unchanged: [...rules.unchanged],
    ...fields,
    ...counts,
    view,
  });
  if (asked === ApplyRulesView.APPLY_RULES_VIEW_CHANGES) {
    // The unchanged rules are only counted: the answer costs what changed, whatever is stored.
    const changes = answer(ApplyRulesView.APPLY_RULES_VIEW_CHANGES, { ...lists, unchanged: [] });
    if (fits(changes, LARGEST_RULE_BYTES)) return changes;
    return answer(ApplyRulesView.APPLY_RULES_VIEW_COUNTS, EMPTY);
  }
  if (asked === ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED) {
    const whole = answer(ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED, lists);
    if (fits(whole, LARGEST_RULE_BYTES)) return whole;
  }
  if (asked !== ApplyRulesView.APPLY_RULES_VIEW_COUNTS) {
    const small = answer(ApplyRulesView.APPLY_RULES_VIEW_BASIC, mapLists(lists, basic));
    if (fits(small, LARGEST_BASIC_RULE_BYTES)) return small;
  }
  return answer(ApplyRulesView.APPLY_RULES_VIEW_COUNTS, EMPTY);
}
