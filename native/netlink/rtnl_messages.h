// What an rtnetlink message says about links and IPv4 addresses, parsed from the raw bytes with
// every length checked. Plain C++ shared by the monitor (multicast notifications) and the dump.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace mcr {

// One network interface as RTM_NEWLINK / RTM_DELLINK describe it.
struct LinkInfo {
  int32_t index = 0;
  std::string name;
  bool up = false;       // IFF_UP: administratively up
  bool running = false;  // IFF_RUNNING: operationally up (RFC 2863), which implies carrier
  uint32_t mtu = 0;
  std::string mac;       // "02:00:00:00:00:01"; empty when the link has no hardware address
};

// One IPv4 address of an interface as RTM_NEWADDR / RTM_DELADDR describe it.
struct AddressInfo {
  int32_t index = 0;
  std::string address;  // dotted quad
  uint8_t prefix_length = 0;
};

// A change the kernel reported, or the loss of some (kOverrun: the consumer must dump again).
struct RouteEvent {
  enum class Kind { kLink, kLinkDeleted, kAddress, kAddressDeleted, kOverrun };
  Kind kind = Kind::kOverrun;
  LinkInfo link;         // kLink, kLinkDeleted
  AddressInfo address;   // kAddress, kAddressDeleted
};

// Parses one link or IPv4 address message. `message.nlmsg_len` must already have been checked
// against the buffer holding it (NLMSG_OK). Returns nothing for other message types, other
// families (bridge port notifications, IPv6) and malformed messages: the caller skips those.
std::optional<RouteEvent> ParseRouteMessage(const nlmsghdr& message);

// Calls `visit(const nlmsghdr&)` for each complete message in `data[0, length)`, stopping at the
// first header whose length does not fit (NLMSG_OK); returns false if `visit` returned false.
template <typename Visit>
bool ForEachMessage(const void* data, size_t length, Visit&& visit) {
  // The buffers are at most a few hundred KiB, so the remaining length fits an int as NLMSG_NEXT wants.
  int remaining = static_cast<int>(length);
  for (auto* message = static_cast<const nlmsghdr*>(data); NLMSG_OK(message, remaining);
       message = NLMSG_NEXT(message, remaining)) {
    if (!visit(*message)) return false;
  }
  return true;
}

}  // namespace mcr
