"""Check (3) of netns-lab/tests/pptp/multiclient.sh: vpnpt's call table while the
calls were up against what the server saw (see check_calls_table there).

  multiclient_calls.py CALLS_JSON SUMMARY_JSON SERVER PHASE LAN_PREFIX

Prints five lines: live entries, expected calls, problems, extra entries,
the translated ids.
"""
import json, sys
calls = [c for c in json.load(open(sys.argv[1])) if c["server"] == sys.argv[3]]
summ = json.load(open(sys.argv[2]))
ph, lan = int(sys.argv[4]), sys.argv[5]
want = {}
for c in summ["calls_detail"]:
    if c["client"] is None:
        continue
    ip = "%s.%d" % (lan, 10 + int(c["client"][1:]))
    want[(ip, 1000 + c["k"])] = c
# A previous phase's calls may still be in their closing grace period (their
# translated ids stay reserved): compare against the live calls only.
calls = [c for c in calls if c["state"] != "closing"]
have = {(c["client"], c["client_call_id"]): c for c in calls}
problems = []
for key, w in sorted(want.items()):
    h = have.get(key)
    if h is None:
        problems.append("%s id %d: no entry" % key)
    elif h["xlat_id"] != w["xlat_id"] or h["server_call_id"] != w["server_id"] or h["state"] != "established":
        problems.append("%s id %d: map xlat %d server id %d %s; server saw xlat %d server id %d" % (
            key + (h["xlat_id"], h["server_call_id"], h["state"], w["xlat_id"], w["server_id"])))
extra = sorted(set(have) - set(want))
print(len(calls))
print(len(want))
print("; ".join(problems[:4]) + (" ... (%d)" % len(problems) if len(problems) > 4 else ""))
print(", ".join("%s/%d" % k for k in extra[:6]))
print(" ".join(str(c["xlat_id"]) for c in calls))
