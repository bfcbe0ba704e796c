// The data plane's wall clock (counters' lastPacketNs, trace timestamps).
#pragma once

#include <time.h>

#include <cstdint>

namespace mcr {

inline uint64_t TimespecNs(const timespec& at) {
  return static_cast<uint64_t>(at.tv_sec) * 1000000000ull + static_cast<uint64_t>(at.tv_nsec);
}

inline uint64_t MonotonicNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return TimespecNs(now);
}

inline uint64_t RealtimeNs() {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return TimespecNs(now);
}

}  // namespace mcr
