/**
 * Changing links and addresses inside the test namespaces while mcrd runs: `ip -n NS ...` one command
 * at a time or as a batch (for fast flapping), reading a link's sysfs attributes, and the flap
 * sequences themselves. Everything here acts only on namespaces the tests created.
 */
import { execFile, spawn } from 'child_process';

import { runIn } from './netns';

const COMMAND_TIMEOUT_MS = 10_000;

export type LinkState = 'up' | 'down';

/** Runs `ip -n NS ARGS`; resolves with its stdout, rejects with its stderr. */
export function ipIn(ns: string, args: readonly string[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
  const argv = ['-n', ns, ...args];
  return new Promise((resolve, reject) => {
    execFile('ip', argv, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${argv.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * Runs `commands` (each an `ip` command line without "ip", e.g. "link set x up") in one `ip -batch`
 * process inside `ns`, as fast as the kernel takes them. Stops at the first failing command.
 */
export function ipBatch(ns: string, commands: readonly string[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['-n', ns, '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (err) => {
      clearTimeout(killer);
      reject(new Error(`ip -n ${ns} -batch: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      if (code === 0) resolve();
      else reject(new Error(`ip -n ${ns} -batch (${commands.length} commands) ended with ${signal ?? `code ${code}`}: ${stderr.trim()}`));
    });
    child.stdin.end(commands.join('\n') + '\n');
  });
}

/** Sets a link administratively up or down. */
export async function setLink(ns: string, ifname: string, state: LinkState): Promise<void> {
  await ipIn(ns, ['link', 'set', ifname, state]);
}

/** A sysfs attribute of a link (/sys/class/net/IFNAME/ATTRIBUTE), as the link's namespace shows it. */
export async function linkAttribute(ns: string, ifname: string, attribute: string): Promise<string> {
  return (await runIn(ns, ['cat', `/sys/class/net/${ifname}/${attribute}`])).trim();
}

/** A numeric sysfs attribute of a link (ifindex, mtu, statistics/tx_packets...). */
export async function linkNumber(ns: string, ifname: string, attribute: string): Promise<number> {
  const text = await linkAttribute(ns, ifname, attribute);
  const value = Number(text);
  if (!Number.isInteger(value)) throw new Error(`${attribute} of ${ifname} in ${ns} is not an integer: ${JSON.stringify(text)}`);
  return value;
}

/**
 * `ip` commands that take `ifname` down and up `times` times (a flap is one down and one up), ending
 * in `final`: when it is "down", the last up is left out.
 */
export function flapCommands(ifname: string, times: number, final: LinkState): string[] {
  const commands: string[] = [];
  for (let i = 0; i < times; i++) commands.push(`link set ${ifname} down`, `link set ${ifname} up`);
  if (final === 'down') commands.pop();
  return commands;
}

/** Replaces the IPv4 address `from` (with prefix, "a.b.c.d/len") of `ifname` with `to`, in one batch. */
export function replaceAddress(ns: string, ifname: string, from: string, to: string): Promise<void> {
  return ipBatch(ns, [`address del ${from} dev ${ifname}`, `address add ${to} dev ${ifname}`]);
}
