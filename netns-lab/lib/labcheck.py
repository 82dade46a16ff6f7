"""Helpers shared by the lab's crafted peers (peers/pptp, peers/ipsec):
their clock and signal handling, PASS/FAIL checks in the lab's output format,
and small formatting helpers."""
import sys
import time


def now():
    return time.monotonic()


class Terminated(Exception):
    """SIGTERM/SIGINT: stop, but still write the report."""


def _on_signal(signum, _frame):
    raise Terminated("stopped by signal %d" % signum)


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
