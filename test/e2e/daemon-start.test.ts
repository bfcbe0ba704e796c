/**
 * mcrd's start-up checks, each on a fresh mcrd in the relay namespace with its own temporary
 * directory: what it does with whatever is already at its socket path, when it agrees to listen on
 * TCP, a corrupt rule store, and a bad command line. A refused start is a non-zero exit with a
 * message that says why, and leaves nothing running and nothing else changed.
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import fs from 'fs';
import net from 'net';

import { useTopology } from '../support/fixture';
import { ExitStatus, Mcrd } from '../support/mcrd';
import { mcrctlOk, runMcrctl } from '../support/mcrctl';
import { makeTestPki } from '../support/pki';
import { NET } from '../support/netns';
import { describeValue, waitFor } from '../support/poll';

/** Nothing else listens inside the test's own relay namespace, so any port is free there. */
const TCP_PORT = 50_051;

/** Leaves a unix socket at `socketPath` that nobody listens on, as a crashed server would. */
function leaveStaleSocket(socketPath: string): void {
  // A process that binds and exits without unlinking (Node's own servers unlink when they close).
  execFileSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', socketPath], { timeout: 10_000 });
}

function listenOn(server: net.Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
}

/** Connects to the unix socket and resolves with the first line the server sends. */
function readGreeting(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let text = '';
    const timer = setTimeout(() => socket.destroy(new Error(`no greeting from ${socketPath} within 5 s`)), 5000);
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) socket.end();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text.split('\n')[0]);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

