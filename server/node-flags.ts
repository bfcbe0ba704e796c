/**
 * V8 flags mcrd and its workers run with (bin/mcrd's first line repeats them for `mcrd` itself).
 *
 * A small young generation: with V8's default (up to 16 MB per semi-space), the garbage of creating
 * 1,000 rules left mcrd at about 178 MB resident for good; with 2 MB it stays near 92 MB at the cost
 * of more frequent, shorter scavenges on the control plane (docs/decisions/0010-node-heap-flags.md).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
