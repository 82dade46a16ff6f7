#!/usr/bin/env bash
# Clean builds of compiler x build type with warnings as errors (VPNPT_WERROR)
# and the tests and benchmarks (BUILD_TESTING), each in /tmp/bt-<cc>-<type>
# (log beside it: /tmp/bt-<cc>-<type>.log). Builds only, runs nothing; root is
# not needed. Prints one line per combination and exits non-zero if any failed.
#
#   tools/build-matrix.sh [gcc|clang ...] [Debug|Release|RelWithDebInfo|MinSizeRel ...]
#
# Default: both compilers, all four build types. JOBS=N sets the parallelism.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-$(nproc)}

ccs=() types=()
for a in "$@"; do
  case $a in
    gcc | clang) ccs+=("$a") ;;
    Debug | Release | RelWithDebInfo | MinSizeRel) types+=("$a") ;;
    *) echo "usage: $0 [gcc|clang ...] [Debug|Release|RelWithDebInfo|MinSizeRel ...]" >&2; exit 2 ;;
  esac
done
((${#ccs[@]})) || ccs=(gcc clang)
((${#types[@]})) || types=(Debug Release RelWithDebInfo MinSizeRel)

failed=0
for cc in "${ccs[@]}"; do
  case $cc in
    gcc) env=(CC=gcc CXX=g++) ;;
    clang) env=(CC=clang CXX=clang++) ;;
  esac
  for type in "${types[@]}"; do
    dir=/tmp/bt-$cc-$type log=/tmp/bt-$cc-$type.log
    rm -rf "$dir"
    start=$SECONDS
    if env "${env[@]}" cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE="$type" \
         -DBUILD_TESTING=ON -DVPNPT_WERROR=ON >"$log" 2>&1 &&
       cmake --build "$dir" -j"$jobs" >>"$log" 2>&1; then
      result=pass
    else
      result=FAIL failed=1
    fi
    printf '%-6s %-15s %-4s %5ds  %s\n' "$cc" "$type" "$result" $((SECONDS - start)) "$log"
  done
done
exit "$failed"
