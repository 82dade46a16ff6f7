#!/usr/bin/env bash
# The kernel matrix: vpnpt's tests under the kernels users have, Debian's own
# packaged 6.1 (Debian 12) and 6.12 (Debian 13), booted under QEMU by
# tools/kernel-vm.sh with this machine's userland and build. Per kernel, one
# VM runs the checks of tools/kernel-vm/matrix-leg.sh (every program loaded
# in every configuration, the BPF_PROG_TEST_RUN tables on both hooks, a
# real-software lab test per protocol, the same behind VLAN LANs and WANs),
# and a second VM with systemd as PID 1 runs tests/system/unit_systemd.sh (check
# "unit"). Prints a results table (markdown, also in
# build/kernel-matrix/results.md; the logs beside it).
#
#   sudo bash tools/kernel-matrix.sh [--kernels "6.1 6.12"] [--checks "load ..."] [--out DIR]
#                                    [--ci | --ci-cpu | --ci-real]
#
#   --kernels  which kernels (default: both)
#   --checks   which checks (default: all of matrix-leg.sh's, and unit)
#   --out      where the table and logs go (default build/kernel-matrix)
#   --ci       the CI leg (ctest kernel_leg_6_1): kernel 6.1 and the checks
#              in CI_CHECKS below
#   --ci-cpu, --ci-real  its two halves, as tools/test.sh runs them: the
#              program and table checks (CPU-bound, not timed: they run
#              beside the lab tests) and the real-software checks (timed by
#              real clients' retransmissions: they run alone, after the lab)
#
# Needs a build with tests (build/vpnpt, build/tests/vpnpt_tests); run from
# anywhere. Exit 0 when every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."

# The CI leg: what Debian 12 users run, within CI's time (docs/kernels.md has
# the times): programs load, the protocols' packet tables on XDP with the
# kernel's conntrack, each protocol's real software through a VLAN LAN and (PPTP and
# NAT-T) a VLAN WAN, and the systemd unit.
CI_CPU_CHECKS="load tables"
CI_REAL_CHECKS="pptp_lan_vlan l2tp_lan_vlan natt_lan_vlan esp_lan_vlan pptp_wan_vlan natt_wan_vlan unit"
CI_CHECKS="$CI_CPU_CHECKS $CI_REAL_CHECKS"

KERNELS="6.1 6.12" CHECKS='' OUT=build/kernel-matrix
while (($#)); do
  case $1 in
    --kernels) KERNELS=${2:?}; shift 2 ;;
    --checks) CHECKS=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    --ci) KERNELS=6.1 CHECKS=$CI_CHECKS; shift ;;
    --ci-cpu) KERNELS=6.1 CHECKS=$CI_CPU_CHECKS OUT=build/kernel-matrix/ci-cpu; shift ;;
    --ci-real) KERNELS=6.1 CHECKS=$CI_REAL_CHECKS OUT=build/kernel-matrix/ci-real; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) echo "kernel-matrix: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "kernel-matrix: run as root" >&2; exit 2; }
for f in build/vpnpt build/tests/vpnpt_tests build/tests/vpnpt_tests_tc; do
  [ -x "$f" ] || { echo "kernel-matrix: no $f: build first (tools/test.sh does)" >&2; exit 2; }
done
[ -n "$CHECKS" ] || CHECKS="$(bash tools/kernel-vm/matrix-leg.sh --list) unit"
leg_checks=() unit=0
for c in $CHECKS; do
  if [ "$c" = unit ]; then unit=1; else leg_checks+=("$c"); fi
done

mkdir -p "$OUT"
declare -A cell
fails=0
for k in $KERNELS; do
  rm -rf "${OUT:?}/$k"
  mkdir -p "$OUT/$k"
  echo "== kernel $k: $CHECKS"
  if ((${#leg_checks[@]})); then
    rc=0
    # The guest sees only the command's own environment: CHECKS goes on its command line.
    bash tools/kernel-vm.sh --kernel "$k" --timeout 5400 -- \
      env CHECKS="${leg_checks[*]}" bash tools/kernel-vm/matrix-leg.sh "$OUT/$k" 2>&1 | tee "$OUT/$k/vm.log" | grep --line-buffered -E '^(LEG|    \||kernel-vm:)' || rc=$?
    for c in "${leg_checks[@]}"; do
      line=$(grep -m1 "^LEG $c " "$OUT/$k/vm.log" || true)
      if [ -n "$line" ]; then
        read -r _ _ r secs _ <<<"$line"
        cell[$k/$c]="$r ($secs)"
        [ "$r" = pass ] || fails=$((fails + 1))
      else
        cell[$k/$c]="not run"
        fails=$((fails + 1))
      fi
    done
  fi
  if ((unit)); then
    t0=$SECONDS
    if bash tools/kernel-vm.sh --kernel "$k" --init systemd --timeout 900 -- bash tests/system/unit_systemd.sh \
      >"$OUT/$k/unit.log" 2>&1; then r=pass; else r=fail; fails=$((fails + 1)); fi
    grep -E '^(PASS|FAIL|unit_systemd)' "$OUT/$k/unit.log" | sed 's/^/    /' || true
    echo "LEG unit $r $((SECONDS - t0))s (whole VM run)"
    cell[$k/unit]="$r ($((SECONDS - t0))s)"
  fi
done

{
  printf '| check |'
  for k in $KERNELS; do printf ' %s |' "$k"; done
  printf '\n|---|'
  for k in $KERNELS; do printf -- '---|'; done
  printf '\n'
  for c in $CHECKS; do
    printf '| %s |' "$c"
    for k in $KERNELS; do printf ' %s |' "${cell[$k/$c]:-}"; done
    printf '\n'
  done
} >"$OUT/results.md"
echo "== results (also in $OUT/results.md)"
cat "$OUT/results.md"
echo "kernel-matrix: $fails check(s) failed"
((fails == 0))
