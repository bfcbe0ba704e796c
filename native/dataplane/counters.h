// Data-plane counters: written by the data-plane thread only, read from the JavaScript thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "dataplane/parser.h"

namespace mcr {

// A counter with a single writer. The writer adds with a relaxed load and store (no locked
// read-modify-write on the packet path); readers on other threads see a recent, untorn value.
class Counter {
 public:
  void Add(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void Sub(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  void Set(uint64_t value) { value_.store(value, std::memory_order_relaxed); }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

struct RuleCounters {
  Counter packets;
  Counter bytes;         // UDP payload bytes
  Counter forwarded;     // accepted by at least one output
  Counter sendFailed;    // accepted by no output
  Counter lastPacketNs;  // CLOCK_REALTIME of the last match; 0 = never
};

// One output of one rule (a rule's i-th output).
struct OutputCounters {
  Counter packets;
  Counter bytes;
  Counter errWouldBlock;   // EAGAIN, ENOBUFS
  Counter errUnreachable;  // ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN
  Counter errOther;
  Counter ttlExpired;      // not sent: received with TTL 1 or 0 by an output that decrements it
  Counter fragmented;      // sent (also in packets) as IP fragments: larger than the interface's MTU
  Counter tooBig;          // not sent: larger than the MTU, by an output that does not fragment
};

struct InputCounters {
  Counter frames;
  Counter bytes;      // frame bytes as received
  Counter unmatched;  // parsed, but no rule matches
  Counter rejected[kParseStatusCount];  // by ParseStatus (kOk unused)
  Counter mergedFrames;     // frames that carried several datagrams (GRO, or a GSO send): split
  Counter mergedDatagrams;  // the datagrams they carried

  Counter& Rejected(ParseStatus status) { return rejected[static_cast<size_t>(status)]; }
  const Counter& Rejected(ParseStatus status) const { return rejected[static_cast<size_t>(status)]; }
};

}  // namespace mcr
