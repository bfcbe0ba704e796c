/**
 * Strings made of parts, built flat. A template literal or `+` whose result is 13 characters or longer
 * makes a V8 cons string: a tree with a node per concatenation (an output's identity, built of eight
 * parts, is six nodes). Kept as a key of a large table, each costs memory, marking time at every full
 * GC and a walk of the tree whenever it is hashed or compared. `Array.prototype.join` writes one
 * sequential string instead (docs/decisions/0056-flat-keys-and-one-reducer-gc.md). The parts are
 * written as a template literal writes them (a number in its shortest decimal form).
 */
export function flatJoin(parts: ReadonlyArray<string | number>, separator = ''): string {
  return parts.join(separator);
}
