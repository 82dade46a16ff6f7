#!/usr/bin/env bash
# Installs everything vpnpt needs to build, test and run its lab, from Debian 12 packages.
# Idempotent: packages already present are skipped, so a second run is fast and offline-safe.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  clang llvm libelf-dev zlib1g-dev libclang-rt-14-dev
  libbpf-dev libxdp-dev xdp-tools bpftool
  libcli11-dev libspdlog-dev libfmt-dev catch2 nlohmann-json3-dev prometheus-cpp-dev
  libnetfilter-queue-dev libnftnl-dev libmnl-dev  # the IKE queue and its nftables table
  iptables  # tests only: [nft] makes the IKE chain of builds before the nftables table; vpnpt does not use it
  iproute2 nftables iputils-ping procps psmisc util-linux ethtool
  systemd  # systemd-journald, journalctl, systemd-cat: the journal lab (netns-lab/tests/daemon/journal.sh)
  python3 python3-scapy python3-yaml tcpdump  # python3-yaml: tools/check-deploy.py
  pptp-linux pptpd xl2tpd
  strongswan-charon strongswan-swanctl libcharon-extra-plugins libcharon-extauth-plugins
  vpnc python3-cryptography
  prometheus
  dpkg-dev groff-base man-db  # the Debian package (cpack, dpkg-shlibdeps) and the man page tests
  linux-perf  # tools/bench.sh profile section (optional there)
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root (apt-get)" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

# The VPN daemons are only lab peers, run in namespaces with private
# configs: do not leave system-wide servers running on this machine.
if command -v systemctl >/dev/null 2>&1; then
  for svc in pptpd xl2tpd strongswan-starter strongswan prometheus prometheus-node-exporter; do
    if systemctl is-enabled "$svc" >/dev/null 2>&1; then
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
  done
fi
