#include "system/cpus.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "common/fd.h"

namespace mcr {

namespace {

// Far beyond any machine (the kernel's NR_CPUS tops out at 8192); bounds the growth loop.
constexpr int kMaxCpus = 1 << 16;

struct CpuSetFree {
  void operator()(cpu_set_t* set) const { CPU_FREE(set); }
};
using CpuSet = std::unique_ptr<cpu_set_t, CpuSetFree>;

CpuSet NewCpuSet(int cpus) {
  CpuSet set(CPU_ALLOC(cpus));
  if (!set) throw SyscallError("CPU_ALLOC (" + std::to_string(cpus) + " CPUs)", ENOMEM);
  CPU_ZERO_S(CPU_ALLOC_SIZE(cpus), set.get());
  return set;
}

}  // namespace

std::vector<int> AllowedCpus() {
  // sched_getaffinity fails with EINVAL while the mask is smaller than the kernel's cpumask
  // (nr_cpu_ids bits); a cpu_set_t holds 1024, which some machines exceed.
  for (int cpus = CPU_SETSIZE;; cpus *= 2) {
    CpuSet set = NewCpuSet(cpus);
    const size_t size = CPU_ALLOC_SIZE(cpus);
    if (sched_getaffinity(0, size, set.get()) == 0) {
      std::vector<int> allowed;
      for (int cpu = 0; cpu < cpus; ++cpu) {
        if (CPU_ISSET_S(cpu, size, set.get())) allowed.push_back(cpu);
      }
      return allowed;
    }
    if (errno != EINVAL || cpus >= kMaxCpus) throw SyscallError("sched_getaffinity", errno);
  }
}

std::string FormatCpuList(const std::vector<int>& cpus) {
  std::string text;
  for (size_t i = 0; i < cpus.size();) {
    size_t last = i;
    while (last + 1 < cpus.size() && cpus[last + 1] == cpus[last] + 1) ++last;
    if (!text.empty()) text += ',';
    text += std::to_string(cpus[i]);
    if (last > i) text += '-' + std::to_string(cpus[last]);
    i = last + 1;
  }
  return text;
}

void PinThread(pthread_t thread, int cpu) {
  const std::vector<int> allowed = AllowedCpus();
  const std::string step = "pthread_setaffinity_np (CPU " + std::to_string(cpu);
  if (std::find(allowed.begin(), allowed.end(), cpu) == allowed.end()) throw SyscallError(step + ", not among the CPUs this process may use: " + FormatCpuList(allowed) + ")", EINVAL);
  const int cpus = cpu + 1;
  CpuSet set = NewCpuSet(cpus);
  CPU_SET_S(cpu, CPU_ALLOC_SIZE(cpus), set.get());
  const int err = pthread_setaffinity_np(thread, CPU_ALLOC_SIZE(cpus), set.get());
  // EINVAL although allowed a moment ago: the cpuset changed in between, or the CPU went offline.
  if (err != 0) throw SyscallError(step + "; this process may use CPUs " + FormatCpuList(allowed) + ")", err);
}

}  // namespace mcr
