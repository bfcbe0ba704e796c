#include "control/channel_io.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

namespace mcr {

namespace {

// Room for the SCM_RIGHTS of one message, aligned as a cmsghdr.
union FdControlBuffer {
  char bytes[CMSG_SPACE(sizeof(int) * kMaxMessageFds)];
  cmsghdr align;
};

// Moves every descriptor of a received SCM_RIGHTS into owning handles.
std::vector<UniqueFd> TakeFds(msghdr& msg) {
  std::vector<UniqueFd> fds;
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  return fds;
}

std::string ErrnoText(const char* call, int err) { return std::string(call) + ": " + std::strerror(err); }

}  // namespace

void CheckSeqpacketSocket(int fd) {
  const std::string context = "ControlChannel (fd " + std::to_string(fd) + "): ";
  int domain = 0, type = 0;
  socklen_t len = sizeof(domain);
  CheckSyscall(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len), context + "SO_DOMAIN");
  len = sizeof(type);
  CheckSyscall(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), context + "SO_TYPE");
  if (domain != AF_UNIX || type != SOCK_SEQPACKET) {
    throw std::invalid_argument(context + "not an AF_UNIX SOCK_SEQPACKET socket");
  }
}

ChannelIo::ChannelIo(int fd, ChannelListener& listener) : listener_(listener) {
  CheckSeqpacketSocket(fd);
  wake_.Reset(CheckSyscall(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "ControlChannel: eventfd"));
  socket_.Reset(fd);
  try {
    reader_ = std::thread(&ChannelIo::ReadLoop, this);
    writer_ = std::thread(&ChannelIo::WriteLoop, this);
  } catch (...) {
    Close();
    throw;
  }
}

ChannelIo::~ChannelIo() { Close(); }

bool ChannelIo::Send(ChannelMessage message) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!accepting_) return false;
    queuedBytes_.fetch_add(message.data.size(), std::memory_order_relaxed);
    queue_.push_back(std::move(message));
  }
  queued_.notify_one();
  return true;
}

void ChannelIo::Close() {
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  queued_.notify_one();
  // Also wake the writer if it waits for room in the socket (an eventfd written once cannot fail).
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = write(wake_.get(), &one, sizeof(one));
  if (writer_.joinable()) writer_.join();
  // The reader leaves its blocking recvmsg() with EOF once the socket is shut down.
  shutdown(socket_.get(), SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  socket_.Reset();
  wake_.Reset();
}

void ChannelIo::ReadLoop() {
  std::vector<uint8_t> chunk(kChunkBytes);
  FdControlBuffer control;
  Reassembler reassembler;
  std::string reason;
  while (reason.empty()) {
    iovec iov{chunk.data(), chunk.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof(control.bytes);
    const ssize_t n = recvmsg(socket_.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno != EINTR) reason = ErrnoText("recvmsg", errno);
      continue;
    }
    std::vector<UniqueFd> fds = TakeFds(msg);  // owned from here on, whatever happens next
    if (closing_) return;
    if (n == 0) {
      reason = EndReason();
    } else if (msg.msg_flags & MSG_CTRUNC) {
      reason = "more than " + std::to_string(kMaxMessageFds) + " descriptors in a message";
    } else if (msg.msg_flags & MSG_TRUNC) {
      reason = "chunk larger than " + std::to_string(kChunkBytes) + " bytes";
    } else {
      switch (reassembler.Add(chunk.data(), static_cast<size_t>(n), std::move(fds))) {
        case Reassembler::Result::kComplete:
          listener_.OnMessage(reassembler.Take());
          break;
        case Reassembler::Result::kPartial:
          break;
        case Reassembler::Result::kError:
          reason = reassembler.error();
          break;
      }
    }
  }
  if (closing_) return;
  // Stop the writer too (it fails with EPIPE) and tell the owner, once.
  shutdown(socket_.get(), SHUT_RDWR);
  listener_.OnClosed(std::move(reason));
}

// Why the stream ended at EOF: a send failure recorded by the writer (which then shut the socket
// down), or else the peer closing its end.
std::string ChannelIo::EndReason() {
  std::lock_guard<std::mutex> lock(mutex_);
  return writer_error_.empty() ? "peer closed" : writer_error_;
}

void ChannelIo::WriteLoop() {
  for (;;) {
    ChannelMessage message;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      queued_.wait(lock, [this] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) break;  // closing, and everything was sent
      message = std::move(queue_.front());
      queue_.pop_front();
    }
    const bool sent = SendMessage(message);
    queuedBytes_.fetch_sub(message.data.size(), std::memory_order_relaxed);
    if (!sent) break;
    // message (and the duplicated fds it carried) is released here, after sending.
  }
  std::deque<ChannelMessage> unsent;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    accepting_ = false;
    unsent.swap(queue_);
  }
  // unsent messages close their fds as they go out of scope.
}

// Sends the message as its run of chunks; false when the writer must stop.
bool ChannelIo::SendMessage(const ChannelMessage& message) {
  const size_t size = message.data.size();
  size_t offset = 0;
  FdControlBuffer control;
  do {
    const size_t length = std::min(kChunkPayloadBytes, size - offset);
    uint8_t header = offset + length < size ? kMoreChunks : kLastChunk;
    iovec iov[2] = {{&header, 1}, {const_cast<uint8_t*>(message.data.data()) + offset, length}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = length > 0 ? 2 : 1;
    if (offset == 0 && !message.fds.empty()) {
      const size_t bytes = sizeof(int) * message.fds.size();
      msg.msg_control = control.bytes;
      msg.msg_controllen = CMSG_SPACE(bytes);
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(bytes);
      for (size_t i = 0; i < message.fds.size(); ++i) {
        const int fd = message.fds[i].get();
        std::memcpy(CMSG_DATA(cmsg) + i * sizeof(int), &fd, sizeof(int));
      }
    }
    if (!SendChunk(msg)) return false;
    offset += length;
  } while (offset < size);
  return true;
}

// One datagram, waiting for room as long as the channel is not closing.
bool ChannelIo::SendChunk(const msghdr& chunk) {
  for (;;) {
    if (sendmsg(socket_.get(), &chunk, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) return true;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      FailWriter(errno);
      return false;
    }
    // Closing: what does not fit now is dropped (the peer discards a message cut short).
    if (closing_) return false;
    WaitWritable();
  }
}

// Waits until the socket has room or Close() signals the eventfd (which then stays readable).
void ChannelIo::WaitWritable() {
  pollfd fds[2] = {{socket_.get(), POLLOUT, 0}, {wake_.get(), POLLIN, 0}};
  while (poll(fds, 2, -1) < 0 && errno == EINTR) {
  }
}

// The socket refused a chunk. Shutting it down ends the reader, which reports the end; a broken
// pipe or reset is the peer closing, which the reader reports as such.
void ChannelIo::FailWriter(int err) {
  if (err != EPIPE && err != ECONNRESET) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (writer_error_.empty()) writer_error_ = ErrnoText("sendmsg", err);
  }
  shutdown(socket_.get(), SHUT_RDWR);
}

}  // namespace mcr
