import { expect } from 'chai';

import { readVarint, varintLength, writeVarint } from '../../server/formats/varint';

/** The protobuf varint of `value`, byte by byte, from its definition (7 bits a byte, low first). */
function reference(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

describe('varints written by hand', () => {
  it('length, bytes and reading agree with the definition at every byte boundary up to 2^53', () => {
    const values = [0, 1];
    for (let bits = 7; bits <= 53; bits += 1) values.push(2 ** bits - 1, 2 ** bits);
    values.push(Number.MAX_SAFE_INTEGER, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff);
    for (const value of values.filter((v) => v <= Number.MAX_SAFE_INTEGER)) {
      const into = new Uint8Array(12).fill(0xee);
      const end = writeVarint(into, 1, value);
      expect([...into.subarray(1, end)], `bytes of ${value}`).to.deep.equal(reference(value));
      expect(varintLength(value), `length of ${value}`).to.equal(end - 1);
      expect(readVarint(into, 1), `${value} read back`).to.equal(value);
    }
  });
});
