#!/usr/bin/env python3
"""Sends prepared Ethernet frames, in order, on an interface through an AF_PACKET raw socket.

Used by the end-to-end tests (inside the source namespace) to play a sequence of frames the test
built itself, e.g. malformed frames mixed into a valid stream. The file holds each frame as a
2-byte big-endian length followed by that many bytes. Python 3 standard library only; needs
CAP_NET_RAW.

    send-frames.py --interface s0 --file frames.bin --rate 2000 --max-seconds 30

Paces the frames at --rate per second (in bursts of at most 10 ms worth), stops at --max-seconds
whatever is left, and prints one JSON object: {"interface": ..., "frames": N, "sent": N, "seconds": S}.
"""

import argparse
import json
import socket
import struct
import sys
import time

BURST_SECONDS = 0.01


def read_frames(path: str) -> list[bytes]:
    with open(path, "rb") as f:
        data = f.read()
    frames, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise ValueError(f"{path}: a length prefix is cut short at byte {at}")
        (length,) = struct.unpack_from("!H", data, at)
        at += 2
        if at + length > len(data):
            raise ValueError(f"{path}: a {length}-byte frame at byte {at} runs past the end")
        frames.append(data[at:at + length])
        at += length
    return frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interface", required=True)
    parser.add_argument("--file", required=True, help="length-prefixed frames")
    parser.add_argument("--rate", type=float, required=True, help="frames per second (1-100000)")
    parser.add_argument("--max-seconds", type=float, default=60, help="stop after this long (1-600)")
    args = parser.parse_args()
    if not 1 <= args.rate <= 100000:
        parser.error("--rate must be 1-100000")
    if not 1 <= args.max_seconds <= 600:
        parser.error("--max-seconds must be 1-600")

    frames = read_frames(args.file)
    burst = max(1, int(args.rate * BURST_SECONDS))
    sent = 0
    start = time.monotonic()
    deadline = start + args.max_seconds
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((args.interface, 0))
        while sent < len(frames) and time.monotonic() < deadline:
            for frame in frames[sent:sent + burst]:
                if sock.send(frame) != len(frame):
                    raise RuntimeError(f"short send of frame {sent} ({len(frame)} bytes)")
                sent += 1
            # Sleep until the next burst is due.
            due = start + sent / args.rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    seconds = round(time.monotonic() - start, 3)
    json.dump({"interface": args.interface, "frames": len(frames), "sent": sent, "seconds": seconds}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
