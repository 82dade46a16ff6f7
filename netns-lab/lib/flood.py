#!/usr/bin/env python3
"""Bounded packet floods for the vpnpt netns lab (netns-lab/tests/dataplane/flood.sh).

Raw IP sockets: the kernel builds the IP header (the sender's own address);
every flood stops after --count packets or --max-time seconds, whichever
comes first, and prints one JSON line with what it sent.

  wan-esp  --dst PUBLIC   ESP with random SPIs (a server side spraying SPIs)
  wan-gre  --dst PUBLIC   enhanced GRE with random Call IDs (keys)
  wan-l2tp --dst PUBLIC   L2TP data (UDP 1701 -> 1701) with random Tunnel IDs, never --exclude
  wan-tcp  --dst PUBLIC   TCP from port 1723 (a PPTP server's) with random sequence
                          numbers, flags cycling SYN, SYN-ACK, RST, FIN-ACK; to
                          --dport, or to a random public port if it is 0
  frag     --dst ADDR     IPv4 fragments of UDP 1701 and ESP that never complete
                          (first fragments with MF, then later ones; random IDs)
  malformed --dst ADDR --ifname IF
                          Ethernet frames (AF_PACKET, broadcast) whose IPv4 header
                          is broken: IHL < 5, version 6, total length beyond the
                          frame, header cut off
  lan-esp  --dst SERVER   ESP, every packet a new SPI (a LAN host opening SAs)
  lan-pptp --dst SERVER   PPTP Outgoing-Call-Requests, every one a new Call ID,
                          8 per TCP segment, a new crafted control stream every
                          64 segments (no handshake: vpnpt tracks a stream
                          from its first message)
"""

import argparse
import json
import random
import socket
import struct
import sys
import time

