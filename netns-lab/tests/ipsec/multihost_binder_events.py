"""binder_events of netns-lab/tests/ipsec/multihost.sh: counts what the daemon's log
(on stdin) says about SPI binding.
"""
import re, sys
c = {"bound": 0, "refused: no owner": 0, "refused: exchange under way": 0, "refused: window closed": 0, "other ESP/IKE lines": 0}
for l in sys.stdin:
    if " bound to " in l: c["bound"] += 1
    elif "no LAN host finished" in l: c["refused: no owner"] += 1
    elif "still under way" in l: c["refused: exchange under way"] += 1
    elif "window had closed" in l: c["refused: window closed"] += 1
    elif re.search(r"ESP|IKE|SPI|hold|held", l): c["other ESP/IKE lines"] += 1
print(", ".join("%s %d" % kv for kv in c.items()))
