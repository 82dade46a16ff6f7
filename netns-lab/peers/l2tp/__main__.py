#!/usr/bin/env python3
"""Crafted L2TPv2 peers for the vpnpt netns lab (RFC 2661), over plain UDP sockets.

Subcommands:
  lns      an LNS on UDP 1701 (--port): answers every SCCRQ with an SCCRP that
           assigns its own Tunnel ID (101, 102, ... in arrival order), answers a
           retransmitted SCCRQ with the same SCCRP, acknowledges SCCCN and
           StopCCN with a ZLB, and echoes every data message of a known tunnel
           back to where it came from, with the header Tunnel ID set to the id
           it learned from that tunnel's SCCRQ (what the gateway translated) and
           the same session id and payload. --reply-port P: it sends everything
           from a second socket bound to port P (and receives there too), as an
           LNS may (RFC 2661 8.1); the LACs then talk to P. --push N: once a
           tunnel is up it also sends N data messages of its own to the LAC, a
           steady stream independent of the LAC's (tag phase 255).
  lac      an LAC from local UDP port 1701 (--local-port): SCCRQ (Message Type,
           Protocol Version, Host Name, Framing Capabilities, Assigned Tunnel ID
           AVPs; header flags 0xC802, Ns/Nr), retransmitted every --retry s
           (max --tries) until the SCCRP, SCCCN to the address and port the
           SCCRP came from, then --count data messages (flags 0x0002, the LNS's
           Tunnel ID) and checks every echo: own Tunnel ID, own index and phase
           in the payload. --hidden: the Assigned Tunnel ID AVP is hidden (H
           bit, Random Vector AVP before it, RFC 2661 4.3, shared --secret), so
           the gateway cannot read it. After --release-file (bounded), StopCCN.
  analyze  checks the reports of one LNS and its LACs (PASS/FAIL lines);
           exit 0 if every check passed, else 1.

Data payload: 'VPL2' phase(1) index(2) seq(4) + padding: every echo names the
LAC it belongs to, independently of the (translated) Tunnel IDs.

Every process is bounded by --max-time and writes its report (--report) even
when it fails.

Run as a directory: python3 netns-lab/peers/l2tp SUBCOMMAND ... (wire.py: L2TP
on the wire; lns.py, lac.py, analyze.py: the subcommands).
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from labcheck import run  # noqa: E402  (shared)
from analyze import run_analyze  # noqa: E402
from lac import run_lac  # noqa: E402
from lns import run_lns  # noqa: E402
from wire import L2TP_PORT  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--max-time", type=float, default=30, help="hard bound on the run, seconds")
    common.add_argument("--report", required=True, help="JSON report file")
    common.add_argument("--ready-file", help="created when ready (LNS: listening; LAC: echoes received)")
    common.add_argument("--secret", default="vpnpt-lab-secret", help="shared secret for hidden AVPs")
    s = sub.add_parser("lns", parents=[common], help="crafted LNS (run in the server namespace)")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, default=L2TP_PORT)
    s.add_argument("--reply-port", type=int, default=0, help="send (and receive) on this port too")
    s.add_argument("--expect", type=int, default=0, help="exit once this many tunnels were stopped (0: at max-time)")
    s.add_argument("--echo-size", type=int, default=0,
                   help="pad each echoed payload to this many bytes (above the MTU: the echoes are fragmented)")
    s.add_argument("--push", type=int, default=0,
                   help="data messages the LNS sends on its own to every tunnel once it is up (SCCCN), one every "
                        "--push-interval; their payload tag has phase 255 (the LAC records them as push_rx)")
    s.add_argument("--push-interval", type=float, default=0.01)
    s.add_argument("--push-session", type=int, default=1, help="the session ID of the pushed data messages")
    c = sub.add_parser("lac", parents=[common], help="crafted LAC (run in a client namespace)")
    c.add_argument("--server", required=True)
    c.add_argument("--port", type=int, default=L2TP_PORT)
    c.add_argument("--local-port", type=int, default=L2TP_PORT)
    c.add_argument("--name", required=True, help="host name (SCCRQ), e.g. c3")
    c.add_argument("--index", type=int, required=True, help="written into every data payload")
    c.add_argument("--phase", type=int, default=1)
    c.add_argument("--tunnel-id", type=int, default=4242)
    c.add_argument("--session-id", type=int, default=1)
    c.add_argument("--hidden", action="store_true", help="hide the Assigned Tunnel ID AVP (H bit)")
    c.add_argument("--count", type=int, default=20)
    c.add_argument("--interval", type=float, default=0.02)
    c.add_argument("--paced", action="store_true",
                   help="send a data packet every --interval (default: the next one as soon as an echo arrives, "
                        "--interval at most)")
    c.add_argument("--size", type=int, default=64)
    c.add_argument("--retry", type=float, default=1.0, help="SCCRQ retransmission interval")
    c.add_argument("--tries", type=int, default=5)
    c.add_argument("--rx-wait", type=float, default=3.0, help="max wait for the last echoes")
    c.add_argument("--release-file", help="wait for this file (bounded) before StopCCN")
    c.add_argument("--no-stop", dest="stop", action="store_false", help="do not send StopCCN")
    z = sub.add_parser("analyze", help="check one LNS report and its LAC reports")
    z.add_argument("--label", default="")
    z.add_argument("--lns-report", required=True)
    z.add_argument("--public-ip", required=True)
    z.add_argument("--server-ip", required=True)
    z.add_argument("--lac-port", type=int, default=L2TP_PORT)
    z.add_argument("--reply-port", type=int, default=0)
    z.add_argument("--count", type=int, default=20)
    z.add_argument("--per-port-nat", default="", help="comma-separated LAC names expected under per-port NAT")
    z.add_argument("--summary")
    z.add_argument("reports", nargs="+")
    return run(ap, {"lns": run_lns, "lac": run_lac, "analyze": run_analyze}, signals=("lns", "lac", "analyze"))


if __name__ == "__main__":
    random.seed()
    sys.exit(main())
