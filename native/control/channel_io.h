// The threads behind a control channel: a reader doing blocking recvmsg() that reassembles whole
// messages, and a writer serving a queue so that senders never wait for the socket. Plain C++;
// control_channel.cc connects it to JavaScript.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "control/chunk_protocol.h"
#include "common/fd.h"

namespace mcr {

// Receives what the reader thread produces. Both calls run on the reader thread and must return
// without waiting indefinitely once the owner has started Close().
class ChannelListener {
 public:
  virtual ~ChannelListener() = default;
  // A whole message; the listener owns its fds.
  virtual void OnMessage(ChannelMessage message) = 0;
  // The channel ended (peer closed, socket error, protocol violation); called at most once and
  // never for an end caused by Close().
  virtual void OnClosed(std::string reason) = 0;
};

// Throws unless `fd` is an AF_UNIX SOCK_SEQPACKET socket (SyscallError, or std::invalid_argument).
void CheckSeqpacketSocket(int fd);

class ChannelIo {
 public:
  // Takes ownership of `fd` once constructed (a throwing constructor leaves it to the caller,
  // unless starting a thread failed) and starts both threads.
  ChannelIo(int fd, ChannelListener& listener);
  ~ChannelIo();
  ChannelIo(const ChannelIo&) = delete;
  ChannelIo& operator=(const ChannelIo&) = delete;

  // Queues a message for the writer. Returns false, dropping it (and closing its fds), when the
  // channel no longer sends: after Close() or after the writer failed.
  bool Send(ChannelMessage message);

  // Bytes queued and not yet handed to the socket (the peer is not reading, or is slow).
  size_t queuedBytes() const { return queuedBytes_.load(std::memory_order_relaxed); }

  // Hands the socket whatever is queued as far as it takes it without waiting, then shuts the
  // socket down, joins both threads and closes it. Idempotent; no listener call follows it.
  void Close();

 private:
  void ReadLoop();
  std::string EndReason();
  void WriteLoop();
  bool SendMessage(const ChannelMessage& message);
  bool SendChunk(const msghdr& chunk);
  void WaitWritable();
  void FailWriter(int err);

  UniqueFd socket_;
  UniqueFd wake_;  // eventfd that interrupts the writer's wait for POLLOUT when closing
  ChannelListener& listener_;

  std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<ChannelMessage> queue_;  // guarded by mutex_
  bool accepting_ = true;             // guarded by mutex_
  std::string writer_error_;          // guarded by mutex_
  std::atomic<bool> closing_{false};
  std::atomic<size_t> queuedBytes_{0};  // Close() started: stop waiting, flush what fits, end quietly

  std::thread reader_;
  std::thread writer_;
  bool closed_ = false;  // only touched by the owning thread
};

}  // namespace mcr
