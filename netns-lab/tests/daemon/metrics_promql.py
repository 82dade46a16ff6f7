"""One PromQL query, or the alerts, for the lab's Prometheus (prom_query in netns-lab/lib/prometheus.sh).

  metrics_promql.py URL MODE EXPR      MODE: value, lines, json, label:L or alerts (EXPR ignored)
"""
import json, sys, urllib.parse, urllib.request
url, mode, expr = sys.argv[1], sys.argv[2], sys.argv[3]
q = url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
if mode == "alerts":
    q = url + "/api/v1/alerts"
try:
    with urllib.request.urlopen(q, timeout=5) as r:
        raw = r.read().decode()
except Exception as e:  # HTTP 400 on a bad expression, connection refused, ...
    print("error: %s" % e)
    sys.exit(0)
d = json.loads(raw)
if mode == "alerts":
    if d.get("status") != "success":
        print("error: %s" % d.get("error"))
        sys.exit(0)
    lines = []
    for a in d["data"]["alerts"]:
        l = dict(a["labels"])
        name = l.pop("alertname", "")
        lines.append("%s %s {%s}" % (name, a["state"], ",".join('%s="%s"' % kv for kv in sorted(l.items()))))
    print("\n".join(sorted(lines)) if lines else "(none)")
    sys.exit(0)
if mode == "json":
    print(raw)
    sys.exit(0)
if d.get("status") != "success":
    print("error: %s" % d.get("error"))
    sys.exit(0)
res = d["data"]["result"]
if d["data"]["resultType"] == "scalar":
    res = [{"metric": {}, "value": res}]
def fmt(s):
    m = dict(s["metric"])
    name = m.pop("__name__", "")
    return "%s{%s} %s" % (name, ",".join('%s="%s"' % kv for kv in sorted(m.items())), s["value"][1])
if mode == "lines":
    print("\n".join(sorted(fmt(s) for s in res)) if res else "(empty)")
elif mode == "value":
    print("none" if not res else res[0]["value"][1] if len(res) == 1 else "series=%d" % len(res))
elif mode.startswith("label:"):
    print(res[0]["metric"].get(mode[6:], "") if len(res) == 1 else "series=%d" % len(res))
