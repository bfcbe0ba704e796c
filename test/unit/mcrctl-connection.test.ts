/** mcrctl's connection flags: token file and TLS files, from the command line to ConnectOptions. */
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { UsageError } from '../../clients/mcrctl/args';
import { connectOptions } from '../../clients/mcrctl/connection';
import type { CliIo } from '../../clients/mcrctl/io';
import { parseCommandLine } from '../../clients/mcrctl/program';

function parse(argv: string[], env: Record<string, string> = {}) {
  let stderr = '';
  const io = { stdout: () => undefined, stderr: (t: string) => (stderr += t), env, isTTY: false } as unknown as CliIo;
  const result = parseCommandLine(argv, io);
  return { result, stderr };
}

describe('mcrctl connection flags', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcrctl-conn-'));
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, 'abcdefghijklmnopqrstuvwxyz\nsecond line ignored\n');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('takes the token file from --token-file, else $MCR_TOKEN_FILE, and reads its first line', () => {
    const flag = parse(['--token-file', tokenFile, 'rule', 'list']).result;
    const fromEnv = parse(['rule', 'list'], { MCR_TOKEN_FILE: tokenFile }).result;
    for (const result of [flag, fromEnv]) {
      if (!('invocation' in result)) throw new Error('expected an invocation');
      expect(result.invocation.connection.tokenFile).to.equal(tokenFile);
      expect(connectOptions(result.invocation.connection).token).to.equal('abcdefghijklmnopqrstuvwxyz');
    }
  });

  it('refuses TLS flags without --address, and a certificate without its key, with exit 2', () => {
    expect(parse(['--tls-ca', tokenFile, 'rule', 'list']).result).to.deep.equal({ exitCode: 2 });
    expect(parse(['--address', 'localhost:50051', '--tls-cert', tokenFile, 'rule', 'list']).result).to.deep.equal({ exitCode: 2 });
  });

  it('names the flag of a file it cannot read', () => {
    expect(() => connectOptions({ socket: '/x', timeoutMs: 1000, tokenFile: path.join(dir, 'absent') })).to.throw(UsageError, /--token-file: cannot read .*ENOENT/);
    expect(() => connectOptions({ address: 'h:1', timeoutMs: 1000, tlsCa: path.join(dir, 'absent') })).to.throw(UsageError, /--tls-ca: cannot read/);
  });

  it('builds TLS credentials for --address with --tls-ca', () => {
    const options = connectOptions({ address: 'localhost:50051', timeoutMs: 1000, tlsCa: tokenFile });
    expect(options.address).to.equal('localhost:50051');
    expect(options.credentials?._isSecure()).to.equal(true);
  });
});
