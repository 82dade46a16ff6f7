"""`analyze`: checks the JSON reports of one server and its clients."""
import json
import os

from labcheck import Checks, load_reports, short


def analyze(a):
    srv = json.load(open(a.server_report))
    clients = load_reports(a.client_reports, lambda p, e: {"name": os.path.basename(p), "missing": str(e)})
    N = srv["count"]
    ph = srv["phase"]
    C = Checks("[%s] " % a.label if a.label else "")
    byname = {c.get("name"): c for c in clients}
    names = sorted(byname, key=lambda n: (len(n or ""), n or ""))
    ncalls = a.calls
    summary = {}

    # ---- server side (1)
    C.ok(not srv["errors"], "server ran cleanly", "; ".join(srv["errors"]) or "no errors")
    hosts = sorted((c["host"] or "?") for c in srv["conns"])
    C.ok(len(srv["conns"]) == len(clients) and set(hosts) == set(names),
         "server accepted one control connection per client", "%d connections from hosts %s" % (len(srv["conns"]), short(hosts, 10)))
    peers = sorted({c["peer"][0] for c in srv["conns"]})
    C.ok(peers == [a.public_ip], "every control connection came from the public IP %s (kernel masquerade)" % a.public_ip,
         "peers %s" % peers)
    conn_err = ["conn %d (%s): %s" % (c["idx"], c["host"], "; ".join(c["errors"])) for c in srv["conns"] if c["errors"]]
    C.ok(not conn_err, "server saw well-formed control messages of RFC length on every connection",
         short(conn_err, 3) if conn_err else "")
    calls = srv["calls"]
    xl = [c["xlat_id"] for c in calls]
    C.ok(len(calls) == ncalls * len(clients), "server got %d calls (%d clients x %d)" % (ncalls * len(clients), len(clients), ncalls),
         "%d" % len(calls))
    C.ok(len(set(xl)) == len(xl), "the %d calls arrived with distinct (translated) call ids" % len(xl),
         "ids %s" % short(sorted(xl), 16))
    ident_bad = []
    for c in calls:
        parts = c["phone"].split("/")
        if len(parts) != 3 or parts[0] != c["host"] or int(parts[2]) != ph:
            ident_bad.append("scn %d phone %r host %r" % (c["scn"], c["phone"], c["host"]))
        else:
            c["client"], c["ck"] = parts[0], int(parts[1])
    C.ok(not ident_bad, "each OCRQ came on its own client's connection (phone number names the client)",
         short(ident_bad, 3))
    tb = {}
    for c in calls:
        ids = byname.get(c.get("client"), {}).get("call_ids", [])
        if "ck" in c and c["ck"] < len(ids) and c["xlat_id"] != ids[c["ck"]]:
            tb[c["client"]] = tb.get(c["client"], 0) + 1
    summary["translated_by_client"] = tb
    summary["translated_calls"] = sum(tb.values())
    summary["xlat_ids"] = sorted(xl)

    # GRE at the server, attributed by payload (client index, call index).
    idx2name = {c.get("index"): c.get("name") for c in clients}
    callof = {(c.get("client"), c.get("ck")): c for c in calls}
    per_call = {c["scn"]: [] for c in calls}
    bad = []
    for g in srv["gre"]:
        if "bad" in g:
            bad.append("%s from %s" % (g["bad"], g.get("src")))
            continue
        if g.get("phase") != ph or g.get("dir") != 0:
            bad.append("phase %s dir %s from %s key %s" % (g.get("phase"), g.get("dir"), g.get("src"), g.get("key")))
            continue
        call = callof.get((idx2name.get(g["a"]), g["b"]))
        if call is None:
            bad.append("payload of unknown call (client %d call %d) key %d" % (g["a"], g["b"], g["key"]))
            continue
        if g["src"] != a.public_ip:
            bad.append("call %s/%d from %s, not the public IP" % (call["client"], call["ck"], g["src"]))
            continue
        if g["key"] != call["server_id"]:
            bad.append("call %s/%d with key %d, server id is %d" % (call["client"], call["ck"], g["key"], call["server_id"]))
            continue
        per_call[call["scn"]].append(g["seq"])
    incomplete = []
    for c in calls:
        s = per_call[c["scn"]]
        if sorted(s) != list(range(N)):
            incomplete.append("%s/%s: %d packets, %d distinct seqs" % (c.get("client"), c.get("ck"), len(s), len(set(s))))
    got = sum(len(v) for v in per_call.values())
    summary["gre_at_server"] = got
    C.ok(not bad, "server: every GRE packet came from the public IP with the right server call id and a known payload",
         "%d odd: %s" % (len(bad), short(bad, 4)) if bad else "%d packets" % len(srv["gre"]))
    C.ok(not incomplete, "server: all %d GRE packets of each of the %d calls arrived exactly once" % (N, len(calls)),
         short(incomplete, 4) if incomplete else "%d = %d x %d" % (got, len(calls), N))
    ccrq_bad = ["%s/%s: CCRQ id %s, translated id %d" % (c.get("client"), c.get("ck"), c["ccrq"], c["xlat_id"])
                for c in calls if c["ccrq"] != c["xlat_id"]]
    C.ok(not ccrq_bad, "server: each call's CCRQ arrived with the call's translated id", short(ccrq_bad, 4))
    if a.sli:
        sli_bad = []
        for cn in srv["conns"]:
            want = sorted(calls[s]["server_id"] for s in cn["calls"])
            if sorted(cn["sli_ids"]) != want:
                sli_bad.append("conn %d: SLI ids %s, server ids %s" % (cn["idx"], cn["sli_ids"], want))
        C.ok(not sli_bad, "server: Set-Link-Info carried the server's own ids untouched", short(sli_bad, 3))
    stop_bad = [cn["host"] for cn in srv["conns"] if not cn["stop"]]
    C.ok(not stop_bad, "server: every connection ended with StopCCRQ", short(stop_bad))

    # ---- client side (2) and (4)
    echo_bad = ["conn %d (%s): sent %s, replies %s" % (cn["idx"], cn["host"], cn.get("echo_sent"), cn["echo_replies"])
                for cn in srv["conns"] if cn["echo_replies"] != ([cn["echo_sent"]] if "echo_sent" in cn else [])]
    C.ok(not echo_bad, "server: every Echo-Request was answered (Echo-Reply, 20 bytes)", short(echo_bad))

    scn2call = {c["scn"]: c for c in calls}
    early_total = 0
    total_ok = 0
    wrong_client = 0
    for name in names:
        cr = byname[name]
        P = "%s: " % name
        if "missing" in cr:
            C.ok(False, P + "client report", cr["missing"])
            continue
        C.ok(not cr["errors"] and cr.get("ok"), P + "client session completed (SCCRP, OCRPs, CDNs, StopCCRP)",
             "; ".join(cr["errors"]) or "")
        ocrp_bad = ["call %d: peer id %d result %d" % (c["k"], c["ocrp_peer_id"], c["ocrp_result"])
                    for c in cr["calls"] if c["ocrp_peer_id"] != c["call_id"] or c["ocrp_result"] != 1]
        C.ok(len(cr["calls"]) == ncalls and not ocrp_bad,
             P + "OCRP peer call ids are the client's own (%s)" % "/".join(str(i) for i in cr["call_ids"]),
             short(ocrp_bad) if ocrp_bad else "OCRP delays %s s" % "/".join("%.3f" % c["ocrp_delay"] for c in cr["calls"]))
        sids = {c["k"]: c["server_id"] for c in cr["calls"]}
        mine = {}
        odd = []
        for g in cr["gre"]:
            if "bad" in g:
                odd.append("%s from %s" % (g["bad"], g.get("src")))
                continue
            call = scn2call.get(g["a"]) if g.get("dir") == 1 and g.get("phase") == ph else None
            if call is None:
                odd.append("foreign packet src %s key %s phase %s dir %s a %s" % (g["src"], g["key"], g.get("phase"), g.get("dir"), g.get("a")))
                continue
            if call.get("client") != name:
                wrong_client += 1
                odd.append("packet of %s/%s (scn %d) key %d" % (call.get("client"), call.get("ck"), call["scn"], g["key"]))
                continue
            want_key = cr["call_ids"][call["ck"]]
            if g["key"] != want_key or g["src"] != a.server_ip:
                odd.append("call %d: key %d (want %d) src %s" % (call["ck"], g["key"], want_key, g["src"]))
                continue
            mine.setdefault(call["ck"], []).append(g["seq"])
        C.ok(not odd, P + "every GRE packet received belongs to this client, from the server, with its original call id",
             "%d odd: %s" % (len(odd), short(odd, 4)) if odd else "%d packets" % len(cr["gre"]))
        counts = {k: len(mine.get(k, [])) for k in range(ncalls)}
        complete = all(sorted(mine.get(k, [])) == list(range(N)) for k in range(ncalls))
        total_ok += sum(counts.values())
        C.ok(complete, P + "all %d GRE packets of each call arrived exactly once" % N,
             " ".join("call%d(id %d)=%d" % (k, cr["call_ids"][k], counts[k]) for k in range(ncalls)))
        first_tx = cr.get("t_first_gre_tx")
        early = sum(1 for g in cr["gre"] if first_tx is not None and g.get("t", 1e18) < first_tx and "bad" not in g
                    and g.get("dir") == 1 and scn2call.get(g.get("a"), {}).get("client") == name)
        early_total += early
        C.ok(early > 0, P + "the server's GRE reached the client before the client sent any (pptpd order)",
             "%d packets before its first" % early)
        cdn_bad = sorted(cr["cdn_ids"]) != sorted(sids.values())
        C.ok(not cdn_bad and cr.get("stopccrp") == 1, P + "CDNs carry the server's ids and StopCCRP result 1",
             "CDN %s, server ids %s, StopCCRP %s" % (cr["cdn_ids"], sorted(sids.values()), cr.get("stopccrp")))
    summary["gre_at_clients"] = total_ok
    summary["gre_wrong_client"] = wrong_client
    summary["gre_before_client_tx"] = early_total
    C.ok(wrong_client == 0, "no GRE packet reached a wrong client", "%d misdelivered" % wrong_client)

    summary["passed"] = C.passed
    summary["failed"] = C.failed
    summary["clients"] = len(clients)
    summary["calls"] = len(calls)
    summary["per_call"] = N
    summary["calls_detail"] = [{"client": c.get("client"), "k": c.get("ck"), "xlat_id": c["xlat_id"],
                                "server_id": c["server_id"]} for c in calls]
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(summary, f)
    return 0 if C.failed == 0 else 1
