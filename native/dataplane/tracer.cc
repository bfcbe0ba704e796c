#include "dataplane/tracer.h"

#include "dataplane/clock.h"

#include <cerrno>
#include <cstring>

namespace mcr {

Tracer::Tracer(TraceRing* ring, std::function<void()> wake, uint32_t batch)
    : ring_(ring), wake_(std::move(wake)), recorded_(batch) {}

TraceSlot* Tracer::Record(const Route& route, uint32_t input, const ParsedPacket& packet, const uint8_t* frame,
                          uint32_t length, uint64_t receivedNs) {
  const TraceSpec& spec = *route.trace;
  if (!ring_) return nullptr;
  if (spec.untilNext > 0) {
    --spec.untilNext;
    return nullptr;
  }
  spec.untilNext = spec.every - 1;
  TraceSlot* slot = ring_->Claim();
  if (!slot) return nullptr;

  slot->timestampNs = receivedNs;
  slot->timeInMcrNs = 0;
  slot->input = input;
  slot->source = packet.Source();
  slot->destination = packet.Group();
  slot->sourcePort = packet.sourcePort;
  slot->destinationPort = packet.port;
  slot->ipLength = packet.ipLength;
  slot->ttl = packet.ttl;
  slot->tos = packet.tos;
  slot->protocol = packet.protocol;
  slot->vlan = packet.vlan;
  slot->frameLength = length;
  slot->snapLength = length < spec.snap ? length : spec.snap;
  std::memcpy(slot->frame, frame, slot->snapLength);
  slot->idLength = spec.idLength;
  std::memcpy(slot->id, spec.id, spec.idLength);
  slot->sendCount = route.targetCount;
  for (uint32_t t = 0; t < route.targetCount; ++t) slot->sends[t] = TracedSend{route.targets[t].output->handle, EAGAIN, 0, 0, 0, false};
  recorded_[recordedCount_++] = slot;
  return slot;
}

void Tracer::FinishBatch() {
  if (recordedCount_ == 0) return;
  const uint64_t nowNs = RealtimeNs();
  for (uint32_t i = 0; i < recordedCount_; ++i) recorded_[i]->timeInMcrNs = nowNs - recorded_[i]->timestampNs;
  recordedCount_ = 0;
  if (ring_->Publish()) wake_();
}

}  // namespace mcr
