#!/usr/bin/env python3
"""Sends and receives IPsec ESP (IP protocol 50) with raw sockets, for the ESP end-to-end test.

  esp-tool.py send GROUP IFADDR COUNT SPI TOS        COUNT ESP packets to GROUP (TTL 1), 5 ms apart
  esp-tool.py junk GROUP IFADDR                       what a relay must not forward: ESP shorter than its
                                                      header, AH (protocol 51) to the group
  esp-tool.py receive ADDRESS IFADDR COUNT SECONDS    prints "ready", then one JSON line: the ESP packets
                                                      to ADDRESS (joined on IFADDR when multicast)

Packet i carries SPI, sequence number i + 1 and a body of BODY_SIZES[i % 5] bytes, each byte
(i + k) % 251: the receiver reports each packet's SPI, sequence, IP payload length and SHA-256, TTL,
TOS and source, so the test compares them with what was sent, byte for byte. No keys, no xfrm: mcr
relays ESP without decrypting it, and these bodies are as opaque to it as ciphertext.
"""
import hashlib
import json
import select
import socket
import struct
import sys
import time

IPPROTO_ESP = 50
IPPROTO_AH = 51
# The largest ends exactly at a 1500-byte MTU: 20 (IPv4) + 8 (SPI, sequence) + 1472.
BODY_SIZES = [0, 8, 100, 1000, 1472]


def body(i):
    return bytes((i + k) % 251 for k in range(BODY_SIZES[i % len(BODY_SIZES)]))


def esp_packet(spi, i):
    return struct.pack('!II', spi, i + 1) + body(i)


def multicast_socket(protocol, ifaddr):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, protocol)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifaddr))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    return s


def send(group, ifaddr, count, spi, tos):
    s = multicast_socket(IPPROTO_ESP, ifaddr)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
    for i in range(count):
        s.sendto(esp_packet(spi, i), (group, 0))
        time.sleep(0.005)


def junk(group, ifaddr):
    short = multicast_socket(IPPROTO_ESP, ifaddr)
    ah = multicast_socket(IPPROTO_AH, ifaddr)
    for i in range(10):
        short.sendto(b'\x00\x00\x12\x34\x00\x00\x00'[: i % 8], (group, 0))  # 0-7 bytes: no whole ESP header
        ah.sendto(struct.pack('!BBHII', 50, 4, 0, 0x1234, i + 1) + bytes(12), (group, 0))
        time.sleep(0.005)


def receive(address, ifaddr, count, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_ESP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    if 224 <= int(address.split('.')[0]) <= 239:
        membership = socket.inet_aton(address) + socket.inet_aton(ifaddr)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    print('ready', flush=True)
    packets = []
    deadline = time.monotonic() + seconds
    while len(packets) < count:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            break
        datagram = s.recv(65535)  # a raw IPv4 socket reads the IPv4 header too
        header = (datagram[0] & 0x0F) * 4
        if socket.inet_ntoa(datagram[16:20]) != address:
            continue
        payload = datagram[header:]
        spi, sequence = struct.unpack('!II', payload[:8]) if len(payload) >= 8 else (None, None)
        packets.append({
            'spi': spi,
            'sequence': sequence,
            'length': len(payload),
            'sha256': hashlib.sha256(payload).hexdigest(),
            'ttl': datagram[8],
            'tos': datagram[1],
            'source': socket.inet_ntoa(datagram[12:16]),
        })
    print(json.dumps(packets), flush=True)


def expected(spi, count):
    """What the receiver reports for packets 0..count-1 sent with `spi` (lengths and digests)."""
    return [{'sequence': i + 1, 'length': 8 + len(body(i)), 'sha256': hashlib.sha256(esp_packet(spi, i)).hexdigest()} for i in range(count)]


if __name__ == '__main__':
    mode, *args = sys.argv[1:]
    if mode == 'send':
        send(args[0], args[1], int(args[2]), int(args[3]), int(args[4]))
    elif mode == 'junk':
        junk(args[0], args[1])
    elif mode == 'receive':
        receive(args[0], args[1], int(args[2]), float(args[3]))
    elif mode == 'expected':
        print(json.dumps(expected(int(args[0]), int(args[1]))))
    else:
        sys.exit('usage: esp-tool.py send|junk|receive|expected ...')
