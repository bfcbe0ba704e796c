/**
 * mcrctl's start-up (docs/decisions/0016-mcrctl-startup.md): --help, --version, usage errors and
 * `completion` load neither grpc-js nor the generated code nor mcrd's config parser; a command that
 * calls mcrd loads the client then. Checked by which modules a fresh process has loaded, not by time.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import path from 'path';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The heavy modules a fresh process has loaded after running `mcrctl ARGS` (with MCR_SOCKET naming no mcrd). */
function heavyModulesAfter(args: string[]): string[] {
  const program = `
    const { main } = require('./clients/mcrctl/main');
    const quiet = { stdout: () => {}, stderr: () => {}, env: { MCR_SOCKET: '/nonexistent/mcr.sock' } };
    main(${JSON.stringify(args)}, quiet).then(() => {
      const loaded = Object.keys(require.cache);
      const heavy = { grpc: /@grpc[\\\\/]grpc-js/, generated: /[\\\\/]gen[\\\\/]mcr[\\\\/]/, json5: /[\\\\/]json5[\\\\/]/ };
      process.stdout.write(JSON.stringify(Object.keys(heavy).filter((name) => loaded.some((file) => heavy[name].test(file)))));
    });`;
  const result = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', program], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`mcrctl ${args.join(' ')} in a child failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as string[];
}

describe('mcrctl start-up', function () {
  this.timeout(120_000);

  for (const args of [['--version'], ['--help'], ['rule', 'add', '--in', 'eth0'], ['completion', 'bash'], ['events', '--kind', 'bogus']]) {
    it(`mcrctl ${args.join(' ')} loads no grpc-js, generated code or config parser`, () => {
      expect(heavyModulesAfter(args)).to.deep.equal([]);
    });
  }

  it('a command that calls mcrd loads the client (and so grpc-js) then', () => {
    expect(heavyModulesAfter(['rule', 'list', '--timeout', '200'])).to.include.members(['grpc', 'generated']);
  });
});
