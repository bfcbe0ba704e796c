/**
 * Protobuf varints written by hand: for mcrd's answers assembled from parts encoded before
 * (server/api/pre-encoded.ts) and the client library's ApplyRules encoder (clients/lib/apply-rules-encoding.ts).
 */

/** The bytes `value` (a non-negative integer up to 2^53) takes as a varint. */
export function varintLength(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  if (value < 0x1000_0000) return 4;
  let length = 5;
  for (let rest = Math.floor(value / 0x8_0000_0000); rest > 0; rest = Math.floor(rest / 0x80)) length++;
  return length;
}

/** Writes `value` as a varint into `into` at `at`; returns where it ends. */
export function writeVarint(into: Uint8Array, at: number, value: number): number {
  let rest = value;
  // Above 2^31 - 1 the bit operators would wrap: divide instead.
  while (rest > 0x7fff_ffff) {
    into[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  while (rest >= 0x80) {
    into[at++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  into[at++] = rest;
  return at;
}

/** The varint at bytes[at], as our own encoder wrote it (minimal: it takes varintLength(value) bytes). */
export function readVarint(bytes: Uint8Array, at: number): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
}
