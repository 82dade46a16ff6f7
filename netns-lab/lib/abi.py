"""vpnpt's ABI for the lab's python: enum values and pin names read from
abi/vpnpt_abi.h and abi/reasons.def, and bpftool's dump of a pinned map."""
import json
import os
import re
import subprocess


def enum(header, prefix):
    """{name: value} of the enum members VPNPT_<prefix>_NAME = n in abi/vpnpt_abi.h;
    the reasons are rows VPNPT_REASON(NAME, n, ...) of reasons.def beside it."""
    out = {}
    if prefix == "REASON":
        text, pattern = open(os.path.join(os.path.dirname(header), "reasons.def")).read(), r"^VPNPT_REASON\((\w+),\s*(\d+),"
    else:
        text, pattern = open(header).read(), r"VPNPT_%s_([A-Z0-9_]+)\s*=\s*(\d+)" % prefix
    for m in re.finditer(pattern, text, re.M):
        out[m.group(1).lower()] = int(m.group(2))
    return out


def map_names(header, prefix):
    """{suffix: pin name} of the #define VPNPT_MAP_<prefix><suffix> "name" lines of abi/vpnpt_abi.h."""
    return {m.group(1): m.group(2) for m in
            re.finditer(r'#define\s+VPNPT_MAP_%s(\w*)\s+"([^"]+)"' % prefix, open(header).read())}


def bpftool_dump(path, timeout=20):
    """`bpftool -j map dump pinned PATH`, parsed."""
    r = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", path], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("bpftool map dump %s: %s" % (path, r.stderr.strip() or r.stdout.strip()))
    return json.loads(r.stdout)
