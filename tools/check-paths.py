#!/usr/bin/env python3
"""Every repository path the text names must exist.

Docs, READMEs, comments and scripts point readers at files ("see
loader/proto/pptp/pptp_slowpath.cpp"). After a move such a pointer silently goes
stale. This reads every tracked text file, finds the tokens that look like
a path under one of the repository's top-level folders, and fails listing
each one that names nothing. Run from anywhere: python3 tools/check-paths.py

A token may use shell braces (loader/session/quote_index.{h,cpp}), a glob
(netns-lab/tests/*/real.sh), a trailing ":LINE" or a placeholder such as <p>
(then only the part before it is checked). A path after a possessive
("Cilium's bpf/...") is another project's and is not checked.
"""
import fnmatch
import itertools
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPS = ("abi", "bpf", "cmake", "docs", "loader", "maps", "netns-lab", "tests", "tools")
# Files exempt from the check (none now), and headers the system provides (<bpf/libbpf.h>).
IGNORE_FILES = set()
SYSTEM = re.compile(r"^bpf/(bpf|libbpf|btf|xsk|bpf_helpers|bpf_endian|bpf_tracing|bpf_core_read|libbpf_common|bpf_helper_defs)\.h$")
TEXT = (".md", ".h", ".c", ".cpp", ".hpp", ".sh", ".py", ".txt", ".cmake", ".service", ".conf", ".def", ".in", ".json")
# A path token: a top folder at a word start (not inside /usr/lib/bpf/... or xdp-tools/...).
TOKEN = re.compile(r"(?<![\w./\-$~@<])(?:%s)/[\w.{},*<\-/]+" % "|".join(re.escape(t) for t in TOPS))


def expand(tok):
    """Brace expansion, one level at a time."""
    m = re.search(r"\{([^{}]*)\}", tok)
    if not m:
        return [tok]
    out = []
    for alt in m.group(1).split(","):
        out += expand(tok[: m.start()] + alt + tok[m.end():])
    return out


def exists(path, tracked, dirs):
    if any(c in path for c in "*?["):
        return any(fnmatch.fnmatch(t, path) for t in tracked) or any(fnmatch.fnmatch(d, path) for d in dirs)
    return path in tracked or path in dirs


def tracked_files():
    """git's file list; outside a checkout (a tarball), the tree without build output."""
    r = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True, text=True)
    if r.returncode == 0 and r.stdout:
        return set(r.stdout.split())
    out = set()
    for d, subdirs, files in os.walk(ROOT):
        subdirs[:] = [s for s in subdirs if not s.startswith((".", "build"))]
        out.update(os.path.relpath(os.path.join(d, f), ROOT) for f in files)
    return out


def main():
    tracked = tracked_files()
    dirs = set()
    for t in tracked:
        parts = t.split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    bad = []
    for f in sorted(tracked):
        if f in IGNORE_FILES or not (f.endswith(TEXT) or os.path.basename(f) in ("CMakeLists.txt", "run")):
            continue
        try:
            text = open(os.path.join(ROOT, f), encoding="utf-8").read()
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            for m in TOKEN.finditer(line):
                tok = m.group(0)
                if re.search(r"\w's? $", line[: m.start()]):
                    continue  # a path in another project's tree: "Cilium's bpf/include/..."
                tok = tok.split("<", 1)[0]  # a placeholder: check what precedes it
                tok = tok.rstrip(".,/-")
                if "{" in tok and "}" not in tok:
                    tok = tok.split("{", 1)[0].rstrip("/")
                if tok.count("/") == 0 or tok in TOPS:
                    continue
                for p in expand(tok):
                    p = p.rstrip(".,/")
                    if SYSTEM.match(p) or p.startswith("build/"):
                        continue
                    if not exists(p, tracked, dirs):
                        bad.append(f"{f}:{n}: {p}")
    for b in bad:
        print(b)
    if bad:
        print(f"check-paths: {len(bad)} named path(s) do not exist", file=sys.stderr)
        return 1
    print(f"check-paths: every named path exists ({len(tracked)} tracked files read)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
