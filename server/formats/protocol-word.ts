/**
 * The words for Input.protocol where it is written as a word: the config file's `protocol: "esp"`,
 * mcrctl's `--protocol esp` and its views. Plain strings, nothing of gen/: mcrctl's parser loads
 * this (docs/decisions/0016-mcrctl-startup.md). "udp" is the default, IP_PROTOCOL_UNSPECIFIED as it
 * is written (IP_PROTOCOL_UDP means the same); "esp" is IP_PROTOCOL_ESP, whose input and outputs
 * have no port.
 */
export const PROTOCOL_UDP = 'udp';
export const PROTOCOL_ESP = 'esp';

export const PROTOCOL_WORDS = [PROTOCOL_UDP, PROTOCOL_ESP] as const;
export type ProtocolWord = (typeof PROTOCOL_WORDS)[number];

export function isProtocolWord(value: unknown): value is ProtocolWord {
  return (PROTOCOL_WORDS as readonly unknown[]).includes(value);
}
