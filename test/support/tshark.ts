/**
 * Reads a capture with tshark (Debian package "tshark"), Wireshark's command-line reader, for the
 * tests of `mcrctl trace --pcap`. A missing tshark is an error, never a reason to skip: CI installs it.
 */
import { execFileSync } from 'child_process';

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
