"""A LAN host's TCP listeners on 8080 and 1723 for netns-lab/tests/dataplane/firewall.sh:
prints "listening", then one ACCEPT line per connection, for at most 300 s.
"""
import select, socket, sys, time
socks = []
for port in (8080, 1723):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16); socks.append(s)
print("listening", flush=True)
end = time.time() + 300
while time.time() < end:
    r, _, _ = select.select(socks, [], [], 0.5)
    for s in r:
        c, a = s.accept(); print("ACCEPT %s:%d -> %d" % (a[0], a[1], s.getsockname()[1]), flush=True); c.close()
