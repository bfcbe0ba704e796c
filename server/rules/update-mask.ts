/**
 * UpdateRule's update_mask (a google.protobuf.FieldMask): which fields of the request's definition
 * replace the rule's, the others keeping their values. Paths are relative to the rule, as AIP-134
 * has them. A repeated field can only end a path (the FieldMask rule), so `outputs` replaces the
 * whole list: there is no path to one output.
 */
import type { Input, Rule } from '../../gen/mcr/v1/rules';
import { invalid, quote } from './errors';

export const UPDATE_MASK_FIELD = 'update_mask';

/** The paths UpdateRule takes, in the order the docs list them. */
export const RULE_MASK_PATHS = ['name', 'input', 'input.interface', 'input.group', 'input.port', 'input.source', 'input.vlan', 'input.protocol', 'outputs'] as const;
export type RuleMaskPath = (typeof RULE_MASK_PATHS)[number];

const INPUT_FIELDS = ['interface', 'group', 'port', 'source', 'vlan', 'protocol'] as const;
const OUTPUT_ONLY = ['generation', 'status', 'created_unix_nanos', 'updated_unix_nanos'];

function isRuleMaskPath(path: string): path is RuleMaskPath {
  return (RULE_MASK_PATHS as readonly string[]).includes(path);
}

/** Why `path` is refused; undefined when it is one UpdateRule takes. */
function refusal(path: string): string | undefined {
  if (path === '*' || isRuleMaskPath(path)) return undefined;
  const [head] = path.split('.');
  if (head === 'id') return `${quote(path)} cannot be changed: a rule's id never changes`;
  if (OUTPUT_ONLY.includes(head)) return `${quote(path)} is output only`;
  if (head === 'outputs') return `${quote(path)}: outputs is a list, which a mask can only replace whole: give "outputs" and every output`;
  return `unknown field ${quote(path)} (known: ${RULE_MASK_PATHS.join(', ')}, or *)`;
}

/**
 * The paths of `paths` to apply, or undefined for a whole replacement (no paths, or "*" among them).
 * Throws INVALID_ARGUMENT naming the first path refused (`update_mask.paths[0]: unknown field "foo"`).
 */
export function checkUpdateMask(paths: readonly string[] | undefined): RuleMaskPath[] | undefined {
  if (paths === undefined || paths.length === 0) return undefined;
  paths.forEach((path, i) => {
    const why = refusal(path);
    if (why) throw invalid(`${UPDATE_MASK_FIELD}.paths[${i}]`, why);
  });
  return paths.includes('*') ? undefined : (paths as RuleMaskPath[]);
}

/**
 * The definition `before` would have with the masked fields of `definition` (an absent message reads
 * as empty, so a masked field it lacks is cleared, and validation then says if that is not allowed).
 * The id is always `before`'s; output-only fields are left for the store to set.
 */
export function applyUpdateMask(before: Rule, definition: Rule | undefined, paths: readonly RuleMaskPath[]): Rule {
  const given: Partial<Rule> = definition ?? {};
  const merged: Rule = { ...before, status: undefined, input: before.input && { ...before.input }, outputs: before.outputs };
  for (const path of paths) {
    if (path === 'name') merged.name = given.name ?? '';
    else if (path === 'input') merged.input = given.input;
    else if (path === 'outputs') merged.outputs = given.outputs ?? [];
    else {
      const field = path.slice('input.'.length) as (typeof INPUT_FIELDS)[number];
      const input: Input = merged.input ?? { interface: '', group: '', port: 0, source: '', protocol: 0 };
      // Cleared: port 0 and an empty string (which validation refuses where required), no VLAN, UDP.
      const cleared = field === 'port' || field === 'protocol' ? 0 : field === 'vlan' ? undefined : '';
      merged.input = { ...input, [field]: given.input?.[field] ?? cleared };
    }
  }
  return merged;
}
