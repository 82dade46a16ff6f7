#!/usr/bin/env bash
# README command 2: set up a fresh Debian 12 machine and run every test.
# Installs dependencies, builds, and runs the whole suite under ctest: the
# BPF packet tests (BPF_PROG_TEST_RUN), unit tests and the netns lab tests,
# followed by a hygiene check that nothing was left behind; then a short
# libFuzzer run of the userspace parsers. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "tools/test.sh: run as root (BPF and network namespaces need it)" >&2
  exit 1
fi

bash tools/install-deps.sh
cmake -S . -B build -DBUILD_TESTING=ON
cmake --build build -j"$(nproc)"
(cd build && ctest --output-on-failure --timeout 900 "$@")
# A short fuzz run of the userspace parsers (about a minute; tools/fuzz.sh for longer runs).
FUZZ_SECONDS=${FUZZ_SECONDS:-20} bash tools/fuzz.sh
