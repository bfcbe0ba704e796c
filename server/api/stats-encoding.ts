/**
 * WatchStats updates built from rules encoded once per reading. The collector hands out the same
 * RuleStats object for as long as a rule's counters stay the same (server/stats/collector.ts), so its
 * encoding is kept with it (a WeakMap: it goes with the object) and an update of 20,000 rules is a
 * copy of bytes mostly encoded before, not 20,000 encodings to size the messages and 20,000 more to
 * send them. A message is each rule as field 1, then the other fields encoded as usual (protobuf
 * reads concatenated fields as one message): the bytes the generated encoder writes for the same
 * message, in the same order (test/unit/stats-encoding.test.ts).
 */
import { RuleStats, WatchStatsResponse } from '../../gen/mcr/v1/stats';
import { PreEncoded } from './pre-encoded';
import { varintLength, writeVarint } from '../formats/varint';

/** Field 1 (rules), wire type 2 (length-delimited). */
const RULES_TAG = (1 << 3) | 2;

const encodings = new WeakMap<RuleStats, Uint8Array>();

/** `stats` encoded (kept with the object: RuleStats the collector hands out are never changed). */
export function encodedRuleStats(stats: RuleStats): Uint8Array {
  let bytes = encodings.get(stats);
  if (!bytes) {
    bytes = RuleStats.encode(stats).finish();
    encodings.set(stats, bytes);
  }
  return bytes;
}

/** The encoded size of a rule's encoding as an element of `rules`: tag, length, body. */
export function sizeInRules(encoding: Uint8Array): number {
  return 1 + varintLength(encoding.length) + encoding.length;
}

/** The encoded size of `stats` as an element of `rules`. */
export function ruleStatsSizeInList(stats: RuleStats): number {
  return sizeInRules(encodedRuleStats(stats));
}

/** The `rules` field of a WatchStatsResponse of the rules encoded as `encodings` (see encodedRuleStats): each as field 1, in order. */
export function encodeRulesField(encodings: readonly Uint8Array[]): Buffer {
  let size = 0;
  for (const body of encodings) size += sizeInRules(body);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const body of encodings) {
    out[at++] = RULES_TAG;
    at = writeVarint(out, at, body.length);
    out.set(body, at);
    at += body.length;
  }
  return out;
}

/**
 * A WatchStatsResponse of `fields` and the rules whose field is `rulesField` (encodeRulesField),
 * encoded: the two joined when it is serialized (see PreEncoded), the rules' field not copied before.
 */
export function encodeWatchStatsResponse(fields: Omit<WatchStatsResponse, 'rules'>, rulesField: Buffer): PreEncoded {
  return new PreEncoded(rulesField, WatchStatsResponse.encode({ ...fields, rules: [] }).finish());
}
