#!/usr/bin/env python3
"""Crafted IPsec peers for the vpnpt netns lab: fake IKEv2 on UDP 500, raw ESP.

Subcommands:
  server   an IKEv2 responder on UDP 500 (IKE_SA_INIT 34, IKE_AUTH 35,
           CREATE_CHILD_SA 36, INFORMATIONAL 37) that answers retransmitted
           requests with its cached response (RFC 7296 2.1), picks its own
           inbound SPI (x) per CHILD_SA, sends --push ESP packets to every new
           CHILD_SA right after its response (server-originated traffic),
           and echoes every ESP packet it receives with a known SPI (to the
           packet's source: the server only ever sees the public IP).
  host     an IKEv2 initiator from UDP source port 500: IKE_SA_INIT, IKE_AUTH
           (its inbound SPI y in the request, the server's x in the response),
           optionally more CHILD_SAs right away (--children: CREATE_CHILD_SA
           back to back) and an idle time (--esp-delay), --esp-count ESP
           packets with SPI x on every SA (interleaved), then optionally a rekey
           (CREATE_CHILD_SA, new SPIs, the same traffic on the new SA, and an
           INFORMATIONAL delete of the old one). It retransmits a request
           after --retry s without a response (max --tries), keeps receiving
           every ESP packet delivered to its namespace until released, and
           sorts them into its own (SPI == one of its y, payload names it)
           and foreign ones (misdelivered).
  analyze  checks the reports of one server and its hosts (PASS/FAIL lines,
           summary JSON with figures); exit 0 if every check passed.
  espmaps  decodes vpnpt's ESP maps (bpftool) and checks them against the
           SPIs the peers agreed on (analyze's summary).

The IKE messages have correct IKEv2 headers (SPIs, next payload, version
0x20, exchange type, flags I 0x08 / R 0x20, message ID, length) and payload
chains; IKE_SA_INIT carries SA/KE/Nonce payloads, the later exchanges one
SK payload (46). The crafted peers do not encrypt: the SK payload holds a
16-byte "IV", a JSON object (host name, index, SPIs) and a 12-byte "ICV",
so the peers learn each other's SPIs from it. vpnpt must not rely on that
(real IKE encrypts it); it only ever sees the headers.

ESP: raw IP sockets (socket(AF_INET, SOCK_RAW, 50)); the kernel builds the IP
header on send, receive returns the whole IP datagram. Every ESP payload
starts with a lab tag so each packet is attributed independently of SPIs:

  'VPES' phase(1) kind(1) idx(2) k(1) 0(1) seq(4)  + padding
  kind 0: host -> server, idx = the host's index, k = its CHILD_SA number
  kind 1: server echo, idx/k = from the server's SA table (looked up by x)
  kind 2: server push (originated by the server), idx/k from its SA table

Every process is bounded by --max-time and writes its report even when it
fails.
"""

import argparse
import json
import os
import re
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from labcheck import Checks, Terminated, _on_signal, now, raw_bytes, short  # noqa: E402  (shared)

IKE_PORT = 500
IPPROTO_ESP = 50

# IKEv2 (RFC 7296)
X_SA_INIT, X_AUTH, X_CREATE_CHILD, X_INFO = 34, 35, 36, 37
X_NAME = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL"}
F_INITIATOR, F_RESPONSE = 0x08, 0x20
P_NONE, P_SA, P_KE, P_IDI, P_IDR, P_N, P_D, P_NONCE, P_SK = 0, 33, 34, 35, 36, 41, 42, 40, 46
IKE_HDR = "!8s8sBBBBII"  # SPIi, SPIr, next payload, version, exchange, flags, message ID, length
IKE_HDR_LEN = struct.calcsize(IKE_HDR)

TAG = b"VPES"
TAG_FMT = "!4sBBHBBI"  # tag, phase, kind, idx, k, 0, seq
TAG_LEN = struct.calcsize(TAG_FMT)
K_HOST, K_ECHO, K_PUSH = 0, 1, 2
KIND_NAME = {0: "host", 1: "echo", 2: "push"}


