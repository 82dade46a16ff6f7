"""ct_stats of netns-lab/tests/ipsec/multihost.sh: /proc/net/stat/nf_conntrack on stdin,
summed over CPUs; prints "insert_failed drop".
"""
import sys
rows = [l.split() for l in sys.stdin]
if not rows:
    print("0 0"); sys.exit()
h = rows[0]
s = {k: sum(int(r[i], 16) for r in rows[1:]) for i, k in enumerate(h)}
print(s.get("insert_failed", 0), s.get("drop", 0))
