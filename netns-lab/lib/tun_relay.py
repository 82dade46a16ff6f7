#!/usr/bin/python3
"""Copies IP packets between two TUN devices in different network namespaces.

The lab's LAB_WAN=tun topology (lib.sh): the router's wan0 is an IFF_TUN
device (an L3 link without Ethernet header, like PPPoE's ppp0) and the
site's "ISP" namespace has another one (isp0). Nothing in the kernel
connects two TUN devices, so this process does: it attaches to each device
from inside its namespace (setns through ctypes: Python 3.11 has no
os.setns; a TUN fd stays bound to its device whatever namespace the process
moves to), then copies every packet read from one to the other, unchanged.

    tun_relay.py [--max-time S] [--max-packets N] NETNS_PATH:IFNAME NETNS_PATH:IFNAME

The devices must exist (persistent, `ip tuntap add mode tun`). Prints
"ready" once both are attached (their carrier is then up). Bounded: exits
after --max-time seconds or --max-packets packets, or on SIGTERM/SIGINT.
Python 3 standard library only.
"""

import argparse
import ctypes
import fcntl
import os
import select
import signal
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MAX_PACKET = 65536

libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns(%s): %s" % (path, os.strerror(err)))
    finally:
        os.close(fd)


def open_tun(spec):
    """NETNS_PATH:IFNAME -> non-blocking fd attached to that TUN device."""
    path, _, name = spec.rpartition(":")
    enter_netns(path)
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def relay(fds, deadline, max_packets):
    """Copies packets both ways until the deadline or the packet budget."""
    peer = {fds[0]: fds[1], fds[1]: fds[0]}
    copied = dropped = 0
    while copied + dropped < max_packets:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select(fds, [], [], min(left, 1.0))
        for fd in ready:
            try:
                pkt = os.read(fd, MAX_PACKET)
                os.write(peer[fd], pkt)
                copied += 1
            except BlockingIOError:
                pass
            except OSError:  # device down, packet refused: a lost packet, as on a wire
                dropped += 1
    return copied, dropped


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-time", type=float, default=600.0)
    ap.add_argument("--max-packets", type=int, default=10_000_000)
    ap.add_argument("ends", nargs=2, metavar="NETNS_PATH:IFNAME")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    deadline = time.monotonic() + args.max_time
    fds = [open_tun(spec) for spec in args.ends]
    print("ready", flush=True)
    copied, dropped = relay(fds, deadline, args.max_packets)
    print("exit copied=%d dropped=%d" % (copied, dropped), flush=True)


if __name__ == "__main__":
    main()
