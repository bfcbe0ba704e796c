/**
 * What mcrctl warns about once mcrd accepted a rule change (on stderr; the change stands, the exit
 * code is 0): interfaces the rule names that mcrd does not see, and, when mcrd runs with a config
 * file that has the rules, that the file will undo the change. Both are asked of mcrd after the
 * change (ListInterfaces, GetVersion's features); when it cannot say, there is no warning: the
 * change itself succeeded, and a warning is no reason to fail it.
 */
import type { Rule } from '../../gen/mcr/v1/rules';
import type { McrClient } from '../lib/client';
import { CONFIG_RULES_FEATURE } from '../lib/version';
import type { CommandContext } from './command-context';
import { existingInterfaces } from './interface-names';
import { missingInterfaceWarnings } from './interface-warnings';

/** Said when mcrd's config file has the rules (GetVersion reports CONFIG_RULES_FEATURE). */
export const CONFIG_RULES_WARNING =
  'warning: mcrd runs with --config FILE and FILE has "rules": they are applied again, as FILE has them, ' +
  'on its next reload (SIGHUP) or restart, which will undo this change: make it in FILE too';

/** The interfaces mcrd sees, or undefined when it does not say. */
export async function mcrdInterfaces(client: McrClient): Promise<string[] | undefined> {
  return client.listAllInterfaces().then(existingInterfaces, () => undefined);
}

/** Whether mcrd says that its config file has the rules (see CONFIG_RULES_WARNING). */
export async function configHasRules(client: McrClient): Promise<boolean> {
  return client.getVersion().then((version) => version.features.includes(CONFIG_RULES_FEATURE), () => false);
}

/**
 * Warns about `rule` (the rule as mcrd answered; none for a deletion) and, when `changed` (not a dry
 * run), about a config file that will undo the change.
 */
export async function warnAfterRuleChange(context: CommandContext, rule: Rule | undefined, changed: boolean): Promise<void> {
  const { client, note } = context;
  const [interfaces, undone] = await Promise.all([rule ? mcrdInterfaces(client) : undefined, changed ? configHasRules(client) : false]);
  if (rule && interfaces) for (const warning of missingInterfaceWarnings(rule, '', interfaces, 'mcrd')) note(`warning: ${warning.field}: ${warning.message}`);
  if (undone) note(CONFIG_RULES_WARNING);
}
