/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * consumer.c - built against an installed hammerlock, through pkg-config
 * and through find_package(); uses the inline fast paths and the
 * out-of-line API, and checks which symbols the library exports.
 */
#include <hammerlock.h>
#include <stdio.h>

int
main(void)
{
	struct hl_lock l = HL_LOCK_INITIALIZER;
	int ok = 1;

	if (!hl_ref_interlock(&l))
		ok = 0;
	hl_ref_interlock_done(&l);
	hl_ref(&l);
	hl_rel(&l);
	hl_lock_sh(&l);
	if (hl_lock_upgrade(&l, 1) != 0)
		ok = 0;
	hl_unlock(&l);
	if (hl_rel_interlock(&l, false))
		hl_rel_interlock_done(&l, false);
	else
		ok = 0;
	if (atomic_load(&l.refs) != 0 || atomic_load(&l.lockval) != 0)
		ok = 0;
	printf("consumer: %s (hammerlock %s, %s backend)\n",
	    ok ? "ok" : "FAILED", HL_VERSION_STRING, hl_sleep_backend());
	return ok ? 0 : 1;
}
