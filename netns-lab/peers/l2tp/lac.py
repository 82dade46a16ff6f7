"""The crafted LAC: see __main__.py."""
import os
import select
import socket
import struct

from labcheck import Log, Terminated, now, touch, write_report
from wire import (
    AVP_MSG_TYPE, AVP_TUNNEL_ID, DATA_FLAGS, MSG_NAME, PUSH_PHASE, SCCCN, SCCRP, SCCRQ, avp, avp_u16, ctrl,
    msg_avps, parse, stopccn_avps, tag, untag)


def run_lac(a):
    t0 = now()
    deadline = t0 + a.max_time
    L = Log(a.name, t0=t0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("", a.local_port))
    secret = a.secret.encode()
    rep = {"role": "lac", "name": a.name, "index": a.index, "tunnel_id": a.tunnel_id, "hidden": a.hidden,
           "phase": a.phase, "count": a.count, "up": False, "sccrq_sent": 0, "sccrp_from": None,
           "lns_tid": None, "data_tx": 0, "echo_seqs": [], "echo_dups": 0, "echo_rx": [], "push_rx": [], "tx_max_gap": 0.0, "foreign": [], "ctrl_rx": [],
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
                if d["tid"] == a.tunnel_id and tg is not None and tg[0] == PUSH_PHASE and tg[1] == a.index:
                    rep["push_rx"].append([tg[2], round(now(), 4)])  # the LNS's own (lns --push): seq, arrival
                    continue
                if d["tid"] != a.tunnel_id or tg is None or tg[0] != a.phase or tg[1] != a.index:
                    rep["foreign"].append("data tunnel %d tag %s" % (d["tid"], tg))
                    continue
                if tg[2] in seqs:
                    rep["echo_dups"] += 1
                seqs.add(tg[2])
                rep["echo_rx"].append([tg[2], round(now(), 4)])  # seq, arrival time

        t_prev = now()
        for seq in range(a.count):
            if now() > deadline:
                break
            t = now()
            rep["tx_max_gap"], t_prev = round(max(rep["tx_max_gap"], t - t_prev), 4), t
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
