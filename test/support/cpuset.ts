/**
 * A cpuset cgroup of the test's own, as a container runtime (--cpuset-cpus), Kubernetes' static CPU
 * manager or systemd's AllowedCPUs= would put mcrd in. The cgroup v1 cpuset hierarchy is used when
 * it is mounted, else cgroup v2 with the cpuset controller; detected from /proc/self/mountinfo,
 * never assumed. Created below the test process's own cgroup (so inside whatever cpuset it already
 * has), named mcrt-<pid>-<random>, and removed again: by remove(), or at exit or on a fatal signal.
 */
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';

import { registerCleanup } from './cleanup';

const REMOVE_WAIT_MS = 10_000;

export interface CpusetCgroup {
  readonly version: 1 | 2;
  readonly dir: string;
  /** Where a process writes its pid to move itself in (cgroup.procs). */
  readonly procsFile: string;
  /** The pids in it now. */
  pids(): number[];
  /** SIGKILLs what is still in it (only ever what the test started there), then removes it. */
  remove(): void;
}

interface Mount {
  point: string;
  /** The path of the cgroup root in this mount (from mountinfo's root field). */
  root: string;
  fsType: string;
  superOptions: string[];
}

function mounts(): Mount[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      // ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
      const [left, right] = line.split(' - ');
      const fields = left.split(' ');
      const [fsType, , superOptions = ''] = (right ?? '').split(' ');
      return { root: fields[3], point: fields[4].replace(/\\040/g, ' '), fsType, superOptions: superOptions.split(',') };
    });
}

/** This process's cgroup path in a hierarchy: the v1 line naming `controller`, or the v2 line "0::". */
function ownCgroup(version: 1 | 2, controller: string): string {
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [id, controllers, cgroupPath] = line.split(':');
    if (cgroupPath === undefined) continue;
    if (version === 2 && id === '0' && controllers === '') return cgroupPath;
    if (version === 1 && controllers.split(',').includes(controller)) return cgroupPath;
  }
  throw new Error(`this process is in no cgroup v${version} ${controller} hierarchy (/proc/self/cgroup)`);
}

/** The directory of this process's own cgroup in a mount (the mount may show a sub-tree only). */
function ownDir(mount: Mount, cgroupPath: string): string {
  const relative = path.relative(mount.root, cgroupPath);
  if (relative.startsWith('..')) throw new Error(`this process's cgroup ${cgroupPath} is outside the mount at ${mount.point} (root ${mount.root})`);
  return path.join(mount.point, relative);
}

/** Where a cpuset cgroup can be made: the v1 cpuset hierarchy, else v2 with the cpuset controller. */
function findParent(): { version: 1 | 2; parent: string } {
  const all = mounts();
  const v1 = all.find((m) => m.fsType === 'cgroup' && m.superOptions.includes('cpuset'));
  if (v1) return { version: 1, parent: ownDir(v1, ownCgroup(1, 'cpuset')) };
  const v2 = all.find((m) => m.fsType === 'cgroup2');
  if (v2) {
    const parent = ownDir(v2, ownCgroup(2, ''));
    const controllers = fs.readFileSync(path.join(parent, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    if (controllers.includes('cpuset')) return { version: 2, parent };
    throw new Error(`cgroup v2 is mounted at ${v2.point} but its cpuset controller is not available in ${parent} (cgroup.controllers: ${controllers.join(' ') || 'none'})`);
  }
  throw new Error('neither a cgroup v1 cpuset hierarchy nor cgroup v2 is mounted (/proc/self/mountinfo): cannot test mcrd in a cpuset');
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Makes a cpuset cgroup allowing `cpus` (a cpulist such as "1"). Needs root. */
export function makeCpuset(cpus: string): CpusetCgroup {
  const { version, parent } = findParent();
  const dir = path.join(parent, `mcrt-${process.pid}-${crypto.randomBytes(2).toString('hex')}`);
  if (version === 2) {
    // A child only gets cpuset files when its parent hands the controller down.
    const subtree = path.join(parent, 'cgroup.subtree_control');
    if (!fs.readFileSync(subtree, 'utf8').split(/\s+/).includes('cpuset')) fs.writeFileSync(subtree, '+cpuset');
  }
  fs.mkdirSync(dir);
  const procsFile = path.join(dir, 'cgroup.procs');
  const pids = (): number[] => {
    try {
      return fs.readFileSync(procsFile, 'utf8').split('\n').filter((l) => l.trim() !== '').map(Number);
    } catch {
      return [];
    }
  };
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    const deadline = Date.now() + REMOVE_WAIT_MS;
    for (;;) {
      for (const pid of pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      try {
        fs.rmdirSync(dir);
        removed = true;
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          removed = true;
          return;
        }
        // EBUSY until the killed processes have been reaped.
        if (code !== 'EBUSY' || Date.now() > deadline) throw new Error(`cannot remove the test cgroup ${dir}: ${(err as Error).message}`);
      }
      sleepSync(50);
    }
  };
  const unregister = registerCleanup(remove);
  try {
    // v1 needs both before a task may join; v2 inherits mems from the parent.
    fs.writeFileSync(path.join(dir, 'cpuset.cpus'), cpus);
    if (version === 1) fs.writeFileSync(path.join(dir, 'cpuset.mems'), fs.readFileSync(path.join(parent, 'cpuset.mems'), 'utf8').trim());
  } catch (err) {
    remove();
    unregister();
    throw err;
  }
  return {
    version,
    dir,
    procsFile,
    pids,
    remove() {
      remove();
      unregister();
    },
  };
}
