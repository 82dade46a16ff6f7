"""The crafted LNS: see __main__.py."""
import select
import socket
import struct

from labcheck import Log, Terminated, now, touch, write_report
from wire import (
    AVP_HOST, AVP_TUNNEL_ID, DATA_FLAGS, PUSH_PHASE, SCCCN, SCCRP, SCCRQ, STOPCCN, avp_u16, ctrl, msg_avps,
    parse, tag, untag)


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
    L = Log("lns", t0=t0)
    L("listening on %s:%d, answering from port %d", a.bind, a.port, rep["reply_port"])

    def stopped_all():
        return len(rep["tunnels"]) >= a.expect and all(t["stopped"] for t in rep["tunnels"])

    def push_due():
        """Sends the data messages of --push that are due; returns the time the next one is."""
        nxt = now() + 0.1
        for t in rep["tunnels"]:
            if "push_at" not in t or t["stopped"] or t["pushed"] >= a.push:
                continue
            while t["pushed"] < a.push and t["push_at"] <= now():
                idx = int(t["host"].lstrip("c")) if t["host"].lstrip("c").isdigit() else 0
                msg = struct.pack("!HHH", DATA_FLAGS, t["lac_tid"], a.push_session) + tag(PUSH_PHASE, idx, t["pushed"], 64)
                tx.sendto(msg, t["push_to"])
                tp = now()
                if t["pushed"]:
                    t["push_tx_max_gap"] = round(max(t["push_tx_max_gap"], tp - t["t_last_push"]), 4)
                t["t_last_push"] = tp
                t["pushed"] += 1
                t["push_at"] += a.push_interval
            if t["pushed"] < a.push:
                nxt = min(nxt, t["push_at"])
        return nxt

    linger_until = None
    try:
        while now() < deadline:
            if linger_until is None and a.expect and stopped_all():
                linger_until = now() + 0.5
            if linger_until is not None and now() > linger_until:
                break
            wait = max(0.0, push_due() - now()) if a.push else 0.1
            r, _, _ = select.select(socks, [], [], wait)
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
                                 "data_rx": 0, "echo_tx": 0, "data_from": [], "data_seqs": [], "foreign": 0, "t": round(now() - t0, 3)}
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
                            if a.push and "push_at" not in t:
                                t.update(push_at=now(), push_to=(ip, port), pushed=0, push_tx_max_gap=0.0)
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
                    else:
                        t["data_seqs"].append([tg[2], round(now(), 4)])  # seq, arrival time (echoed at once)
                    payload = d["payload"] + bytes(max(0, a.echo_size - len(d["payload"])))
                    echo = struct.pack("!HHH", DATA_FLAGS, t["lac_tid"], d["sid"]) + payload
                    tx.sendto(echo, (ip, port))
                    t["echo_tx"] += 1
    except Terminated as e:
        rep["errors"].append(str(e))
    for t in rep["tunnels"]:
        t.pop("_sccrp", None)
        t.pop("push_at", None)
    write_report(a.report, rep)
    L("%d tunnels, %d data messages echoed", len(rep["tunnels"]), sum(t["echo_tx"] for t in rep["tunnels"]))
    return 0
