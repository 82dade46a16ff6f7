"""`analyze`: checks the JSON reports of one server and its hosts."""
import json
import os
import statistics

from labcheck import Checks, load_reports, short
from wire import KIND_NAME, K_HOST, X_AUTH, hexspi


def fig(v):
    return "%.3f" % v if v is not None else "-"


def analyze(a):
    srv = json.load(open(a.server_report))
    hosts = load_reports(a.host_reports,
                         lambda p, e: {"name": os.path.basename(p).split(".")[0], "missing": str(e)})
    N = srv["count"]
    P = srv["push"]
    ph = srv["phase"]
    C = Checks("[%s] " % a.label if a.label else "")
    nsas = a.children + (1 if a.rekey else 0)
    S = {"hosts": len(hosts), "per_sa": N, "push": P, "sas_per_host": nsas}

    # ---- IKE
    C.ok(not srv["errors"], "server ran cleanly", short(srv["errors"], 3) or "no errors")
    ike_ok = [h["name"] for h in hosts if "missing" not in h and len(h.get("sas", [])) == nsas and not h["errors"]]
    bad = ["%s: %s" % (h["name"], h.get("missing") or "; ".join(h["errors"]) or "%d SAs" % len(h["sas"]))
           for h in hosts if h["name"] not in ike_ok]
    S["ike_completed"] = len(ike_ok)
    C.ok(len(ike_ok) == len(hosts), "every host completed IKE_SA_INIT + IKE_AUTH%s" % (
        " + %d CREATE_CHILD_SA" % (nsas - 1) if nsas > 1 else ""),
         short(bad, 4) if bad else "%d/%d" % (len(ike_ok), len(hosts)))
    peers = sorted({s["peer"][0] for s in srv["ike_sas"]})
    C.ok(peers == [a.public_ip], "every IKE SA at the server came from the public IP %s" % a.public_ip, "peers %s" % peers)
    ports = {s["host"]: s["peer"][1] for s in srv["ike_sas"]}
    S["ike_ports"] = ports
    C.ok(len(set(ports.values())) == len(ports), "each host's IKE has its own public source port (kernel masquerade)",
         "ports %s" % " ".join("%s=%d" % (k, v) for k, v in sorted(ports.items(), key=lambda kv: str(kv[0]))))
    S["server_dup_requests"] = sum(s["dups"] for s in srv["ike_sas"])
    S["retransmits"] = sum(max(0, r["tries"] - 1) for h in hosts for r in h.get("exchanges", []))

    # SPI agreement: the server's table against each host's.
    srv_by = {(c["host"], c["k"]): c for c in srv["children"]}
    agree_bad = []
    for h in hosts:
        for sa in h.get("sas", []):
            c = srv_by.get((h["name"], sa["k"]))
            if c is None or c["x"] != sa["x"] or c["y"] != sa["y"] or c["idx"] != h["index"]:
                agree_bad.append("%s/%d" % (h["name"], sa["k"]))
    C.ok(not agree_bad, "server and hosts agree on every CHILD_SA's SPI pair", short(agree_bad) or
         "%d CHILD_SAs" % len(srv["children"]))
    S["sas"] = [{"host": c["host"], "idx": c["idx"], "k": c["k"], "x": c["x"], "y": c["y"],
                 "ip": next((h.get("ip") for h in hosts if h["name"] == c["host"]), None)} for c in srv["children"]]

    # ---- ESP at the server
    sid2c = {c["sid"]: c for c in srv["children"]}
    per = {c["sid"]: set() for c in srv["children"]}
    odd, unknown, wrong_src = [], 0, 0
    for e in srv["esp"]:
        if "spi" not in e or "bad" in e:
            odd.append("%s from %s" % (e.get("bad"), e.get("src")))
            continue
        if e.get("unknown"):
            unknown += 1
            odd.append("unknown SPI %s from %s (payload idx %s k %s)" % (hexspi(e["spi"]), e["src"], e.get("idx"), e.get("k")))
            continue
        c = sid2c[e["sid"]]
        if e["src"] != a.public_ip:
            wrong_src += 1
            odd.append("%s/%d from %s" % (c["host"], c["k"], e["src"]))
            continue
        if e.get("phase") != ph or e.get("kind") != K_HOST or e.get("idx") != c["idx"] or e.get("k") != c["k"]:
            odd.append("x %s (%s/%d) carried idx %s k %s kind %s" % (hexspi(e["spi"]), c["host"], c["k"], e.get("idx"),
                                                                     e.get("k"), e.get("kind")))
            continue
        per[c["sid"]].add(e["seq"])
    at_server = sum(len(v) for v in per.values())
    S["esp_at_server"] = at_server
    S["esp_at_server_expected"] = len(hosts) * nsas * N
    C.ok(not odd, "server: every ESP packet came from the public IP with a known SPI x and its own host's payload",
         "%d odd: %s" % (len(odd), short(odd, 4)) if odd else "%d packets" % len(srv["esp"]))
    missing = ["%s/%d: %d" % (c["host"], c["k"], len(per[c["sid"]])) for c in srv["children"] if len(per[c["sid"]]) != N]
    no_sa = [h["name"] for h in hosts if not any(c["host"] == h["name"] for c in srv["children"])]
    C.ok(not missing and not no_sa and len(srv["children"]) == len(hosts) * nsas,
         "server: all %d ESP packets of every CHILD_SA arrived" % N,
         ("got %s" % short(missing, 8) if missing else "") + (" no SA for %s" % short(no_sa) if no_sa else "") or
         "%d = %d x %d" % (at_server, len(srv["children"]), N))

    # ---- ESP at the hosts
    y_owner = {c["y"]: c for c in srv["children"]}
    misdelivered, own_total, losses, loss_list, echo_short = 0, 0, 0, [], []
    first_rx_delay = []
    mis_pairs = {}
    for h in hosts:
        name = h["name"]
        Pf = "%s: " % name
        if "missing" in h:
            C.ok(False, Pf + "host report", h["missing"])
            continue
        fdesc = []
        for f in h["foreign"]:
            misdelivered += 1
            o = y_owner.get(f.get("spi"))
            whose = "%s/SA%d" % (o["host"], o["k"]) if o else "unknown SA"
            mis_pairs[(whose, name)] = mis_pairs.get((whose, name), 0) + 1
            fdesc.append("%s %s seq %s (y %s)" % (whose, KIND_NAME.get(f.get("kind")), f.get("seq"),
                                                  hexspi(f["spi"]) if "spi" in f else "-"))
        C.ok(not h["foreign"], Pf + "every ESP packet received is its own (own y, own payload)",
             "%d misdelivered: %s" % (len(fdesc), short(fdesc, 3)) if fdesc else "")
        parts = []
        host_lost = []
        for sa in h["sas"]:
            e, p = len(set(sa["rx_echo"])), len(set(sa["rx_push"]))
            c = srv_by.get((name, sa["k"]))
            # What the server actually sent toward this SA (echoes only for what reached it).
            sent_e = c["echoed"] if c else 0
            sent_p = c["pushed"] if c else 0
            lost = (sent_e - e) + (sent_p - p)
            losses += lost
            loss_list.append(lost)
            host_lost.append(lost)
            own_total += e + p
            if e < N - a.k:
                echo_short.append("%s/%d %d" % (name, sa["k"], e))
            if sa["t_first_rx"] is not None:
                first_rx_delay.append(sa["t_first_rx"] - sa["t_created"])
            miss = sorted(set(range(N)) - set(sa["rx_echo"]))
            parts.append("SA%d x %s y %s: echoes %d/%d push %d/%d lost %d%s%s" % (
                sa["k"], hexspi(sa["x"]), hexspi(sa["y"]), e, N, p, P, lost,
                " (echo seqs %s missing)" % short(miss, 4) if miss and len(miss) < N else "",
                " dups %d" % sa["dups"] if sa["dups"] else ""))
        ok = (len(h["sas"]) == nsas and all(len(set(sa["rx_echo"])) >= N - a.k for sa in h["sas"])
              and all(v <= a.k for v in host_lost))
        desc = Pf + "received >= %d of %d echoes per SA, at most %d lost" % (N - a.k, N, a.k)
        if a.loss_info and not ok:
            print("INFO: %s%s (not checked in this phase): %s" % (C.prefix, desc, "; ".join(parts) or "no SA"))
        else:
            C.ok(ok, desc, "; ".join(parts) or "no SA")
    S["esp_at_hosts"] = own_total
    S["misdelivered"] = misdelivered
    S["misdelivered_pairs"] = ["%s -> %s: %d" % (k[0], k[1], v) for k, v in sorted(mis_pairs.items())]
    S["lost"] = losses
    S["lost_per_sa"] = loss_list
    S["first_rx_after_sa"] = [round(v, 4) for v in first_rx_delay]
    C.ok(misdelivered == 0, "ZERO ESP packets misdelivered to a wrong host",
         "%d misdelivered (%s)" % (misdelivered, short(S["misdelivered_pairs"], 6)) if misdelivered else "0 misdelivered")

    # ---- timing figures
    ex = {}
    for h in hosts:
        for r in h.get("exchanges", []):
            if r.get("wait") is not None:
                ex.setdefault(r["exch"], []).append(r["wait"])
    S["exchange_wait"] = {k: {"min": min(v), "median": statistics.median(v), "max": max(v), "n": len(v)}
                          for k, v in ex.items()}
    starts = [h["tw_start"] for h in hosts if h.get("tw_start")]
    S["start_skew"] = round(max(starts) - min(starts), 4) if starts else None
    auth_first = [r["tw_first"] for h in hosts for r in h.get("exchanges", []) if r["exch"] == "IKE_AUTH" and r["tw_first"]]
    S["auth_send_skew"] = round(max(auth_first) - min(auth_first), 4) if auth_first else None
    auth_done = [r["tw_done"] for h in hosts for r in h.get("exchanges", []) if r["exch"] == "IKE_AUTH" and r["tw_done"]]
    S["last_auth_after_first_send"] = round(max(auth_done) - min(auth_first), 4) if auth_done and auth_first else None
    bound = [sa["tw_first_rx"] for h in hosts for sa in h.get("sas", []) if sa["k"] == 0 and sa.get("tw_first_rx")]
    S["last_first_rx_after_first_auth_send"] = round(max(bound) - min(auth_first), 4) if bound and auth_first else None
    rk_first = [r["tw_first"] for h in hosts for r in h.get("exchanges", []) if r["exch"] == "CREATE_CHILD_SA" and r["tw_first"]]
    rk_done = [r["tw_done"] for h in hosts for r in h.get("exchanges", []) if r["exch"] == "CREATE_CHILD_SA" and r["tw_done"]]
    if rk_first:
        S["rekey_send_skew"] = round(max(rk_first) - min(rk_first), 4)
        S["last_rekey_after_first_send"] = round(max(rk_done) - min(rk_first), 4) if rk_done else None
    # Serialisation as the server saw it: when the IKE_AUTH requests (first copies) arrived.
    ta = sorted(e["tw"] for e in srv["ike_log"] if e.get("exch") == X_AUTH and not e.get("dup") and "bad" not in e)
    S["server_auth_spread"] = round(ta[-1] - ta[0], 4) if ta else None
    S["server_auth_gap"] = round((ta[-1] - ta[0]) / (len(ta) - 1), 4) if len(ta) > 1 else None
    S["first_rx_after_sa_max"] = round(max(first_rx_delay), 4) if first_rx_delay else None
    S["first_rx_after_sa_median"] = round(statistics.median(first_rx_delay), 4) if first_rx_delay else None
    S["late_starts"] = {h["name"]: h.get("auth_late") or h.get("rekey_late") for h in hosts
                        if (h.get("auth_late") or 0) > 0.05 or (h.get("rekey_late") or 0) > 0.05}
    dones = [h["tw_done"] for h in hosts if h.get("tw_done")]
    S["last_host_done_after_start"] = round(max(dones) - min(starts), 4) if dones and starts else None
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(S, f)
    return 0 if C.failed == 0 else 1
