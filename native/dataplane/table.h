// The immutable match table the data-plane thread forwards with. Built on the JavaScript thread,
// published whole, never modified afterwards. It is made of shards (the routes by the high bits of
// their match key's hash, the destinations by a hash of the destination) that consecutive tables
// share: a change rebuilds only the shards it touches (see InstalledRules), so its cost follows the
// change, not the table (decision 0044).
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dataplane/counter_region.h"
#include "dataplane/counters.h"
#include "dataplane/endpoints.h"
#include "common/ip_address.h"
#include "dataplane/trace_ring.h"

namespace mcr {

using InputMap = std::unordered_map<uint32_t, std::shared_ptr<Input>>;
using OutputMap = std::unordered_map<uint32_t, std::shared_ptr<Output>>;

// A rule as setRules receives it. Group and source IPv4 or IPv6 (of one family); port 0 = ESP (IP
// protocol 50, which has no port); source Any() = any source; vlan 0 = untagged frames.
struct RuleSpec {
  std::string id;
  uint32_t input;
  IpAddress group;
  uint16_t port;
  IpAddress source;
  uint16_t vlan = 0;
  std::vector<uint32_t> outputs;
  // Counter slots in the engine's counter region (0: none, the table keeps the counters itself): the
  // rule's, and one per output (empty, or as many as outputs).
  uint32_t counterSlot = 0;
  std::vector<uint32_t> outputSlots;
  // Tracing: record one packet in every `traceEvery` (0: not traced), `traceSnap` frame bytes each.
  uint32_t traceEvery = 0;
  uint32_t traceSnap = 0;

  bool operator==(const RuleSpec& other) const {
    return id == other.id && input == other.input && group == other.group && port == other.port &&
           source == other.source && vlan == other.vlan && outputs == other.outputs && counterSlot == other.counterSlot &&
           outputSlots == other.outputSlots && traceEvery == other.traceEvery && traceSnap == other.traceSnap;
  }
};

// A traced rule's settings, as the packet path needs them.
struct TraceSpec {
  uint32_t every;
  uint32_t snap;
  mutable uint32_t untilNext;  // data-plane thread only: packets to skip before the next record
  uint32_t idLength;
  char id[kMaxTracedIdLength];
};

// A rule that setRules must refuse (the message names the rule: "rules[3].outputs[1]: ...").
class RuleError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Where a matched packet goes: one of the rule's outputs and the counters of that output slot.
struct Target {
  Output* output;
  OutputCounters* counters;
};

// What a match yields: everything the packet path touches, as plain pointers.
struct Route {
  RuleCounters* counters;
  const Target* targets;
  uint32_t targetCount;
  const TraceSpec* trace;  // null unless the rule is traced
};

// What a rule matches: packets from `input` to group:port (port 0: ESP to the group), from `source`
// (Any(): any source), in VLAN `vlan` (0: untagged). IPv4 addresses mapped into IPv6 (ip_address.h).
struct MatchKey {
  IpAddress group;
  IpAddress source;
  uint32_t input;
  uint16_t port;
  uint16_t vlan;
  bool operator==(const MatchKey& other) const {
    return group == other.group && source == other.source && input == other.input && port == other.port && vlan == other.vlan;
  }
  static MatchKey Of(const RuleSpec& spec) { return MatchKey{spec.group, spec.source, spec.input, spec.port, spec.vlan}; }
  uint64_t Hash() const;
};

class Table {
 public:
  static constexpr unsigned kShardBits = 8;
  static constexpr size_t kShards = size_t{1} << kShardBits;

  // A rule's output slot as the JavaScript side reports it.
  struct OutputSlot {
    uint32_t handle;
    std::shared_ptr<Output> output;  // keeps the socket open while this table may be in use
    OutputCounters* counters;        // in the counter region, or `owned`
    std::shared_ptr<OutputCounters> owned;
  };
  // An installed rule with where its counters live: in the counter region (slots named by the rule),
  // or in objects of its own, shared with the next table when the id persists. Immutable; shared by
  // the route shards of consecutive tables that keep it.
  struct Rule {
    std::string id;
    MatchKey key;
    uint64_t order;  // rules() lists by it: setRules position, then arrival
    RuleCounters* counters;
    std::shared_ptr<RuleCounters> owned;
    std::vector<OutputSlot> outputs;
    uint32_t traceEvery;  // 0: not traced
    uint32_t traceSnap;
  };

