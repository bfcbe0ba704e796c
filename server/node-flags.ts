/**
 * V8 flags mcrd and its workers run with (bin/mcrd's first line repeats them for `mcrd` itself).
 *
 * A young generation smaller than V8's default (up to 16 MB per semi-space), which once left mcrd at
 * 178 MB resident for good after creating 1,000 rules; 8 MB since the store and the forwarding became
 * O(change): the same RSS as 2 MB (88 against 85 MB with 1,000 rules, 298 against 292 MB after 6,000
 * writes at 20,000 rules) with fewer scavenges under many writers (docs/decisions/0010-node-heap-flags.md).
 *
 * No on-stack replacement (`--no-use-osr`): V8 compiles a long-running loop of a function while it
 * runs and keeps that code for the loop; compiled before the rest of the function had ever run, it
 * left at that rest at every later call (a forwarding pass, an encoder's output loop), each time
 * running the function's tail in the interpreter. Functions are still optimized, from their next
 * call on (docs/decisions/0055-no-deopt-loops-on-the-write-path.md).
 *
 * One full GC per round of V8's memory reducer (`--memory-reducer-single-gc`), not up to three: some
 * 20-45 s after a large install the first gives the install's garbage back (200 -> 120 MB at 20,000 x
 * 4), the next two freed under 0.5 MB and cost two thirds of the round's CPU (720 -> 240 ms of an idle
 * mcrd's time at 20,000 x 4; docs/decisions/0056-flat-keys-and-one-reducer-gc.md).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--no-use-osr', '--memory-reducer-single-gc'];
