/**
 * The store's rules as the list calls page through them: sorted by id, with an index by id, made once
 * per store generation. A walk of N pages over R rules then costs one sort and copy per change of the
 * store instead of one per page, and each page a binary search (paging.ts).
 */
import type { Rule } from '../../gen/mcr/v1/rules';

export interface RuleSource {
  readonly generation: bigint;
  /** Every rule, sorted by id. */
  list(): Rule[];
}

export interface RuleListing {
  generation: bigint;
  /** Sorted by id. Shared: never changed by a reader. */
  sorted: readonly Rule[];
  byId: ReadonlyMap<string, Rule>;
}

/** The listing of `source`'s current generation (the previous one again while the store has not changed). */
export function ruleListing(source: RuleSource): () => RuleListing {
  let current: RuleListing | undefined;
  return () => {
    if (current?.generation !== source.generation) {
      const generation = source.generation;
      const sorted = source.list();
      current = { generation, sorted, byId: new Map(sorted.map((rule) => [rule.id, rule])) };
    }
    return current;
  };
}
