// Test hook (mcrd --test-hooks only): tries, from inside a worker, what its confinement must forbid,
// so a test can prove each attempt fails.
#pragma once

#include <string>
#include <vector>

namespace mcr {

struct ProbeAttempt {
  std::string attempt;  // what was tried, e.g. "bind(packet socket, lo)"
  int err;              // the errno it failed with; 0 when it succeeded
};

// Each attempt in turn, on `packetFd` (one of the worker's capture sockets) where one is needed:
// creating AF_PACKET, netlink and UDP sockets; re-binding the capture socket to the loopback
// interface (ifindex 1, present in every network namespace); detaching its filter and attaching an
// accept-all one; putting its interface in promiscuous mode; fork(); and last execve("/bin/true").
// Whatever succeeds is undone (sockets closed, promiscuous mode dropped, a forked child exits at
// once) except what cannot be: a re-bind or filter change stays, and a successful execve replaces the
// process (the caller then never gets the results, which a test notices as well).
std::vector<ProbeAttempt> ProbeConfinement(int packetFd);

}  // namespace mcr
