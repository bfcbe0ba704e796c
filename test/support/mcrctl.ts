/**
 * Runs the real mcrctl (bin/mcrctl, which loads the built dist/) for the end-to-end tests, in the root
 * namespace or inside one of the topology's namespaces, and collects its exit code and output.
 */
import { spawn } from 'child_process';
import fs from 'fs';
import path from 'path';

import { inNamespace } from './netns';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const MCRCTL_BIN = path.join(REPO_ROOT, 'bin', 'mcrctl');
const MCRCTL_MAIN = path.join(REPO_ROOT, 'dist', 'clients', 'mcrctl', 'main.js');
const DEFAULT_TIMEOUT_MS = 20_000;

export interface McrctlOptions {
  /** Run inside this network namespace (default: the test's own). */
  ns?: string;
  /** Environment on top of the test's; MCR_SOCKET is never inherited, only set from here. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface McrctlResult {
  /** The exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running mcrctl: its output so far, a way to signal it, and how it ended. */
export interface McrctlProcess {
  /** What it wrote to stdout so far. */
  stdout(): string;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Sends it a signal (e.g. SIGINT, as Ctrl-C does). */
  kill(signal: NodeJS.Signals): void;
  /** Resolves when it exits; rejects if it had to be SIGKILLed after the timeout. */
  result: Promise<McrctlResult>;
}

/** Starts `mcrctl ARGS` (SIGKILLed after the timeout, which then rejects `result`). */
export function startMcrctl(args: readonly string[], options: McrctlOptions = {}): McrctlProcess {
  if (!fs.existsSync(MCRCTL_MAIN)) throw new Error(`mcrctl is not built: ${MCRCTL_MAIN} does not exist (run \`npm run build\`)`);
  const argv = [process.execPath, MCRCTL_BIN, ...args];
  const [command, ...rest] = options.ns ? ['ip', ...inNamespace(options.ns, argv)] : argv;
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  if (options.env?.MCR_SOCKET === undefined) delete env.MCR_SOCKET;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const shown = `mcrctl ${args.join(' ')}`;

  const child = spawn(command, rest, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const result = new Promise<McrctlResult>((resolve, reject) => {
    let timedOut = false;
    const killer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(killer);
      reject(new Error(`${shown}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      if (timedOut) reject(new Error(`${shown} did not finish within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
      else resolve({ code, signal, stdout, stderr });
    });
  });
  return { stdout: () => stdout, stderr: () => stderr, kill: (signal) => void child.kill(signal), result };
}

/** Runs `mcrctl ARGS`; resolves when it exits (SIGKILLed after the timeout, which then rejects). */
export function runMcrctl(args: readonly string[], options: McrctlOptions = {}): Promise<McrctlResult> {
  try {
    return startMcrctl(args, options).result;
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Runs mcrctl and returns its stdout; fails with its output unless it exits 0. */
export async function mcrctlOk(args: readonly string[], options: McrctlOptions = {}): Promise<string> {
  const result = await runMcrctl(args, options);
  if (result.code !== 0) {
    throw new Error(`mcrctl ${args.join(' ')} exited with ${result.signal ?? result.code}; stdout: ${result.stdout}; stderr: ${result.stderr}`);
  }
  return result.stdout;
}

/**
 * The rows of each table in mcrctl's text output (tables are separated by blank lines), each row as
 * header -> cell. Columns are separated by at least two spaces (cells hold single spaces at most);
 * continuation lines of multi-line cells (fewer cells than headers) are skipped.
 */
export function parseTables(text: string): Record<string, string>[][] {
  const blocks = text.split(/\n\s*\n/).filter((block) => block.trim() !== '');
  if (blocks.length === 0) throw new Error(`no table in mcrctl output: ${JSON.stringify(text)}`);
  return blocks.map((block) => {
    const [header, ...rows] = block.split('\n').filter((line) => line.trim() !== '').map((line) => line.trim().split(/\s{2,}/));
    return rows.filter((cells) => cells.length === header.length).map((cells) => Object.fromEntries(header.map((name, i) => [name, cells[i]])));
  });
}

/** The rows of the first table in mcrctl's text output (see parseTables). */
export function parseTable(text: string): Record<string, string>[] {
  return parseTables(text)[0];
}

/** The "Key:  value" lines of mcrctl's detail views (first line of each value), by key. */
export function parseFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^(\S[^:]*):\s+(.*)$/.exec(line);
    if (match) fields.set(match[1], match[2]);
  }
  return fields;
}
