// NETLINK_ROUTE sockets: opening one, and receiving datagrams that come from the kernel.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/fd.h"

namespace mcr {

// Receive buffer for one datagram. The kernel sizes dump datagrams to at most 32 KiB and a single
// notification far below that; a datagram that still does not fit is reported as truncated.
constexpr size_t kRouteDatagramBytes = 64 * 1024;

// A bound NETLINK_ROUTE socket (SOCK_CLOEXEC) subscribed to the RTMGRP_* bit mask `groups` (0: no
// multicast, for requests only). `purpose` prefixes the step of a SyscallError.
UniqueFd OpenRouteSocket(uint32_t groups, const std::string& purpose);

// The port id the kernel assigned to the bound socket (getsockname).
uint32_t RoutePortId(int fd, const std::string& purpose);

// The outcome of one recvmsg().
struct RouteDatagram {
  ssize_t length = 0;      // bytes received, or -1 with `error` set
  int error = 0;           // errno of a failed recvmsg
  bool from_kernel = true; // false: another process sent it (netlink port 0 is the kernel)
  bool truncated = false;  // MSG_TRUNC: the datagram was larger than the buffer (length = its first bytes)
};

// recvmsg() of one datagram into `buffer` (retrying EINTR); `flags` as for recvmsg (MSG_DONTWAIT).
RouteDatagram ReceiveRouteDatagram(int fd, void* buffer, size_t size, int flags);

}  // namespace mcr
