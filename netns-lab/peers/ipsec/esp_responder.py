#!/usr/bin/python3
"""Minimal IKEv1 responder for vpnc, doing raw ESP (IP protocol 50) in userspace.

    esp_responder.py --listen IP --group NAME --psk SECRET --user U:P [--user ...]
                     --pool 10.99.1.0/24 --inner 10.99.0.1
                     [--tun esp0] [--max-time S]

Why it exists: strongSwan's kernel-libipsec (the only strongSwan IPsec
backend that works without kernel ESP support) installs UDP-encapsulated SAs
only ("IPsec SA: only UDP encapsulation is supported"), so a vpnc client
with --natt-mode none (raw ESP) cannot get a working tunnel to it, and this
kernel has no ESP (CONFIG_INET_ESP unset) for any xfrm-based daemon. This
stand-in takes the server's place, as lcp_standin.py takes pppd's in the
PPTP lab. The client stays the real vpnc.

What it speaks (just what vpnc 0.5.3 does against a Cisco concentrator):
  - Aggressive Mode, pre-shared group key (KEY_ID = group name), XAUTH auth
    method (65001), AES-CBC (128/192/256) with SHA1, MODP group 2/5/14;
    no NAT-T vendor IDs are sent, so vpnc never switches to UDP 4500;
  - XAUTH (user name + password), mode config (INTERNAL_IP4_ADDRESS from
    --pool, one address per user), Quick Mode (ESP AES-CBC + HMAC-SHA1-96,
    tunnel mode, optional PFS), INFORMATIONAL deletes;
  - raw ESP through a SOCK_RAW/IPPROTO_ESP socket, inner packets through a
    TUN device (--tun) with a route for --pool.
It is a lab tool: no rekeying, no replay window, no cookies/DoS protection.

Output (stdout, line-buffered): event lines, "READY" once listening, and on
exit one line per client SA:
  SERVER user=U peer=IP:PORT vip=V ike=yes|no child_sa=yes|no spi_in=X spi_out=Y
         esp_in=N esp_out=M esp_bad=B
plus "SERVER unknown_spi=..." for ESP whose SPI matched no SA.
Exits on SIGTERM/SIGINT or after --max-time seconds.
"""

import argparse
import fcntl
import hashlib
import hmac
import ipaddress
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# RFC 2409 / RFC 3526 MODP groups (generator 2)
MODP = {
    2: int("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
           "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
           "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF", 16),
    5: int("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
           "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
           "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836"
           "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804"
           "F1746C08CA237327FFFFFFFFFFFFFFFF", 16),
    14: int("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
            "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
            "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836"
            "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804"
            "F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6"
            "955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF", 16),
}

# ISAKMP payload types
P_SA, P_P, P_T, P_KE, P_ID, P_HASH, P_NONCE, P_N, P_D, P_VID, P_ATTR = 1, 2, 3, 4, 5, 8, 10, 11, 12, 13, 14
# exchange types
X_AGGR, X_INFO, X_TRANS, X_QUICK = 4, 5, 6, 32
# IKE (phase 1) attributes
A_ENC, A_HASH, A_AUTH, A_GROUP, A_KEYLEN = 1, 2, 3, 4, 14
# IPsec (phase 2) attributes
Q_GROUP, Q_ENCAP, Q_AUTH, Q_KEYLEN = 3, 4, 5, 6
# mode config / XAUTH
CFG_REQUEST, CFG_REPLY, CFG_SET, CFG_ACK = 1, 2, 3, 4
XA_USER, XA_PASS, XA_STATUS = 16521, 16522, 16527
MC_IP4_ADDR = 1

VID_XAUTH = bytes.fromhex("09002689dfd6b712")
VID_UNITY = bytes.fromhex("12f5f28c457168a9702d9fe274cc0100")

TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000


def log(*a):
    print("%.3f" % time.time(), *a, flush=True)


def prf(key, *data):
    return hmac.new(key, b"".join(data), hashlib.sha1).digest()


def sha1(*data):
    return hashlib.sha1(b"".join(data)).digest()


def aes_cbc(key, iv, data, enc):
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = c.encryptor() if enc else c.decryptor()
    return op.update(data) + op.finalize()


