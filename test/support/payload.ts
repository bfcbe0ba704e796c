/**
 * Test datagram payloads: 8-byte sequence number, 8-byte send time (unix ns), then bytes drawn from a
 * deterministic pseudo-random generator seeded by (seed, sequence). Shared by the traffic tool's sender
 * (which builds them) and sink (which reads the header back).
 */
import crypto from 'crypto';

export const HEADER_BYTES = 16;

/** Wall-clock time in nanoseconds, with sub-millisecond resolution. */
export function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

/** xorshift32 state derived from the seed and sequence number (never zero). */
function initialState(seed: number, sequence: number): number {
  let state = (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(sequence + 1, 0x85ebca77)) >>> 0;
  state ^= state >>> 15;
  state = Math.imul(state, 0x2c1b3c6d) >>> 0;
  return state === 0 ? 0x1234567 : state;
}

/** Fills `target` with the pseudo-random bytes for (seed, sequence). */
function fillPseudoRandom(target: Buffer, seed: number, sequence: number): void {
  let state = initialState(seed, sequence);
  for (let offset = 0; offset < target.length; offset += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    for (let i = 0; i < 4 && offset + i < target.length; i++) target[offset + i] = (state >>> (8 * i)) & 0xff;
  }
}

/** Builds the payload for `sequence`, `size` bytes in all (size >= HEADER_BYTES). */
export function buildPayload(seed: number, sequence: number, size: number, sentNs: bigint): Buffer {
  if (!Number.isInteger(size) || size < HEADER_BYTES) throw new RangeError(`payload size must be an integer >= ${HEADER_BYTES}, got ${size}`);
  const payload = Buffer.allocUnsafe(size);
  payload.writeBigUInt64BE(BigInt(sequence), 0);
  payload.writeBigUInt64BE(sentNs, 8);
  fillPseudoRandom(payload.subarray(HEADER_BYTES), seed, sequence);
  return payload;
}

export interface PayloadHeader {
  sequence: number;
  sentNs: bigint;
}

/** Reads the header back; null when the datagram is too short to carry one. */
export function readHeader(payload: Buffer): PayloadHeader | null {
  if (payload.length < HEADER_BYTES) return null;
  return { sequence: Number(payload.readBigUInt64BE(0)), sentNs: payload.readBigUInt64BE(8) };
}

export function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}
