#include "dataplane/parser.h"

#include <cstring>

namespace mcr {

namespace {

constexpr size_t kEthernetHeader = 14;  // destination, source, ethertype
constexpr size_t kVlanTag = 4;          // TPID (the ethertype slot) + TCI, then the next ethertype
constexpr size_t kMaxVlanTags = 2;
constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kUdpHeader = 8;

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeVlan = 0x8100;    // 802.1Q
constexpr uint16_t kEtherTypeQinQ = 0x88a8;    // 802.1ad service tag
constexpr uint16_t kMoreFragments = 0x2000;
constexpr uint16_t kFragmentOffset = 0x1fff;

// Big-endian reads byte by byte: no alignment assumptions, no aliasing questions.
inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
// The four address bytes as they lie in the header, i.e. in network byte order.
inline uint32_t NetworkOrder32(const uint8_t* p) {
  uint32_t value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

// RFC 1071: the one's complement sum of a correct header (checksum field included) is 0xffff.
bool Ipv4ChecksumValid(const uint8_t* header, size_t length) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < length; i += 2) sum += Be16(header + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

}  // namespace

ParseStatus ParseFrame(const uint8_t* frame, size_t length, ParsedPacket* out) {
  // Ethernet, then at most two VLAN tags: each tag moves the ethertype four bytes further.
  if (length < kEthernetHeader) return ParseStatus::kTruncated;
  size_t offset = kEthernetHeader;
  uint16_t etherType = Be16(frame + offset - 2);
  for (size_t tags = 0; tags < kMaxVlanTags && (etherType == kEtherTypeVlan || etherType == kEtherTypeQinQ); ++tags) {
    if (length < offset + kVlanTag) return ParseStatus::kTruncated;
    offset += kVlanTag;
    etherType = Be16(frame + offset - 2);
  }
  if (etherType != kEtherTypeIpv4) return ParseStatus::kNotIpv4;

  // IPv4 header.
  const uint8_t* ip = frame + offset;
  const size_t available = length - offset;
  if (available < kIpv4MinHeader) return ParseStatus::kTruncated;
  const size_t headerLength = static_cast<size_t>(ip[0] & 0x0f) * 4;
  if ((ip[0] >> 4) != 4 || headerLength < kIpv4MinHeader || headerLength > available) return ParseStatus::kBadHeader;
  if (!Ipv4ChecksumValid(ip, headerLength)) return ParseStatus::kBadHeader;
  const size_t totalLength = Be16(ip + 2);
  if (totalLength < headerLength) return ParseStatus::kBadLength;
  if (totalLength > available) return ParseStatus::kTruncated;
  if (Be16(ip + 6) & (kMoreFragments | kFragmentOffset)) return ParseStatus::kFragment;
  const uint8_t protocol = ip[9];
  if (protocol != kIpProtocolUdp && protocol != kIpProtocolEsp) return ParseStatus::kNotUdp;

  const size_t ipPayload = totalLength - headerLength;
  uint16_t sourcePort = 0;
  uint16_t port = 0;
  size_t payloadOffset = offset + headerLength;
  size_t payloadLength = ipPayload;
  if (protocol == kIpProtocolEsp) {
    // Relayed whole; the ESP header at least must be there (its SPI names the security association).
    if (ipPayload < kEspHeader) return ParseStatus::kBadLength;
  } else {
    // UDP header: it and the datagram it announces must fit in the IPv4 payload.
    const uint8_t* udp = ip + headerLength;
    if (ipPayload < kUdpHeader) return ParseStatus::kBadLength;
    const size_t udpLength = Be16(udp + 4);
    if (udpLength < kUdpHeader || udpLength > ipPayload) return ParseStatus::kBadLength;
    sourcePort = Be16(udp);
    port = Be16(udp + 2);
    payloadOffset += kUdpHeader;
    payloadLength = udpLength - kUdpHeader;
  }

  out->source = NetworkOrder32(ip + 12);
  out->group = NetworkOrder32(ip + 16);
  out->sourcePort = sourcePort;
  out->port = port;
  out->payloadOffset = static_cast<uint32_t>(payloadOffset);
  out->payloadLength = static_cast<uint32_t>(payloadLength);
  out->ipLength = static_cast<uint16_t>(totalLength);
  out->ttl = ip[8];
  out->tos = ip[1];
  out->protocol = protocol;
  out->vlan = 0;
  return ParseStatus::kOk;
}

const char* ParseStatusName(ParseStatus status) {
  switch (status) {
    case ParseStatus::kOk: return "ok";
    case ParseStatus::kTruncated: return "truncated";
    case ParseStatus::kNotIpv4: return "notIpv4";
    case ParseStatus::kBadHeader: return "badHeader";
    case ParseStatus::kBadLength: return "badLength";
    case ParseStatus::kFragment: return "fragment";
    case ParseStatus::kNotUdp: return "notUdp";
  }
  return "unknown";
}

}  // namespace mcr
