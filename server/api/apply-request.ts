/**
 * The strict deserializer of ApplyRulesRequest, in what changes rather than what is sent: a desired
 * rule that is a stored rule as it is (known-rules.ts) is recognized by its bytes while the wire check
 * walks the body, and is then neither walked further nor decoded again (decision 0041). Every other
 * rule, and every other field, is checked and decoded as the generated code does.
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';

import { ApplyRulesRequest, Rule } from '../../gen/mcr/v1/rules';
import { KnownRules } from './known-rules';
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

/**
 * ApplyRulesRequest.decode of `bytes`, a body the wire check passed, taking for each rule that starts
 * at an offset in `recognized` the definition found there instead of decoding it. Field for field what
 * the generated decoder does (test/unit/apply-request.test.ts holds them to the same answers).
 */
export function decodeApplyRulesRequest(bytes: Uint8Array, recognized: ReadonlyMap<number, Rule>): ApplyRulesRequest {
  if (recognized.size === 0) return ApplyRulesRequest.decode(bytes);
  const reader = new BinaryReader(bytes);
  const message = ApplyRulesRequest.fromPartial({});
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    switch (tag) {
      case RULES_KEY: {
        const length = reader.uint32();
        const rule = recognized.get(reader.pos);
        if (rule) {
          message.rules.push(rule);
          reader.pos += length;
        } else message.rules.push(Rule.decode(reader, length));
        continue;
      }
      case REPLACE_KEY:
        message.replace = reader.bool();
        continue;
      case DRY_RUN_KEY:
        message.dryRun = reader.bool();
        continue;
      case EXPECTED_GENERATION_KEY:
        message.expectedGeneration = reader.uint64() as bigint;
        continue;
      case VIEW_KEY:
        message.view = reader.int32();
        continue;
    }
    if ((tag & 7) === 4 || tag === 0) break;
    reader.skip(tag & 7);
  }
  return message;
}

/**
 * What vouches, in the wire check of an ApplyRulesRequest body `bytes`, for the rules `known`
 * recognizes: each is noted in `recognized` (by the offset its bytes start at) for
 * decodeApplyRulesRequest.
 */
export function recognizeStoredRules(known: KnownRules, bytes: Uint8Array, recognized: Map<number, Rule>): KnownMessage {
  return (field, from, to) => {
    if (field !== RULES_FIELD) return false;
    const rule = known.match(bytes, from, to);
    if (rule) recognized.set(from, rule);
    return rule !== undefined;
  };
}
