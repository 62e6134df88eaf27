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
 * A modified buffer is not dropped, it is written first.  On a mount
 * with writeback_nosync, when the hand finds one that is otherwise a
 * victim (unreferenced, not used since the hand last passed, its nodes
 * idle), the reclaimer writes it, marks it clean and drops it: dirty data
 * leaves the pool in CLOCK order like clean data, instead of piling up
 * until it pins the pool (which made every lookup miss in a workload with
 * 5% updates).  With the default, every write-back ends with an
 * fdatasync, made while the reclaimer holds pool_mtx; writing victims in
 * batches of 1/8 of the pool made those frequent enough to stall the
 * other threads (hammerlock run, mix A: p99 from 74 us to 2-3 ms), so
 * such mounts keep modified buffers until three sweeps free nothing, and
 * then the reserving thread writes back a batch of them whether used
 * lately or not, as a kernel's dirty-page flusher would, and sweeps
 * again.  What the pool drops is on stable storage either way (or, with
 * writeback_nosync, written).
 * A buffer is written while holding its interlock at count 0, which
 * keeps modifiers out (they hold references) without waiting for anyone.
 * If nothing can be freed or written, everything is pinned: the
 * reservation fails with ENOMEM instead of waiting or exceeding the
 * budget.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "cache_internal.h"

/* Buffer memory: a free block (freelist.h), or a new one. */
void *
hl__pool_mem_get(struct hl_mount *m)
{
	void *p = hl__fl_get(&m->mem_free);

	return p != NULL ? p : m->io->ops->alloc(m->io, m->buffer_size);
}

void
hl__pool_mem_put(struct hl_mount *m, void *p)
{
	hl__fl_put(&m->mem_free, p);
}

void
hl__pool_mem_drain(struct hl_mount *m)
{
	void *p;

	while ((p = hl__fl_drain(&m->mem_free)) != NULL)
		m->io->ops->free(m->io, p, m->buffer_size);
}

void
hl__pool_unreserve(struct hl_mount *m)
{
	atomic_fetch_sub_explicit(
	    &m->pool_used, m->buffer_size, memory_order_relaxed);
}

static bool
pool_try_reserve(struct hl_mount *m)
{
	uint64_t used =
	    atomic_load_explicit(&m->pool_used, memory_order_relaxed);

	while (used + m->buffer_size <= m->pool_limit)
		if (atomic_compare_exchange_weak_explicit(&m->pool_used, &used,
			used + m->buffer_size, memory_order_relaxed,
			memory_order_relaxed))
			return true;
	return false;
}

/*
 * A buffer held only by its resident nodes' references (the cache's own)
 * can be freed of them: evict those nodes, without blocking.  False if
 * anyone else holds it, or a node is in use (or, with HL_FLUSH_CLOCK,
 * was used since the pool last looked).
 */
static bool
pool_unpin_nodes(struct hl_mount *m, struct hl_buffer *b, int how)
{
	uint32_t refs =
	    atomic_load_explicit(&b->obj.lock.refs, memory_order_relaxed);
	uint32_t count = refs & HL_REFS_COUNT_MASK;

	if (count == 0)
		return true;
	if (refs != count ||
	    count != atomic_load_explicit(&b->noderefs, memory_order_relaxed))
		return false;
	return hl__flush_buffer_nodes(m, hl__obj_key(&b->obj), how) == 0;
}

/*
 * Release the memory of buffer b, which the caller has interlocked with
 * no references (data, flags and identity are then stable: a lookup may
 * add a reference, never change them).  The interlock ends either way.
 * True if the memory was released; a modified buffer (or one whose
 * write failed) keeps it.
 */
static bool
pool_drop(struct hl_mount *m, struct hl_buffer *b)
{
	uint32_t f = atomic_load_explicit(&b->flags, memory_order_relaxed);

	if ((f & (HL_BUF_MODIFIED | HL_BUF_IOERROR)) ||
	    atomic_load_explicit(&b->data, memory_order_relaxed) == NULL) {
		if (f & (HL_BUF_MODIFIED | HL_BUF_IOERROR))
			hl__stat_add(&HL_ST(m)->reclaim_deferred, 1);
		hl_put_interlock(&b->obj.lock, 0);
		return false;
	}
	hl__buffer_drop_data(b);
	hl__race_window(); /* a lookup may reference it now */
	hl__stat_add(&HL_ST(m)->reclaims, 1);
	hl__flush_buffer_nodes(
	    m, hl__obj_key(&b->obj), HL_FLUSH_TEARDOWN | HL_FLUSH_FAST);
	if (hl__tbl_kill(&m->buffers, &b->obj)) {
		hl__stat_add(&HL_ST(m)->buffer_destroys, 1);
	} else {
		/* A lookup got in: it must read the buffer again. */
		hl_put_interlock(&b->obj.lock, ENODATA);
	}
	return true;
}