class Log:
    def __init__(self, name):
        self.name = name
        self.t0 = now()

    def __call__(self, fmt, *args):
        sys.stdout.write("%.3f %7.3f %s: %s\n" % (time.time(), now() - self.t0, self.name,
                                                   fmt % args if args else fmt))
        sys.stdout.flush()


def rand_spi():
    """A random SPI outside the reserved 0..255."""
    while True:
        s = struct.unpack("!I", os.urandom(4))[0]
        if s > 255:
            return s


def hexspi(s):
    return "%08x" % s


# ---------------------------------------------------------------- IKE messages

def payload(next_type, body):
    """Generic payload header (next payload, critical 0, length) + body."""
    return struct.pack("!BBH", next_type, 0, 4 + len(body)) + body


def ike_msg(spi_i, spi_r, exch, flags, msgid, payloads):
    """payloads: [(type, body)] in order; builds the chain and the header."""
    first = payloads[0][0] if payloads else P_NONE
    body = b""
    for i, (_, b) in enumerate(payloads):
        nxt = payloads[i + 1][0] if i + 1 < len(payloads) else P_NONE
        body += payload(nxt, b)
    return struct.pack(IKE_HDR, spi_i, spi_r, first, 0x20, exch, flags, msgid, IKE_HDR_LEN + len(body)) + body


def sa_init_payloads():
    # SA: one IKE proposal (protocol 1, no SPI), one transform ENCR AES-CBC with key length 256.
    transform = struct.pack("!BBHBBH", 0, 0, 12, 1, 0, 12) + struct.pack("!HH", 0x800E, 256)
    proposal = struct.pack("!BBHBBBB", 0, 0, 8 + len(transform), 1, 1, 0, 1) + transform
    ke = struct.pack("!HH", 14, 0) + os.urandom(256)  # MODP 2048
    return [(P_SA, proposal), (P_KE, ke), (P_NONCE, os.urandom(32))]


def sk_body(inner_first, obj):
    """The SK payload's 'encrypted' content: IV(16) + JSON + ICV(12); its next-payload field names inner_first."""
    return inner_first, os.urandom(16) + json.dumps(obj, sort_keys=True).encode() + b"\0" * 12


def ike_sk_msg(spi_i, spi_r, exch, flags, msgid, inner_first, obj):
    """Header + one SK payload whose next-payload field is the first inner payload's type."""
    _, body = sk_body(inner_first, obj)
    sk = struct.pack("!BBH", inner_first, 0, 4 + len(body)) + body
    return struct.pack(IKE_HDR, spi_i, spi_r, P_SK, 0x20, exch, flags, msgid, IKE_HDR_LEN + len(sk)) + sk


def ike_parse(data):
    """UDP payload -> dict (header fields, payload types, SK object) or None."""
    if len(data) < IKE_HDR_LEN:
        return None
    spi_i, spi_r, nxt, ver, exch, flags, msgid, length = struct.unpack(IKE_HDR, data[:IKE_HDR_LEN])
    d = {"spi_i": spi_i, "spi_r": spi_r, "exch": exch, "flags": flags, "msgid": msgid, "ver": ver,
         "length": length, "types": [], "obj": None, "bad": None}
    if ver != 0x20 or length != len(data):
        d["bad"] = "version %#x length %d (datagram %d)" % (ver, length, len(data))
        return d
    off = IKE_HDR_LEN
    while nxt != P_NONE and off + 4 <= len(data):
        n2, _, plen = struct.unpack("!BBH", data[off:off + 4])
        if plen < 4 or off + plen > len(data):
            d["bad"] = "payload %d length %d" % (nxt, plen)
            return d
        d["types"].append(nxt)
        if nxt == P_SK:
            body = data[off + 4:off + plen]
            try:
                d["obj"] = json.loads(body[16:-12].decode())
            except ValueError:
                d["bad"] = "SK content is not the lab's JSON"
            break  # the SK payload is always last
        off += plen
        nxt = n2
    return d


# ---------------------------------------------------------------- ESP

