#!/usr/bin/env python3
"""Crafted L2TPv2 peers for the vpnpt netns lab (RFC 2661), over plain UDP sockets.

Subcommands:
  lns      an LNS on UDP 1701 (--port): answers every SCCRQ with an SCCRP that
           assigns its own Tunnel ID (101, 102, ... in arrival order), answers a
           retransmitted SCCRQ with the same SCCRP, acknowledges SCCCN and
           StopCCN with a ZLB, and echoes every data message of a known tunnel
           back to where it came from, with the header Tunnel ID set to the id
           it learned from that tunnel's SCCRQ (what the gateway translated) and
           the same session id and payload. --reply-port P: it sends everything
           from a second socket bound to port P (and receives there too), as an
           LNS may (RFC 2661 8.1); the LACs then talk to P.
  lac      an LAC from local UDP port 1701 (--local-port): SCCRQ (Message Type,
           Protocol Version, Host Name, Framing Capabilities, Assigned Tunnel ID
           AVPs; header flags 0xC802, Ns/Nr), retransmitted every --retry s
           (max --tries) until the SCCRP, SCCCN to the address and port the
           SCCRP came from, then --count data messages (flags 0x0002, the LNS's
           Tunnel ID) and checks every echo: own Tunnel ID, own index and phase
           in the payload. --hidden: the Assigned Tunnel ID AVP is hidden (H
           bit, Random Vector AVP before it, RFC 2661 4.3, shared --secret), so
           the gateway cannot read it. After --release-file (bounded), StopCCN.
  analyze  checks the reports of one LNS and its LACs (PASS/FAIL lines);
           exit 0 if every check passed, else 1.

Data payload: 'VPL2' phase(1) index(2) seq(4) + padding: every echo names the
LAC it belongs to, independently of the (translated) Tunnel IDs.

Every process is bounded by --max-time and writes its report (--report) even
when it fails.
"""

import argparse
import hashlib
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from labcheck import Checks, Terminated, _on_signal, now, short  # noqa: E402  (shared)

L2TP_PORT = 1701
SCCRQ, SCCRP, SCCCN, STOPCCN, HELLO = 1, 2, 3, 4, 6
MSG_NAME = {0: "ZLB", SCCRQ: "SCCRQ", SCCRP: "SCCRP", SCCCN: "SCCCN", STOPCCN: "StopCCN", HELLO: "HELLO"}
AVP_MSG_TYPE, AVP_RESULT, AVP_PROTO_VER, AVP_FRAMING, AVP_HOST, AVP_TUNNEL_ID, AVP_RANDOM_VECTOR = 0, 1, 2, 3, 7, 9, 36
F_T, F_L, F_S, F_O, F_P = 0x8000, 0x4000, 0x0800, 0x0200, 0x0100
CTRL_FLAGS = F_T | F_L | F_S | 2  # 0xC802
DATA_FLAGS = 0x0002

TAG = b"VPL2"
TAG_FMT = "!4sBHI"  # tag, phase, index, seq
TAG_LEN = struct.calcsize(TAG_FMT)


def log(name, t0, fmt, *args):
    sys.stdout.write("%7.3f %s: %s\n" % (now() - t0, name, fmt % args if args else fmt))
    sys.stdout.flush()


# ---------------------------------------------------------------- messages

def avp(attr, value, mandatory=True, hidden=False):
    flags = (0x8000 if mandatory else 0) | (0x4000 if hidden else 0)
    return struct.pack("!HHH", flags | (6 + len(value)), 0, attr) + value


def hide(attr, value, secret, rv):
    """RFC 2661 4.3: (length, value, padding) XOR MD5(type + secret + RV), 16 bytes per block."""
    pad = os.urandom(max(0, 8 - 2 - len(value)))
    clear = struct.pack("!H", len(value)) + value + pad
    out = b""
    prev = struct.pack("!H", attr) + secret + rv
    for i in range(0, len(clear), 16):
        block = hashlib.md5(prev if i == 0 else secret + prev).digest()
        c = bytes(a ^ b for a, b in zip(clear[i:i + 16], block))
        out += c
        prev = c
    return out


def unhide(attr, data, secret, rv):
    clear = b""
    prev = struct.pack("!H", attr) + secret + rv
    for i in range(0, len(data), 16):
        block = hashlib.md5(prev if i == 0 else secret + prev).digest()
        c = data[i:i + 16]
        clear += bytes(a ^ b for a, b in zip(c, block))
        prev = c
    n = struct.unpack("!H", clear[:2])[0]
    return clear[2:2 + n]


