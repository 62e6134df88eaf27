/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * preseed.c - the pre-retooling loader: load and unload under the
 * object's exclusive lockval lock, with a `loading' counter that forces
 * every other getter through the same lock while a load or unload is in
 * progress.  See preseed.h; this exists to deadlock on purpose.
 */
#include "preseed.h"

#include <errno.h>
#include <time.h>

static uint64_t
ps_word(uint32_t gen, int i)
{
	return ((uint64_t)gen << 40) ^
	       (0xc2b2ae3d27d4eb4full * (uint64_t)(i + 1));
}

static double
ps_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * The old code bumped the count with a plain increment.  Our library
 * only allows a plain 0->1 increment to the interlock holder (a debug
 * check), so take the count through hl_ref_interlock() and give any
 * interlock straight back: the old scheme had no interlock, and the load
 * decision below does not look at CHECK.
 */
static void
ps_ref(struct ps_obj *o)
{
	if (hl_ref_interlock(&o->lk))
		hl_ref_interlock_done(&o->lk);
}

/* The exclusive lock, blocking (wait_ms < 0) or polled with a deadline. */
static int
ps_lock_ex(struct ps_obj *o, int wait_ms, uint32_t *seen)
{
	struct timespec nap = {0, 1000000};
	double deadline;

	if (wait_ms < 0) {
		hl_lock_ex_ident(&o->lk, "preseed load");
		return 0;
	}
	deadline = ps_now() + wait_ms / 1000.0;
	while (hl_lock_ex_try(&o->lk) != 0) {
		if (ps_now() >= deadline) {
			if (seen != NULL)
				*seen = atomic_load(&o->lk.lockval);
			return ETIMEDOUT;
		}
		nanosleep(&nap, NULL);
	}
	return 0;
}

void
ps_obj_init(struct ps_obj *o)
{
	hl_lock_init(&o->lk);
	atomic_init(&o->loading, 0);
	atomic_init(&o->loaded, false);
	atomic_init(&o->loads, 0);
	atomic_init(&o->unloads, 0);
	o->gen = 0;
	for (int i = 0; i < PS_WORDS; i++)
		o->data[i] = 0;
}

int
ps_get(struct ps_obj *o, int wait_ms, uint32_t *seen)
{
	int error;

	ps_ref(o);
	if (atomic_load(&o->loaded) && atomic_load(&o->loading) == 0)
		return 0;

	/* Load (or wait out someone else's load) under the exclusive lock. */
	atomic_fetch_add(&o->loading, 1);
	error = ps_lock_ex(o, wait_ms, seen);
	if (error == 0) {
		if (!atomic_load(&o->loaded)) {
			o->gen++;
			for (int i = 0; i < PS_WORDS; i++)
				o->data[i] = ps_word(o->gen, i);
			atomic_store(&o->loaded, true);
			atomic_fetch_add(&o->loads, 1);
		}
		hl_unlock(&o->lk);
	}
	atomic_fetch_sub(&o->loading, 1);
	if (error != 0)
		hl_rel(&o->lk); /* caller keeps whatever it held before */
	return error;
}

void
ps_put(struct ps_obj *o)
{
	/* The old release: on the last reference, unload exclusively. */
	if (hl_oneref(&o->lk)) {
		atomic_fetch_add(&o->loading, 1);
		hl_lock_ex_ident(&o->lk, "preseed unload");
		if (hl_oneref(&o->lk) && atomic_load(&o->loaded)) {
			atomic_store(&o->loaded, false);
			atomic_fetch_add(&o->unloads, 1);
		}
		atomic_fetch_sub(&o->loading, 1);
		hl_unlock(&o->lk);
	}
	hl_rel(&o->lk);
}

void
ps_invalidate(struct ps_obj *o)
{
	atomic_store(&o->loaded, false);
}

bool
ps_data_ok(const struct ps_obj *o)
{
	if (o->gen == 0)
		return false;
	for (int i = 0; i < PS_WORDS; i++)
		if (o->data[i] != ps_word(o->gen, i))
			return false;
	return true;
}
