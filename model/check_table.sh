#!/usr/bin/env bash
# Model-check model/table.pml (lookup versus destroy versus recycle) with spin.
#
#  1. The correct model, in several configurations, must verify
#     exhaustively with no errors (assertions, the invariant monitor and
#     invalid end states).
#  2. Every injected-bug variant must be rejected (errors > 0).
#  3. Every reachability probe (-DWITNESS=n) must fire, so that the
#     interesting races are really explored.
#
# All spin/pan files go to a temporary directory that is removed at exit.
# CHECK_JOBS=n (default 2) sets how many verifications run at once.
# Exit status: 0 if all good, 1 if a check failed, 2 if tools are missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=check_table.sh
model="$here/table.pml"
prefix=table-model
# Maximum search depth.  The deepest configuration reaches about 300.
depth=100000
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

# name | spin defines | pan flags | gcc flags
# -DLOADFAIL=1 only adds choices (a load may also fail), so those runs
# cover the runs without it.  -DCOLLAPSE roughly halves the memory; -O1
# searches as fast as -O2 here and compiles in two thirds of the time.
good=(
	"recycle|-DLOADFAIL=1 -DNOBJ=3 -DNKEYS=2 -DPRELOAD=1 -DNLOOKUPS=2 -DITERS=2 -DRECLAIMS=2|-w24|-O1 -DCOLLAPSE"
	"three|-DNOBJ=3 -DNKEYS=2 -DPRELOAD=1 -DNLOOKUPS=3 -DITERS=1 -DRECLAIMS=2|-w23|-O1 -DCOLLAPSE"
	"buckets|-DLOADFAIL=1 -DNBUCKETS=2 -DNOBJ=3 -DNKEYS=2 -DPRELOAD=1 -DNLOOKUPS=2 -DITERS=2 -DRECLAIMS=2|-w23|-O1 -DCOLLAPSE"
	"collide|-DLOADFAIL=1 -DNOBJ=3 -DNKEYS=1 -DPRELOAD=0 -DNLOOKUPS=2 -DITERS=2 -DRECLAIMS=2|-w22|-O1 -DCOLLAPSE"
	"tight|-DLOADFAIL=1 -DNOBJ=2 -DNKEYS=2 -DPRELOAD=1 -DNLOOKUPS=2 -DITERS=2 -DRECLAIMS=2|-w22|-O1 -DCOLLAPSE"
	"home|-DHOME=1 -DLOADFAIL=1 -DNOBJ=3 -DNKEYS=2 -DPRELOAD=1 -DNLOOKUPS=2 -DITERS=2 -DRECLAIMS=2|-w24|-O1 -DCOLLAPSE"
	"home-three|-DHOME=1 -DNOBJ=3 -DNKEYS=2 -DPRELOAD=1 -DNLOOKUPS=3 -DITERS=1 -DRECLAIMS=2|-w23|-O1 -DCOLLAPSE"
	"home-collide|-DHOME=1 -DLOADFAIL=1 -DNOBJ=3 -DNKEYS=1 -DPRELOAD=0 -DNLOOKUPS=2 -DITERS=2 -DRECLAIMS=2|-w22|-O1 -DCOLLAPSE"
)
# variant | spin defines (the bug and the configuration that shows it)
bad=(
	"NOLIVE|-DBUG_NOLIVE -DNKEYS=2 -DPRELOAD=1"
	"NORECHECK|-DBUG_NORECHECK -DNKEYS=2 -DPRELOAD=1"
	"KILLANY|-DBUG_KILLANY -DNKEYS=2 -DPRELOAD=1"
	"REVIVE_SPLIT|-DBUG_REVIVE_SPLIT -DNKEYS=2 -DPRELOAD=1"
	"PUBLISH_FIRST|-DBUG_PUBLISH_FIRST -DNKEYS=2 -DPRELOAD=1"
	"RECLAIM_PUT0|-DBUG_RECLAIM_PUT0 -DNKEYS=2 -DPRELOAD=1"
	"NOSEARCH|-DBUG_NOSEARCH -DNKEYS=1 -DPRELOAD=0"
	"KILLEXACT|-DBUG_KILLEXACT -DNKEYS=2 -DPRELOAD=1 -DITERS=2 -DRECLAIMS=2"
	"HOMECLAIM_DEAD|-DBUG_HOMECLAIM_DEAD -DHOME=1 -DNKEYS=2 -DPRELOAD=1"
)
# probe number | configuration (see WITNESS in table.pml); each is a
# smaller version of one of the good configurations
reach=(
	"1|-DNKEYS=1 -DPRELOAD=0"
	"2|-DNKEYS=1 -DPRELOAD=0"
	"3|-DNKEYS=2 -DPRELOAD=1"
	"4|-DNKEYS=2 -DPRELOAD=1 -DITERS=2 -DRECLAIMS=2"
	"5|-DNKEYS=2 -DPRELOAD=1"
	"6|-DNKEYS=2 -DPRELOAD=1 -DITERS=2 -DRECLAIMS=2"
	"7|-DNKEYS=1 -DPRELOAD=0"
	"8|-DLOADFAIL=1 -DNKEYS=1 -DPRELOAD=0"
	"9|-DHOME=1 -DNKEYS=2 -DPRELOAD=1 -DITERS=2 -DRECLAIMS=2"
	"10|-DHOME=1 -DNKEYS=2 -DPRELOAD=1 -DITERS=2 -DRECLAIMS=2"
	"11|-DHOME=1 -DNKEYS=2 -DPRELOAD=1 -DITERS=2 -DRECLAIMS=2"
)

t_start=$(date +%s)
start_good "${good[@]}"
for b in "${bad[@]}"; do
	IFS='|' read -r name defs <<<"$b"
	# counterexamples come within ~100,000 states: -O0 compiles faster
	start "bug-$name" "$defs" "-w20" "-O0"
done
start_probes reach "${reach[@]}"
wait

passed=0 rejected=0 reached=0 failed=0
rows=()

check_good "${good[@]}"

for b in "${bad[@]}"; do
	IFS='|' read -r name defs <<<"$b"
	ran "bug-$name" "variant $name" || continue
	errs=$(field "$dir/out" 'errors: ' last)
	if [ -n "${errs:-}" ] && [ "$errs" -gt 0 ]; then
		echo "variant $name: rejected as expected ($(why "$dir"))"
		rejected=$((rejected + 1)); rows+=("bug-$name rejected $st $dp $mb $secs")
	else
		echo "variant $name: NOT rejected -- spin found no error with $defs"
		failed=$((failed + 1)); rows+=("bug-$name NOT-REJECTED $st $dp $mb $secs")
	fi
done

check_reach "${reach[@]}"

print_rows 20
echo "table model: $passed passed, $rejected rejected-as-expected, $reached probes reached, $failed failed ($(( $(date +%s) - t_start ))s)"
[ "$failed" = 0 ]
