# Regression test for the deadlock the refcount retooling fixed: a thread
# holding an object shared re-references it and becomes its loader.  Also
# runs the same scenario against the pre-seed loader (preseed.c), which
# must deadlock (detected with a deadline, then broken).
hl_test(NAME deadlock_regress SOURCES deadlock_regress.c preseed.c
  LABELS stress TIMEOUT 120)
