#!/usr/bin/env bash
# run_all.sh - everything CI runs: the test suite in five builds (plain,
# portable sleep backend, ASan+UBSan with debug checks, TSan with each
# sleep backend, the futex one with debug checks too, so that the
# debug-only variants such as the home-slot ones run under TSan), the
# spin models with their injected bugs, a benchmark smoke run and a
# formatting check.  Ends with "N passed, N failed".
#
#   tests/run_all.sh [--quick]     --quick: plain build only, no sanitizers
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${JOBS:-2}
quick=0
[ "${1:-}" = --quick ] && quick=1

passed=0 failed=0
declare -a failures=()

step() {	# step NAME COMMAND...
	local name=$1
	shift
	echo "=== $name"
	local t0=$SECONDS
	if "$@"; then
		passed=$((passed + 1))
		echo "=== $name: ok ($((SECONDS - t0)) s)"
	else
		failed=$((failed + 1))
		failures+=("$name")
		echo "=== $name: FAILED ($((SECONDS - t0)) s)"
	fi
}

build_and_test() {	# build_and_test DIR [cmake args...]
	local dir=$1
	shift
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.log" 2>&1 &&
		cmake --build "$dir" -j"$jobs" >>"$dir.log" 2>&1 ||
		{ tail -40 "$dir.log"; return 1; }
	ctest --test-dir "$dir" --output-on-failure -j1
}

mkdir -p build
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:exitcode=66

step "plain (futex)" build_and_test build/ci-plain -DHL_SLEEP=futex
step "benchmark smoke" build/ci-plain/bench/bench_refs --quick
step "benchmark smoke (cache)" build/ci-plain/bench/bench_cache --quick
if [ -x build/ci-plain/bench/bench_kv ]; then
	step "benchmark smoke (kv)" build/ci-plain/bench/bench_kv --quick
fi
if [ $quick = 0 ]; then
	step "plain (parking)" build_and_test build/ci-parking -DHL_SLEEP=parking
	step "asan+ubsan, debug (futex)" build_and_test build/ci-asan \
		-DHL_SANITIZE=address -DHL_DEBUG=ON -DHL_BUILD_BENCH=OFF
	step "tsan, debug (futex)" build_and_test build/ci-tsan \
		-DHL_SANITIZE=thread -DHL_DEBUG=ON -DHL_BUILD_BENCH=OFF
	step "tsan (parking)" build_and_test build/ci-tsan-parking \
		-DHL_SANITIZE=thread -DHL_SLEEP=parking -DHL_BUILD_BENCH=OFF
	step "spin model" model/check.sh
	step "spin model: table lookup vs destroy" model/check_table.sh
	step "spin model: node residency" model/check_node.sh
	step "fuzz (volume/node parsing, 60 s)" env FUZZ_BUILD=build/ci-fuzz \
		tests/fuzz/run_fuzz.sh 60
	step "man pages (mandoc -Tlint)" bash -c \
		'cd doc/man && mandoc -Tlint -Wwarning ./*.3 ./*.1'
	step "clang-format" bash -c 'git ls-files "*.c" "*.h" |
		xargs clang-format --dry-run -Werror'
fi

echo
if [ $failed -ne 0 ]; then
	printf 'failed step: %s\n' "${failures[@]}"
fi
echo "run_all: $passed passed, $failed failed"
[ $failed -eq 0 ]
