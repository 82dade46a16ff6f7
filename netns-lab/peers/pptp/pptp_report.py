#!/usr/bin/python3
"""Summarises one netns-lab/tests/pptp/real.sh run from the files in its state directory.

    pptp_report.py --state DIR --mode MODE --clients N [--min-replies K]

Reads, for i = 1..N: c<i>.lcp.log (client stand-in), c<i>.syslog (pptp's own
log), c<i>.ip; server.syslog (pptpd/pptpctrl), server-<pid>.log (server
stand-ins, one per call); wan0.pcap and lan0.pcap (router captures, decoded
with tcpdump) if present. Prints CLIENT, SERVER and WIRE lines and a final
RESULT line; exits 0 if every client received >= K LCP Echo-Replies, else 1.
"""

import argparse
import collections
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from lcp_log import lcp_stats, read  # noqa: E402  (the stand-in's log format, shared)




def client_lines(args):
    out, working = [], 0
    for i in range(1, args.clients + 1):
        name = "c%d" % i
        ip = read(os.path.join(args.state, name + ".ip")).strip() or "?"
        ev, exit_reason, _, _ = lcp_stats(read(os.path.join(args.state, name + ".lcp.log")))
        sl = read(os.path.join(args.state, name + ".syslog"))
        ctrl = "yes" if "Client connection established" in sl else "no"
        m = re.search(r"Outgoing call established \(call ID (\d+), peer's call ID (\d+)\)", sl)
        call = "yes" if m else "no"
        cid, pcid = (m.group(1), m.group(2)) if m else ("-", "-")
        problems = []
        for pat in (r"read returned zero, peer has closed", r"Call disconnect notification received",
                    r"connect: [^\n]*", r"Could not [^\n]*", r"Closing connection \([^)]*\)",
                    r"Echo Reply received", r"short read[^\n]*", r"Connection refused"):
            mm = re.search(pat, sl)
            if mm and mm.group(0) not in problems:
                problems.append(mm.group(0))
        ok = ev["echo-rep-rcvd"] >= args.min_replies
        working += ok
        out.append("CLIENT %s ip=%s control=%s call=%s call_id=%s peer_call_id=%s lcp_opened=%s "
                   "echo_req_sent=%d echo_rep_rcvd=%d echo_req_rcvd=%d working=%s" % (
                       name, ip, ctrl, call, cid, pcid, "yes" if ev["opened"] else "no",
                       ev["echo-req-sent"], ev["echo-rep-rcvd"], ev["echo-req-rcvd"],
                       "yes" if ok else "no"))
        notes = []
        if exit_reason:
            notes.append("standin " + exit_reason)
        if problems:
            notes.append("pptp: " + "; ".join(problems))
        if notes:
            out.append("  %s notes: %s" % (name, " | ".join(notes)))
    return out, working


def server_lines(args):
    out = []
    sl = read(os.path.join(args.state, "server.syslog"))
    ctrls = collections.OrderedDict()
    for line in sl.splitlines():
        m = re.search(r"pptpd\[(\d+)\]: (CTRL.*|GRE.*)", line)
        if m:
            ctrls.setdefault(m.group(1), []).append(m.group(2))
    standins = {}
    for f in sorted(glob.glob(os.path.join(args.state, "server-*.log"))):
        t = read(f)
        m = re.search(r" start .* ppid=(\d+)", t)
        ev, exit_reason, _, _ = lcp_stats(t)
        standins[m.group(1) if m else f] = (ev, exit_reason, os.path.basename(f))
    n_calls = 0
    for pid, msgs in ctrls.items():
        joined = "\n".join(msgs)
        if "control connection started" not in joined:
            continue  # the manager or a stand-in launcher line
        started = "Starting call" in joined
        n_calls += started
        err = ""
        for pat in (r"GRE: [^\n]*failed[^\n]*", r"CTRL: GRE read or PTY write failed[^\n]*",
                    r"CTRL: Session timed out[^\n]*", r"CTRL: CTRL read failed",
                    r"CTRL: PTY read or GRE write failed[^\n]*"):
            mm = re.search(pat, joined)
            if mm:
                err = mm.group(0)
                break
        client = re.search(r"Client (\S+) control connection started", joined)
        line = "SERVER pptpctrl=%s client=%s call_started=%s" % (
            pid, client.group(1) if client else "?", "yes" if started else "no")
        si = standins.get(pid)
        if si:
            ev, exit_reason, fname = si
            line += " standin=%s lcp_opened=%s echo_req_sent=%d echo_rep_rcvd=%d echo_req_rcvd=%d" % (
                fname, "yes" if ev["opened"] else "no", ev["echo-req-sent"],
                ev["echo-rep-rcvd"], ev["echo-req-rcvd"])
        out.append(line)
        if err:
            out.append("  pptpctrl %s error: %s" % (pid, err))
    if not ctrls:
        out.append("SERVER no pptpd log (server.syslog empty)")
    return out


