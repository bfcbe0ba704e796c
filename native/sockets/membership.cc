#include "sockets/membership.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <string>

#include "common/fd.h"

namespace mcr {

namespace {

std::string Dotted(in_addr address) {
  char text[INET_ADDRSTRLEN] = "";
  inet_ntop(AF_INET, &address, text, sizeof(text));
  return text;
}

sockaddr_storage SocketAddress(in_addr address) {
  sockaddr_storage storage{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
  sin->sin_family = AF_INET;
  sin->sin_addr = address;
  return storage;
}

// Any-source membership: IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP with the interface by index.
void ChangeAnySource(int fd, bool join, in_addr group, int ifindex, const std::string& context) {
  ip_mreqn mreq{};
  mreq.imr_multiaddr = group;
  mreq.imr_ifindex = ifindex;
  const char* option = join ? "IP_ADD_MEMBERSHIP" : "IP_DROP_MEMBERSHIP";
  CheckSyscall(setsockopt(fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &mreq, sizeof(mreq)),
               context + option);
}

// Source-specific membership: MCAST_JOIN_SOURCE_GROUP takes the interface by index, unlike
// IP_ADD_SOURCE_MEMBERSHIP, which would need the interface's address.
void ChangeSourceSpecific(int fd, bool join, in_addr group, int ifindex, in_addr source, const std::string& context) {
  group_source_req req{};
  req.gsr_interface = static_cast<uint32_t>(ifindex);
  req.gsr_group = SocketAddress(group);
  req.gsr_source = SocketAddress(source);
  const char* option = join ? "MCAST_JOIN_SOURCE_GROUP" : "MCAST_LEAVE_SOURCE_GROUP";
  CheckSyscall(setsockopt(fd, IPPROTO_IP, join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP, &req, sizeof(req)),
               context + option);
}

void ChangeMembership(int fd, bool join, in_addr group, int ifindex, std::optional<in_addr> source) {
  const std::string context = std::string(join ? "joinGroup" : "leaveGroup") + " (" +
                              (source ? Dotted(*source) + ", " : std::string()) + Dotted(group) + " on ifindex " +
                              std::to_string(ifindex) + "): ";
  if (source) {
    ChangeSourceSpecific(fd, join, group, ifindex, *source, context);
  } else {
    ChangeAnySource(fd, join, group, ifindex, context);
  }
}

}  // namespace

int OpenMembershipSocket() {
  const std::string context = "openMembershipSocket: ";
  UniqueFd fd(CheckSyscall(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), context + "socket"));
  // Never deliver traffic of groups joined by other sockets (moot while unbound, but explicit).
  const int off = 0;
  CheckSyscall(setsockopt(fd.get(), IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof(off)), context + "IP_MULTICAST_ALL");
  return fd.Release();
}

void JoinGroup(int fd, in_addr group, int ifindex, std::optional<in_addr> source) {
  ChangeMembership(fd, true, group, ifindex, source);
}

void LeaveGroup(int fd, in_addr group, int ifindex, std::optional<in_addr> source) {
  ChangeMembership(fd, false, group, ifindex, source);
}

}  // namespace mcr
