/**
 * The short words mcrctl uses for mcr.v1 EventKind values: in `events` lines and as `events --kind`
 * arguments, so that what a user reads is what they can filter on.
 */
import type { EventKind } from '../../gen/mcr/v1/system';
import { UsageError } from './args';
import { systemProto } from './generated-code';

/**
 * Every kind a client can ask for, by its name in the generated enum (the words are needed before the
 * generated code is loaded), with its word, in the proto's order.
 */
const KIND_WORDS: ReadonlyArray<readonly [keyof typeof EventKind, string]> = [
  ['EVENT_KIND_INTERFACE_CHANGED', 'interface'],
  ['EVENT_KIND_INTERFACE_REMOVED', 'interface-removed'],
  ['EVENT_KIND_RULE_STATUS_CHANGED', 'rule-status'],
  ['EVENT_KIND_RULE_CHANGED', 'rule'],
  ['EVENT_KIND_WORKER_STARTED', 'worker-started'],
  ['EVENT_KIND_WORKER_EXITED', 'worker-exited'],
  ['EVENT_KIND_WORKER_DRIFT', 'drift'],
];

/** The words `--kind` accepts, in the proto's order. */
export const EVENT_KIND_WORDS: readonly string[] = KIND_WORDS.map(([, word]) => word);

/** The word for `kind`; a kind this mcrctl does not know (from a newer mcrd) as "kind N". */
export function eventKindWord(kind: EventKind): string {
  const name = systemProto().EventKind[kind];
  return KIND_WORDS.find(([k]) => k === name)?.[1] ?? `kind ${kind}`;
}

/**
 * The kinds named by `--kind` words, each once, in the order first given; throws UsageError for a
 * word that names no kind.
 */
export function parseEventKinds(words: readonly string[]): EventKind[] {
  const kinds: EventKind[] = [];
  for (const word of words) {
    const entry = KIND_WORDS.find(([, w]) => w === word);
    if (entry === undefined) throw new UsageError(`--kind: unknown event kind "${word}": one of ${EVENT_KIND_WORDS.join(', ')}`);
    const kind = systemProto().EventKind[entry[0]];
    if (!kinds.includes(kind)) kinds.push(kind);
  }
  return kinds;
}
