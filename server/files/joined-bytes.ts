/**
 * Strings joined by a separator, written straight into a buffer as UTF-8: what
 * `Buffer.from(parts.join(separator))` makes, without the joined string and its second copy (journal
 * frames and snapshots are megabytes at 64 outputs a rule).
 */

/** How many bytes `parts` joined by `separator` take. */
export function joinedByteLength(parts: readonly string[], separator: string): number {
  let length = Buffer.byteLength(separator) * Math.max(parts.length - 1, 0);
  for (const part of parts) length += Buffer.byteLength(part);
  return length;
}

/** Writes `parts` joined by `separator` into `into` from `at`; returns the offset after them. */
export function writeJoined(into: Buffer, at: number, parts: readonly string[], separator: string): number {
  parts.forEach((part, index) => {
    if (index > 0) at += into.write(separator, at);
    at += into.write(part, at);
  });
  return at;
}
