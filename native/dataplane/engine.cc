#include "dataplane/engine.h"

#include <linux/if_packet.h>

#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "dataplane/clock.h"
#include "system/cpus.h"

namespace mcr {

namespace {

constexpr int kMaxEvents = 64;

// epoll_event.data: null for the wake-up eventfd, an Input* for an input (aligned: low bit 0), and
// the serial shifted left with the low bit set for a sender.
uint64_t SenderEvent(uint64_t serial) { return serial << 1 | 1; }
bool IsSenderEvent(uint64_t data) { return (data & 1) != 0; }

// A socket's domain, type and protocol (SO_DOMAIN, SO_TYPE, SO_PROTOCOL).
struct SocketIdentity {
  int domain = 0;
  int type = 0;
  int protocol = 0;
};

// What `fd` is; throws ArgumentError when it is no socket (`what` was expected).
SocketIdentity Identify(int fd, const std::string& what) {
  SocketIdentity identity;
  const std::string of = " (fd " + std::to_string(fd) + ")";
  socklen_t length = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &identity.domain, &length) < 0) {
    if (errno == ENOTSOCK) throw ArgumentError("fd " + std::to_string(fd) + " is not a socket (" + what + " expected)");
    throw SyscallError("getsockopt SO_DOMAIN" + of, errno);
  }
  length = sizeof(int);
  CheckSyscall(getsockopt(fd, SOL_SOCKET, SO_TYPE, &identity.type, &length), "getsockopt SO_TYPE" + of);
  length = sizeof(int);
  CheckSyscall(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &identity.protocol, &length), "getsockopt SO_PROTOCOL" + of);
  return identity;
}

// Throws ArgumentError unless `fd` is a socket of this domain and type.
void RequireSocket(int fd, int domain, int type, const std::string& what) {
  const SocketIdentity identity = Identify(fd, what);
  if (identity.domain != domain || identity.type != type) throw ArgumentError("fd " + std::to_string(fd) + " is not an " + what);
}

// What a sender's socket is: UDP (SOCK_DGRAM) or raw IPPROTO_ESP (an ESP rule's sender), IPv4 or IPv6.
struct SenderKind {
  sa_family_t family;
  bool esp;
};

// The kind of sender `fd` is; throws ArgumentError when it is none.
SenderKind SenderKindOf(int fd) {
  const std::string what = "AF_INET or AF_INET6 SOCK_DGRAM (UDP) or SOCK_RAW IPPROTO_ESP socket";
  const SocketIdentity identity = Identify(fd, what);
  const sa_family_t family = static_cast<sa_family_t>(identity.domain);
  if (identity.domain == AF_INET || identity.domain == AF_INET6) {
    if (identity.type == SOCK_DGRAM && identity.protocol == IPPROTO_UDP) return SenderKind{family, false};
    if (identity.type == SOCK_RAW && identity.protocol == IPPROTO_ESP) return SenderKind{family, true};
  }
  throw ArgumentError("fd " + std::to_string(fd) + " is not an " + what);
}

// The Forwarder reads every frame after its virtio-net header (Forwarder::Serve).
void RequireVnetHeader(int fd) {
  int on = 0;
  socklen_t length = sizeof(on);
  CheckSyscall(getsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &on, &length), "getsockopt PACKET_VNET_HDR (fd " + std::to_string(fd) + ")");
  if (!on) throw ArgumentError("fd " + std::to_string(fd) + " reads frames without a virtio-net header (PACKET_VNET_HDR): open it with openPacketSocket");
}

// Checked before any buffer is sized by it.
uint32_t ValidBatch(uint32_t batch) {
  if (batch < 1 || batch > Engine::kMaxBatch) throw ArgumentError("batch must be in 1.." + std::to_string(Engine::kMaxBatch));
  return batch;
}

// The data-plane thread's scheduler slice. A waiting thread that asks for a short slice gets an
// early virtual deadline and so preempts the current task as soon as a packet wakes it, instead of
// waiting up to a default slice behind it (EEVDF, Linux 6.12+: sched_attr.sched_runtime of a
// SCHED_OTHER task). Needs no privilege and changes neither the nice value nor the CPU share.
constexpr uint64_t kSliceNs = 100000;

