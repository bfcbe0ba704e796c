#include "sockets/packet_socket.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "common/fd.h"

namespace mcr {

namespace {

void SetFilter(int fd, const BpfProgram& filter, const std::string& context) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(filter.size());
  prog.filter = const_cast<sock_filter*>(filter.data());
  CheckSyscall(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)), context + "SO_ATTACH_FILTER");
}

// SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN; without it, fall back to
// SO_RCVBUF, which the kernel caps at rmem_max.
void SetReceiveBuffer(int fd, int bytes, const std::string& context) {
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) == 0) return;
  if (errno != EPERM) throw SyscallError(context + "SO_RCVBUFFORCE", errno);
  CheckSyscall(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)), context + "SO_RCVBUF");
}

// Opens the socket, lets `attach` put its filter in place, then binds it (see the header).
template <typename Attach>
int OpenFiltered(int ifindex, int rcvbuf, Attach&& attach) {
  const std::string context = "openPacketSocket (ifindex " + std::to_string(ifindex) + "): ";
  // Protocol 0: the socket is not hooked into the receive path until bind() names a protocol.
  UniqueFd fd(CheckSyscall(socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), context + "socket"));
  attach(fd.get(), context);
  const int one = 1;
  CheckSyscall(setsockopt(fd.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)),
               context + "PACKET_IGNORE_OUTGOING");
  // Each frame comes after a virtio-net header that says whether the kernel merged several datagrams
  // into it (GRO, or a GSO send that crossed a veth or bridge whole) and the size of each: the data
  // plane splits them again (docs/decisions/0059-merged-frames-split.md).
  CheckSyscall(setsockopt(fd.get(), SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)), context + "PACKET_VNET_HDR");
  SetReceiveBuffer(fd.get(), rcvbuf, context);

  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = ifindex;
  CheckSyscall(bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), context + "bind");
  return fd.Release();
}

}  // namespace

int OpenPacketSocket(int ifindex, int rcvbuf, const BpfProgram& filter) {
  return OpenFiltered(ifindex, rcvbuf, [&](int fd, const std::string& context) { SetFilter(fd, filter, context); });
}

int OpenPacketSocketWithProgram(int ifindex, int rcvbuf, int prog_fd) {
  return OpenFiltered(ifindex, rcvbuf, [&](int fd, const std::string& context) {
    CheckSyscall(setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &prog_fd, sizeof(prog_fd)), context + "SO_ATTACH_BPF");
  });
}

void SetReceiveTimestamps(int fd, bool on) {
  const int value = on ? 1 : 0;
  CheckSyscall(setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &value, sizeof(value)),
               "setReceiveTimestamps (fd " + std::to_string(fd) + "): SO_TIMESTAMPNS");
}

void SetVlanTags(int fd, bool on) {
  const int value = on ? 1 : 0;
  CheckSyscall(setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &value, sizeof(value)),
               "setVlanTags (fd " + std::to_string(fd) + "): PACKET_AUXDATA");
}

void AttachFilter(int fd, const BpfProgram& filter) {
  SetFilter(fd, filter, "attachFilter (fd " + std::to_string(fd) + "): ");
}

PacketSocketStats ReadPacketStatistics(int fd) {
  tpacket_stats stats{};
  socklen_t len = sizeof(stats);
  CheckSyscall(getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &len),
               "packetStatistics (fd " + std::to_string(fd) + "): PACKET_STATISTICS");
  return PacketSocketStats{stats.tp_packets, stats.tp_drops};
}

}  // namespace mcr
