#!/usr/bin/python3
"""Minimal stand-in for pppd: speaks just enough PPP/LCP over a tty.

Shared by the PPTP and L2TP labs. This machine's kernel has no PPP (no
/dev/ppp), so pppd cannot run. pptpd, pptp and xl2tpd (with `force
userspace = yes`) only need *something* on the other side of their pty that
reads and writes async-HDLC framed PPP (RFC 1662: 0x7e flags, 0x7d escapes,
FCS-16), which is what pppd does on a pty; they carry the PPP frames in GRE
or L2TP themselves. This program does
LCP only: Configure-Request/Ack (Magic-Number only), then Echo-Request every
--echo-interval seconds, answering the peer's Echo-Requests. Every LCP event
is logged, one line each, to the log file:

    <epoch> <iso-time> <role> <name> <event> [key=value ...]

events: start, conf-req-sent, conf-req-rcvd, conf-ack-sent, conf-ack-rcvd,
opened, echo-req-sent, echo-req-rcvd, echo-rep-sent, echo-rep-rcvd,
term-req-rcvd, term-ack-sent, rx-bad-fcs, rx-other, pty-closed, exit.

Ways to run it:

  as pppd, started by xl2tpd (LAC or LNS): xl2tpd execs the fixed path
          /usr/sbin/pppd (compiled in; no setting changes it), so the lab
          bind-mounts this file over that path inside the daemon's private
          mount namespace (nsrun.sh). argv is
            /dev/pts/N passive nodetach [LOCAL:REMOTE] [refuse-pap ...]
            [debug] [file PPPOPTFILE] [ipparam PEER_IP] [...]
          with the pty slave also on stdin and stdout (stderr: xl2tpd's).
          Settings: $LCP_STANDIN_*, then "standin-KEY VALUE" lines in the
          `pppoptfile` (logdir, name, role, echo-interval, max-time). Log:
          <logdir>/<name>.lcp.log, or <logdir>/<role>-<pid>.lcp.log when no
          name is set (an LNS starts one stand-in per session).

  as pppd, started by pptpctrl/pptp: still works as in the PPTP lab.

  client: like `pppd pty "CMD"`: opens a pty pair, starts the command
          after "--" with the slave as stdin/stdout (in its own session) and
          speaks PPP on the master:
            lcp_standin.py --client --name c1 --log FILE -- CMD ARGS...

Bounded: exits after --max-time seconds (default 600, env
LCP_STANDIN_MAX_TIME), on SIGTERM/SIGINT/SIGHUP, or when the tty closes.
Python 3 standard library only.
"""

import argparse
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time
import termios
import tty
from datetime import datetime

PPP_LCP = 0xC021

CONF_REQ, CONF_ACK, CONF_NAK, CONF_REJ = 1, 2, 3, 4
TERM_REQ, TERM_ACK, CODE_REJ, PROTO_REJ = 5, 6, 7, 8
ECHO_REQ, ECHO_REP, DISC_REQ = 9, 10, 11
OPT_MAGIC = 5

# ---------------------------------------------------------------- HDLC (RFC 1662)

_FCS_TABLE = []
for _b in range(256):
    _v = _b
    for _ in range(8):
        _v = (_v >> 1) ^ 0x8408 if _v & 1 else _v >> 1
    _FCS_TABLE.append(_v)


def fcs16(data, fcs=0xFFFF):
    for b in data:
        fcs = (fcs >> 8) ^ _FCS_TABLE[(fcs ^ b) & 0xFF]
    return fcs


GOOD_FCS = 0xF0B8


def hdlc_encode(proto, info, accm=0xFFFFFFFF):
    """Async-HDLC frame with address/control (FF 03), 2-byte protocol, FCS."""
    body = bytes([0xFF, 0x03]) + struct.pack("!H", proto) + info
    fcs = fcs16(body) ^ 0xFFFF
    body += struct.pack("<H", fcs)
    out = bytearray([0x7E])
    for b in body:
        if b in (0x7E, 0x7D) or (b < 0x20 and accm & (1 << b)):
            out += bytes([0x7D, b ^ 0x20])
        else:
            out.append(b)
    out.append(0x7E)
    return bytes(out)


