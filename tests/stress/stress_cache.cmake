# Stress of the object cache through the CLI: `hammerlock stress' runs
# oversubscribed threads over a temporary volume much larger than the
# pool, checks every read against a shadow of the last write, balances
# the statistics at the end, unmounts (no leak) and reads every node back
# from a second mount.  Wall-clock bounded (--seconds); its watchdog turns
# a hang into a failure long before TIMEOUT.  Exit 0 pass, 1 a failed
# check (or a hang), 2 a usage error.
set(HL_STRESS_CLI $<TARGET_FILE:hammerlock_cli> stress)

# 16 threads, 1 MiB pool (64 buffers) over 16 MiB of nodes.
add_test(NAME stress_cache COMMAND ${HL_STRESS_CLI}
  --threads 16 --seconds 5 --pool-mb 1 --seed 1)
# The same with random read/write failures (--fail-rate is the probability
# that one backend read or write call fails: 0.001 = 1000 ppm) and one
# fdatasync in 8 syncs failing.
add_test(NAME stress_cache_faults COMMAND ${HL_STRESS_CLI}
  --threads 16 --seconds 5 --pool-mb 1 --fail-rate 0.001 --seed 2)
# Read/write failures only, on a smaller pool.
add_test(NAME stress_cache_faults_rw COMMAND ${HL_STRESS_CLI}
  --threads 16 --seconds 4 --pool-mb 0.5 --fail-rate 0.002 --sync-faults 0
  --seed 6)
# 32 threads on a 256 KiB pool (16 buffers), fewer than they can hold at
# once: the reclaimer and the pool's write-back run all the time, and gets
# may find everything pinned (ENOMEM, allowed).
add_test(NAME stress_cache_small_pool COMMAND ${HL_STRESS_CLI}
  --threads 32 --seconds 5 --pool-mb 0.25 --seed 3)
set_tests_properties(stress_cache stress_cache_faults stress_cache_faults_rw
  stress_cache_small_pool PROPERTIES LABELS stress TIMEOUT 180)

# The checks can fail: with writes that skip hl_modify_node(), a reclaim
# drops unwritten data (or write-back leaves a stale CRC) and a later read
# or the remount sees it: as a wrong version, or as the library's CRC
# check failing a load (EIO; no I/O faults are injected here), which is
# the likelier of the two since the pool writes cold dirty buffers back
# before it drops them.  Not under TSan, where the planted bug is also
# a data race with write-back and may be reported as such first.
if(NOT HL_SANITIZE STREQUAL "thread")
  add_test(NAME stress_cache_detects_lost_write COMMAND ${HL_STRESS_CLI}
    --threads 8 --seconds 3 --seed 4 --inject-bug skip-modify)
  set_tests_properties(stress_cache_detects_lost_write PROPERTIES
    LABELS stress TIMEOUT 180
    # Any one of the list matches.
    PASS_REGULAR_EXPRESSION
    "FAIL: .*(should hold version|CRC);bad CRC .*FAIL: thread [0-9]+: hl_get_node")
endif()

# The watchdog: a thread that keeps a node locked and stops must be seen
# (the run fails after printing the sleepers and every thread's holds).
add_test(NAME stress_cache_watchdog COMMAND ${HL_STRESS_CLI}
  --threads 4 --seconds 60 --watchdog 2 --seed 5 --inject-bug lost-unlock)
set_tests_properties(stress_cache_watchdog PROPERTIES
  LABELS stress TIMEOUT 120
  PASS_REGULAR_EXPRESSION "WATCHDOG: thread 0 stuck.*FAIL: hang")

# Debug builds: the same stress with the speculating index probe and home
# slots, which only tables of 1M buckets or more have otherwise
# (HL_TBL_PROBE=spec, HL_TBL_HOME=on, honoured by debug builds only;
# src/cache/table.h).
if(HL_DEBUG)
  add_test(NAME stress_cache_probe_spec COMMAND ${HL_STRESS_CLI}
    --threads 16 --seconds 4 --pool-mb 1 --seed 7)
  set_tests_properties(stress_cache_probe_spec PROPERTIES
    LABELS "stress;debug" TIMEOUT 180 ENVIRONMENT "HL_TBL_PROBE=spec;HL_TBL_HOME=on")
  # The race windows widened (HL_RACE_YIELD=1: the library yields inside
  # marked windows, src/core/debug.h), on 64 nodes so that threads meet on
  # the same ones, with node flushes and faults.  It fails within seconds
  # with the lost cache reference of 2026-12-06 put back (node_dispose
  # unloading only an idle node), and in the TSan build (3 of 3 runs)
  # without hl_ref_live()'s acquire on a DEAD word.
  add_test(NAME stress_cache_race COMMAND ${HL_STRESS_CLI}
    --threads 16 --seconds 5 --pool-mb 0.25 --nodes 64 --fail-rate 0.002
    --seed 9)
  set_tests_properties(stress_cache_race PROPERTIES
    LABELS "stress;debug" TIMEOUT 180 ENVIRONMENT "HL_RACE_YIELD=1")
endif()
