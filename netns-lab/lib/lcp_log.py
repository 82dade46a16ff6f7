"""Reading what netns-lab/lib/lcp_standin.py logs: one line per LCP event,
"<date> <time> <name> <pid> <event> key=value ...". Used by the real-software
labs' reports."""
import collections


def read(path):
    """A file's text, or "" if it is missing (a process that never started)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def lcp_stats(text):
    """(events counted by name, the exit reason, our magic, the peer's magic)."""
    ev = collections.Counter()
    last_exit, magic, peer_magic = "", "", ""
    for line in text.splitlines():
        p = line.split()
        if len(p) >= 5:
            ev[p[4]] += 1
            if p[4] == "exit":
                last_exit = " ".join(p[5:6])
            elif p[4] == "opened":
                kv = dict(x.split("=", 1) for x in p[5:] if "=" in x)
                magic, peer_magic = kv.get("magic", ""), kv.get("peer_magic", "")
    return ev, last_exit, magic, peer_magic
