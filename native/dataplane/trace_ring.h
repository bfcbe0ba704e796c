// Trace records on their way from the data-plane thread to JavaScript: a single-producer,
// single-consumer ring of fixed-size slots, allocated once. The data-plane thread claims a slot per
// traced packet (none free: the record is counted as lost, never waited for), fills it while the
// packet is sent, and publishes the batch's slots at its end. The JavaScript thread drains every
// published slot when woken. A wake-up is requested only when none is outstanding, so the queue
// between the threads never holds more than one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/ip_address.h"

namespace mcr {

constexpr uint32_t kMaxSnapLength = 2048;
constexpr uint32_t kMaxTracedSends = 64;    // the supervisor's limit of outputs per rule
constexpr uint32_t kMaxTracedIdLength = 63;  // the supervisor's limit of rule id length

// TracedSend::err of a packet the output did not send because it arrived with TTL 1 or 0 (its
// sender decrements the TTL).
constexpr int32_t kSendTtlExpired = -1;

// One output's result for a traced packet: 0 sent, kSendTtlExpired, else the errno (EAGAIN: the
// socket was full; EMSGSIZE: too big); the TTL and TOS byte it was sent with (0 and 0 when its TTL
// expired); whether it left as IP fragments; and how many datagrams its message held (0: not sent).
struct TracedSend {
  uint32_t handle;
  int32_t err;
  uint8_t ttl;
  uint8_t tos;
  uint8_t segments;
  bool fragmented;
};

struct TraceSlot {
  uint64_t timestampNs;  // CLOCK_REALTIME when the kernel received the frame (else when its batch was read)
  uint64_t timeInMcrNs;  // from then until its batch's sends were done
  uint32_t input;
  IpAddress source;       // IPv4 mapped into IPv6 (ip_address.h)
  IpAddress destination;
  uint16_t sourcePort;
  uint16_t destinationPort;
  uint32_t ipLength;
  uint8_t ttl;
  uint8_t tos;
  uint8_t protocol;      // 17 (UDP) or 50 (ESP)
  uint16_t vlan;         // the frame's VLAN ID (0: untagged, or not read)
  uint32_t frameLength;
  uint32_t snapLength;
  uint32_t sendCount;
  uint32_t idLength;
  char id[kMaxTracedIdLength];
  TracedSend sends[kMaxTracedSends];
  uint8_t frame[kMaxSnapLength];
};

class TraceRing {
 public:
  // `capacity` is rounded up to a power of two. Slots are not touched until used.
  explicit TraceRing(uint32_t capacity);

  // Data-plane thread. A free slot for the current batch, or null when the ring is full (counted).
  TraceSlot* Claim();
  // Data-plane thread. Makes every claimed slot readable; true when the reader must be woken.
  bool Publish();

  // JavaScript thread, when woken: calls `each(const TraceSlot&)` for every published slot, oldest
  // first, then frees them. Clears the wake-up request first, so a record published meanwhile
  // causes another wake-up.
  template <typename Each>
  void Drain(Each&& each) {
    wakeRequested_.store(false, std::memory_order_release);
    const uint64_t head = head_.load(std::memory_order_acquire);
    uint64_t tail = tail_.load(std::memory_order_relaxed);
    for (; tail != head; ++tail) each(static_cast<const TraceSlot&>(slots_[tail & mask_]));
    tail_.store(tail, std::memory_order_release);
  }
  // JavaScript thread: records lost since the previous call.
  uint64_t TakeLost();
  // JavaScript thread: a wake-up could not be delivered; the next Publish requests another.
  void WakeFailed() { wakeRequested_.store(false, std::memory_order_release); }

 private:
  std::unique_ptr<TraceSlot[]> slots_;
  const uint64_t mask_;
  std::atomic<uint64_t> head_{0};  // published (producer writes)
  std::atomic<uint64_t> tail_{0};  // freed (consumer writes)
  uint64_t claimed_ = 0;           // producer only
  std::atomic<uint64_t> lost_{0};  // producer writes
  uint64_t lostReported_ = 0;      // consumer only
  std::atomic<bool> wakeRequested_{false};
};

}  // namespace mcr
