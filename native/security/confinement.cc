#include "security/confinement.h"

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "common/fd.h"
#include "security/worker_policy.h"

namespace mcr {

void InstallSeccompOnAllThreads(const SeccompProgram& program) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.size());
  prog.filter = const_cast<sock_filter*>(program.data());
  // glibc 2.36 has no seccomp() wrapper.
  const long result = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
  if (result < 0) throw SyscallError("seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC)", errno);
  if (result > 0) {
    // TSYNC installed nothing: that thread already runs seccomp filters the calling thread does not.
    throw std::runtime_error("seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC): thread " +
                             std::to_string(result) + " has other seccomp filters and cannot be synchronized; " +
                             "no thread took the filter");
  }
}

void ConfineWorker() {
  CheckSyscall(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
  CheckSyscall(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE, 0)");
  InstallSeccompOnAllThreads(WorkerSeccompProgram(getpid()));
}

}  // namespace mcr
