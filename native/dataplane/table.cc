#include "dataplane/table.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>

namespace mcr {

namespace {

std::string Dotted(uint32_t address) {
  char text[INET_ADDRSTRLEN];
  in_addr value{address};
  return inet_ntop(AF_INET, &value, text, sizeof text) ? text : "?";
}

std::string At(size_t rule) { return "rules[" + std::to_string(rule) + "]"; }

size_t SlotCountFor(size_t rules) {
  size_t count = 8;
  while (count < rules * 2) count *= 2;  // at most half full: short probes, and an empty slot always exists
  return count;
}

}  // namespace

uint64_t Table::Hash(const Key& key) {
  uint64_t h = (static_cast<uint64_t>(key.group) << 32 | key.source) ^
               ((static_cast<uint64_t>(key.input) << 16 | key.port) * 0x9e3779b97f4a7c15ull);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  return h;
}

Table::Slot* Table::SlotFor(const Key& key) {
  size_t i = Hash(key) & mask_;
  while (slots_[i].used && !(slots_[i].key == key)) i = (i + 1) & mask_;
  return &slots_[i];
}

const Table::Slot* Table::Lookup(const Key& key) const {
  size_t i = Hash(key) & mask_;
  while (slots_[i].used) {
    if (slots_[i].key == key) return &slots_[i];
    i = (i + 1) & mask_;
  }
  return nullptr;
}

const Route* Table::Find(uint32_t input, uint32_t group, uint16_t port, uint32_t source) const {
  const Slot* slot = Lookup(Key{input, group, source, port});
  if (!slot && source != 0) slot = Lookup(Key{input, group, 0, port});
  return slot ? &slot->route : nullptr;
}

Output* Table::OutputFor(const Sender* sender, const sockaddr_in& destination) const {
  const Destination key{reinterpret_cast<uintptr_t>(sender), destination.sin_addr.s_addr, destination.sin_port, nullptr};
  const auto found = std::lower_bound(destinations_.begin(), destinations_.end(), key);
  if (found == destinations_.end() || key < *found) return nullptr;
  return found->output;
}

const Sender* Table::SenderBySerial(uint64_t serial) const {
  const auto found = std::lower_bound(senders_.begin(), senders_.end(), std::make_pair(serial, static_cast<const Sender*>(nullptr)));
  return found != senders_.end() && found->first == serial ? found->second : nullptr;
}

const TraceSpec& Table::AddTrace(const RuleSpec& spec) {
  TraceSpec trace{spec.traceEvery, spec.traceSnap, 0, static_cast<uint32_t>(spec.id.size()), {}};
  std::memcpy(trace.id, spec.id.data(), spec.id.size());
  traces_.push_back(trace);
  return traces_.back();
}

std::unique_ptr<const Table> Table::Build(const std::vector<RuleSpec>& specs, const InputMap& inputs,
                                          const OutputMap& outputs, const Table* previous, const CounterRegion* region) {
  std::unique_ptr<Table> table(new Table());

  // Validate everything before building anything.
  std::unordered_set<std::string> ids;
  size_t targetCount = 0;
  size_t traceCount = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const RuleSpec& spec = specs[i];
    if (!ids.insert(spec.id).second) throw RuleError(At(i) + ".id: duplicate rule id \"" + spec.id + "\"");
    if (inputs.count(spec.input) == 0) {
      throw RuleError(At(i) + ".input: unknown input handle " + std::to_string(spec.input));
    }
    for (size_t j = 0; j < spec.outputs.size(); ++j) {
      if (outputs.count(spec.outputs[j]) == 0) {
        throw RuleError(At(i) + ".outputs[" + std::to_string(j) + "]: unknown output handle " +
                        std::to_string(spec.outputs[j]));
      }
    }
    targetCount += spec.outputs.size();
    if (spec.counterSlot != 0 || !spec.outputSlots.empty()) {
      if (!region) throw RuleError(At(i) + ".counterSlot: this data plane has no counter region");
      if (spec.counterSlot == 0 || spec.outputSlots.size() != spec.outputs.size()) {
        throw RuleError(At(i) + ".outputSlots: a rule with counter slots names one for itself and one per output");
      }
      try {
        region->At<RuleCounters>(spec.counterSlot);
        for (uint32_t slot : spec.outputSlots) region->At<OutputCounters>(slot);
      } catch (const std::invalid_argument& e) {
        throw RuleError(At(i) + ": " + e.what());
      }
    }
    if (spec.traceEvery > 0) {
      if (spec.traceSnap > kMaxSnapLength) throw RuleError(At(i) + ".trace.snapLength: at most " + std::to_string(kMaxSnapLength));
      if (spec.id.size() > kMaxTracedIdLength) throw RuleError(At(i) + ".id: a traced rule's id has at most " + std::to_string(kMaxTracedIdLength) + " bytes");
      if (spec.outputs.size() > kMaxTracedSends) throw RuleError(At(i) + ".outputs: a traced rule has at most " + std::to_string(kMaxTracedSends));
      ++traceCount;
    }
  }

