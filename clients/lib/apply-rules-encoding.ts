/**
 * The ApplyRules request's wire bytes, written straight from the caller's partial request into one
 * Buffer: exactly the bytes of `ApplyRulesRequest.encode(ApplyRulesRequest.fromPartial(request))`,
 * without fromPartial's deep copy of every rule or the generated writer's growing buffer and
 * per-message fork/join (docs/decisions/0052).
 *
 * Two passes over the request: the first measures every length-delimited field (string or message)
 * in the order they are written and the total; the second writes into a Buffer of that size, taking
 * each length prefix from the first pass. Proto3 rules as the generated encoder applies them: a
 * field absent (undefined or null) or at its default is not written, except the fields ts-proto
 * tracks presence of (Input.vlan, Output.ttl, Output.dscp, Output.preserve_tos,
 * ApplyRulesRequest.expected_generation and the nested messages), which are written whenever they
 * are set, zero, false or empty included.
 * Values it refuses (a uint32 out of range, an int64 too large, a bigint field that BigInt() cannot
 * convert) are refused here too, with an Error naming the field. One refusal is this encoder's own:
 * Output.preserve_tos set to anything but a boolean (the generated writer would send any truthy
 * value, the string "false" included, as true).
 *
 * The messages and fields covered are listed in ENCODED_FIELDS; test/unit/apply-rules-encoding.test.ts
 * checks that list against the compiled descriptors, and the bytes against the generated encoder.
 */
import type { ApplyRulesRequest, DeepPartial, Input, Output, Rule, RuleStatus } from '../../gen/mcr/v1/rules';
import { varintLength, writeVarint } from '../../server/formats/varint';

/**
 * The fields this encoder writes, per message: full name -> field number -> "name [repeated|optional]
 * type" as in the .proto. Every field of each message an ApplyRulesRequest contains: a field added,
 * removed or changed in one of them must be handled here and listed (the unit test compares this
 * list with the compiled descriptors, and the bytes with the generated encoder's).
 */
export const ENCODED_FIELDS: Readonly<Record<string, Readonly<Record<number, string>>>> = {
  'mcr.v1.ApplyRulesRequest': {
    1: 'rules repeated mcr.v1.Rule',
    2: 'replace bool',
    3: 'dry_run bool',
    4: 'expected_generation optional uint64',
    5: 'view mcr.v1.ApplyRulesView',
  },
  'mcr.v1.Rule': {
    1: 'id string',
    2: 'name string',
    3: 'input mcr.v1.Input',
    4: 'outputs repeated mcr.v1.Output',
    5: 'generation uint64',
    6: 'status mcr.v1.RuleStatus',
    7: 'created_unix_nanos int64',
    8: 'updated_unix_nanos int64',
  },
  'mcr.v1.Input': { 1: 'interface string', 2: 'group string', 3: 'port uint32', 4: 'source string', 5: 'vlan optional uint32', 6: 'protocol mcr.v1.IpProtocol' },
  'mcr.v1.Output': {
    1: 'interface string',
    2: 'address string',
    3: 'port uint32',
    4: 'ttl optional uint32',
    5: 'dscp optional uint32',
    6: 'ttl_policy mcr.v1.TtlPolicy',
    7: 'preserve_tos optional bool',
    8: 'oversize mcr.v1.OversizePolicy',
    9: 'source string',
  },
  'mcr.v1.RuleStatus': { 1: 'state mcr.v1.RuleState', 2: 'reason string', 3: 'worker uint32', 4: 'last_packet_unix_nanos int64' },
};

type Partial64 = string | number | bigint | null | undefined;
type Maybe<T> = T | null | undefined;

/** Field tags (field number << 3 | wire type): all fit one byte. */
const VARINT = 0;
const DELIMITED = 2;
const tag = (field: number, wireType: number) => (field << 3) | wireType;

