#!/usr/bin/env bash
# Model-check model/node.pml (node residency: the cache's reference versus
# evictions and lookups) with spin.
#
#  1. The correct model, in several configurations, must verify
#     exhaustively with no errors (assertions, the invariant monitor and
#     invalid end states).
#  2. The injected bug (-DBUG_EVICT_IDLEONLY, node_dispose before
#     4814b94) must be rejected at each level of checking (-DCHECKS=2, 1,
#     0), each time by the assertion named for that level.
#  3. Every reachability probe (-DWITNESS=n) must fire, so that the
#     interesting races are really explored; and the probes of the paths
#     the fixed protocol never takes must not fire.
#
# All spin/pan files go to a temporary directory that is removed at exit.
# CHECK_JOBS=n (default 2) sets how many verifications run at once.
# Exit status: 0 if all good, 1 if a check failed, 2 if tools are missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
model="$here/node.pml"
jobs_max=${CHECK_JOBS:-2}

for tool in spin gcc; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "check_node.sh: '$tool' not found; install it (e.g. apt-get install -y spin gcc)" >&2
		exit 2
	fi
done
[ -f "$model" ] || { echo "check_node.sh: $model missing" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/node-model.XXXXXX")

# On exit (also on ^C) stop any verifier still running, then clean up.
cleanup() {
	local f
	for f in "$work"/*/pan.pid; do
		if [ -f "$f" ]; then
			kill "$(cat "$f")" 2>/dev/null || true
		fi
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Maximum search depth.  The deepest configuration reaches about 300.
depth=100000

# run NAME "SPIN-DEFINES" "PAN-FLAGS" "GCC-FLAGS": generate, compile and
# run one verifier in $work/NAME.  Leaves out (pan output), rc and secs there.
run() {
	local name=$1 defs=$2 panflags=$3 cflags=$4 dir="$work/$1" t0 t1 rc=0
	mkdir -p "$dir"
	cp "$model" "$dir/node.pml"
	t0=$(date +%s.%N)
	(
		cd "$dir"
		# shellcheck disable=SC2086  # defs and panflags are word lists
		spin $defs -a node.pml >spin.log 2>&1 || { cat spin.log; exit 3; }
		# shellcheck disable=SC2086
		gcc $cflags -DSAFETY -o pan pan.c >gcc.log 2>&1 || { cat gcc.log; exit 3; }
		# shellcheck disable=SC2086
		./pan -m"$depth" $panflags >out 2>&1 &
		echo $! >pan.pid
		wait $! || true
		rm -f pan.pid
	) >"$dir/setup.log" 2>&1 || rc=$?
	t1=$(date +%s.%N)
	echo "$rc" >"$dir/rc"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >"$dir/secs"
}

# Start a job, keeping at most $jobs_max running.
start() {
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
		wait -n || true
	done
	run "$@" &
}

# name | spin defines | pan flags | gcc flags
# -DLOADFAIL=1 only adds choices (a load may also fail), so those runs
# cover the same configurations without it.
good=(
	"base||-w22|-O1"
	"flushers|-DLOADFAIL=1 -DNFLUSHERS=2 -DFLUSHES=2|-w22|-O1 -DCOLLAPSE"
	"three|-DLOADFAIL=1 -DNUSERS=3 -DITERS=2|-w23|-O1 -DCOLLAPSE"
	"norevive|-DLOADFAIL=1 -DREVIVE=0 -DITERS=3 -DNFLUSHERS=2 -DFLUSHES=1|-w22|-O1 -DCOLLAPSE"
)
# name | spin defines | the assertion flag(s) that must reject it (regex)
# The C-visible failures of CHECKS=0: a user reads an unloaded node, or
# a release or check is fatal (DEAD word, count 0).
bad=(
	"EVICT_IDLEONLY|-DBUG_EVICT_IDLEONLY|resident_without_cache_ref"
	"EVICT_IDLEONLY-checks1|-DBUG_EVICT_IDLEONLY -DCHECKS=1|evict_took_users_ref"
	"EVICT_IDLEONLY-checks0|-DBUG_EVICT_IDLEONLY -DCHECKS=0|used_unloaded_node|released_dead_word|released_no_reference|check_without_reference"
)
# probe number | configuration (see WITNESS in node.pml): must fire
reach=(
	"1|"
	"2|"
	"3|"
	"4|"
	"5|"
	"6|"
	"7|"
	"8|-DLOADFAIL=1"
)
# probe number | configuration: must not fire (a full search, no error)
never=(
	"9|-DLOADFAIL=1 -DNFLUSHERS=2 -DFLUSHES=1"
	"10|-DLOADFAIL=1 -DNFLUSHERS=2 -DFLUSHES=1"
	"11|-DLOADFAIL=1 -DNFLUSHERS=2 -DFLUSHES=1"
	"12|-DLOADFAIL=1 -DNFLUSHERS=2 -DFLUSHES=1"
)

t_start=$(date +%s)
for g in "${good[@]}"; do
	IFS='|' read -r name defs flags cflags <<<"$g"
	start "good-$name" "$defs" "$flags" "$cflags"
done
for b in "${bad[@]}"; do
	IFS='|' read -r name defs _ <<<"$b"
	# counterexamples come within a few thousand states: -O0 compiles faster
	start "bug-$name" "$defs" "-w20" "-O0"
done
for p in "${reach[@]}"; do
	IFS='|' read -r num defs <<<"$p"
	start "reach-$num" "-DWITNESS=$num $defs" "-w20" "-O0"
done
for p in "${never[@]}"; do
	IFS='|' read -r num defs <<<"$p"
	start "never-$num" "-DWITNESS=$num $defs" "-w20" "-O0"
done
wait

passed=0 rejected=0 reached=0 unreached=0 failed=0
rows=()

field() { # field FILE REGEX N: field N (or "last") of the first matching line
	awk -v re="$2" -v f="$3" '$0 ~ re { print (f == "last") ? $NF : $(f + 0); exit }' "$1"
}

# stats DIR: "states depth MB secs" of a finished run
stats() {
	local out="$1/out" st dp mb
	st=$(field "$out" 'states, stored' 1)
	dp=$(awk '/depth reached/ { sub(",", "", $(NF-2)); print $(NF-2); exit }' "$out")
	mb=$(field "$out" 'total actual memory usage' 1)
	echo "${st:--} ${dp:--} ${mb:--} $(cat "$1/secs")"
}

# first error message of a run, shortened
why() {
	grep -m1 '^pan:1:' "$1/out" | sed 's/^pan:1: //' | cut -c1-110 || true
}

built() { # built DIR LABEL: the run built and ran, else report it
	if [ "$(cat "$1/rc" 2>/dev/null || echo missing)" != 0 ]; then
		echo "$2: FAILED to build/run:"
		sed 's/^/    /' "$1/setup.log"
		return 1
	fi
}

# complete DIR: the run searched everything and found no error
complete() {
	local out="$1/out" errs
	errs=$(field "$out" 'errors: ' last)
	[ "${errs:-x}" = 0 ] &&
		! grep -q 'max search depth too small' "$out" &&
		! grep -q 'Search not completed' "$out" &&
		! grep -qi 'out of memory' "$out"
}

for g in "${good[@]}"; do
	IFS='|' read -r name defs _ _ <<<"$g"
	dir="$work/good-$name"
	if ! built "$dir" "correct model [$name]"; then
		failed=$((failed + 1)); rows+=("good-$name FAILED - - - -"); continue
	fi
	read -r st dp mb secs <<<"$(stats "$dir")"
	if complete "$dir"; then
		printf 'correct model [%s]: ok, %s states, depth %s, %s MB, %ss  (%s)\n' \
			"$name" "$st" "$dp" "$mb" "$secs" "${defs:-defaults}"
		passed=$((passed + 1)); rows+=("good-$name verified $st $dp $mb $secs")
	else
		echo "correct model [$name]: FAILED (${defs:-defaults})"
		grep -E '^pan|error|Search not completed' "$dir/out" | sed 's/^/    /' | head -20
		failed=$((failed + 1)); rows+=("good-$name FAILED $st $dp $mb $secs")
	fi
done

for b in "${bad[@]}"; do
	IFS='|' read -r name defs expect <<<"$b"
	dir="$work/bug-$name"
	if ! built "$dir" "variant $name"; then
		failed=$((failed + 1)); rows+=("bug-$name FAILED - - - -"); continue
	fi
	read -r st dp mb secs <<<"$(stats "$dir")"
	w=$(why "$dir")
	if grep -Eq "^pan:1: assertion violated +!\(($expect)\)" "$dir/out"; then
		echo "variant $name: rejected as expected ($w)"
		rejected=$((rejected + 1)); rows+=("bug-$name rejected $st $dp $mb $secs")
	else
		echo "variant $name: NOT rejected by $expect (${w:-no error found}) with $defs"
		failed=$((failed + 1)); rows+=("bug-$name NOT-REJECTED $st $dp $mb $secs")
	fi
done

for p in "${reach[@]}"; do
	IFS='|' read -r num defs <<<"$p"
	dir="$work/reach-$num"
	if ! built "$dir" "probe $num"; then
		failed=$((failed + 1)); rows+=("reach-$num FAILED - - - -"); continue
	fi
	read -r st dp mb secs <<<"$(stats "$dir")"
	# the probe, and nothing else, must be what stopped the search
	if grep -q '^pan:1: assertion violated  *!(reached)' "$dir/out"; then
		echo "probe $num: reached as expected"
		reached=$((reached + 1)); rows+=("reach-$num reached $st $dp $mb $secs")
	else
		w=$(why "$dir")
		echo "probe $num: NOT reached (${w:-no error found}) with -DWITNESS=$num $defs"
		failed=$((failed + 1)); rows+=("reach-$num NOT-REACHED $st $dp $mb $secs")
	fi
done

for p in "${never[@]}"; do
	IFS='|' read -r num defs <<<"$p"
	dir="$work/never-$num"
	if ! built "$dir" "probe $num"; then
		failed=$((failed + 1)); rows+=("never-$num FAILED - - - -"); continue
	fi
	read -r st dp mb secs <<<"$(stats "$dir")"
	if complete "$dir"; then
		echo "probe $num: never reached, as expected"
		unreached=$((unreached + 1)); rows+=("never-$num unreached $st $dp $mb $secs")
	else
		w=$(why "$dir")
		echo "probe $num: REACHED or incomplete (${w:-search not completed}) with -DWITNESS=$num $defs"
		failed=$((failed + 1)); rows+=("never-$num REACHED $st $dp $mb $secs")
	fi
done

echo
printf '%-24s %-13s %12s %6s %9s %7s\n' run result states depth "pan MB" seconds
for r in "${rows[@]}"; do
	# shellcheck disable=SC2086  # a row is a word list
	printf '%-24s %-13s %12s %6s %9s %7s\n' $r
done
echo
echo "node model: $passed passed, $rejected rejected-as-expected, $reached probes reached, $unreached never reached, $failed failed ($(( $(date +%s) - t_start ))s)"
[ "$failed" = 0 ]
