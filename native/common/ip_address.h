// IPv4 and IPv6 addresses as the addon holds them: 16 bytes, an IPv4 address as its IPv4-mapped
// IPv6 address (::ffff:a.b.c.d, RFC 4291 2.5.5.2), so one key type and one comparison serve both
// families in the match table and the destinations (docs/decisions/0065-ipv6-data-plane.md), and
// memberships and sockets read and name addresses one way. Plain C++.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace mcr {

struct IpAddress {
  // The 16 bytes in network order, read as two words in memory order (compared and hashed, never
  // read as numbers).
  uint64_t high = 0;
  uint64_t low = 0;

  // An IPv4 address (network byte order, as in the header) as ::ffff:a.b.c.d.
  static IpAddress V4(uint32_t address) {
    uint8_t bytes[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::memcpy(bytes + 12, &address, sizeof address);
    return V6(bytes);
  }
  // The IPv6 address of 16 bytes at `bytes` (network order, as in the header).
  static IpAddress V6(const uint8_t* bytes) {
    IpAddress address;
    std::memcpy(&address.high, bytes, sizeof address.high);
    std::memcpy(&address.low, bytes + 8, sizeof address.low);
    return address;
  }
  // A rule's "any source": ::, which no mapped IPv4 address is (0.0.0.0 is ::ffff:0.0.0.0).
  static IpAddress Any() { return IpAddress{}; }
  // A dotted quad or an IPv6 address (RFC 4291 text, as inet_pton reads them); nothing otherwise.
  static std::optional<IpAddress> Parse(const std::string& text) {
    in_addr v4;
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return V4(v4.s_addr);
    in6_addr v6;
    if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) return V6(v6.s6_addr);
    return std::nullopt;
  }

  bool IsAny() const { return high == 0 && low == 0; }
  bool IsV4() const {
    uint8_t bytes[8];
    std::memcpy(bytes, &low, sizeof bytes);
    return high == 0 && bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0xff && bytes[3] == 0xff;
  }
  sa_family_t Family() const { return IsV4() ? AF_INET : AF_INET6; }
  // 224.0.0.0/4, ff00::/8.
  bool IsMulticast() const {
    if (IsV4()) return (ntohl(V4Value()) >> 28) == 0xe;
    uint8_t first;
    std::memcpy(&first, &high, 1);
    return first == 0xff;
  }
  // A single host, as a source names one: not multicast, 0.0.0.0, ::, nor 255.255.255.255.
  bool IsHost() const {
    return !IsMulticast() && !IsAny() && (!IsV4() || (V4Value() != INADDR_ANY && V4Value() != INADDR_BROADCAST));
  }
  // The IPv4 address (network byte order) of a mapped address.
  uint32_t V4Value() const {
    uint32_t address;
    std::memcpy(&address, reinterpret_cast<const uint8_t*>(&low) + 4, sizeof address);
    return address;
  }
  void CopyTo(uint8_t* bytes) const {
    std::memcpy(bytes, &high, sizeof high);
    std::memcpy(bytes + 8, &low, sizeof low);
  }
  // Dotted quad for a mapped IPv4 address, else IPv6 text (inet_ntop's, RFC 5952).
  std::string Text() const {
    char text[INET6_ADDRSTRLEN];
    if (IsV4()) {
      const in_addr v4{V4Value()};
      return inet_ntop(AF_INET, &v4, text, sizeof text) ? text : "?";
    }
    in6_addr v6;
    CopyTo(v6.s6_addr);
    return inet_ntop(AF_INET6, &v6, text, sizeof text) ? text : "?";
  }
  bool operator==(const IpAddress& other) const { return high == other.high && low == other.low; }
  bool operator!=(const IpAddress& other) const { return !(*this == other); }
  bool operator<(const IpAddress& other) const { return high != other.high ? high < other.high : low < other.low; }
};

// A destination as sendmmsg names it: sockaddr_in or sockaddr_in6, by family.
union SocketAddress {
  sockaddr any;
  sockaddr_in v4;
  sockaddr_in6 v6;

  // `address` and `port` (network byte order); an IPv6 one in the scope of interface `scope` (0:
  // none), which a link-local address needs.
  static SocketAddress Of(const IpAddress& address, uint16_t port, uint32_t scope = 0) {
    SocketAddress socket{};
    if (address.IsV4()) {
      socket.v4.sin_family = AF_INET;
      socket.v4.sin_addr.s_addr = address.V4Value();
      socket.v4.sin_port = port;
    } else {
      socket.v6.sin6_family = AF_INET6;
      address.CopyTo(socket.v6.sin6_addr.s6_addr);
      socket.v6.sin6_port = port;
      socket.v6.sin6_scope_id = scope;
    }
    return socket;
  }
  sa_family_t family() const { return any.sa_family; }
  socklen_t length() const { return family() == AF_INET6 ? sizeof v6 : sizeof v4; }
  IpAddress address() const {
    return family() == AF_INET6 ? IpAddress::V6(v6.sin6_addr.s6_addr) : IpAddress::V4(v4.sin_addr.s_addr);
  }
  // Network byte order.
  uint16_t port() const { return family() == AF_INET6 ? v6.sin6_port : v4.sin_port; }
};

}  // namespace mcr
