// A worker's data plane: one thread that reads every input, matches and fans out, plus the control
// operations the JavaScript thread calls (add/remove sockets, swap the rule table, read counters).
// Plain C++: the N-API glue (dataplane_binding.cc) wraps it.
//
// Threads: every public method runs on the JavaScript thread; Run() is the data-plane thread. They
// share only lock-free state: the published table pointer, the epoll set, the counters (single
// writer), the objects' pending lists (data-plane thread only) and the Reclaimer's epochs.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <functional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "dataplane/counter_region.h"
#include "dataplane/endpoints.h"
#include "dataplane/forwarder.h"
#include "dataplane/installed_rules.h"
#include "dataplane/reclaimer.h"
#include "dataplane/send_errors.h"
#include "dataplane/table.h"
#include "common/fd.h"

namespace mcr {

// A bad argument to a control operation (unknown or duplicate handle, wrong kind of socket).
class ArgumentError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class Engine {
 public:
  static constexpr uint32_t kMaxBatch = 1024;  // UIO_MAXIOV: the most sendmmsg/recvmmsg take at once

  // Trace records the ring holds before the reader drains it (more are counted as lost).
  static constexpr uint32_t kTraceRingSlots = 1024;

  // Allocates every buffer, creates the epoll set and wake-up eventfd, and starts the thread,
  // pinned to `core` unless it is negative. With `wakeTraceReader`, traced rules record into a
  // trace ring (see traceRing()) and the thread calls it, without blocking, when records are ready.
  // Throws SyscallError (EINVAL, naming the CPUs that may be used, for a core outside this process's
  // affinity: see PinThread).
  // With `countersFd` (a CounterRegion's memfd; -1: none; not taken), rules and inputs may keep
  // their counters in that shared region, and the thread bumps its heartbeat there.
  Engine(int core, uint32_t batch, std::function<void()> wakeTraceReader = nullptr, int countersFd = -1);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Takes ownership of `fd` (an AF_PACKET SOCK_RAW socket) when it succeeds; on a throw the
  // caller keeps it. Throws ArgumentError (duplicate handle, not a packet socket), SyscallError.
  // `counterSlot` (0: none): the first of the two region slots that hold its counters.
  void AddInput(uint32_t handle, int fd, uint32_t counterSlot = 0);
  // Stops reading the input; its fd is closed once the data-plane thread is done with it.
  // Rules naming it stay installed and match nothing until an input with that handle is added.
  // Returns the epoch tag after which the data-plane thread no longer touches it (nor its counters).
  uint64_t RemoveInput(uint32_t handle);
  // Takes ownership of `fd` (an unconnected UDP socket, or a raw IPPROTO_ESP one for ESP rules,
  // IPv4 or IPv6, IP_RECVERR or IPV6_RECVERR set) when it succeeds, like
  // AddInput. The socket is in the epoll set for its errors (EPOLLERR) until it is closed. Its
  // outputs make each packet's TTL and TOS by `policy`; `mtu`: its interface's (0: unknown), which
  // says which payloads leave as fragments (or, by a policy that does not fragment, not at all).
  void AddSender(uint32_t handle, int fd, const SendPolicy& policy, uint32_t mtu);
  // Forgets the handle (new outputs cannot name it). Outputs that use the sender keep it (and its
  // fd) alive: the fd is closed with the last of them.
  void RemoveSender(uint32_t handle);
  // An output sending to `destination` through sender `sender`. Throws ArgumentError (duplicate
  // handle, unknown sender, a port for an ESP sender or none for a UDP one, an address not of the
  // sender's family).
  void AddOutput(uint32_t handle, uint32_t sender, const SocketAddress& destination);
  // Forgets the handle (new rules cannot name it). The installed table keeps sending to it until a
  // table without it replaces it; the output (and its hold on the sender) goes when no table that
  // may be in use refers to it.
  void RemoveOutput(uint32_t handle);
  // Builds and publishes a new table. Throws RuleError and changes nothing when a rule is invalid.
  // Returns the epoch tag of the table it replaced (see RegionHeader::quiescedEpoch).
  uint64_t SetRules(const std::vector<RuleSpec>& rules);
  // Builds and publishes a new table from the installed one: `upserts` replace the rules of the same
  // id (in place) or are added (at the end), the rules of `removes` go (an unknown id is ignored).
  // The work follows the change, not the table: only the shards it touches are rebuilt (see
  // InstalledRules). Throws RuleError and changes nothing when the resulting table is invalid.
  uint64_t UpdateRules(const std::vector<RuleSpec>& upserts, const std::vector<std::string>& removes);