// Asks for kSliceNs for the calling thread. Older kernels ignore the field or refuse the call
// (EINVAL, E2BIG): the thread then keeps the default slice, which only costs latency.
void RequestShortSlice() {
  struct {
    uint32_t size;
    uint32_t policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime;
    uint64_t deadline;
    uint64_t period;
  } attr{};
  attr.size = sizeof attr;
  attr.policy = SCHED_OTHER;
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, 0);  // this thread's; kept as it is
  if (errno != 0) return;
  attr.nice = nice;
  attr.runtime = kSliceNs;
  syscall(SYS_sched_setattr, 0, &attr, 0);
}

}  // namespace

Engine::Engine(int core, uint32_t batch, std::function<void()> wakeTraceReader, int countersFd)
    : traceRing_(wakeTraceReader ? std::make_unique<TraceRing>(kTraceRingSlots) : nullptr),
      forwarder_(ValidBatch(batch), traceRing_.get(), std::move(wakeTraceReader)) {
  if (core >= CPU_SETSIZE) throw ArgumentError("core must be below " + std::to_string(CPU_SETSIZE));
  if (countersFd >= 0) {
    try {
      region_ = CounterRegion::Map(countersFd);
    } catch (const std::invalid_argument& e) {
      throw ArgumentError(e.what());
    }
  }
  epoll_.Reset(CheckSyscall(epoll_create1(EPOLL_CLOEXEC), "epoll_create1"));
  wakeup_.Reset(CheckSyscall(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd"));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = 0;  // the wake-up eventfd; inputs carry their Input*, senders their serial
  CheckSyscall(epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wakeup_.get(), &event), "epoll_ctl ADD (eventfd)");

  published_.store(rules_.table().get(), std::memory_order_release);

  thread_ = std::thread([this] { Run(); });
  if (core >= 0) {
    try {
      PinThread(thread_.native_handle(), core);
    } catch (...) {
      Close();
      throw;
    }
  }
}

Engine::~Engine() { Close(); }

void Engine::RequireOpen() const {
  if (closed_) throw std::logic_error("the data plane is closed");
}

void Engine::CollectRetired() { reclaimer_.Collect(); }

uint64_t Engine::Retire(std::shared_ptr<const void> object) {
  const uint64_t tag = reclaimer_.Retire(std::move(object));
  Wake();
  return tag;
}

void Engine::AddInput(uint32_t handle, int fd, uint32_t counterSlot) {
  RequireOpen();
  CollectRetired();
  if (inputs_.count(handle)) throw ArgumentError("input handle " + std::to_string(handle) + " is already in use");
  InputCounters* shared = nullptr;
  if (counterSlot != 0) {
    if (!region_) throw ArgumentError("this data plane has no counter region");
    try {
      shared = region_->At<InputCounters>(counterSlot, 2);
    } catch (const std::invalid_argument& e) {
      throw ArgumentError(e.what());
    }
  }
  RequireSocket(fd, AF_PACKET, SOCK_RAW, "AF_PACKET SOCK_RAW socket");
  RequireVnetHeader(fd);
  auto input = std::make_shared<Input>(handle, fd, shared);
  if (rules_.NamesInput(handle)) {  // a rule already names it: read it now
    try {
      Arm(*input);
    } catch (...) {
      input->fd.Release();  // not ours after all: the caller keeps it
      throw;
    }
  }
  inputs_.emplace(handle, std::move(input));
}

uint64_t Engine::RemoveInput(uint32_t handle) {
  RequireOpen();
  CollectRetired();
  const auto found = inputs_.find(handle);
  if (found == inputs_.end()) throw ArgumentError("unknown input handle " + std::to_string(handle));
  // After EPOLL_CTL_DEL no new event can name the input; an event the thread already holds is
  // covered by the reclaimer (the thread has not passed a quiescent point since fetching it).
  if (found->second->armed) {
    CheckSyscall(epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, found->second->fd.get(), nullptr),
                 "epoll_ctl DEL (input " + std::to_string(handle) + ")");
  }
  std::shared_ptr<Input> input = std::move(found->second);
  inputs_.erase(found);
  return Retire(std::move(input));
}

