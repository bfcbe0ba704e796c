/**
 * Values the API fuzzer puts into rule requests: those validation must refuse (with the rule each
 * breaks, for the failure message) and valid values at the edges of what it accepts.
 */

/** Longer than the 4 MiB mcrd accepts for a whole message. */
export const OVERSIZED_LENGTH = 4 * 1024 * 1024 + 1024;

/** Text that is not a strict dotted quad. */
export const BAD_ADDRESSES: readonly string[] = [
  '239.1.1',
  '239.1.1.1.1',
  '256.1.1.1',
  '239.1.1.256',
  '239.01.1.1', // leading zero (inet_aton would read octal)
  ' 239.1.1.1',
  '239.1.1.1 ',
  '239.1.1.1\n',
  '239.1.1.1\0',
  '0x7f.0.0.1',
  '239.1.1.-1',
  '239..1.1',
  '::1',
  'ff02::1',
  '２３９.1.1.1', // full-width digits
  '239.1.1.1/32',
  'localhost',
  '4294967295',
  '-1',
  '1e3.1.1.1',
];

/** Valid addresses that are not multicast groups (refused as an input group). */
export const NOT_MULTICAST: readonly string[] = ['10.1.0.2', '0.0.0.0', '255.255.255.255', '240.0.0.1', '223.255.255.255', '127.0.0.1'];

/** Refused as a source (it must be unicast). */
export const BAD_SOURCES: readonly string[] = ['239.1.1.1', '224.0.0.1', '0.0.0.0', '255.255.255.255'];

/** Refused as an output destination. */
export const BAD_DESTINATIONS: readonly string[] = ['0.0.0.0', '255.255.255.255'];

/** Interface names Linux would refuse (dev_valid_name), as UTF-8 bytes. */
export const BAD_INTERFACES: readonly string[] = [
  'in/0',
  'eth0:1',
  'eth 0',
  'eth\t0',
  'eth0\n',
  '.',
  '..',
  'abcdefghijklmnop', // 16 bytes
  'ééééééééé', // 18 bytes
  '💥💥💥💥', // 16 bytes
  'a\0b',
  '/',
  'eth\u00a0', // NBSP: 0xc2 0xa0, and 0xa0 is a space to the kernel
];

/** Unusual but valid interface names (a rule may name an interface that does not exist yet). */
export const ODD_INTERFACES: readonly string[] = ['a', 'abcdefghijklmno', 'fz-if.100', 'é-if', '💥x', 'if@0', 'x_y-z', '0', '...'];

/** Rule ids and names validation refuses (1-63 of [A-Za-z0-9._-], starting with a letter or digit). */
export const BAD_IDENTIFIERS: readonly string[] = [
  '-leading-dash',
  '.leading-dot',
  '_x',
  'has space',
  'has/slash',
  'unicodé',
  '名前',
  '💥',
  'x'.repeat(64),
  'tab\there',
  'nul\0',
  'new\nline',
];

/** Valid ids and names at the edges (the caller adds a unique suffix where uniqueness matters). */
export const ODD_IDENTIFIER_PREFIXES: readonly string[] = ['0', 'A.b_c-d', 'Z9'];

/** Ports outside 1-65535 that still fit the uint32 field. */
export const BAD_PORTS: readonly number[] = [0, 65536, 100_000, 0x7fff_ffff, 0xffff_ffff];

export const BAD_TTLS: readonly number[] = [0, 256, 1000, 0xffff_ffff];
export const BAD_DSCPS: readonly number[] = [64, 255, 0xffff_ffff];

/** Rule references (id or name) that name nothing. */
export const MISSING_REFS: readonly string[] = ['r-000000000000', 'no-such-rule', 'R-FFFFFFFFFFFF', '💥', 'in0 239.1.1.1:5000', '../../etc/passwd', '%s%n', 'x'.repeat(100_000)];