def esp_build(spi, seq, phase, kind, idx, k, tseq, size):
    t = struct.pack(TAG_FMT, TAG, phase, kind, idx, k, 0, tseq)
    pad = bytes((tseq + i) & 0xFF for i in range(max(0, size - len(t))))
    return struct.pack("!II", spi, seq) + t + pad


def esp_parse(pkt):
    """IP datagram from a raw socket -> dict."""
    if len(pkt) < 20:
        return {"bad": "short IP datagram"}
    ihl = (pkt[0] & 0x0F) * 4
    d = {"src": socket.inet_ntoa(pkt[12:16]), "dst": socket.inet_ntoa(pkt[16:20])}
    e = pkt[ihl:]
    if len(e) < 8:
        d["bad"] = "short ESP"
        return d
    d["spi"], d["eseq"] = struct.unpack("!II", e[:8])
    p = e[8:]
    if len(p) >= TAG_LEN and p[:4] == TAG:
        _, d["phase"], d["kind"], d["idx"], d["k"], _, d["seq"] = struct.unpack(TAG_FMT, p[:TAG_LEN])
    else:
        d["bad"] = "payload without lab tag"
    return d


def esp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_ESP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setblocking(False)
    return s


def drain(sock, n=4096):
    out = []
    while True:
        try:
            out.append(sock.recvfrom(65535) if sock.type == socket.SOCK_DGRAM else (sock.recv(65535), None))
        except BlockingIOError:
            return out
        if len(out) >= n:
            return out


# ---------------------------------------------------------------- server

class Server:
    def __init__(self, a):
        self.a = a
        self.log = Log("server")
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


# ---------------------------------------------------------------- host

class Host:
    def __init__(self, a):
        self.a = a
        self.log = Log(a.name)
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

    def on_esp(self, pkt, t):
        d = esp_parse(pkt)
        tw = time.time()
        sa = self.my_y.get(d.get("spi"))
        own = (sa is not None and "bad" not in d and d.get("phase") == self.a.phase and d.get("idx") == self.a.index
               and d.get("k") == sa["k"] and d.get("kind") in (K_ECHO, K_PUSH) and d.get("src") == self.a.server)
        if own:
            lst = sa["rx_echo" if d["kind"] == K_ECHO else "rx_push"]
            if d["seq"] in lst:
                sa["dups"] += 1
            lst.append(d["seq"])
            if sa["t_first_rx"] is None:
                sa["t_first_rx"] = round(t, 4)
                sa["tw_first_rx"] = round(tw, 4)
            return
        d["t"] = round(t, 4)
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
              "rx_echo": [], "rx_push": [], "dups": 0, "t_first_rx": None, "tw_first_rx": None, "t_first_tx": None,
              "t_last_tx": None}
        self.sas.append(sa)
        self.my_y[y] = sa
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
        for seq in range(a.count):
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


# ---------------------------------------------------------------- analysis




def fig(v):
    return "%.3f" % v if v is not None else "-"


def analyze(a):
    srv = json.load(open(a.server_report))
    hosts = []
    for p in a.host_reports:
        try:
            hosts.append(json.load(open(p)))
        except (OSError, ValueError) as e:
            hosts.append({"name": os.path.basename(p).split(".")[0], "missing": str(e)})
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


# ---------------------------------------------------------------- vpnpt's ESP maps



def abi_defines(header, prefix):
    return {m.group(1): m.group(2) for m in
            re.finditer(r'#define\s+VPNPT_MAP_%s(\w*)\s+"([^"]+)"' % prefix, open(header).read())}


def decode_esp_map(path):
    """bpftool -j dump of an ESP SA table (an array of vpnpt_esp_sa slots, abi/vpnpt_abi.h) -> the used slots."""
    r = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", path], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("bpftool map dump %s: %s" % (path, r.stderr.strip() or r.stdout.strip()))
    out = []
    for e in json.loads(r.stdout):
        v = raw_bytes(e["value"])
        if v[0:8] == bytes(8) or v[8:12] == bytes(4):
            continue  # an empty slot (key 0), or one being written (host 0)
        d = {"server": socket.inet_ntoa(v[0:4]), "spi": struct.unpack("!I", v[4:8])[0],
             "host": socket.inet_ntoa(v[8:12]), "raw_value": v.hex(),
             "lan_ifindex": struct.unpack("<I", v[12:16])[0]}
        d["packets"], d["bytes"] = struct.unpack("<QQ", v[32:48])
        out.append(d)
    return out


