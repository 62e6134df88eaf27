# Stress of the B+tree against a reference model (stress_btree.c): 16
# oversubscribed threads mix gets, puts, deletes and scans over 20000 keys
# through a 256 KiB pool (buffers are reclaimed all the time) while one
# thread syncs; the end compares tree and model, runs hl_btree_check(),
# unmounts (no leak) and compares again after a remount.  Wall-clock
# bounded (--seconds) in every build, TSan included; a watchdog turns a
# hang into an abort with every sleeper's lock words long before TIMEOUT.
# stress_btree: 512-byte nodes (30 elements: deep trees, many splits).
hl_test(NAME stress_btree SOURCES ${CMAKE_CURRENT_LIST_DIR}/stress_btree.c
  ARGS --node-size 512 --seconds 6 --seed 11 LABELS stress TIMEOUT 300)
# 4 KiB nodes (254 elements in a leaf, 63 in an internal node): wide,
# shallow, four nodes per buffer.
add_test(NAME stress_btree_4k COMMAND stress_btree
  --node-size 4096 --seconds 6 --seed 12)
# Random read and write failures (500 ppm): a failed put or delete must
# leave its key as it was and lose no other key; no hang, no leak.
add_test(NAME stress_btree_faults COMMAND stress_btree
  --node-size 512 --fail-ppm 500 --seconds 5 --seed 13)
set_tests_properties(stress_btree_4k stress_btree_faults PROPERTIES
  LABELS stress TIMEOUT 300)
# A 2 MiB pool: buffers are still reclaimed all the time (the tree is
# larger), but gets rarely if ever meet ENOMEM (everything pinned, by
# references and by the buffers hl_mount_sync() holds until fdatasync).
# This keeps the locking and scan checks mostly apart from the error
# paths of splits, which the 256 KiB cases reach through ENOMEM.
add_test(NAME stress_btree_roomy COMMAND stress_btree
  --node-size 512 --pool-kb 2048 --seconds 5 --seed 15)
set_tests_properties(stress_btree_roomy PROPERTIES
  LABELS stress TIMEOUT 300)
# The watchdog can see a hang: a thread takes the root node exclusive and
# never unlocks; within --hang seconds the run must abort, naming the
# stuck operations and the sleepers with their lock words.
add_test(NAME stress_btree_detects_hang COMMAND stress_btree
  --node-size 512 --seconds 60 --hang 3 --inject-hang 1 --seed 16)
set_tests_properties(stress_btree_detects_hang PROPERTIES
  LABELS stress TIMEOUT 120
  PASS_REGULAR_EXPRESSION
  "WATCHDOG: thread [0-9]+ stuck in [a-z]+.* on lockval of lock .*FAIL: watchdog fired")
# Debug builds (HL_DEBUG=ON) assert the tree's lock order on every node
# lock: the same stress there shows that no thread waits for a node lock
# while holding one at or below its level.  Registered only in such builds
# (CI: the ASan+UBSan debug build), label "debug" too; the roomy pool, so
# that it fails for lock order and nothing else.
if(HL_DEBUG)
  add_test(NAME stress_btree_lockorder COMMAND stress_btree
    --node-size 512 --pool-kb 2048 --seconds 5 --seed 14)
  set_tests_properties(stress_btree_lockorder PROPERTIES
    LABELS "stress;debug" TIMEOUT 300
    PASS_REGULAR_EXPRESSION "lock-order checks on.*stress_btree: 1 passed"
    FAIL_REGULAR_EXPRESSION "FAIL|btree lock order")
  # The B-tree stress with the speculating index probe and home slots
  # (see stress_cache_probe_spec).
  add_test(NAME stress_btree_probe_spec COMMAND stress_btree
    --node-size 512 --seconds 5 --seed 18)
  set_tests_properties(stress_btree_probe_spec PROPERTIES
    LABELS "stress;debug" TIMEOUT 300 ENVIRONMENT "HL_TBL_PROBE=spec;HL_TBL_HOME=on")
  # The B-tree stress with the library's race windows widened
  # (HL_RACE_YIELD=1, src/core/debug.h), a small pool and read faults.
  add_test(NAME stress_btree_race COMMAND stress_btree
    --node-size 512 --pool-kb 512 --fail-ppm 200 --seconds 6 --seed 19)
  set_tests_properties(stress_btree_race PROPERTIES
    LABELS "stress;debug" TIMEOUT 300 ENVIRONMENT "HL_RACE_YIELD=1")
  # The stress sees the lock-free lookups' ordering bug: with the
  # pessimistic writer's change marks left out (HL_BTREE_INJECT=nomark,
  # honoured by debug builds only), a get can pair a parent it validated
  # with a child already split, and answer ENOENT for a key the model has,
  # or a lock-free scan skip a key (doc/design.md section 12).
  add_test(NAME stress_btree_inject_nomark COMMAND stress_btree
    --node-size 512 --pool-kb 2048 --seconds 10 --seed 17)
  set_tests_properties(stress_btree_inject_nomark PROPERTIES
    LABELS "stress;debug" TIMEOUT 300
    ENVIRONMENT "HL_BTREE_INJECT=nomark"
    # Either message (a CMake list: any one matches).
    PASS_REGULAR_EXPRESSION
    "FAIL: get [0-9]+: 2, value 0. the model has it present;FAIL: scan from .* untouched and present during the scan, was skipped")
endif()
# The seed's deadlock class through the B-tree's nodes (btree_deadlock.c):
# a reader holding its root-to-leaf path shared, with exclusive writers
# queued on every node, references the path again while each node must be
# re-validated; it must load through the refs interlock and go on.
hl_test(NAME btree_deadlock SOURCES ${CMAKE_CURRENT_LIST_DIR}/btree_deadlock.c
  LABELS stress TIMEOUT 300)
