/**
 * The worker's seccomp program (native workerSeccompProgram), run in the classic BPF interpreter on
 * made-up system calls: it passes seccomp's load checks, kills calls through another ABI, and gives
 * each call the answer docs/security.md promises. The lists below are the specification, written
 * independently of native/security/worker_policy.cc.
 */
import { expect } from 'chai';

import { native, type BpfInsn } from '../../native';
import {
  checkSeccompProgram,
  ENOSYS,
  EPERM,
  loadSeccompProgram,
  nativeAbi,
  retErrno,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_KILL_PROCESS,
  SeccompCall,
} from '../support/seccomp';

/** Denied whatever the arguments, with EPERM. */
const DENIED = [
  'socket', 'socketpair', 'bind', 'connect', 'listen', 'accept', 'accept4', 'setsockopt',
  'execve', 'execveat', 'fork', 'vfork',
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'tkill', 'pidfd_send_signal', 'pidfd_getfd', 'process_madvise',
  'unshare', 'setns', 'mount', 'umount2', 'pivot_root', 'chroot', 'open_tree', 'move_mount', 'fsopen', 'fsconfig', 'fsmount',
  'fspick', 'mount_setattr',
  'bpf', 'perf_event_open', 'userfaultfd', 'keyctl', 'add_key', 'request_key',
  'init_module', 'finit_module', 'delete_module', 'kexec_load', 'kexec_file_load', 'reboot', 'swapon', 'swapoff', 'acct',
  'quotactl', 'syslog', 'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'open_by_handle_at', 'fanotify_init',
  'sethostname', 'setdomainname', 'iopl', 'ioperm',
];
/** Answered "not implemented", so that glibc and libuv fall back. */
const NOT_IMPLEMENTED = ['clone3', 'io_uring_setup', 'io_uring_enter', 'io_uring_register'];
/** What the data plane and Node do all the time: never looked at beyond the number. */
const ALLOWED = ['read', 'write', 'futex', 'mmap', 'recvmmsg', 'sendmmsg', 'epoll_pwait', 'getsockopt', 'sendmsg', 'recvmsg', 'seccomp'];

// clone() flags (linux/sched.h).
const CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800, CLONE_THREAD = 0x10000;
const CLONE_SYSVSEM = 0x40000, CLONE_SETTLS = 0x80000, CLONE_PARENT_SETTID = 0x100000, CLONE_CHILD_CLEARTID = 0x200000;
const CLONE_CHILD_SETTID = 0x1000000, CLONE_NEWNS = 0x20000, CLONE_NEWUSER = 0x10000000, CLONE_NEWNET = 0x40000000;
const SIGCHLD = 17;
/** What glibc's pthread_create passes. */
const THREAD_FLAGS =
  CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
/** What glibc's fork() passes. */
const FORK_FLAGS = CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD;

const PR_SET_DUMPABLE = 4, PR_SET_NAME = 15, PR_SET_NO_NEW_PRIVS = 38, PR_SET_PTRACER = 0x59616d61, PR_SET_VMA = 0x53564d41;
const PERSONALITY_QUERY = 0xffffffff, READ_IMPLIES_EXEC = 0x0400000;

