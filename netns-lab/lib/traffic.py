#!/usr/bin/python3
"""Send a bounded number of VPN-ish packets of given vpnpt classes.

Run inside a lab host namespace (ip netns exec NS python3 traffic.py ...).
Packets go out at layer 3 (scapy send() on an AF_PACKET socket: scapy picks
the interface and gateway from the namespace's routing table and resolves
the gateway's MAC with its own ARP request, once per run; the host's
netfilter OUTPUT hook is bypassed). They are plausible headers, not working VPN sessions:
enough for vpnpt to classify them exactly as it classifies the real thing.

Classes (vpnpt's names):
  pptp_ctrl  TCP SYN to port 1723 (source port: random ephemeral)
  gre        enhanced GRE v1 (PPTP data): proto 0x880B, key (payload length +
             call id) and sequence number present, PPP LCP echo payload
  ike        UDP 500 -> 500, IKEv2 IKE_SA_INIT header
  natt       UDP 4500 -> 4500, alternating IKE with the 4-byte non-ESP marker
             and ESP-in-UDP (SPI + sequence number)
  esp        IP protocol 50, SPI + sequence number + opaque payload
  ah         IP protocol 51, AH header with a 96-bit ICV, no next header
  l2tp       UDP 1701 -> 1701, alternating L2TPv2 control (ZLB) and data (PPP)
  other      UDP to the discard port 9

Packets of several classes are interleaved round-robin; COUNT is per class.
The run stops when every packet is sent or after --timeout seconds, whichever
comes first. Exit status: 0 all sent, 2 stopped by the time bound, 1 error.
"""

import argparse
import logging
import os
import random
import signal
import struct
import sys
import time

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
logging.getLogger("scapy.loading").setLevel(logging.ERROR)

from scapy.config import conf  # noqa: E402
from scapy.layers.inet import IP, TCP, UDP  # noqa: E402
from scapy.packet import Raw  # noqa: E402
from scapy.sendrecv import send  # noqa: E402

CLASSES = ("pptp_ctrl", "gre", "ike", "natt", "esp", "ah", "l2tp", "other")

# PPP (address/control ff03) LCP Echo-Request, id 1, magic 0x5650_4e54 ("VPNT").
PPP_LCP_ECHO = bytes.fromhex("ff03c021") + bytes([9, 1]) + struct.pack("!H", 8) + b"VPNT"


def ikev2_header(spi_i: bytes, exch: int, msg_id: int) -> bytes:
    # SPIi, SPIr (0), next payload (none), version 2.0, exchange, flags (I), msg id, length
    return spi_i + bytes(8) + struct.pack("!BBBBII", 0, 0x20, exch, 0x08, msg_id, 28)


