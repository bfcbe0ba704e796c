#include "dataplane/installed_rules.h"

#include <algorithm>
#include <limits>
#include <unordered_set>
#include <utility>

namespace mcr {

namespace {

constexpr size_t kFromTable = std::numeric_limits<size_t>::max();  // a rule carried over, not from the request

std::string KeyText(const MatchKey& key) {
  const std::string group = key.group.IsV4() ? key.group.Text() : "[" + key.group.Text() + "]";
  return "(input " + std::to_string(key.input) + ", " + group + ":" + std::to_string(key.port) + ", source " +
         (key.source.IsAny() ? "any" : key.source.Text()) + (key.vlan ? ", vlan " + std::to_string(key.vlan) : "") + ")";
}

// Everything about one rule that does not depend on the others.
void Validate(const RuleSpec& spec, const std::string& at, const InputMap& inputs, const OutputMap& outputs,
              const CounterRegion* region) {
  if (inputs.count(spec.input) == 0) throw RuleError(at + ".input: unknown input handle " + std::to_string(spec.input));
  if (!spec.source.IsAny() && spec.source.IsV4() != spec.group.IsV4()) {
    throw RuleError(at + ".source: " + spec.source.Text() + " is not of the family of the group " + spec.group.Text());
  }
  for (size_t j = 0; j < spec.outputs.size(); ++j) {
    if (outputs.count(spec.outputs[j]) == 0) {
      throw RuleError(at + ".outputs[" + std::to_string(j) + "]: unknown output handle " +
                      std::to_string(spec.outputs[j]));
    }
  }
  if (spec.counterSlot != 0 || !spec.outputSlots.empty()) {
    if (!region) throw RuleError(at + ".counterSlot: this data plane has no counter region");
    if (spec.counterSlot == 0 || spec.outputSlots.size() != spec.outputs.size()) {
      throw RuleError(at + ".outputSlots: a rule with counter slots names one for itself and one per output");
    }
    try {
      region->At<RuleCounters>(spec.counterSlot);
      for (uint32_t slot : spec.outputSlots) region->At<OutputCounters>(slot);
    } catch (const std::invalid_argument& e) {
      throw RuleError(at + ": " + e.what());
    }
  }
  if (spec.traceEvery > 0) {
    if (spec.traceSnap > kMaxSnapLength) {
      throw RuleError(at + ".trace.snapLength: at most " + std::to_string(kMaxSnapLength));
    }
    if (spec.id.size() > kMaxTracedIdLength) {
      throw RuleError(at + ".id: a traced rule's id has at most " + std::to_string(kMaxTracedIdLength) + " bytes");
    }
    if (spec.outputs.size() > kMaxTracedSends) {
      throw RuleError(at + ".outputs: a traced rule has at most " + std::to_string(kMaxTracedSends));
    }
  }
}

// Whether `rule` (installed from a spec equal to the upsert) still sends to the outputs `spec` names.
bool SameOutputs(const Table::Rule& rule, const RuleSpec& spec, const OutputMap& outputs) {
  for (size_t j = 0; j < spec.outputs.size(); ++j) {
    if (rule.outputs[j].output != outputs.at(spec.outputs[j])) return false;
  }
  return true;
}

// The rule `spec` makes, counters carried over from `old` (the installed rule of its id, or null).
std::shared_ptr<const Table::Rule> MakeRule(const RuleSpec& spec, uint64_t order, const Table::Rule* old,
                                            const OutputMap& outputs, const CounterRegion* region) {
  auto rule = std::make_shared<Table::Rule>();
  rule->id = spec.id;
  rule->key = MatchKey::Of(spec);
  rule->order = order;
  rule->traceEvery = spec.traceEvery;
  rule->traceSnap = spec.traceSnap;
  const bool inRegion = spec.counterSlot != 0;
  if (inRegion) {
    rule->counters = region->At<RuleCounters>(spec.counterSlot);
  } else {
    rule->owned = old && old->owned ? old->owned : std::make_shared<RuleCounters>();
    rule->counters = rule->owned.get();
  }
  rule->outputs.reserve(spec.outputs.size());
  for (size_t j = 0; j < spec.outputs.size(); ++j) {
    const uint32_t handle = spec.outputs[j];
    Table::OutputSlot slot{handle, outputs.at(handle), nullptr, nullptr};
    if (inRegion) {
      slot.counters = region->At<OutputCounters>(spec.outputSlots[j]);
    } else {
      const bool kept = old && j < old->outputs.size() && old->outputs[j].handle == handle && old->outputs[j].owned;
      slot.owned = kept ? old->outputs[j].owned : std::make_shared<OutputCounters>();
      slot.counters = slot.owned.get();
    }
    rule->outputs.push_back(std::move(slot));
  }
  return rule;
}

// The outputs a change being prepared moves the counts of (Output::preparedDelta), each once; put
// back as they were however the preparation ends.
class PreparedOutputs {
 public:
  PreparedOutputs() = default;
  PreparedOutputs(const PreparedOutputs&) = delete;
  PreparedOutputs& operator=(const PreparedOutputs&) = delete;
  ~PreparedOutputs() {
    for (Output* output : list_) {
      output->preparedDelta = 0;
      output->prepared = false;
    }
  }
  void Add(Output* output, int64_t by) {
    if (!output->prepared) {
      output->prepared = true;
      list_.push_back(output);
    }
    output->preparedDelta += by;
  }
  const std::vector<Output*>& list() const { return list_; }