/**
 * Thrown by a Write that assumed ASCII on meeting a string that is not: the request is then measured
 * and written again, in UTF-8 (rule sets are ASCII in practice: interface names, addresses, names).
 */
const NOT_ASCII = new Error('not ASCII');

/** Longest string measured in JavaScript; longer ones are measured by Buffer.byteLength. */
const SHORT_STRING = 64;

/** Bytes of the UTF-8 encoding of `text`, a lone surrogate counting as U+FFFD (as TextEncoder and Buffer write it). */
function utf8Length(text: string): number {
  const length = text.length;
  if (length > SHORT_STRING) return Buffer.byteLength(text, 'utf8');
  let bytes = length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: two UTF-16 units, four bytes
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/** A string field's value as the generated code writes it ("" when absent; other types through String()). */
function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

/** A uint32 field's value, checked as the generated writer checks it (a numeric string is accepted). */
function uint32Of(value: unknown, field: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new Error(`invalid uint32 in ${field}: ${typeof value === 'number' || typeof value === 'string' ? value : typeof value}`);
  return n;
}

/** An int32 field's (enum's) value, checked as the generated writer checks it. */
function int32Of(value: unknown, field: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < -0x8000_0000 || n > 0x7fff_ffff) throw new Error(`invalid int32 in ${field}: ${typeof value === 'number' || typeof value === 'string' ? value : typeof value}`);
  return n;
}

/**
 * An optional bool field's value when set: true or false, nothing else (where the generated writer
 * would write any truthy value as true: a string "false" must not turn into true unseen).
 */
function boolOf(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new Error(`invalid bool in ${field}: ${typeof value === 'number' || typeof value === 'string' ? JSON.stringify(value) : typeof value}`);
  return value;
}

/** Bytes of an int32 varint: a negative value is sign-extended to ten bytes. */
function int32Size(value: number): number {
  return value < 0 ? 10 : varintLength(value);
}

/**
 * A 64-bit field's value as fromPartial converts it (BigInt()), checked as the generated encoder
 * checks it; returned as two's complement in 64 bits, ready to be written as a varint.
 */
function int64Of(value: Partial64, signed: boolean, field: string): bigint {
  const big = typeof value === 'bigint' ? value : toBigInt(value, signed, field);
  const wrapped = BigInt.asUintN(64, big);
  if ((signed ? BigInt.asIntN(64, big) : wrapped) !== big) throw new Error(`invalid ${signed ? 'int64' : 'uint64'} in ${field}: ${big} is out of range`);
  return wrapped;
}

/** BigInt(value), as fromPartial converts it, refused with the field's name when it cannot be converted. */
function toBigInt(value: Partial64, signed: boolean, field: string): bigint {
  try {
    return BigInt(value as string | number);
  } catch (e) {
    throw new Error(`invalid ${signed ? 'int64' : 'uint64'} in ${field}: ${String(value)} (${e instanceof Error ? e.message : String(e)})`);
  }
}

function varint64Size(value: bigint): number {
  if (value < 0x1_0000_0000n) return varintLength(Number(value));
  let size = 5;
  for (let rest = value >> 35n; rest > 0n; rest >>= 7n) size++;
  return size;
}

/** Whether a field with presence (a message, or a proto3 optional scalar) is set. */
function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

const NONE: readonly never[] = [];

/** A repeated field's elements (none when absent); anything but an array is refused, as fromPartial's map() refuses it. */
function arrayOf<T>(value: Maybe<readonly T[]>, field: string): readonly T[] {
  if (value === undefined || value === null) return NONE;
  if (!Array.isArray(value)) throw new TypeError(`${field} is not an array`);
  return value;
}

/**
 * The first pass: the length of every length-delimited field in writing order, and the total. Each
 * message's body is measured after its fields, so its slot is reserved first and filled in after.
 */
class Measure {
  /** The length of each message field, in writing order: lengths[0 .. count-1]. */
  lengths = new Int32Array(1024);
  private count = 0;

