/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * preseed.h - the object loader HAMMER used before its refcount retooling,
 * rebuilt on libhammerlock's words so the deadlock regression test can
 * show what the retooling fixed.
 *
 * This is a model of the OLD, BROKEN scheme, kept in the test tree only.
 * A get takes a plain reference; if the object's data is not loaded, or
 * another thread is between load/unload steps (the `loading' counter), it
 * takes the object's EXCLUSIVE lockval lock around the load.  A thread
 * that already holds that lock shared therefore waits for itself (or for
 * a queued exclusive waiter that waits for it) when its get decides to
 * load.  Do not build anything on this: use hl_ref_interlock() instead.
 */
#ifndef HT_PRESEED_H
#define HT_PRESEED_H

#include <hammerlock.h>
#include <stdbool.h>
#include <stdint.h>

#define PS_WORDS 8

struct ps_obj {
	struct hl_lock lk;
	atomic_int loading;	 /* threads in a load or unload step */
	atomic_bool loaded;	 /* the old code's `ondisk != NULL' */
	atomic_uint loads;	 /* completed loads (statistics) */
	atomic_uint unloads;	 /* completed unloads (statistics) */
	uint32_t gen;		 /* load generation; under lk exclusive */
	uint64_t data[PS_WORDS]; /* loaded data; written under lk exclusive */
};

void ps_obj_init(struct ps_obj *o);

/*
 * Reference the object and make sure its data is loaded.  wait_ms < 0
 * waits for the exclusive lock as the old code did (hl_lock_ex, possibly
 * forever).  wait_ms >= 0 polls hl_lock_ex_try() for at most that long;
 * on expiry the reference is given back, *seen (if not NULL) receives the
 * lockval word that was in the way, and ETIMEDOUT is returned.  0 on
 * success, with a reference held.
 */
int ps_get(struct ps_obj *o, int wait_ms, uint32_t *seen);

/* Drop a reference; the last one unloads under the exclusive lock. */
void ps_put(struct ps_obj *o);

/*
 * Drop the cached data while references remain, as an I/O completion or
 * error path did (the old `ondisk = NULL'): the next get must reload.
 */
void ps_invalidate(struct ps_obj *o);

/*
 * True if data[] holds what the current generation's load wrote.  Call
 * with the object referenced and its lock held (shared is enough).
 */
bool ps_data_ok(const struct ps_obj *o);

#endif /* HT_PRESEED_H */
