"""The crafted PPTP server (PAC): see __main__.py."""
import json
import random
import socket
import struct
import threading
import time

from labcheck import Log, Terminated, now
from wire import (
    CCRQ, CtrlConn, ECHORP, ECHORQ, GreRx, IPPROTO_GRE, MSG_NAME, OCRQ, PPTP_PORT, SCCRQ, SLI,
    STOPCCRQ, cstr, gre_build, msg_cdn, msg_echorp, msg_echorq, msg_ocrp, msg_sccrp, msg_stopccrp,
    set_nodelay, tag)


class Server:
    def __init__(self, a):
        self.a = a
        self.log = Log("server")
        self.deadline = now() + a.max_time
        self.lock = threading.Lock()
        self.conns = []        # per connection dict, accept order
        self.calls = []        # per call dict; index = server-side call number
        self.gre = []          # every GRE datagram received
        self.gtx = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_GRE)
        self.used_ids = set()
        self.errors = []
        self.done = threading.Semaphore(0)

    def server_call_id(self, conn_idx, k):
        m = self.a.server_ids
        if m == "pptpd":
            return (conn_idx * 128 + k) & 0xFFFF
        if m == "same":
            return k
        # random, unique in this server
        while True:
            i = random.randint(1, 65535)
            if i not in self.used_ids:
                self.used_ids.add(i)
                return i

    def on_gre(self, d):
        with self.lock:
            self.gre.append(d)

    def send_gre(self, call):
        """pptpd starts sending right after its OCRP, before the client's first packet."""
        a = self.a
        dst = call["ctrl_peer"][0]
        sent = 0
        t_prev = now()
        call["tx_max_gap"] = 0.0
        for seq in range(a.count):
            if now() > self.deadline:
                break
            t = now()
            call["tx_max_gap"], t_prev = round(max(call["tx_max_gap"], t - t_prev), 4), t
            ack = seq if seq % 2 else None  # every other packet with the A bit (optional field)
            pkt = gre_build(call["xlat_id"], seq, tag(a.phase, 1, call["scn"], 0, seq, a.size), ack)
            try:
                self.gtx.sendto(pkt, (dst, 0))
                sent += 1
            except OSError as e:
                self.log("GRE send to %s failed: %s", dst, e)
            time.sleep(a.interval)
        call["gre_sent"] = sent

    def handle(self, conn_idx, sock, peer):
        a = self.a
        c = {"idx": conn_idx, "peer": list(peer), "host": None, "calls": [], "errors": [], "ccrq_ids": [],
             "sli_ids": [], "echo_replies": [], "stop": False, "closed": False}
        with self.lock:
            self.conns.append(c)
        set_nodelay(sock)
        cc = CtrlConn(sock, self.log, self.deadline)
        ncall = 0
        nreject = 0
        echo_sent = False
        try:
            while True:
                m = cc.recv()
                if m is None:
                    break
                mtype, msg = m
                if mtype == SCCRQ:
                    c["host"] = cstr(msg[28:92])
                    self.log("conn %d from %s:%d: SCCRQ host %s", conn_idx, peer[0], peer[1], c["host"])
                    cc.send(msg_sccrp("pac"))
                elif mtype == OCRQ:
                    xlat_id, serial = struct.unpack("!HH", msg[12:16])
                    plen = struct.unpack("!H", msg[36:38])[0]
                    phone = msg[40:40 + plen].decode(errors="replace")
                    if nreject < a.reject_calls:
                        # Refuse it (result 2, General Error), as a busy or misconfigured PAC does.
                        nreject += 1
                        c.setdefault("rejected", []).append({"xlat_id": xlat_id, "phone": phone})
                        self.log("conn %d: OCRQ call id %d phone %s rejected (result 2)", conn_idx, xlat_id, phone)
                        cc.send(msg_ocrp(0, xlat_id, result=2))
                        continue
                    sid = self.server_call_id(conn_idx, ncall)
                    with self.lock:
                        scn = len(self.calls)
                        call = {"scn": scn, "conn": conn_idx, "host": c["host"], "k": ncall, "phone": phone,
                                "serial": serial, "xlat_id": xlat_id, "server_id": sid, "ctrl_peer": list(peer),
                                "ccrq": None, "gre_sent": 0, "t_ocrq": round(now(), 4)}
                        self.calls.append(call)
                    c["calls"].append(scn)
                    ncall += 1
                    self.log("conn %d: OCRQ call id %d (as it arrived: the translated id) phone %s -> server id %d",
                             conn_idx, xlat_id, phone, sid)
                    m = msg_ocrp(sid, xlat_id)
                    if a.split_ocrp:
                        # Cut inside the peer Call ID field (bytes 14..15) vpnpt rewrites inbound.
                        cc.send(m[:a.split_ocrp])
                        time.sleep(a.split_delay)
                        cc.send(m[a.split_ocrp:])
                    else:
                        cc.send(m)
                    call["t_ocrp"] = round(now(), 4)
                    threading.Thread(target=self.send_gre, args=(call,), daemon=True).start()
                    if ncall == a.echo_after and not echo_sent:
                        echo_sent = True
                        c["echo_sent"] = 0x1000 + conn_idx
                        cc.send(msg_echorq(c["echo_sent"]))
                elif mtype == SLI:
                    c["sli_ids"].append(struct.unpack("!H", msg[12:14])[0])
                elif mtype == CCRQ:
                    cid = struct.unpack("!H", msg[12:14])[0]
                    c["ccrq_ids"].append(cid)
                    match = [self.calls[s] for s in c["calls"] if self.calls[s]["xlat_id"] == cid]
                    if match:
                        match[0]["ccrq"] = cid
                        cc.send(msg_cdn(match[0]["server_id"]))
                        self.log("conn %d: CCRQ %d -> CDN %d", conn_idx, cid, match[0]["server_id"])
                    else:
                        c["errors"].append("CCRQ names call id %d, not one of this connection's (%s)" % (
                            cid, [self.calls[s]["xlat_id"] for s in c["calls"]]))
                        self.log("conn %d: CCRQ for unknown call id %d", conn_idx, cid)
                        cc.send(msg_cdn(cid, result=2))
                elif mtype == ECHORQ:
                    cc.send(msg_echorp(struct.unpack("!I", msg[12:16])[0]))
                elif mtype == ECHORP:
                    c["echo_replies"].append(struct.unpack("!I", msg[12:16])[0])
                elif mtype == STOPCCRQ:
                    c["stop"] = True
                    cc.send(msg_stopccrp())
                    self.log("conn %d: StopCCRQ -> StopCCRP", conn_idx)
                else:
                    c["errors"].append("unexpected %s" % MSG_NAME.get(mtype, mtype))
        except Exception as e:  # noqa: BLE001 - reported, never fatal to the server
            c["errors"].append("%s: %s" % (type(e).__name__, e))
            self.log("conn %d: %s", conn_idx, e)
        c["errors"] += cc.errors
        c["rx"] = cc.rx_types
        c["closed"] = True
        try:
            sock.close()
        except OSError:
            pass
        self.done.release()

    def run(self):
        a = self.a
        rx = GreRx(self.log, self.on_gre)
        rx.start()
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((a.bind, PPTP_PORT))
        ls.listen(64)
        if a.ready_file:
            open(a.ready_file, "w").close()
        self.log("listening on %s:%d, expecting %d connections, server ids %s", a.bind, PPTP_PORT, a.expect, a.server_ids)
        threads = []
        idx = 0
        grace = a.grace
        try:
            while idx < a.expect and now() < self.deadline:
                ls.settimeout(0.2)
                try:
                    s, peer = ls.accept()
                except socket.timeout:
                    continue
                t = threading.Thread(target=self.handle, args=(idx, s, peer), daemon=True)
                t.start()
                threads.append(t)
                idx += 1
            ls.close()
            for t in threads:
                while t.is_alive() and now() < self.deadline:
                    t.join(0.2)
        except Terminated as e:
            self.errors.append(str(e))
            grace = 0
        if idx < a.expect:
            self.errors.append("only %d of %d connections arrived" % (idx, a.expect))
        if any(t.is_alive() for t in threads):
            self.errors.append("a connection was still open at the end")
        rx.finish(grace)
        return self.report()

    def report(self):
        with self.lock:
            rep = {"role": "server", "phase": self.a.phase, "count": self.a.count, "server_ids": self.a.server_ids,
                   "conns": self.conns, "calls": self.calls, "gre": list(self.gre), "errors": self.errors}
            text = json.dumps(rep)
        with open(self.a.report, "w") as f:
            f.write(text)
        self.log("report: %d connections, %d calls, %d GRE received -> %s", len(self.conns), len(self.calls),
                 len(self.gre), self.a.report)
        return 0 if not self.errors else 1
