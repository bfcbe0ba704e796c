import { expect } from 'chai';

import { DEFAULT_SOCKET, DEFAULT_STATE_DIR, parseDaemonArgs, parseListener, UsageError } from '../../server/config/options';

describe('mcrd options', () => {
  it('has the documented defaults', () => {
    const o = parseDaemonArgs([]);
    expect(o.listen).to.deep.equal([{ kind: 'unix', path: DEFAULT_SOCKET }]);
    expect(o.stateDir).to.equal(DEFAULT_STATE_DIR);
    expect(o.workers).to.be.greaterThan(0);
    expect(o.insecure).to.equal(false);
  });

  it('parses repeated listeners of both kinds', () => {
    const o = parseDaemonArgs(['--listen', 'unix:/tmp/a.sock', '--listen', '127.0.0.1:9000', '--listen', '[::1]:9001', '--workers', '2']);
    expect(o.listen).to.deep.equal([
      { kind: 'unix', path: '/tmp/a.sock' },
      { kind: 'tcp', host: '127.0.0.1', port: 9000 },
      { kind: 'tcp', host: '::1', port: 9001 },
    ]);
    expect(o.workers).to.equal(2);
  });

  for (const [args, fragment] of [
    [['--workers', '0'], '--workers'],
    [['--workers', 'two'], '--workers'],
    [['--listen', 'unix:relative.sock'], 'absolute'],
    [['--listen', 'host:70000'], 'HOST:PORT'],
    [['--log-level', 'loud'], 'error, warn, info, debug'],
    [['--tls-cert', '/x.pem'], '--tls-key'],
    [['--bogus'], 'bogus'],
  ] as Array<[string[], string]>) {
    it(`refuses ${args.join(' ')}`, () => {
      expect(() => parseDaemonArgs(args)).to.throw(UsageError, fragment);
    });
  }

  it('parses a listener by itself', () => {
    expect(parseListener('localhost:50051')).to.deep.equal({ kind: 'tcp', host: 'localhost', port: 50051 });
  });
});
