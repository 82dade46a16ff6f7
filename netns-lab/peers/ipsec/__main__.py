#!/usr/bin/env python3
"""Crafted IPsec peers for the vpnpt netns lab: fake IKEv2 on UDP 500, raw ESP.

Subcommands:
  server   an IKEv2 responder on UDP 500 (IKE_SA_INIT 34, IKE_AUTH 35,
           CREATE_CHILD_SA 36, INFORMATIONAL 37) that answers retransmitted
           requests with its cached response (RFC 7296 2.1), picks its own
           inbound SPI (x) per CHILD_SA, sends --push ESP packets to every new
           CHILD_SA right after its response (server-originated traffic),
           and echoes every ESP packet it receives with a known SPI (to the
           packet's source: the server only ever sees the public IP).
  host     an IKEv2 initiator from UDP source port 500: IKE_SA_INIT, IKE_AUTH
           (its inbound SPI y in the request, the server's x in the response),
           optionally more CHILD_SAs right away (--children: CREATE_CHILD_SA
           back to back) and an idle time (--esp-delay), --esp-count ESP
           packets with SPI x on every SA (interleaved), then optionally a rekey
           (CREATE_CHILD_SA, new SPIs, the same traffic on the new SA, and an
           INFORMATIONAL delete of the old one). It retransmits a request
           after --retry s without a response (max --tries), keeps receiving
           every ESP packet delivered to its namespace until released, and
           sorts them into its own (SPI == one of its y, payload names it)
           and foreign ones (misdelivered).
  analyze  checks the reports of one server and its hosts (PASS/FAIL lines,
           summary JSON with figures); exit 0 if every check passed.
  espmaps  decodes vpnpt's ESP maps (bpftool) and checks them against the
           SPIs the peers agreed on (analyze's summary).

The IKE messages have correct IKEv2 headers (SPIs, next payload, version
0x20, exchange type, flags I 0x08 / R 0x20, message ID, length) and payload
chains; IKE_SA_INIT carries SA/KE/Nonce payloads, the later exchanges one
SK payload (46). The crafted peers do not encrypt: the SK payload holds a
16-byte "IV", a JSON object (host name, index, SPIs) and a 12-byte "ICV",
so the peers learn each other's SPIs from it. vpnpt must not rely on that
(real IKE encrypts it); it only ever sees the headers.

ESP: raw IP sockets (socket(AF_INET, SOCK_RAW, 50)); the kernel builds the IP
header on send, receive returns the whole IP datagram. Every ESP payload
starts with a lab tag so each packet is attributed independently of SPIs:

  'VPES' phase(1) kind(1) idx(2) k(1) 0(1) seq(4)  + padding
  kind 0: host -> server, idx = the host's index, k = its CHILD_SA number
  kind 1: server echo, idx/k = from the server's SA table (looked up by x)
  kind 2: server push (originated by the server), idx/k from its SA table

Every process is bounded by --max-time and writes its report even when it
fails.

Run as a directory: python3 netns-lab/peers/ipsec SUBCOMMAND ... (wire.py: IKE
and ESP on the wire; server.py, host.py, analyze.py, espmaps.py: the
subcommands).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from labcheck import run  # noqa: E402  (shared)
from analyze import analyze  # noqa: E402
from espmaps import cmd_espmaps  # noqa: E402
from host import Host  # noqa: E402
from server import Server  # noqa: E402


def wall_time(v):
    return float(v) if v else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--phase", type=int, default=1, help="phase number written into every ESP payload")
        p.add_argument("--esp-count", "--count", dest="count", type=int, default=30,
                       help="ESP packets per CHILD_SA from the host (each one echoed)")
        p.add_argument("--interval", type=float, default=0.02, help="seconds between ESP packets")
        p.add_argument("--size", type=int, default=64, help="ESP payload bytes after SPI and sequence number")
        p.add_argument("--max-time", type=float, default=40, help="hard bound on the run, seconds")
        p.add_argument("--grace", type=float, default=0.5, help="keep receiving this long after the release")
        p.add_argument("--report", required=True, help="JSON report file")
        p.add_argument("--ready-file", help="created when ready (server: listening; host: its traffic is done)")
        p.add_argument("--release-file", help="keep running (receiving) until this file exists")

    p = sub.add_parser("server", help="fake IKEv2 responder + raw ESP echo (run in the server namespace)")
    common(p)
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--push", type=int, default=2,
                   help="ESP packets the server sends on every new CHILD_SA right after its response (0: none)")
    p.add_argument("--push-delay", type=float, default=0.005, help="delay of the first push after the response")

    p = sub.add_parser("host", help="fake IKEv2 initiator from UDP port 500 + raw ESP (run in a client namespace)")
    common(p)
    p.add_argument("--server", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--index", type=int, required=True, help="host index written into its payloads")
    p.add_argument("--start-at", type=wall_time, help="unix time to send IKE_SA_INIT at")
    p.add_argument("--auth-at", type=wall_time, help="unix time to send IKE_AUTH at (default: right after IKE_SA_INIT)")
    p.add_argument("--children", type=int, default=1,
                   help="CHILD_SAs to set up before any traffic: IKE_AUTH's, then CREATE_CHILD_SA back to back")
    p.add_argument("--esp-delay", type=float, default=0.0, help="idle this long after the SAs are up before sending ESP")
    p.add_argument("--rekey", action="store_true", help="after the first SA's traffic: CREATE_CHILD_SA, traffic on the new SA")
    p.add_argument("--rekey-at", type=wall_time, help="unix time to send CREATE_CHILD_SA at")
    p.add_argument("--no-delete", dest="delete_old", action="store_false",
                   help="after a rekey, do not delete the old CHILD_SA (INFORMATIONAL)")
    p.add_argument("--retry", type=float, default=1.0, help="retransmit an IKE request after this long")
    p.add_argument("--tries", type=int, default=10, help="IKE request transmissions at most")
    p.add_argument("--rx-wait", type=float, default=2.0, help="max wait for the echoes after the last ESP sent")
    p.add_argument("--quiet", type=float, default=0.5, help="stop waiting for echoes when none came for this long")

    p = sub.add_parser("analyze", help="check the reports of one phase")
    p.add_argument("--server-report", required=True)
    p.add_argument("--public-ip", required=True)
    p.add_argument("--rekey", action="store_true")
    p.add_argument("--children", type=int, default=1, help="CHILD_SAs per host before the rekey")
    p.add_argument("--loss-info", action="store_true",
                   help="losses are reported, not checked (phases where a correct vpnpt may refuse to bind)")
    p.add_argument("-k", type=int, default=3, help="ESP packets per SA allowed to be lost (dropped until bound)")
    p.add_argument("--label", default="")
    p.add_argument("--summary")
    p.add_argument("host_reports", nargs="+")

    p = sub.add_parser("espmaps", help="decode and check vpnpt's ESP maps against a phase summary")
    p.add_argument("--pin-dir", required=True)
    p.add_argument("--abi", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--sa", dest="k", type=int, action="append", help="only CHILD_SAs number K (0 first, 1 rekeyed)")
    p.add_argument("--exact", action="store_true", help="the maps must hold exactly these SAs toward the server")
    p.add_argument("--allow-missing", action="store_true", help="an SA not in the map is fine (never bound), a wrong host is not")
    p.add_argument("--label", default="")
    p.add_argument("--out", help="decoded maps (JSON)")

    return run(ap, {"server": lambda a: Server(a).run(), "host": lambda a: Host(a).run(),
                    "analyze": analyze, "espmaps": cmd_espmaps},
               signals=("server", "host"))


if __name__ == "__main__":
    sys.exit(main())
