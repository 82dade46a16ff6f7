"""The crafted IKEv2/ESP server: see __main__.py."""
import json
import os
import select
import socket
import time

from labcheck import Log, Terminated, now
from wire import (
    F_INITIATOR, F_RESPONSE, IKE_PORT, K_ECHO, K_PUSH, P_D, P_IDR, P_SA, X_AUTH, X_CREATE_CHILD,
    X_INFO, X_NAME, X_SA_INIT, drain, esp_build, esp_parse, esp_socket, hexspi, ike_msg, ike_parse,
    ike_sk_msg, rand_spi, sa_init_payloads)


class Server:
    def __init__(self, a):
        self.a = a
        self.log = Log("server", wall=True)
        self.deadline = now() + a.max_time
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.udp.bind((a.bind, IKE_PORT))
        self.udp.setblocking(False)
        self.esp = esp_socket()
        self.ike_sas = {}     # spi_i hex -> IKE SA dict
        self.children = []    # CHILD_SAs in creation order
        self.by_x = {}        # x -> child
        self.esp_rx = []      # every ESP datagram received
        self.timers = []      # (time, child, seq) pushes to send
        self.ike_log = []     # every IKE datagram: t, src, exch, msgid, flags, dup
        self.errors = []
        self.esp_tx_errors = 0

    def new_x(self):
        while True:
            x = rand_spi()
            if x not in self.by_x:
                return x

    def add_child(self, sa, y, obj, t):
        x = self.new_x()
        c = {"sid": len(self.children), "host": sa["host"], "idx": sa["idx"], "k": len(sa["children"]), "x": x,
             "y": y, "ike": sa["spi_i"], "peer": list(sa["peer"]), "t": round(t, 4), "tw": round(time.time(), 4),
             "echoed": 0, "pushed": 0, "eseq": 0, "deleted": False, "rekey_of": obj.get("rekey")}
        self.children.append(c)
        self.by_x[x] = c
        sa["children"].append(c["sid"])
        for i in range(self.a.push):
            self.timers.append((t + self.a.push_delay + i * self.a.interval, c, i))
        return c

    def send_esp(self, c, kind, tseq, dst):
        c["eseq"] += 1
        pkt = esp_build(c["y"], c["eseq"], self.a.phase, kind, c["idx"], c["k"], tseq, self.a.size)
        try:
            self.esp.sendto(pkt, (dst, 0))
        except OSError as e:
            self.esp_tx_errors += 1
            self.log("ESP send to %s failed: %s", dst, e)
            return False
        return True

    def on_ike(self, data, peer, t):
        d = ike_parse(data)
        ent = {"t": round(t, 4), "tw": round(time.time(), 4), "src": list(peer)}
        self.ike_log.append(ent)
        if d is None or d["bad"]:
            ent["bad"] = d["bad"] if d else "short"
            self.errors.append("malformed IKE from %s:%d: %s" % (peer[0], peer[1], ent["bad"]))
            return
        ent.update({"exch": d["exch"], "msgid": d["msgid"], "flags": d["flags"], "spi_i": d["spi_i"].hex()})
        if d["flags"] & F_RESPONSE or not d["flags"] & F_INITIATOR:
            ent["bad"] = "not a request from the initiator"
            self.errors.append("IKE flags %#x from %s:%d" % (d["flags"], peer[0], peer[1]))
            return
        key = d["spi_i"].hex()
        sa = self.ike_sas.get(key)
        if d["exch"] == X_SA_INIT:
            if sa is not None:
                ent["dup"] = True
                sa["dups"] += 1
                self.udp.sendto(sa["responses"][0], peer)
                return
            sa = {"spi_i": key, "spi_r": os.urandom(8), "peer": list(peer), "host": None, "idx": None,
                  "children": [], "responses": {}, "dups": 0, "peers_seen": [list(peer)], "t_init": round(t, 4)}
            self.ike_sas[key] = sa
            resp = ike_msg(d["spi_i"], sa["spi_r"], X_SA_INIT, F_RESPONSE, 0, sa_init_payloads())
            sa["responses"][0] = resp
            self.udp.sendto(resp, peer)
            return
        if sa is None or d["spi_r"] != sa["spi_r"]:
            ent["bad"] = "unknown IKE SA"
            self.errors.append("%s for unknown IKE SA %s from %s:%d" % (X_NAME.get(d["exch"]), key, peer[0], peer[1]))
            return
        if list(peer) not in sa["peers_seen"]:
            sa["peers_seen"].append(list(peer))
            self.errors.append("IKE SA %s (%s) moved from %s:%d to %s:%d" % (key, sa["host"], sa["peer"][0],
                                                                             sa["peer"][1], peer[0], peer[1]))
            sa["peer"] = list(peer)
        if d["msgid"] in sa["responses"]:
            ent["dup"] = True
            sa["dups"] += 1
            self.udp.sendto(sa["responses"][d["msgid"]], peer)
            self.log("%s: retransmitted %s request (msgid %d) -> cached response", sa["host"], X_NAME.get(d["exch"]),
                     d["msgid"])
            return
        obj = d["obj"] or {}
        if d["exch"] == X_AUTH:
            sa["host"], sa["idx"] = obj.get("name"), obj.get("index")
            c = self.add_child(sa, obj["y"], obj, t)
            resp = ike_sk_msg(d["spi_i"], sa["spi_r"], X_AUTH, F_RESPONSE, d["msgid"], P_IDR,
                              {"x": c["x"], "y": c["y"], "k": c["k"]})
            self.log("%s (idx %s) IKE_AUTH from %s:%d: y %s -> x %s", sa["host"], sa["idx"], peer[0], peer[1],
                     hexspi(c["y"]), hexspi(c["x"]))
        elif d["exch"] == X_CREATE_CHILD:
            c = self.add_child(sa, obj["y"], obj, t)
            resp = ike_sk_msg(d["spi_i"], sa["spi_r"], X_CREATE_CHILD, F_RESPONSE, d["msgid"], P_SA,
                              {"x": c["x"], "y": c["y"], "k": c["k"]})
            self.log("%s CREATE_CHILD_SA (rekey of %s): y %s -> x %s", sa["host"], obj.get("rekey"), hexspi(c["y"]),
                     hexspi(c["x"]))
        elif d["exch"] == X_INFO:
            for y in obj.get("delete", []):
                for sid in sa["children"]:
                    if self.children[sid]["y"] == y:
                        self.children[sid]["deleted"] = True
                        # Our side of the pair goes too (RFC 7296 1.4.1): stop echoing on x.
                        self.by_x.pop(self.children[sid]["x"], None)
            resp = ike_sk_msg(d["spi_i"], sa["spi_r"], X_INFO, F_RESPONSE, d["msgid"], P_D,
                              {"deleted": obj.get("delete", [])})
        else:
            ent["bad"] = "exchange %d" % d["exch"]
            self.errors.append("unexpected exchange %d from %s" % (d["exch"], sa["host"]))
            return
        sa["responses"][d["msgid"]] = resp
        self.udp.sendto(resp, peer)

    def on_esp(self, pkt, t):
        d = esp_parse(pkt)
        d["t"] = round(t, 4)
        self.esp_rx.append(d)
        if "spi" not in d:
            return
        c = self.by_x.get(d["spi"])
        if c is None:
            d["unknown"] = True
            return
        d["sid"] = c["sid"]
        if "bad" in d:
            return
        # Echo to where it came from, with the SA's own host index (not the packet's).
        if self.send_esp(c, K_ECHO, d["seq"], d["src"]):
            c["echoed"] += 1

    def run(self):
        a = self.a
        if a.ready_file:
            open(a.ready_file, "w").close()
        self.log("listening on %s:%d (phase %d, push %d per CHILD_SA)", a.bind, IKE_PORT, a.phase, a.push)
        released = None
        try:
            while now() < self.deadline:
                t = now()
                if released is None and a.release_file and os.path.exists(a.release_file):
                    released = t
                if released is not None and t - released >= a.grace:
                    break
                self.timers.sort(key=lambda e: e[0])
                while self.timers and self.timers[0][0] <= t:
                    _, c, i = self.timers.pop(0)
                    if self.send_esp(c, K_PUSH, i, c["peer"][0]):
                        c["pushed"] += 1
                        tp = now()
                        if "t_last_push" in c:
                            c["push_tx_max_gap"] = round(max(c.get("push_tx_max_gap", 0.0), tp - c["t_last_push"]), 4)
                        c["t_last_push"] = tp
                wait = 0.1
                if self.timers:
                    wait = max(0.0, min(wait, self.timers[0][0] - t))
                r, _, _ = select.select([self.udp, self.esp], [], [], wait)
                t = now()
                if self.esp in r:
                    for pkt, _ in drain(self.esp):
                        self.on_esp(pkt, t)
                if self.udp in r:
                    for data, peer in drain(self.udp):
                        try:
                            self.on_ike(data, peer, t)
                        except (KeyError, TypeError, ValueError, OSError) as e:
                            self.errors.append("IKE from %s:%d: %s: %s" % (peer[0], peer[1], type(e).__name__, e))
            else:
                if a.release_file and released is None:
                    self.errors.append("never released (max-time %.0f s)" % a.max_time)
        except Terminated as e:
            self.errors.append(str(e))
        return self.report()

    def report(self):
        a = self.a
        sas = []
        for sa in self.ike_sas.values():
            s = dict(sa)
            s["spi_r"] = sa["spi_r"].hex()
            s.pop("responses")
            sas.append(s)
        rep = {"role": "server", "phase": a.phase, "count": a.count, "push": a.push, "ike_sas": sas,
               "children": self.children, "esp": self.esp_rx, "ike_log": self.ike_log, "errors": self.errors,
               "esp_tx_errors": self.esp_tx_errors}
        with open(a.report, "w") as f:
            json.dump(rep, f)
        self.log("report: %d IKE SAs, %d CHILD_SAs, %d ESP received -> %s", len(sas), len(self.children),
                 len(self.esp_rx), a.report)
        return 0 if not self.errors else 1
