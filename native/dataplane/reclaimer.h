// Deferred destruction of objects the data-plane thread may still be using (tables, inputs), without
// any lock on the packet path: a two-counter epoch scheme.
//
// The JavaScript thread unlinks an object (publishes a table without it, removes an input from
// epoll) and then retires it: the global epoch advances and the object is tagged with the new value.
// The data-plane thread calls Quiesce() at the top of every loop iteration, a point where it holds
// no pointer obtained earlier; it records the epoch it has seen. An object is freed once the
// recorded epoch reaches its tag: the thread has passed a quiescent point after the unlink, so any
// later look-up can only find the new state.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace mcr {

class Reclaimer {
 public:
  // Data-plane thread, where it holds no reference to retired objects.
  // Returns the epoch it has seen.
  uint64_t Quiesce() {
    const uint64_t seen = epoch_.load(std::memory_order_acquire);
    seen_.store(seen, std::memory_order_release);
    return seen;
  }

  // JavaScript thread, after `object` has been unlinked. The caller wakes the data-plane thread so
  // that it reaches its next quiescent point promptly.
  // Returns the object's tag: once the data-plane thread has seen this epoch, it no longer uses it.
  uint64_t Retire(std::shared_ptr<const void> object) {
    const uint64_t tag = epoch_.fetch_add(1, std::memory_order_acq_rel) + 1;
    retired_.emplace_back(tag, std::move(object));
    return tag;
  }

  // JavaScript thread: frees what the data-plane thread can no longer reach.
  void Collect() {
    const uint64_t seen = seen_.load(std::memory_order_acquire);
    size_t kept = 0;
    for (size_t i = 0; i < retired_.size(); ++i) {
      if (retired_[i].first <= seen) continue;
      if (i != kept) retired_[kept] = std::move(retired_[i]);
      ++kept;
    }
    retired_.resize(kept);
  }

  // JavaScript thread, once the data-plane thread has stopped: frees everything.
  void CollectAll() { retired_.clear(); }

  size_t pending() const { return retired_.size(); }

 private:
  std::atomic<uint64_t> epoch_{0};  // advanced by Retire
  std::atomic<uint64_t> seen_{0};   // the epoch the data-plane thread last saw at a quiescent point
  std::vector<std::pair<uint64_t, std::shared_ptr<const void>>> retired_;
};

}  // namespace mcr
