/**
 * Control access (issue 9): with --token-file and --read-only-token-file, calls without a token or
 * with a wrong one are UNAUTHENTICATED, the read-only token reads but cannot change anything
 * (PERMISSION_DENIED, nothing applied), the full token does everything; health and reflection stay
 * open; --socket-group hands the socket to a group. mcrctl sends the token with --token-file.
 */
import { expect } from 'chai';
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { connect, McrClient } from '../../clients/lib';
import { useRelay } from '../support/fixture';
import { grpcCode } from '../support/grpc';
import { runMcrctl } from '../support/mcrctl';
import { NET } from '../support/netns';

const NOGROUP = 65534;

function tokenFile(dir: string, name: string): { file: string; token: string } {
  const token = crypto.randomBytes(24).toString('hex');
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { file, token };
}

describe('e2e: control access with tokens and a socket group', function () {
  this.timeout(60_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-access-'));
  const full = tokenFile(dir, 'full');
  const readOnly = tokenFile(dir, 'read-only');
  const relay = useRelay({
    workers: 1,
    extraArgs: ['--token-file', full.file, '--read-only-token-file', readOnly.file, '--socket-group', String(NOGROUP)],
  });
  const clients: McrClient[] = [];
  const client = (token?: string) => {
    const c = connect({ socket: relay.mcrd.socketPath, token, timeoutMs: 5000 });
    clients.push(c);
    return c;
  };
  const rule = (port: number) => ({
    rule: { name: `r${port}`, input: { interface: NET.relayIn.ifname, group: '239.1.1.1', port }, outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.9.9', port }] },
  });

  after(() => {
    for (const c of clients) c.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('hands the socket to the group with mode 0660', function () {
    const stat = fs.statSync(relay.mcrd.socketPath);
    expect(stat.gid).to.equal(NOGROUP);
    expect((stat.mode & 0o777).toString(8)).to.equal('660');
  });

  it('refuses calls and streams without a token or with a wrong one: UNAUTHENTICATED', async function () {
    for (const anonymous of [client(), client('not-the-token-at-all')]) {
      expect(await grpcCode(anonymous.listRules({}))).to.equal('UNAUTHENTICATED');
      expect(await grpcCode(anonymous.createRule(rule(5001)))).to.equal('UNAUTHENTICATED');
      const stream = anonymous.watchStats({ intervalMs: 100 });
      expect(await grpcCode(stream[Symbol.asyncIterator]().next())).to.equal('UNAUTHENTICATED');
    }
    expect((await client(full.token).listRules({})).rules).to.have.length(0);
  });

  it('lets the read-only token read and trace-list but not change rules or settings: PERMISSION_DENIED, nothing applied', async function () {
    const reader = client(readOnly.token);
    const before = await client(full.token).listRules({});
    expect(await grpcCode(reader.listRules({}))).to.equal('OK');
    expect(await grpcCode(reader.getStats({}))).to.equal('OK');
    expect(await grpcCode(reader.listWorkers({}))).to.equal('OK');
    expect(await grpcCode(reader.listTraces({}))).to.equal('OK');
    expect(await grpcCode(reader.createRule(rule(5002)))).to.equal('PERMISSION_DENIED');
    expect(await grpcCode(reader.applyRules({ rules: [rule(5003).rule], replace: true }))).to.equal('PERMISSION_DENIED');
    expect(await grpcCode(reader.setLogLevel({ level: 'debug' }))).to.equal('PERMISSION_DENIED');
    const after = await client(full.token).listRules({});
    expect(after.storeGeneration).to.equal(before.storeGeneration);
    expect(after.rules).to.deep.equal(before.rules);
  });

  it('lets the full token change rules', async function () {
    const admin = client(full.token);
    const { rule: created } = await admin.createRule(rule(5004));
    expect(created?.name).to.equal('r5004');
    await admin.deleteRule({ rule: 'r5004' });
  });

  it('keeps health open without a token (probes need no secret)', async function () {
    expect(await relay.client.healthStatus()).to.equal('SERVING');
  });

  it('mcrctl sends the token from --token-file or $MCR_TOKEN_FILE, and without one says UNAUTHENTICATED', async function () {
    const socket = ['--socket', relay.mcrd.socketPath];
    const refused = await runMcrctl([...socket, 'rule', 'list']);
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.match(/unauthenticated/i);
    const allowed = await runMcrctl([...socket, '--token-file', full.file, 'rule', 'list']);
    expect(allowed.code, allowed.stderr).to.equal(0);
    const fromEnv = await runMcrctl([...socket, 'rule', 'add', '--name', 'via-env', '--in', NET.relayIn.ifname, '239.1.1.1:5005', '--out', NET.relayOut1.ifname, '239.9.9.9:5005'], {
      env: { MCR_TOKEN_FILE: readOnly.file },
    });
    expect(fromEnv.code).to.not.equal(0);
    expect(fromEnv.stderr).to.match(/permission denied/i);
    const missing = await runMcrctl([...socket, '--token-file', path.join(dir, 'absent'), 'rule', 'list']);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.match(/--token-file: cannot read .*ENOENT/);
  });
});
