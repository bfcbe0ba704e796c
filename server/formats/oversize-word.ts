/**
 * The words for Output.oversize where it is written as a word: the config file's `oversize: "drop"`,
 * mcrctl's `--oversize drop` and its views. Plain strings, nothing of gen/: mcrctl's parser loads
 * this (docs/decisions/0016-mcrctl-startup.md). "fragment" is the default, OVERSIZE_POLICY_UNSPECIFIED
 * as it is written (OVERSIZE_POLICY_FRAGMENT means the same); "drop" is OVERSIZE_POLICY_DROP.
 */
const OVERSIZE_FRAGMENT = 'fragment';
export const OVERSIZE_DROP = 'drop';

export const OVERSIZE_WORDS = [OVERSIZE_FRAGMENT, OVERSIZE_DROP] as const;
export type OversizeWord = (typeof OVERSIZE_WORDS)[number];

export function isOversizeWord(value: unknown): value is OversizeWord {
  return (OVERSIZE_WORDS as readonly unknown[]).includes(value);
}
