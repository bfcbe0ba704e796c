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

// The IPv4 options of an egress socket (see OpenEgressSocket).
void SetIpv4Options(int fd, const EgressSpec& spec, const std::string& context) {
  ip_mreqn mreq{};
  mreq.imr_ifindex = spec.ifindex;
  CheckSyscall(setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq)), context + "IP_MULTICAST_IF");
  SetIntOption(fd, IPPROTO_IP, IP_MULTICAST_TTL, spec.ttl, context + "IP_MULTICAST_TTL");
  SetIntOption(fd, IPPROTO_IP, IP_TTL, spec.ttl, context + "IP_TTL");
  // The relay must not hear its own output through the host's multicast loopback.
  SetIntOption(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0, context + "IP_MULTICAST_LOOP");
  SetIntOption(fd, IPPROTO_IP, IP_TOS, spec.tos, context + "IP_TOS");
  // Not the kernel's default (IP_PMTUDISC_WANT: DF set, yet fragmented by a path MTU learned
  // later): either never fragmented (DO: DF, EMSGSIZE above the path MTU, which the data plane
  // counts as too big), or fragmented by exactly the interface's MTU, which the data plane knows
  // and counts by (OMIT: DF clear, path MTU and ICMP "fragmentation needed" ignored; INTERFACE
  // would refuse a datagram above the MTU instead of fragmenting it).
  SetIntOption(fd, IPPROTO_IP, IP_MTU_DISCOVER, spec.dontFragment ? IP_PMTUDISC_DO : IP_PMTUDISC_OMIT,
               context + "IP_MTU_DISCOVER");
  // ICMP errors about its destinations queue on the socket with the destination they concern, for
  // the data plane to charge to that output (an unconnected socket is otherwise not told of them).
  SetIntOption(fd, IPPROTO_IP, IP_RECVERR, 1, context + "IP_RECVERR");
}

// The same for an IPv6 socket. IPv6 routers never fragment: OMIT has the sending host fragment by
// the interface's MTU (a fragment header), DO refuses what the path MTU does not carry.
void SetIpv6Options(int fd, const EgressSpec& spec, const std::string& context) {
  SetIntOption(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, spec.ifindex, context + "IPV6_MULTICAST_IF");
  SetIntOption(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, spec.ttl, context + "IPV6_MULTICAST_HOPS");
  SetIntOption(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, spec.ttl, context + "IPV6_UNICAST_HOPS");
  SetIntOption(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, context + "IPV6_MULTICAST_LOOP");
  SetIntOption(fd, IPPROTO_IPV6, IPV6_TCLASS, spec.tos, context + "IPV6_TCLASS");
  SetIntOption(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, spec.dontFragment ? IPV6_PMTUDISC_DO : IPV6_PMTUDISC_OMIT,
               context + "IPV6_MTU_DISCOVER");
  SetIntOption(fd, IPPROTO_IPV6, IPV6_RECVERR, 1, context + "IPV6_RECVERR");
}

// Binds the socket to spec's source address (port 0); one the host does not have (an unnumbered
// link, a tunnel) with IP_TRANSPARENT (IPV6_TRANSPARENT), which needs CAP_NET_ADMIN or CAP_NET_RAW,
// the supervisor's, and lets the socket bind it and send from it.
void BindSource(int fd, const EgressSpec& spec, const std::string& context) {
  const bool ipv6 = spec.family == AF_INET6;
  // The scope is used only by a link-local source.
  const SocketAddress local = SocketAddress::Of(*spec.source, 0, static_cast<uint32_t>(spec.ifindex));
  const auto bindSource = [&] { return bind(fd, &local.any, local.length()); };
  if (bindSource() == 0) return;
  if (errno != EADDRNOTAVAIL) throw SyscallError(context + "bind to the source address", errno);
  if (ipv6) SetIntOption(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, 1, context + "IPV6_TRANSPARENT");
  else SetIntOption(fd, IPPROTO_IP, IP_TRANSPARENT, 1, context + "IP_TRANSPARENT");
  CheckSyscall(bindSource(), context + "bind to the source address");
}

}  // namespace

int OpenEgressSocket(const EgressSpec& spec) {
  const bool ipv6 = spec.family == AF_INET6;
  const std::string context = "openEgressSocket (" + spec.ifname + " ifindex " + std::to_string(spec.ifindex) +
                              (ipv6 ? " ipv6" : "") + " ttl " + std::to_string(spec.ttl) + " tos " + std::to_string(spec.tos) +
                              (spec.dontFragment ? " df" : "") + (spec.source ? " with a source address" : "") +
                              (spec.esp ? " esp" : "") + "): ";
  const int domain = ipv6 ? AF_INET6 : AF_INET;
  UniqueFd fd(CheckSyscall(spec.esp ? socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP)
                                    : socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
                           context + (spec.esp ? "socket(SOCK_RAW, IPPROTO_ESP)" : "socket")));
  if (spec.esp) ReceiveNothing(fd.get(), context);
  CheckSyscall(setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, spec.ifname.c_str(),
                          static_cast<socklen_t>(spec.ifname.size() + 1)),
               context + "SO_BINDTODEVICE");
  if (ipv6) SetIpv6Options(fd.get(), spec, context);
  else SetIpv4Options(fd.get(), spec, context);
  SetSendBuffer(fd.get(), spec.sndbuf, context);
  if (spec.source) BindSource(fd.get(), spec, context);
  return fd.Release();
}

void SetEgressSendBuffer(int fd, int bytes) { SetSendBuffer(fd, bytes, "setSendBuffer (fd " + std::to_string(fd) + "): "); }

}  // namespace mcr
