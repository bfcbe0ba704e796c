/**
 * A strict check of a request body against its message's schema, at the wire level, before the
 * generated decoder reads it. The generated decoders (ts-proto) skip a known field sent with another
 * wire type, as if it were unknown, so the field reads as its default; they accept strings that are
 * not UTF-8; and they throw plain RangeErrors on truncated bytes, which grpc-js turns into INTERNAL.
 * This walk finds each of those and says precisely where (decision 0020).
 *
 * The schema comes from the compiler's descriptors (@bufbuild/protobuf's DescMessage), since the
 * generated code does not expose wire types. Unknown fields are skipped as proto3 says, but must be
 * well-formed themselves. Nothing is allocated on a valid body beyond the per-message field tables,
 * built once per message type.
 */
import { isUtf8 } from 'buffer';

import { DescField, DescMessage, ScalarType } from '@bufbuild/protobuf';
import { WireType } from '@bufbuild/protobuf/wire';

/** What is wrong, and where: `path` is the request field at fault ("rule.outputs[1].interface"), or '' for the body. */
export interface WireProblem {
  path: string;
  detail: string;
}

/*
 * The wire types as local constants: WireType comes through a re-export whose every property read is
 * a getter call, which the walk over a 20,000-rule body made a third of its time.
 */
const VARINT: number = WireType.Varint;
const BIT64: number = WireType.Bit64;
const LENGTH_DELIMITED: number = WireType.LengthDelimited;
const START_GROUP: number = WireType.StartGroup;
const END_GROUP: number = WireType.EndGroup;
const BIT32: number = WireType.Bit32;

const WIRE_NAMES = ['varint', '64-bit', 'length-delimited', 'start group', 'end group', '32-bit'];

/**
 * Messages and groups nested deeper than this inside the body are refused. The generated decoders
 * give up at 100 messages counting the body itself, @bufbuild/protobuf's BinaryReader.skip at 100
 * groups; counting both together keeps every accepted body one they decode.
 */
export const MAX_NESTING = 99;

/** varint()'s answers when there is no value. */
const TRUNCATED = -1;
const TOO_LONG = -2;

type SlotKind = 'number' | 'string' | 'bytes' | 'message' | 'group' | 'map';

/** A field as the wire sees it. */
interface Slot {
  number: number;
  name: string;
  kind: SlotKind;
  /** The wire type its values are written with (elements, for a packable list). */
  wire: number;
  /** A repeated number: also accepted packed (length-delimited). */
  packable: boolean;
  repeated: boolean;
  /** A string the schema says must be UTF-8 (proto3, editions' utf8_validation VERIFY). */
  utf8: boolean;
  /** For the description in a message: "uint32", "mcr.v1.Rule message". */
  type: string;
  /** A message's or a group's fields; a map entry's key (1) and value (2). */
  fields?: () => FieldTable;
}

type FieldTable = Map<number, Slot>;

const tables = new WeakMap<DescMessage, FieldTable>();

function scalarWire(scalar: ScalarType): number {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return BIT64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return BIT32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return LENGTH_DELIMITED;
    default:
      return VARINT;
  }
}

function scalarSlot(number: number, name: string, scalar: ScalarType, repeated: boolean, utf8: boolean): Slot {
  const kind: SlotKind = scalar === ScalarType.STRING ? 'string' : scalar === ScalarType.BYTES ? 'bytes' : 'number';
  const type = ScalarType[scalar].toLowerCase();
  return { number, name, kind, wire: scalarWire(scalar), packable: repeated && kind === 'number', repeated, utf8: utf8 && kind === 'string', type };
}

function messageSlot(number: number, name: string, message: DescMessage, delimited: boolean, repeated: boolean): Slot {
  const kind = delimited ? 'group' : 'message';
  // Built on first use (a message may hold itself), then the same table every time.
  let table: FieldTable | undefined;
  const fields = (): FieldTable => (table ??= fieldTable(message));
  return { number, name, kind, wire: delimited ? START_GROUP : LENGTH_DELIMITED, packable: false, repeated, utf8: false, type: `${message.typeName} ${kind}`, fields };
}

