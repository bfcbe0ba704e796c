/**
 * Runs one of the tests' own tools (a TypeScript file under test/support, run by ts-node) as a process
 * of its own, inside a network namespace or not. The tool takes its options as one JSON argument,
 * prints {"event":"ready"} once it is ready, and prints one JSON report line last, on SIGTERM or when
 * its own bound is reached. A tool that is still running after its bound and a start-up allowance is
 * killed.
 */
import { ChildProcess, spawn } from 'child_process';
import path from 'path';

import { spawnIn } from './netns';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** Time allowed on top of a tool's own bound (process start-up, ts-node compiling the tool). */
const STARTUP_ALLOWANCE_MS = 20_000;
export const READY_LINE = '{"event":"ready"}';

export interface ToolRun<Report> {
  /** Resolves once the tool printed its ready line; rejects if it ended before. */
  ready: Promise<void>;
  report: Promise<Report>;
  /** Makes it report now (SIGTERM). */
  stop(): void;
}

export interface ToolOptions {
  /** What the tool is, for messages ("source sink"). */
  label: string;
  /** How long the tool runs at most by its own options. */
  boundMs: number;
  /** The namespace to run it in; the test's own namespace when absent. */
  ns?: string;
}

export function startTool<Report>(file: string, toolOptions: unknown, options: ToolOptions): ToolRun<Report> {
  const argv = [process.execPath, '-r', 'ts-node/register/transpile-only', file, JSON.stringify(toolOptions)];
  const child: ChildProcess = options.ns
    ? spawnIn(options.ns, argv, { cwd: REPO_ROOT })
    : spawn(argv[0], argv.slice(1), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const what = options.ns ? `${options.label} in ${options.ns}` : options.label;
  let stdout = '';
  let stderr = '';
  let signalReady: () => void = () => undefined;
  const readyLine = new Promise<void>((resolve) => (signalReady = resolve));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.includes(`${READY_LINE}\n`)) signalReady();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const report = new Promise<Report>((resolve, reject) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), options.boundMs + STARTUP_ALLOWANCE_MS);
    child.on('error', (err) => reject(new Error(`${what}: ${err.message}`)));
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${what} exited with ${signal ?? code}: ${stderr.trim() || '(no stderr)'}`));
      try {
        resolve(JSON.parse(last) as Report);
      } catch {
        reject(new Error(`${what} printed no report: ${JSON.stringify(last.slice(0, 200))}; stderr: ${stderr.trim()}`));
      }
    });
  });
  const ready = Promise.race([readyLine, report.then(() => Promise.reject(new Error(`${what} reported before it was ready`)))]);
  ready.catch(() => undefined); // also surfaced through `report`
  report.catch(() => undefined); // the caller awaits it, or has failed already for another reason
  return { ready, report, stop: () => child.kill('SIGTERM') };
}

/** Writes one JSON line to stdout; resolves once it is flushed. For the tools' own side. */
export function printLine(value: unknown): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(JSON.stringify(value) + '\n', (err) => (err ? reject(err) : resolve())));
}

/** The tools' main: parses the JSON argument, runs `main`, prints its report, exits 0 (or 1 with the error). */
export function runTool<Options, Report>(name: string, main: (options: Options, onReady: () => void) => Promise<Report>): void {
  const json = process.argv[2];
  if (json === undefined) {
    process.stderr.write(`usage: ${name} '<options JSON>'\n`);
    process.exit(2);
  }
  main(JSON.parse(json) as Options, () => void printLine(JSON.parse(READY_LINE)))
    .then(printLine)
    .then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`${name}: ${err.stack ?? err.message}\n`);
        process.exit(1);
      },
    );
}
