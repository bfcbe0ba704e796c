// The sending half of the data plane: fans one received batch out to its outputs with sendmmsg.
// Used by the data-plane thread only. All storage is allocated once, by the constructor.
//
// Each matched packet is queued on every output of its rule: a node per (packet, output) goes on
// that output's pending list (a singly linked list threaded through the node scratch, head and tail
// kept in the Output). Finishing the batch sends each touched output's list with sendmmsg, the
// iovecs pointing straight at the UDP payloads in the receive buffers (no copy), and then counts
// every packet as forwarded (some output took it) or sendFailed on its rule.
//
// Consecutive payloads of one size to one output go out as a single UDP GSO message (UDP_SEGMENT,
// the payloads as its iovecs): the kernel walks the UDP and IP send path once per message instead
// of once per packet and splits it into the same datagrams (docs/decisions/0009-udp-gso-egress.md).
//
// Each packet leaves with the TTL and TOS its output's SendPolicy makes from the received ones: a
// message whose differ from the socket's own carries them as IP_TTL and IP_TOS control messages
// (IPV6_HOPLIMIT and IPV6_TCLASS through an IPv6 sender),
// and a GSO message groups only packets sent with the same (docs/decisions/0058-tos-and-ttl-per-packet.md).
//
// A payload larger than one packet carries on the output's interface is counted as fragmented when
// sent, or, by an output whose policy is not to fragment, counted as too big and not sent
// (docs/decisions/0060-oversize-datagrams.md).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "dataplane/counters.h"
#include "dataplane/endpoints.h"
#include "dataplane/table.h"
#include "dataplane/trace_ring.h"

namespace mcr {

class Egress {
 public:
  // Room for `batch` packets per batch, and `batch` messages per sendmmsg.
  explicit Egress(uint32_t batch);

  // Registers a matched packet of the current batch (at most `batch` of them); returns its index.
  // The payload must stay in place until FinishBatch returns. `trace` (may be null) receives the
  // result of each send.
  // `ttl` and `tos`: the IPv4 header's (the IPv6 hop limit and traffic class), as received.
  uint32_t AddPacket(const uint8_t* payload, uint32_t length, uint8_t ttl, uint8_t tos, RuleCounters* rule, TraceSlot* trace);

  // Whether AddPacket has room for no more packets in this batch (FinishBatch makes room).
  bool Full() const { return packetCount_ == batch_; }

  // Queues packet `packet` for its rule's output number `index`.
  void Queue(uint32_t packet, const Target& target, uint32_t index);

  // Sends everything queued, counts the outcome per output and per packet, and starts a new batch.
  void FinishBatch();

 private:
  struct Packet {
    iovec payload;
    RuleCounters* rule;
    TraceSlot* trace;  // null unless the packet is traced
    uint8_t ttl;       // as received
    uint8_t tos;
    bool sent;         // at least one output accepted it
  };
  // The TTL and TOS byte a segment is sent with.
  struct SentHeader {
    uint8_t ttl;
    uint8_t tos;
    bool operator==(const SentHeader& other) const { return ttl == other.ttl && tos == other.tos; }
  };
  // A message's control messages: UDP_SEGMENT (the size of every segment of a GSO message), IP_TTL
  // and IP_TOS (IPV6_HOPLIMIT and IPV6_TCLASS), each only when needed.
  union MessageControl {
    cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(uint16_t)) + 2 * CMSG_SPACE(sizeof(int))];
  };
  struct Node {
    uint32_t packet;
    uint32_t next;  // Output::kNone at the end of a list
    OutputCounters* counters;
    uint32_t target;  // the output's index in its rule
  };

  // Sends the pending list of every touched output and empties the node scratch.
  void FlushAll();
  // Sends one output's pending list in runs of at most `batch_` messages.
  void Flush(Output& output);
  // Sends the first `count` segments (iovecs_/runNodes_) to `output` with sendmmsg. Returns how
  // many segments were attempted: `count`, or fewer when the socket would block (the rest are not
  // attempted: the caller counts them).
  uint32_t SendRun(Output& output, uint32_t count);
  // Groups segments [first, count) into messages from message index `message` on: runs of equal
  // payload sizes below output.gsoBelow, sent with equal TTL and TOS, become one GSO message each.
  // Returns the message count.
  uint32_t Prepare(const Output& output, uint32_t message, uint32_t first, uint32_t count);
  // Fills message `m`'s control messages for `segments` segments of `size` bytes sent with `header`
  // through `output` (none when it needs none).
  void SetControl(const Output& output, uint32_t m, uint32_t segments, size_t size, SentHeader header);
  // Settles one (packet, output) send: 0 sent (as one of `segments` datagrams of its message;
  // Reserve counted it), else the errno (EAGAIN: not attempted because the socket was full; EMSGSIZE:
  // too big for a sender that does not fragment), counted on the output's counters; and records
  // the outcome in the packet's trace record.
  void Settle(uint32_t node, int err, uint32_t segments = 0);
  // Counts segments [from, to) of the run as sent on `output` (and fragmented, when larger than
  // one packet carries) (undo: takes the count back). Done before each sendmmsg: a process killed
  // in the call (signals are delivered when it returns) has then counted exactly what it sent.
  void Reserve(const Output& output, uint32_t from, uint32_t to, bool undo);

  const uint32_t batch_;

  std::vector<Packet> packets_;
  uint32_t packetCount_ = 0;

  std::vector<Node> nodes_;  // batch × kNodesPerPacket; a full scratch is flushed early
  uint32_t nodeCount_ = 0;

  std::vector<Output*> touched_;  // outputs with a non-empty pending list, in first-touch order
  uint32_t touchedCount_ = 0;

  // One sendmmsg run: segment k is iovecs_[k], standing for node runNodes_[k], sent with headers_[k];
  // message m sends segments firstSegment_[m] .. firstSegment_[m + 1] - 1, with controls_[m] when
  // it needs control messages.
  std::vector<mmsghdr> messages_;
  std::vector<uint32_t> firstSegment_;  // batch + 1 entries
  std::vector<MessageControl> controls_;
  std::vector<iovec> iovecs_;
  std::vector<uint32_t> runNodes_;
  std::vector<SentHeader> headers_;
};

}  // namespace mcr