def ctrl(tunnel_id, ns, nr, avps=b""):
    length = 12 + len(avps)
    return struct.pack("!HHHHHH", CTRL_FLAGS, length, tunnel_id, 0, ns, nr) + avps


def msg_avps(mtype, host, tid, hidden_secret=None):
    a = avp(AVP_MSG_TYPE, struct.pack("!H", mtype)) + avp(AVP_PROTO_VER, struct.pack("!BB", 1, 0)) + \
        avp(AVP_HOST, host.encode(), True) + avp(AVP_FRAMING, struct.pack("!I", 3))
    if hidden_secret is not None:
        rv = os.urandom(16)
        a += avp(AVP_RANDOM_VECTOR, rv) + avp(AVP_TUNNEL_ID, hide(AVP_TUNNEL_ID, struct.pack("!H", tid),
                                                                   hidden_secret, rv), hidden=True)
    else:
        a += avp(AVP_TUNNEL_ID, struct.pack("!H", tid))
    return a


def stopccn_avps(tid):
    return avp(AVP_MSG_TYPE, struct.pack("!H", STOPCCN)) + avp(AVP_TUNNEL_ID, struct.pack("!H", tid)) + \
        avp(AVP_RESULT, struct.pack("!H", 1))


def parse(pkt, secret=None):
    """UDP payload -> dict (control: mtype, avps; data: payload), or None if not L2TPv2."""
    if len(pkt) < 6:
        return None
    flags = struct.unpack("!H", pkt[:2])[0]
    if flags & 0x000F != 2:
        return None
    off = 2
    length = None
    if flags & F_L:
        length = struct.unpack("!H", pkt[off:off + 2])[0]
        off += 2
    tid, sid = struct.unpack("!HH", pkt[off:off + 4])
    off += 4
    ns = nr = None
    if flags & F_S:
        ns, nr = struct.unpack("!HH", pkt[off:off + 4])
        off += 4
    if flags & F_O:
        osize = struct.unpack("!H", pkt[off:off + 2])[0]
        off += 2 + osize
    end = length if length is not None else len(pkt)
    d = {"ctrl": bool(flags & F_T), "tid": tid, "sid": sid, "ns": ns, "nr": nr}
    if not d["ctrl"]:
        d["payload"] = pkt[off:end]
        return d
    d["mtype"] = 0
    d["avps"] = {}
    d["hidden"] = []
    rv = None
    while off + 6 <= end:
        fl, vendor, attr = struct.unpack("!HHH", pkt[off:off + 6])
        alen = fl & 0x03FF
        if alen < 6 or off + alen > end:
            d["bad"] = "bad AVP length"
            break
        val = pkt[off + 6:off + alen]
        off += alen
        if vendor != 0:
            continue
        if attr == AVP_RANDOM_VECTOR:
            rv = val
        if fl & 0x4000:
            d["hidden"].append(attr)
            if secret is None or rv is None:
                continue
            val = unhide(attr, val, secret, rv)
        if attr == AVP_MSG_TYPE and len(val) == 2:
            d["mtype"] = struct.unpack("!H", val)[0]
        d["avps"][attr] = val
    return d


def avp_u16(d, attr):
    v = d.get("avps", {}).get(attr)
    return struct.unpack("!H", v)[0] if v is not None and len(v) == 2 else None


def tag(phase, index, seq, size):
    p = struct.pack(TAG_FMT, TAG, phase, index, seq)
    return p + bytes((seq + i) & 0xFF for i in range(max(0, size - len(p))))


def untag(payload):
    if len(payload) < TAG_LEN or payload[:4] != TAG:
        return None
    _, phase, index, seq = struct.unpack(TAG_FMT, payload[:TAG_LEN])
    return phase, index, seq


def write_report(path, rep):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rep, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def touch(path):
    if path:
        with open(path, "w"):
            pass


# ---------------------------------------------------------------- LNS

