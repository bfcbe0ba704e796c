// The process's open-file limit (RLIMIT_NOFILE). Plain C++, no Node-API.
#pragma once

#include <cstdint>

namespace mcr {

struct FileLimit {
  uint64_t soft;
  uint64_t hard;
};

// Raises RLIMIT_NOFILE (soft and hard) to at least `wanted`, never lowering either; the kernel caps
// it at fs.nr_open, and raising the hard limit needs CAP_SYS_RESOURCE. Returns the limit now in
// force. Throws SyscallError.
FileLimit RaiseFileLimit(uint64_t wanted);

}  // namespace mcr
