/**
 * The strict deserializer of ApplyRulesRequest, in what changes rather than what is sent: a desired
 * rule whose bytes are known to decode to a rule at hand is not walked further nor decoded again, and
 * is that rule. Every other rule, and every other field, is checked and decoded as the generated code
 * does. Two sources of known bytes:
 *
 * - the last body read (decision 0046): a client applying a whole set with one change sends the
 *   bytes of its last request again but for that change; the bytes both bodies share at their start
 *   and at their end (found by comparing them in blocks, not rule by rule) hold the same rules, which
 *   are the very objects read from the last body. The store plans from that identity in what differs
 *   (rules/apply-plan.ts planFromLast);
 * - the stored rules (known-rules.ts, decision 0041): a rule sent exactly as it is stored decodes to
 *   the definition kept for that stored rule.
 *
 * Either way what a rule is taken to be is the decoding of its bytes, never what the store holds.
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';

import { ApplyRulesRequest, Rule } from '../../gen/mcr/v1/rules';
import type { KnownRules } from './known-rules';
import { varintLength } from '../formats/varint';
import type { KnownMessage } from './wire-check';

/** The path of the method whose requests this decodes. */
export const APPLY_RULES_PATH = '/mcr.v1.RuleService/ApplyRules';
/** ApplyRulesRequest.rules */
const RULES_FIELD = 1;
/** The keys the generated decoder reads: rules (length-delimited), replace, dry_run, expected_generation, view (varints). */
const RULES_KEY = (1 << 3) | 2;
const REPLACE_KEY = 2 << 3;
const DRY_RUN_KEY = 3 << 3;
const EXPECTED_GENERATION_KEY = 4 << 3;
const VIEW_KEY = 5 << 3;
/** Bodies are compared in blocks of this many bytes (one native compare each), then byte by byte. */
const BLOCK = 4096;

/** A body read, with where each of its rules' bytes are and the rule each is. */
interface ReadBody {
  bytes: Buffer;
  /** Start and end of each rule's bytes (the value of the k-th rules field), in body order: `count` of them. */
  starts: Int32Array;
  ends: Int32Array;
  count: number;
  /** The k-th rule, as decoded (objects never modified). */
  rules: readonly Rule[];
  /** Where the last rule ends (0 without rules), and how many bytes follow it (the other fields). */
  rulesEnd: number;
  trailer: number;
}

/** How many bytes `a` and `b` have in common from their start, up to `length`. */
function commonPrefix(a: Buffer, b: Buffer, length: number): number {
  let at = 0;
  while (at + BLOCK <= length && a.compare(b, at, at + BLOCK, at, at + BLOCK) === 0) at += BLOCK;
  while (at < length && a[at] === b[at]) at++;
  return at;
}

/** How many bytes a[..aEnd) and b[..bEnd) have in common at their end. */
function commonSuffix(a: Buffer, aEnd: number, b: Buffer, bEnd: number): number {
  const length = Math.min(aEnd, bEnd);
  let n = 0;
  while (n + BLOCK <= length && a.compare(b, bEnd - n - BLOCK, bEnd - n, aEnd - n - BLOCK, aEnd - n) === 0) n += BLOCK;
  while (n < length && a[aEnd - 1 - n] === b[bEnd - 1 - n]) n++;
  return n;
}

/** The index of the rule of `body` whose bytes are exactly [from, to), or -1; `hint` is tried first. */
function ruleAt(body: ReadBody, from: number, to: number, hint: number): number {
  const { starts, ends, count } = body;
  let at = hint;
  if (at >= count || starts[at] !== from) {
    let [low, high] = [0, count];
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (starts[middle] < from) low = middle + 1;
      else high = middle;
    }
    at = low;
  }
  return at < count && starts[at] === from && ends[at] === to ? at : -1;
}

/**
 * Where the last rules field of `body` ends, by a first look at its fields (keys and lengths only),
 * or undefined when the look finds anything but well-formed fields.
 */
