#!/usr/bin/env python3
"""Crafted PPTP peers for the vpnpt netns lab (RFC 2637).

Subcommands:
  server   a PPTP server (PAC) that behaves like pptpd: real TCP listener on
           1723, assigns its own Call IDs (per connection a base 0, 128, 256,
           ... in accept order, +0/+1 per call), answers every OCRQ, sends
           GRE to the caller (key = the peer Call ID it learned from the
           OCRQ) right after the OCRP, counts every GRE packet it receives.
           Can split its OCRPs inside the peer Call ID (--split-ocrp) and
           refuse the first OCRQs of a connection (--reject-calls).
  client   a PPTP client (PNS): real TCP connection, SCCRQ, N calls (OCRQ
           with fixed Call IDs, 1000, 1001, ...), GRE both ways, then CCRQ
           per call, StopCCRQ, close. Can split the OCRQ inside the Call ID
           field (--split-ocrq 13), send the OCRQs or CCRQs of all calls in
           one send() (--ocrq-one-send, --ccrq-one-send) and ask again
           with the same Call ID when a call is refused (--retry-rejected).
  analyze  checks the JSON reports of one server and its clients (PASS/FAIL
           lines, figures); exit 0 if every check passed, else 1.
  calls    decodes `vpnpt sessions --proto pptp --json` (stdin): vpnpt's call table.
  counters vpnpt's packet, xlat and reason counters of a pin dir, by name
           (enum values read from abi/vpnpt_abi.h; needs bpftool).

GRE goes through raw IP sockets (socket(AF_INET, SOCK_RAW, 47)): the kernel
builds the IP header on send, receive returns the whole IP datagram. Every
GRE payload starts with a lab tag that names the sender's call, so each
packet can be attributed independently of the (translated) keys:

  'VPTG' phase(1) dir(1) a(2) b(2) seq(4)  + padding
  dir 0 (client -> server): a = client index, b = call index
  dir 1 (server -> client): a = server-side call number (unique per server
                            process), b = 0

Every process is bounded by --max-time and writes its report (--report)
even when it fails.
"""

import argparse
import json
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from labcheck import Checks, Terminated, _on_signal, now, raw_bytes, short  # noqa: E402  (shared)

PPTP_PORT = 1723
MAGIC = 0x1A2B3C4D
IPPROTO_GRE = 47
GRE_PROTO_PPP = 0x880B

SCCRQ, SCCRP, STOPCCRQ, STOPCCRP, ECHORQ, ECHORP = 1, 2, 3, 4, 5, 6
OCRQ, OCRP, ICRQ, ICRP, ICCN, CCRQ, CDN, WEN, SLI = 7, 8, 9, 10, 11, 12, 13, 14, 15
MSG_LEN = {SCCRQ: 156, SCCRP: 156, STOPCCRQ: 16, STOPCCRP: 16, ECHORQ: 16, ECHORP: 20,
           OCRQ: 168, OCRP: 32, CCRQ: 16, CDN: 148, SLI: 24, WEN: 40}
MSG_NAME = {SCCRQ: "SCCRQ", SCCRP: "SCCRP", STOPCCRQ: "StopCCRQ", STOPCCRP: "StopCCRP",
            ECHORQ: "EchoRQ", ECHORP: "EchoRP", OCRQ: "OCRQ", OCRP: "OCRP", ICRQ: "ICRQ",
            ICRP: "ICRP", ICCN: "ICCN", CCRQ: "CCRQ", CDN: "CDN", WEN: "WEN", SLI: "SLI"}

TAG = b"VPTG"
TAG_FMT = "!4sBBHHI"  # tag, phase, dir, a, b, seq
TAG_LEN = struct.calcsize(TAG_FMT)


class Log:
    def __init__(self, name):
        self.name = name
        self.t0 = now()
        self.lock = threading.Lock()

    def __call__(self, fmt, *args):
        with self.lock:
            sys.stdout.write("%7.3f %s: %s\n" % (now() - self.t0, self.name, fmt % args if args else fmt))
            sys.stdout.flush()


# ---------------------------------------------------------------- control messages