  // Test hook: the data-plane thread sleeps `ms` at its next loop turn, neither forwarding nor
  // bumping its heartbeat (a stalled data plane, for the supervisor's detection test).
  void StallForTest(uint32_t ms) { stallMs_.store(ms, std::memory_order_relaxed); Wake(); }

  // Frees retired objects the data-plane thread has released. Every control operation does this
  // first; the binding also calls it when counters are read, which the worker does periodically.
  void CollectRetired();

  // The installed table (its rules carry the counters).
  const Table& table() const { return *rules_.table(); }
  // The table the data-plane thread reads (test hooks look up through it as the thread does).
  const Table& published() const { return *published_.load(std::memory_order_acquire); }
  // The sender with this handle (null: none). Test hooks.
  const Sender* sender(uint32_t handle) const {
    const auto found = senders_.find(handle);
    return found == senders_.end() ? nullptr : found->second.get();
  }
  // Slot of `counters` in the counter region (0: elsewhere). Test hooks.
  uint64_t SlotOf(const void* counters) const {
    if (!region_) return 0;
    const uint8_t* at = static_cast<const uint8_t*>(counters);
    if (at < region_->base() || at >= region_->base() + region_->bytes()) return 0;
    return static_cast<uint64_t>(at - region_->base()) / kSlotBytes;
  }
  // The inputs, by ascending handle.
  std::vector<const Input*> inputs() const;
  // The trace records' way out (null without a trace reader). Drained on the JavaScript thread.
  TraceRing* traceRing() { return traceRing_.get(); }

  // Stops and joins the thread, then closes every fd. Idempotent; the destructor calls it.
  void Close();
  bool closed() const { return closed_; }

 private:
  void Run();  // the data-plane thread
  void Wake();
  void DrainWakeups();
  // Unlinked objects go to the reclaimer; the thread is woken so that it acknowledges soon.
  uint64_t Retire(std::shared_ptr<const void> object);
  void RequireOpen() const;

  UniqueFd epoll_;
  UniqueFd wakeup_;  // eventfd: control changes and stop
  std::unique_ptr<TraceRing> traceRing_;  // before forwarder_, which records into it
  Forwarder forwarder_;

  InputMap inputs_;
  std::unordered_map<uint32_t, std::shared_ptr<const Sender>> senders_;
  OutputMap outputs_;
  // Publishes the change's table (its bookkeeping becomes the installed rules').
  uint64_t Install(std::unique_ptr<InstalledRules::Change> change);
  // Adds the input to the epoll set (see Input::armed).
  void Arm(Input& input);
  // Reads the errors of the sender an epoll event names (data-plane thread).
  void ServeErrors(uint64_t serial, const Table& table);
  SendErrors sendErrors_;  // data-plane thread only
  uint64_t nextSenderSerial_ = 0;  // JavaScript thread

  InstalledRules rules_;                          // the installed table, owned here (JavaScript thread)
  std::atomic<const Table*> published_{nullptr};  // read by the data-plane thread
  Reclaimer reclaimer_;
  std::unique_ptr<CounterRegion> region_;  // null without a counter region
  std::atomic<uint32_t> stallMs_{0};

  std::atomic<bool> stopping_{false};
  std::thread thread_;
  bool closed_ = false;
};

}  // namespace mcr
