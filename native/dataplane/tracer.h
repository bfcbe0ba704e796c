// The packet path's side of tracing: samples the packets of traced rules and records each in a
// TraceRing slot (addresses, header fields, the first bytes of the frame, then each output's
// result as Egress sends it), and publishes a batch's records when its sends are done.
// Data-plane thread only; nothing here runs for packets of rules that are not traced.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "dataplane/parser.h"
#include "dataplane/table.h"
#include "dataplane/trace_ring.h"

namespace mcr {

class Tracer {
 public:
  // `ring` null: no reader, nothing is recorded. `wake` asks the reader to drain the ring; it is
  // called from the data-plane thread and must not block.
  Tracer(TraceRing* ring, std::function<void()> wake, uint32_t batch);

  // For a packet matched by a traced rule: the slot it is recorded in, or null (not this one in
  // `every`, or the ring is full: counted as lost). Each send starts as "not attempted" (EAGAIN)
  // until Egress sets its result. `receivedNs`: when the kernel received the frame.
  TraceSlot* Record(const Route& route, uint32_t input, const ParsedPacket& packet, const uint8_t* frame,
                    uint32_t length, uint64_t receivedNs);

  // After the batch's sends: stamps each record's time in mcr and hands them to the reader.
  void FinishBatch();

 private:
  TraceRing* const ring_;
  const std::function<void()> wake_;
  std::vector<TraceSlot*> recorded_;  // this batch's records
  uint32_t recordedCount_ = 0;
};

}  // namespace mcr
