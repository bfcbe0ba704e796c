#include "dataplane/forwarder.h"

#include "dataplane/clock.h"
#include "dataplane/parser.h"

#include <algorithm>
#include <cstring>
#include <endian.h>

namespace mcr {

// An input's counts for one batch, added to its shared counters when its packets are sent (Send).
struct Forwarder::InputTally {
  uint64_t frames = 0;
  uint64_t bytes = 0;
  uint64_t unmatched = 0;
  uint64_t rejected[kParseStatusCount] = {};
  uint64_t mergedFrames = 0;
  uint64_t mergedDatagrams = 0;

  // Adds the counts to `counters` and starts again from zero.
  void MoveTo(InputCounters& counters) {
    counters.frames.Add(frames);
    counters.bytes.Add(bytes);
    if (unmatched) counters.unmatched.Add(unmatched);
    for (size_t i = 0; i < kParseStatusCount; ++i) {
      if (rejected[i]) counters.rejected[i].Add(rejected[i]);
    }
    // Apart: a frame's datagrams may be counted over two moves (a Send in the middle of it).
    if (mergedFrames) counters.mergedFrames.Add(mergedFrames);
    if (mergedDatagrams) counters.mergedDatagrams.Add(mergedDatagrams);
    *this = InputTally{};
  }
};

namespace {

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

// The VLAN ID of the frame of `message`: the tag the kernel took out of it (PACKET_AUXDATA; 0: none,
// or a socket without PACKET_AUXDATA, whose filter admits no tagged frame).
uint16_t FrameVlan(msghdr& message) {
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&message); cmsg != nullptr; cmsg = CMSG_NXTHDR(&message, cmsg)) {
    if (cmsg->cmsg_level != SOL_PACKET || cmsg->cmsg_type != PACKET_AUXDATA) continue;
    tpacket_auxdata aux;
    std::memcpy(&aux, CMSG_DATA(cmsg), sizeof(aux));
    return (aux.tp_status & TP_STATUS_VLAN_VALID) != 0 ? aux.tp_vlan_tci & 0x0fff : 0;
  }
  return 0;
}

// The size of each datagram of a frame the kernel merged from several UDP datagrams (its
// virtio-net header says GSO UDP_L4, and the UDP payload is longer than one), else 0.
uint32_t MergedSegmentSize(const VnetHeader& vnet, const ParsedPacket& packet) {
  if ((vnet.gsoType & ~kVnetGsoEcn) != kVnetGsoUdpL4 || packet.protocol != kIpProtocolUdp) return 0;
  const uint32_t size = le16toh(vnet.gsoSize);
  return size > 0 && packet.payloadLength > size ? size : 0;
}

}  // namespace

Forwarder::Forwarder(uint32_t batch, TraceRing* traceRing, std::function<void()> wakeTraceReader)
    : batch_(batch),
      buffers_(new uint8_t[static_cast<size_t>(batch) * kSlotSize]),  // untouched pages stay uncommitted
      vnetHeaders_(batch),
      iovecs_(2 * static_cast<size_t>(batch)),
      senders_(batch),
      controls_(batch),
      messages_(batch),
      egress_(batch),
      tracer_(traceRing, std::move(wakeTraceReader), batch) {
  for (uint32_t i = 0; i < batch; ++i) {
    iovecs_[2 * i] = iovec{&vnetHeaders_[i], sizeof(VnetHeader)};
    iovecs_[2 * i + 1] = iovec{buffers_.get() + i * kSlotSize, kSlotSize};
    messages_[i] = mmsghdr{};
    messages_[i].msg_hdr.msg_iov = &iovecs_[2 * i];
    messages_[i].msg_hdr.msg_iovlen = 2;
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
    // msg_len counts the virtio-net header too; a message shorter than it carries no frame.
    const uint32_t length = messages_[i].msg_len > sizeof(VnetHeader) ? messages_[i].msg_len - sizeof(VnetHeader) : 0;
    ++tally.frames;
    tally.bytes += length;
    const uint8_t* frame = static_cast<const uint8_t*>(iovecs_[2 * i + 1].iov_base);

    ParsedPacket packet;
    const ParseStatus status = (header.msg_flags & MSG_TRUNC) ? ParseStatus::kTruncated : ParseFrame(frame, length, &packet);
    if (status != ParseStatus::kOk) {
      ++tally.rejected[static_cast<size_t>(status)];
      continue;
    }
    // Tags are looked for only while some rule names a VLAN (their inputs' sockets then have
    // PACKET_AUXDATA, the supervisor's doing); a rule without one matches untagged frames only.
    if (table.vlanRuleCount() > 0) packet.vlan = FrameVlan(header);
    // Port 0 in a rule means ESP: UDP to port 0 (which no sender means to reach) matches nothing.
    const Route* route = packet.port != 0 || packet.protocol == kIpProtocolEsp
                             ? table.Find(input.handle, packet.Group(), packet.port, packet.Source(), packet.vlan)
                             : nullptr;
    if (!route) {
      ++tally.unmatched;
      continue;
    }
    // A traced packet carries the kernel's time of its own receipt, not its batch's read.
    const uint64_t receivedNs = route->trace ? ReceivedNs(header, now) : now;
    const uint32_t segmentSize = MergedSegmentSize(vnetHeaders_[i], packet);
    if (segmentSize == 0) {
      Take(input, *route, packet, frame, length, now, receivedNs, tally);
      continue;
    }
    // Several datagrams merged into one frame: each is forwarded as it was sent, the last one with
    // what remains. Their headers are the frame's but for the lengths.
    ++tally.mergedFrames;
    ParsedPacket datagram = packet;
    for (uint32_t done = 0; done < packet.payloadLength; done += datagram.payloadLength) {
      datagram.payloadOffset = packet.payloadOffset + done;
      datagram.payloadLength = std::min(segmentSize, packet.payloadLength - done);
      datagram.ipLength = packet.ipLength - (packet.payloadLength - datagram.payloadLength);
      ++tally.mergedDatagrams;
      Take(input, *route, datagram, frame, length, now, receivedNs, tally);
    }
  }
  Send(input, tally);
}

void Forwarder::Take(Input& input, const Route& route, const ParsedPacket& packet, const uint8_t* frame, uint32_t length,
                     uint64_t nowNs, uint64_t receivedNs, InputTally& tally) {
  if (egress_.Full()) Send(input, tally);  // only when merged frames hold more datagrams than a batch
  route.counters->packets.Add(1);
  route.counters->bytes.Add(packet.payloadLength);
  route.counters->lastPacketNs.Set(nowNs);
  TraceSlot* trace = route.trace ? tracer_.Record(route, input.handle, packet, frame, length, receivedNs) : nullptr;
  const uint32_t index = egress_.AddPacket(frame + packet.payloadOffset, packet.payloadLength, packet.ttl, packet.tos, route.counters, trace);
  for (uint32_t t = 0; t < route.targetCount; ++t) egress_.Queue(index, route.targets[t], t);
}

void Forwarder::Send(Input& input, InputTally& tally) {
  // The frames are counted before they are sent, like the rules' matches: a worker killed while it
  // sends has counted every frame it took and every match it made.
  tally.MoveTo(*input.counters);
  egress_.FinishBatch();
  tracer_.FinishBatch();
}

}  // namespace mcr
