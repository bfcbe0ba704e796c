#include "netlink/rtnl_dump.h"

#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "netlink/rtnl_socket.h"

namespace mcr {

namespace {

// How long one receive may wait for the kernel's next reply before the dump fails with EAGAIN.
constexpr time_t kReplyTimeoutSeconds = 5;
// Attempts at a dump that concurrent changes keep interrupting.
constexpr int kDumpAttempts = 5;

// Sequence numbers distinguish this process's requests (seeded from the clock, as iproute2 does).
std::atomic<uint32_t> next_sequence{static_cast<uint32_t>(time(nullptr))};

// A dump request: a netlink header followed by the family header of the message type.
template <typename FamilyHeader>
struct DumpRequest {
  nlmsghdr header;
  FamilyHeader family;
};

class DumpSession {
 public:
  DumpSession() : socket_(OpenRouteSocket(0, "rtnetlink dump")), port_(RoutePortId(socket_.get(), "rtnetlink dump")) {
    const timeval timeout{kReplyTimeoutSeconds, 0};
    CheckSyscall(setsockopt(socket_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)),
                 "rtnetlink dump: setsockopt(SO_RCVTIMEO)");
  }

  // Runs one dump; returns false if the kernel marked it interrupted (its content may be inconsistent).
  template <typename FamilyHeader>
  bool Run(uint16_t type, const FamilyHeader& family, const char* what, RouteSnapshot& into) {
    DumpRequest<FamilyHeader> request{};
    request.header.nlmsg_len = NLMSG_LENGTH(sizeof(FamilyHeader));
    request.header.nlmsg_type = type;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.header.nlmsg_seq = next_sequence.fetch_add(1);
    request.family = family;
    const std::string step = std::string("rtnetlink dump (") + what + ")";
    CheckSyscall(static_cast<int>(send(socket_.get(), &request, request.header.nlmsg_len, 0)), step + ": send");
    return Collect(request.header.nlmsg_seq, step, into);
  }

 private:
  // Reads the multi-part reply to request `sequence` up to NLMSG_DONE.
  bool Collect(uint32_t sequence, const std::string& step, RouteSnapshot& into) {
    bool done = false, interrupted = false;
    while (!done) {
      const RouteDatagram datagram = ReceiveRouteDatagram(socket_.get(), buffer_.data(), buffer_.size(), 0);
      if (datagram.length < 0) throw SyscallError(step + ": recvmsg", datagram.error);
      if (datagram.truncated) throw SyscallError(step + ": reply datagram larger than the receive buffer", EMSGSIZE);
      if (!datagram.from_kernel) continue;
      ForEachMessage(buffer_.data(), static_cast<size_t>(datagram.length), [&](const nlmsghdr& message) {
        // Anything else (a late reply to an earlier request) is not part of this dump.
        if (message.nlmsg_seq != sequence || message.nlmsg_pid != port_) return true;
        if (message.nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        if (message.nlmsg_type == NLMSG_DONE || message.nlmsg_type == NLMSG_ERROR) {
          CheckStatus(message, step);
          done = true;
          return false;
        }
        Add(message, into);
        return true;
      });
    }
    return !interrupted;
  }

  // NLMSG_ERROR carries a struct nlmsgerr and NLMSG_DONE an int: a negative errno, or 0.
  static void CheckStatus(const nlmsghdr& message, const std::string& step) {
    if (message.nlmsg_len < NLMSG_LENGTH(sizeof(int))) {
      if (message.nlmsg_type == NLMSG_DONE) return;  // old kernels send an empty NLMSG_DONE
      throw SyscallError(step + ": NLMSG_ERROR without an error code", EPROTO);
    }
    int error;
    std::memcpy(&error, NLMSG_DATA(&message), sizeof(error));
    if (error < 0) throw SyscallError(step, -error);
  }

  static void Add(const nlmsghdr& message, RouteSnapshot& into) {
    const std::optional<RouteEvent> event = ParseRouteMessage(message);
    if (!event) return;  // another family or a malformed entry: skipped
    if (event->kind == RouteEvent::Kind::kLink) into.links.push_back(event->link);
    if (event->kind == RouteEvent::Kind::kAddress) into.addresses.push_back(event->address);
  }

  UniqueFd socket_;
  uint32_t port_;
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(kRouteDatagramBytes);
};

}  // namespace

RouteSnapshot DumpRouteState() {
  DumpSession session;
  ifinfomsg all_links{};
  all_links.ifi_family = AF_UNSPEC;
  ifaddrmsg ipv4_addresses{};
  ipv4_addresses.ifa_family = AF_INET;
  for (int attempt = 1;; ++attempt) {
    RouteSnapshot snapshot;
    if (session.Run(RTM_GETLINK, all_links, "RTM_GETLINK", snapshot) &&
        session.Run(RTM_GETADDR, ipv4_addresses, "RTM_GETADDR", snapshot)) {
      return snapshot;
    }
    if (attempt == kDumpAttempts) {
      throw SyscallError("rtnetlink dump: interrupted by concurrent changes " + std::to_string(kDumpAttempts) + " times",
                         EAGAIN);
    }
  }
}

}  // namespace mcr
