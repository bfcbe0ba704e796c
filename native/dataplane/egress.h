// The sending half of the data plane: fans one received batch out to its outputs with sendmmsg.
// Used by the data-plane thread only. All storage is allocated once, by the constructor.
//
// Each matched packet is queued on every output of its rule: a node per (packet, output) goes on
// that output's pending list (a singly linked list threaded through the node scratch, head and tail
// kept in the Output). Finishing the batch sends each touched output's list with sendmmsg, the
// iovecs pointing straight at the UDP payloads in the receive buffers (no copy), and then counts
// every packet as forwarded (some output took it) or sendFailed on its rule.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "dataplane/counters.h"
#include "dataplane/endpoints.h"
#include "dataplane/table.h"

namespace mcr {

class Egress {
 public:
  // Room for `batch` packets per batch, and `batch` messages per sendmmsg.
  explicit Egress(uint32_t batch);

  // Registers a matched packet of the current batch (at most `batch` of them); returns its index.
  // The payload must stay in place until FinishBatch returns.
  uint32_t AddPacket(const uint8_t* payload, uint32_t length, RuleCounters* rule);

  // Queues packet `packet` for one output of its rule.
  void Queue(uint32_t packet, const Target& target);

  // Sends everything queued, counts the outcome per output and per packet, and starts a new batch.
  void FinishBatch();

 private:
  struct Packet {
    iovec payload;
    RuleCounters* rule;
    bool sent;  // at least one output accepted it
  };
  struct Node {
    uint32_t packet;
    uint32_t next;  // Output::kNone at the end of a list
    OutputCounters* counters;
  };

  // Sends the pending list of every touched output and empties the node scratch.
  void FlushAll();
  // Sends one output's pending list in runs of at most `batch_` messages.
  void Flush(Output& output);
  // sendmmsg of the first `count` prepared messages. Returns how many were attempted: `count`, or
  // fewer when the socket would block (the rest are not attempted: the caller counts them).
  uint32_t SendRun(int fd, uint32_t count);

  const uint32_t batch_;

  std::vector<Packet> packets_;
  uint32_t packetCount_ = 0;

  std::vector<Node> nodes_;  // batch × kNodesPerPacket; a full scratch is flushed early
  uint32_t nodeCount_ = 0;

  std::vector<Output*> touched_;  // outputs with a non-empty pending list, in first-touch order
  uint32_t touchedCount_ = 0;

  // One sendmmsg run: message k sends iovecs_[k] and stands for node runNodes_[k].
  std::vector<mmsghdr> messages_;
  std::vector<iovec> iovecs_;
  std::vector<uint32_t> runNodes_;
};

}  // namespace mcr
