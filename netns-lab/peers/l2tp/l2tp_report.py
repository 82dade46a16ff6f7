#!/usr/bin/python3
"""Summarises one netns-lab/tests/l2tp/real.sh run from the files in its state directory.

    l2tp_report.py --state DIR --mode MODE --clients N [--min-replies K]
                   [--public IP] [--server IP] [--lns-port P] [--no-wire] [--verbose]

Reads, for i = 1..N: c<i>.log (the LAC xl2tpd's stderr), c<i>.lcp.log (its
pppd stand-in), c<i>.ip; lns.log (the LNS xl2tpd), lns-<pid>.lcp.log (one
LNS-side stand-in per session); conntrack.txt (router's UDP conntrack
entries); wan0.pcap and lan0.pcap (router captures, decoded with tcpdump)
if present. Prints CLIENT, LNS, IDS and WIRE lines and a final RESULT line;
exits 0 if every client received >= K LCP Echo-Replies, else 1.
"""

import argparse
import collections
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from lcp_log import lcp_stats, read  # noqa: E402  (the stand-in's log format, shared)




RE_TUN = re.compile(r"Connection established to (\S+), (\d+)\.\s+Local: (\d+), Remote: (\d+)")
RE_CALL_LAC = re.compile(r"Call established with (\S+), Local: (\d+), Remote: (\d+)")
RE_CALL_LNS = re.compile(r"Call established with (\S+), PID: (\d+), Local: (\d+), Remote: (\d+)")
PROBLEMS = (r"Maximum retries exceeded[^\n]*", r"Connection closed to [^\n]*", r"Peer requested tunnel [^\n]*",
            r"Can not find tunnel [^\n]*", r"recvfrom returned error[^\n]*", r"udp_xmit failed[^\n]*",
            r"Unable to [^\n]*", r"Exec of [^\n]*", r"pppd exited[^\n]*", r"pppd terminated[^\n]*",
            r"can't find call[^\n]*", r"Unable to deliver closing message[^\n]*")


def problems(text):
    out = []
    for pat in PROBLEMS:
        for m in re.finditer(pat, text):
            s = re.sub(r"^\w+\[\d+\]: ", "", m.group(0)).strip()
            if s not in out:
                out.append(s)
    return out


def conntrack_ports(text):
    """client ip -> (orig sport, public port the server sees)."""
    out = {}
    for line in text.splitlines():
        m = re.search(r"src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+) .*?src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)", line)
        if m:
            out.setdefault(m.group(1), []).append((m.group(3), m.group(8), m.group(2), m.group(4)))
    return out


def tcpdump(pcap, *filt):
    if not os.path.exists(pcap):
        return []
    cmd = ["tcpdump", "-nn", "-r", pcap] + list(filt)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return r.stdout.splitlines()


def split_hp(s):
    s = s.rstrip(":")
    h, _, p = s.rpartition(".")
    return h, p


