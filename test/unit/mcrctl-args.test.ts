import { expect } from 'chai';
import { InvalidArgumentError } from 'commander';

import {
  hostPortArg,
  integerArg,
  parseAddrPort,
  parseEndpoints,
  parseEspAddress,
  parseInputEndpoint,
  parseSource,
  ruleArgument,
  uint64Arg,
  UsageError,
} from '../../clients/mcrctl/args';

describe('mcrctl argument values', () => {
  describe('ADDR:PORT', () => {
    it('parses an IPv4 address and port', () => {
      expect(parseAddrPort('--out', '239.9.9.9:6000')).to.deep.equal({ address: '239.9.9.9', port: 6000 });
      expect(parseAddrPort('--out', '10.20.0.7:1')).to.deep.equal({ address: '10.20.0.7', port: 1 });
      expect(parseAddrPort('--out', '10.20.0.7:65535')).to.deep.equal({ address: '10.20.0.7', port: 65535 });
    });

    for (const [value, fragment] of [
      ['239.0.0.1', 'expected ADDR:PORT'],
      ['239.0.0.1:', 'port "" in "239.0.0.1:" must be 1-65535'],
      [':5000', '"" in ":5000" is not an IPv4 address'],
      ['239.0.0.1:0', 'must be 1-65535'],
      ['239.0.0.1:65536', 'must be 1-65535'],
      ['239.0.0.1:50a', 'port "50a"'],
      ['239.0.0.1:-1', 'port "-1"'],
      ['239.0.0.256:5000', 'not an IPv4 address'],
      ['camera.local:5000', 'not an IPv4 address'],
      ['[ff02::1]:5000', 'expected ADDR:PORT'],
      ['eth1', 'expected ADDR:PORT'],
    ]) {
      it(`refuses "${value}" naming the flag`, () => {
        expect(() => parseAddrPort('--out', value))
          .to.throw(UsageError, fragment)
          .with.property('message')
          .that.match(/^--out: /);
      });
    }
  });

  describe('interface and ADDR:PORT pairs', () => {
    it('pairs the values of every occurrence in order', () => {
      expect(parseEndpoints('--out', ['eth1', '239.9.9.9:6000', 'wg0', '10.20.0.7:6000'])).to.deep.equal([
        { interface: 'eth1', address: '239.9.9.9', port: 6000 },
        { interface: 'wg0', address: '10.20.0.7', port: 6000 },
      ]);
    });

    it('refuses an odd number of values, listing them', () => {
      expect(() => parseEndpoints('--out', ['eth1', '239.9.9.9:6000', 'wg0'])).to.throw(
        UsageError,
        '--out takes two values, INTERFACE ADDR:PORT, each time it is given; got 3 value(s): eth1 239.9.9.9:6000 wg0',
      );
    });

    it('says the interface comes first when the order is swapped', () => {
      expect(() => parseEndpoints('--out', ['239.9.9.9:6000', 'eth1'])).to.throw(UsageError, 'the interface comes first');
    });

    it('names the pair whose address is bad', () => {
      expect(() => parseEndpoints('--out', ['eth1', '239.9.9.9:6000', 'wg0', '10.20.0.7'])).to.throw(
        UsageError,
        '--out wg0 10.20.0.7: expected ADDR:PORT',
      );
    });

    it('refuses an empty interface name', () => {
      expect(() => parseEndpoints('--out', ['', '239.9.9.9:6000'])).to.throw(UsageError, '--out: the interface name is empty');
    });

    it('hints at --protocol esp for an address given alone', () => {
      expect(() => parseEndpoints('--in', ['eth0', '239.1.1.1'])).to.throw(
        UsageError,
        '--in eth0 239.1.1.1: expected ADDR:PORT (IPv4 address and UDP port), got "239.1.1.1" (or --protocol esp)',
      );
      expect(() => parseAddrPort('--out', 'eth1')).to.throw(UsageError).with.property('message').that.does.not.include('--protocol');
    });

    it('takes an ESP rule\'s addresses alone, port 0, and refuses a port naming the option', () => {
      expect(parseEndpoints('--out', ['eth1', '10.0.0.9', 'eth2', '239.9.9.9'], true)).to.deep.equal([
        { interface: 'eth1', address: '10.0.0.9', port: 0 },
        { interface: 'eth2', address: '239.9.9.9', port: 0 },
      ]);
      expect(parseInputEndpoint(['eth0', '239.1.1.1'], true)).to.deep.equal({ interface: 'eth0', address: '239.1.1.1', port: 0 });
      expect(() => parseInputEndpoint(['eth0', '239.1.1.1:5000'], true)).to.throw(UsageError, "--in: an ESP rule's group has no port: 239.1.1.1:5000");
      expect(() => parseEndpoints('--add-out', ['eth1', '10.0.0.9:6000'], true)).to.throw(UsageError, "--add-out: an ESP rule's address has no port: 10.0.0.9:6000");
      expect(() => parseEspAddress('--out', '--out eth1 x', 'x')).to.throw(UsageError, '--out eth1 x: "x" is not an IPv4 address');
      expect(() => parseEndpoints('--out', ['10.0.0.9', 'eth1'], true)).to.throw(UsageError, '--out 10.0.0.9 eth1: expected INTERFACE ADDR (the interface comes first)');
      expect(() => parseEndpoints('--out', ['eth1'], true)).to.throw(UsageError, '--out takes two values, INTERFACE ADDR, each time it is given');
      expect(() => parseInputEndpoint(['eth0'], true)).to.throw(UsageError, '--in takes exactly two values, INTERFACE GROUP, and is given once');
    });

    it('takes exactly one --in', () => {
      expect(parseInputEndpoint(['eth0', '239.0.0.1:5000'])).to.deep.equal({ interface: 'eth0', address: '239.0.0.1', port: 5000 });
      expect(() => parseInputEndpoint(['eth0', '239.0.0.1:5000', 'eth1', '239.0.0.2:5000'])).to.throw(UsageError, '--in takes exactly two values');
      expect(() => parseInputEndpoint(['eth0'])).to.throw(UsageError, '--in takes exactly two values');
    });
  });

  it('accepts a unicast IPv4 --source or --from, or "", and refuses anything else naming the flag', () => {
    for (const flag of ['--source', '--from'] as const) {
      expect(parseSource(flag, '10.10.1.100')).to.equal('10.10.1.100');
      expect(parseSource(flag, '')).to.equal('');
      expect(() => parseSource(flag, 'camera')).to.throw(UsageError, `${flag}: "camera" is not an IPv4 address in dotted-quad form (e.g. 10.20.0.1)`);
    }
    // As mcrd reads addresses: a strict dotted quad (010 would be octal to inet_aton), one host.
    for (const bad of ['010.0.0.1', '10.0.0', '10.0.0.1 ', '10.0.0.256', '::1']) {
      expect(() => parseSource('--from', bad), bad).to.throw(UsageError, `--from: "${bad}" is not an IPv4 address`);
    }
    for (const bad of ['239.1.1.1', '224.0.0.1', '0.0.0.0', '255.255.255.255']) {
      expect(() => parseSource('--from', bad), bad).to.throw(UsageError, `--from: ${bad} is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)`);
    }
  });

  it('parses bounded integers', () => {
    const ttl = integerArg(1, 255);
    expect(ttl('1')).to.equal(1);
    expect(ttl('255')).to.equal(255);
    for (const bad of ['0', '256', '-1', '1.5', 'x', '', ' 4', '0x10']) {
      expect(() => ttl(bad), bad).to.throw(InvalidArgumentError, 'must be an integer from 1 to 255');
    }
  });

  it('parses uint64 generations exactly', () => {
    expect(uint64Arg('18446744073709551615')).to.equal(18446744073709551615n);
    expect(uint64Arg('0')).to.equal(0n);
    expect(() => uint64Arg('18446744073709551616')).to.throw(InvalidArgumentError);
    expect(() => uint64Arg('-1')).to.throw(InvalidArgumentError);
    expect(() => uint64Arg('3.0')).to.throw(InvalidArgumentError);
  });

  it('parses HOST:PORT for --address', () => {
    for (const good of ['localhost:50051', '127.0.0.1:1', '[::1]:9000', 'mcr.example.net:65535']) expect(hostPortArg(good)).to.equal(good);
    for (const bad of ['localhost', 'localhost:0', 'localhost:70000', '::1:9000', 'unix:/run/mcr/mcr.sock', 'a b:1']) {
      expect(() => hostPortArg(bad), bad).to.throw(InvalidArgumentError, 'HOST:PORT');
    }
  });

  it('refuses an empty RULE', () => {
    expect(ruleArgument('cam1')).to.equal('cam1');
    expect(() => ruleArgument(' ')).to.throw(InvalidArgumentError);
  });
});
