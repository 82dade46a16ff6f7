"""Compares `vpnpt sessions --json` snapshots for netns-lab/tests/daemon/state.sh.

  state_sessions.py ids FILE              what identifies each session, sorted, one per line
  state_sessions.py younger SAVED NOW     "ok", or the sessions of NOW younger than in SAVED
  state_sessions.py grown BEFORE NOW MIN  sessions of NOW whose packets grew by more than MIN both ways
"""
import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def key(r):
    return (r["proto"], r["host"], r["server"], json.dumps(r["ids"], sort_keys=True))


def main(argv):
    cmd = argv[1]
    if cmd == "ids":
        for k in sorted("%s %s %s %s %s" % (key(r) + (r["state"],)) for r in load(argv[2])):
            print(k)
    elif cmd == "younger":
        saved = {key(r): r["age_s"] for r in load(argv[2])}
        bad = ["%s %s" % (r["proto"], r["ids"]) for r in load(argv[3]) if r["age_s"] < saved.get(key(r), 0)]
        print("ok" if not bad else "younger: %s" % bad)
    elif cmd == "grown":
        before = {key(r): r for r in load(argv[2])}
        m = int(argv[4])
        print(sum(1 for r in load(argv[3]) if key(r) in before
                  and r["packets_in"] > before[key(r)]["packets_in"] + m
                  and r["packets_out"] > before[key(r)]["packets_out"] + m))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
