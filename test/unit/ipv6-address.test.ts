/**
 * IPv6 addresses as rules read and write them (server/formats/ipv6.ts), the helpers for either family
 * (ip-address.ts, address-port.ts), checked against RFC 5952's own examples and against two
 * independent parsers and formatters: Node's (net.isIPv6, the WHATWG URL host serializer) and
 * Python's ipaddress module.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import net from 'net';

import { formatAddressPort, parseAddressPort } from '../../server/formats/address-port';
import { addressSyntaxProblem, canonicalAddress, parseIpAddress, unicastProblem } from '../../server/formats/ip-address';
import {
  formatIPv6,
  inPrefix6,
  ipv6FromWords,
  ipv6Words,
  ipv6Problem,
  isAllNodes6,
  isLoopback6,
  isMulticast6,
  isSolicitedNode6,
  isSsm6,
  isUnspecified6,
  isV4Mapped6,
  lastIPv4,
  multicastScope,
  parseIPv6,
} from '../../server/formats/ipv6';

/** A small seeded generator (mulberry32): the same cases on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 16 random bytes whose groups are often zero, so that runs of zeros of every length occur. */
function randomAddress(next: () => number): Uint8Array {
  const bytes = new Uint8Array(16);
  for (let g = 0; g < 8; g++) {
    const kind = next();
    const value = kind < 0.45 ? 0 : kind < 0.6 ? Math.floor(next() * 16) : kind < 0.7 ? Math.floor(next() * 256) : Math.floor(next() * 0x10000);
    bytes[2 * g] = value >>> 8;
    bytes[2 * g + 1] = value & 0xff;
  }
  if (next() < 0.1) bytes[0] = 0xff;
  return bytes;
}

/** Some other spelling of `bytes` RFC 4291 allows: any case, leading zeros, '::' for any zero run, a dotted tail. */
function randomSpelling(bytes: Uint8Array, next: () => number): string {
  const groups = Array.from({ length: 8 }, (_, g) => (bytes[2 * g] << 8) | bytes[2 * g + 1]);
  const words = groups.map((value) => {
    const hex = value.toString(16).padStart(1 + Math.floor(next() * 4), '0');
    return next() < 0.5 ? hex.toUpperCase() : hex;
  });
  let tail: string[] = [];
  if (next() < 0.2) {
    tail = [`${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`];
    words.length = 6;
  }
  // A run of zero groups (any, of length 1 or more) as '::'.
  const runs: Array<[number, number]> = [];
  for (let g = 0; g < words.length; g++) {
    if (groups[g] !== 0) continue;
    let end = g;
    while (end + 1 < words.length && groups[end + 1] === 0) end++;
    for (let from = g; from <= end; from++) for (let to = from; to <= end; to++) runs.push([from, to]);
    g = end;
  }
  if (runs.length > 0 && next() < 0.8) {
    const [from, to] = runs[Math.floor(next() * runs.length)];
    const head = words.slice(0, from).join(':');
    const rest = [...words.slice(to + 1), ...tail].join(':');
    return `${head}::${rest}`;
  }
  return [...words, ...tail].join(':');
}

/** Texts near the edge of the grammar: groups of 0-5 digits, stray colons, dotted quads good and bad. */
function randomText(next: () => number): string {
  const pieces = ['', '0', 'f', 'ff3e', 'FFFF', '12345', 'abc', '1', '0000', '1.2.3.4', '01.2.3.4', '255.255.255.255', '1.2.3', 'g', '::'];
  const count = 1 + Math.floor(next() * 10);
  const parts = Array.from({ length: count }, () => pieces[Math.floor(next() * pieces.length)]);
  let text = parts.join(':');
  if (next() < 0.15) text = `:${text}`;
  if (next() < 0.15) text = `${text}:`;
  return text;
}

