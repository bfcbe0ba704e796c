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
 * Starts tshark capturing every frame of interface `ifname` in namespace `ns` into `file` (pcapng);
 * resolves once it captures. stop() ends it (SIGINT, so that it writes the file out) and resolves when
 * it has exited.
 */
export async function startCapture(ns: string, ifname: string, file: string): Promise<{ stop(): Promise<void> }> {
  const child = spawnIn(ns, ['tshark', '-q', '-n', '-i', ifname, '-w', file]);
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
    async stop() {
      child.kill('SIGINT');
      await exited;
    },
  };
}
