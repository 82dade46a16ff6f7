"""PPTP on the wire for the crafted peers: control messages (RFC 2637), the
control connection, enhanced GRE and the lab tag every GRE payload carries."""
import select
import socket
import struct
import threading
import time

from labcheck import now


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
