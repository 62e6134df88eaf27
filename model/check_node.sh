#!/usr/bin/env bash
# Model-check model/node.pml (node residency: the cache's reference versus
# evictions and lookups) with spin.
#
#  1. The correct model, in several configurations, must verify
#     exhaustively with no errors (assertions, the invariant monitor and
#     invalid end states).
#  2. The injected bugs must be rejected: -DBUG_EVICT_IDLEONLY
#     (node_dispose before 4814b94) at each level of checking
#     (-DCHECKS=2, 1, 0), each time by the assertion named for that
#     level; -DBUG_DONE_CLEARS_CHECK (CHECK lost while references remain)
#     by property 8 and, at level 0, by what a release build sees.
#  3. Every reachability probe (-DWITNESS=n) must fire, so that the
#     interesting races are really explored; and the probes of the paths
#     the fixed protocol never takes must not fire.
#
# All spin/pan files go to a temporary directory that is removed at exit.
# CHECK_JOBS=n (default 2) sets how many verifications run at once.
# Exit status: 0 if all good, 1 if a check failed, 2 if tools are missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=check_node.sh
model="$here/node.pml"
prefix=node-model
# Maximum search depth.  The deepest configuration reaches about 300.
depth=100000
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

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
	"EVICT_IDLEONLY-checks0|-DBUG_EVICT_IDLEONLY -DCHECKS=0|used_unloaded_node|check_without_reference"
	"DONE_CLEARS_CHECK|-DBUG_DONE_CLEARS_CHECK|idle_word_not_resident"
	"DONE_CLEARS_CHECK-checks0|-DBUG_DONE_CLEARS_CHECK -DCHECKS=0|used_unloaded_node|check_without_reference"
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
start_good "${good[@]}"
for b in "${bad[@]}"; do
	IFS='|' read -r name defs _ <<<"$b"
	# counterexamples come within a few thousand states: -O0 compiles faster
	start "bug-$name" "$defs" "-w20" "-O0"
done
start_probes reach "${reach[@]}"
start_probes never "${never[@]}"
wait

passed=0 rejected=0 reached=0 unreached=0 failed=0
rows=()

check_good "${good[@]}"

for b in "${bad[@]}"; do
	IFS='|' read -r name defs expect <<<"$b"
	ran "bug-$name" "variant $name" || continue
	w=$(why "$dir")
	if grep -Eq "^pan:1: assertion violated +!\(($expect)\)" "$dir/out"; then
		echo "variant $name: rejected as expected ($w)"
		rejected=$((rejected + 1)); rows+=("bug-$name rejected $st $dp $mb $secs")
	else
		echo "variant $name: NOT rejected by $expect (${w:-no error found}) with $defs"
		failed=$((failed + 1)); rows+=("bug-$name NOT-REJECTED $st $dp $mb $secs")
	fi
done

check_reach "${reach[@]}"

check_never "${never[@]}"

print_rows 24
echo "node model: $passed passed, $rejected rejected-as-expected, $reached probes reached, $unreached never reached, $failed failed ($(( $(date +%s) - t_start ))s)"
[ "$failed" = 0 ]