  std::unordered_map<std::string, const Rule*> before;
  if (previous) {
    for (const Rule& rule : previous->rules_) before.emplace(rule.id, &rule);
  }

  table->slots_.assign(SlotCountFor(specs.size()), Slot{});
  table->mask_ = table->slots_.size() - 1;
  table->targets_.reserve(targetCount);  // never reallocated below: Route::targets stays valid
  table->traces_.reserve(traceCount);  // never reallocated below: Route::trace stays valid
  table->rules_.reserve(specs.size());
  std::vector<size_t> ruleOfSlot(table->slots_.size());

  for (size_t i = 0; i < specs.size(); ++i) {
    const RuleSpec& spec = specs[i];
    const auto found = before.find(spec.id);
    const Rule* old = found == before.end() ? nullptr : found->second;

    const bool inRegion = spec.counterSlot != 0;
    Rule rule{spec.id, nullptr, nullptr, {}};
    if (inRegion) {
      rule.counters = region->At<RuleCounters>(spec.counterSlot);
    } else {
      rule.owned = old && old->owned ? old->owned : std::make_shared<RuleCounters>();
      rule.counters = rule.owned.get();
    }
    const size_t firstTarget = table->targets_.size();
    for (size_t j = 0; j < spec.outputs.size(); ++j) {
      const uint32_t handle = spec.outputs[j];
      OutputSlot slot{handle, outputs.at(handle), nullptr, nullptr};
      if (inRegion) {
        slot.counters = region->At<OutputCounters>(spec.outputSlots[j]);
      } else {
        const bool kept = old && j < old->outputs.size() && old->outputs[j].handle == handle && old->outputs[j].owned;
        slot.owned = kept ? old->outputs[j].owned : std::make_shared<OutputCounters>();
        slot.counters = slot.owned.get();
      }
      table->targets_.push_back(Target{slot.output.get(), slot.counters});
      rule.outputs.push_back(std::move(slot));
    }

    const Key key{spec.input, spec.group, spec.source, spec.port};
    Slot* slot = table->SlotFor(key);
    if (slot->used) {
      throw RuleError(At(i) + ": same match key (input " + std::to_string(spec.input) + ", " + Dotted(spec.group) + ":" +
                      std::to_string(spec.port) + ", source " + (spec.source ? Dotted(spec.source) : "any") +
                      ") as " + At(ruleOfSlot[slot - table->slots_.data()]));
    }
    slot->key = key;
    slot->used = true;
    slot->route = Route{rule.counters, table->targets_.data() + firstTarget, static_cast<uint32_t>(spec.outputs.size()),
                        spec.traceEvery > 0 ? &table->AddTrace(spec) : nullptr};
    ruleOfSlot[slot - table->slots_.data()] = i;
    table->inputs_.insert(spec.input);
    table->rules_.push_back(std::move(rule));
  }

  // Each output once (rules share outputs); two outputs with one destination through one sender
  // (which the supervisor never makes) share the errors: one of them is charged.
  table->destinations_.reserve(table->targets_.size());
  for (const Target& target : table->targets_) {
    const Output& output = *target.output;
    table->destinations_.push_back(Destination{reinterpret_cast<uintptr_t>(output.sender.get()), output.destination.sin_addr.s_addr,
                                               output.destination.sin_port, target.output});
  }
  std::sort(table->destinations_.begin(), table->destinations_.end());
  table->destinations_.erase(std::unique(table->destinations_.begin(), table->destinations_.end(),
                                         [](const Destination& a, const Destination& b) { return !(a < b) && !(b < a); }),
                             table->destinations_.end());
  table->destinations_.shrink_to_fit();
  for (const Destination& destination : table->destinations_) {
    const Sender* sender = destination.output->sender.get();
    if (table->senders_.empty() || table->senders_.back().second != sender) table->senders_.emplace_back(sender->serial, sender);
  }
  std::sort(table->senders_.begin(), table->senders_.end());
  table->senders_.erase(std::unique(table->senders_.begin(), table->senders_.end()), table->senders_.end());
  return table;
}

}  // namespace mcr
