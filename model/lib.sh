# shellcheck shell=bash
# Shared part of the spin model drivers check.sh, check_table.sh and
# check_node.sh; they source it, it is not run by itself.
#
# Before sourcing it (under set -euo pipefail), a script sets:
#   prog    its name, for the messages (e.g. check.sh)
#   model   the .pml file to check
#   prefix  the name of its temporary work directory (e.g. refs-model)
#   depth   the maximum search depth (pan -m)
#
# It checks that spin, gcc and the model are there (exit 2 if not), makes
# the work directory $work, which is removed at exit (any verifier still
# running is stopped first), sets jobs_max from CHECK_JOBS (default 2)
# and provides:
#   run, start                 generate, compile and run one verifier
#   start_good, start_probes   start the good and the probe runs
#   field, stats, why, built, complete
#                              read a finished run
#   ran, check_good, check_reach, check_never, print_rows
#                              for the scripts that tally their runs in
#                              passed, reached, unreached, failed and rows
#                              and print
#                              them as a table (check_table.sh, check_node.sh)

: "${prog:?}" "${model:?}" "${prefix:?}" "${depth:?}"
jobs_max=${CHECK_JOBS:-2}

for tool in spin gcc; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "$prog: '$tool' not found; install it (e.g. apt-get install -y spin gcc)" >&2
		exit 2
	fi
done
[ -f "$model" ] || { echo "$prog: $model missing" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/$prefix.XXXXXX")

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

# run NAME "SPIN-DEFINES" "PAN-FLAGS" "GCC-FLAGS": generate, compile and
# run one verifier in $work/NAME.  Leaves out (pan output), rc and secs there.
run() {
	local defs=$2 panflags=$3 cflags=$4 dir="$work/$1" pml t0 t1 rc=0
	pml=${model##*/}
	mkdir -p "$dir"
	cp "$model" "$dir/$pml"
	t0=$(date +%s.%N)
	(
		cd "$dir"
		# shellcheck disable=SC2086  # defs and panflags are word lists
		spin $defs -a "$pml" >spin.log 2>&1 || { cat spin.log; exit 3; }
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

# start_good ENTRY...: start "good-NAME" for each "NAME|DEFS|PAN-FLAGS|GCC-FLAGS"
start_good() {
	local g name defs flags cflags
	for g in "$@"; do
		IFS='|' read -r name defs flags cflags <<<"$g"
		start "good-$name" "$defs" "$flags" "$cflags"
	done
}

# start_probes KIND ENTRY...: start "KIND-N" with -DWITNESS=N for each "N|DEFS"
start_probes() {
	local kind=$1 p num defs
	shift
	for p in "$@"; do
		IFS='|' read -r num defs <<<"$p"
		start "$kind-$num" "-DWITNESS=$num $defs" "-w20" "-O0"
	done
}

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

# The rest is for the scripts that print a table of their runs
# (check_table.sh, check_node.sh).  They set passed, reached, failed (0)
# and rows (empty) before using it.

# ran NAME LABEL: set dir to $work/NAME.  If that run did not build and
# run, report it as LABEL, count it in failed, add its row to rows and
# return 1; else set st, dp, mb and secs from its stats.
ran() {
	dir="$work/$1"
	if ! built "$dir" "$2"; then
		failed=$((failed + 1)); rows+=("$1 FAILED - - - -")
		return 1
	fi
	# shellcheck disable=SC2034  # st dp mb secs are the caller's
	read -r st dp mb secs <<<"$(stats "$dir")"
}

# check_good ENTRY...: each "NAME|DEFS|..." must have verified
# exhaustively with no error
check_good() {
	local g name defs dir st dp mb secs
	for g in "$@"; do
		IFS='|' read -r name defs _ _ <<<"$g"
		ran "good-$name" "correct model [$name]" || continue
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
}

# check_reach ENTRY...: each probe "N|DEFS" must have fired
check_reach() {
	local p num defs dir st dp mb secs w
	for p in "$@"; do
		IFS='|' read -r num defs <<<"$p"
		ran "reach-$num" "probe $num" || continue
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
}

# check_never ENTRY...: each "never" probe "N|DEFS" (a state only a bug
# reaches) must not have fired: its search must complete without error
check_never() {
	local p num defs dir st dp mb secs w
	for p in "$@"; do
		IFS='|' read -r num defs <<<"$p"
		ran "never-$num" "probe $num" || continue
		if complete "$dir"; then
			echo "probe $num: never reached, as expected"
			unreached=$((unreached + 1)); rows+=("never-$num unreached $st $dp $mb $secs")
		else
			w=$(why "$dir")
			echo "probe $num: REACHED or incomplete (${w:-search not completed}) with -DWITNESS=$num $defs"
			failed=$((failed + 1)); rows+=("never-$num REACHED $st $dp $mb $secs")
		fi
	done
}

# print_rows WIDTH: the table of rows, the run names WIDTH wide
print_rows() {
	local fmt="%-$1s %-13s %12s %6s %9s %7s\n" r
	echo
	# shellcheck disable=SC2059  # fmt is a format
	printf "$fmt" run result states depth "pan MB" seconds
	for r in "${rows[@]}"; do
		# shellcheck disable=SC2086,SC2059  # a row is a word list
		printf "$fmt" $r
	done
	echo
}