def cmd_espmaps(a):
    """Checks vpnpt_esp_in/out against a phase summary: every SA's y bound (in) and x recorded (out) for its host."""
    S = json.load(open(a.summary))
    C = Checks("[%s] " % a.label if a.label else "")
    names = abi_defines(a.abi, "ESP_")
    res = {"names": names}
    in_name, out_name = names.get("IN"), names.get("OUT")
    if not in_name or not out_name:
        C.ok(False, "vpnpt's ABI names its ESP maps (VPNPT_MAP_ESP_IN/OUT)", "not in %s: vpnpt without raw-ESP support" % a.abi)
        json.dump(res, open(a.out, "w")) if a.out else None
        return 1
    maps = {}
    for tag, name in (("in", in_name), ("out", out_name)):
        path = os.path.join(a.pin_dir, name)
        try:
            maps[tag] = decode_esp_map(path)
        except (RuntimeError, OSError, ValueError) as e:
            maps[tag] = None
            C.ok(False, "vpnpt's %s is pinned and readable" % name, str(e))
    res["maps"] = maps
    sas = [s for s in S["sas"] if a.k is None or s["k"] in a.k]
    for tag, name, field, what in (("in", in_name, "y", "inbound binding (server's SPI y -> host)"),
                                   ("out", out_name, "x", "outbound SPI (host's SPI x -> host)")):
        ents = maps.get(tag)
        if ents is None:
            continue
        mine = [e for e in ents if e["server"] == a.server]
        by_spi = {e["spi"]: e for e in mine}
        bad, ok, unbound = [], 0, []
        for s in sas:
            e = by_spi.get(s[field])
            if e is None and a.allow_missing:
                unbound.append("%s/%d" % (s["host"], s["k"]))
            elif e is None:
                bad.append("%s/%d %s %s: none" % (s["host"], s["k"], field, hexspi(s[field])))
            elif e["host"] != s["ip"]:
                bad.append("%s/%d %s %s -> %s (host is %s)" % (s["host"], s["k"], field, hexspi(s[field]), e["host"], s["ip"]))
            else:
                ok += 1
        known = {s[field] for s in S["sas"]}
        extra = [e for e in mine if e["spi"] not in known]
        res[tag + "_entries"] = len(mine)
        res[tag + "_ok"] = ok
        res[tag + "_missing"] = unbound
        if a.allow_missing:
            C.ok(not bad, "%s: no CHILD_SA's %s points to a wrong host" % (name, what),
                 "%d wrong: %s" % (len(bad), short(bad, 4)) if bad else "%d right, %d not there (%s)" % (
                     ok, len(unbound), short(unbound, 4)))
        else:
            C.ok(not bad, "%s: every CHILD_SA's %s, to the right host" % (name, what),
                 "%d wrong/missing of %d: %s" % (len(bad), len(sas), short(bad, 4)) if bad else "%d/%d" % (ok, len(sas)))
        if a.exact:
            C.ok(len(mine) == len(sas) and not extra, "%s holds exactly the %d entries toward %s" % (name, len(sas), a.server),
                 "%d entries, %d not of this phase: %s" % (len(mine), len(extra), short(
                     ["%s->%s" % (hexspi(e["spi"]), e["host"]) for e in extra], 4)))
        else:
            print("  .. %s: %d entries toward %s (%d not of this phase's SPIs)" % (name, len(mine), a.server, len(extra)))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f)
    return 0 if C.failed == 0 else 1


# ---------------------------------------------------------------- main

