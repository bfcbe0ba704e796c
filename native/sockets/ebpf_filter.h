// The eBPF capture filter: a BPF_PROG_TYPE_SOCKET_FILTER program, written here as raw instructions
// (no clang or libbpf needed to build), whose exact match is a hash map of capture keys that the
// supervisor updates in place. See docs/decisions/0028-ebpf-capture-filter.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mcr {

// One entry of the capture map, all fields in host byte order (what BPF_LD_ABS/IND load), in VLAN
// `vlan` (the ID of the tag the kernel took out of the frame; 0: untagged):
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

// BPF_MAP_CREATE of an unpreallocated hash map of CaptureKey -> uint32_t holding at most
// `capacity` keys. Returns the map fd (CLOEXEC).
int CreateCaptureMap(uint32_t capacity);

// BPF_PROG_LOAD of the capture program bound to `map_fd`. Returns the program fd (CLOEXEC). A
// verifier refusal throws SyscallError whose step carries the verifier's last log lines.
int LoadCaptureProgram(int map_fd);

// Adds the keys: one BPF_MAP_UPDATE_BATCH where the kernel has it for hash maps (5.6 on; one syscall
// for 20,000 keys instead of 20,000), else (or with `one_by_one`) a BPF_MAP_UPDATE_ELEM per key. The
// first failure throws (keys before it stay applied).
void UpdateCaptureMap(int map_fd, const std::vector<CaptureKey>& keys, bool one_by_one = false);
// BPF_MAP_DELETE_ELEM of each key (few at a time); deleting a key that is not there is not an error.
void DeleteFromCaptureMap(int map_fd, const std::vector<CaptureKey>& keys);

// SO_ATTACH_BPF: replaces the socket's filter (classic or eBPF) with the program, atomically.
void AttachCaptureProgram(int socket_fd, int prog_fd);

// BPF_PROG_TEST_RUN of the program on `frame` as an AF_PACKET socket sees it (from the Ethernet
// header on); returns the program's verdict (0 = drop, else the bytes kept).
uint32_t TestRunCaptureProgram(int prog_fd, const uint8_t* frame, size_t length);

// The same, run `repeat` times in the kernel: the mean time of one run in nanoseconds, as the kernel
// measures it (BPF_PROG_TEST_RUN's duration).
uint32_t TimeCaptureProgram(int prog_fd, const uint8_t* frame, size_t length, uint32_t repeat);

}  // namespace mcr
