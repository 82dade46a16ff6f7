#!/usr/bin/env python3
"""Checks deploy/ against the code and the docs (ctest deploy_check).

  deploy/grafana/vpnpt-dashboard.json    parses; unique panel ids; every panel queries the
                                         dashboard's data source; every query parses as PromQL
                                         (promtool, the Grafana variables put in) and names
                                         only families docs/operations.md lists (or `up`)
  deploy/prometheus/vpnpt-alerts.yml     every rule names only documented families
  both                                   every reason a matcher names is a row of
                                         abi/reasons.def, every proto one reason_proto() gives,
                                         every map regex matches exactly the always-full arrays
  deploy/prometheus/vpnpt-alerts.test.yml  fires every alert of the rules file at least once

docs/operations.md's list itself is checked against the code by the [metrics] case of
tests/unit/test_metrics.cpp, so a family here is one the daemon serves.

Usage: tools/check-deploy.py [--promtool PATH]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DASHBOARD = os.path.join(ROOT, "deploy/grafana/vpnpt-dashboard.json")
RULES = os.path.join(ROOT, "deploy/prometheus/vpnpt-alerts.yml")
RULE_TESTS = os.path.join(ROOT, "deploy/prometheus/vpnpt-alerts.test.yml")
OPERATIONS = os.path.join(ROOT, "docs/operations.md")
REASONS = os.path.join(ROOT, "abi/reasons.def")
ABI = os.path.join(ROOT, "abi/vpnpt_abi.h")
NAMES = os.path.join(ROOT, "loader/core/names.cpp")

# Grafana's variables, replaced by what they stand for before promtool parses a query.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$instance": ".*"}

errors = []


def fail(msg):
    errors.append(msg)


def documented_families():
    """The families of docs/operations.md's "## Metrics" table (as the [metrics] case reads it)."""
    out, section = set(), False
    row = re.compile(r"^\| ([^|]+) \| (counter|gauge) \|([^|]*)\| .*\|$")
    for line in open(OPERATIONS):
        line = line.rstrip("\n")
        if line.startswith("## "):
            section = line == "## Metrics"
        m = row.match(line) if section else None
        if m:
            out.update(re.findall(r"`(vpnpt_\w+)`", m.group(1)))
    if len(out) < 20:
        sys.exit("check-deploy: found only %d families in %s, ## Metrics" % (len(out), OPERATIONS))
    return out


def reason_names():
    names = {m.lower() for m in re.findall(r"^VPNPT_REASON\((\w+),", open(REASONS).read(), re.M)}
    if len(names) < 10:
        sys.exit("check-deploy: no VPNPT_REASON rows in %s" % REASONS)
    return names


def proto_names():
    """The values reason_proto() (loader/core/names.cpp) returns."""
    src = open(NAMES).read()
    body = re.search(r"std::string_view reason_proto\(uint32_t reason\) \{(.*?)\n\}", src, re.S)
    if not body:
        sys.exit("check-deploy: no reason_proto() in %s" % NAMES)
    return set(re.findall(r'return "(\w+)";', body.group(1))) - {"unknown"}


def always_full_maps():
    """The arrays vpnpt_map_fill_ratio reports full (PinnedMaps::fill_levels), and every map name."""
    defs = dict(re.findall(r'#define VPNPT_MAP_(\w+) "([^"]+)"', open(ABI).read()))
    return {defs["COUNTERS"], defs["REASONS"], defs["CONFIG"]}, set(defs.values())


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def check_expr(where, expr, families, reasons, protos, full_maps, all_maps):
    for name in re.findall(r"\b(vpnpt_\w+)", strip_strings(expr)):
        if name not in families:
            fail("%s: %s is no family docs/operations.md lists" % (where, name))
    for op, value in re.findall(r'\breason\s*(=~|!~|!=|=)\s*"([^"]*)"', expr):
        for alt in value.split("|"):
            # Reasons of the data plane; the slow paths' reasons (vpnpt_l2tp_setups_refused_total) are
            # matched in no rule or panel.
            if re.fullmatch(r"\w+", alt) and alt not in reasons:
                fail("%s: reason %r is no row of abi/reasons.def" % (where, alt))
    for op, value in re.findall(r'\bproto\s*(=~|!~|!=|=)\s*"([^"]*)"', expr):
        for alt in value.split("|"):
            if alt not in protos:
                fail("%s: proto %r is none reason_proto() gives (%s)" % (where, alt, ", ".join(sorted(protos))))
    for op, value in re.findall(r'\bmap\s*(=~|!~|!=|=)\s*"([^"]*)"', expr):
        if op in ("=~", "!~"):
            hits = {m for m in all_maps if re.fullmatch(value, m)}
            if hits != full_maps:
                fail("%s: map regex %r matches %s, not the always-full arrays %s"
                     % (where, value, sorted(hits), sorted(full_maps)))
        elif value not in all_maps:
            fail("%s: map %r is no VPNPT_MAP_* of abi/vpnpt_abi.h" % (where, value))


