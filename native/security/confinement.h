// Confining a worker process for good: no_new_privs, not dumpable, and the worker's seccomp filter on
// every thread it has and will have.
#pragma once

#include "security/seccomp_program.h"

namespace mcr {

// Installs `program` on every thread of the calling process (SECCOMP_FILTER_FLAG_TSYNC): Node
// starts V8 and libuv threads before any JavaScript runs, and a filter installed without TSYNC would
// cover the calling thread only. Threads created later inherit it. Needs no_new_privs (or
// CAP_SYS_ADMIN). Throws SyscallError with the errno, or std::runtime_error naming a thread that
// could not be synchronized (one already running a filter that is not an ancestor of ours).
void InstallSeccompOnAllThreads(const SeccompProgram& program);

// Sets no_new_privs (required for the filter; TSYNC extends it to every thread), clears the
// dumpable flag (processes of the same uid can then neither ptrace the worker nor take its fds or
// memory through /proc or pidfd_getfd), then installs the worker's seccomp filter on every thread.
// Irreversible. Throws SyscallError naming the step that failed.
void ConfineWorker();

}  // namespace mcr
