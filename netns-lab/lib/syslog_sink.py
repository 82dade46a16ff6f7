#!/usr/bin/python3
"""Tiny syslog receiver for the real-software labs (pptp-linux, pptpd and vpnc log only via syslog(3)).

    syslog_sink.py [--max-time S] SOCKET=LOGFILE [SOCKET=LOGFILE ...]

Binds one AF_UNIX datagram socket per pair (what glibc's syslog() sends to
when /dev/log points at it: nsrun.sh makes a private /dev with that link)
and appends every message, prefixed with a wall-clock timestamp, to the
paired file. Exits on SIGTERM/SIGINT or after --max-time seconds (default
600); removes its sockets.
"""

import argparse
import os
import select
import signal
import socket
import sys
import time
from datetime import datetime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--max-time", type=float, default=600)
    p.add_argument("pairs", nargs="+", metavar="SOCKET=LOGFILE")
    a = p.parse_args()
    stop = []
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, lambda n, f: stop.append(n))
    socks = {}
    for pair in a.pairs:
        path, _, logfile = pair.partition("=")
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        os.chmod(path, 0o666)
        socks[s] = (path, open(logfile, "a", buffering=1))
    deadline = time.monotonic() + a.max_time
    try:
        while not stop and time.monotonic() < deadline:
            try:
                r, _, _ = select.select(list(socks), [], [], 0.5)
            except InterruptedError:
                continue
            for s in r:
                msg = s.recv(8192).decode("utf-8", "replace").rstrip("\n\0")
                # "<PRI>Mmm dd hh:mm:ss tag[pid]: text" -> drop <PRI> and the date
                if msg.startswith("<") and ">" in msg[:5]:
                    msg = msg[msg.index(">") + 1:]
                    if len(msg) > 16 and msg[3] == " " and msg[15] == " ":
                        msg = msg[16:]
                now = time.time()
                socks[s][1].write("%.6f %s %s\n" % (
                    now, datetime.fromtimestamp(now).strftime("%H:%M:%S.%f")[:-3], msg))
    finally:
        for s, (path, f) in socks.items():
            s.close()
            f.close()
            try:
                os.unlink(path)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
