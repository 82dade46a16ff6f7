"""The crafted PPTP client (PNS): see __main__.py."""
import json
import os
import socket
import struct
import threading
import time

from labcheck import Log, now
from wire import (
    CDN, CtrlConn, ECHORQ, GreRx, MSG_NAME, OCRP, PPTP_PORT, SCCRP, STOPCCRP, gre_build, msg_ccrq,
    msg_echorp, msg_ocrq, msg_sccrq, msg_sli, msg_stopccrq, set_nodelay, tag)


def wait_file(path, deadline):
    while now() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


class Client:
    def __init__(self, a):
        self.a = a
        self.log = Log(a.name)
        self.deadline = now() + a.max_time
        self.lock = threading.Lock()
        self.gre = []
        self.rep = {"role": "client", "name": a.name, "index": a.index, "phase": a.phase, "count": a.count,
                    "call_ids": [a.call_id + k for k in range(a.calls)], "split_ocrq": a.split_ocrq,
                    "ccrq_one_send": a.ccrq_one_send, "sccrp_result": None, "calls": [], "cdn_ids": [],
                    "stopccrp": None, "echo_requests": [], "errors": [], "gre": self.gre, "ok": False}

    def on_gre(self, d):
        with self.lock:
            self.gre.append(d)

    def rx_count(self, k_key):
        with self.lock:
            return len({g.get("seq") for g in self.gre if g.get("key") == k_key and g.get("dir") == 1
                        and g.get("phase") == self.a.phase})

    def expect(self, cc, want):
        """Next non-echo control message; answers Echo-Requests on the way."""
        while True:
            m = cc.recv()
            if m is None:
                raise EOFError("server closed the control connection while waiting for %s" % MSG_NAME[want])
            mtype, msg = m
            if mtype == ECHORQ:
                ident = struct.unpack("!I", msg[12:16])[0]
                self.rep["echo_requests"].append(ident)
                cc.send(msg_echorp(ident))
                continue
            if mtype != want:
                raise ValueError("expected %s, got %s" % (MSG_NAME[want], MSG_NAME.get(mtype, mtype)))
            return msg

    def run(self):
        a = self.a
        rx = GreRx(self.log, self.on_gre)
        rx.start()
        try:
            self.session(rx)
        except Exception as e:  # noqa: BLE001 - recorded in the report
            self.rep["errors"].append("%s: %s" % (type(e).__name__, e))
            self.log("ERROR %s: %s", type(e).__name__, e)
        rx.finish(0 if any(e.startswith("Terminated") for e in self.rep["errors"]) else a.grace)
        self.rep["gre_rx_total"] = rx.count
        with self.lock:
            text = json.dumps(self.rep)
        with open(a.report, "w") as f:
            f.write(text)
        self.log("report -> %s (ok=%s)", a.report, self.rep["ok"])
        return 0 if self.rep["ok"] else 1

    def session(self, rx):
        a = self.a
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        set_nodelay(s)
        s.settimeout(5)
        s.connect((a.server, PPTP_PORT))
        self.rep["local"] = list(s.getsockname())
        cc = CtrlConn(s, self.log, self.deadline)
        cc.send(msg_sccrq(a.name))
        msg = self.expect(cc, SCCRP)
        self.rep["sccrp_result"] = msg[14]
        if msg[14] != 1:
            raise ValueError("SCCRP result %d" % msg[14])

        if a.ocrq_one_send:
            cc.send(b"".join(msg_ocrq(a.call_id + k, k, "%s/%d/%d" % (a.name, k, a.phase)) for k in range(a.calls)))
        for k in range(a.calls):
            cid = a.call_id + k
            phone = "%s/%d/%d" % (a.name, k, a.phase)
            m = msg_ocrq(cid, k, phone)
            t_sent = now()
            if a.ocrq_one_send:
                pass  # already sent with the others
            elif a.split_ocrq:
                # Cut inside the Call ID field (bytes 12..13): vpnpt must hold the
                # first part until it knows the whole id, and patch both halves.
                cc.send(m[:a.split_ocrq])
                time.sleep(a.split_delay)
                cc.send(m[a.split_ocrq:])
            else:
                cc.send(m)
            r = self.expect(cc, OCRP)
            sid, peer, result = struct.unpack("!HHB", r[12:17])
            if result != 1 and a.retry_rejected and not a.ocrq_one_send:
                # Refused: ask again for the same call with the same Call ID (a
                # client process restarting its call numbering does the same).
                self.rep.setdefault("rejected", []).append({"k": k, "call_id": cid, "ocrp_peer_id": peer,
                                                             "ocrp_result": result})
                self.log("call %d: OCRQ id %d refused (result %d, peer id %d); asking again", k, cid, result, peer)
                if peer != cid:
                    self.rep["errors"].append("refusing OCRP of call %d names peer call id %d, not ours (%d)" % (
                        k, peer, cid))
                time.sleep(a.retry_delay)
                t_sent = now()
                cc.send(m)
                r = self.expect(cc, OCRP)
                sid, peer, result = struct.unpack("!HHB", r[12:17])
            call = {"k": k, "call_id": cid, "server_id": sid, "ocrp_peer_id": peer, "ocrp_result": result,
                    "ocrp_delay": round(now() - t_sent, 4), "t_ocrp": round(now(), 4)}
            self.rep["calls"].append(call)
            self.log("call %d: OCRQ id %d -> OCRP server id %d, peer id %d (want %d), result %d, %.3f s",
                     k, cid, sid, peer, cid, result, call["ocrp_delay"])
            if peer != cid:
                self.rep["errors"].append("OCRP of call %d names peer call id %d, not ours (%d)" % (k, peer, cid))
            if result != 1:
                raise ValueError("OCRP of call %d: result %d" % (k, result))
            if a.sli:
                cc.send(msg_sli(sid))  # as pptp-linux does: PNS -> PAC, the PAC's id

        # GRE: pptpd already sends; the client starts later.
        time.sleep(a.gre_delay)
        t_first = t_prev = now()
        tx_max_gap = 0.0
        for seq in range(a.count):
            t = now()
            tx_max_gap, t_prev = max(tx_max_gap, t - t_prev), t
            for call in self.rep["calls"]:
                pkt = gre_build(call["server_id"], seq, tag(a.phase, 0, a.index, call["k"], seq, a.size))
                rx.sock.sendto(pkt, (a.server, 0))
            time.sleep(a.interval)
        self.rep["gre_sent_per_call"] = a.count
        # The longest pause between two of its sends (the machine's scheduling, not the network).
        self.rep["tx_max_gap"] = round(tx_max_gap, 4)
        self.rep["t_first_gre_tx"] = round(t_first, 4)
        # Wait for the server's packets (they started before ours).
        end = min(self.deadline, now() + a.rx_wait)
        while now() < end and any(self.rx_count(c["call_id"]) < a.count for c in self.rep["calls"]):
            time.sleep(0.05)
        self.rep["rx_at_ready"] = {str(c["call_id"]): self.rx_count(c["call_id"]) for c in self.rep["calls"]}
        if a.ready_file:
            open(a.ready_file, "w").close()
        if a.release_file and not wait_file(a.release_file, self.deadline):
            raise TimeoutError("release file %s never appeared" % a.release_file)

        # Tear down: CCRQ per call (or all in one send()), CDN, StopCCRQ, StopCCRP.
        ccrqs = [msg_ccrq(c["call_id"]) for c in self.rep["calls"]]
        if a.ccrq_one_send:
            cc.send(b"".join(ccrqs))
        else:
            for m in ccrqs:
                cc.send(m)
        for _ in ccrqs:
            r = self.expect(cc, CDN)
            self.rep["cdn_ids"].append(struct.unpack("!H", r[12:14])[0])
        cc.send(msg_stopccrq())
        r = self.expect(cc, STOPCCRP)
        self.rep["stopccrp"] = r[12]
        s.shutdown(socket.SHUT_WR)
        # Drain to EOF so the close is orderly (no RST).
        while cc.recv() is not None:
            pass
        s.close()
        self.rep["ctrl_errors"] = cc.errors
        self.rep["rx_types"] = cc.rx_types
        self.rep["ok"] = not self.rep["errors"] and not cc.errors