def wire(args):
    """Per interface: SCCRQ/SCCRP list, data flows, ICMP errors."""
    res = {}
    for ifname in ("lan0", "wan0"):
        pcap = os.path.join(args.state, ifname + ".pcap")
        if not os.path.exists(pcap):
            continue
        ctl, flows, icmp, other_udp = [], collections.OrderedDict(), collections.Counter(), collections.Counter()
        for line in tcpdump(pcap):
            m = re.search(r"IP (\S+) > (\S+): ICMP (.*?), length", line)
            if m:
                icmp[(m.group(1), m.group(2).rstrip(":"), m.group(3))] += 1
                continue
            m = re.search(r"IP (\S+) > (\S+):\s+l2tp:\[(\w*)\]\((\d+)/(\d+)\)(.*)", line)
            if m:
                src, dst, flags, tid, sid, rest = m.groups()
                mt = re.search(r"\*MSGTYPE\((\w+)\)", rest)
                if mt:
                    at = re.search(r"\*ASSND_TUN_ID\((\d+)\)", rest)
                    ctl.append((mt.group(1), src, dst.rstrip(":"), tid, at.group(1) if at else ""))
                    continue
                if "T" in flags:  # ZLB acks
                    key, kind = (src, dst.rstrip(":"), "%s/%s" % (tid, sid)), "zlb"
                else:
                    key = (src, dst.rstrip(":"), "%s/%s" % (tid, sid))
                    kind = ("echo-req" if "Echo-Request" in rest else "echo-rep" if "Echo-Reply" in rest
                            else "lcp-conf" if "Conf-" in rest else "other")
                flows.setdefault(key, collections.Counter())[kind] += 1
                continue
            m = re.search(r"IP (\S+) > (\S+): UDP, length", line)
            if m:
                other_udp[(m.group(1), m.group(2).rstrip(":"))] += 1
        res[ifname] = (ctl, flows, icmp, other_udp)
    return res


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--state", required=True)
    p.add_argument("--mode", required=True)
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--min-replies", type=int, default=3)
    p.add_argument("--public", default="")
    p.add_argument("--server", default="")
    p.add_argument("--lns-port", default="1701")
    p.add_argument("--no-wire", action="store_true")
    p.add_argument("--verbose", action="store_true", help="also list the data flows seen on lan0")
    a = p.parse_args()
    st = a.state

    lns_log = read(os.path.join(st, "lns.log"))
    lns_tunnels = {}  # (lns tid, lac tid) -> (peer addr, peer port)
    for m in RE_TUN.finditer(lns_log):
        lns_tunnels[(m.group(3), m.group(4))] = (m.group(1), m.group(2))
    lns_calls = {}  # (lns sid, lac sid) -> stand-in pid
    for m in RE_CALL_LNS.finditer(lns_log):
        lns_calls[(m.group(3), m.group(4))] = m.group(2)
    ct = conntrack_ports(read(os.path.join(st, "conntrack.txt")))
    w = {} if a.no_wire else wire(a)
    # Port the LNS answered from: the source port of the SCCRP that reached
    # the client (lan0), else of the SCCRP sent to the client's public port
    # (wan0; then it was not forwarded), else of any undecoded UDP sent to
    # that public port (an answer from a port other than 1701 is not
    # decoded as L2TP by tcpdump).
    def replied_from(ip, pub_port):
        for (mt, src, dst, tid, at) in w.get("lan0", ([], {}, {}, {}))[0]:
            if mt == "SCCRP" and split_hp(dst)[0] == ip:
                return split_hp(src)[1]
        wan = w.get("wan0", ([], {}, {}, {}))
        for (mt, src, dst, tid, at) in wan[0]:
            if mt == "SCCRP" and dst == "%s.%s" % (a.public, pub_port):
                return split_hp(src)[1] + "(wan0-only)"
        for (src, dst), n in wan[3].items():
            if split_hp(src)[0] == a.server and dst == "%s.%s" % (a.public, pub_port):
                return split_hp(src)[1] + "(wan0-only,udp)"
        return "-"

    lines, working, lac_tids, lns_tids = [], 0, [], []
    for i in range(1, a.clients + 1):
        name = "c%d" % i
        ip = read(os.path.join(st, name + ".ip")).strip() or "?"
        log = read(os.path.join(st, name + ".log"))
        ev, exit_reason, magic, peer_magic = lcp_stats(read(os.path.join(st, name + ".lcp.log")))
        mt = RE_TUN.search(log)
        mc = RE_CALL_LAC.search(log)
        lac_tid, lns_tid = (mt.group(3), mt.group(4)) if mt else ("-", "-")
        lac_sid, lns_sid = (mc.group(2), mc.group(3)) if mc else ("-", "-")
        if lac_tid != "-":
            lac_tids.append(lac_tid)
            lns_tids.append(lns_tid)
        # the LAC's own tunnel id as sent in its SCCRQ, even if the tunnel never came up
        sccrq_tid = "-"
        for (mtp, src, dst, tid, at) in (w.get("lan0", ([], {}, {}, {}))[0]):
            if mtp == "SCCRQ" and split_hp(src)[0] == ip:
                sccrq_tid = at
                break
        if lac_tid == "-" and sccrq_tid != "-":
            lac_tids.append(sccrq_tid)
        pub_port = "-"
        for (osport, pport, dst, dport) in ct.get(ip, []):
            if dport == a.lns_port and (not a.server or dst == a.server):
                pub_port = pport
                break
        lns_view = lns_tunnels.get((lns_tid, lac_tid))
        ok = ev["echo-rep-rcvd"] >= a.min_replies
        working += ok
        lines.append(
            "CLIENT %s ip=%s public_port=%s tunnel=%s session=%s lac_tunnel_id=%s lns_tunnel_id=%s "
            "lac_session_id=%s lns_session_id=%s lns_replied_from=%s lcp_opened=%s "
            "echo_req_sent=%d echo_rep_rcvd=%d echo_req_rcvd=%d working=%s" % (
                name, ip, pub_port, "yes" if mt else "no", "yes" if mc else "no",
                lac_tid if lac_tid != "-" else ("(sccrq:%s)" % sccrq_tid if sccrq_tid != "-" else "-"),
                lns_tid, lac_sid, lns_sid, replied_from(ip, pub_port),
                "yes" if ev["opened"] else "no", ev["echo-req-sent"], ev["echo-rep-rcvd"],
                ev["echo-req-rcvd"], "yes" if ok else "no"))
        notes = []
        if lns_view:
            notes.append("LNS sees it as %s:%s" % lns_view)
        elif mt:
            notes.append("LNS log has no matching tunnel")
        if not mt and "wan0" in w:
            to_client = "%s.%s" % (a.public, pub_port)
            zlb = sum(c["zlb"] for (src, dst, ts), c in w["wan0"][1].items() if dst == to_client)
            sccrp = any(m_[0] == "SCCRP" and m_[2] == to_client for m_ in w["wan0"][0])
            if zlb and not sccrp:
                notes.append("the LNS acked the SCCRQ with %d ZLB(s) but sent no SCCRP" % zlb)
        if exit_reason:
            notes.append("standin " + exit_reason)
        pr = problems(log)
        if pr:
            notes.append("xl2tpd: " + "; ".join(pr))
        if notes:
            lines.append("  %s notes: %s" % (name, " | ".join(notes)))

    # LNS side
    n_tun = len(RE_TUN.findall(lns_log))
    lines.append("LNS tunnels=%d sessions=%d" % (n_tun, len(lns_calls)))
    for (lsid, csid), pid in lns_calls.items():
        ev, exit_reason, _, _ = lcp_stats(read(os.path.join(st, "lns-%s.lcp.log" % pid)))
        lines.append("LNS session lns_session_id=%s lac_session_id=%s standin_pid=%s lcp_opened=%s "
                     "echo_req_sent=%d echo_rep_rcvd=%d echo_req_rcvd=%d" % (
                         lsid, csid, pid, "yes" if ev["opened"] else "no", ev["echo-req-sent"],
                         ev["echo-rep-rcvd"], ev["echo-req-rcvd"]))
    for (ltid, ctid), (addr, port) in lns_tunnels.items():
        lines.append("LNS tunnel lns_tunnel_id=%s lac_tunnel_id=%s peer=%s:%s" % (ltid, ctid, addr, port))
    pr = problems(lns_log)
    if pr:
        lines.append("  LNS notes: " + "; ".join(pr))

    dup = sorted(t for t, n in collections.Counter(lac_tids).items() if n > 1)
    lines.append("IDS lac_tunnel_ids=%s lns_tunnel_ids=%s lac_collisions=%s" % (
        ",".join(lac_tids) or "-", ",".join(lns_tids) or "-", ",".join(dup) or "none"))

    for ifname, (ctl, flows, icmp, other_udp) in w.items():
        seen = collections.OrderedDict()
        for (mtp, src, dst, tid, at) in ctl:
            if mtp in ("SCCRQ", "SCCRP", "StopCCN"):
                seen[(mtp, src, dst, tid, at)] = seen.get((mtp, src, dst, tid, at), 0) + 1
        for (mtp, src, dst, tid, at), n in seen.items():
            lines.append("WIRE %s %s %s > %s tunnel_id=%s assigned_tunnel_id=%s%s" % (
                ifname, mtp, src, dst, tid, at or "-", " (x%d)" % n if n > 1 else ""))
        if ifname == "lan0" and not a.verbose:
            flows, other_udp = {}, {}  # the same flows as on wan0, before NAT
        for (src, dst, ts), c in sorted(flows.items()):
            lines.append("WIRE %s DATA %s > %s tunnel/session=%s packets=%d (echo-req=%d echo-rep=%d lcp-conf=%d zlb=%d other=%d)" % (
                ifname, src, dst, ts, sum(c.values()), c["echo-req"], c["echo-rep"], c["lcp-conf"],
                c["zlb"], c["other"]))
        for (src, dst), n in sorted(other_udp.items()):
            lines.append("WIRE %s UDP(not decoded as L2TP) %s > %s packets=%d" % (ifname, src, dst, n))
        for (src, dst, what), n in sorted(icmp.items()):
            lines.append("WIRE %s ICMP %s > %s '%s' packets=%d" % (ifname, src, dst, what, n))
    for line in lines:
        print(line)
    print("RESULT mode=%s clients=%d working=%d" % (a.mode, a.clients, working))
    return 0 if working == a.clients else 1


if __name__ == "__main__":
    sys.exit(main())
