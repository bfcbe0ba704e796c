/**
 * A tool run in a namespace that prints "ready" once it listens, then one JSON line (its report)
 * when it is done: the receivers of the end-to-end tests (udp-marks-receiver.py, esp-tool.py).
 */
import { spawnIn } from './netns';

/** Starts `argv` in `ns` and resolves once it says "ready"; `done` resolves with its report when it exits. */
export async function startReportingChild<Report>(ns: string, argv: readonly string[], what: string): Promise<{ done: Promise<Report> }> {
  const child = spawnIn(ns, argv);
  let output = '';
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.startsWith('ready\n')) resolve();
    });
    void exited.then(() => reject(new Error(`the ${what} exited before it was ready: ${errors}`)));
  });
  return {
    done: exited.then(() => {
      const report = output.split('\n')[1];
      if (!report) throw new Error(`the ${what} gave no report: ${errors}`);
      return JSON.parse(report) as Report;
    }),
  };
}
