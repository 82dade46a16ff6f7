"""The probe of netns-lab/tests/dataplane/pmtu.sh, run in c1.

  pmtu_probe.py esp|gre|l2tp FAR ID SIZE

Sends one SIZE-byte packet with DF of the session (GRE with the server's
Call ID, ESP with the SA's SPI, L2TP data from UDP 1701 with the LNS's
Tunnel ID) from a socket of that kind, which stays open while it sniffs
eth0 for the error and asks the kernel for its route to far. Prints one
JSON object.
"""
import json, re, socket, struct, subprocess, sys, time
proto, far, ident, size = sys.argv[1], sys.argv[2], int(sys.argv[3], 0), int(sys.argv[4])
P = {"esp": 50, "gre": 47, "l2tp": 17}[proto]
def ok(b):  # one's complement sum over b, its checksum field included, is 0xffff
    b = b + b"\0" * (len(b) % 2)
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF
def route_mtu():
    out = subprocess.run(["ip", "route", "get", far], capture_output=True, text=True).stdout
    m = re.search(r"\bmtu (\d+)", out)
    return int(m.group(1)) if m else None
sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
sniff.bind(("eth0", 0))
sniff.settimeout(0.1)
r = {"route_mtu_before": route_mtu(), "icmp": 0, "quote_src": None, "outer_dst": None, "csums": None, "mtu": None}
if proto == "l2tp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the LAC holds 1701 too
    s.bind(("", 1701))
    data, dst = struct.pack("!HHH", 0x0002, ident, 1), (far, 1701)
    data += bytes(size - 28 - len(data))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, P)
    n = size - 20 - (8 if P == 50 else 12)
    hdr = struct.pack("!II", ident, 1) if P == 50 else struct.pack("!BBHHHI", 0x30, 0x01, 0x880B, n, ident, 1)
    data, dst = hdr + bytes(n), (far, 0)
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = IP_PMTUDISC_DO: DF set
s.sendto(data, dst)
end = time.monotonic() + 3
while time.monotonic() < end:
    try:
        f, addr = sniff.recvfrom(65535)
    except socket.timeout:
        continue
    ip = f[14:]
    if addr[2] == socket.PACKET_OUTGOING or len(ip) < 56 or ip[9] != 1:
        continue
    ihl, tot = (ip[0] & 15) * 4, struct.unpack("!H", ip[2:4])[0]
    icmp = ip[ihl:tot]
    q = icmp[8:]
    if icmp[:2] != b"\x03\x04" or len(q) < 20 or q[9] != P or socket.inet_ntoa(q[16:20]) != far:
        continue
    r["icmp"] += 1
    r["quote_src"], r["outer_dst"] = socket.inet_ntoa(q[12:16]), socket.inet_ntoa(ip[16:20])
    r["mtu"] = struct.unpack("!H", icmp[6:8])[0]
    bad = [n for n, b in (("ip", ip[:ihl]), ("icmp", icmp), ("quoted-ip", q[:(q[0] & 15) * 4])) if not ok(b)]
    r["csums"] = "bad:" + ",".join(bad) if bad else "ok"
    end = min(end, time.monotonic() + 0.5)  # a duplicate would still be counted
time.sleep(0.2)
r["route_mtu"] = route_mtu()
print(json.dumps(r))