static uint32_t pool_write_batch(
    struct hl_mount *m, struct hl_buffer **c, uint32_t nc, bool drop);

/*
 * Try to reclaim buffer b; the caller is the reclaimer.  True if its
 * memory was released.  On a writeback_nosync mount a modified buffer
 * that is otherwise a victim (not used since the hand last passed, its
 * nodes idle and evicted) is written back and then dropped: dirty data
 * leaves the pool in CLOCK order too, instead of piling up until it pins
 * the whole pool.
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
	/* Dirty victims only where write-back costs no fdatasync (below). */
	if ((f & HL_BUF_IOERROR) || ((f & HL_BUF_MODIFIED) && !m->wb_nosync) ||
	    !pool_unpin_nodes(m, b, HL_FLUSH_CLOCK | HL_FLUSH_FAST)) {
		hl__stat_add(&HL_ST(m)->reclaim_deferred, 1);
		return false;
	}
	if (f & HL_BUF_MODIFIED) {
		/* A dirty victim: written, then dropped; deferred only if
		 * that could not be done (a reference came in, a failure). */
		if (pool_write_batch(m, &b, 1, true) != 0)
			return true;
		hl__stat_add(&HL_ST(m)->reclaim_deferred, 1);
		return false;
	}
	if (!hl_try_interlock_norefs(&b->obj.lock)) {
		hl__stat_add(&HL_ST(m)->reclaim_deferred, 1);
		return false;
	}
	return pool_drop(m, b);
}

/* A failed write-back: the buffer stays modified, pinned by its error
 * until a sync succeeds (0->1 is ours to take under the interlock). */
static void
pool_wb_failed(struct hl_buffer *b)
{
	if ((atomic_fetch_or_explicit(
		 &b->flags, HL_BUF_IOERROR, memory_order_relaxed) &
		HL_BUF_IOERROR) == 0)
		hl_ref(&b->obj.lock);
}

/*
 * Write back the modified, unreferenced buffers among the nc candidates
 * in c[], then fdatasync their volumes (unless the mount has
 * writeback_nosync), and only then mark them clean: a buffer the pool
 * may reclaim next is on stable storage, so a later failure cannot lose
 * it.  Each buffer is held by its interlock at count 0 from before its
 * write until it is marked (lookups wait; modifiers need a reference);
 * then it is dropped if drop is set (a dirty victim), else released.
 * Returns how many were cleaned.  pool_mtx held.
 */
static uint32_t
pool_write_batch(
    struct hl_mount *m, struct hl_buffer **c, uint32_t nc, bool drop)
{
	uint32_t nb = 0, done = 0, i;
	bool synced[HL_MAX_VOLUMES], tried[HL_MAX_VOLUMES];

	for (i = 0; i < nc; i++) {
		struct hl_buffer *b = c[i];
		uint32_t f;

		if (!pool_unpin_nodes(m, b, HL_FLUSH_FAST) ||
		    !hl_try_interlock_norefs(&b->obj.lock))
			continue;
		hl__race_window(); /* lookups wait, modifiers are out */
		f = atomic_load_explicit(&b->flags, memory_order_relaxed);
		if ((f & (HL_BUF_MODIFIED | HL_BUF_IOERROR)) !=
			HL_BUF_MODIFIED ||
		    atomic_load_explicit(&b->data, memory_order_relaxed) ==
			NULL) {
			hl_put_interlock(&b->obj.lock, 0);
			continue;
		}
		if (hl__buffer_write(m, b, NULL, 0) != 0) {
			pool_wb_failed(b);
			hl_put_interlock(&b->obj.lock, 0);
			continue;
		}
		c[nb++] = b;
	}
	memset(tried, 0, sizeof(tried));
	for (i = 0; i < nb; i++) {
		struct hl_volume *v = c[i]->vol;
		int e;

		if (tried[v->vol_no])
			continue;
		if (m->wb_nosync) {
			/* Written is enough: the next sync covers them. */
			tried[v->vol_no] = synced[v->vol_no] = true;
			atomic_store_explicit(
			    &v->dropped, true, memory_order_relaxed);
			continue;
		}
		tried[v->vol_no] = true;
		hl__stat_add(&HL_ST(m)->syncs, 1);
		e = m->io->ops->sync(m->io, v->fd);
		synced[v->vol_no] = e == 0;
		if (e != 0) {
			hl__stat_add(&HL_ST(m)->write_errors, 1);
			fprintf(stderr,
			    "hammerlock: %s: fdatasync after write-back "
			    "failed: %s\n",
			    v->path, strerror(e));
		}
	}
	for (i = 0; i < nb; i++) {
		struct hl_buffer *b = c[i];

		if (synced[b->vol->vol_no]) {
			atomic_fetch_and_explicit(
			    &b->flags, ~HL_BUF_MODIFIED, memory_order_relaxed);
			hl__stat_add(&HL_ST(m)->writebacks, 1);
			done++;
		} else {
			pool_wb_failed(b);
		}
		if (drop)
			pool_drop(m, b);
		else
			hl_put_interlock(&b->obj.lock, 0);
	}
	return done;
}