class HdlcDecoder:
    """Feeds raw tty bytes, yields (proto, info) of frames with a good FCS."""

    def __init__(self):
        self.buf = bytearray()
        self.esc = False
        self.bad = 0

    def feed(self, data):
        frames = []
        for b in data:
            if b == 0x7E:
                if len(self.buf) >= 4:
                    fr = self._finish(bytes(self.buf))
                    if fr is not None:
                        frames.append(fr)
                self.buf.clear()
                self.esc = False
            elif b == 0x7D:
                self.esc = True
            else:
                if self.esc:
                    b ^= 0x20
                    self.esc = False
                if len(self.buf) < 4096:
                    self.buf.append(b)
        return frames

    def _finish(self, fr):
        if fcs16(fr) != GOOD_FCS:
            self.bad += 1
            return None
        fr = fr[:-2]
        if fr[:2] == b"\xff\x03":  # address/control (may be compressed)
            fr = fr[2:]
        if not fr:
            return None
        if fr[0] & 1:  # protocol field compressed to one byte
            return fr[0], fr[1:]
        if len(fr) < 2:
            return None
        return (fr[0] << 8) | fr[1], fr[2:]


# ---------------------------------------------------------------- log


class Log:
    def __init__(self, path, role, name):
        self.f = open(path, "a", buffering=1) if path else sys.stderr
        self.role, self.name = role, name

    def ev(self, event, **kv):
        now = time.time()
        extra = "".join(" %s=%s" % (k, v) for k, v in kv.items())
        self.f.write("%.6f %s %s %s %s%s\n" % (
            now, datetime.fromtimestamp(now).strftime("%H:%M:%S.%f")[:-3],
            self.role, self.name, event, extra))


# ---------------------------------------------------------------- LCP


class Lcp:
    def __init__(self, fd, log, echo_interval, restart):
        self.fd, self.log = fd, log
        self.echo_interval, self.restart = echo_interval, restart
        self.magic = random.getrandbits(32) or 1
        self.peer_magic = None
        self.next_id = random.randrange(256)
        self.req_id = None
        self.ack_rcvd = False
        self.ack_sent = False
        self.opened = False
        self.last_req = 0.0
        self.next_echo = 0.0
        self.echo_id = 0
        self.echo_sent = {}  # id -> monotonic send time
        self.stats = dict.fromkeys(("echo_req_sent", "echo_req_rcvd", "echo_rep_sent", "echo_rep_rcvd", "bad_fcs"), 0)

    def _send(self, code, ident, data):
        pkt = struct.pack("!BBH", code, ident, 4 + len(data)) + data
        frame = hdlc_encode(PPP_LCP, pkt)
        try:
            os.write(self.fd, frame)
        except BlockingIOError:
            self.log.ev("tx-dropped", reason="tty-full")

    def send_conf_req(self):
        self.req_id = self.next_id
        self.next_id = (self.next_id + 1) & 0xFF
        self._send(CONF_REQ, self.req_id, struct.pack("!BBI", OPT_MAGIC, 6, self.magic))
        self.last_req = time.monotonic()
        self.log.ev("conf-req-sent", id=self.req_id, magic="%08x" % self.magic)

    def tick(self):
        now = time.monotonic()
        if not self.ack_rcvd and now - self.last_req >= self.restart:
            self.send_conf_req()
        if self.opened and now >= self.next_echo:
            self.echo_id = (self.echo_id + 1) & 0xFF
            self.echo_sent[self.echo_id] = now
            self._send(ECHO_REQ, self.echo_id, struct.pack("!I", self.magic))
            self.stats["echo_req_sent"] += 1
            self.log.ev("echo-req-sent", id=self.echo_id, n=self.stats["echo_req_sent"])
            self.next_echo = now + self.echo_interval

    def next_timeout(self):
        now = time.monotonic()
        t = [self.last_req + self.restart - now] if not self.ack_rcvd else []
        if self.opened:
            t.append(self.next_echo - now)
        return max(0.0, min(t)) if t else 1.0

    def _check_open(self):
        if self.ack_rcvd and self.ack_sent and not self.opened:
            self.opened = True
            self.next_echo = time.monotonic() + 0.2
            self.log.ev("opened", magic="%08x" % self.magic,
                        peer_magic="%08x" % (self.peer_magic or 0))

    def input(self, proto, info):
        if proto != PPP_LCP:
            self.log.ev("rx-other", proto="0x%04x" % proto, len=len(info))
            return
        if len(info) < 4:
            return
        code, ident, length = struct.unpack("!BBH", info[:4])
        data = info[4:length]
        if code == CONF_REQ:
            opts, i = {}, 0
            while i + 2 <= len(data):
                t, ln = data[i], data[i + 1]
                if ln < 2:
                    break
                opts[t] = data[i + 2:i + ln]
                i += ln
            if OPT_MAGIC in opts and len(opts[OPT_MAGIC]) == 4:
                self.peer_magic = struct.unpack("!I", opts[OPT_MAGIC])[0]
                if self.peer_magic == self.magic:
                    self.log.ev("loopback-suspected", magic="%08x" % self.magic)
            self.log.ev("conf-req-rcvd", id=ident, opts=",".join(str(t) for t in opts))
            # Accept whatever the peer asks for (both ends are stand-ins).
            self._send(CONF_ACK, ident, data)
            self.log.ev("conf-ack-sent", id=ident)
            if self.opened:  # peer restarted: renegotiate
                self.opened = self.ack_rcvd = False
                self.send_conf_req()
            self.ack_sent = True
            self._check_open()
        elif code == CONF_ACK:
            if ident == self.req_id and not self.ack_rcvd:
                self.ack_rcvd = True
                self.log.ev("conf-ack-rcvd", id=ident)
                self._check_open()
            else:
                self.log.ev("conf-ack-stale", id=ident)
        elif code in (CONF_NAK, CONF_REJ):
            self.log.ev("conf-nak-rej-rcvd", code=code, id=ident)
            self.send_conf_req()
        elif code == ECHO_REQ:
            self.stats["echo_req_rcvd"] += 1
            self.log.ev("echo-req-rcvd", id=ident, n=self.stats["echo_req_rcvd"])
            if self.opened:
                self._send(ECHO_REP, ident, struct.pack("!I", self.magic) + data[4:])
                self.stats["echo_rep_sent"] += 1
                self.log.ev("echo-rep-sent", id=ident, n=self.stats["echo_rep_sent"])
        elif code == ECHO_REP:
            sent = self.echo_sent.pop(ident, None)
            self.stats["echo_rep_rcvd"] += 1
            rtt = "%.1fms" % ((time.monotonic() - sent) * 1000) if sent else "unknown"
            self.log.ev("echo-rep-rcvd", id=ident, n=self.stats["echo_rep_rcvd"], rtt=rtt)
        elif code == TERM_REQ:
            self.log.ev("term-req-rcvd", id=ident)
            self._send(TERM_ACK, ident, b"")
            self.log.ev("term-ack-sent", id=ident)
            self.opened = self.ack_rcvd = self.ack_sent = False
        else:
            self.log.ev("lcp-other", code=code, id=ident)


