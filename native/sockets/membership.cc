#include "sockets/membership.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
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

// The step as a failure names it: "joinGroup (10.0.0.1, 232.1.2.3 on ifindex 3): MCAST_JOIN_SOURCE_GROUP".
// Built only when a call failed: a batch of 20,000 joins allocates nothing for the ones that succeed.
std::string Step(bool join, in_addr group, int ifindex, std::optional<in_addr> source) {
  const char* option = source ? (join ? "MCAST_JOIN_SOURCE_GROUP" : "MCAST_LEAVE_SOURCE_GROUP")
                              : (join ? "IP_ADD_MEMBERSHIP" : "IP_DROP_MEMBERSHIP");
  return std::string(join ? "joinGroup" : "leaveGroup") + " (" + (source ? Dotted(*source) + ", " : std::string()) +
         Dotted(group) + " on ifindex " + std::to_string(ifindex) + "): " + option;
}

// The membership change's setsockopt: 0, or its errno. Any source: IP_ADD_MEMBERSHIP /
// IP_DROP_MEMBERSHIP with the interface by index. Source-specific: MCAST_JOIN_SOURCE_GROUP, which
// takes the interface by index, unlike IP_ADD_SOURCE_MEMBERSHIP (that would need its address).
int SetMembership(int fd, bool join, in_addr group, int ifindex, std::optional<in_addr> source) {
  int result;
  if (source) {
    group_source_req req{};
    req.gsr_interface = static_cast<uint32_t>(ifindex);
    req.gsr_group = SocketAddress(group);
    req.gsr_source = SocketAddress(*source);
    result = setsockopt(fd, IPPROTO_IP, join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP, &req, sizeof(req));
  } else {
    ip_mreqn mreq{};
    mreq.imr_multiaddr = group;
    mreq.imr_ifindex = ifindex;
    result = setsockopt(fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &mreq, sizeof(mreq));
  }
  return result < 0 ? errno : 0;
}

void ChangeMembership(int fd, bool join, in_addr group, int ifindex, std::optional<in_addr> source) {
  if (const int err = SetMembership(fd, join, group, ifindex, source)) {
    throw SyscallError(Step(join, group, ifindex, source), err);
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

MembershipOutcome ApplyMembershipOp(const MembershipOp& op) {
  if (op.kind == MembershipOp::Kind::kClose) {
    // As CloseFd: the descriptor is released even when close() reports EINTR.
    if (close(op.fd) < 0 && errno != EINTR) return {errno, "closeFd (fd " + std::to_string(op.fd) + ")"};
    return {};
  }
  const bool join = op.kind == MembershipOp::Kind::kJoin;
  if (const int err = SetMembership(op.fd, join, op.group, op.ifindex, op.source)) {
    return {err, Step(join, op.group, op.ifindex, op.source)};
  }
  return {};
}

}  // namespace mcr
