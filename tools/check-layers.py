#!/usr/bin/env python3
"""The loader's dependencies run one way: every #include "loader/..." points
to a lower layer or to the same folder, never up and never sideways between
protocols. docs/architecture.md explains the layers; this is their check
(ctest `layering`).

Layers, lowest first; the protocols are siblings and may not include one
another:
  core < session < dataplane < proto/{pptp,ipsec,l2tp} < daemon < cli

A file's folder is its layer; a source file outside the layer folders
fails the check. Run from anywhere: python3 tools/check-layers.py
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RANK = {"core": 0, "session": 1, "dataplane": 2, "proto/pptp": 3, "proto/ipsec": 3, "proto/l2tp": 3, "daemon": 4, "cli": 5}
INCLUDE = re.compile(r'^\s*#\s*include\s+"loader/([\w/]+)\.h"', re.M)


def layer_of(rel):
    """rel: a path under loader/ ("proto/pptp/pptp_table.cpp"); its folder is its layer."""
    d = os.path.dirname(rel)
    return d if d in RANK else None


def main():
    loader = os.path.join(ROOT, "loader")
    bad, files = [], 0
    for d, _, names in os.walk(loader):
        for n in sorted(names):
            if not n.endswith((".h", ".cpp")):
                continue
            rel = os.path.relpath(os.path.join(d, n), loader)
            files += 1
            mine = layer_of(rel)
            if mine is None:
                bad.append("loader/%s: in no layer folder (move it into one, or add the folder to RANK)" % rel)
                continue
            for m in INCLUDE.finditer(open(os.path.join(d, n)).read()):
                dep = m.group(1) + ".h"
                theirs = layer_of(dep)
                if theirs is None:
                    bad.append("loader/%s includes loader/%s, which is in no layer" % (rel, dep))
                elif theirs != mine and RANK[theirs] >= RANK[mine]:
                    way = "sideways" if RANK[theirs] == RANK[mine] else "up"
                    bad.append("loader/%s (%s) includes loader/%s (%s): %s" % (rel, mine, dep, theirs, way))
    for b in bad:
        print(b)
    if bad:
        print("check-layers: %d include(s) against the layering" % len(bad), file=sys.stderr)
        return 1
    print("check-layers: %d loader files, every include points down or within its layer" % files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