def parse_attrs(b):
    """ISAKMP data attributes -> list of (type, value, raw); value int (TV) or bytes (TLV)."""
    out, i = [], 0
    while i + 4 <= len(b):
        t, v = struct.unpack_from("!HH", b, i)
        if t & 0x8000:
            out.append((t & 0x7FFF, v, b[i:i + 4]))
            i += 4
        else:
            out.append((t, b[i + 4:i + 4 + v], b[i:i + 4 + v]))
            i += 4 + v
    return out


def attr_tv(t, v):
    return struct.pack("!HH", 0x8000 | t, v)


def attr_tlv(t, v):
    return struct.pack("!HH", t, len(v)) + v


def parse_payloads(first, b):
    """Generic payload chain -> list of (type, body, whole payload bytes)."""
    out, t, i = [], first, 0
    while t and i + 4 <= len(b):
        np, _, ln = struct.unpack_from("!BBH", b, i)
        if ln < 4 or i + ln > len(b):
            raise ValueError("bad payload length")
        out.append((t, b[i + 4:i + ln], b[i:i + ln]))
        t, i = np, i + ln
    return out


def chain(pls):
    """[(type, body)] -> (first type, bytes) with the next-payload fields filled in."""
    out = b""
    for k, (t, body) in enumerate(pls):
        np = pls[k + 1][0] if k + 1 < len(pls) else 0
        out += struct.pack("!BBH", np, 0, 4 + len(body)) + body
    return (pls[0][0] if pls else 0), out


def parse_proposals(sa_body):
    """SA payload body -> [(prop_no, proto, spi, [(t_no, t_id, attrs_raw)])]."""
    props = []
    for _, pb, _ in parse_payloads(P_P, sa_body[8:]):
        pno, proto, spisz, _nt = struct.unpack_from("!BBBB", pb, 0)
        spi = pb[4:4 + spisz]
        trans = []
        for _, tb, _ in parse_payloads(P_T, pb[4 + spisz:]):
            trans.append((tb[0], tb[1], tb[4:]))
        props.append((pno, proto, spi, trans))
    return props


def sa_payload(pno, proto, spi, tno, tid, attrs_raw):
    t = struct.pack("!BBH", 0, 0, 8 + len(attrs_raw)) + struct.pack("!BBH", tno, tid, 0) + attrs_raw
    p = struct.pack("!BBBB", pno, proto, len(spi), 1) + spi + t
    p = struct.pack("!BBH", 0, 0, 4 + len(p)) + p
    return struct.pack("!II", 1, 1) + p  # DOI IPsec, SIT_IDENTITY_ONLY