class Builder:
    def __init__(self, args):
        rnd = random.Random(args.seed)
        self.dst = args.dst
        self.sport = args.sport
        self.dport = args.dport
        self.tos = args.tos
        self.pad = bytes(args.pad)
        self.ephemeral = args.sport or rnd.randint(32768, 60999)
        self.spi = rnd.randint(0x100, 0xFFFFFFFF)
        self.ike_spi = rnd.getrandbits(64).to_bytes(8, "big")
        self.call_id = rnd.randint(1, 0xFFFF)
        self.tunnel_id = rnd.randint(1, 0xFFFF)
        self.session_id = rnd.randint(1, 0xFFFF)
        self.tcp_seq = rnd.getrandbits(32)

    def ip(self, **kw):
        return IP(dst=self.dst, tos=self.tos, **kw)

    def udp(self, port, payload):
        return self.ip() / UDP(sport=self.sport or port, dport=self.dport or port) / Raw(payload + self.pad)

    def build(self, cls: str, n: int):
        """The n-th (0-based) packet of class cls."""
        if cls == "pptp_ctrl":
            return self.ip() / TCP(sport=self.ephemeral, dport=self.dport or 1723, flags="S",
                                   seq=(self.tcp_seq + n) & 0xFFFFFFFF, window=64240)
        if cls == "gre":
            ppp = PPP_LCP_ECHO + self.pad
            # flags: K (key) + S (sequence), version 1; protocol 0x880B (PPP);
            # key = payload length + call id; then the sequence number.
            gre = struct.pack("!HHHHI", 0x3001, 0x880B, len(ppp), self.call_id, n + 1)
            return self.ip(proto=47) / Raw(gre + ppp)
        if cls == "ike":
            return self.udp(500, ikev2_header(self.ike_spi, 34, 0))  # IKE_SA_INIT
        if cls == "natt":
            if n % 2 == 0:  # IKE over 4500: non-ESP marker, then IKE_AUTH
                return self.udp(4500, bytes(4) + ikev2_header(self.ike_spi, 35, n // 2 + 1))
            # ESP-in-UDP: SPI (never 0, which would be the marker), seq, ciphertext
            return self.udp(4500, struct.pack("!II", self.spi, n // 2 + 1) + bytes(32))
        if cls == "esp":
            return self.ip(proto=50) / Raw(struct.pack("!II", self.spi, n + 1) + bytes(48) + self.pad)
        if cls == "ah":
            # next header 59 (none), payload length 4 (= 24/4 - 2), reserved, SPI, seq, ICV
            return self.ip(proto=51) / Raw(struct.pack("!BBHII", 59, 4, 0, self.spi, n + 1) + bytes(12) + self.pad)
        if cls == "l2tp":
            if n % 2 == 0:  # control ZLB ack: T, L, S bits, version 2
                return self.udp(1701, struct.pack("!HHHHHH", 0xC802, 12, self.tunnel_id, 0, n // 2, n // 2))
            payload = PPP_LCP_ECHO
            hdr = struct.pack("!HHHH", 0x4002, 8 + len(payload), self.tunnel_id, self.session_id)
            return self.udp(1701, hdr + payload)
        if cls == "other":
            return self.ip() / UDP(sport=self.ephemeral, dport=self.dport or 9) / Raw(b"vpnpt-lab " + self.pad)
        raise ValueError(cls)


def parse_classes(text: str):
    if text == "all":
        return list(CLASSES)
    out = []
    for c in text.split(","):
        c = c.strip()
        if c not in CLASSES:
            raise argparse.ArgumentTypeError(f"unknown class '{c}' (choose from {', '.join(CLASSES)}, all)")
        out.append(c)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--class", "-c", dest="classes", type=parse_classes, required=True,
                    help="class, comma-separated classes, or 'all'")
    ap.add_argument("--dst", "-d", required=True, help="destination IPv4 address")
    ap.add_argument("--count", "-n", type=int, default=1, help="packets per class (default 1)")
    ap.add_argument("--interval", "-i", type=float, default=0.0,
                    help="seconds between two packets, all classes together (default 0)")
    ap.add_argument("--timeout", "-t", type=float, default=10.0,
                    help="hard bound on the run time in seconds (default 10)")
    ap.add_argument("--sport", type=int, default=0, help="override the UDP/TCP source port")
    ap.add_argument("--dport", type=int, default=0, help="override the UDP/TCP destination port")
    ap.add_argument("--pad", type=int, default=0, help="extra payload bytes per packet (default 0)")
    ap.add_argument("--tos", type=int, default=0, help="IP TOS byte (default 0)")
    ap.add_argument("--seed", type=int, default=None, help="random seed for SPIs, ports, ids")
    ap.add_argument("--quiet", "-q", action="store_true", help="no summary line")
    ap.add_argument("--dry-run", action="store_true",
                    help="send nothing; print 'CLASS PACKETS IP_BYTES' per class (what a run would send)")
    args = ap.parse_args()
    if args.count < 0 or args.interval < 0 or args.timeout <= 0:
        ap.error("count and interval must be >= 0, timeout > 0")

    if args.dry_run:
        builder = Builder(args)
        for cls in args.classes:
            size = sum(len(builder.build(cls, n)) for n in range(args.count))
            print(f"{cls} {args.count} {size}")
        return 0

    # Backstop in case the stack blocks (e.g. ARP resolution): the process
    # never outlives its time bound by more than 5 s.
    signal.signal(signal.SIGALRM, lambda *_: os._exit(2))
    signal.alarm(int(args.timeout) + 5)

    conf.verb = 0
    builder = Builder(args)
    start = time.monotonic()
    deadline = start + args.timeout
    total = args.count * len(args.classes)
    sent = 0
    sock = conf.L3socket()
    try:
        for n in range(args.count):
            for cls in args.classes:
                now = time.monotonic()
                if now >= deadline:
                    break
                send(builder.build(cls, n), verbose=0, socket=sock)
                sent += 1
                if args.interval and sent < total:
                    time.sleep(max(0.0, min(args.interval, deadline - time.monotonic())))
            else:
                continue
            break
    finally:
        sock.close()
    elapsed = time.monotonic() - start
    if not args.quiet:
        print(f"traffic: sent {sent}/{total} packets ({','.join(args.classes)}) to {args.dst} "
              f"in {elapsed:.2f}s", flush=True)
    return 0 if sent == total else 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
