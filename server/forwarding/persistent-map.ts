/**
 * An immutable map that a change copies in O(size / CHUNK + changed keys x CHUNK), not O(size): the
 * entries live in small maps (chunks of about CHUNK entries, chosen by a hash of the key), and a
 * changed map shares every chunk the change did not touch. Copying the array of chunk references is
 * a flat copy of pointers, far cheaper per entry than copying a Map; so a one-key change of a
 * 40,000-entry map costs a 2,500-slot array copy and one 16-entry map, and a 64-key change 64 small
 * maps at most. When the size drifts well away from what the chunk count was chosen for, a change
 * re-chunks everything (amortised O(1) per change).
 */

/** The entries a chunk holds on average. */
const CHUNK = 16;

/** 32-bit hash of a key (numbers: their bits mixed; anything else: its text, FNV-1a). */
function hashOf(key: unknown): number {
  if (typeof key === 'number' && Number.isInteger(key)) {
    let h = Math.imul(key ^ (key >>> 16), 0x45d9f3b);
    h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
    return (h ^ (h >>> 16)) >>> 0;
  }
  const text = String(key);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The chunk count (a power of two) for `size` entries. */
function chunksFor(size: number): number {
  let count = 1;
  while (count * CHUNK < size) count *= 2;
  return count;
}

export class PersistentMap<K, V> implements ReadonlyMap<K, V> {
  private constructor(
    private readonly chunks: ReadonlyArray<ReadonlyMap<K, V> | undefined>,
    readonly size: number,
  ) {}

  static of<K, V>(map: ReadonlyMap<K, V>): PersistentMap<K, V> {
    return PersistentMap.chunked(map, map.size);
  }

  private static chunked<K, V>(entries: Iterable<[K, V]>, size: number): PersistentMap<K, V> {
    const count = chunksFor(size);
    const chunks: Array<Map<K, V> | undefined> = new Array(count).fill(undefined);
    for (const [key, value] of entries) {
      const at = hashOf(key) & (count - 1);
      (chunks[at] ??= new Map()).set(key, value);
    }
    return new PersistentMap(chunks, size);
  }

  /** A map with `changes` made (undefined: the key removed); this one stays as it is. */
  with(changes: ReadonlyMap<K, V | undefined>): PersistentMap<K, V> {
    if (changes.size === 0) return this;
    const mask = this.chunks.length - 1;
    const copied = new Map<number, Map<K, V>>();
    let size = this.size;
    for (const [key, value] of changes) {
      const at = hashOf(key) & mask;
      let chunk = copied.get(at);
      if (!chunk) {
        const before = this.chunks[at];
        if (value === undefined && !before?.has(key)) continue;
        copied.set(at, (chunk = new Map(before)));
      }
      const had = chunk.has(key);
      if (value === undefined) {
        if (had) size--;
        chunk.delete(key);
      } else {
        if (!had) size++;
        chunk.set(key, value);
      }
    }
    if (copied.size === 0) return this;
    const count = this.chunks.length;
    if (size > 2 * count * CHUNK || (count > 1 && size * 4 < count * CHUNK)) {
      const merged = this.chunks.map((chunk, at) => copied.get(at) ?? chunk);
      return PersistentMap.chunked(PersistentMap.entriesOf(merged), size);
    }
    const chunks = this.chunks.slice();
    for (const [at, chunk] of copied) chunks[at] = chunk.size > 0 ? chunk : undefined;
    return new PersistentMap(chunks, size);
  }

  get(key: K): V | undefined {
    return this.chunks[hashOf(key) & (this.chunks.length - 1)]?.get(key);
  }

  has(key: K): boolean {
    return this.chunks[hashOf(key) & (this.chunks.length - 1)]?.has(key) ?? false;
  }

  private static *entriesOf<K, V>(chunks: ReadonlyArray<ReadonlyMap<K, V> | undefined>): MapIterator<[K, V]> {
    for (const chunk of chunks) if (chunk) yield* chunk;
  }

  entries(): MapIterator<[K, V]> {
    return PersistentMap.entriesOf(this.chunks);
  }

  *keys(): MapIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }
}
