"""nonzero_reasons of netns-lab/tests/ipsec/multihost.sh: "dir/reason=n" for every
reason counter that moved between two `vpnpt status --json` files ("none").

  multihost_reasons.py BEFORE.json AFTER.json
"""
import json, sys
b, a = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
out = []
for d, per in sorted(a.get("reasons", {}).items()):
    for r, n in sorted(per.items()):
        v = n - b.get("reasons", {}).get(d, {}).get(r, 0)
        if v:
            out.append("%s/%s=%d" % (d, r, v))
print(" ".join(out) or "none")
