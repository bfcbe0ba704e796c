/**
 * scripts/install-addon.js, the package's `install` script: in a checkout (binding.gyp present) it
 * runs `node-gyp rebuild` there, as the script did before; in a package made by npm pack (no
 * binding.gyp) it compiles nothing and checks that the addon the package carries loads, failing the
 * install with a reason when it does not.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'install-addon.js');
const BUILT_ADDON = path.join(REPO_ROOT, 'build', 'Release', 'mcr.node');

/** A package root with the install script in scripts/, and what `files` says goes in it. */
function packageRoot(files: Record<string, string | Buffer>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-install-'));
  fs.mkdirSync(path.join(root, 'scripts'));
  fs.copyFileSync(SCRIPT, path.join(root, 'scripts', 'install-addon.js'));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content, { mode: 0o755 });
  }
  return root;
}

function install(root: string, env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'install-addon.js')], { cwd: root, env, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('scripts/install-addon.js (the install script)', () => {
  const roots: string[] = [];
  const root = (files: Record<string, string | Buffer>) => {
    roots.push(packageRoot(files));
    return roots[roots.length - 1];
  };
  after(() => roots.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  it('in a checkout, runs node-gyp rebuild in the package root and exits with its status', () => {
    // A stand-in node-gyp on the PATH (npm puts its own there) that records where and how it ran.
    const dir = root({ 'binding.gyp': '{}', 'bin-stub/node-gyp': '#!/bin/sh\necho "node-gyp $* in $(pwd)"\nexit 7\n' });
    const result = install(dir, { ...process.env, PATH: `${path.join(dir, 'bin-stub')}:${process.env.PATH}` });
    expect(result.stdout.trim()).to.equal(`node-gyp rebuild in ${fs.realpathSync(dir)}`);
    expect(result.status).to.equal(7);
  });

  it('in a checkout without node-gyp on the PATH, says to run it through npm', () => {
    const dir = root({ 'binding.gyp': '{}' });
    const result = install(dir, { PATH: '/nonexistent' });
    expect(result.status).to.equal(1);
    expect(result.stderr).to.match(/cannot run node-gyp \(ENOENT\): run this through npm/);
  });

  it('in a packed package, accepts the addon it carries when this node loads it', () => {
    if (!fs.existsSync(BUILT_ADDON)) throw new Error(`${BUILT_ADDON} is not built (npm ci, or npm run build:native)`);
    const dir = root({ 'build/Release/mcr.node': fs.readFileSync(BUILT_ADDON) });
    expect(install(dir)).to.deep.equal({ status: 0, stdout: '', stderr: '' });
  });

  it('in a packed package, fails naming the addon when it does not load here', () => {
    const dir = root({ 'build/Release/mcr.node': 'not an ELF file' });
    const result = install(dir);
    expect(result.status).to.equal(1);
    expect(result.stderr).to.include(`the addon in this package (${path.join(dir, 'build', 'Release', 'mcr.node')}, compiled where the package was made) does not load`);
    expect(result.stderr).to.include('install from a checkout instead');
  });
});
