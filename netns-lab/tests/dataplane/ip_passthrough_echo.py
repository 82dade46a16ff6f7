"""Echo servers and one-shot clients for netns-lab/tests/dataplane/ip-passthrough.sh.

  ip_passthrough_echo.py serve SPEC LOG MAX_TIME     SPEC: tcp:PORT,udp:PORT,...
  ip_passthrough_echo.py client tcp|udp HOST PORT MSG TIMEOUT
"""
import socket, sys, threading, time

def serve(spec, log, max_time):
    """spec: tcp:PORT,udp:PORT,...  Echo everything; log 'proto peer_ip peer_port data' per connection/datagram."""
    lock = threading.Lock()
    def w(line):
        with lock:
            with open(log, "a") as f:
                f.write(line + "\n")
    def tcp(port):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port)); s.listen(16); s.settimeout(0.2)
        while True:
            try:
                c, peer = s.accept()
            except socket.timeout:
                continue
            c.settimeout(3)
            try:
                d = c.recv(1024)
                w("tcp %d %s %d %s" % (port, peer[0], peer[1], d.decode(errors="replace")))
                c.sendall(b"echo:" + d)
            except OSError as e:
                w("tcp %d %s %d error %s" % (port, peer[0], peer[1], e))
            c.close()
    def udp(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", port))
        while True:
            d, peer = s.recvfrom(1024)
            w("udp %d %s %d %s" % (port, peer[0], peer[1], d.decode(errors="replace")))
            s.sendto(b"echo:" + d, peer)
    for item in spec.split(","):
        proto, port = item.split(":")
        threading.Thread(target=tcp if proto == "tcp" else udp, args=(int(port),), daemon=True).start()
    w("ready")
    time.sleep(max_time)

def client(proto, host, port, msg, timeout):
    """Prints what came back ('echo:...'), or 'ERR <reason>'; also the local address."""
    try:
        if proto == "tcp":
            s = socket.create_connection((host, port), timeout=timeout)
            s.sendall(msg.encode())
            s.settimeout(timeout)
            d = s.recv(1024)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(timeout)
            s.sendto(msg.encode(), (host, port))
            d, _ = s.recvfrom(1024)
        print("%s lport=%d" % (d.decode(errors="replace"), s.getsockname()[1]))
    except OSError as e:
        print("ERR %s" % (type(e).__name__ if isinstance(e, socket.timeout) else e))

if sys.argv[1] == "serve":
    serve(sys.argv[2], sys.argv[3], float(sys.argv[4]))
else:
    client(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6]))
