// The receiving half of the data plane: reads batches of frames from one input with recvmmsg,
// parses and matches them, and hands the matches to Egress. Used by the data-plane thread only;
// all storage is allocated once, by the constructor (on the JavaScript thread).
//
// Each frame comes after its virtio-net header (the capture sockets have PACKET_VNET_HDR). A frame
// the kernel merged from several UDP datagrams (GRO on the input, or a UDP GSO send that crossed a
// veth or bridge whole: gso_type UDP_L4) is split back into them by its gso_size, each forwarded
// (and counted, and traced) as the datagram it was (docs/decisions/0059-merged-frames-split.md).
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

// The header PACKET_VNET_HDR puts before each frame: struct virtio_net_hdr of <linux/virtio_net.h>
// (a stable ABI), which C++ cannot include (a struct there has a field named `class`). Its 16-bit
// fields are little-endian (virtio 1.0, and the legacy native order on the hosts mcr runs on).
struct VnetHeader {
  uint8_t flags;
  uint8_t gsoType;  // VIRTIO_NET_HDR_GSO_*, with kVnetGsoEcn
  uint16_t headerLength;
  uint16_t gsoSize;  // for kVnetGsoUdpL4: each datagram's UDP payload
  uint16_t checksumStart;
  uint16_t checksumOffset;
};
static_assert(sizeof(VnetHeader) == 10, "struct virtio_net_hdr is 10 bytes");
constexpr uint8_t kVnetGsoUdpL4 = 5;   // VIRTIO_NET_HDR_GSO_UDP_L4
constexpr uint8_t kVnetGsoEcn = 0x80;  // VIRTIO_NET_HDR_GSO_ECN

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
  // supervisor asks of the capture sockets of traced rules (SO_TIMESTAMPNS), and the VLAN tag the
  // kernel took out of the frame (PACKET_AUXDATA), asked of those of inputs whose rules name VLANs.
  struct alignas(cmsghdr) ControlSlot {
    char bytes[CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(tpacket_auxdata))];
  };

  struct InputTally;

  // Parses, matches and sends the first `frames` received messages.
  void Forward(Input& input, uint32_t frames, const Table& table);
  // Counts, traces and queues one datagram of `route` (a whole frame, or one split from a merged one).
  void Take(Input& input, const Route& route, const ParsedPacket& packet, const uint8_t* frame, uint32_t length,
            uint64_t nowNs, uint64_t receivedNs, InputTally& tally);
  // Counts the frames tallied, sends what is queued and publishes its traces: at the end of a batch,
  // or before it when merged frames fill Egress.
  void Send(Input& input, InputTally& tally);

  const uint32_t batch_;
  std::unique_ptr<uint8_t[]> buffers_;  // batch_ slots of kSlotSize bytes
  std::vector<VnetHeader> vnetHeaders_;
  std::vector<iovec> iovecs_;  // two per message: its virtio-net header, its frame slot
  std::vector<sockaddr_ll> senders_;  // sll_pkttype tells the host's own outgoing frames apart
  std::vector<ControlSlot> controls_;
  std::vector<mmsghdr> messages_;
  Egress egress_;
  Tracer tracer_;
};

}  // namespace mcr
