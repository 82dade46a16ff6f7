"""tcp_try of netns-lab/tests/dataplane/firewall.sh: one TCP connect, bounded by 1.5 s.

  firewall_tcp_try.py DST PORT     prints connected, refused, timeout or error
"""
import socket, sys
s = socket.socket(); s.settimeout(1.5)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("connected")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error")
