// The CPUs a thread may run on (its affinity, which a cpuset cgroup, taskset or systemd's
// AllowedCPUs= narrow), and pinning a thread to one of them. Plain C++, no Node-API.
#pragma once

#include <pthread.h>

#include <string>
#include <vector>

namespace mcr {

// The calling thread's CPU affinity (sched_getaffinity), ascending. Sized for any CPU count the
// kernel has (the mask grows until the kernel accepts it). Throws SyscallError.
std::vector<int> AllowedCpus();

// "0-3,6": the kernel's cpulist form (as taskset -c, cpuset.cpus and Cpus_allowed_list write it)
// of an ascending list.
std::string FormatCpuList(const std::vector<int>& cpus);

// Pins `thread` to `cpu` alone. A CPU outside the calling thread's affinity is refused with EINVAL
// before the call: a cpuset makes the kernel refuse it too, but under taskset alone the kernel would
// accept it and the thread would leave the set it was placed in. Every failure names the CPU and the
// CPUs this process may use, not a bare errno. Throws SyscallError.
void PinThread(pthread_t thread, int cpu);

}  // namespace mcr