function slot(field: DescField): Slot {
  const { number, name } = field;
  switch (field.fieldKind) {
    case 'scalar':
      return scalarSlot(number, name, field.scalar, false, field.utf8Validation);
    case 'enum':
      return { number, name, kind: 'number', wire: VARINT, packable: false, repeated: false, utf8: false, type: `${field.enum.typeName} enum` };
    case 'message':
      return messageSlot(number, name, field.message, field.delimitedEncoding, false);
    case 'list':
      switch (field.listKind) {
        case 'scalar':
          return scalarSlot(number, name, field.scalar, true, field.utf8Validation);
        case 'enum':
          return { number, name, kind: 'number', wire: VARINT, packable: true, repeated: true, utf8: false, type: `${field.enum.typeName} enum` };
        case 'message':
          return messageSlot(number, name, field.message, field.delimitedEncoding, true);
      }
      break;
    case 'map': {
      const key = scalarSlot(1, 'key', field.mapKey, false, field.utf8Validation);
      let value: Slot;
      switch (field.mapKind) {
        case 'scalar':
          value = scalarSlot(2, 'value', field.scalar, false, field.utf8Validation);
          break;
        case 'enum':
          value = { number: 2, name: 'value', kind: 'number', wire: VARINT, packable: false, repeated: false, utf8: false, type: `${field.enum.typeName} enum` };
          break;
        case 'message':
          value = messageSlot(2, 'value', field.message, false, false);
          break;
      }
      const entry: FieldTable = new Map([[1, key], [2, value]]);
      return { number, name, kind: 'map', wire: LENGTH_DELIMITED, packable: false, repeated: true, utf8: false, type: 'map entry', fields: () => entry };
    }
  }
  throw new Error(`${String(field)}: unknown field kind`);
}

/** The fields of `message` by number (built once per message type). */
function fieldTable(message: DescMessage): FieldTable {
  let table = tables.get(message);
  if (!table) {
    table = new Map(message.fields.map((field) => [field.number, slot(field)]));
    tables.set(message, table);
  }
  return table;
}

function wireName(wire: number): string {
  return `${wire} (${WIRE_NAMES[wire]})`;
}

/** "field 3 (port)", or "field 1000" for a field the schema does not have. */
function label(number: number, known: Slot | undefined): string {
  return known ? `field ${number} (${known.name})` : `field ${number}`;
}

/** A problem found inside a field's value, seen from the message holding the field. */
function within(segment: string, problem: WireProblem): WireProblem {
  return { path: problem.path ? `${segment}.${problem.path}` : segment, detail: problem.detail };
}

/**
 * Says whether the value of field `number` of the body, a message at bytes[from..to), is known to be
 * well-formed (bytes our own encoder made): it is then not walked.
 */
export type KnownMessage = (number: number, from: number, to: number) => boolean;

