#!/usr/bin/env python3
"""A stand-in for systemd's notification socket: receives sd_notify(3)
datagrams on a unix socket and appends each to a file, one line per field
("READY=1"), prefixed by the time in ms since start. Ends after --max-time.

Usage: notify_sink.py SOCKET_PATH OUT_FILE [--max-time S]
"""
import argparse
import os
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("out")
    ap.add_argument("--max-time", type=float, default=120)
    a = ap.parse_args()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(a.path):
        os.unlink(a.path)
    s.bind(a.path)
    s.settimeout(0.5)
    t0 = time.monotonic()
    with open(a.out, "a", buffering=1) as f:
        while time.monotonic() - t0 < a.max_time:
            try:
                data = s.recv(4096)
            except socket.timeout:
                continue
            ms = int((time.monotonic() - t0) * 1000)
            for field in data.decode(errors="replace").split("\n"):
                if field:
                    f.write(f"{ms} {field}\n")
    os.unlink(a.path)


if __name__ == "__main__":
    main()
