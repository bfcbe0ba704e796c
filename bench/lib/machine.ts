/** A description of the machine and software a run measured, for the results. */
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

export interface Machine {
  cpuModel: string;
  cpus: number;
  kernel: string;
  node: string;
  memoryMb: number;
  /** Load average over the minute before the run (other work on the machine skews every figure). */
  loadAverage1m: number;
  mcrVersion: string;
  /** git commit of the tree measured, "+dirty" when it has local changes; null outside git. */
  commit: string | null;
  socat: string | null;
  /** Kernel settings that bound the relays' socket buffers and input queue. */
  sysctl: Record<string, string>;
}

function run(file: string, args: string[], cwd?: string): string | null {
  try {
    return execFileSync(file, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return null;
  }
}

function readSysctl(name: string): string {
  try {
    return fs.readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
  } catch {
    return '?';
  }
}

export function describeMachine(repoRoot: string, socat: string | null): Machine {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const head = run('git', ['rev-parse', '--short', 'HEAD'], repoRoot);
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no'], repoRoot);
  return {
    cpuModel: model.trim(),
    cpus: os.availableParallelism(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    memoryMb: Math.round(os.totalmem() / 2 ** 20),
    loadAverage1m: os.loadavg()[0],
    mcrVersion: pkg.version,
    commit: head === null ? null : `${head}${dirty ? '+dirty' : ''}`,
    socat: socat === null ? null : (run(socat, ['-V'])?.split('\n').find((l) => /socat version/.test(l))?.trim() ?? 'unknown version'),
    sysctl: Object.fromEntries(
      ['net.core.rmem_default', 'net.core.rmem_max', 'net.core.wmem_default', 'net.core.netdev_max_backlog'].map((name) => [name, readSysctl(name)]),
    ),
  };
}
