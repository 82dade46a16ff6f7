"""Helpers shared by the lab's crafted peers (peers/pptp, peers/ipsec,
peers/l2tp): their clock, log lines and signal handling, the dispatch of
their subcommands, PASS/FAIL checks in the lab's output format, and small
formatting helpers."""
import json
import os
import signal
import sys
import threading
import time


def now():
    return time.monotonic()


class Terminated(Exception):
    """SIGTERM/SIGINT: stop, but still write the report."""


def _on_signal(signum, _frame):
    raise Terminated("stopped by signal %d" % signum)


class Log:
    """log(fmt, *args): one line "<seconds since t0> <name>: <message>" on stdout,
    with wall=True first the wall clock (time.time()) too."""

    def __init__(self, name, wall=False, t0=None):
        self.name = name
        self.wall = wall
        self.t0 = now() if t0 is None else t0
        self.lock = threading.Lock()

    def __call__(self, fmt, *args):
        msg = fmt % args if args else fmt
        with self.lock:
            if self.wall:
                sys.stdout.write("%.3f %7.3f %s: %s\n" % (time.time(), now() - self.t0, self.name, msg))
            else:
                sys.stdout.write("%7.3f %s: %s\n" % (now() - self.t0, self.name, msg))
            sys.stdout.flush()


def run(ap, commands, signals=()):
    """A peer's main: parse its command line (ap has subcommands, dest "cmd") and
    return what commands[cmd](args) returns. For the subcommands in signals,
    SIGTERM and SIGINT raise Terminated, so the peer still writes its report."""
    a = ap.parse_args()
    if a.cmd in signals:
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    return commands[a.cmd](a)


class Checks:
    def __init__(self, prefix):
        self.prefix = prefix
        self.failed = 0
        self.passed = 0

    def ok(self, cond, desc, detail=""):
        if cond:
            self.passed += 1
            print("PASS: %s%s%s" % (self.prefix, desc, (" (%s)" % detail) if detail else ""))
        else:
            self.failed += 1
            print("FAIL: %s%s%s" % (self.prefix, desc, (": %s" % detail) if detail else ""))
        sys.stdout.flush()
        return cond


def short(lst, n=6):
    lst = list(lst)
    return ", ".join(str(x) for x in lst[:n]) + (" ... (%d in all)" % len(lst) if len(lst) > n else "")


def raw_bytes(v):
    """bpftool -j prints bytes as ["0x0a", ...]."""
    return bytes(int(x, 16) for x in v)


def write_report(path, rep):
    """The JSON report, written whole (through a temporary file) or not at all."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rep, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def load_reports(paths, missing):
    """The JSON reports at paths, in order; for one that cannot be read,
    missing(path, error) stands in (a peer that failed early writes none)."""
    out = []
    for p in paths:
        try:
            out.append(json.load(open(p)))
        except (OSError, ValueError) as e:
            out.append(missing(p, e))
    return out


def touch(path):
    if path:
        with open(path, "w"):
            pass
