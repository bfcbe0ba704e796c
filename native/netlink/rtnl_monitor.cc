#include "netlink/rtnl_monitor.h"

#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "netlink/rtnl_socket.h"

namespace mcr {

namespace {

// The groups RTNLGRP_LINK and RTNLGRP_IPV4_IFADDR, as bind() takes them.
constexpr uint32_t kGroups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR;
// Room for bursts while the consumer is busy; the kernel doubles the value for its bookkeeping.
constexpr int kReceiveBufferBytes = 4 * 1024 * 1024;
// Datagrams read into one batch at most (each notification is its own datagram).
constexpr int kMaxDatagramsPerBatch = 256;
// Bound on the datagrams discarded after an overflow: well above what a full receive buffer holds
// (8 MiB of notifications of at least 768 bytes each), so the discarding ends even if changes go on.
constexpr int kMaxDiscardedDatagrams = 64 * 1024;
// How long the reader rests after an unexpected receive error, so that a persistent one cannot spin.
constexpr int kFailurePauseMs = 100;

// SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it SO_RCVBUF gets as much as net.core.rmem_max allows.
void EnlargeReceiveBuffer(int fd) {
  const int bytes = kReceiveBufferBytes;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) == 0) return;
  CheckSyscall(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)), "NetlinkMonitor: setsockopt(SO_RCVBUF)");
}

// Events were lost at this point of the stream; consecutive losses are reported once.
void AddOverrun(std::vector<RouteEvent>& batch) {
  if (batch.empty() || batch.back().kind != RouteEvent::Kind::kOverrun) batch.push_back(RouteEvent{});
}

}  // namespace

RouteMonitor::RouteMonitor(RouteEventListener& listener) : listener_(listener) {
  socket_ = OpenRouteSocket(kGroups, "NetlinkMonitor");
  EnlargeReceiveBuffer(socket_.get());
  wake_.Reset(CheckSyscall(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "NetlinkMonitor: eventfd"));
  try {
    reader_ = std::thread(&RouteMonitor::ReadLoop, this);
  } catch (...) {
    Close();
    throw;
  }
}

RouteMonitor::~RouteMonitor() { Close(); }

void RouteMonitor::Close() {
  if (closed_) return;
  closed_ = true;
  // Writing an eventfd once cannot fail; it stays readable, so the reader sees it at its next poll.
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = write(wake_.get(), &one, sizeof(one));
  if (reader_.joinable()) reader_.join();
  socket_.Reset();
  wake_.Reset();
}

void RouteMonitor::ReadLoop() {
  std::vector<uint8_t> buffer(kRouteDatagramBytes);
  while (WaitReadable()) {
    std::vector<RouteEvent> batch;
    const bool failed = ReadBatch(buffer, batch);
    if (!batch.empty()) listener_.OnEvents(std::move(batch));
    if (failed) PauseAfterFailure();
  }
}

// Waits until the socket has something (or an error) to read; false once Close() has signalled.
bool RouteMonitor::WaitReadable() {
  pollfd fds[2] = {{socket_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  while (poll(fds, 2, -1) < 0) {
    if (errno != EINTR) return false;  // cannot happen with valid arguments; end rather than spin
  }
  return fds[1].revents == 0;
}

// Reads what the socket holds (up to a bound) into `batch`; true when recvmsg failed unexpectedly.
bool RouteMonitor::ReadBatch(std::vector<uint8_t>& buffer, std::vector<RouteEvent>& batch) {
  for (int i = 0; i < kMaxDatagramsPerBatch; ++i) {
    const RouteDatagram datagram = ReceiveRouteDatagram(socket_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (datagram.length < 0) {
      if (datagram.error == EAGAIN || datagram.error == EWOULDBLOCK) return false;
      if (datagram.error == ENOBUFS) {
        // The receive buffer overflowed and notifications were dropped; reading goes on.
        DiscardQueued(buffer);
        AddOverrun(batch);
        continue;
      }
      // Anything else may have lost events too: the consumer is asked to dump, and the reader rests.
      AddOverrun(batch);
      return true;
    }
    if (!datagram.from_kernel) continue;  // a unicast from another process: not a notification
    ForEachMessage(buffer.data(), static_cast<size_t>(datagram.length), [&](const nlmsghdr& message) {
      // Unknown types and malformed messages are skipped; the others keep their order.
      if (std::optional<RouteEvent> event = ParseRouteMessage(message)) batch.push_back(std::move(*event));
      return true;
    });
    if (datagram.truncated) AddOverrun(batch);  // what did not fit is lost
  }
  return false;
}

// The kernel reports an overflow before the notifications still queued, and those are older than
// the ones it dropped: delivered after the overrun, they would undo the consumer's re-dump with
// stale state that nothing corrects. So they are read and discarded. Everything discarded here
// predates that dump, which only happens once the overrun (queued after this) reaches the consumer.
void RouteMonitor::DiscardQueued(std::vector<uint8_t>& buffer) {
  for (int i = 0; i < kMaxDiscardedDatagrams; ++i) {
    const RouteDatagram datagram = ReceiveRouteDatagram(socket_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (datagram.length < 0 && datagram.error != ENOBUFS) return;  // EAGAIN: nothing left
  }
}

void RouteMonitor::PauseAfterFailure() {
  pollfd wake{wake_.get(), POLLIN, 0};
  poll(&wake, 1, kFailurePauseMs);
}

}  // namespace mcr
