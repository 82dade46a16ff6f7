"""For netns-lab/tests/dataplane/flood.sh: of two `vpnpt status --json` documents,
the new calls and new SPIs refused for lack of room in between, and the
outbound reasons that moved.

  flood_refusals.py BEFORE_JSON AFTER_JSON     prints "CALLS SPIS REASONS"
"""
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
r = lambda d, n: d["reasons"]["outbound"][n]
moved = [n for n in b["reasons"]["outbound"] if r(b, n) != r(a, n)]
print("%d %d %s" % (r(b, "pptp_table_full") + r(b, "pptp_id_exhausted") - r(a, "pptp_table_full") - r(a, "pptp_id_exhausted"),
                    r(b, "esp_table_full") - r(a, "esp_table_full"), ",".join(moved) or "none"))