def tcpdump(pcap, *filt, verbose=False):
    if not os.path.exists(pcap):
        return []
    cmd = ["tcpdump", "-nn", "-r", pcap] + (["-v"] if verbose else []) + list(filt)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return r.stdout.splitlines()


def wire_lines(args):
    out = []
    for ifname in ("lan0", "wan0"):
        pcap = os.path.join(args.state, ifname + ".pcap")
        if not os.path.exists(pcap):
            continue
        # PPTP control messages that carry Call IDs.
        for line in tcpdump(pcap, "tcp port 1723", verbose=True):
            m = re.search(r"(\S+) > (\S+): .*CTRL_MSGTYPE=(OCRQ|OCRP|CCRQ|CDN) CALL_ID\((\d+)\)"
                          r"(?: PEER_CALL_ID\((\d+)\))?(?:.*RESULT_CODE\((\d+))?", line)
            if m:
                s = "WIRE %s %s %s > %s call_id=%s" % (ifname, m.group(3), m.group(1).rstrip(":"),
                                                       m.group(2).rstrip(":"), m.group(4))
                if m.group(5):
                    s += " peer_call_id=%s" % m.group(5)
                if m.group(6):
                    s += " result=%s" % m.group(6)
                out.append(s)
        # GRE packets per (src, dst, key) and LCP echo content.
        gre = collections.Counter()
        for line in tcpdump(pcap, "proto 47"):
            m = re.search(r"IP (\S+) > (\S+): GREv1.*?call (\d+)", line)
            if m:
                kind = "echo-req" if "Echo-Request" in line else "echo-rep" if "Echo-Reply" in line else "other"
                gre[(m.group(1), m.group(2).rstrip(":"), m.group(3), kind)] += 1
        flows = collections.OrderedDict()
        for (src, dst, key, kind), n in sorted(gre.items()):
            flows.setdefault((src, dst, key), collections.Counter())[kind] += n
        for (src, dst, key), c in flows.items():
            out.append("WIRE %s GRE %s > %s key(call_id)=%s packets=%d (echo-req=%d echo-rep=%d other=%d)" % (
                ifname, src, dst, key, sum(c.values()), c["echo-req"], c["echo-rep"], c["other"]))
        icmp = collections.Counter()
        for line in tcpdump(pcap, "icmp"):
            m = re.search(r"IP (\S+) > (\S+): ICMP (.*?), length", line)
            if m:
                icmp[(m.group(1), m.group(2).rstrip(":"), m.group(3))] += 1
        for (src, dst, what), n in sorted(icmp.items()):
            out.append("WIRE %s ICMP %s > %s '%s' packets=%d" % (ifname, src, dst, what, n))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--state", required=True)
    p.add_argument("--mode", required=True)
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--min-replies", type=int, default=3)
    p.add_argument("--no-wire", action="store_true")
    a = p.parse_args()
    lines, working = client_lines(a)
    lines += server_lines(a)
    if not a.no_wire:
        lines += wire_lines(a)
    for line in lines:
        print(line)
    print("RESULT mode=%s clients=%d working=%d" % (a.mode, a.clients, working))
    return 0 if working == a.clients else 1


if __name__ == "__main__":
    sys.exit(main())
