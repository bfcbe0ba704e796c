/**
 * `mcrctl completion bash|zsh`: scripts the shells accept that complete mcrctl's real commands and
 * options, the values their placeholders name (RULE and IF asked of mcrd through `mcrctl __complete`,
 * with the connection options on the line; FILE; fixed choices), generated from the command tree.
 * Completion runs in the real shells (test/support/shell-completion.ts); `mcrctl` on their PATH is a
 * stand-in that records its arguments and answers with fixed names. test/e2e/mcrctl-completion.test.ts
 * asks a real mcrd.
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import { Command, Option } from 'commander';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { bashCompletion, zshCompletion } from '../../clients/mcrctl/completion';
import { COMPLETION_TIMEOUT_MS, completionNames } from '../../clients/mcrctl/completion-names';
import type { McrClient } from '../../clients/lib/client';
import { main } from '../../clients/mcrctl/main';
import type { CliIo } from '../../clients/mcrctl/io';
import { bashComplete, zshComplete } from '../support/shell-completion';

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: {}, isTTY: false };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** A directory with a stand-in `mcrctl`: records each command line in ./calls, answers __complete. */
function fakeMcrctl(answers: { rules: string[]; interfaces: string[] } | 'failing'): { env: NodeJS.ProcessEnv; calls(): string[]; dispose(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-fake-mcrctl-'));
  const log = path.join(dir, 'calls');
  const reply =
    answers === 'failing'
      ? `echo "mcrctl: cannot reach mcrd" >&2; exit 3`
      : `case "$*" in
  *'__complete rules') printf '%s\\n' ${answers.rules.join(' ')} ;;
  *'__complete interfaces') printf '%s\\n' ${answers.interfaces.join(' ')} ;;
esac`;
  fs.writeFileSync(path.join(dir, 'mcrctl'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\n${reply}\n`, { mode: 0o755 });
  return {
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

const RULES = ['r-0123456789ab', 'camera-1'];
const INTERFACES = ['eth0', 'in0'];

describe('mcrctl completion', () => {
  let bash = '';
  let zsh = '';
  let fake: ReturnType<typeof fakeMcrctl>;
  before(async () => {
    for (const shell of ['bash', 'zsh']) {
      const result = await run(['completion', shell]);
      expect(result.code, result.stderr).to.equal(0);
      if (shell === 'bash') bash = result.stdout;
      else zsh = result.stdout;
    }
    fake = fakeMcrctl({ rules: RULES, interfaces: INTERFACES });
  });
  after(() => fake.dispose());

  describe('bash', () => {
    it('is valid bash that registers the completion function', () => {
      execFileSync('bash', ['-n', '-c', bash]);
      expect(bash).to.match(/^complete -F _mcrctl mcrctl$/m);
    });

    it('completes commands, subcommands and their options', () => {
      expect(bashComplete(bash, [''])).to.include.members(['rule', 'stats', 'trace', 'config', 'completion', '--socket', '--token-file', '--version']);
      expect(bashComplete(bash, ['ru'])).to.deep.equal(['rule']);
      expect(bashComplete(bash, ['rule', ''])).to.include.members(['add', 'list', 'get', 'update', 'delete']);
      expect(bashComplete(bash, ['--socket', '/tmp/x.sock', 'rule', 'add', '--na'])).to.deep.equal(['--name']);
      expect(bashComplete(bash, ['trace', 'start', 'r1', '--sa'])).to.deep.equal(['--sample']);
      // --vlan takes a value (a number: nothing to offer, no option); --no-vlan is rule update's only.
      expect(bashComplete(bash, ['rule', 'add', '--vl'])).to.deep.equal(['--vlan']);
      expect(bashComplete(bash, ['rule', 'add', '--vlan', ''])).to.deep.equal([]);
      expect(bashComplete(bash, ['rule', 'update', 'cam1', '--no-v'])).to.deep.equal(['--no-vlan']);
      expect(bashComplete(bash, ['rule', 'add', '--no-v'])).to.deep.equal([]);
      // --from takes an address: nothing to offer (the interface's addresses are mcrd's to check).
      expect(bashComplete(bash, ['rule', 'update', 'cam1', '--fr'])).to.deep.equal(['--from']);
      expect(bashComplete(bash, ['rule', 'add', '--from', ''])).to.deep.equal([]);
    });

    it('leaves hidden commands out', () => {
      expect(bashComplete(bash, ['_'])).to.deep.equal([]);
    });

    it('completes a RULE with the ids and names mcrd has', () => {
      for (const words of [['rule', 'get', ''], ['rule', 'update', ''], ['stats', ''], ['trace', ''], ['trace', 'stop', '']]) {
        expect(bashComplete(bash, words, fake.env), words.join(' ')).to.include.members(RULES);
      }
      expect(bashComplete(bash, ['rule', 'delete', 'cam'], fake.env)).to.deep.equal(['camera-1']);
    });

    it('completes an IF with the interfaces mcrd sees, after --in and --out but not for their second value', () => {
      expect(bashComplete(bash, ['rule', 'add', '--in', ''], fake.env)).to.deep.equal(INTERFACES);
      expect(bashComplete(bash, ['rule', 'add', '--in', 'eth0', ''], fake.env)).to.deep.equal([]);
      // bash hands GROUP:PORT over as three words: the walk must still count it as one value.
      expect(bashComplete(bash, ['rule', 'add', '--in', 'eth0', '239.1.1.1:5000', '--out', 'i'], fake.env)).to.deep.equal(['in0']);
      expect(bashComplete(bash, ['rule', 'add', '--in', 'eth0', '239.1.1.1:5000', '--ou'], fake.env)).to.deep.equal(['--out']);
    });

    it('asks mcrd where the line says, with the connection options given', () => {
      const calls = fakeMcrctl({ rules: RULES, interfaces: INTERFACES });
      try {
        bashComplete(bash, ['--socket', '/run/x.sock', 'rule', 'get', ''], calls.env);
        bashComplete(bash, ['--json', 'rule', 'add', '--address', 'localhost:50051', '--tls-ca', '/etc/ca.pem', '--in', ''], calls.env);
        bashComplete(bash, ['--address=localhost:50051', 'stats', ''], calls.env);
        expect(calls.calls()).to.deep.equal([
          '--socket /run/x.sock __complete rules',
          '--address localhost:50051 --tls-ca /etc/ca.pem __complete interfaces',
          '--address=localhost:50051 __complete rules',
        ]);
      } finally {
        calls.dispose();
      }
    });

    it('offers nothing from mcrd, and writes nothing to stderr, when it cannot answer', () => {
      const failing = fakeMcrctl('failing');
      try {
        expect(bashComplete(bash, ['rule', 'get', 'c'], failing.env)).to.deep.equal([]);
        expect(bashComplete(bash, ['rule', 'get', '--h'], failing.env)).to.deep.equal(['--help']);
      } finally {
        failing.dispose();
      }
    });

    it('completes file names for FILE and the choices of an argument or option', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-completion-'));
      try {
        fs.writeFileSync(path.join(dir, 'rules.json5'), '{}');
        expect(bashComplete(bash, ['config', 'check', path.join(dir, 'ru')])).to.deep.equal([path.join(dir, 'rules.json5')]);
        expect(bashComplete(bash, ['--token-file', path.join(dir, 'r')])).to.deep.equal([path.join(dir, 'rules.json5')]);
        expect(bashComplete(bash, ['completion', ''])).to.include.members(['bash', 'zsh']);
        expect(bashComplete(bash, ['completion', 'z'])).to.deep.equal(['zsh']);
        expect(bashComplete(bash, ['rule', 'update', 'cam1', '--oversize', ''])).to.have.members(['fragment', 'drop']);
        expect(bashComplete(bash, ['rule', 'add', '--protocol', ''])).to.have.members(['udp', 'esp']);
        expect(bashComplete(bash, ['rule', 'update', 'cam1', '--protocol', 'e'])).to.deep.equal(['esp']);
        expect(bashComplete(bash, ['rule', 'add', '--pro'])).to.deep.equal(['--protocol']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('zsh', () => {
    it('is valid zsh, loadable from $fpath (#compdef) or by sourcing', () => {
      execFileSync('zsh', ['-n', '-c', zsh]);
      expect(zsh.split('\n')[0]).to.equal('#compdef mcrctl');
    });

    it('completes commands, subcommands and their options', () => {
      expect(zshComplete(zsh, 'mcrctl ')).to.include.members(['rule', 'stats', 'trace', 'config', 'completion', '--socket', '--version']);
      expect(zshComplete(zsh, 'mcrctl rule ')).to.include.members(['add', 'list', 'get', 'update', 'delete']);
      expect(zshComplete(zsh, 'mcrctl --socket /tmp/x.sock rule add --na')).to.deep.equal(['--name']);
    });

    it('completes RULE and IF from mcrd, passing the connection options on', () => {
      const calls = fakeMcrctl({ rules: RULES, interfaces: INTERFACES });
      try {
        expect(zshComplete(zsh, 'mcrctl --socket /run/x.sock rule get ', calls.env)).to.include.members(RULES);
        expect(zshComplete(zsh, 'mcrctl rule add --in eth0 239.1.1.1:5000 --out ', calls.env)).to.deep.equal(INTERFACES);
        expect(calls.calls()).to.deep.equal(['--socket /run/x.sock __complete rules', '__complete interfaces']);
      } finally {
        calls.dispose();
      }
    });

    it('works the same when autoloaded from $fpath', () => {
      expect(zshComplete(zsh, 'mcrctl rule delete ca', fake.env, 'fpath')).to.deep.equal(['camera-1']);
      expect(zshComplete(zsh, 'mcrctl completion ', fake.env, 'fpath')).to.include.members(['bash', 'zsh']);
    });
  });

  it('is generated from the command tree: a new command, option or argument is completed', () => {
    const program = new Command('mcrctl').option('--socket <PATH>', 'socket');
    program.command('zap').argument('<RULE>', 'a rule').addOption(new Option('--via <IF> <HOP>', 'an interface'));
    for (const [script, complete] of [
      [bashCompletion(program), (words: string[]) => bashComplete(bashCompletion(program), words, fake.env)],
      [zshCompletion(program), (words: string[]) => zshComplete(zshCompletion(program), ['mcrctl', ...words].join(' '), fake.env)],
    ] as const) {
      expect(script).to.include('zap');
      expect(complete([''])).to.include.members(['zap', '--socket']);
      expect(complete(['zap', '--v'])).to.deep.equal(['--via']);
      expect(complete(['zap', '--via', ''])).to.deep.equal(INTERFACES);
      expect(complete(['zap', ''])).to.include.members(RULES);
    }
  });

  describe('mcrctl __complete', () => {
    it('lists rule ids and names, or interface names, asking with a short deadline', async () => {
      const deadlines: Array<number | undefined> = [];
      const client = {
        listAllRules: async (_request: unknown, options?: { timeoutMs?: number }) => {
          deadlines.push(options?.timeoutMs);
          return { rules: [{ id: 'r-0123456789ab', name: 'camera-1' }, { id: 'r-ba9876543210', name: '' }] };
        },
        listAllInterfaces: async (_request: unknown, options?: { timeoutMs?: number }) => {
          deadlines.push(options?.timeoutMs);
          return { interfaces: [{ name: 'eth0' }, { name: 'in0' }] };
        },
      } as unknown as McrClient;
      expect(await completionNames('rules', client)).to.deep.equal(['r-0123456789ab', 'camera-1', 'r-ba9876543210']);
      expect(await completionNames('interfaces', client)).to.deep.equal(['eth0', 'in0']);
      expect(deadlines).to.deep.equal([COMPLETION_TIMEOUT_MS, COMPLETION_TIMEOUT_MS]);
    });

    it('prints nothing and exits 0 when mcrd cannot be reached', async () => {
      const result = await run(['--socket', path.join(os.tmpdir(), 'mcr-no-such-dir', 'mcr.sock'), '__complete', 'rules']);
      expect(result).to.deep.equal({ code: 0, stdout: '', stderr: '' });
    });

    it('is not shown in the help', async () => {
      const result = await run(['--help']);
      expect(result.stdout).to.include('completion');
      expect(result.stdout).not.to.include('__complete');
    });
  });

  it('refuses a shell it has no script for, with exit 2', async () => {
    const result = await run(['completion', 'fish']);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/'fish' is invalid.*Allowed choices are bash, zsh/);
  });
});
