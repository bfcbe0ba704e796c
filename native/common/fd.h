// File-descriptor ownership and syscall failures for the plain C++ (Node-API free) socket code.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <utility>

namespace mcr {

// A failed syscall: `step` names what was being done ("bind (ifindex 3)"), `err` is the errno.
// The N-API glue turns it into a JavaScript Error with .code/.errno (see ThrowErrno).
class SyscallError : public std::runtime_error {
 public:
  SyscallError(std::string step, int err) : std::runtime_error(step), step_(std::move(step)), err_(err) {}
  const std::string& step() const { return step_; }
  int err() const { return err_; }

 private:
  std::string step_;
  int err_;
};

// Throws SyscallError(step, errno) when `result` is negative; returns `result` otherwise.
inline int CheckSyscall(int result, const std::string& step) {
  if (result < 0) throw SyscallError(step, errno);
  return result;
}

// Owns one file descriptor and closes it on destruction unless released.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Gives up ownership without closing.
  int Release() { return std::exchange(fd_, -1); }

  // Closes the current fd (if any) and owns `fd` instead. close() errors are ignored: on Linux
  // the descriptor is released even when close() reports EINTR or EIO.
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace mcr
