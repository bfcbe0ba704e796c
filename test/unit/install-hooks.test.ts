/**
 * scripts/install-hooks, run in a throwaway git repository holding copies of the scripts: it links
 * the repository's pre-commit hook to scripts/pre-commit (relative, so the clone can move), is
 * idempotent, leaves someone else's hook alone unless --force, follows core.hooksPath, and the hook
 * it installs stops a commit whose staged changes have whitespace errors.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const SCRIPTS = ['install-hooks', 'pre-commit'];

/** git and the scripts see neither the user's nor the system's git configuration. */
const ENV = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

function run(cwd: string, file: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(file, args, { cwd, env: ENV, encoding: 'utf8', timeout: 20_000 });
  if (result.error) throw result.error;
  return { status: result.status, output: result.stdout + result.stderr };
}

function git(cwd: string, ...args: string[]): string {
  const result = run(cwd, 'git', args);
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.output}`);
  return result.output;
}

describe('scripts/install-hooks', function () {
  this.timeout(20_000);
  let repo: string;

  beforeEach(() => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-hooks-'));
    git(repo, 'init', '--quiet');
    git(repo, 'config', 'user.name', 'mcr test');
    git(repo, 'config', 'user.email', 'test@example.invalid');
    fs.mkdirSync(path.join(repo, 'scripts'));
    for (const script of SCRIPTS) fs.copyFileSync(path.join(REPO_ROOT, 'scripts', script), path.join(repo, 'scripts', script));
    for (const script of SCRIPTS) fs.chmodSync(path.join(repo, 'scripts', script), fs.statSync(path.join(REPO_ROOT, 'scripts', script)).mode);
  });

  afterEach(() => fs.rmSync(repo, { recursive: true, force: true }));

  const hook = () => path.join(repo, '.git', 'hooks', 'pre-commit');

  it('links .git/hooks/pre-commit to scripts/pre-commit with a relative symlink', () => {
    const { status, output } = run(repo, path.join(repo, 'scripts', 'install-hooks'), []);
    expect(status, output).to.equal(0);
    expect(fs.lstatSync(hook()).isSymbolicLink()).to.equal(true);
    expect(fs.readlinkSync(hook())).to.equal('../../scripts/pre-commit');
    expect(fs.realpathSync(hook())).to.equal(fs.realpathSync(path.join(repo, 'scripts', 'pre-commit')));
  });

  it('works from a subdirectory and does nothing the second time', () => {
    fs.mkdirSync(path.join(repo, 'docs'));
    expect(run(path.join(repo, 'docs'), '../scripts/install-hooks', []).status).to.equal(0);
    const again = run(repo, 'scripts/install-hooks', []);
    expect(again.status, again.output).to.equal(0);
    expect(again.output).to.contain('already');
    expect(fs.readlinkSync(hook())).to.equal('../../scripts/pre-commit');
  });

  it('leaves a different hook alone unless --force', () => {
    fs.mkdirSync(path.dirname(hook()), { recursive: true });
    fs.writeFileSync(hook(), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const refused = run(repo, 'scripts/install-hooks', []);
    expect(refused.status).to.equal(1);
    expect(refused.output).to.contain('--force');
    expect(fs.readFileSync(hook(), 'utf8')).to.equal('#!/bin/sh\nexit 0\n');
    const forced = run(repo, 'scripts/install-hooks', ['--force']);
    expect(forced.status, forced.output).to.equal(0);
    expect(fs.readlinkSync(hook())).to.equal('../../scripts/pre-commit');
  });

  it('installs into core.hooksPath when the repository sets one', () => {
    git(repo, 'config', 'core.hooksPath', '.githooks');
    expect(run(repo, 'scripts/install-hooks', []).status).to.equal(0);
    expect(fs.readlinkSync(path.join(repo, '.githooks', 'pre-commit'))).to.equal('../scripts/pre-commit');
    expect(fs.existsSync(hook())).to.equal(false);
  });

  it('installs a hook that refuses a commit with whitespace errors', () => {
    expect(run(repo, 'scripts/install-hooks', []).status).to.equal(0);
    fs.writeFileSync(path.join(repo, 'notes.md'), 'a line with a trailing space \n');
    git(repo, 'add', 'notes.md');
    const commit = run(repo, 'git', ['commit', '--quiet', '-m', 'notes']);
    expect(commit.status).to.not.equal(0);
    expect(commit.output).to.contain('notes.md:1: trailing whitespace');
    expect(commit.output).to.contain('FAILED: whitespace errors');
    expect(run(repo, 'git', ['rev-parse', '--verify', '--quiet', 'HEAD']).status, 'no commit was made').to.not.equal(0);
  });
});
