/**
 * `mcrctl rule list` and `mcrctl stats` as an operator runs them (the checkout's bin/mcrctl, its own
 * default deadline, --json so that the rows can be counted), with a bound on the whole process.
 */
import { execFile } from 'child_process';
import path from 'path';

import { REPO_ROOT } from '../lib/tools';
import { secondsSince } from './bounded';
import type { CommandRun } from './results';

const MCRCTL = path.join(REPO_ROOT, 'bin', 'mcrctl');
const STDOUT_LIMIT = 1 << 30;

/** Rows of mcrctl's JSON answer: the length of its longest array (rules), or null when it has none. */
export function countRows(stdout: string): number | null {
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch {
    // A paging mcrctl may print one JSON document per page.
    const lines = stdout.split('\n').filter((l) => l.trim().startsWith('{'));
    if (lines.length < 2) return null;
    const counts = lines.map((l) => countRows(l));
    return counts.every((c) => c !== null) ? counts.reduce((a, b) => a! + b!, 0) : null;
  }
  if (Array.isArray(value)) return value.length;
  if (value === null || typeof value !== 'object') return null;
  const arrays = Object.values(value as Record<string, unknown>).filter(Array.isArray);
  return arrays.length ? Math.max(...arrays.map((a) => a.length)) : null;
}

/** Runs `mcrctl --socket SOCKET --json ARGS`; killed (and reported as timed out) after `boundMs`. */
export function runMcrctl(socket: string, args: readonly string[], boundMs: number): Promise<CommandRun> {
  const command = `mcrctl ${args.join(' ')}`;
  const start = process.hrtime.bigint();
  return new Promise((resolve) => {
    execFile(process.execPath, [MCRCTL, '--socket', socket, '--json', ...args], { timeout: boundMs, killSignal: 'SIGKILL', maxBuffer: STDOUT_LIMIT, encoding: 'utf8' }, (err, stdout, stderr) => {
      const seconds = secondsSince(start);
      const boundSeconds = boundMs / 1000;
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      if (e?.killed) {
        resolve({ command, status: 'timeout', exitCode: null, seconds: boundSeconds, boundSeconds, rows: null });
        return;
      }
      const exitCode = e ? (typeof e.code === 'number' ? e.code : null) : 0;
      const run: CommandRun = { command, status: exitCode === 0 ? 'ok' : 'error', exitCode, seconds, boundSeconds, rows: countRows(stdout) };
      if (exitCode !== 0) run.detail = (stderr.trim().split('\n').pop() ?? e?.message ?? '').slice(0, 300);
      resolve(run);
    });
  });
}
