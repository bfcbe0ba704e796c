/**
 * `mcrctl __complete rules|interfaces`, run by the completion scripts (completion.ts) at each Tab
 * on a RULE or an IF: the rule ids and names, or the interface names, that mcrd knows, one per line.
 * A shell waits for it, so it asks with a short deadline and prints nothing when mcrd cannot answer.
 */
import type { McrClient } from '../lib/client';
import type { CommandContext } from './command-context';

export const COMPLETION_TOPICS = ['rules', 'interfaces'] as const;
export type CompletionTopic = (typeof COMPLETION_TOPICS)[number];

/** The deadline of the one call (a shell is waiting), whatever --timeout says. */
export const COMPLETION_TIMEOUT_MS = 1000;

/** Rule ids and names, or interface names, as mcrd lists them. */
export async function completionNames(topic: CompletionTopic, client: McrClient): Promise<string[]> {
  const options = { timeoutMs: COMPLETION_TIMEOUT_MS };
  if (topic === 'rules') {
    const { rules } = await client.listAllRules({}, options);
    return rules.flatMap((rule) => [rule.id, rule.name]).filter((word) => word !== '');
  }
  const { interfaces } = await client.listAllInterfaces({}, options);
  return interfaces.map((i) => i.name);
}

/** Prints the names; on any failure prints nothing, as the shell would show it in the middle of the line. */
export async function printCompletionNames(topic: CompletionTopic, context: CommandContext): Promise<void> {
  let names: string[];
  try {
    names = await completionNames(topic, context.client);
  } catch {
    return;
  }
  if (names.length > 0) context.printer.write(`${names.join('\n')}\n`);
}