 private:
  std::vector<Output*> list_;
};

template <typename Key>
int64_t CountOf(const std::unordered_map<Key, int64_t>& counts, const Key& key) {
  const auto found = counts.find(key);
  return found == counts.end() ? 0 : found->second;
}

template <typename Key>
void SetCount(std::unordered_map<Key, int64_t>& counts, const Key& key, int64_t count) {
  if (count == 0) {
    counts.erase(key);
  } else {
    counts[key] = count;
  }
}

}  // namespace

InstalledRules::InstalledRules() : table_(Table::Empty()) {}

void InstalledRules::Clear() {
  table_.reset();
  specs_.clear();
  inputs_.clear();
  senders_.clear();
}

std::unique_ptr<InstalledRules::Change> InstalledRules::Replace(const std::vector<RuleSpec>& specs,
                                                                const InputMap& inputs, const OutputMap& outputs,
                                                                const CounterRegion* region) const {
  return Prepare(specs, {}, true, inputs, outputs, region);
}

std::unique_ptr<InstalledRules::Change> InstalledRules::Update(const std::vector<RuleSpec>& upserts,
                                                               const std::vector<std::string>& removes,
                                                               const InputMap& inputs, const OutputMap& outputs,
                                                               const CounterRegion* region) const {
  return Prepare(upserts, removes, false, inputs, outputs, region);
}

std::unique_ptr<InstalledRules::Change> InstalledRules::Prepare(const std::vector<RuleSpec>& upserts,
                                                                const std::vector<std::string>& removes, bool replace,
                                                                const InputMap& inputs, const OutputMap& outputs,
                                                                const CounterRegion* region) const {
  const std::string prefix = replace ? "rules[" : "upserts[";
  const auto at = [&](size_t i) { return prefix + std::to_string(i) + "]"; };

  // Each rule on its own first: nothing is built for a change that is refused for one rule.
  std::unordered_set<std::string> upserted;
  upserted.reserve(upserts.size());
  for (size_t i = 0; i < upserts.size(); ++i) {
    const RuleSpec& spec = upserts[i];
    if (!upserted.insert(spec.id).second) throw RuleError(at(i) + ".id: duplicate rule id \"" + spec.id + "\"");
    Validate(spec, at(i), inputs, outputs, region);
  }

  const Table& before = *table_;
  auto change = std::make_unique<Change>();
  change->nextOrder = nextOrder_;
  std::vector<bool> touched(Table::kShards, replace);
  std::unordered_set<const Table::Rule*> leaving;
  std::vector<std::vector<std::pair<std::shared_ptr<const Table::Rule>, size_t>>> entering(Table::kShards);
  PreparedOutputs outputDelta;
  std::unordered_map<uint32_t, int64_t> inputDelta;
  size_t ruleCount = before.ruleCount();
  size_t vlanRuleCount = before.vlanRuleCount();

  const auto leave = [&](const Table::Rule* rule) {
    if (!leaving.insert(rule).second) return false;
    touched[Table::ShardOf(rule->key.Hash())] = true;
    for (const Table::OutputSlot& slot : rule->outputs) outputDelta.Add(slot.output.get(), -1);
    --inputDelta[rule->key.input];
    --ruleCount;
    if (rule->key.vlan != 0) --vlanRuleCount;
    return true;
  };
  const auto installedWithId = [&](const std::string& id) -> const Table::Rule* {
    const auto found = specs_.find(id);
    return found == specs_.end() ? nullptr : before.RuleWith(MatchKey::Of(found->second));
  };

  if (replace) {
    // Every installed rule leaves and every shard is rebuilt from the request alone: the counts drop
    // to zero at once rather than rule by rule.
    for (const auto& [id, spec] : specs_) {
      if (!upserted.count(id)) change->gone.push_back(id);
    }
    ruleCount = 0;
    vlanRuleCount = 0;
    change->whole = true;
  } else {
    for (const std::string& id : removes) {
      if (upserted.count(id)) continue;
      const Table::Rule* old = installedWithId(id);
      if (old && leave(old)) change->gone.push_back(id);
    }
  }
  for (size_t i = 0; i < upserts.size(); ++i) {
    const RuleSpec& spec = upserts[i];
    const auto installed = specs_.find(spec.id);
    const Table::Rule* old = installed == specs_.end() ? nullptr : before.RuleWith(MatchKey::Of(installed->second));
    if (!replace && old) {
      if (installed->second == spec && SameOutputs(*old, spec, outputs)) continue;  // nothing to change
      leave(old);
    }
    const uint64_t order = !replace && old ? old->order : change->nextOrder++;
    std::shared_ptr<const Table::Rule> rule = MakeRule(spec, order, old, outputs, region);
    const size_t shard = Table::ShardOf(rule->key.Hash());
    touched[shard] = true;
    // Replacing, the counts start from zero: only the rules that enter add to them.
    for (const Table::OutputSlot& slot : rule->outputs) outputDelta.Add(slot.output.get(), 1);
    ++(replace ? change->inputs : inputDelta)[spec.input];
    ++ruleCount;
    if (spec.vlan != 0) ++vlanRuleCount;
    entering[shard].emplace_back(std::move(rule), i);
    change->specs.push_back(&spec);
  }

  change->table_ = before.Copy();
  Table& next = *change->table_;
  next.SetRuleCount(ruleCount, vlanRuleCount);

  // The touched route shards: the rules that stay, then the ones that enter (in request order, so
  // that a clash names the later rule and the earlier one).
  for (size_t s = 0; s < Table::kShards; ++s) {
    if (!touched[s]) continue;
    std::vector<std::shared_ptr<const Table::Rule>> rules;
    std::vector<size_t> from;
    const auto& staying = before.routeShard(s).rules();
    rules.reserve(staying.size() + entering[s].size());
    from.reserve(rules.capacity());
    for (const auto& rule : staying) {
      if (replace || leaving.count(rule.get())) continue;
      rules.push_back(rule);
      from.push_back(kFromTable);
    }
    for (auto& [rule, index] : entering[s]) {
      rules.push_back(std::move(rule));
      from.push_back(index);
    }
    std::pair<size_t, size_t> clash;
    std::shared_ptr<const Table::RouteShard> shard = Table::RouteShard::Build(std::move(rules), &clash);
    if (!shard) {
      const Table::Rule& earlier = *rules[clash.second];
      const std::string other =
          from[clash.second] == kFromTable ? "installed rule \"" + earlier.id + "\"" : at(from[clash.second]);
      throw RuleError(at(from[clash.first]) + ": same match key " + KeyText(earlier.key) + " as " + other);
    }
    next.SetRouteShard(s, std::move(shard));
  }

  if (replace) {
    IndexWhole(*change, outputDelta.list());
  } else {
    IndexChange(*change, outputDelta.list(), inputDelta);
  }
  return change;
}

void InstalledRules::IndexWhole(Change& change, const std::vector<Output*>& named) const {
  // Every destination and sender index from the new counts alone.
  Table& next = *change.table_;
  std::vector<std::shared_ptr<Table::DestinationShard>> shards(Table::kShards);
  for (auto& shard : shards) shard = std::make_shared<Table::DestinationShard>();
  change.outputs.reserve(named.size());
  for (Output* output : named) {
    change.outputs.emplace_back(output, output->preparedDelta);
    const Table::Destination destination = Table::Destination::Of(output);
    shards[destination.Shard()]->push_back(destination);
    ++change.senders[output->sender.get()];
  }
  for (size_t s = 0; s < Table::kShards; ++s) {
    std::sort(shards[s]->begin(), shards[s]->end());
    next.SetDestinationShard(s, std::move(shards[s]));
  }
  auto index = std::make_shared<Table::SenderIndex>();
  for (const auto& [sender, count] : change.senders) index->emplace_back(sender->serial, sender);
  std::sort(index->begin(), index->end());
  next.SetSenders(std::move(index));
}

void InstalledRules::IndexChange(Change& change, const std::vector<Output*>& named,
                                 const std::unordered_map<uint32_t, int64_t>& inputDelta) const {
  // Outputs that enter or leave the destination index, and senders that enter or leave theirs.
  const Table& before = *table_;
  Table& next = *change.table_;
  // By destination shard: the outputs that enter it, and those that leave it.
  std::vector<std::pair<std::vector<Output*>, std::vector<Output*>>> destinationEdits(Table::kShards);
  std::unordered_map<const Sender*, int64_t> senderDelta;
  change.outputs.reserve(named.size());
  for (Output* output : named) {
    const int64_t delta = output->preparedDelta;
    if (delta == 0) continue;
    const int64_t was = output->installedRules;
    const int64_t now = was + delta;
    change.outputs.emplace_back(output, now);
    if ((was == 0) == (now == 0)) continue;
    auto& edit = destinationEdits[Table::Destination::Of(output).Shard()];
    (now > 0 ? edit.first : edit.second).push_back(output);
    senderDelta[output->sender.get()] += now > 0 ? 1 : -1;
  }
  for (size_t s = 0; s < Table::kShards; ++s) {
    auto& edit = destinationEdits[s];
    if (edit.first.empty() && edit.second.empty()) continue;
    auto shard = std::make_shared<Table::DestinationShard>();
    const Table::DestinationShard& old = *before.destinationShard(s);
    shard->reserve(old.size() + edit.first.size());
    std::sort(edit.second.begin(), edit.second.end());
    for (const Table::Destination& destination : old) {
      if (!std::binary_search(edit.second.begin(), edit.second.end(), destination.output)) {
        shard->push_back(destination);
      }
    }
    // The entering ones sorted and merged in: O(shard + entering log entering), not a sort of the shard.
    const auto kept = static_cast<std::ptrdiff_t>(shard->size());
    for (Output* output : edit.first) shard->push_back(Table::Destination::Of(output));
    std::sort(shard->begin() + kept, shard->end());
    std::inplace_merge(shard->begin(), shard->begin() + kept, shard->end());
    next.SetDestinationShard(s, std::move(shard));
  }
  bool sendersChange = false;
  for (const auto& [sender, delta] : senderDelta) {
    if (delta == 0) continue;
    const int64_t was = CountOf(senders_, sender);
    change.senders[sender] = was + delta;
    sendersChange |= (was == 0) != (was + delta == 0);
  }
  if (sendersChange) {
    auto index = std::make_shared<Table::SenderIndex>();
    for (const auto& [sender, count] : senders_) {
      const auto changed = change.senders.find(sender);
      if ((changed == change.senders.end() ? count : changed->second) > 0) index->emplace_back(sender->serial, sender);
    }
    for (const auto& [sender, count] : change.senders) {
      if (count > 0 && senders_.count(sender) == 0) index->emplace_back(sender->serial, sender);
    }
    std::sort(index->begin(), index->end());
    next.SetSenders(std::move(index));
  }
  for (const auto& [handle, delta] : inputDelta) {
    if (delta != 0) change.inputs[handle] = CountOf(inputs_, handle) + delta;
  }
}

std::shared_ptr<const Table> InstalledRules::Commit(std::unique_ptr<Change> change, std::vector<uint32_t>* newInputs) {
  for (const std::string& id : change->gone) specs_.erase(id);
  specs_.reserve(specs_.size() + change->specs.size());
  for (const RuleSpec* spec : change->specs) specs_.insert_or_assign(spec->id, *spec);
  if (change->whole) {  // the counts are the new ones whole
    for (const auto& [handle, count] : change->inputs) {
      if (inputs_.count(handle) == 0) newInputs->push_back(handle);
    }
    inputs_ = std::move(change->inputs);
    senders_ = std::move(change->senders);
    change->inputs.clear();
    change->senders.clear();
    // The outputs counted so far are those of the replaced table's destination index: none is now
    // but the change's (set below).
    for (size_t s = 0; s < Table::kShards; ++s) {
      for (const Table::Destination& destination : *table_->destinationShard(s)) destination.output->installedRules = 0;
    }
  }
  for (const auto& [handle, count] : change->inputs) {
    if (count > 0 && inputs_.count(handle) == 0) newInputs->push_back(handle);
    SetCount(inputs_, handle, count);
  }
  for (const auto& [output, count] : change->outputs) output->installedRules = count;
  for (const auto& [sender, count] : change->senders) SetCount(senders_, sender, count);
  nextOrder_ = change->nextOrder;
  std::shared_ptr<const Table> previous = std::move(table_);
  table_ = std::move(change->table_);
  return previous;
}

}  // namespace mcr
