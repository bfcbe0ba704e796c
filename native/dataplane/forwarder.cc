#include "dataplane/forwarder.h"

#include "dataplane/clock.h"
#include "dataplane/parser.h"

#include <cstring>

namespace mcr {

namespace {

// An input's counts for one batch, added to its shared counters once at the end.
struct InputTally {
  uint64_t frames = 0;
  uint64_t bytes = 0;
  uint64_t unmatched = 0;
  uint64_t rejected[kParseStatusCount] = {};

  void AddTo(InputCounters& counters) const {
    counters.frames.Add(frames);
    counters.bytes.Add(bytes);
    if (unmatched) counters.unmatched.Add(unmatched);
    for (size_t i = 0; i < kParseStatusCount; ++i) {
      if (rejected[i]) counters.rejected[i].Add(rejected[i]);
    }
  }
};

// When the kernel received the frame of `message` (CLOCK_REALTIME, SCM_TIMESTAMPNS), or `fallback`
// when the message carries no such time (a socket made without SO_TIMESTAMPNS).
uint64_t ReceivedNs(msghdr& message, uint64_t fallback) {
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&message); cmsg != nullptr; cmsg = CMSG_NXTHDR(&message, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec at;
    std::memcpy(&at, CMSG_DATA(cmsg), sizeof(at));
    return TimespecNs(at);
  }
  return fallback;
}

}  // namespace

Forwarder::Forwarder(uint32_t batch, TraceRing* traceRing, std::function<void()> wakeTraceReader)
    : batch_(batch),
      buffers_(new uint8_t[static_cast<size_t>(batch) * kSlotSize]),  // untouched pages stay uncommitted
      iovecs_(batch),
      senders_(batch),
      controls_(batch),
      messages_(batch),
      egress_(batch),
      tracer_(traceRing, std::move(wakeTraceReader), batch) {
  for (uint32_t i = 0; i < batch; ++i) {
    iovecs_[i] = iovec{buffers_.get() + i * kSlotSize, kSlotSize};
    messages_[i] = mmsghdr{};
    messages_[i].msg_hdr.msg_iov = &iovecs_[i];
    messages_[i].msg_hdr.msg_iovlen = 1;
    messages_[i].msg_hdr.msg_name = &senders_[i];
    messages_[i].msg_hdr.msg_namelen = sizeof(sockaddr_ll);
    messages_[i].msg_hdr.msg_control = &controls_[i];
    messages_[i].msg_hdr.msg_controllen = sizeof(ControlSlot);
  }
}

void Forwarder::Serve(Input& input, const std::atomic<const Table*>& table) {
  for (int turn = 0; turn < kBatchesPerTurn; ++turn) {
    const int received = recvmmsg(input.fd.get(), messages_.data(), batch_, MSG_DONTWAIT, nullptr);
    // EAGAIN: drained. Any other error (ENETDOWN when the interface goes down) is reported once
    // by the socket and cleared; epoll says when there is more to read.
    if (received <= 0) return;
    Forward(input, static_cast<uint32_t>(received), *table.load(std::memory_order_acquire));
    for (int i = 0; i < received; ++i) {  // in/out
      messages_[i].msg_hdr.msg_namelen = sizeof(sockaddr_ll);
      messages_[i].msg_hdr.msg_controllen = sizeof(ControlSlot);
    }
    if (static_cast<uint32_t>(received) < batch_) return;  // a short batch: the queue is empty
  }
}

void Forwarder::Forward(Input& input, uint32_t frames, const Table& table) {
  const uint64_t now = RealtimeNs();
  InputTally tally;
  for (uint32_t i = 0; i < frames; ++i) {
    if (senders_[i].sll_pkttype == PACKET_OUTGOING) continue;  // the host's own frames: never relayed
    msghdr& header = messages_[i].msg_hdr;
    const uint32_t length = messages_[i].msg_len;
    ++tally.frames;
    tally.bytes += length;
    const uint8_t* frame = static_cast<const uint8_t*>(iovecs_[i].iov_base);

    ParsedPacket packet;
    const ParseStatus status = (header.msg_flags & MSG_TRUNC) ? ParseStatus::kTruncated : ParseFrame(frame, length, &packet);
    if (status != ParseStatus::kOk) {
      ++tally.rejected[static_cast<size_t>(status)];
      continue;
    }
    const Route* route = table.Find(input.handle, packet.group, packet.port, packet.source);
    if (!route) {
      ++tally.unmatched;
      continue;
    }
    route->counters->packets.Add(1);
    route->counters->bytes.Add(packet.payloadLength);
    route->counters->lastPacketNs.Set(now);
    // A traced packet carries the kernel's time of its own receipt, not its batch's read.
    TraceSlot* trace = route->trace ? tracer_.Record(*route, input.handle, packet, frame, length, ReceivedNs(header, now)) : nullptr;
    const uint32_t index = egress_.AddPacket(frame + packet.payloadOffset, packet.payloadLength, packet.ttl, packet.tos, route->counters, trace);
    for (uint32_t t = 0; t < route->targetCount; ++t) egress_.Queue(index, route->targets[t], t);
  }
  // The frames are counted before they are sent, like the rules' matches: a worker killed while it
  // sends has counted every frame it took and every match it made.
  tally.AddTo(*input.counters);
  egress_.FinishBatch();
  tracer_.FinishBatch();
}

}  // namespace mcr