  /** `exact`: strings measured in UTF-8; else as if ASCII (one byte per UTF-16 unit, which Write checks). */
  constructor(private readonly exact: boolean) {}

  /** Bytes of a string field (tag, length, text) when written; 0 when it is not. */
  string(value: unknown): number {
    const text = stringOf(value);
    if (text === '') return 0;
    const bytes = this.exact ? utf8Length(text) : text.length;
    return 1 + varintLength(bytes) + bytes;
  }

  /** Bytes of a uint32 field that is written when not 0. */
  uint32(value: unknown, field: string): number {
    if (value === undefined || value === null || value === 0) return 0;
    return 1 + varintLength(uint32Of(value, field));
  }

  /** Bytes of an optional uint32 field, written whenever it is set (0 included). */
  optionalUint32(value: unknown, field: string): number {
    return isSet(value) ? 1 + varintLength(uint32Of(value, field)) : 0;
  }

  /** Bytes of an enum field, written when not 0. */
  enum(value: unknown, field: string): number {
    if (value === undefined || value === null || value === 0) return 0;
    return 1 + int32Size(int32Of(value, field));
  }

  /** Bytes of a 64-bit field, written when not 0 (or, with presence, whenever it is set). */
  int64(value: Partial64, signed: boolean, field: string, presence = false): number {
    if (!isSet(value)) return 0;
    const wrapped = int64Of(value, signed, field);
    if (wrapped === 0n && !presence) return 0;
    return 1 + varint64Size(wrapped);
  }

  /** Reserves the length of the next message field. */
  private slot(): number {
    if (this.count === this.lengths.length) {
      const larger = new Int32Array(this.count * 2);
      larger.set(this.lengths);
      this.lengths = larger;
    }
    return this.count++;
  }

  /** Bytes of a message field whose body takes `body` bytes, its length in the slot at `slot`. */
  message(slot: number, body: number): number {
    this.lengths[slot] = body; // a message is less than 2 GiB: gRPC's limit is 4 GiB, mcrd's far below
    return 1 + varintLength(body) + body;
  }

  request(request: DeepPartial<ApplyRulesRequest>): number {
    let size = 0;
    const rules = arrayOf(request.rules, 'ApplyRulesRequest.rules');
    for (let i = 0; i < rules.length; i++) size += this.message(this.slot(), this.rule(rules[i]!));
    size += isSet(request.replace) && request.replace !== false ? 2 : 0;
    size += isSet(request.dryRun) && request.dryRun !== false ? 2 : 0;
    size += this.int64(request.expectedGeneration, false, 'ApplyRulesRequest.expectedGeneration', true);
    size += this.enum(request.view, 'ApplyRulesRequest.view');
    return size;
  }

  rule(rule: DeepPartial<Rule>): number {
    let size = this.string(rule.id) + this.string(rule.name);
    if (isSet(rule.input)) size += this.message(this.slot(), this.input(rule.input!));
    const outputs = arrayOf(rule.outputs, 'Rule.outputs');
    for (let i = 0; i < outputs.length; i++) size += this.message(this.slot(), this.output(outputs[i]!));
    size += this.int64(rule.generation, false, 'Rule.generation');
    if (isSet(rule.status)) size += this.message(this.slot(), this.status(rule.status!));
    size += this.int64(rule.createdUnixNanos, true, 'Rule.createdUnixNanos');
    size += this.int64(rule.updatedUnixNanos, true, 'Rule.updatedUnixNanos');
    return size;
  }

  input(input: DeepPartial<Input>): number {
    return (
      this.string(input.interface) +
      this.string(input.group) +
      this.uint32(input.port, 'Input.port') +
      this.string(input.source) +
      this.optionalUint32(input.vlan, 'Input.vlan') +
      this.enum(input.protocol, 'Input.protocol')
    );
  }

