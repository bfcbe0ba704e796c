#include "dataplane/parser.h"

#include <cstring>

namespace mcr {

namespace {

constexpr size_t kEthernetHeader = 14;  // destination, source, ethertype
constexpr size_t kVlanTag = 4;          // TPID (the ethertype slot) + TCI, then the next ethertype
constexpr size_t kMaxVlanTags = 2;
constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kUdpHeader = 8;
constexpr size_t kIpv6Header = 40;
// IPv6 extension headers (next header values) stepped over, and the one that makes a fragment.
constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint8_t kIpv6Routing = 43;
constexpr uint8_t kIpv6Fragment = 44;
constexpr uint8_t kIpv6DestinationOptions = 60;
// More than any real packet has (RFC 8200 allows each at most once or twice).
constexpr size_t kMaxIpv6Extensions = 8;

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
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

// The transport header that starts `headerLength` bytes into the IP packet at `ip` (of which
// `ipPayload` bytes follow the headers): UDP, or ESP taken whole. Fills `out`'s transport fields.
ParseStatus ParseTransport(uint8_t protocol, const uint8_t* ip, size_t headerLength, size_t ipPayload, size_t offset, ParsedPacket* out) {
  out->protocol = protocol;
  out->sourcePort = 0;
  out->port = 0;
  out->payloadOffset = static_cast<uint32_t>(offset + headerLength);
  out->payloadLength = static_cast<uint32_t>(ipPayload);
  if (protocol == kIpProtocolEsp) {
    // Relayed whole; the ESP header at least must be there (its SPI names the security association).
    return ipPayload < kEspHeader ? ParseStatus::kBadLength : ParseStatus::kOk;
  }
  // UDP header: it and the datagram it announces must fit in the IP payload.
  const uint8_t* udp = ip + headerLength;
  if (ipPayload < kUdpHeader) return ParseStatus::kBadLength;
  const size_t udpLength = Be16(udp + 4);
  if (udpLength < kUdpHeader || udpLength > ipPayload) return ParseStatus::kBadLength;
  out->sourcePort = Be16(udp);
  out->port = Be16(udp + 2);
  out->payloadOffset += kUdpHeader;
  out->payloadLength = static_cast<uint32_t>(udpLength - kUdpHeader);
  return ParseStatus::kOk;
}

bool Relayed(uint8_t protocol) { return protocol == kIpProtocolUdp || protocol == kIpProtocolEsp; }

// The IPv4 packet at `offset` of the frame (`available` bytes from there to the frame's end).
ParseStatus ParseIpv4(const uint8_t* frame, size_t offset, size_t available, ParsedPacket* out) {
  const uint8_t* ip = frame + offset;
  if (available < kIpv4MinHeader) return ParseStatus::kTruncated;
  const size_t headerLength = static_cast<size_t>(ip[0] & 0x0f) * 4;
  if ((ip[0] >> 4) != 4 || headerLength < kIpv4MinHeader || headerLength > available) return ParseStatus::kBadHeader;
  if (!Ipv4ChecksumValid(ip, headerLength)) return ParseStatus::kBadHeader;
  const size_t totalLength = Be16(ip + 2);
  if (totalLength < headerLength) return ParseStatus::kBadLength;
  if (totalLength > available) return ParseStatus::kTruncated;
  if (Be16(ip + 6) & (kMoreFragments | kFragmentOffset)) return ParseStatus::kFragment;
  if (!Relayed(ip[9])) return ParseStatus::kNotUdp;
  const ParseStatus status = ParseTransport(ip[9], ip, headerLength, totalLength - headerLength, offset, out);
  if (status != ParseStatus::kOk) return status;
  out->family = 4;
  out->source = NetworkOrder32(ip + 12);
  out->group = NetworkOrder32(ip + 16);
  out->ipv6Header = nullptr;
  out->ipLength = static_cast<uint32_t>(totalLength);
  out->ttl = ip[8];
  out->tos = ip[1];
  return ParseStatus::kOk;
}

// The IPv6 packet at `offset` of the frame: the fixed header, then extension headers up to UDP or
// ESP. Hop-by-hop options (first only), routing and destination options headers are stepped over;
// a fragment header makes the packet a fragment; anything else is a protocol mcr does not relay.
ParseStatus ParseIpv6(const uint8_t* frame, size_t offset, size_t available, ParsedPacket* out) {
  const uint8_t* ip = frame + offset;
  if (available < kIpv6Header) return ParseStatus::kTruncated;
  if ((ip[0] >> 4) != 6) return ParseStatus::kBadHeader;
  const size_t payloadLength = Be16(ip + 4);
  // 0 announces a jumbogram (RFC 2675), whose length is in a hop-by-hop option: no link mcr
  // captures on carries one.
  if (payloadLength == 0) return ParseStatus::kBadLength;
  const size_t end = kIpv6Header + payloadLength;
  if (end > available) return ParseStatus::kTruncated;
  uint8_t next = ip[6];
  size_t headerLength = kIpv6Header;
  for (size_t extensions = 0; !Relayed(next); ++extensions) {
    if (next == kIpv6Fragment) return ParseStatus::kFragment;
    if (next != kIpv6HopByHop && next != kIpv6Routing && next != kIpv6DestinationOptions) return ParseStatus::kNotUdp;
    // Hop-by-hop options may only come first (RFC 8200 4.1); a chain longer than any real one is
    // refused rather than walked.
    if ((next == kIpv6HopByHop && extensions > 0) || extensions == kMaxIpv6Extensions) return ParseStatus::kBadHeader;
    // Each extension header: next header, length in 8-octet units beyond the first 8, inside the payload.
    if (headerLength + 8 > end) return ParseStatus::kBadLength;
    const size_t extensionLength = (static_cast<size_t>(ip[headerLength + 1]) + 1) * 8;
    if (headerLength + extensionLength > end) return ParseStatus::kBadLength;
    next = ip[headerLength];
    headerLength += extensionLength;
  }
  const ParseStatus status = ParseTransport(next, ip, headerLength, end - headerLength, offset, out);
  if (status != ParseStatus::kOk) return status;
  out->family = 6;
  out->source = 0;
  out->group = 0;
  out->ipv6Header = ip;
  out->ipLength = static_cast<uint32_t>(end);
  out->ttl = ip[7];  // the hop limit
  out->tos = static_cast<uint8_t>((ip[0] & 0x0f) << 4 | ip[1] >> 4);  // the traffic class
  return ParseStatus::kOk;
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
  // Parsed into a copy: `out` is written only for a packet that parses.
  ParsedPacket packet;
  ParseStatus status;
  if (etherType == kEtherTypeIpv4) {
    status = ParseIpv4(frame, offset, length - offset, &packet);
  } else if (etherType == kEtherTypeIpv6) {
    status = ParseIpv6(frame, offset, length - offset, &packet);
  } else {
    return ParseStatus::kNotIp;
  }
  if (status != ParseStatus::kOk) return status;
  packet.vlan = 0;
  *out = packet;
  return ParseStatus::kOk;
}

const char* ParseStatusName(ParseStatus status) {
  switch (status) {
    case ParseStatus::kOk: return "ok";
    case ParseStatus::kTruncated: return "truncated";
    case ParseStatus::kNotIp: return "notIpv4";
    case ParseStatus::kBadHeader: return "badHeader";
    case ParseStatus::kBadLength: return "badLength";
    case ParseStatus::kFragment: return "fragment";
    case ParseStatus::kNotUdp: return "notUdp";
  }
  return "unknown";
}

}  // namespace mcr
