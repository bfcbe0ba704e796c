// A full snapshot of links and IPv4 addresses, requested with NLM_F_DUMP over a short-lived socket.
#pragma once

#include <vector>

#include "netlink/rtnl_messages.h"

namespace mcr {

struct RouteSnapshot {
  std::vector<LinkInfo> links;
  std::vector<AddressInfo> addresses;
};

// Dumps every link (RTM_GETLINK), then every IPv4 address (RTM_GETADDR, AF_INET), in the network
// namespace of the calling thread. Blocks for the duration of the dump (bounded by a receive
// timeout). A dump the kernel marks as interrupted by concurrent changes (NLM_F_DUMP_INTR) is
// started over a few times. Throws SyscallError with the failing step and errno.
RouteSnapshot DumpRouteState();

}  // namespace mcr
