/** mcrctl's humanised rates, reason lists and local times. */
import { expect } from 'chai';

import { formatBitRate, formatLocalTime, formatPacketRate, formatRate, formatReasons } from '../../clients/mcrctl/format';

describe('mcrctl rate, reason and time formatting', () => {
  it('shows packet rates with pps, kpps and Mpps, three significant digits', () => {
    const cases: Array<[number, string]> = [
      [0, '0 pps'],
      [0.5, '0.50 pps'],
      [7.5, '7.50 pps'],
      [42.04, '42.0 pps'],
      [950, '950 pps'],
      [1000, '1.00 kpps'],
      [1234.5, '1.23 kpps'],
      [12_345, '12.3 kpps'],
      [999_000, '999 kpps'],
      [1_480_000, '1.48 Mpps'],
    ];
    for (const [rate, text] of cases) expect(formatPacketRate(rate), String(rate)).to.equal(text);
  });

  it('shows bit rates from bit/s to Gbit/s', () => {
    const cases: Array<[number, string]> = [
      [0, '0 bit/s'],
      [800, '800 bit/s'],
      [12_300, '12.3 kbit/s'],
      [11_200_000, '11.2 Mbit/s'],
      [9_410_000_000, '9.41 Gbit/s'],
      // Past the largest prefix the number just grows.
      [2_500_000_000_000, '2500 Gbit/s'],
    ];
    for (const [rate, text] of cases) expect(formatBitRate(rate), String(rate)).to.equal(text);
  });

  it('moves to the next prefix when rounding reaches 1000', () => {
    expect(formatPacketRate(999.6)).to.equal('1.00 kpps');
    expect(formatBitRate(999_999)).to.equal('1.00 Mbit/s');
    expect(formatPacketRate(999.4)).to.equal('999 pps');
  });

  it('shows "-" for a rate that is not a number', () => {
    expect(formatRate(Number.NaN, 'pps')).to.equal('-');
    expect(formatRate(-1, 'pps')).to.equal('-');
    expect(formatRate(Number.POSITIVE_INFINITY, 'pps')).to.equal('-');
  });

  it('lists non-zero reasons one per line, or 0', () => {
    expect(formatReasons([['a', 0n], ['b', 0n]])).to.equal('0');
    expect(formatReasons([])).to.equal('0');
    expect(formatReasons([['no-buffer', 40n], ['x', 0n], ['unreachable', 18446744073709551615n]])).to.equal('no-buffer 40\nunreachable 18446744073709551615');
  });

  it('shows local times to the millisecond, zero-padded', () => {
    // Built from local fields, so the expectation holds in any time zone.
    const nanos = (...fields: [number, number, number, number, number, number, number]) => BigInt(new Date(...fields).getTime()) * 1_000_000n + 999_999n;
    expect(formatLocalTime(nanos(2025, 0, 2, 3, 4, 5, 6))).to.equal('2025-01-02 03:04:05.006');
    expect(formatLocalTime(nanos(2024, 11, 31, 23, 59, 59, 999))).to.equal('2024-12-31 23:59:59.999');
  });
});