def ctrl(msg_type, body):
    """Header (length, type 1, magic, control type, reserved) + body, padded/checked to the RFC length."""
    length = MSG_LEN[msg_type]
    hdr = struct.pack("!HHIHH", length, 1, MAGIC, msg_type, 0)
    msg = hdr + body
    if len(msg) != length:
        raise ValueError("%s: built %d bytes, RFC 2637 says %d" % (MSG_NAME[msg_type], len(msg), length))
    return msg


def fixstr(s, n):
    b = s.encode()[:n]
    return b + b"\0" * (n - len(b))


def cstr(b):
    return b.split(b"\0", 1)[0].decode(errors="replace")


def msg_sccrq(host):
    # version 1.0, reserved, framing caps (async|sync), bearer caps (analog|digital),
    # max channels, firmware revision, host name (64), vendor (64)
    return ctrl(SCCRQ, struct.pack("!HHIIHH", 0x0100, 0, 3, 3, 0, 1) + fixstr(host, 64) + fixstr("vpnpt-lab", 64))


def msg_sccrp(host, result=1):
    return ctrl(SCCRP, struct.pack("!HBBIIHH", 0x0100, result, 0, 3, 3, 1, 1) + fixstr(host, 64) +
                fixstr("vpnpt-lab-pac", 64))


def msg_ocrq(call_id, serial, phone):
    # call id, serial, min bps, max bps, bearer type, framing type, recv window,
    # processing delay, phone number length, reserved, phone (64), subaddress (64)
    ph = phone.encode()[:64]
    return ctrl(OCRQ, struct.pack("!HHIIIIHHHH", call_id, serial, 2400, 10000000, 3, 3, 64, 0, len(ph), 0) +
                fixstr(phone, 64) + fixstr("", 64))


def msg_ocrp(call_id, peer_call_id, result=1):
    # call id, peer's call id, result, error, cause, connect speed, recv window, delay, channel id
    return ctrl(OCRP, struct.pack("!HHBBHIHHI", call_id, peer_call_id, result, 0, 0, 10000000, 64, 0, 0))


def msg_sli(peer_call_id):
    return ctrl(SLI, struct.pack("!HHII", peer_call_id, 0, 0xFFFFFFFF, 0xFFFFFFFF))


def msg_ccrq(call_id):
    return ctrl(CCRQ, struct.pack("!HH", call_id, 0))


def msg_cdn(call_id, result=4):
    return ctrl(CDN, struct.pack("!HBBHH", call_id, result, 0, 0, 0) + b"\0" * 128)


def msg_stopccrq(reason=1):
    return ctrl(STOPCCRQ, struct.pack("!BBH", reason, 0, 0))


def msg_stopccrp(result=1):
    return ctrl(STOPCCRP, struct.pack("!BBH", result, 0, 0))


def msg_echorq(ident):
    return ctrl(ECHORQ, struct.pack("!I", ident))


def msg_echorp(ident):
    return ctrl(ECHORP, struct.pack("!IBBH", ident, 1, 0, 0))


class CtrlConn:
    """A PPTP control connection over a real TCP socket: framing and checks."""

    def __init__(self, sock, log, deadline):
        self.sock = sock
        self.log = log
        self.deadline = deadline
        self.buf = b""
        self.errors = []
        self.rx_types = []
        self.lock = threading.Lock()

    def _fill(self, n):
        while len(self.buf) < n:
            left = self.deadline - now()
            if left <= 0:
                raise TimeoutError("control connection: timed out waiting for data")
            self.sock.settimeout(min(left, 1.0))
            try:
                d = self.sock.recv(4096)
            except socket.timeout:
                continue
            if not d:
                return False
            self.buf += d
        return True

    def recv(self):
        """Next message as (type, bytes), or None on EOF. Checks framing strictly."""
        if not self._fill(2):
            if self.buf:
                self.errors.append("EOF inside a message header (%d bytes)" % len(self.buf))
            return None
        length = struct.unpack("!H", self.buf[:2])[0]
        if length < 12 or length > 1024:
            raise ValueError("bad message length %d" % length)
        if not self._fill(length):
            self.errors.append("EOF inside a message (%d of %d bytes)" % (len(self.buf), length))
            return None
        msg, self.buf = self.buf[:length], self.buf[length:]
        _, ptype, magic, mtype, _ = struct.unpack("!HHIHH", msg[:12])
        if ptype != 1 or magic != MAGIC:
            raise ValueError("bad PPTP header: type %d magic %#x" % (ptype, magic))
        want = MSG_LEN.get(mtype)
        if want is not None and want != length:
            self.errors.append("%s with length %d (RFC: %d)" % (MSG_NAME.get(mtype, mtype), length, want))
        self.rx_types.append(MSG_NAME.get(mtype, str(mtype)))
        return mtype, msg

    def send(self, data):
        with self.lock:
            self.sock.sendall(data)


