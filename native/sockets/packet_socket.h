// AF_PACKET capture sockets: opening one with its filter in place, replacing the filter, reading drops.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <vector>

namespace mcr {

using BpfProgram = std::vector<sock_filter>;

struct PacketSocketStats {
  uint32_t packets;  // frames that passed the filter since the last read (drops included)
  uint32_t drops;    // of those, frames dropped because the receive buffer was full
};

// Opens a non-blocking, CLOEXEC AF_PACKET SOCK_RAW socket on `ifindex` that sees only frames
// accepted by `filter` and never its own host's outgoing frames, each read after a virtio-net header
// (PACKET_VNET_HDR). The socket is created with
// protocol 0 (it receives nothing), given its filter, options and buffer, and only then bound to
// ETH_P_ALL on the interface, so no unfiltered frame can be queued. Receive times are off until
// SetReceiveTimestamps. Throws SyscallError (the fd is closed) naming the failed step and the
// interface.
int OpenPacketSocket(int ifindex, int rcvbuf, const BpfProgram& filter);

// The same with an eBPF socket filter (a loaded BPF_PROG_TYPE_SOCKET_FILTER program, SO_ATTACH_BPF).
int OpenPacketSocketWithProgram(int ifindex, int rcvbuf, int prog_fd);

// Each frame read from now on comes with the kernel's time of its receipt (SO_TIMESTAMPNS, as
// SCM_TIMESTAMPNS ancillary data), or no longer does.
void SetReceiveTimestamps(int fd, bool on);

// Each frame read from now on comes with its VLAN tag as the kernel took it out of the frame
// (PACKET_AUXDATA: tp_vlan_tci, valid when TP_STATUS_VLAN_VALID), or no longer does.
void SetVlanTags(int fd, bool on);

// Replaces the socket's filter (SO_ATTACH_FILTER swaps the program atomically).
void AttachFilter(int fd, const BpfProgram& filter);

// Reads PACKET_STATISTICS, which the kernel resets on every read.
PacketSocketStats ReadPacketStatistics(int fd);

}  // namespace mcr