class Walk {
  pos = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly vouch?: KnownMessage,
  ) {}

  /** The varint at pos, exact up to 2^53 (pos moves past it), or TRUNCATED, or TOO_LONG (over 64 bits). */
  private varint(end: number): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) return TRUNCATED;
      const byte = this.bytes[this.pos++];
      // The tenth byte holds bit 63 only; anything more is an 11th byte or bits past 64.
      if (i === 9 && byte > 1) return TOO_LONG;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    return TOO_LONG;
  }

  /** The varint at `at`, exactly (only for messages: a length beyond 2^53 is printed as sent). */
  private exactVarint(at: number): bigint {
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      const byte = this.bytes[at + i];
      value |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if (byte < 0x80) break;
    }
    return value;
  }

  /**
   * Checks the fields from pos to `end` against `table` (undefined: all unknown). `group`, when not
   * 0, is the field number of the group whose fields these are, which its end-group key closes.
   * `size` is the byte length of the enclosing message, for messages.
   */
  fields(table: FieldTable | undefined, end: number, size: number, depth: number, group: number): WireProblem | null {
    if (depth > MAX_NESTING) return { path: '', detail: `messages and groups are nested more than ${MAX_NESTING} deep` };
    const start = this.pos;
    while (this.pos < end) {
      const keyAt = this.pos;
      const key = this.varint(end);
      if (key === TRUNCATED) return { path: '', detail: `the field key at byte ${keyAt} runs past the end of the ${size}-byte message` };
      if (key === TOO_LONG) return { path: '', detail: `the field key at byte ${keyAt} is a varint longer than 64 bits` };
      if (key > 0xffff_ffff) return { path: '', detail: `the field key at byte ${keyAt} is wider than 32 bits (field number above 536870911)` };
      const number = Math.floor(key / 8);
      const wire = key % 8;
      if (number === 0) return { path: '', detail: `the field key at byte ${keyAt} has field number 0, which is not valid` };
      if (wire === END_GROUP) {
        if (number === group) return null;
        return { path: '', detail: `the end-group key of field ${number} at byte ${keyAt} closes no group` };
      }
      if (wire > BIT32) return { path: '', detail: `field ${number} at byte ${keyAt} has wire type ${wire}, which does not exist` };
      const known = table?.get(number);
      if (known && wire !== known.wire && !(known.packable && wire === LENGTH_DELIMITED)) {
        const expected = known.packable ? `${wireName(known.wire)} or 2 (packed)` : wireName(known.wire);
        return { path: this.segment(known, start, keyAt), detail: `field ${number} is ${known.repeated ? 'repeated ' : ''}${known.type}: expected wire type ${expected}, got ${wireName(wire)}` };
      }
      const problem = this.value(number, wire, known, start, keyAt, end, size, depth);
      if (problem) return problem;
    }
    if (group !== 0) return { path: '', detail: `the group of field ${group} is not closed before the end of the ${size}-byte message` };
    return null;
  }

  /** Checks the value of a field whose key (at keyAt) has been read; pos moves past it. */
  private value(number: number, wire: number, known: Slot | undefined, start: number, keyAt: number, end: number, size: number, depth: number): WireProblem | null {
    // The label of the field is made only on an error path: a valid body allocates nothing per field.
    switch (wire) {
      case VARINT: {
        const value = this.varint(end);
        if (value === TRUNCATED) return { path: '', detail: `${label(number, known)} varint runs past the end of the ${size}-byte message` };
        if (value === TOO_LONG) return { path: '', detail: `${label(number, known)} varint is longer than 64 bits` };
        return null;
      }
      case BIT64:
      case BIT32: {
        const width = wire === BIT64 ? 8 : 4;
        if (end - this.pos < width) return { path: '', detail: `${label(number, known)} ${width}-byte value runs past the end of the ${size}-byte message` };
        this.pos += width;
        return null;
      }
      case START_GROUP: {
        const fields = known?.kind === 'group' ? known.fields!() : undefined;
        const problem = this.fields(fields, end, size, depth + 1, number);
        return problem && known ? within(this.segment(known, start, keyAt), problem) : problem;
      }
    }
    const lengthAt = this.pos;
    const length = this.varint(end);
    if (length === TRUNCATED) return { path: '', detail: `${label(number, known)} length runs past the end of the ${size}-byte message` };
    if (length === TOO_LONG) return { path: '', detail: `${label(number, known)} length is a varint longer than 64 bits` };
    if (length > end - this.pos) return { path: '', detail: `${label(number, known)} length ${this.exactVarint(lengthAt)} runs past the end of the ${size}-byte message` };
    const from = this.pos;
    const to = from + length;
    if (!known) {
      this.pos = to;
      return null;
    }
    switch (known.kind) {
      case 'string':
        this.pos = to;
        if (known.utf8 && !this.utf8(from, to)) {
          return { path: this.segment(known, start, keyAt), detail: `is not valid UTF-8 (field ${number}, a string: the ${length} bytes at byte ${from})` };
        }
        return null;
      case 'message':
      case 'map': {
        if (depth === 0 && known.kind === 'message' && this.vouch?.(number, from, to)) {
          this.pos = to;
          return null;
        }
        const problem = this.fields(known.fields!(), to, length, depth + 1, 0);
        return problem && within(this.segment(known, start, keyAt), problem);
      }
      case 'number':
        return this.packed(known, number, to);
      default:
        this.pos = to;
        return null;
    }
  }

  /** Whether bytes from..to are UTF-8: ASCII (nearly every string here) without making a view of them. */
  private utf8(from: number, to: number): boolean {
    for (let i = from; i < to; i++) {
      if (this.bytes[i] >= 0x80) return isUtf8(this.bytes.subarray(i, to));
    }
    return true;
  }

  /** Checks a packed run of numbers, from pos to `to`. */
  private packed(known: Slot, number: number, to: number): WireProblem | null {
    const length = to - this.pos;
    if (known.wire !== VARINT) {
      const width = known.wire === BIT64 ? 8 : 4;
      if (length % width !== 0) return { path: '', detail: `${label(number, known)} is packed ${known.type}: its length ${length} is not a multiple of ${width}` };
      this.pos = to;
      return null;
    }
    while (this.pos < to) {
      const value = this.varint(to);
      if (value === TRUNCATED) return { path: '', detail: `${label(number, known)} is packed ${known.type}: its last varint runs past the end of its ${length} bytes` };
      if (value === TOO_LONG) return { path: '', detail: `${label(number, known)} is packed ${known.type}: a varint is longer than 64 bits` };
    }
    return null;
  }

  /**
   * The path segment of a field: its name, and for a repeated field the index of this occurrence
   * (counted again from the start of the message, on this error path only: the bytes before keyAt
   * are known to be well-formed).
   */
  private segment(known: Slot, start: number, keyAt: number): string {
    if (!known.repeated) return known.name;
    const resume = this.pos;
    this.pos = start;
    let index = 0;
    let depth = 0;
    while (this.pos < keyAt) {
      const key = this.varint(keyAt);
      const wire = key % 8;
      if (depth === 0 && Math.floor(key / 8) === known.number) index++;
      if (wire === START_GROUP) depth++;
      else if (wire === END_GROUP) depth--;
      else if (wire === VARINT) this.varint(keyAt);
      else if (wire === BIT64) this.pos += 8;
      else if (wire === BIT32) this.pos += 4;
      else {
        const length = this.varint(keyAt);
        this.pos += length;
      }
    }
    this.pos = resume;
    return `${known.name}[${index}]`;
  }
}

/**
 * The first problem of `bytes` as a `message`, or null when they are a well-formed one. `vouch`, when
 * given, may vouch for a message field of the body, which is then not walked.
 */
export function checkWire(message: DescMessage, bytes: Uint8Array, vouch?: KnownMessage): WireProblem | null {
  return new Walk(bytes, vouch).fields(fieldTable(message), bytes.length, bytes.length, 0, 0);
}