def set_nodelay(sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# ---------------------------------------------------------------- GRE

def gre_build(call_id, seq, payload, ack=None):
    flags = 0x30  # K, S
    ver = 0x01 | (0x80 if ack is not None else 0)
    h = struct.pack("!BBHHHI", flags, ver, GRE_PROTO_PPP, len(payload), call_id, seq)
    if ack is not None:
        h += struct.pack("!I", ack)
    return h + payload


def gre_parse(pkt):
    """IP datagram from a raw socket -> dict, or None if it is not enhanced GRE."""
    if len(pkt) < 20:
        return None
    ihl = (pkt[0] & 0x0F) * 4
    src = socket.inet_ntoa(pkt[12:16])
    dst = socket.inet_ntoa(pkt[16:20])
    g = pkt[ihl:]
    if len(g) < 8:
        return {"src": src, "dst": dst, "bad": "short GRE"}
    flags, ver, proto, plen, key = struct.unpack("!BBHHH", g[:8])
    if (flags & ~0x10) != 0x20 or (ver & 0x7F) != 1 or proto != GRE_PROTO_PPP:
        return {"src": src, "dst": dst, "bad": "not enhanced GRE (flags %#x ver %#x proto %#x)" % (flags, ver, proto)}
    off = 8
    seq = ack = None
    if flags & 0x10:
        seq = struct.unpack("!I", g[off:off + 4])[0]
        off += 4
    if ver & 0x80:
        ack = struct.unpack("!I", g[off:off + 4])[0]
        off += 4
    payload = g[off:off + plen]
    d = {"src": src, "dst": dst, "key": key, "gseq": seq, "ack": ack}
    if len(payload) >= TAG_LEN and payload[:4] == TAG:
        _, d["phase"], d["dir"], d["a"], d["b"], d["seq"] = struct.unpack(TAG_FMT, payload[:TAG_LEN])
    else:
        d["bad"] = "payload without lab tag"
    return d


def tag(phase, direction, a, b, seq, size):
    p = struct.pack(TAG_FMT, TAG, phase, direction, a, b, seq)
    return p + bytes((seq + i) & 0xFF for i in range(max(0, size - len(p))))


class GreRx(threading.Thread):
    """Receives every GRE datagram delivered to this host until stopped."""

    def __init__(self, log, on_packet):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_GRE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.log = log
        self.on_packet = on_packet
        self.stop = threading.Event()
        self.count = 0

    def run(self):
        while not self.stop.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if not r:
                continue
            while True:
                try:
                    pkt = self.sock.recv(65535, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                self.count += 1
                d = gre_parse(pkt)
                if d is None:
                    d = {"bad": "short IP datagram"}
                d["t"] = round(now(), 4)
                self.on_packet(d)

    def finish(self, grace):
        time.sleep(grace)
        self.stop.set()
        self.join(2)


# ---------------------------------------------------------------- server

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
        for seq in range(a.count):
            if now() > self.deadline:
                break
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


# ---------------------------------------------------------------- client

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
        t_first = now()
        for seq in range(a.count):
            for call in self.rep["calls"]:
                pkt = gre_build(call["server_id"], seq, tag(a.phase, 0, a.index, call["k"], seq, a.size))
                rx.sock.sendto(pkt, (a.server, 0))
            time.sleep(a.interval)
        self.rep["gre_sent_per_call"] = a.count
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


# ---------------------------------------------------------------- analysis




def analyze(a):
    srv = json.load(open(a.server_report))
    clients = []
    for p in a.client_reports:
        try:
            clients.append(json.load(open(p)))
        except (OSError, ValueError) as e:
            clients.append({"name": os.path.basename(p), "missing": str(e)})
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


# ---------------------------------------------------------------- bpftool helpers



def cmd_calls(a):
    """`vpnpt sessions --proto pptp --json` (stdin) -> one JSON list of calls."""
    out = []
    for r in json.load(sys.stdin):
        if r["proto"] != "pptp":
            continue
        i = r["ids"]
        out.append({"server": r["server"], "xlat_id": i["translated_call_id"], "client": r["host"],
                    "client_call_id": i["client_call_id"], "server_call_id": i["server_call_id"],
                    "state": r["state"], "ctrl_client_port": i["control_port"],
                    "ctrl_public_port": i["public_control_port"],
                    "packets_out": r["packets_out"], "packets_in": r["packets_in"]})
    out.sort(key=lambda c: (c["server"], socket.inet_aton(c["client"]), c["client_call_id"]))
    json.dump(out, sys.stdout)
    print()
    return 0


def abi_enum(header, prefix):
    """{name: value} of the enum members VPNPT_<prefix>_NAME = n in abi/vpnpt_abi.h;
    the reasons are rows VPNPT_REASON(NAME, n, ...) of reasons.def beside it."""
    out = {}
    if prefix == "REASON":
        text, pattern = open(os.path.join(os.path.dirname(header), "reasons.def")).read(), r"^VPNPT_REASON\((\w+),\s*(\d+),"
    else:
        text, pattern = open(header).read(), r"VPNPT_%s_([A-Z0-9_]+)\s*=\s*(\d+)" % prefix
    for m in re.finditer(pattern, text, re.M):
        out[m.group(1).lower()] = int(m.group(2))
    return out


def bpftool_dump(path):
    r = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", path], capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        raise RuntimeError("bpftool map dump %s: %s" % (path, r.stderr.strip()))
    return json.loads(r.stdout)


def percpu_sum(entries):
    out = {}
    for e in entries:
        k = struct.unpack("<I", raw_bytes(e["key"]))[0]
        p = b = 0
        for v in e["values"]:
            pk, by = struct.unpack("<QQ", raw_bytes(v["value"])[:16])
            p += pk
            b += by
        out[k] = [p, b]
    return out


def cmd_counters(a):
    """vpnpt_counters_v1, vpnpt_xlat_v1, vpnpt_reasons_v2 of a pin dir, by name (indices from the ABI header)."""
    classes = abi_enum(a.abi, "CLASS")
    dirs = abi_enum(a.abi, "DIR")
    reasons = abi_enum(a.abi, "REASON")
    ncls = max(classes.values()) + 1
    nrea = max(reasons.values()) + 1
    pins = sorted(os.listdir(a.pin_dir))

    def pin(prefix):  # newest version of a map, e.g. vpnpt_reasons_v2
        cands = [p for p in pins if p.startswith(prefix + "_v")]
        if not cands:
            raise RuntimeError("no %s_v* map in %s" % (prefix, a.pin_dir))
        return max(cands, key=lambda p: int(p.rsplit("_v", 1)[1]))

    out = {}
    for name, fname, table, width in (("counters", pin("vpnpt_counters"), classes, ncls),
                                      ("xlat", pin("vpnpt_xlat"), classes, ncls),
                                      ("reasons", pin("vpnpt_reasons"), reasons, nrea)):
        vals = percpu_sum(bpftool_dump(os.path.join(a.pin_dir, fname)))
        out[name] = {d: {n: vals.get(di * width + i, [0, 0])[0] for n, i in table.items()} for d, di in dirs.items()}
    json.dump(out, sys.stdout)
    print()
    return 0


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--phase", type=int, default=1, help="phase number written into every GRE payload")
        p.add_argument("--count", type=int, default=50, help="GRE packets per call and direction")
        p.add_argument("--interval", type=float, default=0.01, help="seconds between GRE packets of a call")
        p.add_argument("--size", type=int, default=64, help="GRE payload bytes")
        p.add_argument("--max-time", type=float, default=40, help="hard bound on the run, seconds")
        p.add_argument("--grace", type=float, default=0.5, help="keep receiving GRE this long at the end")
        p.add_argument("--report", required=True, help="JSON report file")
        p.add_argument("--ready-file", help="created when ready (server: listening; client: GRE exchanged)")

    p = sub.add_parser("server", help="crafted PPTP server (PAC)")
    common(p)
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--expect", type=int, required=True, help="control connections to serve, then exit")
    p.add_argument("--server-ids", choices=["pptpd", "same", "random"], default="pptpd",
                   help="own call ids: pptpd = 128 * accept order + call index (default); same = call index "
                        "for every connection (0, 1, ...); random = unique random ids")
    p.add_argument("--echo-after", type=int, default=2, help="send one Echo-Request after this many OCRPs (0: never)")
    p.add_argument("--reject-calls", type=int, default=0, metavar="K",
                   help="refuse the first K OCRQs of every connection (OCRP result 2)")
    p.add_argument("--split-ocrp", type=int, default=0, metavar="BYTES",
                   help="send each OCRP in two writes, the first BYTES long (15 cuts the peer Call ID field)")
    p.add_argument("--split-delay", type=float, default=0.2, help="pause between the two writes")

    p = sub.add_parser("client", help="crafted PPTP client (PNS)")
    common(p)
    p.add_argument("--server", required=True)
    p.add_argument("--name", required=True, help="host name (SCCRQ) and owner tag, e.g. c3")
    p.add_argument("--index", type=int, required=True, help="client index written into its GRE payloads")
    p.add_argument("--call-id", type=int, default=1000, help="Call ID of the first call (the next ones +1)")
    p.add_argument("--calls", type=int, default=2)
    p.add_argument("--split-ocrq", type=int, default=0, metavar="BYTES",
                   help="send each OCRQ in two writes, the first BYTES long (13 cuts the Call ID field)")
    p.add_argument("--split-delay", type=float, default=0.2, help="pause between the two writes")
    p.add_argument("--ccrq-one-send", action="store_true", help="send the CCRQs of all calls in one send()")
    p.add_argument("--ocrq-one-send", action="store_true",
                   help="send the OCRQs of all calls in one send() before reading any OCRP")
    p.add_argument("--no-sli", dest="sli", action="store_false", help="do not send Set-Link-Info")
    p.add_argument("--retry-rejected", action="store_true",
                   help="when an OCRQ is refused, send it again (same Call ID) once")
    p.add_argument("--retry-delay", type=float, default=0.2)
    p.add_argument("--gre-delay", type=float, default=0.5, help="wait after the last OCRP before sending GRE")
    p.add_argument("--rx-wait", type=float, default=5, help="max wait for the server's GRE before ready")
    p.add_argument("--release-file", help="wait for this file before tearing the calls down")

    p = sub.add_parser("analyze", help="check the reports of one phase")
    p.add_argument("--server-report", required=True)
    p.add_argument("--public-ip", required=True)
    p.add_argument("--server-ip", required=True)
    p.add_argument("--calls", type=int, default=2)
    p.add_argument("--no-sli", dest="sli", action="store_false")
    p.add_argument("--label", default="")
    p.add_argument("--summary", help="write figures (JSON) here")
    p.add_argument("client_reports", nargs="+")

    sub.add_parser("calls", help="decode `vpnpt sessions --proto pptp --json` from stdin")
    p = sub.add_parser("counters", help="packet counters, xlat counters and reasons of a pin dir (JSON, by name)")
    p.add_argument("--pin-dir", required=True)
    p.add_argument("--abi", required=True, help="abi/vpnpt_abi.h (enum values)")

    a = ap.parse_args()
    if a.cmd in ("server", "client"):
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    if a.cmd == "server":
        return Server(a).run()
    if a.cmd == "client":
        return Client(a).run()
    if a.cmd == "analyze":
        return analyze(a)
    if a.cmd == "calls":
        return cmd_calls(a)
    return cmd_counters(a)


if __name__ == "__main__":
    sys.exit(main())
