/**
 * RuleService requests as the bytes sent, and what mcrd's answer to them must be.
 *
 * A typed request (rule-requests.ts) is encoded with the generated encoder and, for some requests,
 * corrupted at the wire level: cut short, bytes flipped or inserted, unknown fields added, invalid
 * wire types, length prefixes past the end, groups nested deeper than the decoder allows, invalid
 * UTF-8, integers beyond a field's 32 bits. mcrd decodes each request strictly before any handler
 * runs (server/api/strict-requests.ts, decision 0020): bytes that are not a well-formed message of
 * the method's type, a known field with the wrong wire type and a string that is not UTF-8 are
 * answered INVALID_ARGUMENT "request body is not a valid <type>: ..."; a message over the server's
 * receive limit is answered RESOURCE_EXHAUSTED before it is decoded. So the expectation of corrupted
 * bytes is derived by running the same strict deserializer here.
 */
import { ServiceDefinition, status } from '@grpc/grpc-js';

import {
  CreateRuleRequest,
  DeleteRuleRequest,
  GetRuleRequest,
  RuleServiceService,
  UpdateRuleRequest,
} from '../../../gen/mcr/v1/rules';
import {
  bytesField,
  bytesFieldClaiming,
  fixed32Field,
  fixed64Field,
  key,
  nestedGroups,
  varint,
  varintField,
  WIRE_END_GROUP,
} from '../proto-wire';
import { DescriptorSet } from '../../../server/api/descriptor-set';
import { MalformedRequest, strictDefinition } from '../../../server/api/strict-requests';
import { SeededRandom } from '../seeded-random';
import type { RuleMethod, TypedMessage, TypedRequest } from './rule-requests';

/** mcrd's grpc.max_receive_message_length (server/api/server.ts). */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** The reader's limit on nested groups (@bufbuild/protobuf BinaryReader.skip). */
const GROUP_RECURSION_LIMIT = 100;

export type Expectation =
  /** A valid request: it must succeed. */
  | { kind: 'succeeds' }
  /** Refused with one of these statuses. */
  | { kind: 'refused'; codes: status[] }
  /** The strict deserializer refuses the body: INVALID_ARGUMENT with exactly these details. */
  | { kind: 'malformed'; details: string }
  /** Decodable bytes of no foreseeable meaning: any documented refusal, or a success. */
  | { kind: 'any' };

export interface WireRequest {
  method: RuleMethod;
  /** "/mcr.v1.RuleService/CreateRule" */
  path: string;
  bytes: Buffer;
  /** The typed request and, when corrupted, how. */
  description: string;
  expect: Expectation;
}

const PATHS: Record<RuleMethod, string> = {
  CreateRule: RuleServiceService.createRule.path,
  UpdateRule: RuleServiceService.updateRule.path,
  DeleteRule: RuleServiceService.deleteRule.path,
  GetRule: RuleServiceService.getRule.path,
};

/** The generated encoders and decoders, by method. */
const CODECS: Record<RuleMethod, { encode(message: TypedMessage['message']): Buffer; decode(bytes: Buffer): TypedMessage['message'] }> = {
  CreateRule: { encode: (m) => Buffer.from(CreateRuleRequest.encode(m as CreateRuleRequest).finish()), decode: (b) => CreateRuleRequest.decode(b) },
  UpdateRule: { encode: (m) => Buffer.from(UpdateRuleRequest.encode(m as UpdateRuleRequest).finish()), decode: (b) => UpdateRuleRequest.decode(b) },
  DeleteRule: { encode: (m) => Buffer.from(DeleteRuleRequest.encode(m as DeleteRuleRequest).finish()), decode: (b) => DeleteRuleRequest.decode(b) },
  GetRule: { encode: (m) => Buffer.from(GetRuleRequest.encode(m as GetRuleRequest).finish()), decode: (b) => GetRuleRequest.decode(b) },
};

let strict: Record<RuleMethod, (bytes: Buffer) => unknown> | undefined;

/** mcrd's request deserializers (strictDefinition over the generated ones), by method. */
function strictDeserializers(): Record<RuleMethod, (bytes: Buffer) => unknown> {
  if (!strict) {
    const definition = strictDefinition(RuleServiceService as unknown as ServiceDefinition, DescriptorSet.load().registry());
    const byPath = new Map(Object.values(definition).map((m) => [m.path, m.requestDeserialize]));
    const of = (method: RuleMethod) => byPath.get(PATHS[method])!;
    strict = { CreateRule: of('CreateRule'), UpdateRule: of('UpdateRule'), DeleteRule: of('DeleteRule'), GetRule: of('GetRule') };
  }
  return strict;
}

