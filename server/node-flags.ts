/**
 * V8 flags mcrd and its workers run with (bin/mcrd's first line repeats them for `mcrd` itself).
 *
 * A young generation smaller than V8's default (up to 16 MB per semi-space), which once left mcrd at
 * 178 MB resident for good after creating 1,000 rules; 8 MB since the store and the forwarding became
 * O(change): the same RSS as 2 MB (88 against 85 MB with 1,000 rules, 298 against 292 MB after 6,000
 * writes at 20,000 rules) with fewer scavenges under many writers (docs/decisions/0010-node-heap-flags.md).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
