"""The crafted IKEv2/ESP host (initiator): see __main__.py."""
import json
import os
import select
import socket
import time

from labcheck import Log, Terminated, now
from wire import (
    F_INITIATOR, F_RESPONSE, IKE_PORT, K_ECHO, K_HOST, K_PUSH, P_D, P_IDI, P_N, P_SA, X_AUTH,
    X_CREATE_CHILD, X_INFO, X_NAME, X_SA_INIT, drain, esp_build, esp_parse, esp_socket, hexspi,
    ike_msg, ike_parse, ike_sk_msg, rand_spi, sa_init_payloads)


class Host:
    def __init__(self, a):
        self.a = a
        self.log = Log(a.name, wall=True)
        self.deadline = now() + a.max_time
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp.bind(("0.0.0.0", IKE_PORT))
        self.udp.setblocking(False)
        self.esp = esp_socket()
        self.ike_q = []
        self.spi_i = os.urandom(8)
        self.spi_r = b"\0" * 8
        self.sas = []         # own CHILD_SAs: k, x, y, times, rx seqs per kind
        self.my_y = {}        # y -> sa
        self.rx = []          # every ESP datagram received (compact)
        self.foreign = []     # ESP that is not ours
        self.rep = {"role": "host", "name": a.name, "index": a.index, "phase": a.phase, "count": a.count,
                    "ip": None, "exchanges": [], "sas": self.sas, "foreign": self.foreign, "errors": [], "ok": False,
                    "ike_unexpected": 0}

    # -- receiving
    def pump(self, until, stop_on_ike=False):
        """Receives (ESP into the tables, IKE into the queue) until `until`."""
        while True:
            t = now()
            left = min(until, self.deadline) - t
            if left <= 0:
                return
            r, _, _ = select.select([self.udp, self.esp], [], [], left)
            t = now()
            if self.esp in r:
                for pkt, _ in drain(self.esp):
                    self.on_esp(pkt, t)
            if self.udp in r:
                for data, peer in drain(self.udp):
                    self.ike_q.append((data, peer, t))
                if stop_on_ike:
                    return

    def own(self, d, sa):
        """Whether ESP packet d is this host's, of its SA sa (None: no SA with that SPI yet)."""
        return (sa is not None and "bad" not in d and d.get("phase") == self.a.phase and d.get("idx") == self.a.index
                and d.get("k") == sa["k"] and d.get("kind") in (K_ECHO, K_PUSH) and d.get("src") == self.a.server)

    def take(self, sa, d, t, tw):
        key = "rx_echo" if d["kind"] == K_ECHO else "rx_push"
        lst = sa[key]
        if d["seq"] in lst:
            sa["dups"] += 1
        lst.append(d["seq"])
        sa[key + "_t"].append(round(t, 4))  # arrival time of each, in the order of lst
        if sa["t_first_rx"] is None:
            sa["t_first_rx"] = round(t, 4)
            sa["tw_first_rx"] = round(tw, 4)

    def on_esp(self, pkt, t):
        d = esp_parse(pkt)
        tw = time.time()
        sa = self.my_y.get(d.get("spi"))
        if self.own(d, sa):
            self.take(sa, d, t, tw)
            return
        d["t"] = round(t, 4)
        d["tw"] = round(tw, 4)
        d["mine_spi"] = sa is not None
        self.foreign.append(d)

    # -- IKE
    def exchange(self, exch, msgid, build):
        """Sends the request (retransmitting every --retry s, --tries times); returns (parsed response, record)."""
        a = self.a
        rec = {"exch": X_NAME[exch], "msgid": msgid, "tries": 0, "t_first": None, "tw_first": None,
               "t_done": None, "tw_done": None, "dup_responses": 0}
        self.rep["exchanges"].append(rec)
        msg = build()
        for _ in range(a.tries):
            if now() >= self.deadline:
                break
            self.udp.sendto(msg, (a.server, IKE_PORT))
            rec["tries"] += 1
            if rec["t_first"] is None:
                rec["t_first"], rec["tw_first"] = round(now(), 4), round(time.time(), 4)
            try_end = now() + a.retry
            while now() < try_end:
                self.pump(try_end, stop_on_ike=True)
                while self.ike_q:
                    data, peer, t = self.ike_q.pop(0)
                    d = ike_parse(data)
                    if (d is None or d["bad"] or peer != (a.server, IKE_PORT) or d["spi_i"] != self.spi_i
                            or d["exch"] != exch or d["msgid"] != msgid or not d["flags"] & F_RESPONSE):
                        self.rep["ike_unexpected"] += 1
                        continue
                    if exch != X_SA_INIT and d["spi_r"] != self.spi_r:
                        self.rep["ike_unexpected"] += 1
                        continue
                    rec["t_done"], rec["tw_done"] = round(t, 4), round(time.time(), 4)
                    rec["rtt_last_try"] = round(t - (try_end - a.retry), 4)
                    rec["wait"] = round(max(0.0, t - rec["t_first"]), 4)
                    return d, rec
        raise TimeoutError("%s (msgid %d): no response after %d tries" % (X_NAME[exch], msgid, rec["tries"]))

    def late_responses(self):
        """Duplicate responses (to retransmitted requests) that arrived later."""
        while self.ike_q:
            data, _, _ = self.ike_q.pop(0)
            d = ike_parse(data)
            if d and not d["bad"] and d["spi_i"] == self.spi_i and d["flags"] & F_RESPONSE:
                for rec in self.rep["exchanges"]:
                    if rec["msgid"] == d["msgid"] and rec["exch"] == X_NAME.get(d["exch"]):
                        rec["dup_responses"] += 1
                        break
            else:
                self.rep["ike_unexpected"] += 1

    def new_y(self):
        while True:
            y = rand_spi()
            if y not in self.my_y:
                return y

    def add_sa(self, k, x, y, rec):
        sa = {"k": k, "x": x, "y": y, "t_created": rec["t_done"], "tw_created": rec["tw_done"], "sent": 0,
              "rx_echo": [], "rx_push": [], "rx_echo_t": [], "rx_push_t": [], "dups": 0, "t_first_rx": None, "tw_first_rx": None, "t_first_tx": None,
              "t_last_tx": None}
        self.sas.append(sa)
        self.my_y[y] = sa
        # The server's first packets on a new SA can overtake its answer to us: held as foreign until
        # now, they are this SA's (delivered to the right host), not misdelivered.
        early = [d for d in self.foreign if d.get("spi") == y and self.own(d, sa)]
        for d in early:
            self.foreign.remove(d)
            self.take(sa, d, d["t"], d["tw"])
        return sa

    def wait_until_wall(self, tw):
        """Pumps until wall-clock time tw (to within ~1 ms)."""
        while True:
            left = tw - time.time()
            if left <= 0:
                return
            if left > 0.02:
                self.pump(now() + left - 0.015)
            else:
                time.sleep(max(0, left - 0.0005))

    def traffic(self, sas):
        """N ESP packets on each SA (interleaved), then the echoes: until all arrived, or none came for
        --quiet s, or --rx-wait s after the last one sent."""
        a = self.a
        for sa in sas:
            sa["t_first_tx"] = round(now(), 4)
            sa.setdefault("tx_max_gap", 0.0)
        t_prev = now()
        for seq in range(a.count):
            t = now()
            for sa in sas:
                sa["tx_max_gap"] = round(max(sa["tx_max_gap"], t - t_prev), 4)
            t_prev = t
            for sa in sas:
                pkt = esp_build(sa["x"], seq + 1, a.phase, K_HOST, a.index, sa["k"], seq, a.size)
                self.esp.sendto(pkt, (a.server, 0))
                sa["sent"] += 1
            self.pump(now() + a.interval)
        for sa in sas:
            sa["t_last_tx"] = round(now(), 4)
        end = now() + a.rx_wait
        last, seen = now(), -1
        while now() < end and now() - last < a.quiet:
            n = sum(len(set(sa["rx_echo"])) for sa in sas)
            if n >= a.count * len(sas):
                break
            if n != seen:
                seen, last = n, now()
            self.pump(min(end, now() + 0.05))
        for sa in sas:
            sa["t_echoes_done"] = round(now(), 4)

    def session(self):
        a = self.a
        if a.start_at:
            self.wait_until_wall(a.start_at)
        self.rep["tw_start"] = round(time.time(), 4)
        self.rep["t_start"] = round(now(), 4)
        d, _ = self.exchange(X_SA_INIT, 0, lambda: ike_msg(self.spi_i, b"\0" * 8, X_SA_INIT, F_INITIATOR, 0,
                                                           sa_init_payloads()))
        self.spi_r = d["spi_r"]
        if a.auth_at:
            # Late (IKE_SA_INIT slower than planned): go at once, and say so.
            self.rep["auth_late"] = round(max(0.0, time.time() - a.auth_at), 4)
            self.wait_until_wall(a.auth_at)
        y = self.new_y()
        d, rec = self.exchange(X_AUTH, 1, lambda: ike_sk_msg(self.spi_i, self.spi_r, X_AUTH, F_INITIATOR, 1, P_IDI,
                                                             {"name": a.name, "index": a.index, "y": y}))
        obj = d["obj"] or {}
        if obj.get("y") != y or "x" not in obj:
            raise ValueError("IKE_AUTH response names y %s x %s (we sent y %s)" % (obj.get("y"), obj.get("x"), y))
        sa = self.add_sa(0, obj["x"], y, rec)
        self.log("IKE_AUTH done in %.3f s (%d tries): x %s y %s", rec["wait"], rec["tries"], hexspi(sa["x"]), hexspi(y))
        msgid = 2
        sas = [sa]
        # More CHILD_SAs right away, before any traffic (one per traffic selector pair, as strongSwan
        # does for several children of one connection).
        for j in range(1, a.children):
            yj = self.new_y()
            d, rec = self.exchange(X_CREATE_CHILD, msgid, lambda: ike_sk_msg(
                self.spi_i, self.spi_r, X_CREATE_CHILD, F_INITIATOR, msgid, P_SA, {"y": yj, "child": j}))
            msgid += 1
            obj = d["obj"] or {}
            if obj.get("y") != yj or "x" not in obj:
                raise ValueError("CREATE_CHILD_SA response names y %s x %s (we sent y %s)" % (obj.get("y"), obj.get("x"), yj))
            sas.append(self.add_sa(j, obj["x"], yj, rec))
            self.log("CREATE_CHILD_SA (child %d) done in %.3f s (%d tries): x %s y %s", j, rec["wait"], rec["tries"],
                     hexspi(obj["x"]), hexspi(yj))
        if a.esp_delay:
            self.pump(now() + a.esp_delay)  # an idle tunnel: no ESP yet
        self.traffic(sas)
        if a.rekey:
            if a.rekey_at:
                self.rep["rekey_late"] = round(max(0.0, time.time() - a.rekey_at), 4)
                self.wait_until_wall(a.rekey_at)
            y2 = self.new_y()
            d, rec = self.exchange(X_CREATE_CHILD, msgid, lambda: ike_sk_msg(
                self.spi_i, self.spi_r, X_CREATE_CHILD, F_INITIATOR, msgid, P_N, {"rekey": y, "y": y2}))
            msgid += 1
            obj = d["obj"] or {}
            if obj.get("y") != y2 or "x" not in obj:
                raise ValueError("CREATE_CHILD_SA response names y %s x %s (we sent y %s)" % (obj.get("y"), obj.get("x"), y2))
            sa2 = self.add_sa(len(sas), obj["x"], y2, rec)
            sa2["rekey_of"] = 0
            self.log("CREATE_CHILD_SA (rekey) done in %.3f s (%d tries): x %s y %s", rec["wait"], rec["tries"],
                     hexspi(sa2["x"]), hexspi(y2))
            self.traffic([sa2])
            if a.delete_old:
                self.exchange(X_INFO, msgid, lambda: ike_sk_msg(self.spi_i, self.spi_r, X_INFO, F_INITIATOR, msgid,
                                                                P_D, {"delete": [y]}))
                msgid += 1
                sa["deleted"] = True
        self.rep["t_done"] = round(now(), 4)
        self.rep["tw_done"] = round(time.time(), 4)

    def run(self):
        a = self.a
        self.rep["ip"] = None
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect((a.server, 9))
            self.rep["ip"] = s.getsockname()[0]
            s.close()
            self.session()
            if a.ready_file:
                open(a.ready_file, "w").close()
            # Keep listening: another host's packets may still be misdelivered here.
            while a.release_file and not os.path.exists(a.release_file) and now() < self.deadline:
                self.pump(now() + 0.1)
            self.pump(now() + a.grace)
            self.rep["ok"] = not self.rep["errors"]
        except Terminated as e:
            self.rep["errors"].append("Terminated: %s" % e)
        except Exception as e:  # noqa: BLE001 - recorded in the report
            self.rep["errors"].append("%s: %s" % (type(e).__name__, e))
            self.log("ERROR %s: %s", type(e).__name__, e)
            if a.ready_file:
                open(a.ready_file, "w").close()
            try:
                while a.release_file and not os.path.exists(a.release_file) and now() < self.deadline:
                    self.pump(now() + 0.1)
            except Terminated:
                pass
        self.late_responses()
        with open(a.report, "w") as f:
            json.dump(self.rep, f)
        self.log("report -> %s (ok=%s, %d foreign ESP)", a.report, self.rep["ok"], len(self.foreign))
        return 0 if self.rep["ok"] else 1
