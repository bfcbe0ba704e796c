#include "dataplane/egress.h"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dataplane/clock.h"

namespace mcr {

namespace {

// Node scratch per received packet: enough for rules with up to this many outputs before a batch
// has to be flushed early (which is correct, only less batched).
constexpr uint32_t kNodesPerPacket = 4;

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

// Segments per GSO message: the kernel's UDP_MAX_SEGMENTS before Linux 6.12 raised it to 128.
constexpr uint32_t kMaxGsoSegments = 64;
// Payload bytes per GSO message: one IPv4 datagram's worth (65535 - 20 - 8), which an IPv6 one
// (65535 - 8) holds too.
constexpr size_t kMaxGsoBytes = 65507;
// How long an output sends the sizes the kernel refused to segment one by one before trying GSO
// for them again: a failed try costs one sendmmsg (the message is then sent again without GSO).
constexpr uint64_t kGsoRetryNs = 1000000000;

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

// Errors an ICMP message is turned into (icmp_err_convert, time exceeded, parameter problem). With
// IP_RECVERR the kernel also leaves the latest one as the socket's pending error, which fails the
// next send through that socket whatever its destination (and is cleared by that send).
bool ReportedByIcmp(int err) {
  return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN || err == ENONET ||
         err == ENOPROTOOPT || err == EPROTO || err == EOPNOTSUPP || err == EMSGSIZE;
}

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
      firstSegment_(batch + 1),
      controls_(batch),
      iovecs_(batch),
      runNodes_(batch),
      headers_(batch) {
  for (uint32_t m = 0; m < batch; ++m) {
    messages_[m] = mmsghdr{};  // msg_name: the output's destination, set by Prepare
    std::memset(&controls_[m], 0, sizeof(MessageControl));
  }
}

uint32_t Egress::AddPacket(const uint8_t* payload, uint32_t length, uint8_t ttl, uint8_t tos, RuleCounters* rule, TraceSlot* trace) {
  const uint32_t index = packetCount_++;
  packets_[index] = Packet{iovec{const_cast<uint8_t*>(payload), length}, rule, trace, ttl, tos, false};
  return index;
}

void Egress::Queue(uint32_t packet, const Target& target, uint32_t index) {
  if (nodeCount_ == nodes_.size()) FlushAll();
  const uint32_t node = nodeCount_++;
  nodes_[node] = Node{packet, Output::kNone, target.counters, index};
  Output& output = *target.output;
  if (output.pendingHead == Output::kNone) {
    output.pendingHead = node;
    touched_[touchedCount_++] = &output;
  } else {
    nodes_[output.pendingTail].next = node;
  }
  output.pendingTail = node;
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
  uint32_t node = output.pendingHead;
  if (output.pendingError != 0) {
    // The network reported an error about this destination since its last packet: this packet
    // fails with it, as the next send of a connected socket did (decision 0043).
    Settle(node, output.pendingError);
    output.pendingError = 0;
    node = nodes_[node].next;
  }
  // Once the socket would block, the rest of this flush is counted without being tried: a full
  // socket buffer will not drain in the next microseconds, and other outputs must not wait for it.
  bool blocked = false;
  const SendPolicy& policy = output.policy;
  if (output.gsoBelow != UINT32_MAX && MonotonicNs() >= output.gsoRetryNs) output.gsoBelow = UINT32_MAX;
  while (node != Output::kNone) {
    uint32_t count = 0;
    for (; node != Output::kNone && count < batch_; node = nodes_[node].next) {
      const Packet& packet = packets_[nodes_[node].packet];
      SentHeader& header = headers_[count];
      if (!policy.Apply(packet.ttl, packet.tos, &header.ttl, &header.tos)) {
        Settle(node, kSendTtlExpired);
        continue;
      }
      const bool oversize = packet.payload.iov_len > output.largestPayload;
      if (packet.trace) {
        TracedSend& traced = packet.trace->sends[nodes_[node].target];
        traced.ttl = header.ttl;
        traced.tos = header.tos;
        traced.fragmented = oversize && !policy.dontFragment;
      }
      if (oversize && policy.dontFragment) {
        // What the kernel would answer (and does, for a lower path MTU): no need to ask it.
        Settle(node, EMSGSIZE);
        continue;
      }
      runNodes_[count] = node;
      iovecs_[count++] = packet.payload;
    }
    if (count == 0) continue;
    const uint32_t attempted = blocked ? 0 : SendRun(output, count);
    for (uint32_t k = attempted; k < count; ++k) Settle(runNodes_[k], EAGAIN);
    blocked = blocked || attempted < count;
  }
}

uint32_t Egress::Prepare(const Output& output, uint32_t message, uint32_t first, uint32_t count) {
  uint32_t m = message;
  for (uint32_t s = first; s < count; ++m) {
    const size_t size = iovecs_[s].iov_len;
    const SentHeader sent = headers_[s];
    uint32_t n = 1;
    if (output.segmentable && size > 0 && size < output.gsoBelow && size <= output.largestPayload) {
      const uint32_t most = std::min<size_t>(kMaxGsoSegments, kMaxGsoBytes / size);
      while (n < most && s + n < count && iovecs_[s + n].iov_len == size && headers_[s + n] == sent) ++n;
    }
    msghdr& header = messages_[m].msg_hdr;
    header.msg_name = const_cast<sockaddr*>(&output.destination.any);
    header.msg_namelen = output.destination.length();
    header.msg_iov = &iovecs_[s];
    header.msg_iovlen = n;
    SetControl(output, m, n, size, sent);
    firstSegment_[m] = s;
    s += n;
  }
  firstSegment_[m] = count;
  return m;
}

void Egress::SetControl(const Output& output, uint32_t m, uint32_t segments, size_t size, SentHeader sent) {
  msghdr& header = messages_[m].msg_hdr;
  char* const bytes = controls_[m].bytes;
  size_t used = 0;
  const auto add = [&](int level, int type, const void* data, size_t length) {
    cmsghdr* const control = reinterpret_cast<cmsghdr*>(bytes + used);
    control->cmsg_level = level;
    control->cmsg_type = type;
    control->cmsg_len = CMSG_LEN(length);
    std::memcpy(CMSG_DATA(control), data, length);
    used += CMSG_SPACE(length);
  };
  if (segments > 1) {
    const uint16_t segment = static_cast<uint16_t>(size);
    add(SOL_UDP, UDP_SEGMENT, &segment, sizeof segment);
  }
  // The socket's own TTL and TOS are the policy's fixed ones: a packet sent with those needs no
  // control message for them. An IPv6 sender's are its hop limit and traffic class.
  const bool ipv6 = output.destination.family() == AF_INET6;
  if (sent.ttl != output.policy.ttl) {
    const int ttl = sent.ttl;
    if (ipv6) add(IPPROTO_IPV6, IPV6_HOPLIMIT, &ttl, sizeof ttl);
    else add(IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
  }
  if (sent.tos != output.policy.tos) {
    const int tos = sent.tos;
    if (ipv6) add(IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
    else add(IPPROTO_IP, IP_TOS, &tos, sizeof tos);
  }
  header.msg_control = used > 0 ? bytes : nullptr;
  header.msg_controllen = used;
}

void Egress::Reserve(const Output& output, uint32_t from, uint32_t to, bool undo) {
  for (uint32_t k = from; k < to; ++k) {
    const Node& n = nodes_[runNodes_[k]];
    const uint64_t length = packets_[n.packet].payload.iov_len;
    const bool fragmented = length > output.largestPayload;
    if (undo) {
      n.counters->packets.Sub(1);
      n.counters->bytes.Sub(length);
      if (fragmented) n.counters->fragmented.Sub(1);
    } else {
      n.counters->packets.Add(1);
      n.counters->bytes.Add(length);
      if (fragmented) n.counters->fragmented.Add(1);
    }
  }
}

void Egress::Settle(uint32_t node, int err, uint32_t segments) {
  const Node& n = nodes_[node];
  Packet& packet = packets_[n.packet];
  if (err == 0) {
    packet.sent = true;
  } else if (err == kSendTtlExpired) {
    n.counters->ttlExpired.Add(1);
  } else if (err == EMSGSIZE) {
    n.counters->tooBig.Add(1);
  } else if (WouldBlock(err)) {
    n.counters->errWouldBlock.Add(1);
  } else {
    (Unreachable(err) ? n.counters->errUnreachable : n.counters->errOther).Add(1);
  }
  if (packet.trace) {
    TracedSend& traced = packet.trace->sends[n.target];
    traced.err = err;
    traced.segments = static_cast<uint8_t>(std::min<uint32_t>(segments, UINT8_MAX));
  }
}

uint32_t Egress::SendRun(Output& output, uint32_t count) {
  uint32_t messages = Prepare(output, 0, 0, count);
  uint32_t done = 0;
  uint32_t retried = UINT32_MAX;  // the message sent again after an error that may not be its own
  while (done < messages) {
    const uint32_t from = firstSegment_[done];
    Reserve(output, from, count, false);
    const int sent = sendmmsg(output.fd, &messages_[done], messages - done, MSG_DONTWAIT);
    const uint32_t upTo = sent > 0 ? firstSegment_[done + sent] : from;
    Reserve(output, upTo, count, true);  // not sent (yet)
    if (sent > 0) {
      for (uint32_t m = done; m < done + static_cast<uint32_t>(sent); ++m) {
        const uint32_t segments = firstSegment_[m + 1] - firstSegment_[m];
        for (uint32_t k = firstSegment_[m]; k < firstSegment_[m + 1]; ++k) Settle(runNodes_[k], 0, segments);
      }
      done += static_cast<uint32_t>(sent);
      continue;
    }
    // sendmmsg reports an error only for the first message of the run it was given.
    const int err = sent < 0 ? errno : EAGAIN;
    if (WouldBlock(err)) return firstSegment_[done];
    if (ReportedByIcmp(err) && retried != done) {
      // Possibly the socket's pending error, left by an ICMP message about any of the sender's
      // destinations and cleared by this call: its error queue says whose it was (SendErrors).
      // Sent again, the message fails only if the error is its own (no route, for instance).
      retried = done;
      continue;
    }
    const uint32_t first = firstSegment_[done];
    if (messages_[done].msg_hdr.msg_iovlen > 1 && (err == EINVAL || err == EMSGSIZE || err == EIO)) {
      // The kernel refused GSO for this size (or at all): stop grouping it, send the rest again.
      output.gsoBelow = err == EIO ? 0 : std::min<uint32_t>(output.gsoBelow, iovecs_[first].iov_len);
      output.gsoRetryNs = MonotonicNs() + kGsoRetryNs;
      messages = Prepare(output, done, first, count);
      continue;
    }
    // The message failed: count each of its packets (a GSO message fails for all its segments
    // alike), skip it, and try the rest.
    for (uint32_t k = first; k < firstSegment_[done + 1]; ++k) Settle(runNodes_[k], err);
    ++done;
  }
  return count;
}

}  // namespace mcr
