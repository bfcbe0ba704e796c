#include "sockets/membership.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/fd.h"

namespace mcr {

namespace {

// `address` as group_req and group_source_req take it.
sockaddr_storage Storage(const IpAddress& address) {
  const SocketAddress socket = SocketAddress::Of(address, 0);
  sockaddr_storage storage{};
  std::memcpy(&storage, &socket, socket.length());
  return storage;
}

// The socket option of the change, as a failure names it.
const char* OptionName(bool join, const IpAddress& group, bool sourceSpecific) {
  if (sourceSpecific) return join ? "MCAST_JOIN_SOURCE_GROUP" : "MCAST_LEAVE_SOURCE_GROUP";
  if (group.Family() == AF_INET6) return join ? "MCAST_JOIN_GROUP" : "MCAST_LEAVE_GROUP";
  return join ? "IP_ADD_MEMBERSHIP" : "IP_DROP_MEMBERSHIP";
}

// The step as a failure names it: "joinGroup (10.0.0.1, 232.1.2.3 on ifindex 3): MCAST_JOIN_SOURCE_GROUP",
// "joinGroup (ff3e::1 on ifindex 3): MCAST_JOIN_GROUP". Built only when a call failed: a batch of
// 20,000 joins allocates nothing for the ones that succeed.
std::string Step(bool join, const IpAddress& group, int ifindex,
                 const std::optional<IpAddress>& source) {
  return std::string(join ? "joinGroup" : "leaveGroup") + " (" + (source ? source->Text() + ", " : std::string()) +
         group.Text() + " on ifindex " + std::to_string(ifindex) + "): " + OptionName(join, group, source.has_value());
}

// The membership change's setsockopt: 0, or its errno. The kernel chooses the report's protocol
// version per link (IGMPv3/MLDv2, or v2/v1 after hearing an older querier or when forced by
// force_igmp_version / force_mld_version): nothing here depends on it.
//   Source-specific, either family: MCAST_JOIN_SOURCE_GROUP with the interface by index (unlike
//   IP_ADD_SOURCE_MEMBERSHIP, which would need its address).
//   Any source, IPv6: MCAST_JOIN_GROUP (group_req, the interface by index).
//   Any source, IPv4: IP_ADD_MEMBERSHIP with ip_mreqn (the interface by index), as mcr always has.
int SetMembership(int fd, bool join, const IpAddress& group, int ifindex,
                  const std::optional<IpAddress>& source) {
  const int level = group.Family() == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
  int result;
  if (source) {
    group_source_req req{};
    req.gsr_interface = static_cast<uint32_t>(ifindex);
    req.gsr_group = Storage(group);
    req.gsr_source = Storage(*source);
    result = setsockopt(fd, level, join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP, &req, sizeof(req));
  } else if (group.Family() == AF_INET6) {
    group_req req{};
    req.gr_interface = static_cast<uint32_t>(ifindex);
    req.gr_group = Storage(group);
    result = setsockopt(fd, level, join ? MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP, &req, sizeof(req));
  } else {
    ip_mreqn mreq{};
    mreq.imr_multiaddr.s_addr = group.V4Value();
    mreq.imr_ifindex = ifindex;
    result = setsockopt(fd, level, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &mreq, sizeof(mreq));
  }
  return result < 0 ? errno : 0;
}

void ChangeMembership(int fd, bool join, const IpAddress& group, int ifindex,
                      const std::optional<IpAddress>& source) {
  if (const int err = SetMembership(fd, join, group, ifindex, source)) {
    throw SyscallError(Step(join, group, ifindex, source), err);
  }
}

}  // namespace

const char* FamilyName(int family) { return family == AF_INET6 ? "IPv6" : "IPv4"; }

int OpenMembershipSocket(int family) {
  const std::string context = "openMembershipSocket: ";
  UniqueFd fd(CheckSyscall(socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), context + "socket"));
  // Never deliver traffic of groups joined by other sockets (moot while unbound, but explicit).
  const int off = 0;
  if (family == AF_INET6) {
    CheckSyscall(setsockopt(fd.get(), IPPROTO_IPV6, IPV6_MULTICAST_ALL, &off, sizeof(off)),
                 context + "IPV6_MULTICAST_ALL");
  } else {
    CheckSyscall(setsockopt(fd.get(), IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof(off)), context + "IP_MULTICAST_ALL");
  }
  return fd.Release();
}

void JoinGroup(int fd, const IpAddress& group, int ifindex, const std::optional<IpAddress>& source) {
  ChangeMembership(fd, true, group, ifindex, source);
}

void LeaveGroup(int fd, const IpAddress& group, int ifindex, const std::optional<IpAddress>& source) {
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
