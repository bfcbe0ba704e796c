#include "dataplane/table.h"

#include <algorithm>
#include <cstring>

namespace mcr {

namespace {

size_t SlotCountFor(size_t rules) {
  size_t count = 8;
  while (count < rules * 2) count *= 2;  // at most half full: short probes, and an empty slot always exists
  return count;
}

uint64_t Mix(uint64_t h) {
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  return h;
}

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;

// The 32 bytes of two addresses in one word (an IPv4 pair's high words are 0: its mapped bytes and
// both addresses are in the low ones).
uint64_t Fold(const IpAddress& a, const IpAddress& b) {
  return a.low ^ Mix(b.low ^ (a.high * kGolden)) ^ (b.high * 0xc2b2ae3d27d4eb4full);
}

}  // namespace

uint64_t MatchKey::Hash() const {
  return Mix(Fold(group, source) ^ ((static_cast<uint64_t>(input) << 32 | static_cast<uint64_t>(vlan) << 16 | port) * kGolden));
}

size_t Table::Destination::Shard() const {
  return ShardOf(Mix(Fold(address, IpAddress{0, port}) ^ (static_cast<uint64_t>(sender) * kGolden)));
}

std::shared_ptr<const Table::RouteShard> Table::RouteShard::Build(std::vector<std::shared_ptr<const Rule>>&& rules,
                                                                  std::pair<size_t, size_t>* clash) {
  auto shard = std::make_shared<RouteShard>();
  size_t targetCount = 0;
  size_t traceCount = 0;
  for (const auto& rule : rules) {
    targetCount += rule->outputs.size();
    if (rule->traceEvery > 0) ++traceCount;
  }
  shard->slots_.assign(SlotCountFor(rules.size()), Slot{});
  shard->mask_ = shard->slots_.size() - 1;
  shard->targets_.reserve(targetCount);  // never reallocated below: Route::targets stays valid
  shard->traces_.reserve(traceCount);    // never reallocated below: Route::trace stays valid
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule& rule = *rules[i];
    size_t at = rule.key.Hash() & shard->mask_;
    while (shard->slots_[at].used && !(shard->slots_[at].key == rule.key)) at = (at + 1) & shard->mask_;
    Slot& slot = shard->slots_[at];
    if (slot.used) {
      *clash = {i, slot.rule};
      return nullptr;
    }
    const size_t firstTarget = shard->targets_.size();
    for (const OutputSlot& output : rule.outputs) {
      shard->targets_.push_back(Target{output.output.get(), output.counters});
    }
    const TraceSpec* trace = nullptr;
    if (rule.traceEvery > 0) {
      TraceSpec spec{rule.traceEvery, rule.traceSnap, 0, static_cast<uint32_t>(rule.id.size()), {}};
      std::memcpy(spec.id, rule.id.data(), rule.id.size());  // checked: at most kMaxTracedIdLength
      shard->traces_.push_back(spec);
      trace = &shard->traces_.back();
    }
    slot.key = rule.key;
    slot.used = true;
    slot.rule = static_cast<uint32_t>(i);
    slot.route =
        Route{rule.counters, shard->targets_.data() + firstTarget, static_cast<uint32_t>(rule.outputs.size()), trace};
  }
  shard->rules_ = std::move(rules);
  return shard;
}

const Route* Table::RouteShard::Find(const MatchKey& key, uint64_t hash) const {
  size_t i = hash & mask_;
  while (slots_[i].used) {
    if (slots_[i].key == key) return &slots_[i].route;
    i = (i + 1) & mask_;
  }
  return nullptr;
}

const Table::Rule* Table::RouteShard::RuleWith(const MatchKey& key) const {
  size_t i = key.Hash() & mask_;
  while (slots_[i].used) {
    if (slots_[i].key == key) return rules_[slots_[i].rule].get();
    i = (i + 1) & mask_;
  }
  return nullptr;
}

std::unique_ptr<Table> Table::Empty() {
  std::unique_ptr<Table> table(new Table());
  std::pair<size_t, size_t> unused;
  const std::shared_ptr<const RouteShard> noRoutes = RouteShard::Build({}, &unused);
  const auto noDestinations = std::make_shared<const DestinationShard>();
  table->routes_.fill(noRoutes);
  table->destinations_.fill(noDestinations);
  table->senders_ = std::make_shared<const SenderIndex>();
  return table;
}

const Route* Table::Find(uint32_t input, const IpAddress& group, uint16_t port, const IpAddress& source, uint16_t vlan) const {
  const auto find = [&](const MatchKey& key) {
    const uint64_t hash = key.Hash();
    return routes_[ShardOf(hash)]->Find(key, hash);
  };
  const Route* route = find(MatchKey{group, source, input, port, vlan});
  if (!route && !source.IsAny()) route = find(MatchKey{group, IpAddress::Any(), input, port, vlan});
  return route;
}

Output* Table::OutputFor(const Sender* sender, const SocketAddress& destination) const {
  const Destination key{reinterpret_cast<uintptr_t>(sender), destination.address(), destination.port(), nullptr};
  const DestinationShard& shard = *destinations_[key.Shard()];
  const auto found = std::lower_bound(shard.begin(), shard.end(), key);
  if (found == shard.end() || key < *found) return nullptr;
  return found->output;
}

const Sender* Table::SenderBySerial(uint64_t serial) const {
  const SenderIndex& senders = *senders_;
  const auto found = std::lower_bound(senders.begin(), senders.end(), std::make_pair(serial, static_cast<const Sender*>(nullptr)));
  return found != senders.end() && found->first == serial ? found->second : nullptr;
}

std::vector<const Table::Rule*> Table::rules() const {
  std::vector<const Rule*> list;
  list.reserve(ruleCount_);
  const RouteShard* previous = nullptr;
  for (const auto& shard : routes_) {
    if (shard.get() == previous) continue;  // the empty table's shards are one shard
    previous = shard.get();
    for (const auto& rule : shard->rules()) list.push_back(rule.get());
  }
  std::sort(list.begin(), list.end(), [](const Rule* a, const Rule* b) { return a->order < b->order; });
  return list;
}

}  // namespace mcr