  output(output: DeepPartial<Output>): number {
    let size = this.string(output.interface) + this.string(output.address) + this.uint32(output.port, 'Output.port');
    size += this.optionalUint32(output.ttl, 'Output.ttl') + this.optionalUint32(output.dscp, 'Output.dscp');
    size += this.enum(output.ttlPolicy, 'Output.ttlPolicy');
    if (isSet(output.preserveTos)) {
      boolOf(output.preserveTos, 'Output.preserveTos'); // refused here, before anything is written
      size += 2; // tag and one byte, false included (presence)
    }
    size += this.enum(output.oversize, 'Output.oversize') + this.string(output.source);
    return size;
  }

  status(status: DeepPartial<RuleStatus>): number {
    return (
      this.enum(status.state, 'RuleStatus.state') +
      this.string(status.reason) +
      this.uint32(status.worker, 'RuleStatus.worker') +
      this.int64(status.lastPacketUnixNanos, true, 'RuleStatus.lastPacketUnixNanos')
    );
  }
}

/** The second pass: writes what Measure measured, in the same order, taking each length from it. */
class Write {
  private pos = 0;
  private next = 0;

  /** `exact` as the Measure whose `lengths` these are: when not, a string that is not ASCII throws NotAscii. */
  constructor(
    private readonly buffer: Buffer,
    private readonly lengths: Int32Array,
    private readonly exact: boolean,
  ) {}

  end(): number {
    return this.pos;
  }

  private varint32(value: number): void {
    this.pos = writeVarint(this.buffer, this.pos, value);
  }

  private varint64(value: bigint): void {
    if (value < 0x1_0000_0000n) return this.varint32(Number(value));
    const buffer = this.buffer;
    for (; value >= 0x80n; value >>= 7n) buffer[this.pos++] = Number(value & 0x7fn) | 0x80;
    buffer[this.pos++] = Number(value);
  }

  private int32(value: number): void {
    if (value >= 0) return this.varint32(value);
    this.varint64(BigInt.asUintN(64, BigInt(value)));
  }

