#include "sockets/descriptors.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/fd.h"

namespace mcr {

void CloseFd(int fd) {
  if (close(fd) < 0 && errno != EINTR) throw SyscallError("closeFd (fd " + std::to_string(fd) + ")", errno);
}

std::pair<int, int> SeqpacketPair() {
  int fds[2];
  CheckSyscall(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), "socketpair");
  return {fds[0], fds[1]};
}

void SetInheritable(int fd) {
  const std::string context = "setInheritable (fd " + std::to_string(fd) + "): ";
  const int flags = CheckSyscall(fcntl(fd, F_GETFD), context + "F_GETFD");
  CheckSyscall(fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC), context + "F_SETFD");
}

int DupCloexec(int fd) {
  return CheckSyscall(fcntl(fd, F_DUPFD_CLOEXEC, 0), "dup (fd " + std::to_string(fd) + ")");
}

}  // namespace mcr
