#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for
# FUZZ_SECONDS (default 30) from the seed corpora in tests/fuzz/corpus/.
# Prints the inputs executed per target; a crash, leak or failed invariant
# fails the run and leaves the reproducer in build-fuzz/work/<target>/.
# tools/test.sh runs it briefly (20 s per target: about a minute); run it longer by hand: FUZZ_SECONDS=600 tools/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-30}

CC=clang CXX=clang++ cmake -S . -B build-fuzz -DVPNPT_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_ike fuzz_config fuzz_cli fuzz_l2tp fuzz_state >/dev/null

rc=0
for t in ike config cli l2tp state; do
	work=build-fuzz/work/$t
	rm -rf "$work"
	mkdir -p "$work/corpus"
	cp tests/fuzz/corpus/$t/* "$work/corpus/"
	log=$work/run.log
	if (cd "$work" && ../../tests/fuzz/fuzz_$t -max_total_time="$SECS" -print_final_stats=1 -detect_leaks=1 corpus) >"$log" 2>&1; then
		runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
		echo "fuzz_$t: ${SECS}s, ${runs:-?} inputs executed, 0 crashes (corpus $(ls "$work/corpus" | wc -l) inputs)"
	else
		echo "fuzz_$t: FAILED, see $log and the crash-* file in $work" >&2
		tail -n 30 "$log" >&2
		rc=1
	fi
done
exit "$rc"
