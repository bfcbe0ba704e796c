// Plain descriptor operations the supervisor needs around its sockets and worker channels.
#pragma once

#include <utility>

namespace mcr {

// close(); throws SyscallError on EBADF (EINTR counts as closed: Linux always releases the fd).
void CloseFd(int fd);

// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC).
std::pair<int, int> SeqpacketPair();

// Clears FD_CLOEXEC so that the fd is inherited across exec.
void SetInheritable(int fd);

// fcntl(F_DUPFD_CLOEXEC): a CLOEXEC duplicate of `fd`.
int DupCloexec(int fd);

}  // namespace mcr
