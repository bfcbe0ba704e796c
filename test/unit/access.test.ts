/** AccessControl's decisions and the token, group and limit flags of mcrd's command line. */
import { Metadata, status } from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { AccessControl, WRITE_METHODS } from '../../server/api/access';
import { resolveGroup } from '../../server/api/socket-group';
import { DEFAULT_LIMITS } from '../../server/config/limits';
import { parseDaemonArgs, UsageError } from '../../server/config/options';

const FULL = 'f'.repeat(32);
const READ = 'r'.repeat(32);

function withToken(token?: string): Metadata {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', token);
  return metadata;
}

describe('access control', () => {
  const access = new AccessControl({ full: FULL, readOnly: READ });

  it('allows everything when no token is configured', () => {
    expect(new AccessControl({}).check('/mcr.v1.RuleService/CreateRule', withToken())).to.equal(null);
  });

  it('refuses a missing, malformed or wrong token with UNAUTHENTICATED', () => {
    for (const value of [undefined, FULL, `Basic ${FULL}`, `Bearer ${FULL}x`, 'Bearer ', `Bearer ${READ.slice(1)}`]) {
      expect(access.check('/mcr.v1.RuleService/ListRules', withToken(value))?.code, String(value)).to.equal(status.UNAUTHENTICATED);
    }
  });

  it('gives the full token every method and the read-only one all but the writing ones', () => {
    for (const method of [...WRITE_METHODS, '/mcr.v1.RuleService/ListRules', '/mcr.v1.TraceService/EnableTrace']) {
      expect(access.check(method, withToken(`Bearer ${FULL}`)), method).to.equal(null);
    }
    for (const method of WRITE_METHODS) expect(access.check(method, withToken(`bearer ${READ}`))?.code, method).to.equal(status.PERMISSION_DENIED);
    expect(access.check('/mcr.v1.StatsService/WatchStats', withToken(`Bearer ${READ}`))).to.equal(null);
  });

  it('refuses equal full and read-only tokens', () => {
    expect(() => new AccessControl({ full: FULL, readOnly: FULL })).to.throw(/must differ/);
  });

  it('resolves socket groups by number and by name, and names an unknown one', () => {
    expect(resolveGroup('65534')).to.equal(65534);
    expect(resolveGroup('root')).to.equal(0);
    expect(() => resolveGroup('no-such-group-mcr')).to.throw(/--socket-group: no group named "no-such-group-mcr"/);
  });
});

describe('mcrd flags: tokens and limits', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-flags-'));
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads the token files, and refuses short, missing or lone read-only tokens naming the file', () => {
    const full = file('full', `${FULL}\n`);
    const read = file('read', `  ${READ}  \n`);
    expect(parseDaemonArgs(['--token-file', full, '--read-only-token-file', read]).tokens).to.deep.equal({ full: FULL, readOnly: READ });
    expect(() => parseDaemonArgs(['--token-file', file('short', 'abc')])).to.throw(UsageError, /shorter than 16 characters/);
    expect(() => parseDaemonArgs(['--token-file', path.join(dir, 'none')])).to.throw(UsageError, /cannot read the token file/);
    expect(() => parseDaemonArgs(['--read-only-token-file', read])).to.throw(UsageError, /needs --token-file/);
  });

  it('takes every limit from its flag, with the defaults otherwise, and refuses out-of-range ones', () => {
    expect(parseDaemonArgs([]).limits).to.deep.equal(DEFAULT_LIMITS);
    const limits = parseDaemonArgs(['--max-rules', '5', '--max-streams', '7', '--max-request-bytes', '2048']).limits;
    expect(limits).to.include({ maxRules: 5, maxStreams: 7, maxRequestBytes: 2048, maxOutputsPerRule: 64 });
    expect(() => parseDaemonArgs(['--max-rules', '0'])).to.throw(UsageError, /--max-rules/);
  });
});
