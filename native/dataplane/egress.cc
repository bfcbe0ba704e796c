#include "dataplane/egress.h"

#include <cerrno>

namespace mcr {

namespace {

// Node scratch per received packet: enough for rules with up to this many outputs before a batch
// has to be flushed early (which is correct, only less batched).
constexpr uint32_t kNodesPerPacket = 4;

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

bool Unreachable(int err) {
  return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN || err == ENETDOWN;
}

}  // namespace

Egress::Egress(uint32_t batch)
    : batch_(batch),
      packets_(batch),
      nodes_(static_cast<size_t>(batch) * kNodesPerPacket),
      touched_(nodes_.size()),
      messages_(batch),
      iovecs_(batch),
      runNodes_(batch) {
  for (uint32_t k = 0; k < batch; ++k) {
    messages_[k] = mmsghdr{};
    messages_[k].msg_hdr.msg_iov = &iovecs_[k];
    messages_[k].msg_hdr.msg_iovlen = 1;  // connected sockets: no msg_name
  }
}

uint32_t Egress::AddPacket(const uint8_t* payload, uint32_t length, RuleCounters* rule) {
  const uint32_t index = packetCount_++;
  packets_[index] = Packet{iovec{const_cast<uint8_t*>(payload), length}, rule, false};
  return index;
}

void Egress::Queue(uint32_t packet, const Target& target) {
  if (nodeCount_ == nodes_.size()) FlushAll();
  const uint32_t index = nodeCount_++;
  nodes_[index] = Node{packet, Output::kNone, target.counters};
  Output& output = *target.output;
  if (output.pendingHead == Output::kNone) {
    output.pendingHead = index;
    touched_[touchedCount_++] = &output;
  } else {
    nodes_[output.pendingTail].next = index;
  }
  output.pendingTail = index;
}

void Egress::FinishBatch() {
  FlushAll();
  for (uint32_t i = 0; i < packetCount_; ++i) {
    const Packet& packet = packets_[i];
    (packet.sent ? packet.rule->forwarded : packet.rule->sendFailed).Add(1);
  }
  packetCount_ = 0;
}

void Egress::FlushAll() {
  for (uint32_t i = 0; i < touchedCount_; ++i) {
    Output& output = *touched_[i];
    Flush(output);
    output.pendingHead = output.pendingTail = Output::kNone;
  }
  touchedCount_ = 0;
  nodeCount_ = 0;
}

void Egress::Flush(Output& output) {
  // Once the socket would block, the rest of this flush is counted without being tried: a full
  // socket buffer will not drain in the next microseconds, and other outputs must not wait for it.
  bool blocked = false;
  uint32_t node = output.pendingHead;
  while (node != Output::kNone) {
    uint32_t count = 0;
    for (; node != Output::kNone && count < batch_; node = nodes_[node].next, ++count) {
      runNodes_[count] = node;
      iovecs_[count] = packets_[nodes_[node].packet].payload;
    }
    const uint32_t attempted = blocked ? 0 : SendRun(output.fd.get(), count);
    for (uint32_t k = attempted; k < count; ++k) nodes_[runNodes_[k]].counters->errWouldBlock.Add(1);
    blocked = blocked || attempted < count;
  }
}

uint32_t Egress::SendRun(int fd, uint32_t count) {
  uint32_t done = 0;
  while (done < count) {
    const int sent = sendmmsg(fd, &messages_[done], count - done, MSG_DONTWAIT);
    if (sent > 0) {
      for (uint32_t k = done; k < done + static_cast<uint32_t>(sent); ++k) {
        const Node& n = nodes_[runNodes_[k]];
        n.counters->packets.Add(1);
        n.counters->bytes.Add(iovecs_[k].iov_len);
        packets_[n.packet].sent = true;
      }
      done += static_cast<uint32_t>(sent);
      continue;
    }
    // sendmmsg reports an error only for the first message of the run it was given.
    const int err = sent < 0 ? errno : EAGAIN;
    if (WouldBlock(err)) return done;
    OutputCounters& counters = *nodes_[runNodes_[done]].counters;
    (Unreachable(err) ? counters.errUnreachable : counters.errOther).Add(1);
    ++done;  // skip the message that failed, try the rest
  }
  return count;
}

}  // namespace mcr
