// Listening to rtnetlink: a socket subscribed to link and IPv4 address notifications, read by a
// thread that hands the parsed events over in batches. Plain C++; netlink_binding.cc connects it
// to JavaScript.
#pragma once

#include <thread>
#include <vector>

#include "common/fd.h"
#include "netlink/rtnl_messages.h"

namespace mcr {

// Receives what the reader thread produces.
class RouteEventListener {
 public:
  virtual ~RouteEventListener() = default;
  // Everything the socket held at one wake-up (bounded), in the kernel's order. Runs on the reader
  // thread and may block to apply back-pressure (the socket then overruns, which is reported), but
  // must return promptly once the owner has started Close().
  virtual void OnEvents(std::vector<RouteEvent> events) = 0;
};

class RouteMonitor {
 public:
  // Opens the socket (RTMGRP_LINK | RTMGRP_IPV4_IFADDR, in the calling thread's network namespace)
  // and starts the reader. Throws SyscallError.
  explicit RouteMonitor(RouteEventListener& listener);
  ~RouteMonitor();
  RouteMonitor(const RouteMonitor&) = delete;
  RouteMonitor& operator=(const RouteMonitor&) = delete;

  // Stops and joins the reader and closes the socket. Idempotent; no listener call follows it.
  void Close();

 private:
  void ReadLoop();
  bool WaitReadable();
  bool ReadBatch(std::vector<uint8_t>& buffer, std::vector<RouteEvent>& batch);
  void DiscardQueued(std::vector<uint8_t>& buffer);
  void PauseAfterFailure();

  UniqueFd socket_;
  UniqueFd wake_;  // eventfd that Close() signals to end the reader's poll
  RouteEventListener& listener_;
  std::thread reader_;
  bool closed_ = false;  // only touched by the owning thread
};

}  // namespace mcr
