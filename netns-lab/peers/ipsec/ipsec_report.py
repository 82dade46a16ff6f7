#!/usr/bin/python3
"""Summarises one netns-lab/tests/ipsec/real.sh run from the files in its state directory.

    ipsec_report.py --state DIR --scenario strongswan|vpnc --mode MODE
                    --clients N --pings P [--no-wire]

Reads, for i = 1..N: c<i>.ping.log (ping output), and
  strongswan: c<i>/charon.log, server/charon.log;
  vpnc:       c<i>.vpnc.log (vpnc --debug output), c<i>.syslog,
              c<i>.env (vpnc-script environment), server.log (the responder);
and wan0.pcap / lan0.pcap (router captures). Prints CLIENT lines, SERVER
lines, WIRE lines (IKE and ESP packets per direction, with the ESP SPIs)
and a final RESULT line; exits 0 if every client got all P ping replies.
"""

import argparse
import collections
import os
import re
import sys


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def ping_stats(text):
    m = re.search(r"(\d+) packets transmitted, (\d+) received", text)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def first(pat, text, group=1, default="-"):
    m = re.search(pat, text)
    return m.group(group) if m else default


def strongswan_client(state, name):
    log = read(os.path.join(state, name, "charon.log"))
    f = {}
    f["ike"] = "yes" if re.search(r"IKE_SA lab\[\d+\] established", log) else "no"
    f["child"] = "yes" if re.search(r"CHILD_SA lab\{\d+\} established", log) else "no"
    f["vip"] = first(r"installing new virtual IP (\S+)", log)
    f["nat"] = "yes" if "local host is behind NAT" in log else "no"
    last = [l for l in log.splitlines() if "sending packet:" in l]
    f["ike_ports"] = re.sub(r".*from \S+\[(\d+)\] to \S+\[(\d+)\].*", r"\1->\2", last[-1]) if last else "-"
    m = re.search(r"CHILD_SA lab\{\d+\} established with SPIs (\w+)_i (\w+)_o", log)
    f["spi_in"], f["spi_out"] = (m.group(1), m.group(2)) if m else ("-", "-")
    errs = []
    for pat in (r"received \w+ notify error", r"establishing connection '\w+' failed",
                r"giving up after \d+ retransmits", r"unable to [^\n]*", r"failed to [^\n]*",
                r"IPsec SA: [^\n]*"):
        for mm in re.finditer(pat, log):
            if mm.group(0) not in errs:
                errs.append(mm.group(0))
    return f, errs


def vpnc_client(state, name):
    out = read(os.path.join(state, name + ".vpnc.log"))
    sl = read(os.path.join(state, name + ".syslog"))
    env = read(os.path.join(state, name + ".env"))
    f = {}
    # vpnc runs its script (reason=connect) after phase 1, XAUTH and mode
    # config; Quick Mode follows; "IPSEC SA selected" = QM2 accepted, QM3
    # sent; "VPNC started" = the ESP data path runs.
    f["ike"] = "yes" if "reason=connect" in env else "no"
    f["child"] = "yes" if "IPSEC SA selected" in out and "VPNC started" in out else "no"
    f["vip"] = first(r"INTERNAL_IP4_ADDRESS=(\S+)", env)
    f["natt"] = first(r"NAT status: ([^\n]*)", out).replace(" ", "_")
    # vpnc logs these with syslog(3) + LOG_PERROR: they show up on its
    # stderr and/or in the syslog sink; count whichever saw more.
    f["esp_accepted"] = max(len(re.findall(r"Accepting expected ESP packet", t)) for t in (out, sl))
    unk = max((re.findall(r"unknown spi (0x[0-9a-f]+)", t) for t in (out, sl)), key=len)
    f["esp_unknown_spi"] = len(unk)
    if unk:
        f["unknown_spis"] = ",".join(sorted(set(unk)))
    errs = []
    for pat in (r"[^\n]*(?:error|rejected|failed|can't|no response|HMAC mismatch|unsuccessful)[^\n]*",):
        for mm in re.finditer(pat, out + "\n" + sl, re.I):
            e = mm.group(0).strip()
            if e and e not in errs:
                errs.append(e)
    return f, errs[:4]


def server_child_vips(state):
    """Virtual IPs the vpnc server (charon or the stand-in) installed a CHILD_SA for."""
    vips = set(re.findall(r"CHILD_SA \w+\{\d+\} established with SPIs \w+ \w+ and TS \S+ === ([\d.]+)/32",
                          read(os.path.join(state, "server", "charon.log"))))
    vips |= set(re.findall(r"^SERVER user=\S+ peer=\S+ vip=([\d.]+) ike=\S+ child_sa=yes",
                           read(os.path.join(state, "server.log")), re.M))
    return vips