function rulesEnd(body: Uint8Array): number | undefined {
  let at = 0;
  let end = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (at >= body.length) return -1;
      const byte = body[at++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    return -1;
  };
  while (at < body.length) {
    const key = varint();
    if (key < 0) return undefined;
    switch (key & 7) {
      case 0:
        if (varint() < 0) return undefined;
        break;
      case 1:
        at += 8;
        break;
      case 2: {
        const length = varint();
        if (length < 0) return undefined;
        at += length;
        if (key === RULES_KEY) end = at;
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        return undefined;
    }
  }
  return at === body.length ? end : undefined;
}

/** `array` with room for `size` numbers, its first `used` kept. */
function grown(array: Int32Array, used: number, size: number): Int32Array {
  if (size <= array.length) return array;
  const larger = new Int32Array(Math.max(size, array.length * 2));
  larger.set(array.subarray(0, used));
  return larger;
}

/** The varint at bytes[at] (a length: at most 5 bytes), or -1 when it is not one of those. */
function readVarint(bytes: Uint8Array, at: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 5; i++) {
    const byte = bytes[at + i];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
  return -1;
}

/**
 * Reads the field of key `tag` (already read) of an ApplyRulesRequest other than its rules, as the
 * generated decoder does; false where it stops reading (an end-group key or key 0, which the wire
 * check never lets through).
 */
function readOtherField(message: ApplyRulesRequest, reader: BinaryReader, tag: number): boolean {
  switch (tag) {
    case REPLACE_KEY:
      message.replace = reader.bool();
      return true;
    case DRY_RUN_KEY:
      message.dryRun = reader.bool();
      return true;
    case EXPECTED_GENERATION_KEY:
      message.expectedGeneration = reader.uint64() as bigint;
      return true;
    case VIEW_KEY:
      message.view = reader.int32();
      return true;
  }
  if ((tag & 7) === 4 || tag === 0) return false;
  reader.skip(tag & 7);
  return true;
}

/** Reads `bytes`, fields of an ApplyRulesRequest other than its rules, into `message`. */
function readOtherFields(message: ApplyRulesRequest, bytes: Uint8Array): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len && readOtherField(message, reader, reader.uint32()));
}

/** What the k-th rule of a body is: FROM_LAST + i (rule i of the last body), FROM_STORE - j (stored match j), or DECODE. */
const DECODE = 0;
const FROM_LAST = 1;
const FROM_STORE = -1;

/**
 * The reading of one ApplyRules body: what vouches, in the wire check, for the rules whose bytes are
 * known (vouch), then the request (decode).
 */
export class ApplyRulesBody {
  /*
   * Where each rule's bytes are and what it is, in typed arrays (outside the JavaScript heap: a body
   * of 20,000 rules makes no garbage per rule for the scavenger to copy), sized from the last body.
   */
  private starts: Int32Array;
  private ends: Int32Array;
  private sources: Int32Array;
  private count = 0;
  /** Stored rules matched (known-rules.ts), by FROM_STORE - j. */
  private readonly matched: Rule[] = [];
  private recognized = 0;
  /** The bytes the body shares with the last one: [0, head), and [tailFrom, tailTo) = last's [tailFrom - shift, rulesEnd). */
  private readonly head: number = 0;
  private readonly tailFrom: number = 0;
  private readonly tailTo: number = 0;
  private readonly shift: number = 0;
  private hint = 0;

  constructor(
    private readonly bytes: Buffer,
    private readonly last: ReadBody | undefined,
    private readonly stored: KnownRules | undefined,
  ) {
    const room = (last?.count ?? 0) + 64;
    this.starts = new Int32Array(room);
    this.ends = new Int32Array(room);
    this.sources = new Int32Array(room);
    if (!last) return;
    this.head = commonPrefix(bytes, last.bytes, Math.min(bytes.length, last.bytes.length));
    // The end of the rules is compared with the end of the last body's rules: where a first look at
    // the body's fields says they end, else as if the fields after them took as many bytes as last
    // time. (Only a place to compare from: what is shared is what the comparison finds.)
    this.tailTo = rulesEnd(bytes) ?? bytes.length - last.trailer;
    if (this.tailTo > 0) {
      this.tailFrom = this.tailTo - commonSuffix(bytes, this.tailTo, last.bytes, last.rulesEnd);
      this.shift = this.tailTo - last.rulesEnd;
    }
  }

