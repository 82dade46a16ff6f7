"""L2TPv2 on the wire for the crafted peers (RFC 2661): AVPs (hidden ones
too), control messages, their parser and the lab tag of data packets."""
import hashlib
import os
import struct


L2TP_PORT = 1701
SCCRQ, SCCRP, SCCCN, STOPCCN, HELLO = 1, 2, 3, 4, 6
MSG_NAME = {0: "ZLB", SCCRQ: "SCCRQ", SCCRP: "SCCRP", SCCCN: "SCCCN", STOPCCN: "StopCCN", HELLO: "HELLO"}
AVP_MSG_TYPE, AVP_RESULT, AVP_PROTO_VER, AVP_FRAMING, AVP_HOST, AVP_TUNNEL_ID, AVP_RANDOM_VECTOR = 0, 1, 2, 3, 7, 9, 36
F_T, F_L, F_S, F_O, F_P = 0x8000, 0x4000, 0x0800, 0x0200, 0x0100
CTRL_FLAGS = F_T | F_L | F_S | 2  # 0xC802
DATA_FLAGS = 0x0002

TAG = b"VPL2"
TAG_FMT = "!4sBHI"  # tag, phase, index, seq
TAG_LEN = struct.calcsize(TAG_FMT)
PUSH_PHASE = 0xFF  # the phase byte of the LNS's own data messages (lns --push), not echoes
# ---------------------------------------------------------------- messages

def avp(attr, value, mandatory=True, hidden=False):
    flags = (0x8000 if mandatory else 0) | (0x4000 if hidden else 0)
    return struct.pack("!HHH", flags | (6 + len(value)), 0, attr) + value


def hide(attr, value, secret, rv):
    """RFC 2661 4.3: (length, value, padding) XOR MD5(type + secret + RV), 16 bytes per block."""
    pad = os.urandom(max(0, 8 - 2 - len(value)))
    clear = struct.pack("!H", len(value)) + value + pad
    out = b""
    prev = struct.pack("!H", attr) + secret + rv
    for i in range(0, len(clear), 16):
        block = hashlib.md5(prev if i == 0 else secret + prev).digest()
        c = bytes(a ^ b for a, b in zip(clear[i:i + 16], block))
        out += c
        prev = c
    return out


def unhide(attr, data, secret, rv):
    clear = b""
    prev = struct.pack("!H", attr) + secret + rv
    for i in range(0, len(data), 16):
        block = hashlib.md5(prev if i == 0 else secret + prev).digest()
        c = data[i:i + 16]
        clear += bytes(a ^ b for a, b in zip(c, block))
        prev = c
    n = struct.unpack("!H", clear[:2])[0]
    return clear[2:2 + n]


def ctrl(tunnel_id, ns, nr, avps=b""):
    length = 12 + len(avps)
    return struct.pack("!HHHHHH", CTRL_FLAGS, length, tunnel_id, 0, ns, nr) + avps


def msg_avps(mtype, host, tid, hidden_secret=None):
    a = avp(AVP_MSG_TYPE, struct.pack("!H", mtype)) + avp(AVP_PROTO_VER, struct.pack("!BB", 1, 0)) + \
        avp(AVP_HOST, host.encode(), True) + avp(AVP_FRAMING, struct.pack("!I", 3))
    if hidden_secret is not None:
        rv = os.urandom(16)
        a += avp(AVP_RANDOM_VECTOR, rv) + avp(AVP_TUNNEL_ID, hide(AVP_TUNNEL_ID, struct.pack("!H", tid),
                                                                   hidden_secret, rv), hidden=True)
    else:
        a += avp(AVP_TUNNEL_ID, struct.pack("!H", tid))
    return a


def stopccn_avps(tid):
    return avp(AVP_MSG_TYPE, struct.pack("!H", STOPCCN)) + avp(AVP_TUNNEL_ID, struct.pack("!H", tid)) + \
        avp(AVP_RESULT, struct.pack("!H", 1))


def parse(pkt, secret=None):
    """UDP payload -> dict (control: mtype, avps; data: payload), or None if not L2TPv2."""
    if len(pkt) < 6:
        return None
    flags = struct.unpack("!H", pkt[:2])[0]
    if flags & 0x000F != 2:
        return None
    off = 2
    length = None
    if flags & F_L:
        length = struct.unpack("!H", pkt[off:off + 2])[0]
        off += 2
    tid, sid = struct.unpack("!HH", pkt[off:off + 4])
    off += 4
    ns = nr = None
    if flags & F_S:
        ns, nr = struct.unpack("!HH", pkt[off:off + 4])
        off += 4
    if flags & F_O:
        osize = struct.unpack("!H", pkt[off:off + 2])[0]
        off += 2 + osize
    end = length if length is not None else len(pkt)
    d = {"ctrl": bool(flags & F_T), "tid": tid, "sid": sid, "ns": ns, "nr": nr}
    if not d["ctrl"]:
        d["payload"] = pkt[off:end]
        return d
    d["mtype"] = 0
    d["avps"] = {}
    d["hidden"] = []
    rv = None
    while off + 6 <= end:
        fl, vendor, attr = struct.unpack("!HHH", pkt[off:off + 6])
        alen = fl & 0x03FF
        if alen < 6 or off + alen > end:
            d["bad"] = "bad AVP length"
            break
        val = pkt[off + 6:off + alen]
        off += alen
        if vendor != 0:
            continue
        if attr == AVP_RANDOM_VECTOR:
            rv = val
        if fl & 0x4000:
            d["hidden"].append(attr)
            if secret is None or rv is None:
                continue
            val = unhide(attr, val, secret, rv)
        if attr == AVP_MSG_TYPE and len(val) == 2:
            d["mtype"] = struct.unpack("!H", val)[0]
        d["avps"][attr] = val
    return d


def avp_u16(d, attr):
    v = d.get("avps", {}).get(attr)
    return struct.unpack("!H", v)[0] if v is not None and len(v) == 2 else None


def tag(phase, index, seq, size):
    p = struct.pack(TAG_FMT, TAG, phase, index, seq)
    return p + bytes((seq + i) & 0xFF for i in range(max(0, size - len(p))))


def untag(payload):
    if len(payload) < TAG_LEN or payload[:4] != TAG:
        return None
    _, phase, index, seq = struct.unpack(TAG_FMT, payload[:TAG_LEN])
    return phase, index, seq