/** The request mcrd will see in `bytes` (once the strict check passed them), decoded by the generated decoder. */
export function decodeRequest(method: RuleMethod, bytes: Buffer): TypedMessage {
  return { method, message: CODECS[method].decode(bytes) } as TypedMessage;
}

/** A corruption: the new bytes, and whether the meaning of the request is kept. */
interface Corruption {
  name: string;
  apply(bytes: Buffer, random: SeededRandom, method: RuleMethod): { bytes: Buffer; keepsMeaning: boolean };
}

/** A field number no RuleService request has. */
const UNKNOWN_FIELD = 1000;

function insertAt(bytes: Buffer, at: number, inserted: Buffer): Buffer {
  return Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]);
}

/** An unknown field of a random wire type: a decoder must skip it. */
function unknownField(random: SeededRandom): Buffer {
  const field = UNKNOWN_FIELD + random.int(0, 100);
  switch (random.int(0, 4)) {
    case 0:
      return varintField(field, random.pick([0n, 1n, 0xffff_ffff_ffff_ffffn, -1n]));
    case 1:
      return fixed32Field(field, random.int(0, 0xffff_ffff));
    case 2:
      return fixed64Field(field, BigInt(random.int(0, 0xffff_ffff)) << 16n);
    case 3:
      return bytesField(field, random.bytes(random.int(0, 40)));
    default:
      return nestedGroups(field, random.int(1, 20));
  }
}

const CORRUPTIONS: Corruption[] = [
  {
    name: 'unknown fields added',
    apply: (bytes, random) => {
      const fields = Array.from({ length: random.int(1, 4) }, () => unknownField(random));
      // Between fields only (at the start or the end), so no field is split.
      return { bytes: random.chance(0.5) ? Buffer.concat([...fields, bytes]) : Buffer.concat([bytes, ...fields]), keepsMeaning: true };
    },
  },
  { name: 'cut short', apply: (bytes, random) => ({ bytes: bytes.subarray(0, random.int(0, Math.max(0, bytes.length - 1))), keepsMeaning: false }) },
  {
    name: 'bytes flipped',
    apply: (bytes, random) => {
      const out = Buffer.from(bytes);
      for (let i = random.int(1, 4); i > 0 && out.length > 0; i--) out[random.int(0, out.length - 1)] ^= random.int(1, 255);
      return { bytes: out, keepsMeaning: false };
    },
  },
  { name: 'random bytes inserted', apply: (bytes, random) => ({ bytes: insertAt(bytes, random.int(0, bytes.length), random.bytes(random.int(1, 16))), keepsMeaning: false }) },
  { name: 'random bytes only', apply: (_bytes, random) => ({ bytes: random.bytes(random.int(1, 64)), keepsMeaning: false }) },
  { name: 'wire type 6 or 7', apply: (bytes, random) => ({ bytes: Buffer.concat([key(random.int(1, 4), random.pick([6, 7])), varint(1), bytes]), keepsMeaning: false }) },
  {
    name: 'a length prefix past the end',
    apply: (bytes, random) => {
      const data = random.bytes(random.int(0, 8));
      return { bytes: Buffer.concat([bytes, bytesFieldClaiming(random.pick([1, UNKNOWN_FIELD]), data.length + random.int(1, 1000), data)]), keepsMeaning: false };
    },
  },
  {
    name: 'a length prefix of 2^32 - 1',
    apply: (bytes) => ({ bytes: Buffer.concat([bytesFieldClaiming(UNKNOWN_FIELD, 0xffff_ffff, Buffer.from('x')), bytes]), keepsMeaning: false }),
  },
  { name: 'groups nested past the decoder limit', apply: (bytes, random) => ({ bytes: Buffer.concat([bytes, nestedGroups(UNKNOWN_FIELD, GROUP_RECURSION_LIMIT + random.int(2, 50))]), keepsMeaning: false }) },
  { name: 'an unterminated group', apply: (bytes, random) => ({ bytes: Buffer.concat([bytes, nestedGroups(UNKNOWN_FIELD, random.int(1, 5), false)]), keepsMeaning: false }) },
  {
    name: 'an end-group key between fields',
    apply: (bytes, random) => ({ bytes: random.chance(0.5) ? Buffer.concat([key(random.int(1, 5), WIRE_END_GROUP), bytes]) : Buffer.concat([bytes, key(1, WIRE_END_GROUP)]), keepsMeaning: false }),
  },
  {
    // Field 1 is the rule reference of Get/Delete/Update and the rule of Create: bytes that are not UTF-8.
    name: 'field 1 repeated with invalid UTF-8 (the last one wins)',
    apply: (bytes, random) => ({ bytes: Buffer.concat([bytes, bytesField(1, Buffer.from([0x66, 0x7a, random.pick([0x80, 0xc3, 0xff, 0xed]), 0xa0, 0x80]))]), keepsMeaning: false }),
  },
  {
    // A varint where a message or string is expected, and a string where a varint is.
    name: 'known fields with the wrong wire type',
    apply: (bytes, random, method) => {
      const wrong = method === 'CreateRule' ? varintField(1, random.int(0, 70_000)) : bytesField(method === 'UpdateRule' ? 3 : 2, '5000');
      return { bytes: random.chance(0.5) ? Buffer.concat([wrong, bytes]) : Buffer.concat([bytes, wrong]), keepsMeaning: false };
    },
  },
  { name: 'empty', apply: () => ({ bytes: Buffer.alloc(0), keepsMeaning: false }) },
];