def run_lns(a):
    t0 = now()
    deadline = t0 + a.max_time
    secret = a.secret.encode()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    rx.bind((a.bind, a.port))
    socks = [rx]
    tx = rx
    if a.reply_port and a.reply_port != a.port:
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        tx.bind((a.bind, a.reply_port))
        socks.append(tx)
    rep = {"role": "lns", "port": a.port, "reply_port": tx.getsockname()[1], "tunnels": [], "unknown": 0,
           "bad": 0, "errors": [], "sccrq_retransmits": 0}
    by_key = {}   # (ip, port, lac tid or hidden marker) -> tunnel
    by_lns = {}   # lns tid -> tunnel
    touch(a.ready_file)
    L = lambda *x: log("lns", t0, *x)  # noqa: E731
    L("listening on %s:%d, answering from port %d", a.bind, a.port, rep["reply_port"])

    def stopped_all():
        return len(rep["tunnels"]) >= a.expect and all(t["stopped"] for t in rep["tunnels"])

    linger_until = None
    try:
        while now() < deadline:
            if linger_until is None and a.expect and stopped_all():
                linger_until = now() + 0.5
            if linger_until is not None and now() > linger_until:
                break
            r, _, _ = select.select(socks, [], [], 0.1)
            for s in r:
                while True:
                    try:
                        pkt, (ip, port) = s.recvfrom(4096, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        break
                    d = parse(pkt, secret)
                    if d is None:
                        rep["bad"] += 1
                        continue
                    lport = s.getsockname()[1]
                    if d["ctrl"]:
                        mt = d["mtype"]
                        if mt == SCCRQ:
                            lac_tid = avp_u16(d, AVP_TUNNEL_ID)
                            if lac_tid is None:
                                rep["errors"].append("SCCRQ from %s:%d without a readable Assigned Tunnel ID" % (ip, port))
                                continue
                            key = (ip, port, lac_tid)
                            t = by_key.get(key)
                            if t is not None:
                                t["sccrq"] += 1
                                rep["sccrq_retransmits"] += 1
                                tx.sendto(t["_sccrp"], (ip, port))
                                continue
                            lns_tid = 101 + len(rep["tunnels"])
                            host = d["avps"].get(AVP_HOST, b"").decode(errors="replace")
                            t = {"lns_tid": lns_tid, "lac_tid": lac_tid, "peer_ip": ip, "peer_port": port,
                                 "host": host, "hidden": AVP_TUNNEL_ID in d["hidden"], "sccrq": 1,
                                 "sccrq_to_port": lport, "sccrq_ns": d["ns"], "scccn": False, "stopped": False,
                                 "data_rx": 0, "echo_tx": 0, "data_from": [], "foreign": 0, "t": round(now() - t0, 3)}
                            t["_sccrp"] = ctrl(lac_tid, 0, 1, msg_avps(SCCRP, "lab-lns", lns_tid))
                            rep["tunnels"].append(t)
                            by_key[key] = t
                            by_lns[lns_tid] = t
                            L("SCCRQ from %s:%d host %s tunnel id %d%s -> our tunnel %d", ip, port, host, lac_tid,
                              " (hidden)" if t["hidden"] else "", lns_tid)
                            tx.sendto(t["_sccrp"], (ip, port))
                            continue
                        t = by_lns.get(d["tid"])
                        if t is None:
                            rep["unknown"] += 1
                            continue
                        if mt == SCCCN:
                            t["scccn"] = True
                            tx.sendto(ctrl(t["lac_tid"], 1, (d["ns"] or 0) + 1), (ip, port))
                        elif mt == STOPCCN:
                            if not t["stopped"]:
                                L("StopCCN for tunnel %d (host %s)", t["lns_tid"], t["host"])
                            t["stopped"] = True
                            tx.sendto(ctrl(t["lac_tid"], 1, (d["ns"] or 0) + 1), (ip, port))
                        continue
                    t = by_lns.get(d["tid"])
                    if t is None:
                        rep["unknown"] += 1
                        continue
                    t["data_rx"] += 1
                    fr = "%s:%d" % (ip, port)
                    if fr not in t["data_from"]:
                        t["data_from"].append(fr)
                    tg = untag(d["payload"])
                    if tg is None or str(tg[1]) != t["host"].lstrip("c"):
                        t["foreign"] += 1
                    payload = d["payload"] + bytes(max(0, a.echo_size - len(d["payload"])))
                    echo = struct.pack("!HHH", DATA_FLAGS, t["lac_tid"], d["sid"]) + payload
                    tx.sendto(echo, (ip, port))
                    t["echo_tx"] += 1
    except Terminated as e:
        rep["errors"].append(str(e))
    for t in rep["tunnels"]:
        t.pop("_sccrp", None)
    write_report(a.report, rep)
    L("%d tunnels, %d data messages echoed", len(rep["tunnels"]), sum(t["echo_tx"] for t in rep["tunnels"]))
    return 0


# ---------------------------------------------------------------- LAC

def run_lac(a):
    t0 = now()
    deadline = t0 + a.max_time
    L = lambda *x: log(a.name, t0, *x)  # noqa: E731
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("", a.local_port))
    secret = a.secret.encode()
    rep = {"role": "lac", "name": a.name, "index": a.index, "tunnel_id": a.tunnel_id, "hidden": a.hidden,
           "phase": a.phase, "count": a.count, "up": False, "sccrq_sent": 0, "sccrp_from": None,
           "lns_tid": None, "data_tx": 0, "echo_seqs": [], "echo_dups": 0, "foreign": [], "ctrl_rx": [],
           "stopped": False, "errors": []}
    server = (a.server, a.port)
    try:
        sccrq = ctrl(0, 0, 0, msg_avps(SCCRQ, a.name, a.tunnel_id, secret if a.hidden else None))
        peer = None
        for attempt in range(a.tries):
            sock.sendto(sccrq, server)
            rep["sccrq_sent"] += 1
            t_end = min(now() + a.retry, deadline)
            while now() < t_end and peer is None:
                r, _, _ = select.select([sock], [], [], max(0.0, t_end - now()))
                if not r:
                    break
                pkt, src = sock.recvfrom(4096)
                d = parse(pkt)
                if d and d["ctrl"]:
                    rep["ctrl_rx"].append(MSG_NAME.get(d["mtype"], str(d["mtype"])))
                if d and d["ctrl"] and d["mtype"] == SCCRP:
                    if d["tid"] != a.tunnel_id:
                        rep["foreign"].append("SCCRP for tunnel %d from %s:%d" % (d["tid"], src[0], src[1]))
                        continue
                    peer = src
                    rep["lns_tid"] = avp_u16(d, AVP_TUNNEL_ID)
            if peer is not None or now() >= deadline:
                break
        if peer is None:
            rep["errors"].append("no SCCRP after %d SCCRQs" % rep["sccrq_sent"])
            L("no SCCRP")
            return 1
        rep["up"] = True
        rep["sccrp_from"] = [peer[0], peer[1]]
        L("SCCRP from %s:%d: LNS tunnel %s (after %d SCCRQ)", peer[0], peer[1], rep["lns_tid"], rep["sccrq_sent"])
        sock.sendto(ctrl(rep["lns_tid"], 1, 1, avp(AVP_MSG_TYPE, struct.pack("!H", SCCCN))), peer)
        seqs = set()

        def receive(timeout):
            r, _, _ = select.select([sock], [], [], timeout)
            if not r:
                return
            while True:
                try:
                    pkt, src = sock.recvfrom(4096, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    return
                d = parse(pkt)
                if d is None:
                    rep["foreign"].append("not L2TPv2 from %s:%d" % src)
                    continue
                if d["ctrl"]:
                    rep["ctrl_rx"].append(MSG_NAME.get(d["mtype"], str(d["mtype"])))
                    if d["tid"] != a.tunnel_id:
                        rep["foreign"].append("control for tunnel %d" % d["tid"])
                    continue
                tg = untag(d["payload"])
                if d["tid"] != a.tunnel_id or tg is None or tg[0] != a.phase or tg[1] != a.index:
                    rep["foreign"].append("data tunnel %d tag %s" % (d["tid"], tg))
                    continue
                if tg[2] in seqs:
                    rep["echo_dups"] += 1
                seqs.add(tg[2])

        for seq in range(a.count):
            if now() > deadline:
                break
            sock.sendto(struct.pack("!HHH", DATA_FLAGS, rep["lns_tid"], a.session_id) +
                        tag(a.phase, a.index, seq, a.size), peer)
            rep["data_tx"] += 1
            if a.paced:
                t_next = now() + a.interval
                while now() < t_next:
                    receive(max(0.0, t_next - now()))
            else:
                receive(a.interval)
        t_end = min(now() + a.rx_wait, deadline)
        while now() < t_end and len(seqs) < a.count:
            receive(0.05)
        rep["echo_seqs"] = sorted(seqs)
        rep["echoes_at_ready"] = len(seqs)
        rep["foreign_at_ready"] = len(rep["foreign"])
        L("%d/%d echoes, %d foreign", len(seqs), a.count, len(rep["foreign"]))
        write_report(a.report, rep)
        touch(a.ready_file)
        if a.release_file:
            while now() < deadline - 1 and not os.path.exists(a.release_file):
                receive(0.1)
        rep["echo_seqs"] = sorted(seqs)
        if a.stop:
            sock.sendto(ctrl(rep["lns_tid"], 2, 1, stopccn_avps(a.tunnel_id)), peer)
            rep["stopped"] = True
            receive(0.3)
    except Terminated as e:
        rep["errors"].append(str(e))
    finally:
        write_report(a.report, rep)
    return 0 if rep["up"] and not rep["errors"] else 1


# ---------------------------------------------------------------- analyze

def run_analyze(a):
    ck = Checks("[%s] " % a.label if a.label else "")
    lns = json.load(open(a.lns_report))
    lacs = []
    for p in a.reports:
        try:
            lacs.append(json.load(open(p)))
        except (OSError, ValueError) as e:
            lacs.append({"name": os.path.basename(p), "up": False, "errors": ["no report: %s" % e],
                         "echo_seqs": [], "foreign": [], "hidden": False, "count": a.count, "sccrp_from": None,
                         "index": -1})
    n = len(lacs)
    ppn = set(a.per_port_nat.split(",")) if a.per_port_nat else set()
    up = [c for c in lacs if c.get("up")]
    ck.ok(len(up) == n, "%d/%d tunnels set up (SCCRP received)" % (len(up), n),
          short("%s: %s" % (c["name"], "; ".join(c.get("errors", []))) for c in lacs if not c.get("up")))
    rp = a.reply_port or 1701
    bad_from = ["%s %s" % (c["name"], c["sccrp_from"]) for c in up
                if c["sccrp_from"] != [a.server_ip, rp]]
    ck.ok(not bad_from, "every SCCRP came from %s:%d" % (a.server_ip, rp), short(bad_from))
    delivered = sum(len(c.get("echo_seqs", [])) for c in lacs)
    want = sum(c.get("count", a.count) for c in lacs)
    mis = sum(len(c.get("foreign", [])) for c in lacs)
    short_lacs = ["%s %d/%d" % (c["name"], len(c.get("echo_seqs", [])), c.get("count", a.count)) for c in lacs
                  if len(c.get("echo_seqs", [])) < c.get("count", a.count)]
    ck.ok(delivered == want, "all echoes delivered to their own LAC", "%d/%d%s" % (
        delivered, want, (": " + short(short_lacs)) if short_lacs else ""))
    ck.ok(mis == 0, "0 misdelivered (wrong Tunnel ID or another LAC's payload)",
          "%d: %s" % (mis, short(f for c in lacs for f in c.get("foreign", []))) if mis else "0")
    tids = [c.get("tunnel_id") for c in lacs]
    ck.ok(all(c.get("echo_seqs") is not None for c in lacs) and len(set(tids)) <= 1,
          "every LAC used the same Assigned Tunnel ID", ",".join(sorted(set(str(t) for t in tids))))
    # The LNS's view.
    ts = {t["host"]: t for t in lns["tunnels"]}
    names = {c["name"] for c in lacs}
    ck.ok(set(ts) == names and len(lns["tunnels"]) == n, "the LNS saw exactly one tunnel per LAC",
          "%d tunnels, hosts %s" % (len(lns["tunnels"]), short(sorted(ts))))
    lac_ids = [t["lac_tid"] for t in lns["tunnels"] if not t["hidden"]]
    nvis = sum(1 for c in lacs if not c.get("hidden"))
    ck.ok(len(set(lac_ids)) == nvis, "the LNS saw %d distinct (visible) tunnel IDs" % nvis,
          "%s" % short(sorted(set(lac_ids)), 10))
    bad_src = []
    for t in lns["tunnels"]:
        if t["peer_ip"] != a.public_ip:
            bad_src.append("%s from %s" % (t["host"], t["peer_ip"]))
        elif t["host"] in ppn:
            if not 61000 <= t["peer_port"] <= 61999:
                bad_src.append("%s from port %d (want 61000-61999)" % (t["host"], t["peer_port"]))
        elif t["peer_port"] != a.lac_port:
            bad_src.append("%s from port %d" % (t["host"], t["peer_port"]))
    ck.ok(not bad_src, "every SCCRQ came from %s, source port %d%s" % (
        a.public_ip, a.lac_port, " (per-port NAT: 61000-61999 for %s)" % ",".join(sorted(ppn)) if ppn else ""),
        short(bad_src) or ", ".join("%s:%d" % (t["host"], t["peer_port"]) for t in lns["tunnels"][:3]) + " ...")
    if ppn:
        hid = sorted(t["host"] for t in lns["tunnels"] if t["hidden"])
        ck.ok(hid == sorted(ppn), "the LNS read the hidden Assigned Tunnel ID of %s" % ",".join(sorted(ppn)),
              ",".join(hid))
    bad_data = ["%s rx %d foreign %d" % (t["host"], t["data_rx"], t["foreign"]) for t in lns["tunnels"]
                if t["foreign"] or t["data_rx"] < a.count]
    ck.ok(not bad_data, "the LNS got every LAC's data on the right tunnel", short(bad_data) or
          "%d messages" % sum(t["data_rx"] for t in lns["tunnels"]))
    ck.ok(lns.get("unknown", 0) == 0, "no message for an unknown LNS tunnel", str(lns.get("unknown", 0)))
    summary = {"tunnels": len(lns["tunnels"]), "up": len(up), "delivered": delivered, "expected": want,
               "misdelivered": mis, "lac_ids": sorted(set(lac_ids)),
               "sccrq_retransmits": lns.get("sccrq_retransmits", 0),
               "peers": ["%s:%d" % (t["peer_ip"], t["peer_port"]) for t in lns["tunnels"]]}
    if a.summary:
        write_report(a.summary, summary)
    print("  .. [%s] tunnels %d, echoes %d/%d, misdelivered %d, LAC ids at the LNS %s, SCCRQ retransmits %d" % (
        a.label, len(lns["tunnels"]), delivered, want, mis, short(sorted(set(lac_ids)), 10),
        summary["sccrq_retransmits"]))
    return 0 if ck.failed == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--max-time", type=float, default=30, help="hard bound on the run, seconds")
    common.add_argument("--report", required=True, help="JSON report file")
    common.add_argument("--ready-file", help="created when ready (LNS: listening; LAC: echoes received)")
    common.add_argument("--secret", default="vpnpt-lab-secret", help="shared secret for hidden AVPs")
    s = sub.add_parser("lns", parents=[common], help="crafted LNS (run in the server namespace)")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, default=L2TP_PORT)
    s.add_argument("--reply-port", type=int, default=0, help="send (and receive) on this port too")
    s.add_argument("--expect", type=int, default=0, help="exit once this many tunnels were stopped (0: at max-time)")
    s.add_argument("--echo-size", type=int, default=0,
                   help="pad each echoed payload to this many bytes (above the MTU: the echoes are fragmented)")
    c = sub.add_parser("lac", parents=[common], help="crafted LAC (run in a client namespace)")
    c.add_argument("--server", required=True)
    c.add_argument("--port", type=int, default=L2TP_PORT)
    c.add_argument("--local-port", type=int, default=L2TP_PORT)
    c.add_argument("--name", required=True, help="host name (SCCRQ), e.g. c3")
    c.add_argument("--index", type=int, required=True, help="written into every data payload")
    c.add_argument("--phase", type=int, default=1)
    c.add_argument("--tunnel-id", type=int, default=4242)
    c.add_argument("--session-id", type=int, default=1)
    c.add_argument("--hidden", action="store_true", help="hide the Assigned Tunnel ID AVP (H bit)")
    c.add_argument("--count", type=int, default=20)
    c.add_argument("--interval", type=float, default=0.02)
    c.add_argument("--paced", action="store_true",
                   help="send a data packet every --interval (default: the next one as soon as an echo arrives, "
                        "--interval at most)")
    c.add_argument("--size", type=int, default=64)
    c.add_argument("--retry", type=float, default=1.0, help="SCCRQ retransmission interval")
    c.add_argument("--tries", type=int, default=5)
    c.add_argument("--rx-wait", type=float, default=3.0, help="max wait for the last echoes")
    c.add_argument("--release-file", help="wait for this file (bounded) before StopCCN")
    c.add_argument("--no-stop", dest="stop", action="store_false", help="do not send StopCCN")
    z = sub.add_parser("analyze", help="check one LNS report and its LAC reports")
    z.add_argument("--label", default="")
    z.add_argument("--lns-report", required=True)
    z.add_argument("--public-ip", required=True)
    z.add_argument("--server-ip", required=True)
    z.add_argument("--lac-port", type=int, default=L2TP_PORT)
    z.add_argument("--reply-port", type=int, default=0)
    z.add_argument("--count", type=int, default=20)
    z.add_argument("--per-port-nat", default="", help="comma-separated LAC names expected under per-port NAT")
    z.add_argument("--summary")
    z.add_argument("reports", nargs="+")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    if a.cmd == "lns":
        return run_lns(a)
    if a.cmd == "lac":
        return run_lac(a)
    return run_analyze(a)


if __name__ == "__main__":
    random.seed()
    sys.exit(main())
