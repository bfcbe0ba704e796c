// libFuzzer target for the data plane's frame parser (native/dataplane/parser.h).
//
// Lives outside native/ on purpose: binding.gyp compiles every native/*/*.cc into the addon, and this
// file defines LLVMFuzzerTestOneInput. test/fuzz/run-parser-fuzz builds it with
// -fsanitize=fuzzer,address,undefined, so an out-of-bounds read anywhere in ParseFrame is a crash.
//
// Each input is parsed twice: as it is, and as a copy whose IPv4 header checksum has been repaired
// (when the header can be found; IPv6 has no header checksum). Random mutations almost always break the checksum, which would keep
// the fuzzer in front of the first IPv4 check; the repaired copy lets it explore everything after it.
// Both runs check the invariants below and abort (a crash libFuzzer reports and saves) when one fails.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dataplane/parser.h"

namespace {

using mcr::ParsedPacket;
using mcr::ParseFrame;
using mcr::ParseStatus;

constexpr size_t kEthernetHeader = 14;
constexpr size_t kVlanTag = 4;
constexpr size_t kUdpHeader = 8;
constexpr uint8_t kUntouched = 0xa5;  // fills ParsedPacket before a parse that must not write it

[[noreturn]] void Fail(const char* invariant, ParseStatus status, size_t length) {
  std::fprintf(stderr, "parser invariant violated: %s (status %s, frame of %zu bytes)\n", invariant,
               mcr::ParseStatusName(status), length);
  std::abort();
}

#define CHECK(condition, status, length) \
  do {                                   \
    if (!(condition)) Fail(#condition, status, length); \
  } while (0)

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Where the IP header would start: after Ethernet and up to two 802.1Q/802.1ad tags, or 0 when the
// frame is too short to say. Written independently of the parser, as the oracle for its offsets.
size_t NetworkOffset(const uint8_t* frame, size_t length) {
  size_t offset = kEthernetHeader;
  for (int tags = 0; tags <= 2; ++tags) {
    if (length < offset) return 0;
    const uint16_t type = Be16(frame + offset - 2);
    if (tags == 2 || (type != 0x8100 && type != 0x88a8)) return offset;
    offset += kVlanTag;
  }
  return offset;
}

// The RFC 1071 checksum over a header whose checksum field is zero.
uint16_t HeaderChecksum(const uint8_t* header, size_t length) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < length; i += 2) {
    if (i != 10) sum += Be16(header + i);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// RFC 1071 verification, as the kernel's ip_rcv does it: the folded sum over the whole header, checksum
// field included, is 0xffff. A header whose other fields sum to 0xffff therefore verifies with either
// 0x0000 (what HeaderChecksum writes) or 0xffff in the field: one's complement has two zeros.
bool HeaderVerifies(const uint8_t* header, size_t length) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < length; i += 2) sum += Be16(header + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

// What a kOk result promises about the transport header `headerLength` bytes into the IP packet at
// `ip`, whose headers and payload end `ipEnd` bytes into the frame.
void CheckTransport(const uint8_t* ip, size_t l3, size_t headerLength, size_t ipEnd, size_t length, const ParsedPacket& p) {
  constexpr ParseStatus ok = ParseStatus::kOk;
  CHECK(static_cast<size_t>(p.payloadOffset) + p.payloadLength <= length, ok, length);
  CHECK(static_cast<size_t>(p.payloadOffset) + p.payloadLength <= ipEnd, ok, length);
  if (p.protocol == mcr::kIpProtocolEsp) {
    CHECK(p.payloadOffset == l3 + headerLength && p.payloadOffset + p.payloadLength == ipEnd, ok, length);
    CHECK(p.payloadLength >= mcr::kEspHeader && p.sourcePort == 0 && p.port == 0, ok, length);
  } else {
    CHECK(p.protocol == mcr::kIpProtocolUdp, ok, length);
    CHECK(p.payloadOffset == l3 + headerLength + kUdpHeader, ok, length);
    const uint8_t* udp = ip + headerLength;
    CHECK(p.payloadLength + kUdpHeader == Be16(udp + 4), ok, length);
    CHECK(p.sourcePort == Be16(udp) && p.port == Be16(udp + 2), ok, length);
  }
}

// The length of the IPv6 extension headers before the transport header, walked independently of the
// parser (hop-by-hop 0, routing 43, destination options 60, each (length + 1) * 8 bytes); 0 when the
// chain is not one a kOk result may have. `ipLength`: the header and payload length.
size_t Ipv6HeadersLength(const uint8_t* ip, size_t ipLength, uint8_t* transport) {
  size_t at = 40;
  uint8_t next = ip[6];
  for (int n = 0; n <= 8; ++n) {
    if (next == mcr::kIpProtocolUdp || next == mcr::kIpProtocolEsp) {
      *transport = next;
      return at;
    }
    if (!(next == 0 && n == 0) && next != 43 && next != 60) return 0;
    if (at + 8 > ipLength) return 0;
    const size_t extension = (static_cast<size_t>(ip[at + 1]) + 1) * 8;
    next = ip[at];
    at += extension;
  }
  return 0;
}

// Everything a kOk result promises about the frame it came from.
void CheckParsed(const uint8_t* frame, size_t length, const ParsedPacket& p) {
  constexpr ParseStatus ok = ParseStatus::kOk;
  const size_t l3 = NetworkOffset(frame, length);
  CHECK(l3 != 0, ok, length);
  const uint16_t etherType = Be16(frame + l3 - 2);
  const uint8_t* ip = frame + l3;
  CHECK(p.vlan == 0, ok, length);  // the forwarder's to fill, from the frame's PACKET_AUXDATA
  if (etherType == 0x86dd) {
    CHECK(p.family == 6 && p.ipv6Header == ip && p.source == 0 && p.group == 0, ok, length);
    CHECK(l3 + 40 <= length && (ip[0] >> 4) == 6, ok, length);
    const size_t ipEnd = l3 + 40 + Be16(ip + 4);
    CHECK(Be16(ip + 4) != 0 && ipEnd <= length && p.ipLength == ipEnd - l3, ok, length);
    uint8_t transport = 0;
    const size_t headerLength = Ipv6HeadersLength(ip, ipEnd - l3, &transport);
    CHECK(headerLength != 0 && l3 + headerLength <= ipEnd && p.protocol == transport, ok, length);
    CHECK(p.ttl == ip[7] && p.tos == ((ip[0] & 0x0f) << 4 | ip[1] >> 4), ok, length);
    CheckTransport(ip, l3, headerLength, ipEnd, length, p);
    return;
  }
  CHECK(etherType == 0x0800 && p.family == 4 && p.ipv6Header == nullptr, ok, length);
  CHECK(l3 + 20 <= length, ok, length);
  const size_t headerLength = static_cast<size_t>(ip[0] & 0x0f) * 4;
  CHECK((ip[0] >> 4) == 4 && headerLength >= 20, ok, length);
  CHECK(HeaderVerifies(ip, headerLength), ok, length);
  CHECK((Be16(ip + 6) & 0x3fff) == 0 && p.protocol == ip[9], ok, length);
  // Lengths: the payload lies inside the IPv4 packet, which lies inside the frame.
  CHECK(p.ipLength == Be16(ip + 2), ok, length);
  CHECK(l3 + p.ipLength <= length, ok, length);
  CHECK(std::memcmp(&p.source, ip + 12, 4) == 0 && std::memcmp(&p.group, ip + 16, 4) == 0, ok, length);
  CHECK(p.ttl == ip[8] && p.tos == ip[1], ok, length);
  CheckTransport(ip, l3, headerLength, l3 + p.ipLength, length, p);
}

// Whether two results are the same, field by field (the struct's padding is not theirs to compare).
bool SameFields(const ParsedPacket& a, const ParsedPacket& b) {
  return a.family == b.family && a.source == b.source && a.group == b.group && a.ipv6Header == b.ipv6Header &&
         a.sourcePort == b.sourcePort && a.port == b.port && a.payloadOffset == b.payloadOffset &&
         a.payloadLength == b.payloadLength && a.ipLength == b.ipLength && a.ttl == b.ttl && a.tos == b.tos &&
         a.protocol == b.protocol && a.vlan == b.vlan;
}

// Parses `frame` (exactly `length` heap bytes, so reading past it is an ASan report) and checks the
// result; returns it.
ParseStatus ParseAndCheck(const uint8_t* frame, size_t length) {
  ParsedPacket parsed;
  std::memset(&parsed, kUntouched, sizeof parsed);
  const ParseStatus status = ParseFrame(frame, length, &parsed);
  CHECK(static_cast<size_t>(status) < mcr::kParseStatusCount, status, length);
  CHECK(std::strcmp(mcr::ParseStatusName(status), "unknown") != 0, status, length);

  if (status != ParseStatus::kOk) {
    // `out` is filled only on success.
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(&parsed);
    for (size_t i = 0; i < sizeof parsed; ++i) CHECK(bytes[i] == kUntouched, status, length);
    return status;
  }
  CheckParsed(frame, length, parsed);

  // Ethernet padding after the IP packet changes nothing; one byte less than the packet truncates it.
  const size_t end = NetworkOffset(frame, length) + parsed.ipLength;
  ParsedPacket unpadded;
  CHECK(ParseFrame(frame, end, &unpadded) == ParseStatus::kOk, status, length);
  CHECK(SameFields(unpadded, parsed), status, length);
  ParsedPacket cut;
  CHECK(ParseFrame(frame, end - 1, &cut) == ParseStatus::kTruncated, status, length);
  return status;
}

// A copy of the frame with a correct IPv4 header checksum, when the header is within the frame.
bool RepairChecksum(std::vector<uint8_t>& frame) {
  const size_t l3 = NetworkOffset(frame.data(), frame.size());
  if (l3 == 0 || l3 + 20 > frame.size()) return false;
  uint8_t* ip = frame.data() + l3;
  const size_t headerLength = static_cast<size_t>(ip[0] & 0x0f) * 4;
  if (headerLength < 20 || l3 + headerLength > frame.size()) return false;
  const uint16_t checksum = HeaderChecksum(ip, headerLength);
  ip[10] = static_cast<uint8_t>(checksum >> 8);
  ip[11] = static_cast<uint8_t>(checksum);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ParseAndCheck(data, size);

  // A fresh exact-size allocation: ASan's redzone starts right after the last byte.
  std::vector<uint8_t> repaired(data, data + size);
  if (RepairChecksum(repaired)) {
    repaired.shrink_to_fit();
    ParseAndCheck(repaired.data(), repaired.size());
  }
  return 0;
}
