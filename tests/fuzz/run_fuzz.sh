#!/usr/bin/env bash
# run_fuzz.sh [SECONDS] - build the libFuzzer target fuzz_ondisk with clang
# (ASan+UBSan) and run it for SECONDS (default $FUZZ_SECONDS or 60) from
# the generated seed corpus.  Exit 0 if nothing was found, non-zero on a
# crash, a sanitizer report, a timeout or a build failure; a crashing
# input is saved under the build directory and its path printed.
#
#   FUZZ_BUILD   build directory (default build/fuzz)
#   JOBS         parallel build jobs (default 2)
#
# Reproduce a crash: $FUZZ_BUILD/tests/fuzz/fuzz_ondisk CRASH-FILE
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-${FUZZ_SECONDS:-60}}
dir=${FUZZ_BUILD:-$top/build/fuzz}
jobs=${JOBS:-2}
cc=${FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "run_fuzz: $cc not found (libFuzzer needs clang)" >&2
	exit 2
fi
mkdir -p "$dir"
echo "run_fuzz: building in $dir"
if ! { cmake -S "$top" -B "$dir" -DCMAKE_C_COMPILER="$cc" \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DHL_FUZZ=ON -DBUILD_TESTING=OFF \
	-DHL_BUILD_BENCH=OFF &&
	cmake --build "$dir" -j"$jobs" --target fuzz_ondisk fuzz_seeds; } \
	>"$dir/run_fuzz-build.log" 2>&1; then
	tail -40 "$dir/run_fuzz-build.log"
	echo "run_fuzz: build failed (log: $dir/run_fuzz-build.log)" >&2
	exit 2
fi

fz=$dir/tests/fuzz
mkdir -p "$fz/corpus" "$fz/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "run_fuzz: fuzzing for $secs s"
"$fz/fuzz_ondisk" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-max_len=16384 -print_final_stats=1 \
	-artifact_prefix="$fz/artifacts/" "$fz/corpus" "$fz/seeds" \
	>"$fz/fuzz.log" 2>&1
rc=$?
tail -25 "$fz/fuzz.log"
if [ $rc -ne 0 ]; then
	echo "run_fuzz: FAILED (exit $rc); input(s):" >&2
	ls -1 "$fz"/artifacts/* 2>/dev/null >&2
	exit $rc
fi
echo "run_fuzz: ok, no crash in $secs s ($(find "$fz/corpus" -type f | wc -l) corpus entries)"
