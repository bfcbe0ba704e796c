#include "security/worker_policy.h"

#include <linux/audit.h>
#include <linux/sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <initializer_list>

namespace mcr {

namespace {

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
// __X32_SYSCALL_BIT: x32 calls share AUDIT_ARCH_X86_64; the worker is a plain x86-64 process.
constexpr uint32_t kForeignFrom = 0x40000000;
#elif defined(__aarch64__)
constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
constexpr uint32_t kForeignFrom = 0;
#else
#error "the worker seccomp policy (native/security/worker_policy.cc) knows x86-64 and aarch64 only"
#endif

const uint32_t kDeny = SeccompErrno(EPERM);
// For calls whose arguments live in memory the filter cannot read (clone3) or that libuv may probe
// (io_uring): "not implemented" makes glibc and libuv fall back to what the policy can check or allow.
const uint32_t kNotImplemented = SeccompErrno(ENOSYS);

// clone() flags that create namespaces (CLONE_NEWTIME is not a clone() flag: that bit is CSIGNAL's).
constexpr uint32_t kNamespaceFlags =
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

void DenyAll(SeccompPolicy& policy, std::initializer_list<int> numbers, uint32_t verdict) {
  for (int nr : numbers) policy.rules.push_back(Always(nr, verdict));
}

// The call may only name this process in its first argument (kill, tgkill, rt_sigqueueinfo,
// rt_tgsigqueueinfo: the pid or tgid). pid_t is an int: the low 32 bits are the whole value.
SyscallRule OnlyToSelf(int nr, pid_t self) {
  return ByArgument(nr, 0, {Equals(static_cast<uint32_t>(self), kSeccompAllow)}, kDeny);
}

}  // namespace

SeccompPolicy WorkerSeccompPolicy(pid_t self) {
  SeccompPolicy policy;
  policy.arch = kArch;
  policy.killFrom = kForeignFrom;
  policy.fallback = kSeccompAllow;

  // Sockets: every socket a worker uses is created, bound, connected and configured by the
  // supervisor and arrives over the control channel. Creating one (an AF_PACKET socket to capture
  // elsewhere, netlink, UDP to send elsewhere), re-binding a capture socket to another interface,
  // connecting an egress socket elsewhere, and any socket option (SO_ATTACH_FILTER,
  // SO_DETACH_FILTER, SO_ATTACH_BPF, PACKET_ADD_MEMBERSHIP promiscuous mode, IP_ADD_MEMBERSHIP,
  // SO_BINDTODEVICE, IP_MULTICAST_IF...) would change what it captures or where it sends.
  DenyAll(policy, {__NR_socket, __NR_socketpair, __NR_bind, __NR_connect, __NR_listen, __NR_accept, __NR_accept4,
                   __NR_setsockopt},
          kDeny);

  // Running programs and creating processes: a worker runs no other program, and a child process
  // would outlive the worker (which the supervisor kills by pid) holding its sockets. Threads stay
  // possible: clone() with CLONE_THREAD and no namespace flag. clone3() passes its flags in memory
  // the filter cannot read: ENOSYS makes glibc's pthread_create fall back to clone().
  DenyAll(policy, {__NR_execve, __NR_execveat}, kDeny);
#ifdef __NR_fork
  DenyAll(policy, {__NR_fork, __NR_vfork}, kDeny);
#endif
  policy.rules.push_back(
      ByArgument(__NR_clone, 0, {AnyBitSet(kNamespaceFlags, kDeny), AnyBitSet(CLONE_THREAD, kSeccompAllow)}, kDeny));
  DenyAll(policy, {__NR_clone3}, kNotImplemented);

  // Other processes: workers and any other process of uid nobody share the worker's credentials,
  // so without this a worker could trace, read, write or signal them, or take their fds.
  DenyAll(policy, {__NR_ptrace, __NR_process_vm_readv, __NR_process_vm_writev, __NR_kcmp, __NR_tkill}, kDeny);
#ifdef __NR_pidfd_send_signal
  DenyAll(policy, {__NR_pidfd_send_signal}, kDeny);
#endif
#ifdef __NR_pidfd_getfd
  DenyAll(policy, {__NR_pidfd_getfd}, kDeny);
#endif
#ifdef __NR_process_madvise
  DenyAll(policy, {__NR_process_madvise}, kDeny);
#endif
  for (int nr : {__NR_kill, __NR_tgkill, __NR_rt_sigqueueinfo, __NR_rt_tgsigqueueinfo}) {
    policy.rules.push_back(OnlyToSelf(nr, self));
  }
  // The worker is made non-dumpable (so processes of uid nobody cannot ptrace it or open its
  // /proc/PID/mem); it may not undo that, nor name a ptracer.
  policy.rules.push_back(
      ByArgument(__NR_prctl, 0, {Equals(PR_SET_DUMPABLE, kDeny), Equals(PR_SET_PTRACER, kDeny)}, kSeccompAllow));

  // Namespaces and the file-system view: unneeded, and user namespaces are the usual way for an
  // unprivileged process to obtain capabilities (in a namespace of its own).
  DenyAll(policy, {__NR_unshare, __NR_setns, __NR_mount, __NR_umount2, __NR_pivot_root, __NR_chroot}, kDeny);
#ifdef __NR_open_tree
  DenyAll(policy, {__NR_open_tree, __NR_move_mount, __NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick}, kDeny);
#endif
#ifdef __NR_mount_setattr
  DenyAll(policy, {__NR_mount_setattr}, kDeny);
#endif

  // Kernel interfaces a worker never uses, each a known source of kernel vulnerabilities reachable
  // without privilege: eBPF, perf events, userfaultfd, key rings. io_uring would also let a worker
  // perform socket operations (IORING_OP_SOCKET...) this filter never sees.
  DenyAll(policy, {__NR_bpf, __NR_perf_event_open, __NR_userfaultfd, __NR_keyctl, __NR_add_key, __NR_request_key},
          kDeny);
#ifdef __NR_io_uring_setup
  DenyAll(policy, {__NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register}, kNotImplemented);
#endif

  // Calls that need a capability the worker does not hold: denied before the kernel looks, in case
  // a kernel bug ever grants one.
  DenyAll(policy, {__NR_init_module, __NR_finit_module, __NR_delete_module, __NR_kexec_load, __NR_reboot,
                   __NR_swapon, __NR_swapoff, __NR_acct, __NR_quotactl, __NR_syslog, __NR_settimeofday,
                   __NR_clock_settime, __NR_clock_adjtime, __NR_adjtimex, __NR_open_by_handle_at,
                   __NR_fanotify_init, __NR_sethostname, __NR_setdomainname},
          kDeny);
#ifdef __NR_kexec_file_load
  DenyAll(policy, {__NR_kexec_file_load}, kDeny);
#endif
#ifdef __NR_iopl
  DenyAll(policy, {__NR_iopl, __NR_ioperm}, kDeny);
#endif

  // personality(): only reading it (0xffffffff). READ_IMPLIES_EXEC would make every readable
  // mapping executable.
  policy.rules.push_back(ByArgument(__NR_personality, 0, {Equals(0xffffffff, kSeccompAllow)}, kDeny));

  return policy;
}

SeccompProgram WorkerSeccompProgram(pid_t self) { return BuildSeccompProgram(WorkerSeccompPolicy(self)); }

}  // namespace mcr
