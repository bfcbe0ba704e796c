#!/usr/bin/env python3
"""Sends malformed Ethernet/IPv4/UDP frames on an interface through an AF_PACKET raw socket.

Used by the end-to-end tests (inside the source namespace) to check that mcr's data plane counts
each kind of bad frame under the right parse error and keeps forwarding good traffic. Python 3
standard library only; needs CAP_NET_RAW.

Every frame is addressed to the rule's group (the group's multicast MAC and IP) and, wherever the
frame is long enough, carries the rule's UDP destination port at the position a UDP header would
have it, so that a capture filter matching (group, port) admits it and the parser must judge it.

    inject-frames.py --interface s0 --source 10.1.0.2 --group 239.6.6.6 --port 5000 --count 50

Prints one JSON object: {"interface": ..., "frames": {kind: count, ...}, "total": N}.
"""

import argparse
import ipaddress
import json
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
IPPROTO_UDP = 17
IPPROTO_EXPERIMENTAL = 253  # RFC 3692: for experimentation; certainly not UDP
SOURCE_PORT = 40000
PAYLOAD = bytes(range(64))
FLAG_MF = 0x2000


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def multicast_mac(group: str) -> bytes:
    low23 = int(ipaddress.IPv4Address(group)) & 0x7FFFFF
    return bytes([0x01, 0x00, 0x5E]) + low23.to_bytes(3, "big")


def interface_mac(interface: str) -> bytes:
    with open(f"/sys/class/net/{interface}/address") as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


class FrameBuilder:
    def __init__(self, src_mac: bytes, source: str, group: str, port: int):
        self.ethernet = multicast_mac(group) + src_mac + struct.pack("!H", ETH_P_IP)
        self.source = socket.inet_aton(source)
        self.group = socket.inet_aton(group)
        self.port = port

    def udp(self, payload: bytes = PAYLOAD, length: int | None = None) -> bytes:
        """A UDP header (checksum 0 = none, valid for IPv4) and payload."""
        return struct.pack("!HHHH", SOURCE_PORT, self.port, 8 + len(payload) if length is None else length, 0) + payload

    def ipv4(self, body: bytes, *, protocol: int = IPPROTO_UDP, flags_fragment: int = 0,
             total_length: int | None = None, version_ihl: int = 0x45, bad_checksum: bool = False) -> bytes:
        """A 20-byte IPv4 header (TTL 1) followed by `body`. Only the named field is made wrong."""
        length = 20 + len(body) if total_length is None else total_length
        header = struct.pack("!BBHHHBBH4s4s", version_ihl, 0, length, 0x1234, flags_fragment, 1, protocol, 0,
                             self.source, self.group)
        good = checksum(header)
        value = (good ^ 0x5A5A) if bad_checksum else good
        return header[:10] + struct.pack("!H", value) + header[12:] + body

    def frame(self, packet: bytes) -> bytes:
        return self.ethernet + packet

    def kinds(self) -> dict[str, bytes]:
        """Each malformed frame, by kind. The parse error each should count as is the test's concern."""
        udp = self.udp()
        half = len(PAYLOAD) // 2
        return {
            # Frames cut short: the IP total length announces more than the frame carries.
            "truncated_payload": self.frame(self.ipv4(udp, total_length=20 + len(udp) + 100)),
            "truncated_udp_header": self.frame(self.ipv4(udp[:4], total_length=20 + 8)),
            # Lengths that contradict each other within what the frame carries.
            "ip_length_below_header": self.frame(self.ipv4(udp, total_length=16)),
            "udp_header_beyond_ip_length": self.frame(self.ipv4(udp[:4])),
            "udp_length_mismatch": self.frame(self.ipv4(self.udp(length=8 + len(PAYLOAD) + 40))),
            # IHL 4 (16 bytes) is below the minimum of 5; the rest of the frame is a normal datagram.
            "bad_ihl": self.frame(self.ipv4(udp, version_ihl=0x44)),
            "bad_checksum": self.frame(self.ipv4(udp, bad_checksum=True)),
            # First fragment: MF set, offset 0; the UDP header announces the whole datagram.
            "fragment_first": self.frame(self.ipv4(udp[:8 + half], flags_fragment=FLAG_MF)),
            # Last fragment: offset 40 bytes (5 units of 8), MF clear; its data starts with the ports.
            "fragment_last": self.frame(self.ipv4(udp[:4] + PAYLOAD[half + 4:], flags_fragment=(8 + half) // 8)),
            # Protocol 253 with UDP-looking bytes after the header.
            "not_udp": self.frame(self.ipv4(udp, protocol=IPPROTO_EXPERIMENTAL)),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interface", required=True)
    parser.add_argument("--source", required=True, help="IPv4 source address of the frames")
    parser.add_argument("--group", required=True, help="IPv4 multicast group (destination)")
    parser.add_argument("--port", type=int, required=True, help="UDP destination port")
    parser.add_argument("--count", type=int, default=10, help="frames of each kind (1-10000)")
    parser.add_argument("--kinds", help="comma-separated subset of kinds (default: all)")
    parser.add_argument("--interval-ms", type=float, default=1.0, help="pause between rounds of one frame per kind")
    args = parser.parse_args()
    if not 1 <= args.count <= 10000:
        parser.error("--count must be 1-10000")

    builder = FrameBuilder(interface_mac(args.interface), args.source, args.group, args.port)
    frames = builder.kinds()
    if args.kinds:
        unknown = set(args.kinds.split(",")) - frames.keys()
        if unknown:
            parser.error(f"unknown kinds: {', '.join(sorted(unknown))}; known: {', '.join(frames)}")
        frames = {kind: frames[kind] for kind in args.kinds.split(",")}

    sent = {kind: 0 for kind in frames}
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((args.interface, 0))
        for _ in range(args.count):
            for kind, frame in frames.items():
                if sock.send(frame) != len(frame):
                    raise RuntimeError(f"short send of a {kind} frame")
                sent[kind] += 1
            time.sleep(args.interval_ms / 1000)
    json.dump({"interface": args.interface, "frames": sent, "total": sum(sent.values())}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
