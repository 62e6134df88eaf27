/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool.c - the buffer pool: a memory budget and a CLOCK reclaimer.
 *
 * Memory is reserved before a buffer's data is allocated.  When the
 * budget is spent, the reserving thread becomes the reclaimer (one at a
 * time, under pool_mtx) and sweeps the buffer table with a CLOCK hand:
 * a buffer referenced since the hand last passed gets a second chance;
 * otherwise it is taken only through hl_try_interlock_norefs(), which
 * never waits, so a referenced or interlocked buffer is skipped, and a
 * modified one (or one whose write failed) is skipped too after its
 * interlock is put back.  Skips are counted as deferred reclaims: those
 * buffers come back into play when released or written.  The reclaimer
 * never sleeps on an object: it may itself be a loader holding other
 * interlocks (NOTES.md item 8).
 *
 * If two sweeps free nothing, everything is pinned: the reservation
 * fails with ENOMEM instead of waiting or exceeding the budget.
 */
#include <errno.h>

#include "cache_internal.h"

void
hl__pool_unreserve(struct hl_mount *m)
{
	atomic_fetch_sub_explicit(
	    &m->pool_used, m->buffer_size, memory_order_relaxed);
}

static bool
pool_try_reserve(struct hl_mount *m)
{
	uint64_t used = atomic_load_explicit(&m->pool_used, memory_order_relaxed);

	while (used + m->buffer_size <= m->pool_limit)
		if (atomic_compare_exchange_weak_explicit(&m->pool_used, &used,
			used + m->buffer_size, memory_order_relaxed,
			memory_order_relaxed))
			return true;
	return false;
}

/*
 * Try to reclaim buffer b; the caller is the reclaimer.  True if its
 * memory was released.
 */
static bool
pool_reclaim_one(struct hl_mount *m, struct hl_buffer *b)
{
	uint32_t f;

	if (atomic_load_explicit(&b->data, memory_order_relaxed) == NULL)
		return false;
	f = atomic_load_explicit(&b->flags, memory_order_relaxed);
	if (f & HL_BUF_CLOCK) {
		atomic_fetch_and_explicit(
		    &b->flags, ~HL_BUF_CLOCK, memory_order_relaxed);
		return false;
	}
	if (!hl_try_interlock_norefs(&b->obj.lock)) {
		hl__stat_add(&m->st.reclaim_deferred, 1);
		return false;
	}
	/* Interlocked with no references: data, flags and identity are
	 * stable (a lookup may add a reference, never change them). */
	f = atomic_load_explicit(&b->flags, memory_order_relaxed);
	if ((f & (HL_BUF_MODIFIED | HL_BUF_IOERROR)) ||
	    atomic_load_explicit(&b->data, memory_order_relaxed) == NULL) {
		if (f & (HL_BUF_MODIFIED | HL_BUF_IOERROR))
			hl__stat_add(&m->st.reclaim_deferred, 1);
		hl_put_interlock(&b->obj.lock, 0);
		return false;
	}
	hl__buffer_drop_data(b);
	hl__stat_add(&m->st.reclaims, 1);
	hl__flush_buffer_nodes(m, hl__obj_key(&b->obj));
	if (hl__tbl_kill(&m->buffers, &b->obj)) {
		hl__stat_add(&m->st.buffer_destroys, 1);
	} else {
		/* A lookup got in: it must read the buffer again. */
		hl_put_interlock(&b->obj.lock, ENODATA);
	}
	return true;
}

int
hl__pool_reserve(struct hl_mount *m)
{
	uint32_t n, steps, idle = 0;

	if (pool_try_reserve(m))
		return 0;
	pthread_mutex_lock(&m->pool_mtx);
	for (;;) {
		/* Another reclaimer may have made room meanwhile. */
		if (pool_try_reserve(m))
			break;
		n = hl__tbl_nobjs(&m->buffers);
		if (n == 0 || idle >= 2 * n) {
			pthread_mutex_unlock(&m->pool_mtx);
			hl__stat_add(&m->st.reclaim_failures, 1);
			return ENOMEM;
		}
		/* Sweep until one buffer is released. */
		for (steps = 0; steps < n; steps++) {
			struct hl_obj *o;

			if (m->pool_hand >= n)
				m->pool_hand = 0;
			o = hl__tbl_obj(&m->buffers, m->pool_hand++);
			if (pool_reclaim_one(m, hl__obj_buffer(o)))
				break;
		}
		idle = steps == n ? idle + n : 0;
	}
	pthread_mutex_unlock(&m->pool_mtx);
	return 0;
}
