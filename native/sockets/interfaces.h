// Interface name lookups.
#pragma once

#include <string>

namespace mcr {

// if_nametoindex: the interface's index, or 0 when there is no such interface.
// Other failures (e.g. EMFILE) throw SyscallError.
unsigned IfNameToIndex(const std::string& name);

}  // namespace mcr