/** The port of an input given as a varint beyond 32 bits: the decoder keeps the low 32 bits. */
export function createWithWidePort(random: SeededRandom, group: string): Buffer {
  const port = random.pick([(1n << 32n) + 5000n, -1n, (1n << 63n) + 7n, 1n << 35n]);
  const input = Buffer.concat([bytesField(1, 'fz0'), bytesField(2, group), varintField(3, port)]);
  const output = Buffer.concat([bytesField(1, 'fz1'), bytesField(2, '239.88.255.1'), varintField(3, 7000)]);
  return bytesField(1, Buffer.concat([bytesField(3, input), bytesField(4, output)]));
}

export class WireRequestBuilder {
  constructor(private readonly random: SeededRandom) {}

  /** `typed` encoded, and with probability `corruptShare` corrupted. */
  build(typed: TypedRequest, corruptShare: number): WireRequest {
    const encoded = CODECS[typed.method].encode(typed.message);
    const description = `${typed.method}: ${typed.notes.join('; ') || 'a valid request'}`;
    if (!this.random.chance(corruptShare)) {
      return this.request(typed.method, encoded, description, typed.faults.length === 0 ? { kind: 'succeeds' } : { kind: 'refused', codes: typed.faults });
    }
    const corruption = this.random.pick(CORRUPTIONS);
    const { bytes, keepsMeaning } = corruption.apply(encoded, this.random, typed.method);
    const kept: Expectation = typed.faults.length === 0 ? { kind: 'succeeds' } : { kind: 'refused', codes: typed.faults };
    return this.request(typed.method, bytes, `${description}; then ${corruption.name}`, keepsMeaning ? kept : { kind: 'any' });
  }

  /** Raw bytes for `method` with no typed request behind them. */
  raw(method: RuleMethod, bytes: Buffer, description: string): WireRequest {
    return this.request(method, bytes, `${method}: ${description}`, { kind: 'any' });
  }

  /**
   * The expectation, corrected for what happens before any handler: an oversized message is refused
   * as such, bytes the strict deserializer refuses as malformed, and an empty message is a request
   * with every field at its default, which names no rule.
   */
  private request(method: RuleMethod, bytes: Buffer, description: string, expect: Expectation): WireRequest {
    if (bytes.length > MAX_MESSAGE_BYTES) {
      return { method, path: PATHS[method], bytes, description: `${description} (${bytes.length} bytes)`, expect: { kind: 'refused', codes: [status.RESOURCE_EXHAUSTED] } };
    }
    const decoded = strictDeserializers()[method](bytes);
    if (decoded instanceof MalformedRequest) {
      const details = decoded.error.toServiceError().details!;
      return { method, path: PATHS[method], bytes, description: `${description} (malformed: ${details})`, expect: { kind: 'malformed', details } };
    }
    if (bytes.length === 0) expect = { kind: 'refused', codes: [status.INVALID_ARGUMENT] };
    return { method, path: PATHS[method], bytes, description, expect };
  }
}
