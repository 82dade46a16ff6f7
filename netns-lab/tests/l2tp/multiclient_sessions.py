"""check_sessions of netns-lab/tests/l2tp/multiclient.sh: vpnpt's live L2TP tunnels
toward SERVER in `vpnpt sessions --json`.

  multiclient_sessions.py SESSIONS_JSON SERVER CLIENT_TUNNEL_ID
  prints: tunnels, distinct translated ids, tunnels with the client's id,
          per-port NAT tunnels, states
"""
import json, sys
d = json.load(open(sys.argv[1]))
rows = [r for r in d if r.get("proto") == "l2tp" and r.get("server") == sys.argv[2] and r.get("state") != "closing"]
ids = [r["ids"] for r in rows]
print(len(rows), len({i["translated_tunnel_id"] for i in ids}),
      sum(1 for i in ids if i["client_tunnel_id"] == int(sys.argv[3])),
      sum(1 for i in ids if i["per_port_nat"]),
      ",".join(sorted({r["state"] for r in rows})) or "-")
