#include "sockets/ebpf_filter.h"

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <stdexcept>

#include "common/fd.h"

namespace mcr {

namespace {

long Bpf(int cmd, bpf_attr* attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

// The verifier gives up with EAGAIN when a signal is pending (mcrd gets SIGCHLD from its workers, and
// SIGPROF under --cpu-prof), which is no verdict on the program: load again, a few times.
constexpr int kLoadAttempts = 10;

int LoadProgram(bpf_attr* attr) {
  int fd = -1;
  for (int attempt = 0; attempt < kLoadAttempts; ++attempt) {
    fd = static_cast<int>(Bpf(BPF_PROG_LOAD, attr));
    if (fd >= 0 || (errno != EAGAIN && errno != EINTR)) break;
  }
  return fd;
}

uint64_t Pointer(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

// Registers.
constexpr uint8_t R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R6 = 6, R7 = 7, R8 = 8, R9 = 9, R10 = 10;

// Frame layout, from the Ethernet header (what an AF_PACKET SOCK_RAW socket's filter sees).
constexpr int32_t kEthType = 12;
constexpr int32_t kEthHlen = 14;
constexpr int32_t kVlanHlen = 4;
constexpr int32_t kIpVersionIhl = kEthHlen + 0;
constexpr int32_t kIpFragment = kEthHlen + 6;
constexpr int32_t kIpProtocol = kEthHlen + 9;
constexpr int32_t kIpSource = kEthHlen + 12;
constexpr int32_t kIpDestination = kEthHlen + 16;
constexpr int32_t kUdpDestinationPort = kEthHlen + 2;  // from the UDP header, found at 14 + X
constexpr int32_t kEthPIp = 0x0800;
constexpr int32_t kEthP8021Q = 0x8100;
constexpr int32_t kIpFragmentMask = 0x3fff;  // MF and fragment offset
constexpr int32_t kIpMinIhl = 5;
constexpr int32_t kIpprotoUdp = 17;
constexpr int32_t kAccept = 0x40000;  // bytes kept: any whole frame, as the classic filter

// IPv6 (decision 0066): the fixed header, the extension headers the data plane's parser steps over
// (native/dataplane/parser.cc: hop-by-hop first only, routing, destination options, at most 8), and
// an extension header's own fields, from its start (found at 14 + R9).
constexpr int32_t kEthPIpv6 = 0x86dd;
constexpr int32_t kIp6NextHeader = kEthHlen + 6;
constexpr int32_t kIp6Addresses = kEthHlen + 8;  // source, then destination: 32 bytes
constexpr int32_t kIp6AddressesLength = 32;
constexpr int32_t kIp6Header = 40;
constexpr int32_t kIp6HopByHop = 0;
constexpr int32_t kIp6Routing = 43;
constexpr int32_t kIp6DestinationOptions = 60;
constexpr int kIp6MaxExtensions = 8;
// Its first two bytes, loaded as one: the next header (high byte) and the length in 8-octet units
// beyond the first 8 (low byte).
constexpr int32_t kExtensionNextAndLength = kEthHlen + 0;

// The key on the stack: fp-16 group, fp-12 port, fp-10 VLAN, fp-8 source.
constexpr int16_t kKey = -16;
constexpr int16_t kKeyPort = kKey + static_cast<int16_t>(offsetof(CaptureKey, port));
constexpr int16_t kKeyVlan = kKey + static_cast<int16_t>(offsetof(CaptureKey, vlan));
constexpr int32_t kVlanIdMask = 0x0fff;  // of a tag control field (after priority and DEI)
constexpr int16_t kKeySource = kKey + static_cast<int16_t>(offsetof(CaptureKey, source));
// The IPv6 key below it: fp-56 source, fp-40 group, fp-24 port, fp-22 VLAN.
constexpr int16_t kKey6 = kKey - 40;
constexpr int16_t kKey6Source = kKey6 + static_cast<int16_t>(offsetof(CaptureKey6, source));
constexpr int16_t kKey6Port = kKey6 + static_cast<int16_t>(offsetof(CaptureKey6, port));
constexpr int16_t kKey6Vlan = kKey6 + static_cast<int16_t>(offsetof(CaptureKey6, vlan));
static_assert(kKey6 + static_cast<int16_t>(sizeof(CaptureKey6)) <= kKey, "the keys must not overlap");
static_assert(offsetof(CaptureKey6, group) == offsetof(CaptureKey6, source) + 16, "one load fills both addresses");

// A tiny assembler: forward jumps name a label, resolved when the label is placed.
class Assembler {
 public:
  void Emit(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn insn{};
    insn.code = code;
    insn.dst_reg = dst;
    insn.src_reg = src;
    insn.off = off;
    insn.imm = imm;
    insns_.push_back(insn);
  }
  void MovReg(uint8_t dst, uint8_t src) { Emit(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
  void MovImm(uint8_t dst, int32_t imm) { Emit(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
  void AluImm(uint8_t op, uint8_t dst, int32_t imm) { Emit(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm); }
  void AluReg(uint8_t op, uint8_t dst, uint8_t src) { Emit(BPF_ALU64 | op | BPF_X, dst, src, 0, 0); }
  void LoadCtx(uint8_t dst, int16_t offset) { Emit(BPF_LDX | BPF_MEM | BPF_W, dst, R6, offset, 0); }
  // R0 = the frame's bytes at `offset` (+ R7 for Indirect), in host order; out of the frame: return 0.
  void LoadAbs(uint8_t size, int32_t offset) { Emit(BPF_LD | BPF_ABS | size, 0, 0, 0, offset); }
  void LoadInd(uint8_t size, uint8_t index, int32_t offset) { Emit(BPF_LD | BPF_IND | size, 0, index, 0, offset); }
  void StoreImm(uint8_t size, int16_t offset, int32_t imm) { Emit(BPF_ST | BPF_MEM | size, R10, 0, offset, imm); }
  void StoreReg(uint8_t size, int16_t offset, uint8_t src) { Emit(BPF_STX | BPF_MEM | size, R10, src, offset, 0); }
  void LoadStack(uint8_t size, uint8_t dst, int16_t offset) { Emit(BPF_LDX | BPF_MEM | size, dst, R10, offset, 0); }
  void Jump(uint8_t op, uint8_t dst, int32_t imm, const std::string& label) {
    fixups_.emplace(insns_.size(), label);
    Emit(BPF_JMP | op | BPF_K, dst, 0, 0, imm);
  }
  void Goto(const std::string& label) {
    fixups_.emplace(insns_.size(), label);
    Emit(BPF_JMP | BPF_JA, 0, 0, 0, 0);
  }
  void Label(const std::string& name) { labels_[name] = insns_.size(); }
  void LoadMapFd(uint8_t dst, int map_fd) {
    Emit(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, map_fd);
    Emit(0, 0, 0, 0, 0);
  }
  void Call(int32_t helper) { Emit(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }
  void Exit() { Emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

  std::vector<bpf_insn> Finish() {
    for (const auto& [at, label] : fixups_) {
      insns_[at].off = static_cast<int16_t>(labels_.at(label) - at - 1);
    }
    return insns_;
  }

 private:
  std::vector<bpf_insn> insns_;
  std::map<std::string, size_t> labels_;
  std::multimap<size_t, std::string> fixups_;
};

// Looks the key at `key` on the stack up; accepts when it is there, else falls through.
void LookupAndAccept(Assembler& a, int map_fd, int16_t key = kKey) {
  a.LoadMapFd(R1, map_fd);
  a.MovReg(R2, R10);
  a.AluImm(BPF_ADD, R2, key);
  a.Call(BPF_FUNC_map_lookup_elem);
  a.Jump(BPF_JNE, R0, 0, "accept");
}

// The IPv6 half: reached with R0 = the ethertype, R7 = the in-band tag's length and the VLAN in the
// IPv4 key; ends in "accept" or "drop". The same decisions as for IPv4, with the data plane's walk of
// the extension headers where IPv4 skips its options: UDP after them looks (group, port, source) and
// (group, port, any) up, anything else to a group (fragments, ESP, other protocols, a chain the parser
// refuses) the group's own key.
void Ipv6Half(Assembler& a, int map6_fd) {
  a.Jump(BPF_JNE, R0, kEthPIpv6, "drop");
  // Both addresses into the key as they lie in the frame: one helper call where word loads would be
  // eight. Beyond the frame it fails, and the frame is dropped, as a load there would drop it.
  a.MovReg(R1, R6);
  a.MovReg(R2, R7);
  a.AluImm(BPF_ADD, R2, kIp6Addresses);
  a.MovReg(R3, R10);
  a.AluImm(BPF_ADD, R3, kKey6Source);
  a.MovImm(R4, kIp6AddressesLength);
  a.Call(BPF_FUNC_skb_load_bytes);
  a.Jump(BPF_JNE, R0, 0, "drop");
  a.LoadStack(BPF_H, R0, kKeyVlan);
  a.StoreReg(BPF_H, kKey6Vlan, R0);
  // R8 = the next header, R9 = where its header starts (from 14): unrolled, so the verifier sees no
  // loop and a hostile chain costs at most kIp6MaxExtensions steps.
  a.LoadInd(BPF_B, R7, kIp6NextHeader);
  a.MovReg(R8, R0);
  a.MovReg(R9, R7);
  a.AluImm(BPF_ADD, R9, kIp6Header);
  for (int extensions = 0;; ++extensions) {
    a.Jump(BPF_JEQ, R8, kIpprotoUdp, "udp6");
    if (extensions == kIp6MaxExtensions) break;
    const std::string step = "extension " + std::to_string(extensions);
    if (extensions == 0) a.Jump(BPF_JEQ, R8, kIp6HopByHop, step);  // hop-by-hop only first (RFC 8200 4.1)
    a.Jump(BPF_JEQ, R8, kIp6Routing, step);
    a.Jump(BPF_JNE, R8, kIp6DestinationOptions, "group6");
    a.Label(step);
    a.LoadInd(BPF_H, R9, kExtensionNextAndLength);  // one load (a helper call) rather than two
    a.MovReg(R8, R0);
    a.AluImm(BPF_RSH, R8, 8);
    a.AluImm(BPF_AND, R0, 0xff);
    a.AluImm(BPF_LSH, R0, 3);
    a.AluImm(BPF_ADD, R0, 8);
    a.AluReg(BPF_ADD, R9, R0);
  }
  a.Goto("group6");
  a.Label("udp6");
  a.LoadInd(BPF_H, R9, kUdpDestinationPort);
  a.Jump(BPF_JEQ, R0, 0, "drop");  // as for IPv4: no target has port 0
  a.StoreReg(BPF_H, kKey6Port, R0);
  LookupAndAccept(a, map6_fd, kKey6);
  a.StoreImm(BPF_DW, kKey6Source, 0);
  a.StoreImm(BPF_DW, kKey6Source + 8, 0);
  LookupAndAccept(a, map6_fd, kKey6);
  a.Goto("drop");
  a.Label("group6");
  a.StoreImm(BPF_H, kKey6Port, 0);
  a.StoreImm(BPF_DW, kKey6Source, 0);
  a.StoreImm(BPF_DW, kKey6Source + 8, 0);
  LookupAndAccept(a, map6_fd, kKey6);
  a.Goto("drop");
}

// The same decisions as the classic exact program (server/net/bpf.ts), with the (group, port[,
// source]) and group lookups in the map instead of generated code. Without an IPv6 map, IPv6 is
// dropped with everything else that is not IPv4: the program is then the one of decision 0028.
std::vector<bpf_insn> CaptureProgram(int map_fd, int map6_fd) {
  Assembler a;
  a.MovReg(R6, R1);  // LD_ABS/IND take the context from R6
  // Never our own host's frames. Every key is of the frame's VLAN: the tag the kernel took out of it
  // (0: none), so that a tagged frame matches only targets of its VLAN.
  a.LoadCtx(R0, offsetof(__sk_buff, pkt_type));
  a.Jump(BPF_JEQ, R0, PACKET_OUTGOING, "drop");
  a.StoreImm(BPF_DW, kKey, 0);
  a.StoreImm(BPF_W, kKeySource, 0);
  a.LoadCtx(R0, offsetof(__sk_buff, vlan_present));
  a.Jump(BPF_JEQ, R0, 0, "vlan known");
  a.LoadCtx(R0, offsetof(__sk_buff, vlan_tci));
  a.AluImm(BPF_AND, R0, kVlanIdMask);
  a.StoreReg(BPF_H, kKeyVlan, R0);
  a.Label("vlan known");
  // R7 = length of one in-band 802.1Q tag (0 or 4); then IPv4 here, IPv6 (with a map for it) below.
  a.MovImm(R7, 0);
  a.LoadAbs(BPF_H, kEthType);
  a.Jump(BPF_JNE, R0, kEthP8021Q, "untagged");
  a.MovImm(R7, kVlanHlen);
  a.LoadInd(BPF_H, R7, kEthType);
  a.Label("untagged");
  a.Jump(BPF_JNE, R0, kEthPIp, map6_fd < 0 ? "drop" : "not ipv4");
  a.LoadInd(BPF_W, R7, kIpDestination);
  a.StoreReg(BPF_W, kKey, R0);
  // UDP that is not a fragment and has IHL >= 5: exactly (group, port, source), then (group, port, any).
  a.LoadInd(BPF_B, R7, kIpProtocol);
  a.Jump(BPF_JNE, R0, kIpprotoUdp, "group");
  a.LoadInd(BPF_H, R7, kIpFragment);
  a.Jump(BPF_JSET, R0, kIpFragmentMask, "group");
  a.LoadInd(BPF_W, R7, kIpSource);
  a.StoreReg(BPF_W, kKeySource, R0);
  a.LoadInd(BPF_B, R7, kIpVersionIhl);
  a.AluImm(BPF_AND, R0, 0x0f);
  a.Jump(BPF_JLT, R0, kIpMinIhl, "group");
  a.AluImm(BPF_LSH, R0, 2);
  a.AluReg(BPF_ADD, R7, R0);  // R7 = offset of the UDP header from the IPv4 header's start
  a.LoadInd(BPF_H, R7, kUdpDestinationPort);
  a.Jump(BPF_JEQ, R0, 0, "drop");  // no target has port 0, which is the group's own key
  a.StoreReg(BPF_H, kKeyPort, R0);
  LookupAndAccept(a, map_fd);
  a.StoreImm(BPF_W, kKeySource, 0);
  LookupAndAccept(a, map_fd);
  a.Goto("drop");
  // Placed here, between IPv4's blocks, so that every jump is forward and IPv4 frames run the same
  // instructions as without it.
  if (map6_fd >= 0) {
    a.Label("not ipv4");
    Ipv6Half(a, map6_fd);
  }
  // Anything else to one of the groups is the data plane's to count (or, ESP, to relay).
  a.Label("group");
  a.StoreImm(BPF_H, kKeyPort, 0);
  a.StoreImm(BPF_W, kKeySource, 0);
  LookupAndAccept(a, map_fd);
  a.Label("drop");
  a.MovImm(R0, 0);
  a.Exit();
  a.Label("accept");
  a.MovImm(R0, kAccept);
  a.Exit();
  return a.Finish();
}

// The last lines of a verifier log (its verdict is at the end).
std::string Tail(const std::string& log, size_t lines) {
  size_t end = log.find_last_not_of("\n");
  if (end == std::string::npos) return "";
  size_t start = end + 1;
  for (size_t n = 0; n < lines && start > 0; ++n) {
    const size_t newline = log.rfind('\n', start - 1);
    start = newline == std::string::npos ? 0 : newline;
  }
  std::string tail = log.substr(start, end + 1 - start);
  for (char& c : tail) if (c == '\n') c = ' ';
  while (!tail.empty() && tail.front() == ' ') tail.erase(0, 1);
  return tail;
}

void SetName(char (&field)[BPF_OBJ_NAME_LEN], const char* name) { std::strncpy(field, name, BPF_OBJ_NAME_LEN - 1); }

}  // namespace

int CreateCaptureMap(uint32_t capacity, CaptureFamily family) {
  bpf_attr attr{};
  attr.map_type = BPF_MAP_TYPE_HASH;
  attr.key_size = family == CaptureFamily::kIpv6 ? sizeof(CaptureKey6) : sizeof(CaptureKey);
  attr.value_size = sizeof(uint32_t);
  attr.max_entries = capacity;
  // Unpreallocated: memory follows the keys present, not the capacity.
  attr.map_flags = BPF_F_NO_PREALLOC;
  SetName(attr.map_name, family == CaptureFamily::kIpv6 ? "mcr_capture6" : "mcr_capture");
  return CheckSyscall(static_cast<int>(Bpf(BPF_MAP_CREATE, &attr)),
                      "bpf(BPF_MAP_CREATE hash, " + std::to_string(capacity) + " keys)");
}

CaptureFamily CaptureMapFamily(int map_fd) {
  bpf_map_info info{};
  bpf_attr attr{};
  attr.info.bpf_fd = static_cast<uint32_t>(map_fd);
  attr.info.info_len = sizeof(info);
  attr.info.info = Pointer(&info);
  CheckSyscall(static_cast<int>(Bpf(BPF_OBJ_GET_INFO_BY_FD, &attr)), "bpf(BPF_OBJ_GET_INFO_BY_FD)");
  if (info.key_size == sizeof(CaptureKey)) return CaptureFamily::kIpv4;
  if (info.key_size == sizeof(CaptureKey6)) return CaptureFamily::kIpv6;
  throw std::invalid_argument("not a capture map (keys of " + std::to_string(info.key_size) + " bytes)");
}

int LoadCaptureProgram(int map_fd, int map6_fd) {
  // The verifier checks a lookup's key against the map's key size only as far as that size reaches:
  // a map of the other family would load and never match.
  if (CaptureMapFamily(map_fd) != CaptureFamily::kIpv4 || (map6_fd >= 0 && CaptureMapFamily(map6_fd) != CaptureFamily::kIpv6)) {
    throw std::invalid_argument("the capture program takes an IPv4 map and, optionally, an IPv6 map");
  }
  const std::vector<bpf_insn> program = CaptureProgram(map_fd, map6_fd);
  static const char kLicense[] = "Apache-2.0";
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = Pointer(program.data());
  attr.insn_cnt = static_cast<uint32_t>(program.size());
  attr.license = Pointer(kLicense);
  SetName(attr.prog_name, "mcr_capture");
  const int fd = LoadProgram(&attr);
  if (fd >= 0) return fd;
  const int err = errno;
  std::string step = "bpf(BPF_PROG_LOAD socket filter)";
  if (err == EACCES || err == EINVAL) {
    // Load again with the verifier's log, to say why.
    std::vector<char> log(1 << 16);
    attr.log_level = 1;
    attr.log_buf = Pointer(log.data());
    attr.log_size = static_cast<uint32_t>(log.size());
    const int again = LoadProgram(&attr);
    if (again >= 0) return again;  // refused once, accepted with a log: take it
    const std::string tail = Tail(std::string(log.data()), 3);
    if (!tail.empty()) step += ": verifier: " + tail;
  }
  throw SyscallError(step, err);
}

namespace {

// Cleared once the kernel has refused a batch update as a command it does not know (before 5.6) or
// does not support for this map type: from then on every update goes one key at a time.
std::atomic<bool> batch_updates{true};

// The kernel's "not supported" of a command or map type: ENOTSUPP (524, kernel-internal) or EOPNOTSUPP;
// EINVAL from kernels without the command.
bool BatchUnsupported(int err) { return err == EINVAL || err == EOPNOTSUPP || err == 524; }

// One BPF_MAP_UPDATE_BATCH of `keys`: how many the kernel took (all of them on success). Throws on a
// failure other than the kernel not having batch updates, which returns 0 and turns them off.
template <typename Key>
size_t UpdateInBatch(int map_fd, const std::vector<Key>& keys) {
  const std::vector<uint32_t> values(keys.size(), 1);
  bpf_attr attr{};
  attr.batch.map_fd = static_cast<uint32_t>(map_fd);
  attr.batch.keys = Pointer(keys.data());
  attr.batch.values = Pointer(values.data());
  attr.batch.count = static_cast<uint32_t>(keys.size());
  attr.batch.elem_flags = BPF_ANY;
  if (Bpf(BPF_MAP_UPDATE_BATCH, &attr) == 0) return keys.size();
  const int err = errno;
  if (attr.batch.count == 0 && BatchUnsupported(err)) {
    batch_updates.store(false, std::memory_order_relaxed);
    return 0;
  }
  throw SyscallError("bpf(BPF_MAP_UPDATE_BATCH of " + std::to_string(keys.size()) + " keys, " + std::to_string(attr.batch.count) + " taken)", err);
}

// The map functions below for either family's keys.
template <typename Key>
void Update(int map_fd, const std::vector<Key>& keys, bool one_by_one) {
  if (keys.size() > 1 && !one_by_one && batch_updates.load(std::memory_order_relaxed) && UpdateInBatch(map_fd, keys) == keys.size()) return;
  const uint32_t value = 1;
  for (const Key& key : keys) {
    bpf_attr attr{};
    attr.map_fd = static_cast<uint32_t>(map_fd);
    attr.key = Pointer(&key);
    attr.value = Pointer(&value);
    attr.flags = BPF_ANY;
    CheckSyscall(static_cast<int>(Bpf(BPF_MAP_UPDATE_ELEM, &attr)), "bpf(BPF_MAP_UPDATE_ELEM)");
  }
}

template <typename Key>
void Delete(int map_fd, const std::vector<Key>& keys) {
  for (const Key& key : keys) {
    bpf_attr attr{};
    attr.map_fd = static_cast<uint32_t>(map_fd);
    attr.key = Pointer(&key);
    if (Bpf(BPF_MAP_DELETE_ELEM, &attr) < 0 && errno != ENOENT) throw SyscallError("bpf(BPF_MAP_DELETE_ELEM)", errno);
  }
}

}  // namespace

void UpdateCaptureMap(int map_fd, const std::vector<CaptureKey>& keys, bool one_by_one) { Update(map_fd, keys, one_by_one); }
void UpdateCaptureMap(int map_fd, const std::vector<CaptureKey6>& keys, bool one_by_one) { Update(map_fd, keys, one_by_one); }
void DeleteFromCaptureMap(int map_fd, const std::vector<CaptureKey>& keys) { Delete(map_fd, keys); }
void DeleteFromCaptureMap(int map_fd, const std::vector<CaptureKey6>& keys) { Delete(map_fd, keys); }

void AttachCaptureProgram(int socket_fd, int prog_fd) {
  CheckSyscall(setsockopt(socket_fd, SOL_SOCKET, SO_ATTACH_BPF, &prog_fd, sizeof(prog_fd)),
               "SO_ATTACH_BPF (fd " + std::to_string(socket_fd) + ")");
}

namespace {

bpf_attr TestRun(int prog_fd, const uint8_t* frame, size_t length, uint32_t repeat) {
  // The test run pulls an Ethernet header off the data (eth_type_trans) and runs a socket filter
  // from the network header; an outer header to a multicast MAC therefore makes the program see
  // `frame` from its Ethernet header on, as a packet socket's filter does. Its ethertype is the local
  // experimental one: with IPv4 there, the test run would insist on an IPv4 header after it.
  std::vector<uint8_t> data(ETH_HLEN + length);
  const uint8_t outer[ETH_HLEN] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0xb5};
  std::memcpy(data.data(), outer, ETH_HLEN);
  if (length > 0) std::memcpy(data.data() + ETH_HLEN, frame, length);
  bpf_attr attr{};
  attr.test.prog_fd = static_cast<uint32_t>(prog_fd);
  attr.test.data_in = Pointer(data.data());
  attr.test.data_size_in = static_cast<uint32_t>(data.size());
  attr.test.repeat = repeat;
  CheckSyscall(static_cast<int>(Bpf(BPF_PROG_TEST_RUN, &attr)), "bpf(BPF_PROG_TEST_RUN)");
  return attr;
}

}  // namespace

uint32_t TestRunCaptureProgram(int prog_fd, const uint8_t* frame, size_t length) {
  return TestRun(prog_fd, frame, length, 1).test.retval;
}

uint32_t TimeCaptureProgram(int prog_fd, const uint8_t* frame, size_t length, uint32_t repeat) {
  return TestRun(prog_fd, frame, length, repeat).test.duration;
}

}  // namespace mcr
