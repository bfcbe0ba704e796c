#include "dataplane/send_errors.h"

#include <cerrno>
#include <cstring>

namespace mcr {

void SendErrors::Drain(const Sender& sender, const Table& table) {
  const int fd = sender.fd.get();
  for (int read = 0; read < kPerWakeup;) {
    msghdr message{};
    message.msg_name = &destination_;
    message.msg_namelen = sizeof destination_;
    message.msg_control = control_;
    message.msg_controllen = sizeof control_;
    // No iovec: the offending payload is not needed (MSG_TRUNC is set in msg_flags, not an error).
    if (recvmsg(fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      if (errno == EINTR) continue;
      if (read == 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // Reported with nothing queued: already read at an earlier turn, or an error the queue had
        // no room for, which left only the socket's pending error (it would fail the next send to
        // any destination). Reading SO_ERROR clears it; such an error cannot be attributed.
        int pending = 0;
        socklen_t length = sizeof pending;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &length);
      }
      return;
    }
    ++read;
    // The destination is of the sender's family, and so are the error's level and origin.
    const bool ipv6 = sender.family == AF_INET6;
    if (destination_.family() != sender.family || message.msg_namelen < destination_.length()) continue;
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
      if (ipv6 ? header->cmsg_level != SOL_IPV6 || header->cmsg_type != IPV6_RECVERR
               : header->cmsg_level != SOL_IP || header->cmsg_type != IP_RECVERR) {
        continue;
      }
      sock_extended_err error;
      std::memcpy(&error, CMSG_DATA(header), sizeof error);
      if (error.ee_origin != (ipv6 ? SO_EE_ORIGIN_ICMP6 : SO_EE_ORIGIN_ICMP) || error.ee_errno == 0) break;
      Output* output = table.OutputFor(&sender, destination_);
      if (output != nullptr) output->pendingError = static_cast<int>(error.ee_errno);
      break;
    }
  }
}

}  // namespace mcr
