#include "netlink/rtnl_socket.h"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>

namespace mcr {

UniqueFd OpenRouteSocket(uint32_t groups, const std::string& purpose) {
  UniqueFd fd(CheckSyscall(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), purpose + ": socket(NETLINK_ROUTE)"));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = groups;  // nl_pid 0: the kernel assigns a unique port id
  CheckSyscall(bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)), purpose + ": bind");
  return fd;
}

uint32_t RoutePortId(int fd, const std::string& purpose) {
  sockaddr_nl local{};
  socklen_t length = sizeof(local);
  CheckSyscall(getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length), purpose + ": getsockname");
  return local.nl_pid;
}

RouteDatagram ReceiveRouteDatagram(int fd, void* buffer, size_t size, int flags) {
  sockaddr_nl sender{};
  iovec iov{buffer, size};
  msghdr msg{};
  msg.msg_name = &sender;
  msg.msg_namelen = sizeof(sender);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  RouteDatagram datagram;
  do {
    datagram.length = recvmsg(fd, &msg, flags);
  } while (datagram.length < 0 && errno == EINTR);
  if (datagram.length < 0) {
    datagram.error = errno;
    return datagram;
  }
  datagram.from_kernel = msg.msg_namelen >= sizeof(sender) && sender.nl_family == AF_NETLINK && sender.nl_pid == 0;
  datagram.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  return datagram;
}

}  // namespace mcr
