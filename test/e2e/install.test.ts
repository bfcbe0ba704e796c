/**
 * A real installation: `npm pack` of the built checkout, then `npm install -g` of the tarball into a
 * prefix of its own, with install scripts skipped (npm may skip them: the package must not need one).
 * mcrd and mcrctl are then on that prefix's PATH and work, man finds both pages, the completion
 * scripts are in the package, and the installed mcrd (in the relay namespace) serves the installed
 * mcrctl, whose bash completion offers the rule just added. The package carries the built addon and no
 * C++ sources, and so compiles nothing at install.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { registerCleanup } from '../support/cleanup';
import { useTopology } from '../support/fixture';
import { Mcrd } from '../support/mcrd';
import { NET } from '../support/netns';
import { bashComplete } from '../support/shell-completion';
import packageJson from '../../package.json';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** What `npm run build` (and npm ci) make, which the package is made of. */
const BUILT = ['dist/server/main.js', 'dist/workers/main.js', 'dist/clients/mcrctl/main.js', 'dist/descriptors/served.binpb', 'build/Release/mcr.node', 'man/mcrd.1', 'man/mcrctl.1', 'completions/mcrctl.bash', 'completions/_mcrctl'];
const NPM_TIMEOUT_MS = 180_000;

function npm(args: string[], cwd: string): string {
  const result = spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: NPM_TIMEOUT_MS, env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (result.error || result.status !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${result.status}): ${result.error?.message ?? result.stderr}`);
  return result.stdout;
}

describe('e2e: npm pack, then npm install -g of the tarball', function () {
  this.timeout(NPM_TIMEOUT_MS * 2);
  const net = useTopology();
  let dir = '';
  let prefix = '';
  let packed: string[] = [];
  let unregister: () => void = () => undefined;

  const installed = (...parts: string[]) => path.join(prefix, 'lib', 'node_modules', packageJson.name, ...parts);
  const run = (command: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    execFileSync(path.join(prefix, 'bin', command), args, { encoding: 'utf8', env: { ...process.env, PATH: `${path.join(prefix, 'bin')}:${process.env.PATH}`, ...env } });

  before(function () {
    this.timeout(NPM_TIMEOUT_MS * 2);
    const missing = BUILT.filter((file) => !fs.existsSync(path.join(REPO_ROOT, file)));
    if (missing.length > 0) throw new Error(`not built: ${missing.join(', ')} (run npm ci, or npm run build)`);
    // The workers of the installed mcrd run as nobody and read its code from here.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-install-'));
    fs.chmodSync(dir, 0o755);
    unregister = registerCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
    prefix = path.join(dir, 'prefix');
    // --ignore-scripts: pack what is built (prepare would rebuild gen/ and dist/ under other users of the checkout).
    const [pack] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], REPO_ROOT)) as Array<{ filename: string; files: Array<{ path: string }> }>;
    packed = pack.files.map((file) => file.path);
    npm(['install', '--global', '--prefix', prefix, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', path.join(dir, pack.filename)], dir);
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    unregister();
  });

  it('packs the built code, the addon, the proto files, man pages and completion scripts, and no sources', () => {
    expect(packed).to.include.members([...BUILT, 'bin/mcrd', 'bin/mcrctl', 'dist/package.json', 'scripts/install-addon.js', 'proto/mcr/v1/rules.proto', 'docs/guide.md', 'package.json']);
    const unwanted = packed.filter((file) => /\.(map|ts|cc|h)$/.test(file) || /^(test|native|bench|gen)\//.test(file) || file === 'binding.gyp');
    expect(unwanted).to.deep.equal([]);
  });

  it('puts mcrd and mcrctl on the PATH, printing the package version', () => {
    expect(run('mcrctl', ['--version'])).to.equal(`${packageJson.version}\n`);
    expect(run('mcrd', ['--version'])).to.equal(`${packageJson.version}\n`);
    expect(fs.realpathSync(path.join(prefix, 'bin', 'mcrd'))).to.equal(fs.realpathSync(installed('bin', 'mcrd')));
  });

  it('links both man pages where man finds them', () => {
    for (const page of ['mcrd', 'mcrctl']) {
      const found = execFileSync('man', ['-w', page], { encoding: 'utf8', env: { ...process.env, MANPATH: path.join(prefix, 'share', 'man') } }).trim();
      expect(fs.realpathSync(found)).to.equal(fs.realpathSync(installed('man', `${page}.1`)));
    }
    const text = execFileSync('man', ['mcrctl'], { encoding: 'utf8', env: { ...process.env, MANPATH: path.join(prefix, 'share', 'man'), MANWIDTH: '200' } });
    expect(text).to.include('mcrctl rule add');
  });

  it('runs: the installed mcrd serves the installed mcrctl, whose completion offers its rules', async () => {
    const mcrd = new Mcrd(net.topology.ns.relay, { workers: 1, executable: path.join(prefix, 'bin', 'mcrd') });
    try {
      await mcrd.start();
      const socket = ['--socket', mcrd.socketPath];
      run('mcrctl', [...socket, 'rule', 'add', '--name', 'installed-1', '--in', NET.relayIn.ifname, '239.1.2.3:5000', '--out', NET.relayOut1.ifname, '239.9.9.9:6000']);
      expect(run('mcrctl', [...socket, 'rule', 'list'])).to.include('installed-1');
      expect(run('mcrctl', [...socket, 'workers'])).to.match(/\b65534\b/);
      const bash = fs.readFileSync(installed('completions', 'mcrctl.bash'), 'utf8');
      expect(bash).to.equal(run('mcrctl', ['completion', 'bash']));
      const env = { ...process.env, PATH: `${path.join(prefix, 'bin')}:${process.env.PATH}` };
      expect(bashComplete(bash, [...socket, 'rule', 'get', 'inst'], env)).to.deep.equal(['installed-1']);
    } finally {
      await mcrd.dispose();
    }
  });
});