# ---------------------------------------------------------------- main


class Stop(Exception):
    pass


def _on_signal(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def run(fd, log, args, child=None):
    os.set_blocking(fd, False)
    lcp = Lcp(fd, log, args.echo_interval, args.restart)
    dec = HdlcDecoder()
    deadline = time.monotonic() + args.max_time
    reason = "max-time"
    lcp.send_conf_req()
    try:
        while time.monotonic() < deadline:
            if child is not None and child.poll() is not None:
                reason = "child-exited rc=%s" % child.returncode
                break
            timeout = min(lcp.next_timeout(), deadline - time.monotonic(), 0.5)
            r, _, _ = select.select([fd], [], [], max(0.0, timeout))
            if r:
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    data = None
                except OSError:  # EIO: the other side of the pty is gone
                    data = b""
                if data == b"":
                    reason = "pty-closed"
                    log.ev("pty-closed")
                    break
                if data:
                    for proto, info in dec.feed(data):
                        lcp.input(proto, info)
                    if dec.bad != lcp.stats["bad_fcs"]:
                        lcp.stats["bad_fcs"] = dec.bad
                        log.ev("rx-bad-fcs", total=dec.bad)
            lcp.tick()
    except Stop as e:
        reason = "signal %s" % e
    log.ev("exit", reason=reason.replace(" ", "_"),
           **{k: v for k, v in lcp.stats.items()})
    return 0


def pppd_main(args):
    """Started the way pppd is started by xl2tpd (or pptpctrl / pptp)."""
    # pppd-style argv: pick out what we need, ignore the rest. Settings come
    # from $LCP_STANDIN_*, then "standin-KEY VALUE" pairs in the options file
    # ("file OPTFILE": xl2tpd's `pppoptfile`), then such pairs on the command
    # line.
    a, optfile, ipparam, addrs = args.pppd_args, None, "", ""
    for i, w in enumerate(a):
        if w == "file" and i + 1 < len(a):
            optfile = a[i + 1]
        elif w == "ipparam" and i + 1 < len(a):
            ipparam = a[i + 1]
        elif ":" in w and (w[0].isdigit() or w[0] == ":"):
            addrs = w
    conf = {"logdir": os.environ.get("LCP_STANDIN_LOGDIR", ""), "name": "", "role": ""}
    pairs = []
    if optfile:
        try:
            with open(optfile) as f:
                pairs += [ln.split() for ln in f]
        except OSError:
            pass
    pairs += [a[i:i + 2] for i in range(len(a) - 1)]
    for p in pairs:
        if len(p) == 2 and p[0].startswith("standin-"):
            conf[p[0][len("standin-"):]] = p[1]
    if "echo-interval" in conf:
        args.echo_interval = float(conf["echo-interval"])
    if "max-time" in conf:
        args.max_time = float(conf["max-time"])
    # xl2tpd: argv[1] names the pty slave and stdin/stdout are that slave.
    # pptp (no --nolaunchpppd): argv[1] names the pty, stdin is /dev/null.
    # pptpctrl: the pty slave is stdin/stdout, no device argument.
    fd = 0
    if a and a[0].startswith("/dev/"):
        same = False
        try:
            same = os.isatty(0) and os.path.samestat(os.fstat(0), os.stat(a[0]))
        except OSError:
            pass
        if not same:
            fd = os.open(a[0], os.O_RDWR | os.O_NOCTTY)
    role = conf["role"] or ("passive" in a and "nodetach" in a and "xl2tpd") or "pppd"
    name = conf["name"]
    fname = "%s.lcp.log" % (name if name else "%s-%d" % (role, os.getpid()))
    path = os.path.join(conf["logdir"], fname) if conf["logdir"] else None
    log = Log(path, role, name or "%s-%d" % (role, os.getpid()))
    try:
        tty.setraw(fd, termios.TCSANOW)  # as pppd does; TCSANOW keeps queued input
        raw = "yes"
    except OSError as e:
        raw = "no(%s)" % e.strerror.replace(" ", "_")
    log.ev("start", argv="|".join(a), ipparam=ipparam or "-", addrs=addrs or "-",
           tty=os.ttyname(fd) if os.isatty(fd) else "-", fd=fd,
           caller_id=os.environ.get("CALLER_ID", "-"), raw=raw, ppid=os.getppid())
    return run(fd, log, args)


def client_main(args):
    cmd = args.cmd
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        print("lcp_standin: --client needs a command after --", file=sys.stderr)
        return 2
    log = Log(args.log, "client", args.name or "client")
    master, slave = os.openpty()
    tty.setraw(slave, termios.TCSANOW)
    tty.setraw(master, termios.TCSANOW)
    errf = open(args.child_log, "a") if args.child_log else subprocess.DEVNULL
    child = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=errf,
                             start_new_session=True, close_fds=True)
    try:
        os.close(slave)
        log.ev("start", child_pid=child.pid, cmd="|".join(cmd))
        return run(master, log, args, child)
    except Stop as e:  # a signal before run() took over
        log.ev("exit", reason="signal_%s_at_start" % e)
        return 0
    finally:
        _stop_child(child, log)


