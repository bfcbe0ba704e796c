/** `mcrctl completion bash`: a script bash accepts that completes mcrctl's real commands and options. */
import { expect } from 'chai';
import { execFileSync } from 'child_process';

import { main } from '../../clients/mcrctl/main';
import type { CliIo } from '../../clients/mcrctl/io';

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: (t: string) => (stdout += t), stderr: (t: string) => (stderr += t), env: {}, isTTY: false } as unknown as CliIo;
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** What the script completes for the words typed so far (the last one being completed). */
function complete(script: string, words: string[]): string[] {
  const line = ['mcrctl', ...words].map((w) => `'${w}'`).join(' ');
  const program = `${script}\nCOMP_WORDS=(${line}); COMP_CWORD=${words.length}; _mcrctl; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['-c', program], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}

describe('mcrctl completion bash', () => {
  let script = '';
  before(async () => {
    const result = await run(['completion', 'bash']);
    expect(result.code, result.stderr).to.equal(0);
    script = result.stdout;
  });

  it('is valid bash that registers the completion function', () => {
    execFileSync('bash', ['-n', '-c', script]);
    expect(script).to.match(/^complete -F _mcrctl mcrctl$/m);
  });

  it('completes commands, subcommands and their options', () => {
    expect(complete(script, [''])).to.include.members(['rule', 'stats', 'trace', 'config', 'completion', '--socket', '--token-file']);
    expect(complete(script, ['ru'])).to.deep.equal(['rule']);
    expect(complete(script, ['rule', ''])).to.include.members(['add', 'list', 'get', 'update', 'delete']);
    expect(complete(script, ['--socket', '/tmp/x.sock', 'rule', 'add', '--na'])).to.deep.equal(['--name']);
    expect(complete(script, ['trace', 'start', 'r1', '--sa'])).to.deep.equal(['--sample']);
  });

  it('refuses another shell with exit 2', async () => {
    const result = await run(['completion', 'zsh']);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/only bash is supported/);
  });
});
