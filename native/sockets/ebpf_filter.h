// The eBPF capture filter: a BPF_PROG_TYPE_SOCKET_FILTER program, written here as raw instructions
// (no clang or libbpf needed to build), whose exact match is a hash map of capture keys that the
// supervisor updates in place. See docs/decisions/0028-ebpf-capture-filter.md and, for IPv6,
// 0066-ipv6-capture-filters.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mcr {

// One entry of the IPv4 capture map, all fields in host byte order (what BPF_LD_ABS/IND load), in
// VLAN `vlan` (the ID of the tag the kernel took out of the frame; 0: untagged):
//   (group, port, source)  a UDP flow: source 0 admits any source;
//   (group, 0, 0)          the group itself: fragments, other protocols and bad IHLs to it are
//                          admitted so the data plane counts them.
struct CaptureKey {
  uint32_t group;
  uint16_t port;
  uint16_t vlan;
  uint32_t source;
};
static_assert(sizeof(CaptureKey) == 12, "the program builds this layout on its stack");

// One entry of the IPv6 capture map (docs/decisions/0066), with the same meanings (source all zero:
// any; port 0 and source zero: the group itself). The addresses are in network byte order, in the
// order of the IPv6 header, so that the program copies both from the frame in one load; the port and
// the VLAN in host byte order, as in CaptureKey.
struct CaptureKey6 {
  uint8_t source[16];
  uint8_t group[16];
  uint16_t port;
  uint16_t vlan;
};
static_assert(sizeof(CaptureKey6) == 36, "the program builds this layout on its stack");

// The IP version whose keys a capture map holds.
enum class CaptureFamily { kIpv4 = 4, kIpv6 = 6 };

// BPF_MAP_CREATE of an unpreallocated hash map of CaptureKey (kIpv4) or CaptureKey6 (kIpv6) ->
// uint32_t holding at most `capacity` keys. Returns the map fd (CLOEXEC).
int CreateCaptureMap(uint32_t capacity, CaptureFamily family = CaptureFamily::kIpv4);

// Which keys a map made by CreateCaptureMap holds (BPF_OBJ_GET_INFO_BY_FD: its key size); throws
// std::invalid_argument for a map of any other key size.
CaptureFamily CaptureMapFamily(int map_fd);

// BPF_PROG_LOAD of the capture program bound to the IPv4 map `map_fd` and, if `map6_fd` is not -1,
// the IPv6 map `map6_fd`; without one it drops every IPv6 frame (and is the program of a socket
// without IPv6 targets, instruction for instruction). Returns the program fd (CLOEXEC). A verifier
// refusal throws SyscallError whose step carries the verifier's last log lines.
int LoadCaptureProgram(int map_fd, int map6_fd = -1);

// Adds the keys: one BPF_MAP_UPDATE_BATCH where the kernel has it for hash maps (5.6 on; one syscall
// for 20,000 keys instead of 20,000), else (or with `one_by_one`) a BPF_MAP_UPDATE_ELEM per key. The
// first failure throws (keys before it stay applied). The keys must be of the map's family.
void UpdateCaptureMap(int map_fd, const std::vector<CaptureKey>& keys, bool one_by_one = false);
void UpdateCaptureMap(int map_fd, const std::vector<CaptureKey6>& keys, bool one_by_one = false);
// BPF_MAP_DELETE_ELEM of each key (few at a time); deleting a key that is not there is not an error.
void DeleteFromCaptureMap(int map_fd, const std::vector<CaptureKey>& keys);
void DeleteFromCaptureMap(int map_fd, const std::vector<CaptureKey6>& keys);

// SO_ATTACH_BPF: replaces the socket's filter (classic or eBPF) with the program, atomically.
void AttachCaptureProgram(int socket_fd, int prog_fd);

// BPF_PROG_TEST_RUN of the program on `frame` as an AF_PACKET socket sees it (from the Ethernet
// header on); returns the program's verdict (0 = drop, else the bytes kept).
uint32_t TestRunCaptureProgram(int prog_fd, const uint8_t* frame, size_t length);

// The same, run `repeat` times in the kernel: the mean time of one run in nanoseconds, as the kernel
// measures it (BPF_PROG_TEST_RUN's duration).
uint32_t TimeCaptureProgram(int prog_fd, const uint8_t* frame, size_t length, uint32_t repeat);

}  // namespace mcr
