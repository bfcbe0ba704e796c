#include "sockets/interfaces.h"

#include <net/if.h>

#include <cerrno>

#include "common/fd.h"

namespace mcr {

unsigned IfNameToIndex(const std::string& name) {
  const unsigned index = if_nametoindex(name.c_str());
  // glibc reports a missing interface as ENODEV; anything else is a real failure.
  if (index == 0 && errno != ENODEV && errno != ENXIO) throw SyscallError("ifNameToIndex (" + name + ")", errno);
  return index;
}

}  // namespace mcr