describe('worker seccomp program (interpreted)', () => {
  const abi = nativeAbi();
  let program: BpfInsn[];
  let decide: (call: SeccompCall) => number;

  before(() => {
    program = native().workerSeccompProgram();
    decide = loadSeccompProgram(program);
  });

  /** The answer for a native call by name, with arguments. */
  function answer(name: string, ...args: Array<number | bigint>): number {
    const nr = abi.nr(name);
    if (nr === null) throw new Error(`${name} does not exist on ${process.arch}`);
    return decide({ nr, arch: abi.arch, args: args.map(BigInt) });
  }
  const namesHere = (names: string[]) => names.filter((name) => abi.nr(name) !== null);
  const self = process.pid;

  it('is a program seccomp accepts (aligned 32-bit loads of seccomp_data only), far below the length limit', () => {
    expect(() => checkSeccompProgram(program)).to.not.throw();
    expect(program.length).to.be.within(4, 1000);
  });

  it('kills the process for a call through another ABI, whatever the number', function () {
    const foreign = abi.compatArch ?? 0x4000_0028; // i386 on x86-64; 32-bit ARM (AUDIT_ARCH_ARM) on aarch64
    for (const nr of [0, 1, abi.nr('read')!, abi.nr('socket')!, 400]) {
      expect(decide({ nr, arch: foreign }), `nr ${nr} arch ${foreign.toString(16)}`).to.equal(SECCOMP_RET_KILL_PROCESS);
    }
  });

  it('kills the process for x32 system calls on x86-64 (bit 30 of the number); elsewhere bit 30 is no ABI', function () {
    for (const name of ['read', 'socket', 'execve']) {
      const verdict = decide({ nr: (abi.nr(name)! | 0x4000_0000) >>> 0, arch: abi.arch });
      if (process.arch === 'x64') expect(verdict, `x32 ${name}`).to.equal(SECCOMP_RET_KILL_PROCESS);
      else expect(verdict, `${name} | bit 30 on ${process.arch}`).to.not.equal(SECCOMP_RET_KILL_PROCESS);
    }
  });

  it('denies with EPERM, whatever the arguments, every call on the list', () => {
    const denied = namesHere(DENIED);
    expect(denied.length).to.be.greaterThan(50);
    for (const name of denied) {
      expect(answer(name), name).to.equal(retErrno(EPERM));
      expect(answer(name, 1, 2, 3, 4, 5, 6), `${name} with arguments`).to.equal(retErrno(EPERM));
    }
  });

  it('answers ENOSYS to clone3 and io_uring', () => {
    for (const name of NOT_IMPLEMENTED) expect(answer(name), name).to.equal(retErrno(ENOSYS));
  });

  it('allows what the data plane and Node use', () => {
    for (const name of ALLOWED) expect(answer(name, 3, 0, 64), name).to.equal(SECCOMP_RET_ALLOW);
  });

  it('clone: threads yes; processes and namespaces no', () => {
    expect(answer('clone', THREAD_FLAGS), 'pthread_create').to.equal(SECCOMP_RET_ALLOW);
    expect(answer('clone', FORK_FLAGS), 'fork').to.equal(retErrno(EPERM));
    expect(answer('clone', CLONE_VM | SIGCHLD), 'posix_spawn-like').to.equal(retErrno(EPERM));
    for (const flag of [CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET]) {
      expect(answer('clone', THREAD_FLAGS | flag), `thread + ${flag.toString(16)}`).to.equal(retErrno(EPERM));
    }
  });

  it('signals: to its own process only', () => {
    for (const name of ['kill', 'tgkill', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo']) {
      expect(answer(name, self, 9), `${name} self`).to.equal(SECCOMP_RET_ALLOW);
      for (const pid of [self + 1, 1, 0, -1, -self]) {
        expect(answer(name, BigInt.asUintN(64, BigInt(pid)), 9), `${name} ${pid}`).to.equal(retErrno(EPERM));
      }
    }
  });

  it('prctl: all but making itself dumpable again or naming a ptracer', () => {
    for (const option of [PR_SET_NAME, PR_SET_VMA, PR_SET_NO_NEW_PRIVS]) expect(answer('prctl', option, 1), `option ${option}`).to.equal(SECCOMP_RET_ALLOW);
    expect(answer('prctl', PR_SET_DUMPABLE, 1), 'PR_SET_DUMPABLE').to.equal(retErrno(EPERM));
    expect(answer('prctl', PR_SET_PTRACER, self - 1), 'PR_SET_PTRACER').to.equal(retErrno(EPERM));
  });

  it('personality: reading it only', () => {
    expect(answer('personality', PERSONALITY_QUERY)).to.equal(SECCOMP_RET_ALLOW);
    expect(answer('personality', READ_IMPLIES_EXEC)).to.equal(retErrno(EPERM));
    expect(answer('personality', 0)).to.equal(retErrno(EPERM));
  });

  it('allows every other number (the policy names what is denied; everything else runs)', () => {
    const named = new Set([...DENIED, ...NOT_IMPLEMENTED, 'clone', 'kill', 'tgkill', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'prctl', 'personality']
      .map((name) => abi.nr(name))
      .filter((nr) => nr !== null));
    for (let nr = 0; nr < 512; nr++) {
      if (!named.has(nr)) expect(decide({ nr, arch: abi.arch }), `nr ${nr}`).to.equal(SECCOMP_RET_ALLOW);
    }
  });
});
