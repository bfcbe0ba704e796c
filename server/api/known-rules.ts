/**
 * Recognizes, in an ApplyRules body, the desired rules that are stored rules as they are, by their
 * bytes: a rule a client sends as it is stored (the common case of applying a whole set with one
 * change) is encoded exactly as the stored rule's definition (name, input, outputs) encodes. Such a
 * rule needs neither the strict wire check (bytes our own encoder made are well-formed) nor the
 * generated decoder: it decodes to the definition object kept for the stored rule (decision 0041).
 *
 * Only rules identified by name are recognized (their encoding starts with the name: no id, no
 * output-only field). Anything else, or any difference in a byte, takes the ordinary path. What a
 * match answers is the decoding of the bytes whatever the store holds by the time the request is
 * planned: the store is only where the known encodings are found.
 */
import { Rule } from '../../gen/mcr/v1/rules';

/** Stored rules by name, not copied (RuleStore.namedAsStored). */
export type StoredByName = (name: string) => Readonly<Rule> | undefined;

/** Rule field 2 (name), length-delimited. */
const NAME_KEY = (2 << 3) | 2;

/**
 * The encoding of a stored rule's definition as a latin1 string (a character a byte), made once per
 * stored rule (stored rules are immutable).
 */
const encodings = new WeakMap<Readonly<Rule>, string>();
/** The definition a stored rule's encoding decodes to, made once per stored rule. */
const definitions = new WeakMap<Readonly<Rule>, Rule>();

function encodingOf(rule: Readonly<Rule>): string {
  let encoding = encodings.get(rule);
  if (encoding === undefined) {
    const bytes = Rule.encode({ ...definitionOf(rule) }).finish();
    encoding = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    encodings.set(rule, encoding);
  }
  return encoding;
}

/**
 * What Rule.decode makes of the encoding of `rule`'s definition: its name, input and outputs (shared
 * with the stored rule, which nothing modifies), every other field at its default. Frozen.
 */
export function definitionOf(rule: Readonly<Rule>): Rule {
  let definition = definitions.get(rule);
  if (!definition) {
    definition = Object.freeze({
      id: '',
      name: rule.name,
      input: rule.input,
      outputs: rule.outputs,
      generation: 0n,
      status: undefined,
      createdUnixNanos: 0n,
      updatedUnixNanos: 0n,
    });
    definitions.set(rule, definition);
  }
  return definition;
}

/** How many rules' encodings are made at a time when made ahead (then the event loop turns). */
const WARM_BATCH = 500;

export class KnownRules {
  private warming: Array<Readonly<Rule>> = [];

  constructor(private readonly storedByName: StoredByName) {}

  /**
   * Makes the encodings of `rules` (stored rules just put) ahead of the next ApplyRules, a batch per
   * turn of the event loop: the first diff after an apply of 20,000 rules would otherwise make them
   * all while it is timed.
   */
  warm(rules: ReadonlyArray<Readonly<Rule> | undefined>): void {
    const start = this.warming.length === 0;
    for (const rule of rules) if (rule?.name && rule.input) this.warming.push(rule);
    if (start && this.warming.length > 0) setImmediate(() => this.warmBatch());
  }

  private warmBatch(): void {
    const batch = this.warming.splice(0, WARM_BATCH);
    for (const rule of batch) encodingOf(rule);
    if (this.warming.length > 0) setImmediate(() => this.warmBatch());
  }

  /**
   * The definition `bytes[from..to)` (one encoded Rule) decodes to, when they are exactly the
   * encoding of a stored rule's definition; else undefined.
   */
  match(bytes: Uint8Array, from: number, to: number): Rule | undefined {
    // A name of up to 127 bytes has a one-byte length (names are at most 63 characters).
    if (to - from < 2 || bytes[from] !== NAME_KEY) return undefined;
    const nameLength = bytes[from + 1];
    if (nameLength === 0 || nameLength >= 0x80 || from + 2 + nameLength > to) return undefined;
    const body = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const name = body.toString('utf8', from + 2, from + 2 + nameLength);
    const stored = this.storedByName(name);
    if (!stored || !stored.input) return undefined;
    const encoding = encodingOf(stored);
    if (encoding.length !== to - from) return undefined;
    // Compared as latin1 strings (one byte a character): faster than a loop or Buffer.compare here.
    return body.toString('latin1', from, to) === encoding ? definitionOf(stored) : undefined;
  }
}
