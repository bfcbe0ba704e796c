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
