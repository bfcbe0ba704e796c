/**
 * Runs every shell command of the README and the guide that can run in a namespace, as a reader
 * would type them, against a real mcrd in a namespace whose interfaces carry the documents' names
 * (eth0, eth1, wg0). Each document gets a fresh mcrd, and its commands run in document order.
 *
 * A command either runs (and must succeed) or is left out for a stated reason (POLICIES): a
 * command that matches no policy runs, so a new example in the docs is tested from the day it is
 * written. The only rewrites are the ones a reader on this test's machine would make: `sudo` is
 * dropped (the test is root), /etc/mcr/ is a scratch directory and /run/mcr/mcr.sock the test's
 * socket (MCR_SOCKET points there too). The README's commands run in the clone, the guide's in the
 * scratch directory.
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { DocCommand, shellCommands } from '../support/doc-commands';
import { createDocNamespace } from '../support/doc-namespace';
import { requireRoot } from '../support/fixture';
import { Mcrd } from '../support/mcrd';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** Each document, with where its reader types the commands: the README's in the clone, the guide's anywhere. */
const DOCUMENTS: ReadonlyArray<{ file: string; inClone: boolean }> = [
  { file: 'README.md', inClone: true },
  { file: 'docs/guide.md', inClone: false },
];
const COMMAND_TIMEOUT_MS = 20_000;
/** How long a command that runs until Ctrl-C is left running before it gets SIGINT. */
const INTERRUPT_AFTER_MS = 1500;

interface Policy {
  pattern: RegExp;
  /** Left out, for this reason. */
  skip?: string | (() => string | null);
  /** Runs until interrupted: gets SIGINT (as from Ctrl-C) after a moment, and must then exit 0. */
  untilInterrupted?: boolean;
}

function missingTool(tool: string): () => string | null {
  return () => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return null;
    } catch {
      return `${tool} is not installed on this machine`;
    }
  };
}

const POLICIES: readonly Policy[] = [
  { pattern: /^npm ci$/, skip: 'the installation itself: CI runs it before the tests' },
  { pattern: /^npm test$/, skip: 'the suite this test belongs to' },
  { pattern: /^npm run bench/, skip: 'the benchmark takes one to twelve minutes of both CPUs: test/unit/bench-* and its own runs check it' },
  { pattern: /^npm run demo/, skip: 'test/e2e/demo.test.ts runs it' },
  {
    pattern: /^npm start|bin\/mcrd$|^mcrd$/,
    skip: "starts mcrd on the system's socket /run/mcr/mcr.sock: the test's own mcrd, started the same way on a socket of its own in the namespace, stands for it",
  },
  {
    pattern: /^(mkdir|chown|git clone|npm install -g|npm pack)|\/opt\/mcr|npm root -g|\/etc\/bash_completion\.d|site-functions/,
    skip: "installs mcr into the system's file system (test/e2e/install checks the package and its completion)",
  },
  { pattern: /systemctl|\/etc\/systemd/, skip: 'needs systemd as the init system, which the test machines do not run (test/unit/deploy checks the unit)' },
  { pattern: /^\$EDITOR/, skip: 'an interactive editor' },
  { pattern: /wireshark/, skip: 'Wireshark is a desktop program' },
  { pattern: /^grpcurl /, skip: missingTool('grpcurl') },
  { pattern: /--watch|^mcrctl events\b|^mcrctl trace (?!list|show|stop)\S+/, untilInterrupted: true },
];

function policyOf(command: string): Policy {
  return POLICIES.find((policy) => policy.pattern.test(command)) ?? { pattern: /.*/ };
}

function skipReason(policy: Policy): string | null {
  return typeof policy.skip === 'function' ? policy.skip() : (policy.skip ?? null);
}

/** The command as this machine's reader types it. */
function localized(command: string, scratch: string, socketPath: string): string {
  return command
    .replace(/(^|&&\s*|;\s*|\|\s*)sudo\s+/g, '$1')
    .replace(/\/etc\/mcr\//g, `${scratch}/`)
    .replace(/\/run\/mcr\/mcr\.sock/g, socketPath);
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs `command` with bash in namespace `ns`; with `interrupt`, sends SIGINT to it after a moment. */
function runCommand(ns: string, command: string, env: NodeJS.ProcessEnv, cwd: string, interrupt: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    // Its own process group, so SIGINT reaches the whole pipeline as Ctrl-C would.
    const child = spawn('ip', ['netns', 'exec', ns, 'bash', '-c', command], { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    const interruptTimer = interrupt ? setTimeout(() => signalGroup('SIGINT'), INTERRUPT_AFTER_MS) : undefined;
    const killTimer = setTimeout(() => signalGroup('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(interruptTimer);
      clearTimeout(killTimer);
      resolve({ code, signal, output });
    });
  });
}

describe('e2e: the shell commands of the README and the guide', function () {
  this.timeout(240_000);

  for (const { file: document, inClone } of DOCUMENTS) {
    it(`${document}: every command that can run in a namespace succeeds`, async function () {
      requireRoot();
      const commands: DocCommand[] = shellCommands(fs.readFileSync(path.join(REPO_ROOT, document), 'utf8'), document);
      expect(commands, `${document} shows shell commands`).to.not.be.empty;
      const { ns, destroy } = createDocNamespace();
      const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mcrt-docs-'));
      const mcrd = new Mcrd(ns, { workers: 1, logLevel: 'warn' });
      const ran: string[] = [];
      const skipped: string[] = [];
      try {
        await mcrd.start();
        const env = { ...process.env, MCR_SOCKET: mcrd.socketPath, PATH: `${path.join(REPO_ROOT, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}` };
        for (const command of commands) {
          const where = `${command.file}:${command.line}: ${command.text}`;
          const text = localized(command.text, scratch, mcrd.socketPath);
          const policy = policyOf(text);
          const reason = skipReason(policy);
          if (reason !== null) {
            skipped.push(`${where}\n      (${reason})`);
            continue;
          }
          const outcome = await runCommand(ns, text, env, inClone ? REPO_ROOT : scratch, policy.untilInterrupted === true);
          expect(outcome.code, `${where}\n  ran as: ${text}\n  exit ${outcome.code ?? outcome.signal}; output:\n${outcome.output}\n  mcrd:\n${mcrd.logs()}`).to.equal(0);
          ran.push(where);
        }
      } finally {
        await mcrd.stop().catch(() => undefined);
        await mcrd.dispose();
        fs.rmSync(scratch, { recursive: true, force: true });
        destroy();
      }
      process.stdout.write(`      ran ${ran.length}, left out ${skipped.length}:\n${skipped.map((s) => `      - ${s}`).join('\n')}\n`);
      expect(ran, `${document}: commands run`).to.not.be.empty;
    });
  }
});