  /** For checkWire: vouches for a rule whose bytes are known (each rules field comes through here, in order). */
  readonly vouch: KnownMessage = (field, from, to) => {
    if (field !== RULES_FIELD) return false;
    const k = this.count++;
    if (k === this.starts.length) {
      this.starts = grown(this.starts, k, k + 1);
      this.ends = grown(this.ends, k, k + 1);
      this.sources = grown(this.sources, k, k + 1);
    }
    this.starts[k] = from;
    this.ends[k] = to;
    let source = this.fromLast(from, to);
    if (source === DECODE) {
      const rule = this.stored?.match(this.bytes, from, to);
      if (rule) source = FROM_STORE - this.matched.push(rule) + 1;
    }
    this.sources[k] = source;
    if (source === DECODE) return false;
    this.recognized++;
    return true;
  };

  /** FROM_LAST + the index of the rule of the last body whose bytes these are, when they are shared with it; else DECODE. */
  private fromLast(from: number, to: number): number {
    const last = this.last;
    if (!last) return DECODE;
    let at = -1;
    if (to <= this.head) at = ruleAt(last, from, to, this.hint);
    else if (from >= this.tailFrom && to <= this.tailTo) at = ruleAt(last, from - this.shift, to - this.shift, this.hint);
    if (at < 0) return DECODE;
    this.hint = at + 1;
    return FROM_LAST + at;
  }

  /** The k-th rule when its bytes were known, else undefined. */
  private knownRule(k: number): Rule | undefined {
    const source = this.sources[k];
    if (source >= FROM_LAST) return this.last!.rules[source - FROM_LAST];
    if (source <= FROM_STORE) return this.matched[FROM_STORE - source];
    return undefined;
  }

  /**
   * ApplyRulesRequest.decode of the body (which the wire check passed, with vouch), taking each known
   * rule as it is. Field for field what the generated decoder does (test/unit/apply-request.test.ts
   * holds them to the same answers): the rules are where the check found them, so only the bytes
   * between them (their keys and lengths, and any other field) are read again.
   */
  decode(): ApplyRulesRequest {
    if (this.recognized === 0) return ApplyRulesRequest.decode(this.bytes);
    const { bytes, starts, ends, count } = this;
    const message = ApplyRulesRequest.fromPartial({});
    const rules: Rule[] = new Array(count);
    let pos = 0;
    for (let k = 0; k < count; k++) {
      const [from, to] = [starts[k], ends[k]];
      // The rule's key and its length (as varintLength writes it) come just before its bytes; a
      // length written longer than it need be is read the long way.
      const keyAt = from - 1 - varintLength(to - from);
      if (keyAt < pos || bytes[keyAt] !== RULES_KEY || readVarint(bytes, keyAt + 1) !== to - from) return this.decodeInOrder();
      if (keyAt > pos) readOtherFields(message, bytes.subarray(pos, keyAt));
      rules[k] = this.knownRule(k) ?? Rule.decode(bytes.subarray(from, to));
      pos = to;
    }
    if (pos < bytes.length) readOtherFields(message, bytes.subarray(pos));
    message.rules = rules;
    return message;
  }

  /** decode() reading every field in order. */
  private decodeInOrder(): ApplyRulesRequest {
    const reader = new BinaryReader(this.bytes);
    const message = ApplyRulesRequest.fromPartial({});
    let k = 0;
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag === RULES_KEY) {
        const length = reader.uint32();
        const rule = this.knownRule(k++);
        if (rule) {
          message.rules.push(rule);
          reader.pos += length;
        } else message.rules.push(Rule.decode(reader, length));
        continue;
      }
      if (!readOtherField(message, reader, tag)) break;
    }
    return message;
  }

  /** What the next body is read against: this one, decoded to `request`. */
  read(request: ApplyRulesRequest): ReadBody {
    const { count } = this;
    const rulesEnd = count > 0 ? this.ends[count - 1] : 0;
    return { bytes: this.bytes, starts: this.starts, ends: this.ends, count, rules: request.rules, rulesEnd, trailer: this.bytes.length - rulesEnd };
  }
}

/**
 * Reads ApplyRules bodies against the last one read (kept: its bytes, where its rules are, and the
 * rules) and against the stored rules.
 */
export class ApplyRulesReader {
  private last: ReadBody | undefined;

  constructor(private readonly stored?: KnownRules) {}

  /** The reading of `bytes` (then checkWire with its vouch, then its decode, then done). */
  begin(bytes: Uint8Array): ApplyRulesBody {
    const body = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new ApplyRulesBody(body, this.last, this.stored);
  }

  /** `body` was read whole into `request`: the next body is read against it. */
  done(body: ApplyRulesBody, request: ApplyRulesRequest): void {
    this.last = body.read(request);
  }
}
