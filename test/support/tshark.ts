/**
 * Reads and makes captures with tshark (Debian package "tshark"), Wireshark's command-line tool, for
 * the tests of `mcrctl trace --pcap` and of what mcr puts on the wire. A missing tshark is an error,
 * never a reason to skip: CI installs it.
 */
import { execFileSync } from 'child_process';

import { spawnIn } from './netns';

/** tshark's `fields` of every packet in `file`, one array per packet (an empty field is ''). */
export function tsharkFields(file: string, fields: readonly string[]): string[][] {
  let out: string;
  try {
    out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])], {
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('tshark is not installed: apt-get install tshark (CI installs it; these tests do not skip without it)');
    throw new Error(`tshark -r ${file} failed: ${e.stderr || e.message}`);
  }
  const text = out.trimEnd();
  return text === '' ? [] : text.split('\n').map((line) => line.split('|'));
}

/**
 * Starts tshark capturing the frames of interface `ifname` in namespace `ns` into `file` (pcapng),
 * those of a capture `filter` only when given; resolves once it captures. With `count`, tshark stops
 * by itself after that many frames, and finish() waits for it (at most `waitMs`, then stops it):
 * stopping it from outside may lose the frames dumpcap has not written yet. finish() resolves when it
 * has exited.
 */
export async function startCapture(
  ns: string,
  ifname: string,
  file: string,
  options: { filter?: string; count?: number; waitMs?: number } = {},
): Promise<{ finish(): Promise<void> }> {
  const { filter, count, waitMs = 10_000 } = options;
  const argv = ['tshark', '-q', '-n', '-i', ifname, '-w', file, ...(filter ? ['-f', filter] : []), ...(count ? ['-c', String(count)] : [])];
  const child = spawnIn(ns, argv);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let errors = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
      if (errors.includes('Capturing on')) resolve();
    });
    child.on('error', (err) => reject(new Error(`tshark: ${err.message} (apt-get install tshark)`)));
    void exited.then(() => reject(new Error(`tshark exited before capturing: ${errors}`)));
  });
  return {
    async finish() {
      if (count) await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, waitMs))]);
      child.kill('SIGINT');
      await exited;
    },
  };
}
