// The sockets a data plane reads from (inputs) and sends through (senders), and the destinations it
// sends to (outputs). Inputs and senders own their fd and close it when destroyed; the engine
// destroys them only once the data-plane thread can no longer use them.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <memory>

#include "dataplane/counters.h"
#include "common/ip_address.h"
#include "common/fd.h"

namespace mcr {

// An AF_PACKET capture socket, read by the data-plane thread when epoll reports it readable.
struct Input {
  // `shared`: the input's counters in the counter region (null: its own).
  Input(uint32_t handle, int fd, InputCounters* shared = nullptr) : handle(handle), fd(fd), counters(shared ? shared : &own) {}

  const uint32_t handle;
  UniqueFd fd;
  InputCounters own;
  InputCounters* const counters;
  // JavaScript thread only: in the epoll set. An input is read only once a published table names
  // it, so that frames that arrive before its rules wait in the socket instead of being unmatched.
  bool armed = false;
};

// How a sender makes each packet's TTL and TOS byte from the received packet's
// (docs/decisions/0058-tos-and-ttl-per-packet.md). `ttl` and `tos` are also the socket's own
// (IP_TTL, IP_MULTICAST_TTL, IP_TOS; for an IPv6 sender the hop limit and traffic class:
// IPV6_UNICAST_HOPS, IPV6_MULTICAST_HOPS, IPV6_TCLASS), which a send uses unless its control
// messages say otherwise. The received TTL and TOS are an IPv6 packet's hop limit and traffic class,
// so a packet relayed between IPv4 and IPv6 keeps them across (docs/decisions/0065-ipv6-data-plane.md).
struct SendPolicy {
  uint8_t ttl = 64;
  uint8_t tos = 0;
  uint8_t keepTos = 0;        // bits of the received TOS byte kept: 0xff all, 0x03 ECN, 0 none
  bool decrementTtl = false;  // the received TTL - 1 instead of `ttl`
  // Oversize policy drop: DF set (IP_PMTUDISC_DO), and a datagram larger than the MTU allows in one
  // packet is not sent. Else (fragment) the kernel fragments it by the interface's MTU, DF clear
  // (IP_PMTUDISC_OMIT) (docs/decisions/0060-oversize-datagrams.md).
  bool dontFragment = false;

  // The TTL and TOS a packet received with `ttl` and `tos` is sent with; false when it must not
  // be sent (decrementing a TTL of 1 or 0).
  bool Apply(uint8_t receivedTtl, uint8_t receivedTos, uint8_t* sentTtl, uint8_t* sentTos) const {
    if (decrementTtl && receivedTtl <= 1) return false;
    *sentTtl = decrementTtl ? static_cast<uint8_t>(receivedTtl - 1) : ttl;
    *sentTos = static_cast<uint8_t>((receivedTos & keepTos) | tos);
    return true;
  }
};

// An unconnected UDP socket bound to one interface with one TTL and TOS policy: every output through
// that interface with those settings sends through it (docs/decisions/0035-shared-egress-sockets.md).
// Or, for ESP rules, a raw IPPROTO_ESP socket like it: each payload (an ESP packet) becomes the IP
// payload of a packet of its own, and no GSO (docs/decisions/0063-esp-rules.md). Either of AF_INET
// or AF_INET6: its outputs' destinations are of its family.
// The supervisor sets IP_RECVERR (IPV6_RECVERR) on it: ICMP errors about its destinations queue on the socket's
// error queue, which the engine watches (EPOLLERR) and drains (SendErrors), charging each error to
// the output with that destination (docs/decisions/0043-icmp-errors-per-output.md).
struct Sender {
  Sender(uint32_t handle, int fd, uint64_t serial, const SendPolicy& policy, uint32_t mtu, bool esp, sa_family_t family)
      : handle(handle), fd(fd), serial(serial), policy(policy), mtu(mtu), esp(esp), family(family) {}

