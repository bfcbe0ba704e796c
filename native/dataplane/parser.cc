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

// What follows the IP headers: the ports (0 for ESP) and where the payload relayed lies.
struct Transport {
  uint16_t sourcePort;
  uint16_t port;
  size_t payloadOffset;  // from the IP packet's start
  size_t payloadLength;
};

// The transport header that starts `headerLength` bytes into the IP packet at `ip` (of which
// `ipPayload` bytes follow the headers): UDP, or ESP taken whole. Fills `transport` on kOk.
ParseStatus ParseTransport(uint8_t protocol, const uint8_t* ip, size_t headerLength, size_t ipPayload, Transport* transport) {
  if (protocol == kIpProtocolEsp) {
    // Relayed whole; the ESP header at least must be there (its SPI names the security association).
    if (ipPayload < kEspHeader) return ParseStatus::kBadLength;
    *transport = Transport{0, 0, headerLength, ipPayload};
    return ParseStatus::kOk;
  }
  // UDP header: it and the datagram it announces must fit in the IP payload.
  const uint8_t* udp = ip + headerLength;
  if (ipPayload < kUdpHeader) return ParseStatus::kBadLength;
  const size_t udpLength = Be16(udp + 4);
  if (udpLength < kUdpHeader || udpLength > ipPayload) return ParseStatus::kBadLength;
  *transport = Transport{Be16(udp), Be16(udp + 2), headerLength + kUdpHeader, udpLength - kUdpHeader};
  return ParseStatus::kOk;
}

// Writes what both IP versions give alike; `offset`: the IP packet's in the frame.
void SetCommon(ParsedPacket* out, uint8_t protocol, const Transport& transport, size_t offset, size_t ipLength, uint8_t ttl, uint8_t tos) {
  out->protocol = protocol;
  out->sourcePort = transport.sourcePort;
  out->port = transport.port;
  out->payloadOffset = static_cast<uint32_t>(offset + transport.payloadOffset);
  out->payloadLength = static_cast<uint32_t>(transport.payloadLength);
  out->ipLength = static_cast<uint32_t>(ipLength);
  out->ttl = ttl;
  out->tos = tos;
  out->vlan = 0;
}

bool Relayed(uint8_t protocol) { return protocol == kIpProtocolUdp || protocol == kIpProtocolEsp; }

// The IPv4 packet at `offset` of the frame (`available` bytes from there to the frame's end); fills
// `out` on kOk only, as ParseIpv6.
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
  Transport transport;
  const ParseStatus status = ParseTransport(ip[9], ip, headerLength, totalLength - headerLength, &transport);
  if (status != ParseStatus::kOk) return status;
  out->family = 4;
  out->source = NetworkOrder32(ip + 12);
  out->group = NetworkOrder32(ip + 16);
  out->ipv6Header = nullptr;
  SetCommon(out, ip[9], transport, offset, totalLength, ip[8], ip[1]);
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
  Transport transport;
  const ParseStatus status = ParseTransport(next, ip, headerLength, end - headerLength, &transport);
  if (status != ParseStatus::kOk) return status;
  out->family = 6;
  out->source = 0;
  out->group = 0;
  out->ipv6Header = ip;
  // The hop limit and the traffic class, in the places of IPv4's TTL and TOS.
  SetCommon(out, next, transport, offset, end, ip[7], static_cast<uint8_t>((ip[0] & 0x0f) << 4 | ip[1] >> 4));
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
  // Each writes `out` only once the packet has parsed.
  if (etherType == kEtherTypeIpv4) return ParseIpv4(frame, offset, length - offset, out);
  if (etherType == kEtherTypeIpv6) return ParseIpv6(frame, offset, length - offset, out);
  return ParseStatus::kNotIp;
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
