"""delta of netns-lab/tests/ipsec/multihost.sh: AFTER - BEFORE of one value of two
JSON files, by dotted path (missing in AFTER: n/a, in BEFORE: 0).

  multihost_delta.py BEFORE.json AFTER.json DOTTED.PATH
"""
import json, sys
def get(f, path):
    d = json.load(open(f))
    for p in path.split("."):
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d
b, a = get(sys.argv[1], sys.argv[3]), get(sys.argv[2], sys.argv[3])
print("n/a" if a is None else a - (b or 0))
