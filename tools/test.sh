#!/usr/bin/env bash
# README command 2: set up a fresh Debian 12 machine and run every test.
# Installs dependencies, builds, and runs the whole suite under ctest: the
# BPF packet tests (BPF_PROG_TEST_RUN), unit tests and the netns lab tests,
# followed by a hygiene check that nothing was left behind; then a short
# libFuzzer run of the userspace parsers. Needs root.
#
# A skipped test is a failed test: lab scripts fail when they cannot run
# (VPNPT_ALLOW_SKIP=1 lets them skip instead), and this script fails if
# ctest reports any test as not run, or ran none. It ends with one line
# "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "tools/test.sh: run as root (BPF and network namespaces need it)" >&2
  exit 1
fi

bash tools/install-deps.sh
# Warnings are errors here and in CI (VPNPT_WERROR), not in a user's own build.
cmake -S . -B build -DBUILD_TESTING=ON -DVPNPT_WERROR=ON
cmake --build build -j"$(nproc)"

log=$(mktemp /tmp/vpnpt-ctest.XXXXXX)
trap 'rm -f "$log"' EXIT
rc=0
(cd build && ctest --output-on-failure --timeout 900 "$@") 2>&1 | tee "$log" || rc=$?

# ctest's summary: "N% tests passed, F tests failed out of T", and a list
# under "The following tests did not run:" for skipped ones.
total=$(sed -n 's/.* tests failed out of \([0-9]*\)$/\1/p' "$log" | tail -n1)
failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of .*/\1/p' "$log" | tail -n1)
skipped=$(sed -n '/The following tests did not run:/,/^$/p' "$log" | grep -c ' - ' || true)
total=${total:-0} failed=${failed:-0}
passed=$((total - failed - skipped))
echo "tests: $passed passed, $failed failed, $skipped skipped"
if ((total == 0)); then
  echo "tools/test.sh: ctest ran no test" >&2
  exit 1
fi
if ((skipped > 0)) && [ "${VPNPT_ALLOW_SKIP:-0}" != 1 ]; then
  echo "tools/test.sh: $skipped test(s) did not run; a skipped test is a failed test" >&2
  exit 1
fi
if ((rc != 0)); then
  exit "$rc"
fi

# A short fuzz run of the userspace parsers (about a minute; tools/fuzz.sh for longer runs).
FUZZ_SECONDS=${FUZZ_SECONDS:-20} bash tools/fuzz.sh
