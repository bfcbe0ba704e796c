// The immutable match table the data-plane thread forwards with. Built on the JavaScript thread by
// setRules, published whole, never modified afterwards.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "dataplane/counter_region.h"
#include "dataplane/counters.h"
#include "dataplane/endpoints.h"
#include "dataplane/trace_ring.h"

namespace mcr {

using InputMap = std::unordered_map<uint32_t, std::shared_ptr<Input>>;
using OutputMap = std::unordered_map<uint32_t, std::shared_ptr<Output>>;

// A rule as setRules receives it. Addresses in network byte order; source 0 = any source.
struct RuleSpec {
  std::string id;
  uint32_t input;
  uint32_t group;
  uint16_t port;
  uint32_t source;
  std::vector<uint32_t> outputs;
  // Counter slots in the engine's counter region (0: none, the table keeps the counters itself): the
  // rule's, and one per output (empty, or as many as outputs).
  uint32_t counterSlot = 0;
  std::vector<uint32_t> outputSlots;
  // Tracing: record one packet in every `traceEvery` (0: not traced), `traceSnap` frame bytes each.
  uint32_t traceEvery = 0;
  uint32_t traceSnap = 0;
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

class Table {
 public:
  // A rule's output slot as the JavaScript side reports it.
  struct OutputSlot {
    uint32_t handle;
    std::shared_ptr<Output> output;  // keeps the socket open while this table may be in use
    OutputCounters* counters;        // in the counter region, or `owned`
    std::shared_ptr<OutputCounters> owned;
  };
  // A rule with where its counters live: in the counter region (slots named by the rule), or in
  // objects of its own, shared with the next table when the id persists.
  struct Rule {
    std::string id;
    RuleCounters* counters;
    std::shared_ptr<RuleCounters> owned;
    std::vector<OutputSlot> outputs;
  };

  // Validates `specs` against the known handles and builds the table. Counters are carried over
  // from `previous` (may be null) for every rule id it also has; an output slot's counters are
  // carried over when the same output handle stays at the same index. Counters of rules that name
  // slots live in `region` (may be null: then naming a slot is refused). Throws RuleError on an
  // unknown handle, a duplicate rule id or a duplicate match key (input, group, port, source), or a
  // slot outside the region.
  static std::unique_ptr<const Table> Build(const std::vector<RuleSpec>& specs, const InputMap& inputs,
                                            const OutputMap& outputs, const Table* previous,
                                            const CounterRegion* region = nullptr);

  // The route for a packet from `input`: the rule for exactly this source, else the any-source
  // rule; null when neither exists. Addresses in network byte order. Lock- and allocation-free.
  const Route* Find(uint32_t input, uint32_t group, uint16_t port, uint32_t source) const;

  // The output of this table that sends to `destination` through `sender` (null: none), to charge
  // an error the network reported about that destination to. Lock- and allocation-free.
  Output* OutputFor(const Sender* sender, const sockaddr_in& destination) const;
  // The sender with this serial that the table's outputs send through (null: none). Lock- and
  // allocation-free; the sender lives at least as long as the table.
  const Sender* SenderBySerial(uint64_t serial) const;

  // In setRules order.
  const std::vector<Rule>& rules() const { return rules_; }
  // The input handles the rules name.
  const std::unordered_set<uint32_t>& inputs() const { return inputs_; }

 private:
  struct Key {
    uint32_t input;
    uint32_t group;
    uint32_t source;
    uint16_t port;
    bool operator==(const Key& other) const {
      return input == other.input && group == other.group && source == other.source && port == other.port;
    }
  };
  // An open-addressing slot; `used` false = empty (probing stops there).
  struct Slot {
    Key key;
    bool used;
    Route route;
  };

  Table() = default;
  static uint64_t Hash(const Key& key);
  const Slot* Lookup(const Key& key) const;
  // The slot where `key` is or would go (linear probing; the table is never more than half full).
  Slot* SlotFor(const Key& key);
  // Keeps a traced rule's settings (within the reserved capacity of traces_).
  const TraceSpec& AddTrace(const RuleSpec& spec);

  std::vector<Rule> rules_;
  std::vector<Target> targets_;  // every rule's targets, back to back; Route::targets points in here
  std::vector<TraceSpec> traces_;  // the traced rules'; Route::trace points in here
  std::vector<Slot> slots_;      // power-of-two size
  std::unordered_set<uint32_t> inputs_;
  size_t mask_ = 0;

  // Every output the rules name once, by (sender, address, port): OutputFor's binary search.
  struct Destination {
    uintptr_t sender;
    uint32_t address;  // network byte order, as in sockaddr_in
    uint16_t port;     // network byte order
    Output* output;
    bool operator<(const Destination& other) const {
      if (sender != other.sender) return sender < other.sender;
      if (address != other.address) return address < other.address;
      return port < other.port;
    }
  };
  std::vector<Destination> destinations_;
  std::vector<std::pair<uint64_t, const Sender*>> senders_;  // by serial: SenderBySerial's binary search
};

}  // namespace mcr