void Engine::AddSender(uint32_t handle, int fd, const SendPolicy& policy, uint32_t mtu) {
  RequireOpen();
  CollectRetired();
  if (senders_.count(handle)) throw ArgumentError("sender handle " + std::to_string(handle) + " is already in use");
  const SenderKind kind = SenderKindOf(fd);
  auto sender = std::make_unique<Sender>(handle, fd, ++nextSenderSerial_, policy, mtu, kind.esp, kind.family);
  // No events asked for: epoll reports EPOLLERR (a queued error) regardless. Edge-triggered: an
  // error the thread cannot attribute (no published table names the sender) is not reported again
  // and again; each new error reports the sender again.
  epoll_event event{};
  event.events = EPOLLET;
  event.data.u64 = SenderEvent(sender->serial);
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) < 0) {
    const int err = errno;
    sender->fd.Release();  // the caller keeps it
    throw SyscallError("epoll_ctl ADD (sender " + std::to_string(handle) + ")", err);
  }
  const int epoll = epoll_.get();
  senders_.emplace(handle, std::shared_ptr<const Sender>(sender.release(), [epoll](const Sender* s) {
    // The supervisor holds the same socket: closing this fd alone would leave it in the epoll set.
    // An event fetched before this names a serial no published table has any more.
    epoll_ctl(epoll, EPOLL_CTL_DEL, s->fd.get(), nullptr);
    delete s;
  }));
}

void Engine::ServeErrors(uint64_t serial, const Table& table) {
  const Sender* sender = table.SenderBySerial(serial);
  if (sender == nullptr) return;  // no longer (or not yet) sent through: nothing to charge
  // Errors left after one turn's reading report the sender again by themselves: reading an error
  // while others remain signals the socket anew (sock_dequeue_err_skb), which re-arms the edge.
  sendErrors_.Drain(*sender, table);
}

void Engine::RemoveSender(uint32_t handle) {
  RequireOpen();
  CollectRetired();
  // The thread reaches a sender only through outputs, which hold it (see RemoveOutput): its epoll
  // events name its serial, which the thread looks up in the published table.
  if (senders_.erase(handle) == 0) throw ArgumentError("unknown sender handle " + std::to_string(handle));
}

void Engine::AddOutput(uint32_t handle, uint32_t sender, const SocketAddress& destination) {
  RequireOpen();
  CollectRetired();
  if (outputs_.count(handle)) throw ArgumentError("output handle " + std::to_string(handle) + " is already in use");
  const auto found = senders_.find(sender);
  if (found == senders_.end()) {
    throw ArgumentError("output " + std::to_string(handle) + ": unknown sender handle " + std::to_string(sender));
  }
  const Sender& through = *found->second;
  if (through.esp != (destination.port() == 0)) {
    throw ArgumentError("output " + std::to_string(handle) + ": " +
                        (through.esp ? "an ESP sender sends to no port" : "a UDP sender needs a port 1-65535"));
  }
  if (through.family != destination.family()) {
    throw ArgumentError("output " + std::to_string(handle) + ": " + destination.address().Text() + " is not an " +
                        (through.family == AF_INET6 ? "IPv6" : "IPv4") + " address, which sender " + std::to_string(sender) +
                        " sends to");
  }
  outputs_.emplace(handle, std::make_shared<Output>(handle, found->second, destination));
}

void Engine::RemoveOutput(uint32_t handle) {
  RequireOpen();
  CollectRetired();
  // The thread reaches outputs only through tables, and every table holds its outputs: dropping
  // the map's reference frees the output now if no table has it, or with the last table that does.
  if (outputs_.erase(handle) == 0) throw ArgumentError("unknown output handle " + std::to_string(handle));
}

uint64_t Engine::SetRules(const std::vector<RuleSpec>& rules) {
  RequireOpen();
  CollectRetired();
  return Install(rules_.Replace(rules, inputs_, outputs_, region_.get()));
}

