#!/bin/bash
# Every BPF header compiles on its own after either context shim: a header
# that leans on what an earlier include happened to bring in breaks the day
# the include order changes (ctest `bpf_headers`).
# Usage: tools/check-bpf-headers.sh [clang]
set -u
CLANG=${1:-clang}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
TU=$(mktemp --suffix=.c)
trap 'rm -f "$TU"' EXIT
fail=0 n=0
cd "$ROOT" || exit 1
for h in bpf/lib/*.h bpf/proto/*.h bpf/*.h; do
  for ctx in xdp skb; do
    printf '#include "bpf/ctx/%s.h"\n#include "%s"\n' "$ctx" "$h" > "$TU"
    n=$((n + 1))
    if ! "$CLANG" -fsyntax-only -target bpf -Wall -Werror -Wno-unused-function \
        -I"/usr/include/$MULTIARCH" -I"$ROOT" "$TU" 2> "$TU.err"; then
      echo "$h after bpf/ctx/$ctx.h: $(grep -m1 error "$TU.err")"
      fail=$((fail + 1))
    fi
    rm -f "$TU.err"
  done
done
[ "$fail" = 0 ] || { echo "check-bpf-headers: $fail of $n header builds failed" >&2; exit 1; }
echo "check-bpf-headers: $n header builds (each header after each shim) compile alone"
