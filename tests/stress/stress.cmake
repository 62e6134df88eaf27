# Stress tests of the refs word protocol and of the shared/exclusive lock.
# Time-bounded (HL_SECONDS, default 3 s) and oversubscribed (HL_THREADS);
# each has a watchdog that turns a hang into a failure well before TIMEOUT.
hl_test(NAME stress_refs SOURCES ${CMAKE_CURRENT_LIST_DIR}/stress_refs.c
  LABELS stress TIMEOUT 120)
hl_test(NAME stress_lock SOURCES ${CMAKE_CURRENT_LIST_DIR}/stress_lock.c
  LABELS stress TIMEOUT 120)
# The same test running a reclaimer that drops an object and then passes
# error 0 to hl_put_interlock() (a misuse): it must fail, which shows the
# test can see a get returning false on dropped memory.
add_test(NAME stress_refs_detects_bad_reclaim COMMAND stress_refs)
set_tests_properties(stress_refs_detects_bad_reclaim PROPERTIES
  ENVIRONMENT "HL_RECLAIM_ERR=0;HL_SECONDS=1"
  PASS_REGULAR_EXPRESSION "FAIL .*reclaim race"
  LABELS stress TIMEOUT 120)
