// The installed rules on the JavaScript thread: their specs by id, how many rules name each input,
// output (kept on the output: Output::installedRules) and sender, and the table they make. A change
// is prepared without touching any of it (a refused change leaves everything as it was) and then
// committed; preparing it costs what the change touches (its rules, the route and destination shards
// they fall in), not the table.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dataplane/counter_region.h"
#include "dataplane/table.h"

namespace mcr {

class InstalledRules {
 public:
  // A prepared change: the next table and the bookkeeping that goes with it.
  class Change {
   public:
    const Table& table() const { return *table_; }

   private:
    friend class InstalledRules;
    std::unique_ptr<Table> table_;
    std::vector<std::string> gone;                // ids no longer installed
    std::vector<const RuleSpec*> specs;           // installed or replaced (point into the request)
    // The new counts of rules naming each input (by handle) and output, and of outputs using each
    // sender: of those that change, or (`whole`) of all of them.
    std::unordered_map<uint32_t, int64_t> inputs;
    std::vector<std::pair<Output*, int64_t>> outputs;
    std::unordered_map<const Sender*, int64_t> senders;
    bool whole = false;
    uint64_t nextOrder = 0;
  };

  InstalledRules();

  // Every rule replaced by `specs` (in this order; errors name "rules[i]"). Counters are carried over
  // for every id also installed now; an output slot's when the same output handle stays at the same
  // index. Throws RuleError on an unknown handle, a duplicate rule id or match key (naming both
  // rules), a slot outside `region` (may be null: then naming a slot is refused), a trace setting
  // out of range.
  std::unique_ptr<Change> Replace(const std::vector<RuleSpec>& specs, const InputMap& inputs, const OutputMap& outputs,
                                  const CounterRegion* region) const;
  // `upserts` replace the rules of their ids (which keep their place in rules()) or are added; the
  // rules of `removes` go (an unknown id is ignored; an id also upserted stays, upserted). Errors
  // name "upserts[i]" and, for a match key already taken, the installed rule. An upsert equal to
  // the installed rule (same spec, same output objects) changes nothing.
  std::unique_ptr<Change> Update(const std::vector<RuleSpec>& upserts, const std::vector<std::string>& removes,
                                 const InputMap& inputs, const OutputMap& outputs, const CounterRegion* region) const;
  // Makes the change's table the installed one and returns the one it replaces. `newInputs` gets the
  // input handles that rules name now and did not before. The specs of `Change` must still exist.
  std::shared_ptr<const Table> Commit(std::unique_ptr<Change> change, std::vector<uint32_t>* newInputs);

  const std::shared_ptr<const Table>& table() const { return table_; }
  // Whether an installed rule names this input handle.
  bool NamesInput(uint32_t handle) const { return inputs_.count(handle) != 0; }
  size_t size() const { return specs_.size(); }
  // Drops every rule and table (the engine's Close, once the data-plane thread is gone).
  void Clear();

 private:
  std::unique_ptr<Change> Prepare(const std::vector<RuleSpec>& upserts, const std::vector<std::string>& removes,
                                  bool replace,
                                  const InputMap& inputs, const OutputMap& outputs, const CounterRegion* region) const;
  // The change's destination shards and sender index: from its counts alone (setRules), or by the
  // outputs whose count leaves or reaches zero (an update).
  // `named`: the outputs whose Output::preparedDelta the change moved (each once).
  void IndexWhole(Change& change, const std::vector<Output*>& named) const;
  void IndexChange(Change& change, const std::vector<Output*>& named,
                   const std::unordered_map<uint32_t, int64_t>& inputDelta) const;

  std::shared_ptr<const Table> table_;
  std::unordered_map<std::string, RuleSpec> specs_;
  std::unordered_map<uint32_t, int64_t> inputs_;  // rules naming each input (none: absent)
  std::unordered_map<const Sender*, int64_t> senders_;  // installed outputs sending through each
  uint64_t nextOrder_ = 0;
};

}  // namespace mcr
