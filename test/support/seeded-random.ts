/**
 * A small seeded pseudo-random generator for property tests: the same seed gives the same sequence,
 * so a failure found with a random seed can be replayed by setting an environment variable to it.
 * Not for anything that needs unpredictability.
 */
import crypto from 'crypto';

export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new RangeError(`a seed is a 32-bit unsigned integer, got ${seed}`);
    this.state = seed;
  }

  /** The next value in [0, 1) (mulberry32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('cannot pick from an empty list');
    return items[this.int(0, items.length - 1)];
  }

  /** An item chosen with probability proportional to its weight. */
  weighted<T>(items: ReadonlyArray<readonly [weight: number, item: T]>): T {
    const total = items.reduce((sum, [weight]) => sum + weight, 0);
    let at = this.next() * total;
    for (const [weight, item] of items) {
      if (at < weight) return item;
      at -= weight;
    }
    return items[items.length - 1][1];
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.int(0, 255);
    return out;
  }
}

/**
 * The seed in environment variable `name` when set (decimal), else a fresh random one. Say which it
 * was in failure messages so that the run can be repeated.
 */
export function seedFromEnv(name: string): number {
  const text = process.env[name];
  if (text === undefined || text === '') return crypto.randomBytes(4).readUInt32BE(0);
  const seed = Number(text);
  if (!/^\d+$/.test(text) || seed > 0xffff_ffff) throw new Error(`${name} must be a 32-bit unsigned decimal integer, got ${JSON.stringify(text)}`);
  return seed;
}
