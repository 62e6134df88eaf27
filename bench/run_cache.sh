#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# run_cache.sh - run bench_cache (the cache hit-path benchmark) and print
# its output, preceded by a few facts about the machine.
#
# usage: bench/run_cache.sh [--save] [bench_cache options...]
#
#   --save        also write the output to bench/results/cache-DATE.txt
#                 (DATE in UTC, e.g. cache-20261205-2330.txt)
#   BENCH_CACHE   path of the bench_cache binary (default: the first of
#                 build-bench/bench, build/bench/bench, build/release/bench
#                 and build/bench that has one)
#
# Every other argument goes to bench_cache (see bench_cache --help):
# bench/run_cache.sh --quick is the smoke run; without options the full
# run takes about two to three minutes on two vCPUs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

save=0
if [ "${1:-}" = --save ]; then
	save=1
	shift
fi

bin=${BENCH_CACHE:-}
if [ -z "$bin" ]; then
	for b in "$top/build-bench/bench/bench_cache" \
	    "$top/build/bench/bench/bench_cache" \
	    "$top/build/release/bench/bench_cache" \
	    "$top/build/bench/bench_cache"; do
		if [ -x "$b" ]; then
			bin=$b
			break
		fi
	done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
	echo "run_cache.sh: bench_cache not found; build it or set" \
	    "BENCH_CACHE" >&2
	exit 2
fi

run() {
	echo "== $bin $*"
	echo "# host: $(uname -srm), $(nproc) CPUs," \
	    "$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "# memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' \
	    /proc/meminfo) total, load average" \
	    "$(cut -d' ' -f1-3 /proc/loadavg)"
	"$bin" "$@"
}

if [ "$save" = 1 ]; then
	mkdir -p "$here/results"
	out="$here/results/cache-$(date -u '+%Y%m%d-%H%M').txt"
	# Keep bench_cache's exit status, not tee's.
	status=0
	{ run "$@" || status=$?; echo "# exit status $status"; } |
	    tee "$out"
	echo "== saved to $out"
	grep -q '^# exit status 0$' "$out"
else
	run "$@"
fi