/** What Python's ipaddress makes of each text: its canonical form, or '-' for a refusal. */
function pythonCanonical(texts: readonly string[]): string[] {
  const program = [
    'import ipaddress, sys',
    'for line in sys.stdin.read().split("\\n"):',
    '    try: print(ipaddress.IPv6Address(line))',
    '    except ValueError: print("-")',
  ].join('\n');
  const run = spawnSync('/usr/bin/python3', ['-c', program], { input: texts.join('\n'), encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(run.status, run.stderr).to.equal(0);
  return run.stdout.split('\n').slice(0, texts.length);
}

describe('IPv6 addresses', () => {
  describe('parse and format', () => {
    it('writes RFC 5952 section 4 forms', () => {
      const cases: Array<[string, string]> = [
        ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'], // 4.2.1: the longest run as "::"
        ['2001:db8:0000:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // 4.2.2: never one zero group
        ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // 4.2.3: the longest run
        ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // 4.2.3: the first on a tie
        ['2001:DB8::1', '2001:db8::1'], // 4.3: lowercase
        ['2001:0db8::0001', '2001:db8::1'], // 4.1: no leading zeros
        ['0:0:0:0:0:0:0:0', '::'],
        ['0:0:0:0:0:0:0:1', '::1'],
        ['1:0:0:0:0:0:0:0', '1::'],
        ['1:0:0:0:0:0:0:2', '1::2'],
        ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'],
        ['0:2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
        ['FF3E:0::1', 'ff3e::1'],
        ['ff02:0:0:0:0:1:ff00:0', 'ff02::1:ff00:0'],
        ['::ffff:10.1.2.3', '::ffff:a01:203'],
        ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
        ['1:2:3:4:5:6:10.1.2.3', '1:2:3:4:5:6:a01:203'],
        ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
        ['1::2:0:0:3', '1::2:0:0:3'],
      ];
      for (const [text, canonical] of cases) expect(formatIPv6(parseIPv6(text)!), text).to.equal(canonical);
    });

    it('reads every spelling of RFC 5952 section 2.1 as one address', () => {
      const spellings = [
        '2001:db8:0:0:1:0:0:1',
        '2001:0db8:0:0:1:0:0:1',
        '2001:db8::1:0:0:1',
        '2001:db8::0:1:0:0:1',
        '2001:0db8::1:0:0:1',
        '2001:db8:0:0:1::1',
        '2001:db8:0000:0:1::1',
        '2001:DB8:0:0:1::1',
      ];
      for (const text of spellings) expect(formatIPv6(parseIPv6(text)!), text).to.equal('2001:db8::1:0:0:1');
      expect(Array.from(parseIPv6('2001:db8::1:0:0:1')!)).to.deep.equal([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    });

    it('refuses every other form, and says why', () => {
      const cases: Array<[string, string]> = [
        ['', 'is not an IPv6 address: it needs 8 groups of 1-4 hex digits, or "::" for a run of zero groups and at most 7 besides'],
        ['1:2:3:4:5:6:7', 'is not an IPv6 address: it needs 8 groups'],
        ['1:2:3:4:5:6:7:8:9', 'is not an IPv6 address: it needs 8 groups'],
        ['1::2:3:4:5:6:7:8', 'is not an IPv6 address: it needs 8 groups'],
        ['1:2:3:4:5:6:7:8::', 'is not an IPv6 address: it needs 8 groups'],
        [':1::', 'is not an IPv6 address: it starts or ends with a single ":"'],
        ['1::2:', 'is not an IPv6 address: it starts or ends with a single ":"'],
        [':', 'is not an IPv6 address: it starts or ends with a single ":"'],
        [':::', 'is not an IPv6 address: it has ":::"'],
        ['1:::2', 'is not an IPv6 address: it has ":::"'],
        ['1::2::3', 'is not an IPv6 address: "::" may stand for one run of zero groups only, and it is there twice'],
        ['12345::', 'is not an IPv6 address: a group has more than 4 hex digits'],
        ['::00001', 'is not an IPv6 address: a group has more than 4 hex digits'],
        ['g::1', 'is not an IPv6 address: "g" is neither a hex digit, ":" nor "."'],
        ['::-1', 'is not an IPv6 address: "-" is neither a hex digit, ":" nor "."'],
        ['::１', 'is not an IPv6 address: "１" is neither a hex digit, ":" nor "."'],
        [' ::1', 'is not an IPv6 address: it has white space in it'],
        ['::1\n', 'is not an IPv6 address: it has white space in it'],
        ['::01.2.3.4', 'only its last 32 bits may be a dotted quad (a.b.c.d, no leading zeros), after at most 6 groups'],
        ['::1.2.3', 'only its last 32 bits may be a dotted quad'],
        ['::1.2.3.256', 'only its last 32 bits may be a dotted quad'],
        ['::1.2.3.4:5', 'only its last 32 bits may be a dotted quad'],
        ['1:2:3:4:5:6:7:1.2.3.4', 'only its last 32 bits may be a dotted quad'],
        ['::f.2.3.4', 'only its last 32 bits may be a dotted quad'],
        ['1.2.3.4', 'only its last 32 bits may be a dotted quad'],
        ['10.1.2.3::', 'only its last 32 bits may be a dotted quad'],
        ['fe80::1%eth0', "takes no zone id (%eth0): the interface comes from the rule's interface field; write fe80::1"],
        ['fe80::1%1', "takes no zone id (%1): the interface comes from the rule's interface field; write fe80::1"],
        ['[ff3e::1]', 'is written without brackets here (they go around an IPv6 address only before :PORT)'],
        ['[ff3e::1]:5000', 'is written without brackets here'],
        ['ff3e::/16', 'is a prefix, not an address: leave out /16'],
        ['2001:db8::1/128', 'is a prefix, not an address: leave out /128'],
        [`${'1:'.repeat(40)}1`, 'is not an IPv6 address: it is 81 characters long'],
      ];
      for (const [text, problem] of cases) {
        expect(parseIPv6(text), JSON.stringify(text)).to.equal(undefined);
        expect(ipv6Problem(text), JSON.stringify(text)).to.include(problem);
      }
    });

    it('agrees with Node and Python on which texts are addresses, and on their canonical form', () => {
      const next = random(17);
      const texts: string[] = [];
      for (let i = 0; i < 4000; i++) texts.push(randomText(next));
      for (let i = 0; i < 4000; i++) texts.push(randomSpelling(randomAddress(next), next));
      const python = pythonCanonical(texts);
      let valid = 0;
      texts.forEach((text, i) => {
        const bytes = parseIPv6(text);
        expect(bytes !== undefined, `${JSON.stringify(text)}: net.isIPv6 says ${net.isIPv6(text)}`).to.equal(net.isIPv6(text));
        expect(bytes !== undefined, `${JSON.stringify(text)}: Python says ${python[i]}`).to.equal(python[i] !== '-');
        if (!bytes) return;
        valid++;
        const canonical = formatIPv6(bytes);
        expect(`[${canonical}]`, text).to.equal(new URL(`http://[${text}]/`).hostname);
        expect(canonical, text).to.equal(python[i]);
      });
      // The generator's mix: thousands of each verdict, so both sides of the grammar are covered.
      expect(valid).to.be.within(4000, 7000);
    });

    it('formats what it parses and parses what it formats, on random addresses', () => {
      const next = random(4291);
      const addresses = Array.from({ length: 5000 }, () => randomAddress(next));
      const python = pythonCanonical(addresses.map((bytes) => Buffer.from(bytes).toString('hex').replace(/(.{4})(?!$)/g, '$1:')));
      addresses.forEach((bytes, i) => {
        const text = formatIPv6(bytes);
        expect(Array.from(parseIPv6(text)!), text).to.deep.equal(Array.from(bytes));
        expect(text).to.equal(python[i]);
        expect(canonicalAddress(text.toUpperCase())).to.equal(text);
      });
    });
  });

  describe('kinds of address', () => {
    const bytes = (text: string) => parseIPv6(text)!;

    it('tells multicast groups, their scope (RFC 7346) and the SSM range', () => {
      expect(isMulticast6(bytes('ff00::'))).to.equal(true);
      expect(isMulticast6(bytes('feff::1'))).to.equal(false);
      const scopes = ['reserved', 'interface-local', 'link-local', 'realm-local', 'admin-local', 'site-local', 'unassigned', 'unassigned'];
      scopes.push('organization-local', 'unassigned', 'unassigned', 'unassigned', 'unassigned', 'unassigned', 'global', 'reserved');
      scopes.forEach((name, scope) => expect(multicastScope(bytes(`ff3${scope.toString(16)}::1`)), String(scope)).to.equal(name));
      expect(multicastScope(bytes('ff12::1'))).to.equal('link-local');
      expect(isSsm6(bytes('ff3e::1234'))).to.equal(true);
      expect(isSsm6(bytes('ff35::8000:1'))).to.equal(true);
      expect(isSsm6(bytes('ff3e:0:1::1'))).to.equal(true);
      expect(isSsm6(bytes('ff3e:1::1'))).to.equal(false);
      expect(isSsm6(bytes('ff3e:100::1'))).to.equal(false);
      expect(isSsm6(bytes('ff1e::1'))).to.equal(false);
    });

    it('tells the addresses of no host, and the groups of every host', () => {
      expect(isUnspecified6(bytes('::'))).to.equal(true);
      expect(isUnspecified6(bytes('::1'))).to.equal(false);
      expect(isLoopback6(bytes('::1'))).to.equal(true);
      expect(isLoopback6(bytes('1::1'))).to.equal(false);
      expect(isV4Mapped6(bytes('::ffff:10.0.0.1'))).to.equal(true);
      expect(isV4Mapped6(bytes('::fffe:10.0.0.1'))).to.equal(false);
      expect(isV4Mapped6(bytes('::10.0.0.1'))).to.equal(false);
      expect(lastIPv4(bytes('::ffff:255.1.2.3'))).to.equal(0xff010203);
      expect(isAllNodes6(bytes('ff02::1'))).to.equal(true);
      expect(isAllNodes6(bytes('ff05::1'))).to.equal(false);
      expect(isSolicitedNode6(bytes('ff02::1:ff00:0'))).to.equal(true);
      expect(isSolicitedNode6(bytes('ff02::1:ffff:ffff'))).to.equal(true);
      expect(isSolicitedNode6(bytes('ff02::1:fe00:0'))).to.equal(false);
      expect(isSolicitedNode6(bytes('ff02::2:ff00:0'))).to.equal(false);
      expect(isSolicitedNode6(bytes('ff05::1:ff00:0'))).to.equal(false);
    });

    it('compares prefixes to the bit', () => {
      const a = bytes('2001:db8:8000::');
      expect(inPrefix6(a, bytes('2001:db8::'), 32)).to.equal(true);
      expect(inPrefix6(a, bytes('2001:db8::'), 33)).to.equal(false);
      expect(inPrefix6(a, bytes('2001:db8:8000::'), 33)).to.equal(true);
      expect(inPrefix6(a, bytes('::'), 0)).to.equal(true);
      expect(inPrefix6(a, a, 128)).to.equal(true);
    });

    it('reads the 16 bytes as four big-endian words (capture filters, membership batches), and back', () => {
      const cases: Array<[string, number[]]> = [
        ['ff3e::1', [0xff3e0000, 0, 0, 1]],
        ['2001:db8:1:2:3:4:5:6', [0x20010db8, 0x00010002, 0x00030004, 0x00050006]],
        ['::', [0, 0, 0, 0]],
        ['ff02::', [0xff020000, 0, 0, 0]],
        ['::ffff:10.1.2.3', [0, 0, 0xffff, 0x0a010203]],
        ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]],
      ];
      for (const [text, words] of cases) {
        expect([...ipv6Words(parseIPv6(text)!)], text).to.deep.equal(words);
        expect(formatIPv6(ipv6FromWords(words)), text).to.equal(formatIPv6(parseIPv6(text)!));
      }
      // In place, at an offset, as a membership batch is written.
      const batch = new Uint32Array(6);
      ipv6Words(parseIPv6('ff3e::1')!, batch, 1);
      expect([...batch]).to.deep.equal([0, 0xff3e0000, 0, 0, 1, 0]);
    });
  });

  describe('either family', () => {
    it('parses IPv4 and IPv6, and writes each canonically', () => {
      expect(parseIpAddress('239.1.2.3')).to.deep.equal({ family: 4, value: 0xef010203 });
      expect(parseIpAddress('ff3e::1')).to.have.property('family', 6);
      for (const bad of ['', '239.1.2', '239.1.2.3:5000', 'ff3e::1%eth0', 'x']) expect(parseIpAddress(bad), bad).to.equal(undefined);
      expect(canonicalAddress('239.1.2.3')).to.equal('239.1.2.3');
      expect(canonicalAddress('FF3E:0::1')).to.equal('ff3e::1');
      expect(canonicalAddress('')).to.equal('');
      expect(canonicalAddress('not:an:address'), 'left for validation to refuse').to.equal('not:an:address');
    });

    it('says what is wrong with a text that is no address', () => {
      expect(addressSyntaxProblem('')).to.equal('required: an IPv4 or IPv6 address');
      expect(addressSyntaxProblem('239.1.1')).to.equal('"239.1.1" is not an IPv4 address (a dotted quad such as 192.0.2.1) nor an IPv6 address (such as 2001:db8::1)');
      expect(addressSyntaxProblem('10.0.0.0/8')).to.equal('"10.0.0.0/8" is a prefix, not an address: leave out "/8"');
      expect(addressSyntaxProblem('fe80::1%eth0')).to.equal('"fe80::1%eth0" takes no zone id (%eth0): the interface comes from the rule\'s interface field; write fe80::1');
      expect(addressSyntaxProblem('[ff3e::1]')).to.match(/^"\[ff3e::1\]" is written without brackets here/);
      expect(addressSyntaxProblem('x'.repeat(100))).to.match(/^"x{64}"\.\.\. \(100 characters\) is not an IPv4 address/);
    });

    it('refuses as unicast: multicast, no host\'s, IPv4 in IPv6 form', () => {
      const problem = (text: string) => unicastProblem(parseIpAddress(text)!, text);
      expect(problem('10.0.0.1')).to.equal(undefined);
      expect(problem('2001:db8::1')).to.equal(undefined);
      expect(problem('fe80::1')).to.equal(undefined);
      expect(problem('::10.0.0.1'), 'IPv4-compatible (deprecated), but a host').to.equal(undefined);
      expect(problem('239.1.1.1')).to.equal('239.1.1.1 is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)');
      expect(problem('ff02::1')).to.equal('ff02::1 is not a unicast address: it is multicast (ff00::/8)');
      expect(problem('0::0')).to.equal("0::0 is the unspecified address, no host's");
      expect(problem('::1')).to.equal('::1 is the loopback address: packets to or from it never cross an interface');
      expect(problem('::FFFF:a00:1')).to.equal('::FFFF:a00:1 is an IPv4-mapped address (::ffff:0:0/96): write it as IPv4 10.0.0.1');
    });
  });

  describe('address and port', () => {
    it('writes an IPv6 address in brackets, an IPv4 one as it is', () => {
      expect(formatAddressPort('239.1.1.1', 5000)).to.equal('239.1.1.1:5000');
      expect(formatAddressPort('ff3e::1', 5000)).to.equal('[ff3e::1]:5000');
      expect(formatAddressPort('::', 1)).to.equal('[::]:1');
    });

    it('reads what it writes, the address canonical', () => {
      const next = random(3986);
      for (let i = 0; i < 500; i++) {
        const text = formatIPv6(randomAddress(next));
        const port = 1 + Math.floor(next() * 65535);
        expect(parseAddressPort(formatAddressPort(text, port))).to.deep.equal({ address: text, port });
      }
      expect(parseAddressPort('[FF3E::0001]:05000')).to.deep.equal({ address: 'ff3e::1', port: 5000 });
      expect(parseAddressPort('239.1.1.1:5000')).to.deep.equal({ address: '239.1.1.1', port: 5000 });
    });

    it('refuses an IPv6 address and port without brackets as ambiguous, showing the bracketed form', () => {
      expect(parseAddressPort('ff3e::1:5000')).to.equal('"ff3e::1:5000" is ambiguous: an IPv6 address and its port are written [ADDRESS]:PORT: [ff3e::1]:5000 if 5000 is the port');
      expect(parseAddressPort('2001:DB8::0:7:80')).to.equal('"2001:DB8::0:7:80" is ambiguous: an IPv6 address and its port are written [ADDRESS]:PORT: [2001:db8::7]:80 if 80 is the port');
      expect(parseAddressPort('ff3e::1')).to.equal('"ff3e::1" is ambiguous: an IPv6 address and its port are written [ADDRESS]:PORT, e.g. [ff3e::1]:5000');
      expect(parseAddressPort('ff3e::x:5000')).to.equal('"ff3e::x:5000" is ambiguous: an IPv6 address and its port are written [ADDRESS]:PORT, e.g. [ff3e::1]:5000');
    });
  });
});
