#!/usr/bin/env python3
"""The figures and traffic checks of netns-lab/tests/daemon/upgrade.sh.

Reads the crafted peers' reports of one PPTP call, one raw-ESP SA and one L2TP
tunnel (files <dir>/{pptp-client,pptp-server,esp-host,esp-server,lac,lns}.json)
and makes six streams of them, one per protocol and direction:

  pptp out  the client's GRE, as the server received it   in  the server's own GRE
  esp  out  the host's ESP, as the server received it     in  the server's pushes (its own ESP,
                                                              due every --interval, not echoes)
  l2tp out  the LAC's data messages, as the LNS got them  in  the LNS's own data messages (lns --push)

Per stream: packets sent, received (distinct sequence numbers), lost, the
longest inter-arrival gap at the receiver (and when it began, relative to the
SIGTERM of the old daemon; for a stream whose last packets never arrived, up
to --t-end), and the sender's own longest pause between two
sends (a gap the machine's scheduling made, not the gateway). "win gap" is the
longest gap that overlaps the upgrade (--t-stop to --t-ready + --settle). Every
inbound stream is the server's own, independent of the outbound one.

Every lost packet is placed by the arrival times of the received packets
around it (its neighbours in sequence order):
  setup   before the first packet of the stream arrived (an ESP push before
          the first outbound ESP bound the SA)
  before  the next one arrived before --t-stop (the old daemon's SIGTERM)
  after   the previous one arrived after --t-ready + --settle (the new daemon
          attached and serving)
  window  any other: the gap overlaps the upgrade
Checks (PASS/FAIL lines): nothing lost before or after the upgrade; at least
--min-after packets of every stream arrived after it; with --adopted (the new
daemon kept the very programs: nothing in the data path changed) nothing lost
in the window either. Without --adopted the window's losses are figures only.
Then one table: lines starting "MEASURE". Exit 0 if every check passed.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from labcheck import Checks  # noqa: E402

K_HOST, K_PUSH = 0, 2  # peers/ipsec/wire.py


def load(d, name):
    try:
        with open(os.path.join(d, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def streams(d, idx, call_id):
    """(proto, dir, sent seqs, [(seq, t)...] received, sender's longest pause) for each stream."""
    out = []
    pc, ps = load(d, "pptp-client"), load(d, "pptp-server")
    sent = range((pc or {}).get("gre_sent_per_call", 0))
    rx = [(g["seq"], g["t"]) for g in (ps or {}).get("gre", []) if g.get("dir") == 0 and g.get("a") == idx
          and g.get("b") == 0 and "seq" in g]
    out.append(("pptp", "out", set(sent), rx, (pc or {}).get("tx_max_gap")))
    call = ((ps or {}).get("calls") or [{}])[0]
    rx = [(g["seq"], g["t"]) for g in (pc or {}).get("gre", []) if g.get("dir") == 1 and g.get("key") == call_id
          and "seq" in g]
    out.append(("pptp", "in", set(range(call.get("gre_sent", 0))), rx, call.get("tx_max_gap")))

    eh, es = load(d, "esp-host"), load(d, "esp-server")
    sa = ((eh or {}).get("sas") or [{}])[0]
    rx = [(e["seq"], e["t"]) for e in (es or {}).get("esp", []) if e.get("kind") == K_HOST and e.get("idx") == idx
          and e.get("k") == 0 and "bad" not in e and "seq" in e]
    out.append(("esp", "out", set(range(sa.get("sent", 0))), rx, sa.get("tx_max_gap")))
    child = ((es or {}).get("children") or [{}])[0]
    rx = list(zip(sa.get("rx_push", []), sa.get("rx_push_t", [])))
    out.append(("esp", "in", set(range(child.get("pushed", 0))), rx, child.get("push_tx_max_gap")))

    lac, lns = load(d, "lac"), load(d, "lns")
    tun = ((lns or {}).get("tunnels") or [{}])[0]
    rx = [tuple(x) for x in tun.get("data_seqs", [])]
    out.append(("l2tp", "out", set(range((lac or {}).get("data_tx", 0))), rx, (lac or {}).get("tx_max_gap")))
    rx = [tuple(x) for x in (lac or {}).get("push_rx", [])]
    out.append(("l2tp", "in", set(range(tun.get("pushed", 0))), rx, tun.get("push_tx_max_gap")))
    return out


def measure(sent, rx, a):
    first = {}
    for s, t in rx:
        if s not in first or t < first[s]:
            first[s] = t
    got = sorted(first)
    lost = sorted(sent - set(first))
    where = {"setup": 0, "before": 0, "window": 0, "after": 0}
    j = 0
    for s in lost:
        while j < len(got) and got[j] < s:
            j += 1
        tp = first[got[j - 1]] if j > 0 else None
        tn = first[got[j]] if j < len(got) else None
        if tp is None:
            where["setup"] += 1
        elif tn is not None and tn < a.t_stop:
            where["before"] += 1
        elif tp > a.t_ready + a.settle:
            where["after"] += 1
        else:
            where["window"] += 1
    times = sorted(first.values())
    gap, gap_at = 0.0, None
    # A stream whose last packets never came stopped: its gap runs from its last arrival to --t-end.
    ends = times + [a.t_end] if lost and got and lost[-1] > got[-1] and a.t_end else times
    for t0, t1 in zip(ends, ends[1:]):
        if t1 - t0 > gap:
            gap, gap_at = t1 - t0, t0 - a.t_stop
    # The longest of the gaps that overlap the upgrade: [--t-stop, --t-ready + --settle].
    win_gap = max([t1 - t0 for t0, t1 in zip(ends, ends[1:]) if t1 >= a.t_stop and t0 <= a.t_ready + a.settle]
                  or [0.0])
    after = sum(1 for t in times if t > a.t_ready + a.settle)
    return {"sent": len(sent), "received": len(first), "lost": len(lost), "where": where, "gap": gap,
            "gap_at": gap_at, "win_gap": win_gap, "after": after, "lost_seqs": lost}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True, help="the reports' directory")
    ap.add_argument("--index", type=int, default=1, help="the client's index (its payload tags)")
    ap.add_argument("--call-id", type=int, default=1000, help="the PPTP client's Call ID")
    ap.add_argument("--t-stop", type=float, required=True, help="monotonic time of the old daemon's SIGTERM")
    ap.add_argument("--t-ready", type=float, required=True, help="monotonic time the new daemon was ready")
    ap.add_argument("--t-end", type=float, help="monotonic time the traffic was over (a stopped stream's gap ends here)")
    ap.add_argument("--settle", type=float, default=0.5, help="seconds after --t-ready still counted as the window")
    ap.add_argument("--min-after", type=int, default=50, help="packets of every stream that must arrive after it")
    ap.add_argument("--adopted", action="store_true", help="the data path was not changed: nothing may be lost")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    ck = Checks("")
    rows = []
    for proto, dr, sent, rx, txgap in streams(a.dir, a.index, a.call_id):
        m = measure(sent, rx, a)
        m.update(proto=proto, dir=dr, tx_gap=txgap)
        rows.append(m)
        name = "%s %s" % (proto, dr)
        w = m["where"]
        ck.ok(m["sent"] > 0 and m["received"] > 0, "%s: traffic flowed (%d sent, %d received)" % (
            name, m["sent"], m["received"]))
        ck.ok(m["after"] >= a.min_after, "%s: %d packets arrived after the upgrade (at least %d)" % (
            name, m["after"], a.min_after))
        ck.ok(w["before"] == 0 and w["after"] == 0, "%s: nothing lost before or after the upgrade" % name,
              "lost %d before, %d after: seqs %s" % (w["before"], w["after"], m["lost_seqs"][:10])
              if w["before"] or w["after"] else "")
        if a.adopted:
            ck.ok(w["window"] == 0, "%s: nothing lost during the restart (same programs)" % name,
                  "%d lost: seqs %s" % (w["window"], m["lost_seqs"][:10]) if w["window"] else "")
        if w["setup"]:
            print("  .. %s: %d lost before the stream's first packet arrived (setup, not counted)" % (name, w["setup"]))
    # lost: all of them; setup, window: those before the stream's first arrival, during the upgrade.
    # max gap: the longest of the stream (gap at: its start, s after the SIGTERM); win gap: the
    # longest that overlaps the upgrade; tx gap: the sender's longest pause between two sends.
    print("MEASURE %-5s %-3s %6s %8s %5s %5s %6s %11s %9s %11s %10s" % (
        "proto", "dir", "sent", "received", "lost", "setup", "window", "max gap ms", "gap at s", "win gap ms",
        "tx gap ms"))
    for m in rows:
        print("MEASURE %-5s %-3s %6d %8d %5d %5d %6d %11.1f %9s %11.1f %10s" % (
            m["proto"], m["dir"], m["sent"], m["received"], m["lost"], m["where"]["setup"], m["where"]["window"],
            m["gap"] * 1000,
            "%+.2f" % m["gap_at"] if m["gap_at"] is not None else "-", m["win_gap"] * 1000,
            "%.1f" % (m["tx_gap"] * 1000) if m["tx_gap"] is not None else "-"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump([{k: v for k, v in m.items() if k != "lost_seqs"} for m in rows], f, indent=1)
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
