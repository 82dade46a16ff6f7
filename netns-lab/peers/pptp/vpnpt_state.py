"""`calls` and `counters`: vpnpt's call table and counters, by name."""
import json
import os
import socket
import struct
import sys

import abi
from labcheck import raw_bytes


def cmd_calls(a):
    """`vpnpt sessions --proto pptp --json` (stdin) -> one JSON list of calls."""
    out = []
    for r in json.load(sys.stdin):
        if r["proto"] != "pptp":
            continue
        i = r["ids"]
        out.append({"server": r["server"], "xlat_id": i["translated_call_id"], "client": r["host"],
                    "client_call_id": i["client_call_id"], "server_call_id": i["server_call_id"],
                    "state": r["state"], "ctrl_client_port": i["control_port"],
                    "ctrl_public_port": i["public_control_port"],
                    "packets_out": r["packets_out"], "packets_in": r["packets_in"]})
    out.sort(key=lambda c: (c["server"], socket.inet_aton(c["client"]), c["client_call_id"]))
    json.dump(out, sys.stdout)
    print()
    return 0


def percpu_sum(entries):
    out = {}
    for e in entries:
        k = struct.unpack("<I", raw_bytes(e["key"]))[0]
        p = b = 0
        for v in e["values"]:
            pk, by = struct.unpack("<QQ", raw_bytes(v["value"])[:16])
            p += pk
            b += by
        out[k] = [p, b]
    return out


def cmd_counters(a):
    """vpnpt_counters_v1, vpnpt_xlat_v1, vpnpt_reasons_v2 of a pin dir, by name (indices from the ABI header)."""
    classes = abi.enum(a.abi, "CLASS")
    dirs = abi.enum(a.abi, "DIR")
    reasons = abi.enum(a.abi, "REASON")
    ncls = max(classes.values()) + 1
    nrea = max(reasons.values()) + 1
    pins = sorted(os.listdir(a.pin_dir))

    def pin(prefix):  # newest version of a map, e.g. vpnpt_reasons_v2
        cands = [p for p in pins if p.startswith(prefix + "_v")]
        if not cands:
            raise RuntimeError("no %s_v* map in %s" % (prefix, a.pin_dir))
        return max(cands, key=lambda p: int(p.rsplit("_v", 1)[1]))

    out = {}
    for name, fname, table, width in (("counters", pin("vpnpt_counters"), classes, ncls),
                                      ("xlat", pin("vpnpt_xlat"), classes, ncls),
                                      ("reasons", pin("vpnpt_reasons"), reasons, nrea)):
        vals = percpu_sum(abi.bpftool_dump(os.path.join(a.pin_dir, fname)))
        out[name] = {d: {n: vals.get(di * width + i, [0, 0])[0] for n, i in table.items()} for d, di in dirs.items()}
    json.dump(out, sys.stdout)
    print()
    return 0
