#include "sockets/membership.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/fd.h"

namespace mcr {

namespace {

// Dotted quad, or RFC 5952 text (inet_ntop writes IPv6 lower case, the longest run of zeros as ::).
std::string Text(const MembershipAddress& address) {
  char text[INET6_ADDRSTRLEN] = "";
  const void* bytes = address.family == AF_INET6 ? static_cast<const void*>(&address.v6) : &address.v4;
  inet_ntop(address.family, bytes, text, sizeof(text));
  return text;
}

sockaddr_storage SocketAddress(const MembershipAddress& address) {
  sockaddr_storage storage{};
  if (address.family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = address.v6;
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    sin->sin_addr = address.v4;
  }
  return storage;
}

// The socket option of the change, as a failure names it.
const char* OptionName(bool join, const MembershipAddress& group, bool sourceSpecific) {
  if (sourceSpecific) return join ? "MCAST_JOIN_SOURCE_GROUP" : "MCAST_LEAVE_SOURCE_GROUP";
  if (group.family == AF_INET6) return join ? "MCAST_JOIN_GROUP" : "MCAST_LEAVE_GROUP";
  return join ? "IP_ADD_MEMBERSHIP" : "IP_DROP_MEMBERSHIP";
}

// The step as a failure names it: "joinGroup (10.0.0.1, 232.1.2.3 on ifindex 3): MCAST_JOIN_SOURCE_GROUP",
// "joinGroup (ff3e::1 on ifindex 3): MCAST_JOIN_GROUP". Built only when a call failed: a batch of
// 20,000 joins allocates nothing for the ones that succeed.
std::string Step(bool join, const MembershipAddress& group, int ifindex,
                 const std::optional<MembershipAddress>& source) {
  return std::string(join ? "joinGroup" : "leaveGroup") + " (" + (source ? Text(*source) + ", " : std::string()) +
         Text(group) + " on ifindex " + std::to_string(ifindex) + "): " + OptionName(join, group, source.has_value());
}

// The membership change's setsockopt: 0, or its errno. The kernel chooses the report's protocol
// version per link (IGMPv3/MLDv2, or v2/v1 after hearing an older querier or when forced by
// force_igmp_version / force_mld_version): nothing here depends on it.
//   Source-specific, either family: MCAST_JOIN_SOURCE_GROUP with the interface by index (unlike
//   IP_ADD_SOURCE_MEMBERSHIP, which would need its address).
//   Any source, IPv6: MCAST_JOIN_GROUP (group_req, the interface by index).
//   Any source, IPv4: IP_ADD_MEMBERSHIP with ip_mreqn (the interface by index), as mcr always has.
int SetMembership(int fd, bool join, const MembershipAddress& group, int ifindex,
                  const std::optional<MembershipAddress>& source) {
  const int level = group.family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
  int result;
  if (source) {
    group_source_req req{};
    req.gsr_interface = static_cast<uint32_t>(ifindex);
    req.gsr_group = SocketAddress(group);
    req.gsr_source = SocketAddress(*source);
    result = setsockopt(fd, level, join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP, &req, sizeof(req));
  } else if (group.family == AF_INET6) {
    group_req req{};
    req.gr_interface = static_cast<uint32_t>(ifindex);
    req.gr_group = SocketAddress(group);
    result = setsockopt(fd, level, join ? MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP, &req, sizeof(req));
  } else {
    ip_mreqn mreq{};
    mreq.imr_multiaddr = group.v4;
    mreq.imr_ifindex = ifindex;
    result = setsockopt(fd, level, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &mreq, sizeof(mreq));
  }
  return result < 0 ? errno : 0;
}

void ChangeMembership(int fd, bool join, const MembershipAddress& group, int ifindex,
                      const std::optional<MembershipAddress>& source) {
  if (const int err = SetMembership(fd, join, group, ifindex, source)) {
    throw SyscallError(Step(join, group, ifindex, source), err);
  }
}

}  // namespace

const char* FamilyName(int family) { return family == AF_INET6 ? "IPv6" : "IPv4"; }

bool IsMulticast(const MembershipAddress& address) {
  return address.family == AF_INET6 ? IN6_IS_ADDR_MULTICAST(&address.v6) : IN_MULTICAST(ntohl(address.v4.s_addr));
}

bool IsUnicast(const MembershipAddress& address) {
  if (address.family == AF_INET6) return !IN6_IS_ADDR_MULTICAST(&address.v6) && !IN6_IS_ADDR_UNSPECIFIED(&address.v6);
  const uint32_t host = ntohl(address.v4.s_addr);
  return !IN_MULTICAST(host) && host != INADDR_ANY && host != INADDR_BROADCAST;
}

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

void JoinGroup(int fd, const MembershipAddress& group, int ifindex, const std::optional<MembershipAddress>& source) {
  ChangeMembership(fd, true, group, ifindex, source);
}

void LeaveGroup(int fd, const MembershipAddress& group, int ifindex, const std::optional<MembershipAddress>& source) {
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
