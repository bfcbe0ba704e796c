// Group memberships (IGMP and MLD joins) held on a UDP socket that never receives anything.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>

#include "common/ip_address.h"

namespace mcr {

// "IPv4" or "IPv6", as messages name a family (AF_INET, AF_INET6).
const char* FamilyName(int family);

// An unbound, CLOEXEC UDP socket of `family` (AF_INET or AF_INET6) with IP_MULTICAST_ALL /
// IPV6_MULTICAST_ALL off. Being unbound it is never handed a datagram; its memberships only make the
// kernel report the groups (IGMP for IPv4, MLD for IPv6) and accept them on the interface, where the
// AF_PACKET sockets pick them up. A socket holds memberships of its own family only.
int OpenMembershipSocket(int family);

// Joins or leaves `group` on `ifindex`; with a source (of the group's family), the (source, group)
// channel of an SSM join. `fd` is a membership socket of the group's family. Throws SyscallError
// naming the group, source and interface.
void JoinGroup(int fd, const IpAddress& group, int ifindex, const std::optional<IpAddress>& source);
void LeaveGroup(int fd, const IpAddress& group, int ifindex, const std::optional<IpAddress>& source);

// One step of a batch (ApplyMembershipOp): join or leave a group on a membership socket, or close
// the socket (which leaves whatever it still holds).
struct MembershipOp {
  enum class Kind { kJoin, kLeave, kClose };
  Kind kind = Kind::kJoin;
  int fd = -1;
  int ifindex = 0;  // unused by kClose
  IpAddress group;  // unused by kClose
  std::optional<IpAddress> source;
};

// What a step did: err 0 when it was done; otherwise the errno and the step as a SyscallError
// names it ("joinGroup (239.1.2.3 on ifindex 3): IP_ADD_MEMBERSHIP").
struct MembershipOutcome {
  int err = 0;
  std::string step;
};

// Runs one step; never throws for a refused system call (std::bad_alloc aside). Plain C++, for a
// background thread.
MembershipOutcome ApplyMembershipOp(const MembershipOp& op);

}  // namespace mcr
