#include "system/file_limit.h"

#include <sys/resource.h>

#include <algorithm>

#include "common/fd.h"

namespace mcr {

FileLimit RaiseFileLimit(uint64_t wanted) {
  struct rlimit limit {};
  CheckSyscall(getrlimit(RLIMIT_NOFILE, &limit), "getrlimit(RLIMIT_NOFILE)");
  struct rlimit raised = limit;
  raised.rlim_max = std::max<rlim_t>(limit.rlim_max, wanted);
  raised.rlim_cur = std::max<rlim_t>(limit.rlim_cur, std::min<rlim_t>(raised.rlim_max, wanted));
  if (raised.rlim_max != limit.rlim_max || raised.rlim_cur != limit.rlim_cur) {
    CheckSyscall(setrlimit(RLIMIT_NOFILE, &raised), "setrlimit(RLIMIT_NOFILE)");
  }
  return FileLimit{raised.rlim_cur, raised.rlim_max};
}

}  // namespace mcr
