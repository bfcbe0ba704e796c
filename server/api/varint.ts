/** Protobuf varints written by hand, for answers assembled from parts encoded before (pre-encoded.ts). */

/** The bytes `value` (a non-negative integer up to 2^53) takes as a varint. */
export function varintLength(value: number): number {
  let length = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) length++;
  return length;
}

/** Writes `value` as a varint into `into` at `at`; returns where it ends. */
export function writeVarint(into: Buffer, at: number, value: number): number {
  let rest = value;
  while (rest >= 0x80) {
    into[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
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
