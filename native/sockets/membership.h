// Group memberships (IGMP joins) held on a UDP socket that never receives anything.
#pragma once

#include <netinet/in.h>

#include <optional>

namespace mcr {

// An unbound, CLOEXEC UDP socket with IP_MULTICAST_ALL off. Being unbound it is never handed a
// datagram; its memberships only make the kernel report the groups (IGMP) and accept them on the
// interface, where the AF_PACKET sockets pick them up.
int OpenMembershipSocket();

// Joins or leaves `group` on `ifindex`; with a source, the (source, group) channel of an SSM join.
// Throws SyscallError naming the group, source and interface.
void JoinGroup(int fd, in_addr group, int ifindex, std::optional<in_addr> source);
void LeaveGroup(int fd, in_addr group, int ifindex, std::optional<in_addr> source);

}  // namespace mcr
