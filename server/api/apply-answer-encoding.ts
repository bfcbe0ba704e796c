/**
 * The whole answer of an ApplyRules (the default view) assembled from stored rules encoded once
 * (decision 0046): an apply of 20,000 rules that changes one answers 19,999 unchanged rules, each
 * with its status. A stored rule is immutable, so its encoding is kept with it (a WeakMap: it goes
 * with the object), with where its status (field 6) goes: before fields 7-8 (made a thousand rules at
 * a time by one encoder). Each status is encoded anew unless it equals the one encoded last time for
 * that rule. The answer is
 * then the added, changed and removed rules (fields 1-3) and the other fields (5-11) as the generated
 * encoder writes them, with the unchanged rules (field 4) between: byte for byte what
 * ApplyRulesResponse.encode writes for the same answer (test/unit/apply-answer-encoding.test.ts),
 * written once, where the answer was encoded twice before (once to see that it fits).
 */
import { ApplyRulesResponse, ApplyRulesView, Rule, RuleStatus } from '../../gen/mcr/v1/rules';
import { MAX_RESPONSE_BYTES } from './message-limits';
import { PreEncoded } from './pre-encoded';
import { readVarint, varintLength, writeVarint } from '../formats/varint';

/** ApplyRulesResponse field 4 (unchanged) and Rule field 6 (status), length-delimited. */
const UNCHANGED_TAG = (4 << 3) | 2;
const STATUS_TAG = (6 << 3) | 2;
const EMPTY: ApplyRulesResponse = ApplyRulesResponse.fromPartial({});
/** Rules whose parts are made together (by one encoder). */
const PARTS_BATCH = 1000;

interface RuleParts {
  /** The stored rule's encoding without its status: fields 1-5 (id, name, input, outputs, generation), then from `split` fields 7-8 (timestamps). */
  bytes: Buffer;
  split: number;
  /** The status encoded last, and its encoding. */
  status?: RuleStatus;
  statusBytes?: Buffer;
}

/**
 * `bytes` copied into a Buffer: a small one is a slice of Node's shared pool, not an ArrayBuffer of
 * its own (20,000 rules' parts would be 40,000 of them).
 */
function pooled(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes);
}

/** Where fields 7 and 8 start in a Rule's encoding (fields in number order; each key of Rule is one byte). */
function timestampsAt(bytes: Uint8Array): number {
  let at = 0;
  while (at < bytes.length && bytes[at] >> 3 < 7) {
    const wire = bytes[at++] & 7;
    const value = readVarint(bytes, at);
    at += varintLength(value);
    if (wire === 2) at += value;
  }
  return at;
}

const parts = new WeakMap<Readonly<Rule>, RuleParts>();

/**
 * Makes the parts of `rules` (stored rules not seen before): encoded together, without their status,
 * by one generated encoder (as the unchanged rules of a response: one writer, where a writer per rule
 * cost twice as much), then each rule's bytes copied out.
 */
function makeParts(rules: readonly Readonly<Rule>[]): void {
  const bodies = rules.map((rule) => (rule.status === undefined ? rule : { ...rule, status: undefined })) as Rule[];
  const encoded = ApplyRulesResponse.encode({ ...EMPTY, unchanged: bodies }).finish();
  const all = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  let at = 0;
  for (const rule of rules) {
    at++; // the key of field 4 (unchanged)
    const length = readVarint(all, at);
    at += varintLength(length);
    const bytes = pooled(all.subarray(at, at + length));
    parts.set(rule, { bytes, split: timestampsAt(bytes) });
    at += length;
  }
}

/** Makes the parts of the rules of `rules` that have none. */
function makeMissingParts(rules: readonly Readonly<Rule>[]): void {
  const missing = rules.filter((rule) => !parts.has(rule));
  if (missing.length > 0) makeParts(missing);
}

function sameStatus(a: RuleStatus, b: RuleStatus): boolean {
  return a.state === b.state && a.reason === b.reason && a.worker === b.worker && a.lastPacketUnixNanos === b.lastPacketUnixNanos;
}

/** `status`'s encoding, reusing the one made for `rule` last time when the status is the same. */
function statusBytesOf(rule: RuleParts, status: RuleStatus): Buffer {
  if (!rule.status || !rule.statusBytes || !sameStatus(rule.status, status)) {
    rule.status = status;
    rule.statusBytes = pooled(RuleStatus.encode(status).finish());
  }
  return rule.statusBytes;
}

/** The lists of a whole answer: added, changed and removed as answered, and the stored unchanged rules with their statuses to come. */
export interface WholeAnswer {
  added: readonly Rule[];
  changed: readonly Rule[];
  removed: readonly Rule[];
  unchanged: readonly Readonly<Rule>[];
  storeGeneration: bigint;
  dryRun: boolean;
}

/**
 * The whole-view ApplyRulesResponse of `answer`, each unchanged rule with the status `statusOf` says,
 * encoded; undefined when it would not fit in one message (MAX_RESPONSE_BYTES: then the answer comes
 * in a smaller view, apply-answer.ts).
 */
export function encodeWholeAnswer(answer: WholeAnswer, statusOf: (rule: Readonly<Rule>) => RuleStatus): PreEncoded | undefined {
  const { added, changed, removed, unchanged } = answer;
  const first = ApplyRulesResponse.encode({ ...EMPTY, added: [...added], changed: [...changed], removed: [...removed] }).finish();
  const last = ApplyRulesResponse.encode({
    ...EMPTY,
    storeGeneration: answer.storeGeneration,
    dryRun: answer.dryRun,
    view: ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED,
    addedCount: added.length,
    changedCount: changed.length,
    removedCount: removed.length,
    unchangedCount: unchanged.length,
  }).finish();
  const each: RuleParts[] = new Array(unchanged.length);
  let size = first.length + last.length;
  // The added, changed and removed rules alone may not fit (an apply of 50,000 rules to an empty store).
  if (size > MAX_RESPONSE_BYTES) return undefined;
  for (let i = 0; i < unchanged.length; i++) {
    // Parts made a batch at a time: an answer that does not fit stops before encoding much more.
    if (i % PARTS_BATCH === 0) makeMissingParts(unchanged.slice(i, i + PARTS_BATCH));
    const rule = parts.get(unchanged[i])!;
    const status = statusBytesOf(rule, statusOf(unchanged[i]));
    const body = rule.bytes.length + 1 + varintLength(status.length) + status.length;
    size += 1 + varintLength(body) + body;
    if (size > MAX_RESPONSE_BYTES) return undefined;
    each[i] = rule;
  }
  const out = Buffer.allocUnsafe(size);
  out.set(first, 0);
  let at = first.length;
  for (const rule of each) {
    const { bytes, split } = rule;
    const status = rule.statusBytes!;
    out[at++] = UNCHANGED_TAG;
    at = writeVarint(out, at, bytes.length + 1 + varintLength(status.length) + status.length);
    at += bytes.copy(out, at, 0, split);
    out[at++] = STATUS_TAG;
    at = writeVarint(out, at, status.length);
    at += status.copy(out, at);
    at += bytes.copy(out, at, split);
  }
  out.set(last, at);
  return new PreEncoded(out);
}