def _stop_child(child, log):
    if child.poll() is None:
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except OSError:
            pass
        try:
            child.wait(timeout=3)
        except subprocess.TimeoutExpired:
            log.ev("child-kill", pid=child.pid)
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except OSError:
                pass
            child.wait(timeout=3)
    else:
        # pptp may leave helpers (its call manager) in its process group.
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except OSError:
            pass
    log.ev("child-exit", pid=child.pid, rc=child.returncode)


def main():
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--client", action="store_true", help="client mode (spawn CMD on a pty)")
    p.add_argument("--name", default="", help="name used in the log lines")
    p.add_argument("--log", default="", help="client mode: log file (default stderr)")
    p.add_argument("--child-log", default="", help="client mode: CMD's stderr goes here")
    p.add_argument("--echo-interval", type=float,
                   default=float(os.environ.get("LCP_STANDIN_ECHO_INTERVAL", "1")))
    p.add_argument("--restart", type=float, default=1.0, help="Configure-Request retry interval (s)")
    p.add_argument("--max-time", type=float,
                   default=float(os.environ.get("LCP_STANDIN_MAX_TIME", "600")))
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        args, rest = p.parse_known_args()
        args.cmd = rest
        return client_main(args)
    # pppd mode: argv is whatever pptpctrl or pptp passes to pppd; do not parse it.
    args = p.parse_args([])
    args.pppd_args = sys.argv[1:]
    return pppd_main(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Stop:  # signalled while starting up (e.g. pptp ends its "pppd" at once)
        sys.exit(0)
