/** `mcrctl --version` and `-V` print the client's version (the package's) and exit 0 without asking mcrd. */
import { expect } from 'chai';

import { main } from '../../clients/mcrctl/main';
import type { CliIo } from '../../clients/mcrctl/io';
import packageJson from '../../package.json';

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  // MCR_SOCKET names no mcrd: the flag must not need one.
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { MCR_SOCKET: '/nonexistent/mcr.sock' }, isTTY: false };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

describe('mcrctl --version', () => {
  for (const flag of ['--version', '-V']) {
    it(`${flag} prints the package version`, async () => {
      expect(await run([flag])).to.deep.equal({ code: 0, stdout: `${packageJson.version}\n`, stderr: '' });
    });
  }

  it('is listed in the help', async () => {
    expect((await run(['--help'])).stdout).to.match(/-V, --version +print mcrctl's version/);
  });
});
