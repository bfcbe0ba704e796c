// Connected UDP sockets that send relayed datagrams out of one interface to one destination.
#pragma once

#include <netinet/in.h>

#include <string>

namespace mcr {

struct EgressSpec {
  std::string ifname;  // at most IFNAMSIZ - 1 characters
  int ifindex;
  in_addr address;     // destination, network byte order
  uint16_t port;       // destination, host byte order
  int ttl;             // 1..255
  int tos;             // 0..255
  int sndbuf;          // bytes
};

// Opens a non-blocking, CLOEXEC UDP socket bound to spec.ifname and connected to the destination.
// A multicast destination leaves through spec.ifindex with IP_MULTICAST_TTL and no local loopback;
// a unicast one gets IP_TTL. Throws SyscallError (the fd is closed) naming the failed step.
int OpenEgressSocket(const EgressSpec& spec);

}  // namespace mcr