class IkeSA:
    def __init__(self, srv, icookie, peer):
        self.srv, self.icookie, self.peer = srv, icookie, peer
        self.rcookie = os.urandom(8)
        self.state = "am1"
        self.user = None
        self.vip = None
        self.ivs = {}
        self.last_rx = {}   # (exch, msgid) -> last raw request, for retransmits
        self.last_tx = {}
        self.children = []  # ChildSA
        self.qm = {}        # msgid -> quick mode state

    # ---------------------------------------------------------- crypto helpers
    def iv_for(self, msgid):
        if msgid not in self.ivs:
            self.ivs[msgid] = sha1(self.p1_iv, struct.pack("!I", msgid))[:16]
        return self.ivs[msgid]

    def decrypt(self, hdr, ct):
        msgid = struct.unpack_from("!I", hdr, 20)[0]
        if len(ct) % 16:
            ct = ct[:len(ct) - len(ct) % 16]
        if hdr[18] == X_INFO:
            iv = sha1(self.p1_iv, struct.pack("!I", msgid))[:16]
            return aes_cbc(self.key, iv, ct, False)
        iv = self.iv_for(msgid)
        pt = aes_cbc(self.key, iv, ct, False)
        self.ivs[msgid] = ct[-16:]
        return pt

    def send_enc(self, exch, msgid, pls, hash_extra_pre=b""):
        """Sends HASH + pls (encrypted). hash = prf(SKEYID_a, M-ID | extra | payloads)."""
        _, body = chain(pls)
        h = prf(self.skeyid_a, struct.pack("!I", msgid), hash_extra_pre, body)
        first, plain = chain([(P_HASH, h)] + pls)
        plain += b"\0" * ((-len(plain)) % 16)
        if exch == X_INFO:
            iv = sha1(self.p1_iv, struct.pack("!I", msgid))[:16]
            ct = aes_cbc(self.key, iv, plain, True)
        else:
            ct = aes_cbc(self.key, self.iv_for(msgid), plain, True)
            self.ivs[msgid] = ct[-16:]
        hdr = self.icookie + self.rcookie + struct.pack("!BBBBII", first, 0x10, exch, 1, msgid, 28 + len(ct))
        self.srv.send_ike(hdr + ct, self.peer)
        self.last_tx[(exch, msgid)] = hdr + ct
        return hdr + ct

    # ---------------------------------------------------------- phase 1
    def am1(self, hdr, pls):
        d = {t: (b, w) for t, b, w in reversed(pls)}
        if P_SA not in d or P_KE not in d or P_NONCE not in d or P_ID not in d:
            raise ValueError("AM1 lacks SA/KE/Ni/ID")
        self.sai_b = d[P_SA][0]
        self.idii_b = d[P_ID][0]
        self.gxi = d[P_KE][0]
        self.ni = d[P_NONCE][0]
        idtype = self.idii_b[0]
        ident = self.idii_b[4:]
        if idtype != 11 or ident.decode(errors="replace") != self.srv.a.group:
            log("ike", self.peer, "rejecting ID type %d %r (want KEY_ID %r)" % (idtype, ident, self.srv.a.group))
            self.state = "dead"
            return
        choice = None
        for pno, proto, _spi, trans in parse_proposals(self.sai_b):
            if proto != 1:
                continue
            for tno, tid, raw in trans:
                at = {t: v for t, v, _ in parse_attrs(raw)}
                ok = (at.get(A_ENC) == 7 and at.get(A_HASH) == 2 and at.get(A_AUTH) == 65001
                      and at.get(A_GROUP) in MODP and at.get(A_KEYLEN) in (128, 192, 256))
                if ok:
                    rank = {256: 0, 128: 1, 192: 2}[at[A_KEYLEN]]
                    if choice is None or rank < choice[0]:
                        choice = (rank, pno, tno, tid, raw, at)
        if choice is None:
            log("ike", self.peer, "no acceptable IKE proposal (want AES/SHA1/XAUTH-PSK/MODP2,5,14)")
            self.state = "dead"
            return
        _, pno, tno, tid, raw, at = choice
        p = MODP[at[A_GROUP]]
        plen = (p.bit_length() + 7) // 8
        x = int.from_bytes(os.urandom(32), "big")
        self.gxr = pow(2, x, p).to_bytes(plen, "big")
        gxy = pow(int.from_bytes(self.gxi, "big"), x, p).to_bytes(plen, "big")
        self.nr = os.urandom(20)
        psk = self.srv.a.psk.encode()
        skeyid = prf(psk, self.ni, self.nr)
        self.skeyid_d = prf(skeyid, gxy, self.icookie, self.rcookie, b"\0")
        self.skeyid_a = prf(skeyid, self.skeyid_d, gxy, self.icookie, self.rcookie, b"\1")
        skeyid_e = prf(skeyid, self.skeyid_a, gxy, self.icookie, self.rcookie, b"\2")
        klen = at[A_KEYLEN] // 8
        k, blk = b"", b"\0"
        if klen > 20:
            while len(k) < klen:
                blk = prf(skeyid_e, blk)
                k += blk
        else:
            k = skeyid_e
        self.key = k[:klen]
        self.skeyid = skeyid
        self.iv0 = sha1(self.gxi, self.gxr)[:16]
        idir_b = struct.pack("!BBH", 1, 17, 500) + socket.inet_aton(self.srv.a.listen)
        hash_r = prf(skeyid, self.gxr, self.gxi, self.rcookie, self.icookie, self.sai_b, idir_b)
        first, body = chain([(P_SA, sa_payload(pno, 1, b"", tno, tid, raw)), (P_KE, self.gxr),
                             (P_NONCE, self.nr), (P_ID, idir_b), (P_HASH, hash_r),
                             (P_VID, VID_XAUTH), (P_VID, VID_UNITY)])
        out = self.icookie + self.rcookie + struct.pack("!BBBBII", first, 0x10, X_AGGR, 0, 0, 28 + len(body)) + body
        self.srv.send_ike(out, self.peer)
        self.last_tx[(X_AGGR, 0)] = out
        self.state = "am3"
        log("ike", self.peer, "AM2 sent: AES-%d/SHA1/MODP%d, cookies %s/%s" % (
            at[A_KEYLEN], at[A_GROUP], self.icookie.hex(), self.rcookie.hex()))

    def am3(self, hdr, ct):
        pt = aes_cbc(self.key, self.iv0, ct[:len(ct) - len(ct) % 16], False)
        self.p1_iv = ct[len(ct) - len(ct) % 16 - 16:len(ct) - len(ct) % 16]
        pls = parse_payloads(hdr[16], pt)
        h = [b for t, b, _ in pls if t == P_HASH]
        want = prf(self.skeyid, self.gxi, self.gxr, self.icookie, self.rcookie, self.sai_b, self.idii_b)
        if not h or h[0] != want:
            log("ike", self.peer, "AM3: HASH_I mismatch (wrong group PSK?)")
            self.state = "dead"
            return
        log("ike", self.peer, "phase 1 done (group %s); sending XAUTH request" % self.srv.a.group)
        self.xauth_msgid = struct.unpack("!I", os.urandom(4))[0] | 1
        attr = struct.pack("!BBH", CFG_REQUEST, 0, 1) + attr_tlv(XA_USER, b"") + attr_tlv(XA_PASS, b"")
        self.send_enc(X_TRANS, self.xauth_msgid, [(P_ATTR, attr)])
        self.state = "xauth"

    # ---------------------------------------------------------- phase 1.5 / 2
    def transaction(self, msgid, pls):
        attr = [b for t, b, _ in pls if t == P_ATTR]
        if not attr:
            return
        ctype, _, ident = struct.unpack_from("!BBH", attr[0], 0)
        attrs = parse_attrs(attr[0][4:])
        if ctype == CFG_REPLY and self.state == "xauth":
            av = {t: v for t, v, _ in attrs}
            user = av.get(XA_USER, b"").decode(errors="replace")
            pw = av.get(XA_PASS, b"").decode(errors="replace")
            ok = self.srv.users.get(user) == pw
            self.user = user
            log("ike", self.peer, "XAUTH user %r %s" % (user, "accepted" if ok else "REJECTED"))
            self.set_msgid = struct.unpack("!I", os.urandom(4))[0] | 1
            body = struct.pack("!BBH", CFG_SET, 0, 2) + attr_tv(XA_STATUS, 1 if ok else 0)
            self.send_enc(X_TRANS, self.set_msgid, [(P_ATTR, body)])
            self.state = "xauth-set" if ok else "dead"
        elif ctype == CFG_ACK and self.state == "xauth-set":
            self.state = "modecfg"
            log("ike", self.peer, "XAUTH done")
        elif ctype == CFG_REQUEST and self.state in ("modecfg", "up"):
            self.vip = self.srv.lease(self.user)
            body = struct.pack("!BBH", CFG_REPLY, 0, ident) + attr_tlv(MC_IP4_ADDR, socket.inet_aton(self.vip))
            self.send_enc(X_TRANS, msgid, [(P_ATTR, body)])
            self.state = "up"
            log("ike", self.peer, "mode config: %s gets %s" % (self.user, self.vip))

    def quick(self, msgid, pls):
        if msgid not in self.qm:
            d = {}
            ids = []
            for t, b, w in pls:
                if t == P_ID:
                    ids.append(b)
                elif t not in d:
                    d[t] = b
            choice = None
            for pno, proto, spi, trans in parse_proposals(d[P_SA]):
                if proto != 3 or len(spi) != 4:
                    continue
                for tno, tid, raw in trans:
                    at = {t: v for t, v, _ in parse_attrs(raw)}
                    if tid == 12 and at.get(Q_AUTH) == 2 and at.get(Q_ENCAP) == 1 and at.get(Q_KEYLEN) in (128, 192, 256):
                        rank = {256: 0, 128: 1, 192: 2}[at[Q_KEYLEN]]
                        if choice is None or rank < choice[0]:
                            choice = (rank, pno, spi, tno, tid, raw, at)
            if choice is None:
                log("ike", self.peer, "QM: no acceptable ESP proposal (want AES-CBC/HMAC-SHA1, tunnel mode)")
                return
            _, pno, peer_spi, tno, tid, raw, at = choice
            my_spi = os.urandom(4)
            nr = os.urandom(20)
            gqm = b""
            pls_out = [(P_SA, sa_payload(pno, 3, my_spi, tno, tid, raw)), (P_NONCE, nr)]
            if Q_GROUP in at:
                g = at[Q_GROUP]
                p = MODP[g]
                plen = (p.bit_length() + 7) // 8
                x = int.from_bytes(os.urandom(32), "big")
                pls_out.append((P_KE, pow(2, x, p).to_bytes(plen, "big")))
                gqm = pow(int.from_bytes(d[P_KE], "big"), x, p).to_bytes(plen, "big")
            for b in ids:
                pls_out.append((P_ID, b))
            self.qm[msgid] = dict(ni=d[P_NONCE], nr=nr, my_spi=my_spi, peer_spi=peer_spi,
                                  keylen=at[Q_KEYLEN] // 8, gqm=gqm, ids=ids)
            self.send_enc(X_QUICK, msgid, pls_out, hash_extra_pre=d[P_NONCE])
            log("ike", self.peer, "QM2 sent: ESP AES-%d/HMAC-SHA1-96 tunnel, spi_in=%s spi_out=%s%s" % (
                at[Q_KEYLEN], my_spi.hex(), peer_spi.hex(), " PFS" if gqm else ""))
        else:
            q = self.qm[msgid]
            h = [b for t, b, _ in pls if t == P_HASH]
            want = prf(self.skeyid_a, b"\0", struct.pack("!I", msgid), q["ni"], q["nr"])
            if not h or h[0] != want:
                log("ike", self.peer, "QM3: HASH(3) mismatch")
                return
            if q.get("done"):
                return
            q["done"] = True

            def keymat(spi):
                need = q["keylen"] + 20
                out, blk = b"", b""
                while len(out) < need:
                    blk = prf(self.skeyid_d, blk, q["gqm"], b"\3", spi, q["ni"], q["nr"])
                    out += blk
                return out[:q["keylen"]], out[q["keylen"]:need]

            ek_in, ak_in = keymat(q["my_spi"])
            ek_out, ak_out = keymat(q["peer_spi"])
            c = ChildSA(self, q["my_spi"], q["peer_spi"], ek_in, ak_in, ek_out, ak_out)
            self.children.append(c)
            self.srv.add_child(c)
            log("ike", self.peer, "CHILD_SA installed for %s (%s): spi_in=%s spi_out=%s" % (
                self.user, self.vip, q["my_spi"].hex(), q["peer_spi"].hex()))

    def informational(self, pls):
        for t, b, _ in pls:
            if t == P_D:
                _doi, proto, spisz, n = struct.unpack_from("!IBBH", b, 0)
                spis = [b[8 + i * spisz:8 + (i + 1) * spisz] for i in range(n)]
                log("ike", self.peer, "DELETE proto %d spis %s" % (proto, " ".join(s.hex() for s in spis)))
                if proto == 3:
                    for c in list(self.children):
                        if c.spi_in in spis or c.spi_out in spis:
                            c.deleted = True
                            self.srv.del_child(c)
                elif proto == 1:
                    self.state = "deleted"
                    for c in self.children:
                        c.deleted = True
                        self.srv.del_child(c)
            elif t == P_N:
                _doi, proto, spisz, ntype = struct.unpack_from("!IBBH", b, 0)
                log("ike", self.peer, "NOTIFY type %d" % ntype)

    def handle(self, data):
        hdr = data[:28]
        exch, flags, msgid = hdr[18], hdr[19], struct.unpack_from("!I", hdr, 20)[0]
        body = data[28:struct.unpack_from("!I", hdr, 24)[0]]
        key = (exch, msgid)
        if self.last_rx.get(key) == data:
            if key in self.last_tx and exch != X_INFO:
                self.srv.send_ike(self.last_tx[key], self.peer)
                log("ike", self.peer, "retransmit for exchange %d msgid %08x" % key)
            return
        self.last_rx[key] = data
        if exch == X_AGGR and self.state == "am3" and flags & 1:
            self.am3(hdr, body)
            return
        if self.state in ("am1", "dead") or not flags & 1:
            log("ike", self.peer, "ignoring exchange %d in state %s" % (exch, self.state))
            return
        pt = self.decrypt(hdr, body)
        pls = parse_payloads(hdr[16], pt)
        if exch == X_TRANS:
            self.transaction(msgid, pls)
        elif exch == X_QUICK:
            self.quick(msgid, pls)
        elif exch == X_INFO:
            self.informational(pls)


class ChildSA:
    def __init__(self, ike, spi_in, spi_out, ek_in, ak_in, ek_out, ak_out):
        self.ike, self.spi_in, self.spi_out = ike, spi_in, spi_out
        self.ek_in, self.ak_in, self.ek_out, self.ak_out = ek_in, ak_in, ek_out, ak_out
        self.seq = 0
        self.n_in = self.n_out = self.n_bad = 0
        self.deleted = False


class Server:
    def __init__(self, a):
        self.a = a
        self.users = dict(u.split(":", 1) for u in a.user)
        self.pool = [str(h) for h in ipaddress.ip_network(a.pool).hosts()]
        self.leases = {}
        self.ikes = {}
        self.by_spi = {}
        self.by_vip = {}
        self.all_children = []
        self.unknown_spi = {}
        self.ike_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.ike_sock.bind((a.listen, 500))
        self.esp_sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ESP)
        self.tun = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(self.tun, TUNSETIFF, struct.pack("16sH", a.tun.encode(), IFF_TUN | IFF_NO_PI))
        subprocess.run(["ip", "link", "set", a.tun, "up", "mtu", "1400"], check=True)
        subprocess.run(["ip", "route", "replace", a.pool, "dev", a.tun, "src", a.inner], check=True)

    def lease(self, user):
        if user not in self.leases:
            self.leases[user] = self.pool[len(self.leases)]
        return self.leases[user]

    def send_ike(self, data, peer):
        self.ike_sock.sendto(data, peer)

    def add_child(self, c):
        self.by_spi[c.spi_in] = c
        self.by_vip[c.ike.vip] = c
        self.all_children.append(c)

    def del_child(self, c):
        self.by_spi.pop(c.spi_in, None)
        if self.by_vip.get(c.ike.vip) is c:
            del self.by_vip[c.ike.vip]

    def on_ike(self):
        data, peer = self.ike_sock.recvfrom(65535)
        if len(data) < 28:
            return
        icookie, rcookie = data[:8], data[8:16]
        exch = data[18]
        ike = self.ikes.get(icookie)
        if rcookie == b"\0" * 8 and exch == X_AGGR:
            if ike is not None and ike.last_rx.get((X_AGGR, 0)) == data:
                self.send_ike(ike.last_tx[(X_AGGR, 0)], peer)
                log("ike", peer, "AM1 retransmit, AM2 resent")
                return
            ike = IkeSA(self, icookie, peer)
            self.ikes[icookie] = ike
            ike.last_rx[(X_AGGR, 0)] = data
            log("ike", peer, "AM1 received (i_cookie %s)" % icookie.hex())
            try:
                ike.am1(data[:28], parse_payloads(data[16], data[28:]))
            except Exception as e:  # noqa: BLE001 - a lab responder logs and goes on
                log("ike", peer, "AM1 failed: %r" % e)
                ike.state = "dead"
            return
        if ike is None or ike.rcookie != rcookie:
            log("ike", peer, "unknown cookies %s/%s, exchange %d" % (icookie.hex(), rcookie.hex(), exch))
            return
        if ike.peer != peer:
            log("ike", peer, "peer moved from %s:%d" % ike.peer)
            ike.peer = peer
        try:
            ike.handle(data)
        except Exception as e:  # noqa: BLE001
            log("ike", peer, "error in exchange %d: %r" % (exch, e))

    def on_esp(self):
        pkt, src = self.esp_sock.recvfrom(65535)
        ihl = (pkt[0] & 15) * 4
        esp = pkt[ihl:]
        if len(esp) < 8 + 16 + 16 + 12:
            return
        c = self.by_spi.get(esp[:4])
        if c is None:
            k = "%s:%s" % (src[0], esp[:4].hex())
            self.unknown_spi[k] = self.unknown_spi.get(k, 0) + 1
            if self.unknown_spi[k] == 1:
                log("esp", "unknown spi %s from %s" % (esp[:4].hex(), src[0]))
            return
        icv = hmac.new(c.ak_in, esp[:-12], hashlib.sha1).digest()[:12]
        if not hmac.compare_digest(icv, esp[-12:]):
            c.n_bad += 1
            return
        ct = esp[24:-12]
        if len(ct) % 16:
            c.n_bad += 1
            return
        pt = aes_cbc(c.ek_in, esp[8:24], ct, False)
        padlen, nh = pt[-2], pt[-1]
        if nh != 4 or padlen + 2 > len(pt):
            c.n_bad += 1
            return
        c.n_in += 1
        if c.ike.peer[0] != src[0]:
            log("esp", "spi %s now from %s (IKE peer %s)" % (c.spi_in.hex(), src[0], c.ike.peer[0]))
        os.write(self.tun, pt[:-2 - padlen])

    def on_tun(self):
        pkt = os.read(self.tun, 65535)
        if len(pkt) < 20 or pkt[0] >> 4 != 4:
            return
        dst = socket.inet_ntoa(pkt[16:20])
        c = self.by_vip.get(dst)
        if c is None:
            return
        padlen = (-(len(pkt) + 2)) % 16
        pt = pkt + bytes(range(1, padlen + 1)) + bytes([padlen, 4])
        c.seq += 1
        iv = os.urandom(16)
        esp = c.spi_out + struct.pack("!I", c.seq) + iv + aes_cbc(c.ek_out, iv, pt, True)
        esp += hmac.new(c.ak_out, esp, hashlib.sha1).digest()[:12]
        self.esp_sock.sendto(esp, (c.ike.peer[0], 0))
        c.n_out += 1

    def summary(self):
        for ike in self.ikes.values():
            cs = ike.children or [None]
            for c in cs:
                print("SERVER user=%s peer=%s:%d vip=%s ike=%s child_sa=%s spi_in=%s spi_out=%s "
                      "esp_in=%d esp_out=%d esp_bad=%d%s" % (
                          ike.user or "-", ike.peer[0], ike.peer[1], ike.vip or "-",
                          "yes" if ike.state in ("up", "deleted") else "no(%s)" % ike.state,
                          "yes" if c else "no", c.spi_in.hex() if c else "-", c.spi_out.hex() if c else "-",
                          c.n_in if c else 0, c.n_out if c else 0, c.n_bad if c else 0,
                          " deleted" if c and c.deleted else ""), flush=True)
        for k, n in self.unknown_spi.items():
            print("SERVER unknown_spi=%s n=%d" % (k, n), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--psk", required=True)
    p.add_argument("--user", action="append", default=[])
    p.add_argument("--pool", required=True)
    p.add_argument("--inner", required=True)
    p.add_argument("--tun", default="esp0")
    p.add_argument("--max-time", type=float, default=600)
    a = p.parse_args()
    stop = []
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, lambda n, f: stop.append(n))
    srv = Server(a)
    print("READY listen=%s:500 esp=raw tun=%s pool=%s" % (a.listen, a.tun, a.pool), flush=True)
    deadline = time.monotonic() + a.max_time
    try:
        while not stop and time.monotonic() < deadline:
            try:
                r, _, _ = select.select([srv.ike_sock, srv.esp_sock, srv.tun], [], [], 0.5)
            except InterruptedError:
                continue
            if srv.ike_sock in r:
                srv.on_ike()
            if srv.esp_sock in r:
                srv.on_esp()
            if srv.tun in r:
                srv.on_tun()
    finally:
        srv.summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
