/**
 * Protocol buffers wire format written by hand, for tests that must send bytes no well-behaved
 * encoder produces: wrong wire types for known fields, wire types 6 and 7, lengths past the end,
 * integers beyond a field's range, unterminated or deeply nested groups, invalid UTF-8.
 * (https://protobuf.dev/programming-guides/encoding/)
 */

import { WireType } from '@bufbuild/protobuf/wire';

export const WIRE_VARINT = WireType.Varint;
export const WIRE_FIXED64 = WireType.Bit64;
export const WIRE_LENGTH_DELIMITED = WireType.LengthDelimited;
export const WIRE_START_GROUP = WireType.StartGroup;
export const WIRE_END_GROUP = WireType.EndGroup;
export const WIRE_FIXED32 = WireType.Bit32;

const UINT64_MODULUS = 1n << 64n;

/** Base-128 varint of `value`; negative values are written as their 64-bit two's complement (10 bytes). */
export function varint(value: bigint | number): Buffer {
  let rest = BigInt(value);
  if (rest < 0n) rest += UINT64_MODULUS;
  if (rest < 0n || rest >= UINT64_MODULUS) throw new RangeError(`${value} does not fit in 64 bits`);
  const bytes: number[] = [];
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    bytes.push(rest > 0n ? low | 0x80 : low);
  } while (rest > 0n);
  return Buffer.from(bytes);
}

/** A field key: field number and wire type (any 3-bit value, also the invalid 6 and 7). */
export function key(field: number, wireType: number): Buffer {
  return varint((BigInt(field) << 3n) | BigInt(wireType & 7));
}

export function varintField(field: number, value: bigint | number): Buffer {
  return Buffer.concat([key(field, WIRE_VARINT), varint(value)]);
}

/** A length-delimited field: a string (as UTF-8), bytes, or an embedded message. */
export function bytesField(field: number, data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return Buffer.concat([key(field, WIRE_LENGTH_DELIMITED), varint(body.length), body]);
}

/** A length-delimited field whose length prefix says `claimed` bytes whatever follows. */
export function bytesFieldClaiming(field: number, claimed: bigint | number, data: Buffer): Buffer {
  return Buffer.concat([key(field, WIRE_LENGTH_DELIMITED), varint(claimed), data]);
}

export function fixed32Field(field: number, value: number): Buffer {
  const body = Buffer.alloc(4);
  body.writeUInt32LE(value >>> 0, 0);
  return Buffer.concat([key(field, WIRE_FIXED32), body]);
}

export function fixed64Field(field: number, value: bigint): Buffer {
  const body = Buffer.alloc(8);
  body.writeBigUInt64LE(BigInt.asUintN(64, value), 0);
  return Buffer.concat([key(field, WIRE_FIXED64), body]);
}

/** `depth` groups of field `field` nested in each other, each closed (or, with `closed` false, none). */
export function nestedGroups(field: number, depth: number, closed = true): Buffer {
  const open = key(field, WIRE_START_GROUP);
  const close = key(field, WIRE_END_GROUP);
  return Buffer.concat([...Array<Buffer>(depth).fill(open), ...(closed ? Array<Buffer>(depth).fill(close) : [])]);
}
