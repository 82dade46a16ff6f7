#!/usr/bin/env bash
# README command 1: set up a fresh Debian 12 machine and run the lab demo.
# Installs dependencies, builds vpnpt, then builds a small network of
# namespaces (LAN clients, a router, internet servers), attaches vpnpt to
# the router and shows `vpnpt status` while VPN-shaped traffic flows.
# Everything it creates is removed at the end, also on Ctrl-C. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "tools/demo.sh: run as root (BPF and network namespaces need it)" >&2
  exit 1
fi

bash tools/install-deps.sh
cmake -S . -B build -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)"
exec bash netns-lab/demo.sh "$PWD/build/vpnpt"
