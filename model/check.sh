#!/usr/bin/env bash
# Model-check model/refs.pml with spin.
#
#  1. The correct model, in several process configurations, must verify
#     exhaustively with no errors (assertions + invalid end states).
#  2. Every injected-bug variant (-DBUG_X) must be rejected (errors > 0).
#  3. Every reachability probe of the plain hl_ref/hl_rel code (-DWITNESS=n)
#     must fire, so that the checks of that code are not vacuous.
#
# All spin/pan files go to a temporary directory that is removed at exit.
# CHECK_JOBS=n (default 2) sets how many verifications run at once.
# Exit status: 0 if all good, 1 if a check failed, 2 if tools are missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=check.sh
model="$here/refs.pml"
prefix=refs-model
# Maximum search depth.  The deepest configuration reaches about 550.
depth=100000
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

# name | spin defines | pan flags | gcc flags
# (-DCOLLAPSE compresses stored states: about half the memory, a bit slower;
# -O2 costs ~12s of compiling but pays off on the long runs.)
good=(
	"invalidator|-DNCLIENTS=2 -DCYCLES=2 -DINVAL=1 -DINVALS=1 -DRECLAIMS=1|-w26|-O2 -DCOLLAPSE"
	"clients|-DNCLIENTS=3 -DCYCLES=2 -DINVAL=0 -DRECLAIMS=1|-w26|-O2 -DCOLLAPSE"
	"reinvalidate|-DNCLIENTS=2 -DCYCLES=1 -DINVAL=1 -DINVALS=2 -DRECLAIMS=1|-w24|-O2"
	"spurious|-DSPURIOUS -DNCLIENTS=2 -DCYCLES=1 -DINVAL=1 -DINVALS=1 -DRECLAIMS=1|-w24|-O2"
	"plain|-DPLAIN=1 -DNCLIENTS=2 -DCYCLES=1 -DINVAL=1 -DINVALS=1 -DRECLAIMS=1|-w24|-O2"
)
# variant letter | configuration in which the bug is shown
bad=(
	"A|-DNCLIENTS=2 -DCYCLES=1 -DINVAL=0 -DRECLAIMS=0"
	"B|-DNCLIENTS=2 -DCYCLES=1 -DINVAL=0 -DRECLAIMS=0"
	"C|-DNCLIENTS=2 -DCYCLES=1 -DINVAL=0 -DRECLAIMS=0"
	"D|-DNCLIENTS=2 -DCYCLES=1 -DINVAL=0 -DRECLAIMS=0"
	"E|-DNCLIENTS=2 -DCYCLES=1 -DINVAL=1 -DINVALS=1 -DRECLAIMS=0"
	"F|-DNCLIENTS=2 -DCYCLES=1 -DINVAL=0 -DRECLAIMS=1"
	"G|-DNCLIENTS=2 -DCYCLES=1 -DINVAL=0 -DRECLAIMS=0"
	"H|-DNCLIENTS=2 -DCYCLES=1 -DINVAL=1 -DINVALS=2 -DRECLAIMS=0"
	"I|-DPLAIN=1 -DNCLIENTS=1 -DCYCLES=1 -DINVAL=1 -DINVALS=1 -DRECLAIMS=0"
)
# reachability probe number | configuration (see WITNESS in refs.pml)
reach=(
	"1|-DPLAIN=1 -DNCLIENTS=1 -DCYCLES=1 -DINVAL=1 -DINVALS=1 -DRECLAIMS=0"
	"2|-DPLAIN=1 -DNCLIENTS=1 -DCYCLES=1 -DINVAL=1 -DINVALS=1 -DRECLAIMS=0"
	"3|-DPLAIN=1 -DNCLIENTS=1 -DCYCLES=1 -DINVAL=1 -DINVALS=1 -DRECLAIMS=0"
	"4|-DPLAIN=1 -DNCLIENTS=1 -DCYCLES=1 -DINVAL=1 -DINVALS=1 -DRECLAIMS=0"
)

