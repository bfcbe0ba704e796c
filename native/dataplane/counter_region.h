// The counters' shared memory: a memfd region the supervisor creates (the worker cannot create what
// it hands over) and maps, passed to the worker with its sockets (SCM_RIGHTS), mapped by the data
// plane, which writes the counters straight into it. The supervisor reads them there without a round
// trip, and they outlive the worker: when it dies, what it counted is still in the region.
//
// Layout: slots of kSlotBytes. Slot 0 is the header; the supervisor allocates the others (a rule's
// counters take one slot, each of its outputs one, an input two) and names them in the rules and
// inputs it installs. Each slot has one writer, the data-plane thread (relaxed atomics, no locked
// read-modify-write); the supervisor reads it, and zeroes it only once no table in use refers to it.
// The region is sparse: untouched pages cost no memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "dataplane/counters.h"

namespace mcr {

constexpr size_t kSlotBytes = 64;
constexpr uint64_t kRegionMagic = 0x31746e636d63724dull;  // "Mrcmcnt1", little-endian

// Slot 0. `heartbeatNs` (CLOCK_MONOTONIC) is bumped by the data-plane loop at least every
// kHeartbeatPeriodMs; `quiescedEpoch` is the reclaimer epoch the loop last passed a quiescent point at:
// a table retired with a tag at or below it is no longer in use, nor are its counter slots.
struct RegionHeader {
  Counter magic;
  Counter slots;
  Counter heartbeatNs;
  Counter quiescedEpoch;
  Counter loops;
};
static_assert(sizeof(RegionHeader) <= kSlotBytes, "the header fits slot 0");
static_assert(sizeof(RuleCounters) <= kSlotBytes, "a rule's counters fit one slot");
static_assert(sizeof(OutputCounters) <= kSlotBytes, "an output's counters fit one slot");
static_assert(sizeof(InputCounters) <= 2 * kSlotBytes, "an input's counters fit two slots");

// How often the idle data-plane loop wakes to bump the heartbeat.
constexpr int kHeartbeatPeriodMs = 100;

class CounterRegion {
 public:
  // Creates a memfd of `slots` slots (header included), sealed against shrinking; returns its fd.
  // Throws SyscallError.
  static int Create(uint64_t slots);
  // Maps the region behind `fd` (read-write, shared) and checks its header. Does not take `fd`.
  // Throws SyscallError, or std::invalid_argument when it is not a counter region.
  static std::unique_ptr<CounterRegion> Map(int fd);
  ~CounterRegion();
  CounterRegion(const CounterRegion&) = delete;
  CounterRegion& operator=(const CounterRegion&) = delete;

  uint64_t slots() const { return slots_; }
  size_t bytes() const { return bytes_; }
  uint8_t* base() const { return base_; }
  RegionHeader& header() const { return *reinterpret_cast<RegionHeader*>(base_); }

  // The counters at `slot` (taking `count` slots). Throws std::invalid_argument outside the region
  // or at slot 0.
  template <typename T>
  T* At(uint64_t slot, uint64_t count = 1) const {
    Check(slot, count);
    return reinterpret_cast<T*>(base_ + slot * kSlotBytes);
  }

 private:
  CounterRegion(uint8_t* base, size_t bytes, uint64_t slots) : base_(base), bytes_(bytes), slots_(slots) {}
  void Check(uint64_t slot, uint64_t count) const;

  uint8_t* base_;
  size_t bytes_;
  uint64_t slots_;
};

}  // namespace mcr
