// The receiving half of the data plane: reads batches of frames from one input with recvmmsg,
// parses and matches them, and hands the matches to Egress. Used by the data-plane thread only;
// all storage is allocated once, by the constructor (on the JavaScript thread).
#pragma once

#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "dataplane/egress.h"
#include "dataplane/endpoints.h"
#include "dataplane/table.h"
#include "dataplane/tracer.h"

namespace mcr {

class Forwarder {
 public:
  // Bytes per receive slot: any frame an AF_PACKET socket can deliver without GSO.
  static constexpr size_t kSlotSize = 65536;
  // Batches read from one input before the next ready input gets its turn.
  static constexpr int kBatchesPerTurn = 8;

  // `traceRing` (may be null) and `wakeTraceReader`: see Tracer.
  Forwarder(uint32_t batch, TraceRing* traceRing, std::function<void()> wakeTraceReader);
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Reads and forwards what `input` has queued until it runs dry (EAGAIN, or a short batch) or
  // kBatchesPerTurn batches have been handled. `table` is loaded once per batch.
  void Serve(Input& input, const std::atomic<const Table*>& table);

 private:
  // Room for one message's ancillary data: the kernel's receive time (SCM_TIMESTAMPNS), which the
  // supervisor asks of every capture socket (SO_TIMESTAMPNS).
  struct alignas(cmsghdr) ControlSlot {
    char bytes[CMSG_SPACE(sizeof(timespec))];
  };

  // Parses, matches and sends the first `frames` received messages.
  void Forward(Input& input, uint32_t frames, const Table& table);

  const uint32_t batch_;
  std::unique_ptr<uint8_t[]> buffers_;  // batch_ slots of kSlotSize bytes
  std::vector<iovec> iovecs_;
  std::vector<sockaddr_ll> senders_;  // sll_pkttype tells the host's own outgoing frames apart
  std::vector<ControlSlot> controls_;
  std::vector<mmsghdr> messages_;
  Egress egress_;
  Tracer tracer_;
};

}  // namespace mcr