IPPROTO_GRE, IPPROTO_ESP = 47, 50


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ocrq(call_id):
    """Outgoing-Call-Request (RFC 2637), 168 bytes, Call ID @12."""
    m = bytearray(168)
    struct.pack_into("!HHIHHHH", m, 0, 168, 1, 0x1A2B3C4D, 7, 0, call_id, call_id ^ 0x5555)
    return bytes(m)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["wan-esp", "wan-gre", "wan-l2tp", "wan-tcp", "frag", "malformed", "lan-esp",
                                    "lan-pptp"])
    p.add_argument("--ifname", help="malformed: the interface to send on")
    p.add_argument("--dport", type=int, default=0, help="wan-tcp: the public port to aim at (0: a random one each)")
    p.add_argument("--exclude", type=int, action="append", default=[],
                   help="wan-l2tp: a Tunnel ID never to send (a live tunnel's: a packet with it is that tunnel's by the mapping)")
    p.add_argument("--dst", required=True)
    p.add_argument("--count", type=int, default=1000, help="packets (lan-pptp: Call IDs) at most")
    p.add_argument("--max-time", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--first", type=int, default=1, help="lan-*: first SPI / Call ID")
    p.add_argument("--sport", type=int, default=45000, help="lan-pptp: TCP source port of the first stream (then +1 per stream)")
    p.add_argument("--pps", type=float, default=0, help="packets (lan-pptp: Call IDs) per second at most (0: as fast as possible)")
    a = p.parse_args()
    rnd = random.Random(a.seed)
    if a.mode == "malformed":
        return malformed(a, rnd)
    proto = {"wan-esp": IPPROTO_ESP, "lan-esp": IPPROTO_ESP, "wan-gre": IPPROTO_GRE, "lan-pptp": socket.IPPROTO_TCP,
             "wan-tcp": socket.IPPROTO_TCP, "wan-l2tp": socket.IPPROTO_UDP, "frag": socket.IPPROTO_RAW}[a.mode]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)  # IPPROTO_RAW: we write the IP header (IP_HDRINCL)
    s.connect((a.dst, 0))
    src = s.getsockname()[0]
    sent = errors = 0
    t0 = time.monotonic()
    seq = rnd.randrange(1 << 31)
    call_id = a.first
    while sent < a.count and time.monotonic() - t0 < a.max_time:
        step = 1
        if a.mode == "wan-esp":
            pkt = struct.pack("!II", rnd.randrange(256, 1 << 32), 1) + bytes(32)
        elif a.mode == "lan-esp":
            pkt = struct.pack("!II", (a.first + sent) & 0xFFFFFFFF, 1) + bytes(32)
        elif a.mode == "wan-l2tp":
            tid = rnd.randrange(1, 1 << 16)
            while tid in a.exclude:
                tid = rnd.randrange(1, 1 << 16)
            l2 = struct.pack("!HHH", 0x0002, tid, rnd.randrange(1 << 16)) + b"FLOD"
            pkt = struct.pack("!HHHH", 1701, 1701, 8 + len(l2), 0) + l2  # UDP checksum 0: none
        elif a.mode == "wan-tcp":
            flags = (0x02, 0x12, 0x04, 0x11)[sent % 4]
            dport = a.dport or rnd.randrange(1024, 1 << 16)
            hdr = struct.pack("!HHIIBBHHH", 1723, dport, rnd.randrange(1 << 32), rnd.randrange(1 << 32), 5 << 4, flags,
                              65535, 0, 0)
            pseudo = socket.inet_aton(src) + socket.inet_aton(a.dst) + struct.pack("!BBH", 0, 6, len(hdr))
            pkt = hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]
        elif a.mode == "frag":
            # The kernel fills in total length and checksum; fragment offset and MF stay ours.
            l4 = (IPPROTO_ESP, socket.IPPROTO_UDP)[sent % 2]
            body = struct.pack("!HHHH", 1701, 1701, 72, 0) + bytes(64) if l4 == socket.IPPROTO_UDP else bytes(72)
            frag = 0x2000 if sent % 4 < 2 else rnd.randrange(1, 1 << 13)  # first fragments (MF), then later ones
            pkt = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, rnd.randrange(1 << 16), frag, 64, l4, 0,
                              socket.inet_aton(src), socket.inet_aton(a.dst)) + body
        elif a.mode == "wan-gre":
            pkt = struct.pack("!BBHHHI", 0x30, 0x01, 0x880B, 4, rnd.randrange(1 << 16), 1) + b"FLOD"
        else:
            n = min(8, a.count - sent)
            payload = b"".join(ocrq((call_id + k) & 0xFFFF) for k in range(n))
            # A new control stream every 64 segments (512 calls), so one lost segment
            # stalls only its own stream, as a host opening several connections would.
            segment = (call_id - a.first) // 8
            if segment % 64 == 0:
                seq = rnd.randrange(1 << 31)
            sport = a.sport + segment // 64
            hdr = struct.pack("!HHIIBBHHH", sport, 1723, seq, 1, 5 << 4, 0x18, 65535, 0, 0)
            pseudo = socket.inet_aton(src) + socket.inet_aton(a.dst) + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
            c = csum(pseudo + hdr + payload)
            pkt = hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload
            seq = (seq + len(payload)) & 0xFFFFFFFF
            call_id += n
            step = n
        try:
            s.send(pkt)
        except OSError:
            errors += 1  # e.g. ENOBUFS: the flood is best effort
        sent += step
        if a.pps:
            time.sleep(max(0.0, t0 + sent / a.pps - time.monotonic()))
    print(json.dumps({"mode": a.mode, "src": src, "dst": a.dst, "sent": sent, "errors": errors,
                      "seconds": round(time.monotonic() - t0, 3)}))
    return 0


def malformed(a, rnd):
    """Broken IPv4 headers in Ethernet frames, sent to the broadcast address on --ifname."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.ifname, 0))
    mac = s.getsockname()[4]
    dst = socket.inet_aton(a.dst)
    sent = errors = 0
    t0 = time.monotonic()
    while sent < a.count and time.monotonic() - t0 < a.max_time:
        src = struct.pack("!I", 0xC6336400 + rnd.randrange(1, 255))  # 198.51.100.x
        kind = sent % 4
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 48, rnd.randrange(1 << 16), 0, 64, 17, 0, src, dst))
        ip += struct.pack("!HHHH", 1701, 1701, 28, 0) + bytes(20)
        if kind == 0:
            ip[0] = 0x43                     # IHL 3
        elif kind == 1:
            ip[0] = 0x65                     # version 6 under EtherType IPv4
        elif kind == 2:
            ip[2:4] = struct.pack("!H", 1400)  # total length beyond the frame
        else:
            ip = ip[:12]                     # header cut off
        frame = b"\xff" * 6 + mac + b"\x08\x00" + bytes(ip)
        try:
            s.send(frame)
        except OSError:
            errors += 1
        sent += 1
        if a.pps:
            time.sleep(max(0.0, t0 + sent / a.pps - time.monotonic()))
    print(json.dumps({"mode": a.mode, "ifname": a.ifname, "sent": sent, "errors": errors,
                      "seconds": round(time.monotonic() - t0, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
