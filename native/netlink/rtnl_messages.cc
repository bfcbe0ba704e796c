#include "netlink/rtnl_messages.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

namespace mcr {

namespace {

// The attributes that follow a fixed header of `header_size` bytes, or nothing when the message
// is too short to hold that header.
struct Attributes {
  const rtattr* first;
  int length;
};

std::optional<Attributes> AttributesAfter(const nlmsghdr& message, size_t header_size) {
  const size_t fixed = NLMSG_LENGTH(header_size);
  if (message.nlmsg_len < fixed) return std::nullopt;
  const auto* bytes = reinterpret_cast<const uint8_t*>(&message);
  return Attributes{reinterpret_cast<const rtattr*>(bytes + NLMSG_ALIGN(fixed)),
                    static_cast<int>(message.nlmsg_len) - static_cast<int>(NLMSG_ALIGN(fixed))};
}

// Calls `visit(type, payload, payload_length)` for each well-formed attribute (RTA_OK).
template <typename Visit>
void ForEachAttribute(Attributes attributes, Visit&& visit) {
  int remaining = attributes.length;
  for (const rtattr* attribute = attributes.first; RTA_OK(attribute, remaining);
       attribute = RTA_NEXT(attribute, remaining)) {
    visit(attribute->rta_type, static_cast<const uint8_t*>(RTA_DATA(attribute)), RTA_PAYLOAD(attribute));
  }
}

std::string HexColons(const uint8_t* bytes, size_t length) {
  static const char kDigits[] = "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < length; ++i) {
    if (i > 0) text += ':';
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 0xf];
  }
  return text;
}

std::optional<RouteEvent> ParseLink(const nlmsghdr& message) {
  const auto attributes = AttributesAfter(message, sizeof(ifinfomsg));
  if (!attributes) return std::nullopt;
  ifinfomsg header;
  std::memcpy(&header, NLMSG_DATA(&message), sizeof(header));
  // AF_BRIDGE messages describe bridge ports (an RTM_DELLINK there means "left the bridge").
  if (header.ifi_family != AF_UNSPEC || header.ifi_index <= 0) return std::nullopt;

  RouteEvent event;
  event.kind = message.nlmsg_type == RTM_NEWLINK ? RouteEvent::Kind::kLink : RouteEvent::Kind::kLinkDeleted;
  LinkInfo& link = event.link;
  link.index = header.ifi_index;
  link.up = (header.ifi_flags & IFF_UP) != 0;
  link.running = (header.ifi_flags & IFF_RUNNING) != 0;
  bool has_mtu = false;
  ForEachAttribute(*attributes, [&](unsigned type, const uint8_t* payload, size_t length) {
    switch (type) {
      case IFLA_IFNAME:
        link.name.assign(reinterpret_cast<const char*>(payload), strnlen(reinterpret_cast<const char*>(payload), length));
        break;
      case IFLA_MTU:
        if (length >= sizeof(uint32_t)) {
          std::memcpy(&link.mtu, payload, sizeof(uint32_t));
          has_mtu = true;
        }
        break;
      case IFLA_ADDRESS:
        link.mac = HexColons(payload, length);
        break;
    }
  });
  if (link.name.empty() || link.name.size() >= IFNAMSIZ || !has_mtu) return std::nullopt;
  return event;
}

std::optional<RouteEvent> ParseAddress(const nlmsghdr& message) {
  const auto attributes = AttributesAfter(message, sizeof(ifaddrmsg));
  if (!attributes) return std::nullopt;
  ifaddrmsg header;
  std::memcpy(&header, NLMSG_DATA(&message), sizeof(header));
  if (header.ifa_family != AF_INET || header.ifa_index == 0 || header.ifa_index > INT32_MAX || header.ifa_prefixlen > 32) {
    return std::nullopt;
  }

  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the same except on point-to-point
  // links, where it is the peer's. Only when IFA_LOCAL is missing does IFA_ADDRESS stand in.
  std::optional<in_addr> local, address;
  ForEachAttribute(*attributes, [&](unsigned type, const uint8_t* payload, size_t length) {
    if ((type != IFA_LOCAL && type != IFA_ADDRESS) || length != sizeof(in_addr)) return;
    in_addr value;
    std::memcpy(&value, payload, sizeof(value));
    (type == IFA_LOCAL ? local : address) = value;
  });
  if (!local) local = address;
  if (!local) return std::nullopt;

  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &*local, text, sizeof(text));
  RouteEvent event;
  event.kind = message.nlmsg_type == RTM_NEWADDR ? RouteEvent::Kind::kAddress : RouteEvent::Kind::kAddressDeleted;
  event.address.index = static_cast<int32_t>(header.ifa_index);
  event.address.address = text;
  event.address.prefix_length = header.ifa_prefixlen;
  return event;
}

}  // namespace

std::optional<RouteEvent> ParseRouteMessage(const nlmsghdr& message) {
  switch (message.nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      return ParseLink(message);
    case RTM_NEWADDR:
    case RTM_DELADDR:
      return ParseAddress(message);
    default:
      return std::nullopt;
  }
}

}  // namespace mcr
