"""`espmaps`: vpnpt's ESP SA tables (bpftool) against the SAs the reports name."""
import json
import os
import socket
import struct

import abi
from labcheck import Checks, raw_bytes, short
from wire import hexspi


def decode_esp_map(path):
    """bpftool -j dump of an ESP SA table (an array of vpnpt_esp_sa slots, abi/vpnpt_abi.h) -> the used slots."""
    out = []
    for e in abi.bpftool_dump(path, timeout=60):
        v = raw_bytes(e["value"])
        if v[0:8] == bytes(8) or v[8:12] == bytes(4):
            continue  # an empty slot (key 0), or one being written (host 0)
        d = {"server": socket.inet_ntoa(v[0:4]), "spi": struct.unpack("!I", v[4:8])[0],
             "host": socket.inet_ntoa(v[8:12]), "raw_value": v.hex(),
             "lan_ifindex": struct.unpack("<I", v[12:16])[0]}
        d["packets"], d["bytes"] = struct.unpack("<QQ", v[32:48])
        out.append(d)
    return out


def cmd_espmaps(a):
    """Checks vpnpt_esp_in/out against a phase summary: every SA's y bound (in) and x recorded (out) for its host."""
    S = json.load(open(a.summary))
    C = Checks("[%s] " % a.label if a.label else "")
    names = abi.map_names(a.abi, "ESP_")
    res = {"names": names}
    in_name, out_name = names.get("IN"), names.get("OUT")
    if not in_name or not out_name:
        C.ok(False, "vpnpt's ABI names its ESP maps (VPNPT_MAP_ESP_IN/OUT)", "not in %s: vpnpt without raw-ESP support" % a.abi)
        json.dump(res, open(a.out, "w")) if a.out else None
        return 1
    maps = {}
    for tag, name in (("in", in_name), ("out", out_name)):
        path = os.path.join(a.pin_dir, name)
        try:
            maps[tag] = decode_esp_map(path)
        except (RuntimeError, OSError, ValueError) as e:
            maps[tag] = None
            C.ok(False, "vpnpt's %s is pinned and readable" % name, str(e))
    res["maps"] = maps
    sas = [s for s in S["sas"] if a.k is None or s["k"] in a.k]
    for tag, name, field, what in (("in", in_name, "y", "inbound binding (server's SPI y -> host)"),
                                   ("out", out_name, "x", "outbound SPI (host's SPI x -> host)")):
        ents = maps.get(tag)
        if ents is None:
            continue
        mine = [e for e in ents if e["server"] == a.server]
        by_spi = {e["spi"]: e for e in mine}
        bad, ok, unbound = [], 0, []
        for s in sas:
            e = by_spi.get(s[field])
            if e is None and a.allow_missing:
                unbound.append("%s/%d" % (s["host"], s["k"]))
            elif e is None:
                bad.append("%s/%d %s %s: none" % (s["host"], s["k"], field, hexspi(s[field])))
            elif e["host"] != s["ip"]:
                bad.append("%s/%d %s %s -> %s (host is %s)" % (s["host"], s["k"], field, hexspi(s[field]), e["host"], s["ip"]))
            else:
                ok += 1
        known = {s[field] for s in S["sas"]}
        extra = [e for e in mine if e["spi"] not in known]
        res[tag + "_entries"] = len(mine)
        res[tag + "_ok"] = ok
        res[tag + "_missing"] = unbound
        if a.allow_missing:
            C.ok(not bad, "%s: no CHILD_SA's %s points to a wrong host" % (name, what),
                 "%d wrong: %s" % (len(bad), short(bad, 4)) if bad else "%d right, %d not there (%s)" % (
                     ok, len(unbound), short(unbound, 4)))
        else:
            C.ok(not bad, "%s: every CHILD_SA's %s, to the right host" % (name, what),
                 "%d wrong/missing of %d: %s" % (len(bad), len(sas), short(bad, 4)) if bad else "%d/%d" % (ok, len(sas)))
        if a.exact:
            C.ok(len(mine) == len(sas) and not extra, "%s holds exactly the %d entries toward %s" % (name, len(sas), a.server),
                 "%d entries, %d not of this phase: %s" % (len(mine), len(extra), short(
                     ["%s->%s" % (hexspi(e["spi"]), e["host"]) for e in extra], 4)))
        else:
            print("  .. %s: %d entries toward %s (%d not of this phase's SPIs)" % (name, len(mine), a.server, len(extra)))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f)
    return 0 if C.failed == 0 else 1