  // The routes whose key hashes to one shard: a small open-addressing table (at most half full)
  // with the targets and trace settings its routes point into.
  class RouteShard {
   public:
    // Lays out `rules` (keys distinct from one another). On two rules with one key, returns null and
    // sets `clash` to their indexes (the later, the earlier).
    // `rules` is taken only when the shard is made.
    static std::shared_ptr<const RouteShard> Build(std::vector<std::shared_ptr<const Rule>>&& rules,
                                                   std::pair<size_t, size_t>* clash);
    // Lock- and allocation-free; `hash` is key.Hash().
    const Route* Find(const MatchKey& key, uint64_t hash) const;
    // The rule with this key (null: none).
    const Rule* RuleWith(const MatchKey& key) const;
    const std::vector<std::shared_ptr<const Rule>>& rules() const { return rules_; }

   private:
    struct Slot {
      MatchKey key;
      bool used;  // false = empty (probing stops there)
      uint32_t rule;
      Route route;
    };
    std::vector<std::shared_ptr<const Rule>> rules_;
    std::vector<Target> targets_;    // every rule's targets, back to back; Route::targets points in here
    std::vector<TraceSpec> traces_;  // the traced rules'; Route::trace points in here
    std::vector<Slot> slots_;        // power-of-two size
    size_t mask_ = 0;
  };

  // An output the rules name, by (sender, address, port): OutputFor's binary search.
  struct Destination {
    uintptr_t sender;
    IpAddress address;
    uint16_t port;  // network byte order, as in the sockaddr
    Output* output;
    bool operator<(const Destination& other) const {
      if (sender != other.sender) return sender < other.sender;
      if (address != other.address) return address < other.address;
      return port < other.port;
    }
    static Destination Of(Output* output) {
      return Destination{reinterpret_cast<uintptr_t>(output->sender.get()), output->destination.address(),
                         output->destination.port(), output};
    }
    size_t Shard() const;
  };
  using DestinationShard = std::vector<Destination>;  // sorted
  using SenderIndex = std::vector<std::pair<uint64_t, const Sender*>>;  // sorted by serial

  // A table without rules.
  static std::unique_ptr<Table> Empty();
  // A copy of this table (sharing every shard) to be changed before it is published.
  std::unique_ptr<Table> Copy() const { return std::unique_ptr<Table>(new Table(*this)); }

  static size_t ShardOf(uint64_t hash) { return hash >> (64 - kShardBits); }
  void SetRouteShard(size_t index, std::shared_ptr<const RouteShard> shard) { routes_[index] = std::move(shard); }
  void SetDestinationShard(size_t index, std::shared_ptr<const DestinationShard> shard) {
    destinations_[index] = std::move(shard);
  }
  void SetSenders(std::shared_ptr<const SenderIndex> senders) { senders_ = std::move(senders); }
  void SetRuleCount(size_t count, size_t vlanCount) {
    ruleCount_ = count;
    vlanRuleCount_ = vlanCount;
  }

  // The route for a packet from `input` in VLAN `vlan` (0: untagged): the rule of that VLAN for
  // exactly this source, else its any-source rule; null when neither exists. Lock- and
  // allocation-free.
  const Route* Find(uint32_t input, const IpAddress& group, uint16_t port, const IpAddress& source, uint16_t vlan) const;

  // The output of this table that sends to `destination` through `sender` (null: none), to charge
  // an error the network reported about that destination to. Two outputs with one destination
  // through one sender (which the supervisor never makes) share the errors: one of them is charged.
  // Lock- and allocation-free.
  Output* OutputFor(const Sender* sender, const SocketAddress& destination) const;
  // The sender with this serial that the table's outputs send through (null: none). Lock- and
  // allocation-free; the sender lives at least as long as the table.
  const Sender* SenderBySerial(uint64_t serial) const;

  // The rule with this key (null: none). JavaScript thread.
  const Rule* RuleWith(const MatchKey& key) const { return routes_[ShardOf(key.Hash())]->RuleWith(key); }
  const RouteShard& routeShard(size_t index) const { return *routes_[index]; }
  const std::shared_ptr<const DestinationShard>& destinationShard(size_t index) const { return destinations_[index]; }
  // Every rule, in setRules order (rules added by updateRules after them, in arrival order).
  std::vector<const Rule*> rules() const;
  size_t ruleCount() const { return ruleCount_; }
  // How many rules name a VLAN (the packet path reads a frame's VLAN only when some do).
  size_t vlanRuleCount() const { return vlanRuleCount_; }

 private:
  Table() = default;
  Table(const Table&) = default;

  std::array<std::shared_ptr<const RouteShard>, kShards> routes_;
  std::array<std::shared_ptr<const DestinationShard>, kShards> destinations_;
  std::shared_ptr<const SenderIndex> senders_;
  size_t ruleCount_ = 0;
  size_t vlanRuleCount_ = 0;
};

}  // namespace mcr
