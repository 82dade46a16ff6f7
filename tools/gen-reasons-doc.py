#!/usr/bin/env python3
"""Write the reasons table of docs/dataplane.md from abi/reasons.def.

The table sits between <!-- reasons:begin --> and <!-- reasons:end -->,
one row per reason: name (what status and the metrics show), verdict,
text (what logs and diagnose say). The [docs] test fails when the table
and the code disagree; this script brings the table up to date.

  python3 tools/gen-reasons-doc.py           # rewrite the table
  python3 tools/gen-reasons-doc.py --check   # exit 1 if it is not current
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEF = os.path.join(ROOT, "abi", "reasons.def")
DOC = os.path.join(ROOT, "docs", "dataplane.md")
BEGIN, END = "<!-- reasons:begin -->", "<!-- reasons:end -->"
ROW = re.compile(r'^VPNPT_REASON\((\w+),\s*(\d+),\s*(PASS|DROP|REDIRECT),\s*"((?:[^"\\]|\\.)*)"\)\s*$', re.M)


def table():
    rows = ROW.findall(open(DEF).read())
    if not rows:
        sys.exit("gen-reasons-doc: no VPNPT_REASON rows in %s" % DEF)
    out = ["| reason | verdict | what it means |", "| --- | --- | --- |"]
    for ident, value, verdict, text in rows:
        if ident == "NONE":
            continue
        out.append("| `%s` | %s | %s |" % (ident.lower(), verdict.lower(), text.replace("|", "\\|")))
    return "\n".join(out)


def main():
    doc = open(DOC).read()
    if BEGIN not in doc or END not in doc:
        sys.exit("gen-reasons-doc: %s has no %s ... %s markers" % (DOC, BEGIN, END))
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + "\n" + table() + "\n" + END + tail
    if "--check" in sys.argv[1:]:
        if new != doc:
            print("gen-reasons-doc: docs/dataplane.md's reasons table is out of date: python3 tools/gen-reasons-doc.py",
                  file=sys.stderr)
            return 1
        return 0
    if new != doc:
        open(DOC, "w").write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
