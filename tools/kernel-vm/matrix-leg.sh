#!/usr/bin/env bash
# One kernel's leg of tools/kernel-matrix.sh, run inside the guest from the
# repository's top: each check in turn, one line each on stdout
#   LEG <check> <pass|fail> <seconds>s <what it ran>
# (--list instead of OUTDIR prints every check's name)
# with the check's whole output in $OUT/<check>.log (OUT: the first argument,
# a directory in the share). The checks (CHECKS: a space-separated subset;
# default all):
#   load        every program loaded in every load-time configuration; the pin,
#               build-record and in-place upgrade cases ([pins], [upgrade])
#   packets     the BPF_PROG_TEST_RUN tables on the XDP programs (the
#               suite but for [load]: PPTP, GRE, ESP, NAT-T and IP
#               passthrough with the kernel's conntrack, L2TP, quotas...)
#   packets_tc  the same tables on the TC programs
#   tables      the protocol tables alone, XDP (what CI runs on 6.1; the
#               whole packets check takes ~20 min under TCG): PPTP GRE, raw
#               ESP, NAT-T and IP passthrough with the kernel's conntrack, L2TP
#   pptp l2tp natt esp       one real-software lab test per protocol
#                            (pptp-linux, xl2tpd, strongSwan NAT-T, vpnc raw ESP)
#   <proto>_lan_vlan <proto>_wan_vlan <proto>_lan_vlan_bridge
#               the same behind a VLAN LAN (lan0 = trunk.10), a VLAN WAN, a
#               VLAN-aware bridge LAN (8021q and vlan_filtering: not on the
#               build machine's own kernel)
set -uo pipefail
OUT=${1:?usage: matrix-leg.sh OUTDIR | --list}
VPNPT=$PWD/build/vpnpt
T=$PWD/build/tests
TC_SPEC='[bpf]~[load],[classify],[events],[gre],[esp],[natt],[l2tp],[passthrough],[quota],[property],[regression],[fwd],[pptp]'
ALL="load packets packets_tc tables pptp l2tp natt esp"
for p in pptp l2tp natt esp; do ALL+=" ${p}_lan_vlan ${p}_wan_vlan ${p}_lan_vlan_bridge"; done
if [ "$OUT" = --list ]; then echo $ALL; exit 0; fi
CHECKS=${CHECKS:-$ALL}
mkdir -p "$OUT"
modprobe nf_conntrack 2>/dev/null || true

lab() { # lab PROTO: the real-software lab test of PROTO, in this shell's topology
  case $1 in
    pptp) bash netns-lab/tests/pptp/real.sh vpnpt "$VPNPT" ;;
    l2tp) RAND_SOURCE=sys bash netns-lab/tests/l2tp/real.sh vpnpt "$VPNPT" ;;
    natt) bash netns-lab/tests/ipsec/real.sh vpnpt strongswan "$VPNPT" ;;
    esp) NCLIENTS=3 bash netns-lab/tests/ipsec/real.sh vpnpt vpnc "$VPNPT" ;;
  esac
}
run() { # run CHECK
  case $1 in
    load) "$T/vpnpt_tests" '[load],[pins],[upgrade]' ;;
    packets) "$T/vpnpt_tests" --durations yes '~[load]' ;;
    tables) "$T/vpnpt_tests" --durations yes '[gre]~[property],[esp]~[property],[natt]~[property],[passthrough]~[property],[l2tp]~[property]' ;;
    packets_tc) VPNPT_TEST_HOOK=tc "$T/vpnpt_tests_tc" "$TC_SPEC" ;;
    pptp | l2tp | natt | esp) lab "$1" ;;
    *_lan_vlan) LAB_LAN=vlan lab "${1%%_*}" ;;
    *_wan_vlan) LAB_WAN=vlan lab "${1%%_*}" ;;
    *_lan_vlan_bridge) LAB_LAN=vlan-bridge lab "${1%%_*}" ;;
    *) echo "matrix-leg: unknown check '$1'"; return 2 ;;
  esac
}
fails=0
for c in $CHECKS; do
  t0=$SECONDS
  if run "$c" >"$OUT/$c.log" 2>&1 </dev/null; then r=pass; else r=fail; fails=$((fails + 1)); fi
  echo "LEG $c $r $((SECONDS - t0))s $(grep -hE '^(RESULT|All tests passed|test cases:)' "$OUT/$c.log" | tail -n1)"
  [ $r = pass ] || tail -n 15 "$OUT/$c.log" | sed 's/^/    | /'
done
exit $((fails > 0))
