// The seccomp policy of a worker process: what a worker never needs, denied on every thread.
// docs/security.md lists the same calls with the reasons.
#pragma once

#include <sys/types.h>

#include "security/seccomp_program.h"

namespace mcr {

// The worker's policy for the process `self` (signals may go to `self` only). Everything not named
// is allowed: the worker is Node.js plus the data plane, whose exact system calls vary with Node,
// glibc and kernel versions, so the policy names what must not happen rather than all that may.
SeccompPolicy WorkerSeccompPolicy(pid_t self);

// BuildSeccompProgram(WorkerSeccompPolicy(self)).
SeccompProgram WorkerSeccompProgram(pid_t self);

}  // namespace mcr