  const uint32_t handle;
  UniqueFd fd;
  // Names the sender in its epoll events, never reused (a handle may be): the data-plane thread
  // finds the sender of an event through the published table (Table::SenderBySerial), so an event
  // about a sender already gone finds nothing.
  const uint64_t serial;
  const SendPolicy policy;
  // The interface's MTU when the supervisor opened the socket (it opens another when the MTU
  // changes): a UDP payload above mtu - 28 bytes does not fit one IPv4 packet (mtu - 48, IPv6).
  const uint32_t mtu;
  // A raw IPPROTO_ESP socket: its payloads follow the IP header directly, and are sent one per
  // message (UDP GSO is UDP's).
  const bool esp;
  const sa_family_t family;  // AF_INET or AF_INET6
};

// A destination reached through a sender. Counters live with the rules that use it
// (OutputCounters), since several rules may share one output.
struct Output {
  static constexpr uint32_t kNone = UINT32_MAX;

  Output(uint32_t handle, std::shared_ptr<const Sender> sender, const SocketAddress& destination)
      : handle(handle),
        sender(std::move(sender)),
        fd(this->sender->fd.get()),
        policy(this->sender->policy),
        largestPayload(LargestPayload(*this->sender)),
        segmentable(!this->sender->esp),
        destination(destination) {}

  // The IP header and the UDP one: a payload of more than mtu - 28 bytes (IPv6: mtu - 48) is sent as
  // fragments (or not at all); an ESP sender's payload follows the IP header alone.
  static constexpr uint32_t kIpv4Header = 20;
  static constexpr uint32_t kIpv6Header = 40;
  static constexpr uint32_t kUdpHeader = 8;
  static uint32_t LargestPayload(const Sender& sender) {
    const uint32_t headers = (sender.family == AF_INET6 ? kIpv6Header : kIpv4Header) + (sender.esp ? 0 : kUdpHeader);
    return sender.mtu > headers ? sender.mtu - headers : UINT32_MAX;
  }

  const uint32_t handle;
  // Keeps the socket open as long as this output exists (and tables that may be in use hold it).
  const std::shared_ptr<const Sender> sender;
  const int fd;               // the sender's
  const SendPolicy policy;    // the sender's
  const uint32_t largestPayload;  // the largest payload one packet carries on the sender's interface (MTU unknown: UINT32_MAX)
  const bool segmentable;         // payloads may be grouped into UDP GSO messages (not through an ESP sender)
  const SocketAddress destination;  // of the sender's family; port 0 through an ESP sender

  // Data-plane thread only: this output's list of packets waiting to be sent in the current batch
  // (node indices in the Egress scratch). Empty between batches.
  uint32_t pendingHead = kNone;
  uint32_t pendingTail = kNone;

  // Data-plane thread only: payloads shorter than this (and at most largestPayload) may go out as
  // one UDP GSO (UDP_SEGMENT) message per run of equal sizes. Lowered to the first size the kernel
  // refused with EINVAL or EMSGSIZE (larger than the route's MTU allows unfragmented), and to 0 on
  // EIO (the device cannot offload the checksum GSO needs), after which this output sends one
  // message per packet of those sizes; raised again (re-probed) at gsoRetryNs (CLOCK_MONOTONIC), as
  // the cause may have been transient (a route's MTU, an offload turned off for a while).
  uint32_t gsoBelow = UINT32_MAX;
  uint64_t gsoRetryNs = 0;

  // Data-plane thread only: an error the network reported about this destination (ICMP, read from
  // the sender's error queue), not yet counted. The output's next queued packet is counted as failed
  // with it instead of being sent, as a connected socket's next send failed (0: none).
  int pendingError = 0;

  // JavaScript thread only (InstalledRules' books; the data-plane thread never reads them): how many
  // installed rules name this output, and by how much a change being prepared moves that (0 between
  // changes). On the output itself, not in a map by output: a change of many outputs looks nothing up.
  int64_t installedRules = 0;
  int64_t preparedDelta = 0;
  bool prepared = false;  // in the change being prepared's list of outputs it moves
};

}  // namespace mcr
