#!/usr/bin/env python3
"""The generated man pages (vpnpt-docgen) render without warnings and are
complete: every subcommand, positional and option that `vpnpt --help` and
`vpnpt <command> --help` print is documented in vpnpt.8 under that command,
and every key of tools/vpnpt.conf.example (tied to the parser's table by a
unit case) in vpnpt.conf.5.

Usage: man_pages.py VPNPT_BINARY DOCS_DIR
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECTION = re.compile(r"^(Positionals|Options|Subcommands):$")


def exit_codes():
    """The exit statuses loader/cli/exit_codes.h defines, as strings."""
    with open(os.path.join(ROOT, "loader", "cli", "exit_codes.h")) as f:
        codes = re.findall(r"^inline constexpr int kExit\w+ = (\d+);", f.read(), re.M)
    if not codes:
        sys.exit("man_pages: no exit status found in loader/cli/exit_codes.h")
    return codes


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def help_of(vpnpt, path):
    """{section: [names]} from `vpnpt PATH --help`."""
    out = run([vpnpt] + path + ["--help"]).stdout
    sections, current = {}, None
    for line in out.splitlines():
        m = SECTION.match(line)
        if m:
            current = sections.setdefault(m.group(1), [])
        elif current is not None and line.startswith("  ") and not line.startswith("   "):
            first = line.split()[0]
            if current is sections.get("Options"):
                current += first.split(",")  # "-v,--verbose"
            else:
                current.append(first)
    return sections


def render(page, warnings):
    """The page as plain text; groff's warnings (-ww) go to @warnings."""
    r = run(["groff", "-man", "-Tascii", "-ww", "-P-cbu", page], env=dict(os.environ, LC_ALL="C"))
    if r.returncode != 0 or r.stderr.strip():
        warnings.append("%s: groff -man -ww: %s" % (page, r.stderr.strip() or "exit %d" % r.returncode))
    m = run(["man", "-l", page], env=dict(os.environ, MANWIDTH="100", MANPAGER="cat", PAGER="cat"))
    if m.returncode != 0 or not m.stdout.strip():
        warnings.append("%s: man -l failed: %s" % (page, m.stderr.strip()))
    return r.stdout


def section(text, heading):
    """The lines under a top-level heading ("COMMANDS") or a subsection ("   vpnpt attach")."""
    lines = text.splitlines()
    indent = len(heading) - len(heading.lstrip())
    out, inside = [], False
    for line in lines:
        stripped_indent = len(line) - len(line.lstrip())
        if line == heading:
            inside = True
            continue
        if inside and line.strip() and stripped_indent <= indent and not line.startswith(" " * (indent + 1)):
            break
        if inside:
            out.append(line)
    return "\n".join(out)


def main():
    vpnpt, docs = sys.argv[1], sys.argv[2]
    problems = []
    man8 = render(os.path.join(docs, "vpnpt.8"), problems)
    man5 = render(os.path.join(docs, "vpnpt.conf.5"), problems)

    for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "EXIT STATUS", "FILES", "SEE ALSO"):
        if not re.search(r"^%s$" % heading, man8, re.M):
            problems.append("vpnpt.8 has no %s section" % heading)
    for word in ("/etc/vpnpt/vpnpt.conf", "/sys/fs/bpf/vpnpt", "vpnpt.conf(5)", "bpftool(8)", "systemd.service(5)"):
        if word not in man8:
            problems.append("vpnpt.8 does not mention %s" % word)
    exit_status = section(man8, "EXIT STATUS")
    for code in exit_codes():
        if not re.search(r"^ {7}%s\b" % code, exit_status, re.M):
            problems.append("vpnpt.8's EXIT STATUS does not list %s" % code)

    commands = section(man8, "COMMANDS")
    checked = 0
    todo = [[]]
    while todo:
        path = todo.pop(0)
        h = help_of(vpnpt, path)
        if not h.get("Options"):
            problems.append("vpnpt %s --help printed no options: is %s the vpnpt binary?" % (" ".join(path), vpnpt))
            continue
        for sub in h.get("Subcommands", []):
            todo.append(path + [sub])
            if not re.search(r"^ {7}%s\b" % re.escape(" ".join(path + [sub])), commands, re.M):
                problems.append("vpnpt.8's COMMANDS has no entry for '%s'" % " ".join(path + [sub]))
        where = section(man8, "   Global options") if not path else section(man8, "   vpnpt " + " ".join(path))
        if not where and path and not h.get("Subcommands"):
            problems.append("vpnpt.8's OPTIONS has no subsection 'vpnpt %s'" % " ".join(path))
            continue
        if h.get("Subcommands") and path:
            continue  # "state" runs nothing itself: only its subcommands have options of their own
        for name in h.get("Options", []) + h.get("Positionals", []):
            checked += 1
            if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(name), where):
                problems.append("vpnpt.8 does not document '%s' under %s" % (name, " ".join(["vpnpt"] + path)))

    example = open(os.path.join(ROOT, "tools", "vpnpt.conf.example")).read()
    keys = sorted(set(re.findall(r"^#?([a-z0-9_]+) = ", example, re.M)))
    if len(keys) < 10:
        problems.append("found only %d keys in tools/vpnpt.conf.example (pattern out of date?)" % len(keys))
    man5_keys = section(man5, "KEYS")
    for k in keys:
        if not re.search(r"^ {7}%s = " % k, man5_keys, re.M):
            problems.append("vpnpt.conf.5's KEYS does not document '%s'" % k)

    for p in problems:
        print("FAIL: " + p)
    if problems:
        return 1
    print("man_pages: render cleanly; %d options and arguments of vpnpt's commands and %d config keys documented"
          % (checked, len(keys)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
