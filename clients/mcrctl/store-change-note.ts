/** What mcrctl says when the rules changed while a list was read page by page. */
import type { StoreWalk } from '../lib/pages';
import type { CommandContext } from './command-context';

/**
 * Says on stderr when the rules changed while a list was read page by page: a rule changed meanwhile
 * may be missing or shown as it was (every other rule is listed once).
 */
export function noteStoreChange(context: CommandContext, walk: StoreWalk & { storeGeneration: bigint }): void {
  if (!walk.storeChanged) return;
  context.note(
    `note: the rules changed while they were read (store generation ${walk.firstStoreGeneration} to ${walk.storeGeneration}): ` +
      'a rule created, changed or deleted meanwhile may be missing or shown as it was',
  );
}
