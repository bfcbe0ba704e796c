#include "sockets/egress_socket.h"

#include <linux/filter.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "common/fd.h"

namespace mcr {

namespace {

void SetIntOption(int fd, int level, int name, int value, const std::string& step) {
  CheckSyscall(setsockopt(fd, level, name, &value, sizeof(value)), step);
}

// SO_SNDBUFFORCE ignores net.core.wmem_max but needs CAP_NET_ADMIN; without it, fall back to
// SO_SNDBUF, which the kernel caps at wmem_max.
void SetSendBuffer(int fd, int bytes, const std::string& context) {
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) == 0) return;
  if (errno != EPERM) throw SyscallError(context + "SO_SNDBUFFORCE", errno);
  SetIntOption(fd, SOL_SOCKET, SO_SNDBUF, bytes, context + "SO_SNDBUF");
}

// A raw socket gets a copy of every packet of its protocol the host receives: an egress socket reads
// none, so none may queue (only its error queue, which filters do not see, is read).
void ReceiveNothing(int fd, const std::string& context) {
  sock_filter dropAll{BPF_RET | BPF_K, 0, 0, 0};
  sock_fprog program{1, &dropAll};
  CheckSyscall(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)), context + "SO_ATTACH_FILTER drop-all");
}

}  // namespace

int OpenEgressSocket(const EgressSpec& spec) {
  const std::string context = "openEgressSocket (" + spec.ifname + " ifindex " + std::to_string(spec.ifindex) +
                              " ttl " + std::to_string(spec.ttl) + " tos " + std::to_string(spec.tos) +
                              (spec.dontFragment ? " df" : "") + (spec.source != 0 ? " with a source address" : "") +
                              (spec.esp ? " esp" : "") + "): ";

  UniqueFd fd(CheckSyscall(spec.esp ? socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP)
                                    : socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
                           context + (spec.esp ? "socket(SOCK_RAW, IPPROTO_ESP)" : "socket")));
  if (spec.esp) ReceiveNothing(fd.get(), context);
  CheckSyscall(setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, spec.ifname.c_str(),
                          static_cast<socklen_t>(spec.ifname.size() + 1)),
               context + "SO_BINDTODEVICE");
  ip_mreqn mreq{};
  mreq.imr_ifindex = spec.ifindex;
  CheckSyscall(setsockopt(fd.get(), IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq)), context + "IP_MULTICAST_IF");
  SetIntOption(fd.get(), IPPROTO_IP, IP_MULTICAST_TTL, spec.ttl, context + "IP_MULTICAST_TTL");
  SetIntOption(fd.get(), IPPROTO_IP, IP_TTL, spec.ttl, context + "IP_TTL");
  // The relay must not hear its own output through the host's multicast loopback.
  SetIntOption(fd.get(), IPPROTO_IP, IP_MULTICAST_LOOP, 0, context + "IP_MULTICAST_LOOP");
  SetIntOption(fd.get(), IPPROTO_IP, IP_TOS, spec.tos, context + "IP_TOS");
  // Not the kernel's default (IP_PMTUDISC_WANT: DF set, yet fragmented by a path MTU learned
  // later): either never fragmented (DO: DF, EMSGSIZE above the path MTU, which the data plane
  // counts as too big), or fragmented by exactly the interface's MTU, which the data plane knows
  // and counts by (OMIT: DF clear, path MTU and ICMP "fragmentation needed" ignored; INTERFACE
  // would refuse a datagram above the MTU instead of fragmenting it).
  SetIntOption(fd.get(), IPPROTO_IP, IP_MTU_DISCOVER, spec.dontFragment ? IP_PMTUDISC_DO : IP_PMTUDISC_OMIT,
               context + "IP_MTU_DISCOVER");
  // ICMP errors about its destinations queue on the socket with the destination they concern, for
  // the data plane to charge to that output (an unconnected socket is otherwise not told of them).
  SetIntOption(fd.get(), IPPROTO_IP, IP_RECVERR, 1, context + "IP_RECVERR");
  SetSendBuffer(fd.get(), spec.sndbuf, context);
  if (spec.source != 0) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = spec.source;
    const auto bindSource = [&] { return bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)); };
    if (bindSource() < 0) {
      if (errno != EADDRNOTAVAIL) throw SyscallError(context + "bind to the source address", errno);
      // Not an address of the host (an unnumbered link, a tunnel): IP_TRANSPARENT (which needs
      // CAP_NET_ADMIN or CAP_NET_RAW, the supervisor's) lets the socket bind it and send from it.
      SetIntOption(fd.get(), IPPROTO_IP, IP_TRANSPARENT, 1, context + "IP_TRANSPARENT");
      CheckSyscall(bindSource(), context + "bind to the source address");
    }
  }
  return fd.Release();
}

void SetEgressSendBuffer(int fd, int bytes) { SetSendBuffer(fd, bytes, "setSendBuffer (fd " + std::to_string(fd) + "): "); }

}  // namespace mcr