/*
 * Everything is pinned: write back up to a batch of modified buffers
 * from the hand on, whether or not they were used lately.  pool_mtx
 * held.
 */
static uint32_t
pool_writeback(struct hl_mount *m)
{
	struct hl_buffer *batch[HL_POOL_WB_BATCH];
	uint32_t n = hl__tbl_nobjs(&m->buffers), nb = 0, i;

	if (m->readonly)
		return 0;
	for (i = 0; i < n && nb < HL_POOL_WB_BATCH; i++) {
		struct hl_buffer *b = hl__obj_buffer(
		    hl__tbl_obj(&m->buffers, (m->pool_hand + i) % n));

		if ((atomic_load_explicit(&b->flags, memory_order_relaxed) &
			(HL_BUF_MODIFIED | HL_BUF_IOERROR)) == HL_BUF_MODIFIED)
			batch[nb++] = b;
	}
	return pool_write_batch(m, batch, nb, false);
}

/*
 * A reclaimer frees a little more than it needs (the slack: 1/32 of the
 * budget in whole buffers; none in pools under 32 buffers), so that the
 * threads behind it find room without taking pool_mtx; and a thread that
 * finds a reclaimer at work polls for room, yielding the CPU, instead of
 * sleeping on the mutex: a futex wakeup across vCPUs costs more than a
 * reclaim.
 */
static bool
pool_has_slack(struct hl_mount *m)
{
	uint64_t slack = m->pool_limit / 32 / m->buffer_size * m->buffer_size;

	return atomic_load_explicit(&m->pool_used, memory_order_relaxed) +
		   slack <=
	       m->pool_limit;
}

int
hl__pool_reserve(struct hl_mount *m)
{
	uint32_t n, steps, idle = 0;
	bool got = false, freed;

	if (pool_try_reserve(m))
		return 0;
	while (pthread_mutex_trylock(&m->pool_mtx) != 0) {
		if (pool_try_reserve(m))
			return 0;
		sched_yield();
	}
	for (;;) {
		/* Another reclaimer may have made room meanwhile. */
		if (!got && pool_try_reserve(m))
			got = true;
		if (got && pool_has_slack(m))
			break;
		n = hl__tbl_nobjs(&m->buffers);
		if (got && idle >= n)
			break; /* ours is reserved; the slack was a bonus */
		/* Sweeps: the buffers' second chance, their resident
		 * nodes' second chance, then the victims. */
		if (n != 0 && idle >= 3 * n && pool_writeback(m) != 0)
			idle = 2 * n; /* written: one more sweep frees them */
		if (n == 0 || idle >= 3 * n) {
			pthread_mutex_unlock(&m->pool_mtx);
			hl__stat_add(&HL_ST(m)->reclaim_failures, 1);
			return ENOMEM;
		}
		/* Sweep until one buffer is released. */
		freed = false;
		for (steps = 0; steps < n && !freed; steps++) {
			struct hl_obj *o;

			if (m->pool_hand >= n)
				m->pool_hand = 0;
			o = hl__tbl_obj(&m->buffers, m->pool_hand++);
			freed = pool_reclaim_one(m, hl__obj_buffer(o));
		}
		idle = freed ? 0 : idle + steps;
	}
	pthread_mutex_unlock(&m->pool_mtx);
	return 0;
}
