"""Receives UDP datagrams on several endpoints and reports, per endpoint, how many distinct payloads
arrived and the TTL and TOS of the IP headers they came in (IP_RECVTTL, IP_RECVTOS; for an IPv6
endpoint the hop limit and traffic class: IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS).

    udp-marks-receiver.py ENDPOINTS_JSON EXPECT_EACH MAX_SECONDS [per-payload]

ENDPOINTS_JSON: [{"address": "239.9.9.9", "port": 6000, "interfaceAddress": "10.3.0.2"}, ...]; a
multicast address is joined on interfaceAddress; an endpoint's "expect" overrides EXPECT_EACH. An
IPv6 endpoint names its "interface" instead: a multicast address is joined there, and a link-local
one is bound in its scope. Prints "ready" once every socket is bound, then one
JSON line when each endpoint has EXPECT_EACH payloads or MAX_SECONDS have passed:
[{"port": 6000, "address": ..., "payloads": N, "datagrams": M, "ttls": [...], "toses": [...], "sources": [...]}, ...]
(sources: the senders' addresses).
With "per-payload", each endpoint also has "marks": {payload's first 4 bytes as text: [ttl, tos]}
and "digests": {the same key: [length, sha256 of the payload in hex]} (the last datagram's, for a
payload that came more than once: "datagrams" tells).
"""
import hashlib
import json
import select
import socket
import struct
import sys
import time

IP_TOS, IP_TTL, IP_RECVTTL, IP_RECVTOS = 1, 2, 12, 13
IPV6_RECVHOPLIMIT, IPV6_HOPLIMIT, IPV6_RECVTCLASS, IPV6_TCLASS = 51, 52, 66, 67

endpoints = json.loads(sys.argv[1])
expect_each = int(sys.argv[2])
deadline = time.monotonic() + float(sys.argv[3])
per_payload = len(sys.argv) > 4 and sys.argv[4] == "per-payload"



def open_ipv4(endpoint):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    first_octet = int(endpoint["address"].split(".")[0])
    s.bind((endpoint["address"], endpoint["port"]))
    if 224 <= first_octet <= 239:
        mreq = socket.inet_aton(endpoint["address"]) + socket.inet_aton(endpoint["interfaceAddress"])
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    s.setsockopt(socket.IPPROTO_IP, IP_RECVTOS, 1)
    return s


def open_ipv6(endpoint):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    address = endpoint["address"]
    index = socket.if_nametoindex(endpoint["interface"]) if "interface" in endpoint else 0
    multicast = address.lower().startswith("ff")
    link_local = address.lower().startswith("fe80:")
    s.bind((address, endpoint["port"], 0, index if link_local or multicast else 0))
    if multicast:
        mreq = socket.inet_pton(socket.AF_INET6, address) + struct.pack("@I", index)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVTCLASS, 1)
    return s


sockets = []
for endpoint in endpoints:
    s = open_ipv6(endpoint) if ":" in endpoint["address"] else open_ipv4(endpoint)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setblocking(False)
    sockets.append(s)
results = [{"address": e["address"], "port": e["port"], "payloads": set(), "datagrams": 0, "ttls": set(), "toses": set(), "sources": set(), "marks": {}, "digests": {}} for e in endpoints]
print("ready", flush=True)

expected = [e.get("expect", expect_each) for e in endpoints]
while time.monotonic() < deadline and any(len(r["payloads"]) < n for r, n in zip(results, expected)):
    readable, _, _ = select.select(sockets, [], [], 0.2)
    for s in readable:
        result = results[sockets.index(s)]
        while True:
            try:
                data, ancillary, _, sender = s.recvmsg(65536, 256)
            except BlockingIOError:
                break
            result["datagrams"] += 1
            result["sources"].add(sender[0])
            result["payloads"].add(data)
            ttl = tos = None
            for level, kind, value in ancillary:
                if (level, kind) in ((socket.IPPROTO_IP, IP_TTL), (socket.IPPROTO_IPV6, IPV6_HOPLIMIT)):
                    ttl = struct.unpack("i", value[:4])[0]
                    result["ttls"].add(ttl)
                elif level == socket.IPPROTO_IP and kind == IP_TOS:
                    tos = value[0]
                    result["toses"].add(tos)
                elif level == socket.IPPROTO_IPV6 and kind == IPV6_TCLASS:
                    tos = struct.unpack("i", value[:4])[0]
                    result["toses"].add(tos)
            if per_payload:
                key = data[:4].decode("ascii", "replace")
                result["marks"][key] = [ttl, tos]
                result["digests"][key] = [len(data), hashlib.sha256(data).hexdigest()]


def report(r):
    summary = {**r, "payloads": len(r["payloads"]), "ttls": sorted(r["ttls"]), "toses": sorted(r["toses"]), "sources": sorted(r["sources"])}
    if not per_payload:
        del summary["marks"]
        del summary["digests"]
    return summary


print(json.dumps([report(r) for r in results]), flush=True)
