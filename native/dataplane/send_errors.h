// Errors the network reports about what a sender sent (ICMP destination unreachable, time exceeded,
// parameter problem; their ICMPv6 kin), read from the sender's error queue (IP_RECVERR, IPV6_RECVERR) and charged to the output with
// that destination. Used by the data-plane thread only, when epoll reports EPOLLERR on a sender; all
// storage is part of the object (docs/decisions/0043-icmp-errors-per-output.md).
#pragma once

#include <time.h>  // before linux/errqueue.h, which needs struct timespec

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

#include "dataplane/endpoints.h"
#include "dataplane/table.h"

namespace mcr {

class SendErrors {
 public:
  // Errors read from one sender per wake-up: more stay queued and epoll reports the sender again at
  // the next turn (the kernel signals the socket when an error is read while others remain), so
  // that a flood of ICMP cannot hold up forwarding.
  static constexpr int kPerWakeup = 64;

  // Reads up to kPerWakeup queued errors of `sender` and sets each one's Output::pendingError, the
  // output being `table`'s with that sender and destination. Errors about destinations the table
  // does not send to (an output just removed) and errors of local origin (the failed send already
  // reported them) are read and dropped.
  void Drain(const Sender& sender, const Table& table);

 private:
  SocketAddress destination_{};
  // IP_RECVERR (IPV6_RECVERR): a sock_extended_err followed by the offender's address.
  alignas(cmsghdr) char control_[CMSG_SPACE(sizeof(sock_extended_err) + sizeof(sockaddr_in6)) + 64];
};

}  // namespace mcr
