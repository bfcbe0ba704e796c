/**
 * Sends a source's datagrams while the relay's worker is stopped (SIGSTOP, every thread), so that its
 * data plane reads them all in one batch (up to its batch size) when it runs again: equal sizes to
 * one output would then go out as one UDP GSO message.
 */
import { expect } from 'chai';
import * as readline from 'readline';

import { spawnIn } from './netns';
import { sleep, waitFor } from './poll';
import { threadStates } from './processes';

/**
 * Runs `argv` in namespace `ns`: a program that prints "ready", waits for a line on stdin, sends,
 * and prints "sent N". Stops worker `workerPid` between "ready" and the line, lets it run again once
 * "sent" came (and 50 ms more, for the last frames to reach its socket). Resolves with the line.
 */
export async function sendWhileStopped(workerPid: number, ns: string, argv: readonly string[]): Promise<string> {
  const sender = spawnIn(ns, argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: sender.stdout! })[Symbol.asyncIterator]();
  try {
    expect((await lines.next()).value, 'the sender').to.equal('ready');
    process.kill(workerPid, 'SIGSTOP');
    try {
      await waitFor(`worker ${workerPid} stopped, every thread`, async () => threadStates(workerPid), (states) => states.every((state) => state === 'T'), 5_000);
      sender.stdin!.write('go\n');
      const sent = String((await lines.next()).value);
      await sleep(50);
      return sent;
    } finally {
      process.kill(workerPid, 'SIGCONT');
    }
  } finally {
    sender.kill();
  }
}
