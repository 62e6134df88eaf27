#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# run.sh - run bench_refs, then count the instructions of each
# single-thread case under callgrind, and print one markdown table.
#
# usage: bench/run.sh [bench_refs options...]
#
#   BENCH_REFS  path of the bench_refs binary
#               (default: build-bench/bench/bench_refs, then build/...)
#   CG_ITERS    cycles per case under callgrind (default 1000000)
#
# Instructions per cycle are (Ir of a run with CG_ITERS cycles - Ir of a
# run with 0 cycles) / CG_ITERS, so start-up and set-up cost cancel out.
# The options given to this script go to the timed run only.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
cg_iters=${CG_ITERS:-1000000}

bin=${BENCH_REFS:-}
if [ -z "$bin" ]; then
	for b in "$top/build-bench/bench/bench_refs" \
	    "$top/build/bench/bench_refs"; do
		if [ -x "$b" ]; then
			bin=$b
			break
		fi
	done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
	echo "run.sh: bench_refs not found; build it or set BENCH_REFS" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_refs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# 1. The timed run.
echo "== $bin $*"
"$bin" "$@" | tee "$tmp/bench.txt"

# The single-thread cases, in the program's order.
cases=$("$bin" --help | awk '/^cases:/ { on = 1; next } on { print $1 }')

# 2. Instruction counts.
have_cg=0
if command -v valgrind >/dev/null 2>&1; then
	have_cg=1
fi

# Total Ir of one callgrind output file ("summary:" or "totals:" line).
cg_total() {
	awk '/^(summary|totals):/ { print $2; exit }' "$1"
}

cg_run() {	# case iters outfile
	valgrind --tool=callgrind --callgrind-out-file="$3" \
	    "$bin" --case "$1" --threads 1 --iters "$2" --reps 1 --no-warmup \
	    >"$3.stdout" 2>"$3.stderr"
}

: >"$tmp/ir.txt"
if [ "$have_cg" = 1 ]; then
	echo
	echo "== callgrind: $cg_iters cycles per case (minus a 0-cycle run)"
	for c in $cases; do
		if cg_run "$c" 0 "$tmp/cg.$c.0" &&
		    cg_run "$c" "$cg_iters" "$tmp/cg.$c.n"; then
			a=$(cg_total "$tmp/cg.$c.0")
			b=$(cg_total "$tmp/cg.$c.n")
			echo "$c $a $b" | awk -v n="$cg_iters" \
			    '{ printf "%s %.2f\n", $1, ($3 - $2) / n }' \
			    >>"$tmp/ir.txt"
			echo "  $c: Ir $a (0 cycles), $b ($cg_iters cycles)"
		else
			echo "  $c: callgrind failed (see below)"
			cat "$tmp/cg.$c.0.stderr" "$tmp/cg.$c.n.stderr" 2>/dev/null |
			    tail -5
		fi
	done
else
	echo
	echo "== valgrind not found: no instruction counts"
fi

# perf counters are often unavailable in VMs; say so, do not use them.
if command -v perf >/dev/null 2>&1 &&
    perf stat -x, -e instructions true 2>&1 | grep -q '^[0-9]'; then
	echo "== note: perf instruction counters work here (not used)"
else
	echo "== note: perf instruction counters unavailable (not used)"
fi

# 3. The table: single-thread lines of the timed run + instruction counts.
echo
echo "Single thread, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs:"
echo
awk -v irfile="$tmp/ir.txt" '
BEGIN {
	while ((getline line < irfile) > 0) {
		split(line, f, " ")
		ir[f[1]] = f[2]
	}
}
/^BENCH / && / threads=1 / {
	delete kv
	for (i = 2; i <= NF; i++) {
		split($i, p, "=")
		kv[p[1]] = p[2]
	}
	c = kv["case"]
	order[++n] = c
	med[c] = kv["median_ns"]; lo[c] = kv["min_ns"]; hi[c] = kv["max_ns"]
	rat[c] = kv["ratio"]; cpu[c] = kv["cpu_ns"]; crat[c] = kv["cpu_ratio"]
}
END {
	print "| case | ns/cycle median (min-max) | ratio to floor |" \
	    " instr/cycle | ratio | cpu ns/cycle (ratio) |"
	print "|---|---|---|---|---|---|"
	for (i = 1; i <= n; i++) {
		c = order[i]
		r = "-"
		if (rat[c] != "NA")
			r = sprintf("%.2fx", rat[c])
		ins = "n/a"
		insr = "-"
		if (c in ir) {
			ins = sprintf("%.1f", ir[c])
			if (("floor" in ir) && ir["floor"] > 0)
				insr = sprintf("%.2fx", ir[c] / ir["floor"])
		}
		cr = "-"
		if (crat[c] != "NA")
			cr = sprintf("%.2fx", crat[c])
		printf "| %s | %.2f (%.2f-%.2f) | %s | %s | %s | %.2f (%s) |\n",
		    c, med[c], lo[c], hi[c], r, ins, insr, cpu[c], cr
	}
}' "$tmp/bench.txt"
