#!/usr/bin/env python3
"""Crafted PPTP peers for the vpnpt netns lab (RFC 2637).

Subcommands:
  server   a PPTP server (PAC) that behaves like pptpd: real TCP listener on
           1723, assigns its own Call IDs (per connection a base 0, 128, 256,
           ... in accept order, +0/+1 per call), answers every OCRQ, sends
           GRE to the caller (key = the peer Call ID it learned from the
           OCRQ) right after the OCRP, counts every GRE packet it receives.
           Can split its OCRPs inside the peer Call ID (--split-ocrp) and
           refuse the first OCRQs of a connection (--reject-calls).
  client   a PPTP client (PNS): real TCP connection, SCCRQ, N calls (OCRQ
           with fixed Call IDs, 1000, 1001, ...), GRE both ways, then CCRQ
           per call, StopCCRQ, close. Can split the OCRQ inside the Call ID
           field (--split-ocrq 13), send the OCRQs or CCRQs of all calls in
           one send() (--ocrq-one-send, --ccrq-one-send) and ask again
           with the same Call ID when a call is refused (--retry-rejected).
  analyze  checks the JSON reports of one server and its clients (PASS/FAIL
           lines, figures); exit 0 if every check passed, else 1.
  calls    decodes `vpnpt sessions --proto pptp --json` (stdin): vpnpt's call table.
  counters vpnpt's packet, xlat and reason counters of a pin dir, by name
           (enum values read from abi/vpnpt_abi.h; needs bpftool).

Run as a directory: python3 netns-lab/peers/pptp SUBCOMMAND ... (wire.py: the
protocol on the wire; server.py, client.py, analyze.py: the subcommands;
vpnpt_state.py: calls and counters).

GRE goes through raw IP sockets (socket(AF_INET, SOCK_RAW, 47)): the kernel
builds the IP header on send, receive returns the whole IP datagram. Every
GRE payload starts with a lab tag that names the sender's call, so each
packet can be attributed independently of the (translated) keys:

  'VPTG' phase(1) dir(1) a(2) b(2) seq(4)  + padding
  dir 0 (client -> server): a = client index, b = call index
  dir 1 (server -> client): a = server-side call number (unique per server
                            process), b = 0

Every process is bounded by --max-time and writes its report (--report)
even when it fails.
"""


import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from labcheck import run  # noqa: E402  (shared)
from analyze import analyze  # noqa: E402
from client import Client  # noqa: E402
from server import Server  # noqa: E402
from vpnpt_state import cmd_calls, cmd_counters  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--phase", type=int, default=1, help="phase number written into every GRE payload")
        p.add_argument("--count", type=int, default=50, help="GRE packets per call and direction")
        p.add_argument("--interval", type=float, default=0.01, help="seconds between GRE packets of a call")
        p.add_argument("--size", type=int, default=64, help="GRE payload bytes")
        p.add_argument("--max-time", type=float, default=40, help="hard bound on the run, seconds")
        p.add_argument("--grace", type=float, default=0.5, help="keep receiving GRE this long at the end")
        p.add_argument("--report", required=True, help="JSON report file")
        p.add_argument("--ready-file", help="created when ready (server: listening; client: GRE exchanged)")

    p = sub.add_parser("server", help="crafted PPTP server (PAC)")
    common(p)
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--expect", type=int, required=True, help="control connections to serve, then exit")
    p.add_argument("--server-ids", choices=["pptpd", "same", "random"], default="pptpd",
                   help="own call ids: pptpd = 128 * accept order + call index (default); same = call index "
                        "for every connection (0, 1, ...); random = unique random ids")
    p.add_argument("--echo-after", type=int, default=2, help="send one Echo-Request after this many OCRPs (0: never)")
    p.add_argument("--reject-calls", type=int, default=0, metavar="K",
                   help="refuse the first K OCRQs of every connection (OCRP result 2)")
    p.add_argument("--split-ocrp", type=int, default=0, metavar="BYTES",
                   help="send each OCRP in two writes, the first BYTES long (15 cuts the peer Call ID field)")
    p.add_argument("--split-delay", type=float, default=0.2, help="pause between the two writes")

    p = sub.add_parser("client", help="crafted PPTP client (PNS)")
    common(p)
    p.add_argument("--server", required=True)
    p.add_argument("--name", required=True, help="host name (SCCRQ) and owner tag, e.g. c3")
    p.add_argument("--index", type=int, required=True, help="client index written into its GRE payloads")
    p.add_argument("--call-id", type=int, default=1000, help="Call ID of the first call (the next ones +1)")
    p.add_argument("--calls", type=int, default=2)
    p.add_argument("--split-ocrq", type=int, default=0, metavar="BYTES",
                   help="send each OCRQ in two writes, the first BYTES long (13 cuts the Call ID field)")
    p.add_argument("--split-delay", type=float, default=0.2, help="pause between the two writes")
    p.add_argument("--ccrq-one-send", action="store_true", help="send the CCRQs of all calls in one send()")
    p.add_argument("--ocrq-one-send", action="store_true",
                   help="send the OCRQs of all calls in one send() before reading any OCRP")
    p.add_argument("--no-sli", dest="sli", action="store_false", help="do not send Set-Link-Info")
    p.add_argument("--retry-rejected", action="store_true",
                   help="when an OCRQ is refused, send it again (same Call ID) once")
    p.add_argument("--retry-delay", type=float, default=0.2)
    p.add_argument("--gre-delay", type=float, default=0.5, help="wait after the last OCRP before sending GRE")
    p.add_argument("--rx-wait", type=float, default=5, help="max wait for the server's GRE before ready")
    p.add_argument("--release-file", help="wait for this file before tearing the calls down")

    p = sub.add_parser("analyze", help="check the reports of one phase")
    p.add_argument("--server-report", required=True)
    p.add_argument("--public-ip", required=True)
    p.add_argument("--server-ip", required=True)
    p.add_argument("--calls", type=int, default=2)
    p.add_argument("--no-sli", dest="sli", action="store_false")
    p.add_argument("--label", default="")
    p.add_argument("--summary", help="write figures (JSON) here")
    p.add_argument("client_reports", nargs="+")

    sub.add_parser("calls", help="decode `vpnpt sessions --proto pptp --json` from stdin")
    p = sub.add_parser("counters", help="packet counters, xlat counters and reasons of a pin dir (JSON, by name)")
    p.add_argument("--pin-dir", required=True)
    p.add_argument("--abi", required=True, help="abi/vpnpt_abi.h (enum values)")

    return run(ap, {"server": lambda a: Server(a).run(), "client": lambda a: Client(a).run(),
                    "analyze": analyze, "calls": cmd_calls, "counters": cmd_counters},
               signals=("server", "client"))


if __name__ == "__main__":
    sys.exit(main())
