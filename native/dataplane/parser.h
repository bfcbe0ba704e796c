// The data plane's frame parser: Ethernet (up to two VLAN tags), IPv4 or IPv6 (with its extension
// headers), UDP or ESP. Plain C++, no Node-API;
// the packet path and the parseFrame test hook share it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/ip_address.h"

namespace mcr {

// Why a frame was not forwarded (kOk: it parsed). The values index InputCounters::rejected.
enum class ParseStatus : uint8_t {
  kOk = 0,
  kTruncated,  // the frame ends before a header it announces, or before the IP packet's length
  kNotIp,      // the ethertype (after any VLAN tags) is neither IPv4 nor IPv6 (named "notIpv4")
  kBadHeader,  // IPv4 version not 4, IHL < 5, options beyond the frame, or a wrong header checksum;
               // IPv6 version not 6, hop-by-hop options not first, or more than 8 extension headers
  kBadLength,  // IPv4 total length below the header, an IPv6 payload length of 0 (jumbogram) or
               // extension headers past it, a UDP length outside 8..IP payload length, or ESP
               // shorter than its header
  kFragment,   // IPv4: MF set or a non-zero fragment offset; IPv6: a fragment header
  kNotUdp,     // an IPv4 protocol mcr does not relay: neither UDP nor ESP
};

// The IP protocols mcr relays.
constexpr uint8_t kIpProtocolUdp = 17;
constexpr uint8_t kIpProtocolEsp = 50;
// The ESP header (SPI and sequence number) that an ESP packet has at least.
constexpr size_t kEspHeader = 8;

constexpr size_t kParseStatusCount = 7;

// What the data plane needs from a well-formed frame. Addresses in network byte order (as in the
// header), ports in host byte order.
// For ESP, the ports are 0 and the payload is the whole IP payload (ESP header, data, ICV): what an
// ESP output sends as it is.
struct ParsedPacket {
  uint8_t family;  // 4 or 6
  // IPv4: the source and destination. 0 for IPv6, whose addresses are in its header.
  uint32_t source;
  uint32_t group;  // the IPv4 destination
  // IPv6: the header in the frame (source address at +8, destination at +24); null for IPv4.
  const uint8_t* ipv6Header;
  uint16_t sourcePort;
  uint16_t port;   // the UDP destination port (0: ESP)
  uint32_t payloadOffset;  // from the start of the frame
  uint32_t payloadLength;  // UDP length - 8, or the IP payload's length (ESP)
  uint32_t ipLength;  // the IPv4 total length, or the IPv6 header and payload length
  uint8_t ttl;        // the IPv6 hop limit
  uint8_t tos;        // the IPv6 traffic class
  uint8_t protocol;  // kIpProtocolUdp or kIpProtocolEsp
  // The frame's VLAN ID: the tag the kernel took out of the frame on receive (0: none). The parser
  // leaves it 0 (a tag still in the frame is stepped over, as the capture filter does); the
  // forwarder reads it from the frame's PACKET_AUXDATA.
  uint16_t vlan;

  // The destination and source as the match table keys them.
  IpAddress Group() const { return family == 6 ? IpAddress::V6(ipv6Header + 24) : IpAddress::V4(group); }
  IpAddress Source() const { return family == 6 ? IpAddress::V6(ipv6Header + 8) : IpAddress::V4(source); }
};

// Parses the `length` bytes at `frame`; fills `out` only when the result is kOk. Never reads
// outside [frame, frame + length). Ethernet padding after the IPv4 total length is ignored.
ParseStatus ParseFrame(const uint8_t* frame, size_t length, ParsedPacket* out);

// The name used for `status` in the JavaScript API ("truncated", "notIpv4", ...); "ok" for kOk.
const char* ParseStatusName(ParseStatus status);

}  // namespace mcr
