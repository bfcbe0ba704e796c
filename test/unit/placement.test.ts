import { expect } from 'chai';

import { stableHash, workerFor } from '../../server/rules/placement';

/** Counts of (group, port) pairs per worker. */
function spread(pairs: Array<[string, number]>, workers: number): number[] {
  const counts = new Array<number>(workers).fill(0);
  for (const [group, port] of pairs) counts[workerFor(group, port, workers)]++;
  return counts;
}

function expectEven(counts: number[], total: number): void {
  const fair = total / counts.length;
  for (const count of counts) expect(count, `${counts.join(', ')}`).to.be.within(fair * 0.75, fair * 1.25);
}

describe('rule placement', () => {
  it('hashes with FNV-1a over the group bytes then the big-endian port', () => {
    // Reference values computed independently (Python) for bytes ef 00 00 01 13 88 and so on.
    expect(stableHash('239.0.0.1', 5000)).to.equal(0x342b14e6);
    expect(stableHash('224.0.0.0', 1)).to.equal(0xc8bc8a6a);
    expect(stableHash('239.255.255.255', 65535)).to.equal(0xc1ecf1ff);
    expect(stableHash('239.1.1.1', 5004)).to.equal(0x9e9dd9d8);
  });

  it('maps to a worker with the high bits of the hash', () => {
    expect([2, 3, 4, 8].map((n) => workerFor('239.0.0.1', 5000, n))).to.deep.equal([0, 0, 0, 1]);
    expect([2, 3, 4, 8].map((n) => workerFor('224.0.0.0', 1, n))).to.deep.equal([1, 2, 3, 6]);
    expect([2, 3, 4, 8].map((n) => workerFor('239.1.1.1', 5004, n))).to.deep.equal([1, 1, 2, 4]);
    expect(workerFor('239.1.1.1', 5004, 1)).to.equal(0);
  });

  it('spreads consecutive groups and consecutive ports evenly', () => {
    const groups = Array.from({ length: 4096 }, (_, i): [string, number] => [`239.1.${i >> 8}.${i & 255}`, 5000]);
    const ports = Array.from({ length: 4096 }, (_, i): [string, number] => ['239.1.1.1', 10000 + i]);
    for (const workers of [2, 3, 4, 6, 8]) {
      expectEven(spread(groups, workers), groups.length);
      expectEven(spread(ports, workers), ports.length);
    }
  });

  it('spreads groups that differ only in high bits of their bytes (every 4th group, one RTP port)', () => {
    // FNV-1a's low 2 bits depend only on the low 2 bits of each byte: `hash % 4` would put all of
    // these on one worker.
    const pairs = Array.from({ length: 1024 }, (_, i): [string, number] => [`239.2.${(i >> 6) * 4}.${(i & 63) * 4 + 1}`, 5004]);
    expect(new Set(pairs.map(([g, p]) => stableHash(g, p) % 4)).size).to.equal(1);
    expectEven(spread(pairs, 4), pairs.length);
  });

  it('refuses nonsense', () => {
    expect(() => workerFor('239.1.1.1', 5000, 0)).to.throw(RangeError);
    expect(() => workerFor('239.1.1.1', 5000, 1.5)).to.throw(RangeError);
    expect(() => stableHash('239.1.1', 5000)).to.throw(TypeError);
    expect(() => stableHash('239.1.1.1', 70000)).to.throw(RangeError);
  });
});
