#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# run_kv.sh - build bench_kv (Release) and run it: hammerlock's B-tree
# against LMDB and SQLite on YCSB mixes A, B, C and E.  Writes the
# report to bench/results/kv-DATE.md (DATE in UTC, e.g.
# kv-20261206-0130.md), its gnuplot data to kv-DATE.dat, and the plot to
# bench/results/kv-throughput.png.  Progress goes to the terminal.
#
# usage: bench/run_kv.sh [--no-build] [bench_kv options...]
#
#   --no-build   use the binary already built (or BENCH_KV)
#   BENCH_KV     path of the bench_kv binary (implies --no-build)
#   BUILD        build directory (default build/bench-kv)
#
# Every other argument goes to bench_kv (bench_kv --help): without
# options the full run takes about 12-14 minutes on two vCPUs;
# bench/run_kv.sh --quick is the smoke run (about a minute).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

build=1
if [ "${1:-}" = --no-build ]; then
	build=0
	shift
fi
bin=${BENCH_KV:-}
[ -n "$bin" ] && build=0
bdir=${BUILD:-$top/build/bench-kv}
if [ -z "$bin" ]; then
	bin=$bdir/bench/bench_kv
fi

if [ "$build" = 1 ]; then
	# liblmdb-dev, libsqlite3-dev and gnuplot-nox, if missing.
	"$top/scripts/install-deps" run
	cmake -S "$top" -B "$bdir" -DCMAKE_BUILD_TYPE=Release \
	    -DHL_BUILD_BENCH=ON -DBUILD_TESTING=OFF >/dev/null
	cmake --build "$bdir" --target bench_kv -j"${JOBS:-2}" >/dev/null
fi
if [ ! -x "$bin" ]; then
	echo "run_kv.sh: $bin not found (needs liblmdb-dev and" \
	    "libsqlite3-dev: scripts/install-deps run)" >&2
	exit 2
fi

mkdir -p "$here/results"
stamp=$(date -u '+%Y%m%d-%H%M')
out=$here/results/kv-$stamp.md
data=$here/results/kv-$stamp.dat
png=$here/results/kv-throughput.png

# Keep bench_kv's exit status, not tee's.
status=0
{
	echo "# bench_kv, $(date -u '+%Y-%m-%d %H:%M') UTC"
	echo
	echo "- host: $(uname -srm), $(nproc) CPUs," \
	    "$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "- memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' \
	    /proc/meminfo) total; load average at the start" \
	    "$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- command: bench_kv --data $(basename "$data") $*"
	echo
	"$bin" --data "$data" "$@" || status=$?
	echo
	echo "exit status $status; load average at the end" \
	    "$(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
grep -q '^exit status 0;' "$out" || exit 1

if command -v gnuplot >/dev/null 2>&1; then
	gnuplot -e "datafile='$data'" -e "outfile='$png'" "$here/plot_kv.gp"
	echo "== $out, $data, $png"
else
	echo "== $out, $data (no gnuplot: no plot; install gnuplot-nox)"
fi
