#include "security/confinement_probe.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace mcr {

namespace {

// The loopback interface's index in every network namespace (it is created first).
constexpr int kLoopbackIfindex = 1;

// 0 when the call returned >= 0, else its errno.
int Outcome(long result) { return result < 0 ? errno : 0; }

int TryOpenSocket(int domain, int type, int protocol) {
  const int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

int TryRebind(int fd) {
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = kLoopbackIfindex;
  return Outcome(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)));
}

int TryDetachFilter(int fd) {
  const int unused = 0;
  return Outcome(setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused)));
}

int TryAttachAcceptAll(int fd) {
  sock_filter accept_all[] = {BPF_STMT(BPF_RET | BPF_K, 0xffffffff)};
  sock_fprog prog{};
  prog.len = 1;
  prog.filter = accept_all;
  return Outcome(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)));
}

// Promiscuous mode on the interface the socket is bound to; dropped again at once if it worked.
int TryPromiscuous(int fd) {
  sockaddr_ll bound{};
  socklen_t len = sizeof(bound);
  const int ifindex = getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) == 0 ? bound.sll_ifindex : kLoopbackIfindex;
  packet_mreq mreq{};
  mreq.mr_ifindex = ifindex;
  mreq.mr_type = PACKET_MR_PROMISC;
  const int err = Outcome(setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(mreq)));
  if (err == 0) setsockopt(fd, SOL_PACKET, PACKET_DROP_MEMBERSHIP, &mreq, sizeof(mreq));
  return err;
}

int TryFork() {
  const pid_t child = fork();
  if (child == 0) _exit(0);  // only async-signal-safe calls in the child of a multi-threaded process
  if (child < 0) return errno;
  waitpid(child, nullptr, 0);
  return 0;
}

// Returns only when execve fails.
int TryExec() {
  char path[] = "/bin/true";
  char* argv[] = {path, nullptr};
  char* envp[] = {nullptr};
  execve(path, argv, envp);
  return errno;
}

}  // namespace

std::vector<ProbeAttempt> ProbeConfinement(int packetFd) {
  std::vector<ProbeAttempt> attempts;
  attempts.push_back({"socket(AF_PACKET, SOCK_RAW)", TryOpenSocket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL))});
  attempts.push_back({"socket(AF_NETLINK, NETLINK_ROUTE)", TryOpenSocket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)});
  attempts.push_back({"socket(AF_INET, SOCK_DGRAM)", TryOpenSocket(AF_INET, SOCK_DGRAM, 0)});
  attempts.push_back({"bind(packet socket, lo)", TryRebind(packetFd)});
  attempts.push_back({"setsockopt(packet socket, SO_DETACH_FILTER)", TryDetachFilter(packetFd)});
  attempts.push_back({"setsockopt(packet socket, SO_ATTACH_FILTER accept-all)", TryAttachAcceptAll(packetFd)});
  attempts.push_back({"setsockopt(packet socket, PACKET_ADD_MEMBERSHIP promiscuous)", TryPromiscuous(packetFd)});
  attempts.push_back({"fork()", TryFork()});
  attempts.push_back({"execve(/bin/true)", TryExec()});
  return attempts;
}

}  // namespace mcr
