/**
 * Running seccomp programs in the classic BPF interpreter of test/support/bpf-vm.ts. A seccomp
 * program reads struct seccomp_data (nr, arch, instruction pointer, six u64 arguments) with 32-bit
 * loads in the machine's byte order; the interpreter loads big-endian, so the data is laid out here
 * with each 32-bit word written big-endian at the offset the machine would hold it at. Also: the
 * extra rules seccomp imposes on classic BPF, the filter's return values, and this machine's ABI and
 * system-call numbers (x86-64 and aarch64, the architectures the worker policy supports).
 */
import os from 'os';

import type { BpfInsn } from '../../native';
import { checkProgram, loadFilter } from './bpf-vm';

/** sizeof(struct seccomp_data). */
const SECCOMP_DATA_SIZE = 64;
const ARGS_OFFSET = 16;

export const SECCOMP_RET_KILL_PROCESS = 0x8000_0000;
export const SECCOMP_RET_ALLOW = 0x7fff_0000;
const SECCOMP_RET_ERRNO = 0x0005_0000;
export const retErrno = (errno: number) => (SECCOMP_RET_ERRNO | errno) >>> 0;
export const EPERM = 1;
export const ENOSYS = 38;

const AUDIT_ARCH_X86_64 = 0xc000_003e;
const AUDIT_ARCH_AARCH64 = 0xc000_00b7;
const AUDIT_ARCH_I386 = 0x4000_0003;

/** System-call numbers (x86-64: asm/unistd_64.h; aarch64: asm-generic/unistd.h). Absent: no such call. */
const NUMBERS: Record<string, [x64: number | null, arm64: number | null]> = {
  read: [0, 63], write: [1, 64], futex: [202, 98], mmap: [9, 222], recvmmsg: [299, 243], sendmmsg: [307, 269],
  epoll_pwait: [281, 22], getsockopt: [55, 209], sendmsg: [46, 211], recvmsg: [47, 212], seccomp: [317, 277],
  socket: [41, 198], socketpair: [53, 199], bind: [49, 200], connect: [42, 203], listen: [50, 201], accept: [43, 202],
  accept4: [288, 242], setsockopt: [54, 208], execve: [59, 221], execveat: [322, 281], fork: [57, null],
  vfork: [58, null], clone: [56, 220], clone3: [435, 435], ptrace: [101, 117], process_vm_readv: [310, 270],
  process_vm_writev: [311, 271], kcmp: [312, 272], tkill: [200, 130], pidfd_send_signal: [424, 424],
  pidfd_getfd: [438, 438], process_madvise: [440, 440], kill: [62, 129], tgkill: [234, 131],
  rt_sigqueueinfo: [129, 138], rt_tgsigqueueinfo: [297, 240], prctl: [157, 167], unshare: [272, 97], setns: [308, 268],
  mount: [165, 40], umount2: [166, 39], pivot_root: [155, 41], chroot: [161, 51], open_tree: [428, 428],
  move_mount: [429, 429], fsopen: [430, 430], fsconfig: [431, 431], fsmount: [432, 432], fspick: [433, 433],
  mount_setattr: [442, 442], bpf: [321, 280], perf_event_open: [298, 241], userfaultfd: [323, 282], keyctl: [250, 219],
  add_key: [248, 217], request_key: [249, 218], io_uring_setup: [425, 425], io_uring_enter: [426, 426],
  io_uring_register: [427, 427], init_module: [175, 105], finit_module: [313, 273], delete_module: [176, 106],
  kexec_load: [246, 104], kexec_file_load: [320, 294], reboot: [169, 142], swapon: [167, 224], swapoff: [168, 225],
  acct: [163, 89], quotactl: [179, 60], syslog: [103, 116], settimeofday: [164, 170], clock_settime: [227, 112],
  clock_adjtime: [305, 266], adjtimex: [159, 171], open_by_handle_at: [304, 265], fanotify_init: [300, 262],
  sethostname: [170, 161], setdomainname: [171, 162], iopl: [172, null], ioperm: [173, null],
  personality: [135, 92],
};

export interface Abi {
  /** AUDIT_ARCH_* of this machine's native system calls. */
  arch: number;
  /** An AUDIT_ARCH_* the same kernel also accepts calls from (32-bit compatibility), or null. */
  compatArch: number | null;
  /** The number of a system call, or null when this architecture has no such call. */
  nr(name: string): number | null;
}

/** The ABI of the machine the tests run on; throws on an architecture the worker policy does not know. */
export function nativeAbi(): Abi {
  if (process.arch !== 'x64' && process.arch !== 'arm64') throw new Error(`the worker seccomp policy supports x64 and arm64, not ${process.arch}`);
  const column = process.arch === 'x64' ? 0 : 1;
  return {
    arch: column === 0 ? AUDIT_ARCH_X86_64 : AUDIT_ARCH_AARCH64,
    compatArch: column === 0 ? AUDIT_ARCH_I386 : null,
    nr(name) {
      const entry = NUMBERS[name];
      if (!entry) throw new Error(`no system-call number listed for ${name}`);
      return entry[column];
    },
  };
}

export interface SeccompCall {
  nr: number;
  arch: number;
  /** Up to six arguments (u64); missing ones are 0. */
  args?: bigint[];
}

/** struct seccomp_data for the interpreter (see the file comment). */
export function seccompData(call: SeccompCall): Buffer {
  const data = Buffer.alloc(SECCOMP_DATA_SIZE);
  const little = os.endianness() === 'LE';
  const putU64 = (offset: number, value: bigint) => {
    const low = Number(value & 0xffff_ffffn);
    const high = Number((value >> 32n) & 0xffff_ffffn);
    data.writeUInt32BE(low, offset + (little ? 0 : 4));
    data.writeUInt32BE(high, offset + (little ? 4 : 0));
  };
  data.writeUInt32BE(call.nr >>> 0, 0);
  data.writeUInt32BE(call.arch >>> 0, 4);
  putU64(8, 0x7f00_0000_1000n); // instruction pointer: a plausible user address
  (call.args ?? []).forEach((arg, i) => putU64(ARGS_OFFSET + 8 * i, BigInt.asUintN(64, arg)));
  return data;
}

/**
 * What seccomp refuses beyond classic BPF's own checks (kernel/seccomp.c, seccomp_check_filter):
 * packet loads other than aligned 32-bit absolute loads inside struct seccomp_data.
 */
export function checkSeccompProgram(program: BpfInsn[]): void {
  checkProgram(program);
  program.forEach(([code, , , k], pc) => {
    const cls = code & 0x07;
    const mode = code & 0xe0;
    if (cls !== 0x00 && cls !== 0x01) return; // not a load
    if (mode === 0x00 || mode === 0x60 || mode === 0x80) return; // IMM, MEM, LEN
    const alignedWord = cls === 0x00 && mode === 0x20 && (code & 0x18) === 0x00 && k % 4 === 0 && k < SECCOMP_DATA_SIZE;
    if (!alignedWord) throw new Error(`insn ${pc} [${code}, ${k}]: seccomp allows only aligned 32-bit loads of seccomp_data`);
  });
}

/** A checked seccomp program, ready to answer calls. */
export function loadSeccompProgram(program: BpfInsn[]): (call: SeccompCall) => number {
  checkSeccompProgram(program);
  const filter = loadFilter(program);
  return (call) => filter.run(seccompData(call)).verdict >>> 0;
}