describe('e2e: mcrd start-up checks', function () {
  this.timeout(60_000);
  const context = useTopology();
  let daemons: Mcrd[] = [];

  /** A new mcrd (not started) in the relay namespace, disposed of after the test. */
  /** A directory of this file's own, removed with the daemons' temporary directories. */
  function mcrd0Dir(): string {
    const dir = fs.mkdtempSync('/tmp/mcr-pki-');
    pkiDirs.push(dir);
    return dir;
  }
  const pkiDirs: string[] = [];
  after(() => {
    for (const dir of pkiDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  function newMcrd(extraArgs: string[] = []): Mcrd {
    const mcrd = new Mcrd(context.topology.ns.relay, { workers: 1, extraArgs });
    daemons.push(mcrd);
    return mcrd;
  }

  /** Asserts that mcrd exited by itself with a non-zero code and left no process in the namespace. */
  async function expectRefused(status: ExitStatus, mcrd: Mcrd): Promise<void> {
    expect(status.signal, `mcrd ended by signal; output:\n${mcrd.logs()}`).to.equal(null);
    expect(status.code, `mcrd exit code; output:\n${mcrd.logs()}`).to.be.a('number').and.not.equal(0);
    await waitFor('no process left in the relay namespace', () => context.topology.pids('relay'), (pids) => pids.length === 0, 5000);
  }

  afterEach(async function () {
    const failed = this.currentTest?.state === 'failed';
    for (const mcrd of daemons) {
      if (failed) process.stderr.write(`\n----- mcrd output (${this.currentTest!.fullTitle()}) -----\n${mcrd.logs()}\n----- end of mcrd output -----\n`);
      await mcrd.dispose();
    }
    daemons = [];
  });

  describe('the unix socket path', function () {
    it('a stale socket (nobody listening) is removed and mcrd starts', async function () {
      const mcrd = newMcrd();
      leaveStaleSocket(mcrd.socketPath);
      expect(fs.lstatSync(mcrd.socketPath).isSocket(), 'the stale socket is in place').to.equal(true);
      await mcrd.start();
      expect(mcrd.logs()).to.include('removed stale socket');
      expect(fs.statSync(mcrd.socketPath).mode & 0o777, 'mode of the new socket').to.equal(0o660);
    });

    it('a socket another server listens on is refused, and that server is left alone', async function () {
      const mcrd = newMcrd();
      let connections = 0;
      const other = net.createServer((connection) => {
        connections++;
        // mcrd's probe connects and hangs up at once: the greeting may meet a reset.
        connection.on('error', () => undefined);
        connection.end('other server\n');
      });
      try {
        await listenOn(other, mcrd.socketPath);
        await expectRefused(await mcrd.runUntilExit(), mcrd);
        expect(mcrd.logs()).to.include(`another server is listening on ${mcrd.socketPath}`);
        expect(other.listening, 'the other server still listens').to.equal(true);
        expect(fs.lstatSync(mcrd.socketPath).isSocket(), 'its socket is still in place').to.equal(true);
        const before = connections;
        expect(await readGreeting(mcrd.socketPath), 'a new client still reaches it').to.equal('other server');
        expect(connections).to.equal(before + 1);
      } finally {
        await new Promise<void>((resolve) => other.close(() => resolve()));
      }
    });

    it('a regular file at the socket path is refused and left as it is', async function () {
      const mcrd = newMcrd();
      const content = 'not a socket: mcrd must not replace this file\n';
      fs.writeFileSync(mcrd.socketPath, content);
      await expectRefused(await mcrd.runUntilExit(), mcrd);
      expect(mcrd.logs()).to.include(`${mcrd.socketPath} exists and is not a socket`);
      expect(fs.readFileSync(mcrd.socketPath, 'utf8')).to.equal(content);
    });
  });

  describe('TCP listeners', function () {
    it('127.0.0.1:PORT without TLS and without --insecure is refused, naming TLS', async function () {
      const address = `127.0.0.1:${TCP_PORT}`;
      const mcrd = newMcrd(['--listen', address]);
      await expectRefused(await mcrd.runUntilExit(), mcrd);
      expect(mcrd.logs()).to.include(`refusing to listen on ${address} without TLS`);
      expect(mcrd.logs()).to.include('--tls-cert');
    });

    it('with --insecure on 127.0.0.1 it serves GetVersion over TCP', async function () {
      const address = `127.0.0.1:${TCP_PORT}`;
      const mcrd = newMcrd(['--listen', address, '--insecure']);
      await mcrd.start();
      // The listener is on the relay namespace's loopback: ask from inside that namespace.
      const out = await mcrctlOk(['--address', address, '--json', 'version'], { ns: context.topology.ns.relay });
      const version = JSON.parse(out) as { server?: { protocolMajor?: number; serverVersion?: string } };
      expect(version.server?.protocolMajor, `mcrctl version --json: ${describeValue(version)}`).to.equal(1);
      expect(version.server?.serverVersion).to.match(/^\d+\.\d+\.\d+/);
    });

    it('--insecure on a non-loopback address is refused', async function () {
      const address = `${NET.relayIn.address}:${TCP_PORT}`;
      const mcrd = newMcrd(['--listen', address, '--insecure']);
      await expectRefused(await mcrd.runUntilExit(), mcrd);
      expect(mcrd.logs()).to.include(`refusing to listen on ${address} without TLS`);
      expect(mcrd.logs()).to.include('--insecure is allowed on loopback only');
    });

    it('with TLS and --tls-client-ca it serves only clients presenting a certificate of that CA', async function () {
      const pki = makeTestPki(mcrd0Dir());
      const address = `${NET.relayIn.address}:${TCP_PORT}`;
      const mcrd = newMcrd(['--listen', address, '--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--tls-client-ca', pki.ca]);
      await mcrd.start();
      const ns = { ns: context.topology.ns.relay };
      const base = ['--address', address, '--tls-ca', pki.ca, '--timeout', '3000'];
      const ok = await runMcrctl([...base, '--tls-cert', pki.clientCert, '--tls-key', pki.clientKey, '--json', 'version'], ns);
      expect(ok.code, ok.stderr).to.equal(0);
      expect((JSON.parse(ok.stdout) as { server?: { protocolMajor?: number } }).server?.protocolMajor).to.equal(1);
      for (const [what, args] of [
        ['no client certificate', base],
        ['a certificate of another CA', [...base, '--tls-cert', pki.strangerCert, '--tls-key', pki.strangerKey]],
        ['plaintext', ['--address', address, '--timeout', '3000']],
      ] as const) {
        const refused = await runMcrctl([...args, 'version'], ns);
        expect(refused.code, `${what}: ${refused.stdout}`).to.not.equal(0);
      }
    });
  });

  it('a corrupt rules.json is refused, named, and left unchanged', async function () {
    const mcrd = newMcrd();
    const storeFile = `${mcrd.stateDir}/rules.json`;
    // A store cut short in the middle of a rule, as a torn write would leave it.
    const corrupt = '{\n  "format": "mcr-rules",\n  "version": 1,\n  "generation": "3",\n  "rules": [\n    {"id": "r-1", "input": {"interface": "in0", "gro';
    fs.mkdirSync(mcrd.stateDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(storeFile, corrupt, { mode: 0o600 });
    const before = fs.statSync(storeFile);
    await expectRefused(await mcrd.runUntilExit(), mcrd);
    expect(mcrd.logs()).to.include(`rule store ${storeFile} is corrupt`);
    expect(fs.readFileSync(storeFile, 'utf8'), 'content of rules.json').to.equal(corrupt);
    const after = fs.statSync(storeFile);
    expect([after.ino, after.mtimeMs, after.mode], 'inode, mtime and mode of rules.json').to.deep.equal([before.ino, before.mtimeMs, before.mode]);
  });

  it('a bad flag exits 2 with a usage message naming the flag', async function () {
    const mcrd = newMcrd(['--no-such-flag']);
    const status = await mcrd.runUntilExit();
    expect(status.code, `exit code; output:\n${mcrd.logs()}`).to.equal(2);
    expect(mcrd.logs()).to.include("unknown option '--no-such-flag'");
    expect(mcrd.logs()).to.match(/Usage: mcrd|'mcrd --help'/);
    expect(fs.existsSync(mcrd.socketPath), 'no socket was created').to.equal(false);
  });
});