def wall_time(v):
    return float(v) if v else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--phase", type=int, default=1, help="phase number written into every ESP payload")
        p.add_argument("--esp-count", "--count", dest="count", type=int, default=30,
                       help="ESP packets per CHILD_SA from the host (each one echoed)")
        p.add_argument("--interval", type=float, default=0.02, help="seconds between ESP packets")
        p.add_argument("--size", type=int, default=64, help="ESP payload bytes after SPI and sequence number")
        p.add_argument("--max-time", type=float, default=40, help="hard bound on the run, seconds")
        p.add_argument("--grace", type=float, default=0.5, help="keep receiving this long after the release")
        p.add_argument("--report", required=True, help="JSON report file")
        p.add_argument("--ready-file", help="created when ready (server: listening; host: its traffic is done)")
        p.add_argument("--release-file", help="keep running (receiving) until this file exists")

    p = sub.add_parser("server", help="fake IKEv2 responder + raw ESP echo (run in the server namespace)")
    common(p)
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--push", type=int, default=2,
                   help="ESP packets the server sends on every new CHILD_SA right after its response (0: none)")
    p.add_argument("--push-delay", type=float, default=0.005, help="delay of the first push after the response")

    p = sub.add_parser("host", help="fake IKEv2 initiator from UDP port 500 + raw ESP (run in a client namespace)")
    common(p)
    p.add_argument("--server", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--index", type=int, required=True, help="host index written into its payloads")
    p.add_argument("--start-at", type=wall_time, help="unix time to send IKE_SA_INIT at")
    p.add_argument("--auth-at", type=wall_time, help="unix time to send IKE_AUTH at (default: right after IKE_SA_INIT)")
    p.add_argument("--children", type=int, default=1,
                   help="CHILD_SAs to set up before any traffic: IKE_AUTH's, then CREATE_CHILD_SA back to back")
    p.add_argument("--esp-delay", type=float, default=0.0, help="idle this long after the SAs are up before sending ESP")
    p.add_argument("--rekey", action="store_true", help="after the first SA's traffic: CREATE_CHILD_SA, traffic on the new SA")
    p.add_argument("--rekey-at", type=wall_time, help="unix time to send CREATE_CHILD_SA at")
    p.add_argument("--no-delete", dest="delete_old", action="store_false",
                   help="after a rekey, do not delete the old CHILD_SA (INFORMATIONAL)")
    p.add_argument("--retry", type=float, default=1.0, help="retransmit an IKE request after this long")
    p.add_argument("--tries", type=int, default=10, help="IKE request transmissions at most")
    p.add_argument("--rx-wait", type=float, default=2.0, help="max wait for the echoes after the last ESP sent")
    p.add_argument("--quiet", type=float, default=0.5, help="stop waiting for echoes when none came for this long")

    p = sub.add_parser("analyze", help="check the reports of one phase")
    p.add_argument("--server-report", required=True)
    p.add_argument("--public-ip", required=True)
    p.add_argument("--rekey", action="store_true")
    p.add_argument("--children", type=int, default=1, help="CHILD_SAs per host before the rekey")
    p.add_argument("--loss-info", action="store_true",
                   help="losses are reported, not checked (phases where a correct vpnpt may refuse to bind)")
    p.add_argument("-k", type=int, default=3, help="ESP packets per SA allowed to be lost (dropped until bound)")
    p.add_argument("--label", default="")
    p.add_argument("--summary")
    p.add_argument("host_reports", nargs="+")

    p = sub.add_parser("espmaps", help="decode and check vpnpt's ESP maps against a phase summary")
    p.add_argument("--pin-dir", required=True)
    p.add_argument("--abi", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--sa", dest="k", type=int, action="append", help="only CHILD_SAs number K (0 first, 1 rekeyed)")
    p.add_argument("--exact", action="store_true", help="the maps must hold exactly these SAs toward the server")
    p.add_argument("--allow-missing", action="store_true", help="an SA not in the map is fine (never bound), a wrong host is not")
    p.add_argument("--label", default="")
    p.add_argument("--out", help="decoded maps (JSON)")

    a = ap.parse_args()
    if a.cmd in ("server", "host"):
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    if a.cmd == "server":
        return Server(a).run()
    if a.cmd == "host":
        return Host(a).run()
    if a.cmd == "analyze":
        return analyze(a)
    return cmd_espmaps(a)


if __name__ == "__main__":
    sys.exit(main())
