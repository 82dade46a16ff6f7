"""`analyze`: checks one LNS report and its LAC reports."""
import json
import os

from labcheck import Checks, load_reports, short, write_report


def run_analyze(a):
    ck = Checks("[%s] " % a.label if a.label else "")
    lns = json.load(open(a.lns_report))
    lacs = load_reports(a.reports, lambda p, e: {
        "name": os.path.basename(p), "up": False, "errors": ["no report: %s" % e], "echo_seqs": [], "foreign": [],
        "hidden": False, "count": a.count, "sccrp_from": None, "index": -1})
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
