/**
 * Warnings for the interfaces rules name that do not exist where the rules run. mcrd accepts such a
 * rule, since the interface may appear later (the rule, or that output, waits for it), so a typo
 * would go unnoticed until no traffic flows: mcrctl warns on stderr instead, with the closest names
 * that do exist. Pure: the names that exist are looked up by interface-names.ts.
 */
import type { Rule } from '../../gen/mcr/v1/rules';
import { didYouMean } from './did-you-mean';

/** Whose interfaces the names are: mcrd's (ListInterfaces), or those of the host mcrctl runs on. */
export type InterfacesOf = 'mcrd' | 'this host';

export interface InterfaceWarning {
  /** The field naming the interface: `input.interface`, `rules[2].outputs[0].interface`. */
  field: string;
  message: string;
}

/**
 * A warning for each interface `rule` names that is not among `existing`. `prefix` is the path of the
 * rule ("" for a rule on its own, `rules[2]` in a config file).
 */
export function missingInterfaceWarnings(rule: Pick<Rule, 'input' | 'outputs'>, prefix: string, existing: readonly string[], of: InterfacesOf): InterfaceWarning[] {
  const known = new Set(existing);
  const at = (field: string) => (prefix ? `${prefix}.${field}` : field);
  const uses = [
    ...(rule.input ? [{ field: at('input.interface'), name: rule.input.interface, waits: 'the rule waits' }] : []),
    ...rule.outputs.map((output, index) => ({ field: at(`outputs[${index}].interface`), name: output.interface, waits: 'this output waits' })),
  ];
  const sees = of === 'mcrd' ? 'mcrd sees no interface' : 'this host has no interface';
  return uses
    .filter((use) => !known.has(use.name))
    .map((use) => ({ field: use.field, message: `${sees} ${JSON.stringify(use.name)}${didYouMean(use.name, known)}: ${use.waits} until it appears` }));
}