uint64_t Engine::UpdateRules(const std::vector<RuleSpec>& upserts, const std::vector<std::string>& removes) {
  RequireOpen();
  CollectRetired();
  return Install(rules_.Update(upserts, removes, inputs_, outputs_, region_.get()));
}

uint64_t Engine::Install(std::unique_ptr<InstalledRules::Change> change) {
  std::vector<uint32_t> named;
  std::shared_ptr<const Table> previous = rules_.Commit(std::move(change), &named);
  published_.store(rules_.table().get(), std::memory_order_release);
  for (const uint32_t handle : named) {
    const auto found = inputs_.find(handle);
    if (found != inputs_.end() && !found->second->armed) Arm(*found->second);
  }
  return Retire(std::move(previous));
}

void Engine::Arm(Input& input) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = &input;
  CheckSyscall(epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, input.fd.get(), &event), "epoll_ctl ADD (input " + std::to_string(input.handle) + ")");
  input.armed = true;
}

std::vector<const Input*> Engine::inputs() const {
  std::vector<const Input*> list;
  list.reserve(inputs_.size());
  for (const auto& entry : inputs_) list.push_back(entry.second.get());
  std::sort(list.begin(), list.end(), [](const Input* a, const Input* b) { return a->handle < b->handle; });
  return list;
}

void Engine::Close() {
  if (closed_) return;
  closed_ = true;
  if (thread_.joinable()) {
    stopping_.store(true, std::memory_order_release);
    Wake();
    thread_.join();
  }
  // The thread is gone: everything can go, and every fd with it.
  published_.store(nullptr, std::memory_order_relaxed);
  rules_.Clear();
  inputs_.clear();
  outputs_.clear();
  senders_.clear();
  reclaimer_.CollectAll();
  wakeup_.Reset();
  epoll_.Reset();
}

void Engine::Wake() {
  const uint64_t one = 1;
  // Cannot fail short of a counter overflow (EAGAIN), and then a wake-up is pending anyway.
  [[maybe_unused]] const ssize_t written = write(wakeup_.get(), &one, sizeof one);
}

void Engine::DrainWakeups() {
  uint64_t count;
  [[maybe_unused]] const ssize_t read = ::read(wakeup_.get(), &count, sizeof count);
}

void Engine::Run() {
  pthread_setname_np(pthread_self(), "mcr-dataplane");  // as top -H and /proc/PID/task/*/comm show it
  RequestShortSlice();
  epoll_event events[kMaxEvents];
  RegionHeader* header = region_ ? &region_->header() : nullptr;
  while (!stopping_.load(std::memory_order_acquire)) {
    // Quiescent point: no pointer from an earlier iteration (table, input, output) is held here.
    const uint64_t seen = reclaimer_.Quiesce();
    if (header) {
      header->quiescedEpoch.Set(seen);
      header->heartbeatNs.Set(MonotonicNs());
      header->loops.Add(1);
    }
    const uint32_t stall = stallMs_.exchange(0, std::memory_order_relaxed);
    if (stall > 0) usleep(stall * 1000);
    const int ready = epoll_wait(epoll_.get(), events, kMaxEvents, header ? kHeartbeatPeriodMs : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return;  // EBADF/EINVAL: the epoll set is gone, which only Close() does after stopping
    }
    // Errors first: an error the network reported before these packets arrived fails the next
    // packet to that destination, not a later one.
    for (int i = 0; i < ready; ++i) {
      const uint64_t data = events[i].data.u64;
      if (data == 0) {
        DrainWakeups();
      } else if (IsSenderEvent(data)) {
        ServeErrors(data >> 1, *published_.load(std::memory_order_acquire));
      }
    }
    for (int i = 0; i < ready; ++i) {
      const uint64_t data = events[i].data.u64;
      if (data != 0 && !IsSenderEvent(data)) forwarder_.Serve(*static_cast<Input*>(events[i].data.ptr), published_);
    }
  }
}

}  // namespace mcr
