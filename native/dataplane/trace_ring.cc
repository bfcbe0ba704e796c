#include "dataplane/trace_ring.h"

namespace mcr {

namespace {

uint64_t PowerOfTwoAtLeast(uint32_t n) {
  uint64_t size = 1;
  while (size < n) size <<= 1;
  return size;
}

}  // namespace

// Default-initialised on purpose: the slots' pages are committed only when first written.
TraceRing::TraceRing(uint32_t capacity)
    : slots_(new TraceSlot[PowerOfTwoAtLeast(capacity)]), mask_(PowerOfTwoAtLeast(capacity) - 1) {}

TraceSlot* TraceRing::Claim() {
  if (claimed_ - tail_.load(std::memory_order_acquire) > mask_) {
    lost_.store(lost_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return nullptr;
  }
  return &slots_[claimed_++ & mask_];
}

bool TraceRing::Publish() {
  if (claimed_ == head_.load(std::memory_order_relaxed)) return false;
  head_.store(claimed_, std::memory_order_release);
  return !wakeRequested_.exchange(true, std::memory_order_acq_rel);
}

uint64_t TraceRing::TakeLost() {
  const uint64_t lost = lost_.load(std::memory_order_relaxed);
  const uint64_t delta = lost - lostReported_;
  lostReported_ = lost;
  return delta;
}

}  // namespace mcr