  private string(field: number, value: unknown): void {
    const text = stringOf(value);
    if (text === '') return;
    const buffer = this.buffer;
    buffer[this.pos++] = tag(field, DELIMITED);
    if (this.exact) {
      const bytes = utf8Length(text);
      this.varint32(bytes);
      this.pos += buffer.write(text, this.pos, bytes, 'utf8');
      return;
    }
    const length = text.length;
    this.varint32(length);
    let pos = this.pos;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) throw NOT_ASCII;
      buffer[pos++] = code;
    }
    this.pos = pos;
  }

  private uint32(field: number, value: unknown, name: string): void {
    if (value === undefined || value === null || value === 0) return;
    this.buffer[this.pos++] = tag(field, VARINT);
    this.varint32(uint32Of(value, name));
  }

  private optionalUint32(field: number, value: unknown, name: string): void {
    if (!isSet(value)) return;
    this.buffer[this.pos++] = tag(field, VARINT);
    this.varint32(uint32Of(value, name));
  }

  private enum(field: number, value: unknown, name: string): void {
    if (value === undefined || value === null || value === 0) return;
    this.buffer[this.pos++] = tag(field, VARINT);
    this.int32(int32Of(value, name));
  }

  private int64(field: number, value: Partial64, signed: boolean, name: string, presence = false): void {
    if (!isSet(value)) return;
    const wrapped = int64Of(value, signed, name);
    if (wrapped === 0n && !presence) return;
    this.buffer[this.pos++] = tag(field, VARINT);
    this.varint64(wrapped);
  }

  private bool(field: number, value: unknown): void {
    if (!isSet(value) || value === false) return;
    this.buffer[this.pos++] = tag(field, VARINT);
    this.buffer[this.pos++] = value ? 1 : 0;
  }

  /** A message field's tag and length (the next one measured). */
  private open(field: number): void {
    this.buffer[this.pos++] = tag(field, DELIMITED);
    this.varint32(this.lengths[this.next++]);
  }

  request(request: DeepPartial<ApplyRulesRequest>): void {
    const rules = arrayOf(request.rules, 'ApplyRulesRequest.rules');
    for (let i = 0; i < rules.length; i++) {
      this.open(1);
      this.rule(rules[i]!);
    }
    this.bool(2, request.replace);
    this.bool(3, request.dryRun);
    this.int64(4, request.expectedGeneration, false, 'ApplyRulesRequest.expectedGeneration', true);
    this.enum(5, request.view, 'ApplyRulesRequest.view');
  }

  private rule(rule: DeepPartial<Rule>): void {
    this.string(1, rule.id);
    this.string(2, rule.name);
    if (isSet(rule.input)) {
      this.open(3);
      this.input(rule.input!);
    }
    const outputs = arrayOf(rule.outputs, 'Rule.outputs');
    for (let i = 0; i < outputs.length; i++) {
      this.open(4);
      this.output(outputs[i]!);
    }
    this.int64(5, rule.generation, false, 'Rule.generation');
    if (isSet(rule.status)) {
      this.open(6);
      this.status(rule.status!);
    }
    this.int64(7, rule.createdUnixNanos, true, 'Rule.createdUnixNanos');
    this.int64(8, rule.updatedUnixNanos, true, 'Rule.updatedUnixNanos');
  }

  private input(input: DeepPartial<Input>): void {
    this.string(1, input.interface);
    this.string(2, input.group);
    this.uint32(3, input.port, 'Input.port');
    this.string(4, input.source);
    this.optionalUint32(5, input.vlan, 'Input.vlan');
    this.enum(6, input.protocol, 'Input.protocol');
  }

  private output(output: DeepPartial<Output>): void {
    this.string(1, output.interface);
    this.string(2, output.address);
    this.uint32(3, output.port, 'Output.port');
    this.optionalUint32(4, output.ttl, 'Output.ttl');
    this.optionalUint32(5, output.dscp, 'Output.dscp');
    this.enum(6, output.ttlPolicy, 'Output.ttlPolicy');
    if (isSet(output.preserveTos)) {
      this.buffer[this.pos++] = tag(7, VARINT);
      this.buffer[this.pos++] = boolOf(output.preserveTos, 'Output.preserveTos') ? 1 : 0;
    }
    this.enum(8, output.oversize, 'Output.oversize');
    this.string(9, output.source);
  }

  private status(status: DeepPartial<RuleStatus>): void {
    this.enum(1, status.state, 'RuleStatus.state');
    this.string(2, status.reason);
    this.uint32(3, status.worker, 'RuleStatus.worker');
    this.int64(4, status.lastPacketUnixNanos, true, 'RuleStatus.lastPacketUnixNanos');
  }
}

/**
 * `request` (a partial ApplyRulesRequest, as McrClient.applyRules takes it) encoded: the bytes the
 * generated encoder writes for ApplyRulesRequest.fromPartial(request), in one Buffer of their size.
 * Throws an Error naming the field when a value cannot be encoded.
 */
export function encodeApplyRulesRequest(request: DeepPartial<ApplyRulesRequest>): Buffer {
  try {
    return encode(request, false);
  } catch (e) {
    if (e !== NOT_ASCII) throw e;
    return encode(request, true);
  }
}

/** Measures, then writes; `exact` as Measure's. */
function encode(request: DeepPartial<ApplyRulesRequest>, exact: boolean): Buffer {
  const measure = new Measure(exact);
  const size = measure.request(request);
  const buffer = Buffer.allocUnsafe(size);
  const write = new Write(buffer, measure.lengths, exact);
  write.request(request);
  // Both passes read the same values; a request changed in between (a getter, a toString) would not fit.
  if (write.end() !== size) throw new Error(`ApplyRulesRequest changed while it was encoded: measured ${size} bytes, wrote ${write.end()}`);
  return buffer;
}
