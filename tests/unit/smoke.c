/* SPDX-License-Identifier: BSD-3-Clause */
/* smoke.c - the library links and the zero-initialized lock works. */
#include "harness.h"

int
main(void)
{
	struct hl_lock l = HL_LOCK_INITIALIZER;

	HT_CHECK(hl_ref_interlock(&l), "0->1 must interlock");
	HT_CHECK(atomic_load(&l.refs) == (1 | HL_REFS_LOCKED | HL_REFS_CHECK),
	    "refs %#x", atomic_load(&l.refs));
	hl_ref_interlock_done(&l);
	HT_CHECK(!hl_ref_interlock(&l), "N->N+1 must not interlock");
	HT_CHECK(!hl_rel_interlock(&l, false), "2->1");
	HT_CHECK(hl_rel_interlock(&l, false), "1->0");
	hl_rel_interlock_done(&l, false);
	HT_CHECK(atomic_load(&l.refs) == 0, "refs %#x", atomic_load(&l.refs));
	ht_pass("smoke", 1);
	return 0;
}
