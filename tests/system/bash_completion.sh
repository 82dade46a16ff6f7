#!/usr/bin/env bash
# The generated bash completion (vpnpt-docgen): sourced in bash, its _vpnpt
# function, driven with COMP_WORDS/COMP_CWORD as bash would, offers the
# subcommands, nested subcommands, options per subcommand and the values
# each argument takes.
# Usage: bash_completion.sh BUILD/docs/vpnpt.bash-completion
set -uo pipefail
script=$1
[ -f "$script" ] || { echo "FAIL: no $script; build the vpnpt-docs target" >&2; exit 1; }
# bash-completion sources completions inside a function: so do we.
load() { source "$script"; }
load
complete -p vpnpt 2>/dev/null | grep -q -- '-F _vpnpt vpnpt' || { echo "FAIL: sourcing $script does not register _vpnpt for vpnpt" >&2; exit 1; }

fails=0
# offered LINE: what TAB offers after LINE (its last word is the one completed), sorted, one line.
offered() {
  read -ra COMP_WORDS <<<"$1"
  [[ $1 == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _vpnpt
  printf '%s\n' "${COMPREPLY[@]}" | sort | xargs
}
is() { # is LINE EXPECTED: exactly these
  local got
  got=$(offered "$1")
  [ "$got" = "$2" ] || { echo "FAIL: '$1<TAB>' offers '$got', expected '$2'"; fails=$((fails + 1)); }
}
has() { # has LINE WORD...: at least these
  local got w
  got=" $(offered "$1") "
  for w in "${@:2}"; do
    [[ $got == *" $w "* ]] || { echo "FAIL: '$1<TAB>' offers '$got', missing '$w'"; fails=$((fails + 1)); }
  done
}

first_if=$(ls /sys/class/net | head -1)
is "vpnpt st" "state status"
is "vpnpt " "attach detach diagnose ip-passthrough sessions set state status"
is "vpnpt state " "restore save"
is "vpnpt state s" "save"
is "vpnpt set " "ipsec l2tp pptp"
is "vpnpt set pptp " "off on"
is "vpnpt set pptp on " ""
is "vpnpt set --wan $first_if l2tp " "off on"
has "vpnpt attach --" --lan --config --on --off --mode --vlan-depth --help
is "vpnpt attach --mode " "auto native skb tc"
is "vpnpt attach --on " "ipsec l2tp pptp"
is "vpnpt --log-level " "debug error info trace warn"
is "vpnpt --log-level debug st" "state status"
is "vpnpt sessions --proto " "ipsec l2tp pptp"
has "vpnpt status --" --json --help
is "vpnpt ip-passthrough $first_if " "off"
has "vpnpt state save --" --wan
has "vpnpt detach " $(ls /sys/class/net)
has "vpnpt attach --lan " $(ls /sys/class/net)
has "vpnpt attach --lan $first_if " $(ls /sys/class/net)
has "vpnpt state restore --wan " "$first_if"

[ "$fails" = 0 ] || exit 1
echo "bash_completion: all cases offer what they should"
