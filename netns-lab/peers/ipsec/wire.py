"""IKEv2 and raw ESP on the wire for the crafted peers: IKE messages, ESP
packets carrying the lab tag, SPIs and the raw ESP socket."""
import json
import os
import socket
import struct


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