def wire(path):
    """IKE/ESP packets in one capture, grouped by direction and SPI."""
    try:
        from scapy.all import IP, UDP, rdpcap, ICMP  # noqa: F401
    except ImportError:
        return ["(scapy missing: no wire decode)"]
    if not os.path.exists(path):
        return ["(no capture)"]
    cnt = collections.OrderedDict()
    icmp = collections.Counter()
    for p in rdpcap(path):
        if IP not in p:
            continue
        ip = p[IP]
        src, dst = ip.src, ip.dst
        raw = bytes(ip.payload)
        if ip.proto == 50 and len(raw) >= 8:
            key = ("esp", src, dst, "0x%08x" % int.from_bytes(raw[:4], "big"))
        elif ip.proto == 17 and UDP in ip:
            u = ip[UDP]
            pl = bytes(u.payload)
            ports = (u.sport, u.dport)
            if 4500 in ports and len(pl) >= 8 and pl[:4] != b"\0\0\0\0":
                if len(pl) == 1 and pl == b"\xff":
                    key = ("natt-keepalive", "%s:%d" % (src, u.sport), "%s:%d" % (dst, u.dport), "")
                else:
                    key = ("esp-in-udp", "%s:%d" % (src, u.sport), "%s:%d" % (dst, u.dport),
                           "0x%08x" % int.from_bytes(pl[:4], "big"))
            elif 4500 in ports and len(pl) == 1:
                key = ("natt-keepalive", "%s:%d" % (src, u.sport), "%s:%d" % (dst, u.dport), "")
            elif 500 in ports or 4500 in ports:
                off = 4 if (4500 in ports and pl[:4] == b"\0\0\0\0") else 0
                ispi = pl[off:off + 8].hex() if len(pl) >= off + 8 else "?"
                key = ("ike", "%s:%d" % (src, u.sport), "%s:%d" % (dst, u.dport), "ispi=" + ispi)
            else:
                continue
        elif ip.proto == 1 and ICMP in ip and ip[ICMP].type == 3:
            icmp["%s->%s type3 code%d" % (src, dst, ip[ICMP].code)] += 1
            continue
        else:
            continue
        cnt[key] = cnt.get(key, 0) + 1
    lines = ["%-14s %-22s -> %-22s %-24s n=%d" % (k[0], k[1], k[2], ("spi=" + k[3]) if k[0].startswith("esp") else k[3], n)
             for k, n in cnt.items()]
    lines += ["icmp-unreach   %s n=%d" % (k, n) for k, n in icmp.items()]
    return lines or ["(nothing IKE/ESP)"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--state", required=True)
    p.add_argument("--scenario", required=True)
    p.add_argument("--mode", required=True)
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--pings", type=int, required=True)
    p.add_argument("--no-wire", action="store_true")
    a = p.parse_args()
    working = 0
    for i in range(1, a.clients + 1):
        name = "c%d" % i
        sent, rcvd = ping_stats(read(os.path.join(a.state, name + ".ping.log")))
        extra = ""
        if os.path.exists(os.path.join(a.state, name + ".solo-ping.log")):
            extra += " solo_ping=%d/%d" % (ping_stats(read(os.path.join(a.state, name + ".solo-ping.log")))[1], a.pings)
        if os.path.exists(os.path.join(a.state, name + ".rping.log")):
            extra += " ping_from_server=%d/%d" % (ping_stats(read(os.path.join(a.state, name + ".rping.log")))[1], a.pings)
        if a.scenario == "strongswan":
            f, errs = strongswan_client(a.state, name)
        else:
            f, errs = vpnc_client(a.state, name)
            # vpnc believes in its CHILD_SA once it has sent QM3; it only
            # works if the server installed its side too.
            if f["child"] == "yes" and f["vip"] not in server_child_vips(a.state):
                f["child"] = "no(server_did_not_install)"
        ok = sent == a.pings and rcvd == a.pings and a.pings > 0
        working += ok
        print("CLIENT %s ip=192.168.1.%d ike=%s child_sa=%s vip=%s %s ping=%d/%d%s working=%s" % (
            name, 10 + i, f.pop("ike"), f.pop("child"), f.pop("vip"),
            " ".join("%s=%s" % kv for kv in f.items()), rcvd, a.pings, extra, "yes" if ok else "no"))
        for e in errs[:4]:
            print("  %s note: %s" % (name, e))
    log = read(os.path.join(a.state, "server", "charon.log"))
    if log:
        for m in re.finditer(r"IKE_SA (\w+)\[(\d+)\] established between (\S+)\.\.\.(\S+)", log):
            print("SERVER charon ike_sa=%s[%s] peer=%s" % (m.group(1), m.group(2), m.group(4)))
        for m in re.finditer(r"CHILD_SA (\w+)\{(\d+)\} established with SPIs (\w+)_i (\w+)_o and TS (.*)", log):
            print("SERVER charon child_sa=%s{%s} spi_in=%s spi_out=%s ts=%s" % m.groups())
        seen = set()
        for m in re.finditer(r"(IPsec SA: [^\n]*|unable to install [^\n]*|failed to [^\n]*|[^\n]*AUTH_FAILED[^\n]*)", log):
            if m.group(1) not in seen:
                seen.add(m.group(1))
                print("SERVER charon error: %s" % m.group(1).strip())
    else:
        for line in read(os.path.join(a.state, "server.log")).splitlines():
            if " SERVER " in (" " + line + " ") or line.startswith("SERVER"):
                print(line[line.index("SERVER"):])
    if not a.no_wire:
        for ifn in ("lan0", "wan0"):
            for line in wire(os.path.join(a.state, ifn + ".pcap")):
                print("WIRE %s %s" % (ifn, line))
    print("RESULT scenario=%s mode=%s clients=%d working=%d" % (a.scenario, a.mode, a.clients, working))
    return 0 if working == a.clients else 1


if __name__ == "__main__":
    sys.exit(main())