def dashboard_exprs(dash):
    """(where, expr) of every query: the panels' targets, rows' nested panels, query variables."""
    out, ids, panels = [], set(), list(dash.get("panels", []))
    while panels:
        p = panels.pop(0)
        panels.extend(p.get("panels", []))
        where = "dashboard panel %r" % p.get("title")
        if p.get("id") in ids:
            fail("%s: id %s used twice" % (where, p.get("id")))
        ids.add(p.get("id"))
        if p.get("type") == "row":
            continue
        targets = [t for t in p.get("targets", []) if t.get("expr")]
        if not targets:
            fail("%s: no query" % where)
        if p.get("datasource", {}).get("uid") != "${datasource}":
            fail("%s: its data source is not the dashboard's ${datasource}" % where)
        for t in targets:
            if t.get("datasource", {}).get("uid") != "${datasource}":
                fail("%s, query %s: its data source is not ${datasource}" % (where, t.get("refId")))
            out.append(("%s, query %s" % (where, t.get("refId")), t["expr"]))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.*),\s*\w+\)", q)
            out.append(("dashboard variable %s" % v["name"], m.group(1) if m else q))
    if not out:
        fail("dashboard: no queries")
    return out


def promtool_parses(promtool, exprs):
    """Parses every expression with promtool, as recording rules of a throwaway rules file."""
    rules = {"groups": [{"name": "dashboard", "rules": []}]}
    for i, (where, e) in enumerate(exprs):
        for k, v in sorted(GRAFANA_VARS.items(), key=lambda kv: -len(kv[0])):
            e = e.replace(k, v)
        rules["groups"][0]["rules"].append({"record": "dashboard:query_%d" % i, "expr": e})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="vpnpt-dashboard-") as f:
        yaml.safe_dump(rules, f)
        f.flush()
        r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    if r.returncode != 0:
        fail("dashboard: promtool does not parse a query:\n%s%s" % (r.stdout, r.stderr))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--promtool", default=os.environ.get("PROMTOOL") or shutil.which("promtool"))
    args = ap.parse_args()
    if not args.promtool:
        sys.exit("check-deploy: promtool not found (apt-get install prometheus, tools/install-deps.sh)")
    families = documented_families() | {"up"}
    reasons, protos = reason_names(), proto_names()
    full_maps, all_maps = always_full_maps()
    ctx = (families, reasons, protos, full_maps, all_maps)

    try:
        dash = json.load(open(DASHBOARD))
    except ValueError as e:
        sys.exit("check-deploy: %s is not JSON: %s" % (DASHBOARD, e))
    exprs = dashboard_exprs(dash)
    for where, e in exprs:
        check_expr(where, e, *ctx)
    promtool_parses(args.promtool, exprs)

    rules = yaml.safe_load(open(RULES))
    alerts = set()
    for g in rules["groups"]:
        for r in g["rules"]:
            name = r.get("alert") or r.get("record")
            check_expr("rule %s" % name, r["expr"], *ctx)
            if "alert" in r:
                alerts.add(r["alert"])
    fired = set()
    for t in yaml.safe_load(open(RULE_TESTS))["tests"]:
        for a in t.get("alert_rule_test", []):
            if a.get("exp_alerts"):
                fired.add(a["alertname"])
    for a in sorted(alerts - fired):
        fail("%s: no test fires alert %s" % (os.path.relpath(RULE_TESTS, ROOT), a))
    for a in sorted(fired - alerts):
        fail("%s: tests alert %s, which the rules do not have" % (os.path.relpath(RULE_TESTS, ROOT), a))

    for e in errors:
        print("check-deploy: " + e, file=sys.stderr)
    if errors:
        return 1
    print("check-deploy: dashboard: %d queries, rules: %d alerts each fired by a test; all name documented families"
          % (len(exprs), len(alerts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