t_start=$(date +%s)
start_good "${good[@]}"
for b in "${bad[@]}"; do
	IFS='|' read -r letter defs <<<"$b"
	# the counterexamples are found within a few thousand states: -O0
	start "bug-$letter" "-DBUG_$letter $defs" "-w20" "-O0"
done
start_probes reach "${reach[@]}"
wait

passed=0 rejected=0 reached=0 failed=0

for g in "${good[@]}"; do
	IFS='|' read -r name defs _ _ <<<"$g"
	dir="$work/good-$name"
	if [ "$(cat "$dir/rc" 2>/dev/null || echo missing)" != 0 ]; then
		echo "correct model [$name]: FAILED to build/run:"
		sed 's/^/    /' "$dir/setup.log"
		failed=$((failed + 1))
		continue
	fi
	out="$dir/out"
	errs=$(field "$out" 'errors: ' last)
	states=$(field "$out" 'states, stored' 1)
	trans=$(field "$out" 'transitions' 1)
	dep=$(awk '/depth reached/ { sub(",", "", $(NF-2)); print $(NF-2); exit }' "$out")
	mem=$(field "$out" 'total actual memory usage' 1)
	secs=$(cat "$dir/secs")
	if [ "${errs:-x}" = 0 ] &&
	   ! grep -q 'max search depth too small' "$out" &&
	   ! grep -q 'Search not completed' "$out" &&
	   ! grep -qi 'out of memory' "$out"; then
		printf 'correct model [%s]: ok, %s states, %s transitions, depth %s, %s MB, %ss  (%s)\n' \
			"$name" "$states" "$trans" "$dep" "$mem" "$secs" "$defs"
		passed=$((passed + 1))
	else
		echo "correct model [$name]: FAILED ($defs)"
		grep -E '^pan|error|Search not completed' "$out" | sed 's/^/    /' | head -20
		failed=$((failed + 1))
	fi
done

for b in "${bad[@]}"; do
	IFS='|' read -r letter defs <<<"$b"
	dir="$work/bug-$letter"
	if [ "$(cat "$dir/rc" 2>/dev/null || echo missing)" != 0 ]; then
		echo "variant $letter: FAILED to build/run:"
		sed 's/^/    /' "$dir/setup.log"
		failed=$((failed + 1))
		continue
	fi
	out="$dir/out"
	errs=$(field "$out" 'errors: ' last)
	why=$(grep -m1 '^pan:1:' "$out" | sed 's/^pan:1: //' || true)
	if [ -n "${errs:-}" ] && [ "$errs" -gt 0 ]; then
		echo "variant $letter: rejected as expected ($why)"
		rejected=$((rejected + 1))
	else
		echo "variant $letter: NOT rejected -- spin found no error with -DBUG_$letter"
		failed=$((failed + 1))
	fi
done

for p in "${reach[@]}"; do
	IFS='|' read -r num defs <<<"$p"
	dir="$work/reach-$num"
	if [ "$(cat "$dir/rc" 2>/dev/null || echo missing)" != 0 ]; then
		echo "probe $num: FAILED to build/run:"
		sed 's/^/    /' "$dir/setup.log"
		failed=$((failed + 1))
		continue
	fi
	out="$dir/out"
	# the probe, and nothing else, must be what stopped the search
	if grep -q '^pan:1: assertion violated  *!(reached)' "$out"; then
		echo "probe $num: reached as expected"
		reached=$((reached + 1))
	else
		why=$(grep -m1 '^pan:1:' "$out" | sed 's/^pan:1: //' || true)
		echo "probe $num: NOT reached (${why:-no error found}) with -DWITNESS=$num"
		failed=$((failed + 1))
	fi
done

echo "model: $passed passed, $rejected rejected-as-expected, $reached probes reached, $failed failed ($(( $(date +%s) - t_start ))s)"
[ "$failed" = 0 ]
