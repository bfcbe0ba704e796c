/**
 * The whole answer of an ApplyRules (the default view) assembled from stored rules encoded once
 * (decision 0046): an apply of 20,000 rules that changes one answers 19,999 unchanged rules, each
 * with its status. A stored rule is immutable, so its encoding is kept with it (a WeakMap: it goes
 * with the object), in two parts around its status (field 6): fields 1-5 and fields 7-8. Each
 * status is encoded anew unless it equals the one encoded last time for that rule. The answer is
 * then the added, changed and removed rules (fields 1-3) and the other fields (5-11) as the generated
 * encoder writes them, with the unchanged rules (field 4) between: byte for byte what
 * ApplyRulesResponse.encode writes for the same answer (test/unit/apply-answer-encoding.test.ts),
 * written once, where the answer was encoded twice before (once to see that it fits).
 */
import { ApplyRulesResponse, ApplyRulesView, Rule, RuleStatus } from '../../gen/mcr/v1/rules';
import { MAX_RESPONSE_BYTES } from './message-limits';
import { PreEncoded } from './pre-encoded';
import { varintLength, writeVarint } from './varint';

/** ApplyRulesResponse field 4 (unchanged) and Rule field 6 (status), length-delimited. */
const UNCHANGED_TAG = (4 << 3) | 2;
const STATUS_TAG = (6 << 3) | 2;
const EMPTY: ApplyRulesResponse = ApplyRulesResponse.fromPartial({});

interface RuleParts {
  /** Fields 1-5 (id, name, input, outputs, generation) and 7-8 (timestamps) of the stored rule. */
  head: Buffer;
  tail: Buffer;
  /** The status encoded last, and its encoding. */
  status?: RuleStatus;
  statusBytes?: Buffer;
}

/**
 * `bytes` copied into a Buffer: a small one is a slice of Node's shared pool, not an ArrayBuffer of
 * its own (20,000 rules' parts would be 60,000 of them).
 */
function pooled(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes);
}

const parts = new WeakMap<Readonly<Rule>, RuleParts>();

function partsOf(rule: Readonly<Rule>): RuleParts {
  let found = parts.get(rule);
  if (!found) {
    const head = pooled(Rule.encode({ ...rule, status: undefined, createdUnixNanos: 0n, updatedUnixNanos: 0n }).finish());
    const tail = pooled(Rule.encode(Rule.fromPartial({ createdUnixNanos: rule.createdUnixNanos, updatedUnixNanos: rule.updatedUnixNanos })).finish());
    found = { head, tail };
    parts.set(rule, found);
  }
  return found;
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
  for (let i = 0; i < unchanged.length; i++) {
    const rule = partsOf(unchanged[i]);
    const status = statusBytesOf(rule, statusOf(unchanged[i]));
    const body = rule.head.length + 1 + varintLength(status.length) + status.length + rule.tail.length;
    size += 1 + varintLength(body) + body;
    if (size > MAX_RESPONSE_BYTES) return undefined;
    each[i] = rule;
  }
  const out = Buffer.allocUnsafe(size);
  out.set(first, 0);
  let at = first.length;
  for (const rule of each) {
    const { head, tail } = rule;
    const status = rule.statusBytes!;
    out[at++] = UNCHANGED_TAG;
    at = writeVarint(out, at, head.length + 1 + varintLength(status.length) + status.length + tail.length);
    out.set(head, at);
    at += head.length;
    out[at++] = STATUS_TAG;
    at = writeVarint(out, at, status.length);
    out.set(status, at);
    at += status.length;
    out.set(tail, at);
    at += tail.length;
  }
  out.set(last, at);
  return new PreEncoded(out);
}
