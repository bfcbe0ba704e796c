// Unconnected UDP sockets that send relayed datagrams out of one interface with one TTL and TOS, to
// any number of destinations (each send names its destination: docs/decisions/0035); raw IPPROTO_ESP
// sockets like them for ESP rules (docs/decisions/0063-esp-rules.md).
#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>

#include "common/ip_address.h"

namespace mcr {

struct EgressSpec {
  std::string ifname;  // at most IFNAMSIZ - 1 characters
  int ifindex;
  int ttl;             // 1..255
  int tos;             // 0..255
  int sndbuf;          // bytes
  // IP_PMTUDISC_DO (DF set, EMSGSIZE above the path MTU) instead of IP_PMTUDISC_OMIT
  // (fragments by the interface's MTU, DF clear).
  bool dontFragment;
  // AF_INET6: an IPv6 socket, whose ttl and tos are its hop limit and traffic class.
  int family = AF_INET;
  // Source address of what it sends, of `family` (none: the kernel picks one per send).
  std::optional<IpAddress> source;
  // A raw IPPROTO_ESP socket instead of UDP.
  bool esp = false;
};

// Opens a non-blocking, CLOEXEC UDP socket (spec.esp: a raw IPPROTO_ESP socket, which needs
// CAP_NET_RAW, and which a drop-all filter keeps from queueing the host's incoming ESP) bound to
// spec.ifname (SO_BINDTODEVICE), not connected:
// multicast leaves through spec.ifindex (IP_MULTICAST_IF) with no local loopback, and both
// IP_MULTICAST_TTL and IP_TTL are spec.ttl, so one socket serves multicast and unicast destinations.
// Datagrams too big for one packet are refused (spec.dontFragment) or fragmented by the interface's
// MTU (docs/decisions/0060-oversize-datagrams.md). A spec.source is bound (port 0); one the host does not
// have (unnumbered links, tunnels) with IP_TRANSPARENT, without which the kernel would not send from it.
// An AF_INET6 socket has the IPv6 options of each (IPV6_MULTICAST_IF, IPV6_MULTICAST_HOPS and
// IPV6_UNICAST_HOPS, IPV6_TCLASS, IPV6_MTU_DISCOVER, IPV6_RECVERR, IPV6_TRANSPARENT), and its source
// is bound in the interface's scope (a link-local source needs one).
// Throws SyscallError (the fd is closed) naming the failed step.
int OpenEgressSocket(const EgressSpec& spec);

// Sets the send buffer of an egress socket (SO_SNDBUFFORCE, or SO_SNDBUF without CAP_NET_ADMIN):
// the supervisor grows it as outputs are added to the socket. Throws SyscallError naming the option.
void SetEgressSendBuffer(int fd, int bytes);

}  // namespace mcr
