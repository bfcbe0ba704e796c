// Group memberships (IGMP joins) held on a UDP socket that never receives anything.
#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>

namespace mcr {

// An unbound, CLOEXEC UDP socket with IP_MULTICAST_ALL off. Being unbound it is never handed a
// datagram; its memberships only make the kernel report the groups (IGMP) and accept them on the
// interface, where the AF_PACKET sockets pick them up.
int OpenMembershipSocket();

// Joins or leaves `group` on `ifindex`; with a source, the (source, group) channel of an SSM join.
// Throws SyscallError naming the group, source and interface.
void JoinGroup(int fd, in_addr group, int ifindex, std::optional<in_addr> source);
void LeaveGroup(int fd, in_addr group, int ifindex, std::optional<in_addr> source);

// One step of a batch (ApplyMembershipOp): join or leave a group on a membership socket, or close
// the socket (which leaves whatever it still holds).
struct MembershipOp {
  enum class Kind { kJoin, kLeave, kClose };
  Kind kind = Kind::kJoin;
  int fd = -1;
  in_addr group{};  // network order; unused by kClose
  int ifindex = 0;  // unused by kClose
  std::optional<in_addr> source;
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
