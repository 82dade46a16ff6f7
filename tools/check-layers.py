#!/usr/bin/env python3
"""Dependencies run one way: every #include "loader/..." or "bpf/..." points
to a lower layer or to the same layer, never up and never sideways between
siblings. docs/architecture.md explains the layers; this is their check
(ctest `layering`).

The loader, lowest first; the protocols are siblings and may not include
one another:
  core < session < dataplane < proto/{pptp,ipsec,l2tp}, state < daemon < cli
(state, the session tables saved and restored, sits beside the protocols.)
The data plane: lib (with the ctx shims) < proto < the pipeline and hook
files at bpf/.

A file's folder is its layer; a source file outside the layer folders
fails the check. Run from anywhere: python3 tools/check-layers.py
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# tree -> {folder under the tree: (layer, rank)}
TREES = {
    "loader": {
        "core": ("core", 0), "session": ("session", 1), "dataplane": ("dataplane", 2),
        "proto/pptp": ("proto/pptp", 3), "proto/ipsec": ("proto/ipsec", 3), "proto/l2tp": ("proto/l2tp", 3),
        "state": ("state", 3),
        "daemon": ("daemon", 4), "cli": ("cli", 5),
    },
    "bpf": {"lib": ("lib", 0), "ctx": ("lib", 0), "proto": ("proto", 1), "": ("pipeline", 2)},
}
SOURCES = (".h", ".cpp", ".c")
INCLUDE = re.compile(r'^\s*#\s*include\s+"(loader|bpf)/([\w/.]+)"', re.M)


def layer_of(tree, rel):
    """rel: a path under the tree ("proto/pptp/pptp_table.cpp"); its folder is its layer."""
    return TREES[tree].get(os.path.dirname(rel))


def check_tree(tree, bad):
    files = 0
    top = os.path.join(ROOT, tree)
    for d, _, names in os.walk(top):
        for n in sorted(names):
            if not n.endswith(SOURCES):
                continue
            rel = os.path.relpath(os.path.join(d, n), top)
            files += 1
            mine = layer_of(tree, rel)
            if mine is None:
                bad.append("%s/%s: in no layer folder (move it into one, or add the folder to TREES)" % (tree, rel))
                continue
            for m in INCLUDE.finditer(open(os.path.join(d, n)).read()):
                if m.group(1) != tree:
                    continue
                dep = m.group(2)
                theirs = layer_of(tree, dep)
                if theirs is None:
                    bad.append("%s/%s includes %s/%s, which is in no layer" % (tree, rel, tree, dep))
                elif theirs[0] != mine[0] and theirs[1] >= mine[1]:
                    way = "sideways" if theirs[1] == mine[1] else "up"
                    bad.append("%s/%s (%s) includes %s/%s (%s): %s" % (tree, rel, mine[0], tree, dep, theirs[0], way))
    return files


def main():
    bad = []
    counts = ["%d %s" % (check_tree(t, bad), t) for t in TREES]
    for b in bad:
        print(b)
    if bad:
        print("check-layers: %d include(s) against the layering" % len(bad), file=sys.stderr)
        return 1
    print("check-layers: %s files, every include points down or within its layer" % " + ".join(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
