/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * diag.c - the fatal handler, process-wide counters and lock dumps.
 */
#include <sched.h>
#include <stdlib.h>

#include "internal.h"

struct hl_counters hl__counters;

static void
default_fatal(const char *func, const struct hl_lock *l, uint32_t refs,
    uint32_t lockval, const char *msg)
{
	char buf[512];

	hl_fatal_format(buf, sizeof(buf), func, l, refs, lockval, msg);
	fprintf(stderr, "%s\n", buf);
	fflush(stderr);
	abort();
}

static _Atomic(hl_fatal_fn) fatal_fn = default_fatal;

void
hl__race_window_slow(void)
{
	static _Atomic int on = -1; /* not read from the environment yet */
	static _Thread_local uint32_t rng;
	const char *e;
	int v;

	if ((v = atomic_load_explicit(&on, memory_order_relaxed)) < 0) {
		e = getenv("HL_RACE_YIELD");
		v = e != NULL && e[0] == '1';
		atomic_store_explicit(&on, v, memory_order_relaxed);
	}
	if (!v)
		return;
	/* One window in four: the rest of the run keeps its pace. */
	if (rng == 0)
		rng = (uint32_t)hl__self_id() | 1;
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	if ((rng & 3) == 0)
		sched_yield();
}

hl_fatal_fn
hl_set_fatal_handler(hl_fatal_fn fn)
{
	return atomic_exchange(&fatal_fn, fn ? fn : default_fatal);
}

int
hl_fatal_format(char *buf, size_t len, const char *func,
    const struct hl_lock *l, uint32_t refs, uint32_t lockval, const char *msg)
{
	return snprintf(buf, len,
	    "hammerlock: fatal: %s: %s (lock %p refs=0x%08x lockval=0x%08x)",
	    func, msg, (const void *)l, refs, lockval);
}

void
hl__fatal(const char *func, const struct hl_lock *l, const char *msg)
{
	uint32_t refs = atomic_load((_Atomic uint32_t *)&l->refs);
	uint32_t lockval = atomic_load((_Atomic uint32_t *)&l->lockval);

	atomic_load (&fatal_fn)(func, l, refs, lockval, msg);
	abort(); /* a handler must not return */
}

void
hl_lock_stats_get(struct hl_lock_stats *st)
{
	st->refs_sleeps = atomic_load(&hl__counters.refs_sleeps);
	st->refs_wakeups = atomic_load(&hl__counters.refs_wakeups);
	st->lock_sleeps = atomic_load(&hl__counters.lock_sleeps);
	st->lock_wakeups = atomic_load(&hl__counters.lock_wakeups);
	st->lock_contended = atomic_load(&hl__counters.lock_contended);
}

void
hl_lock_dump(FILE *fp, const char *name, const struct hl_lock *l)
{
	uint32_t r = atomic_load((_Atomic uint32_t *)&l->refs);
	uint32_t v = atomic_load((_Atomic uint32_t *)&l->lockval);

	fprintf(fp,
	    "hammerlock: %s lock %p: refs=0x%08x (count %u%s%s%s) "
	    "lockval=0x%08x (count %u%s%s) rowner=%#lx lowner=%#lx\n",
	    name ? name : "", (const void *)l, r, r & HL_REFS_COUNT_MASK,
	    r & HL_REFS_LOCKED ? " LOCKED" : "",
	    r & HL_REFS_WANTED ? " WANTED" : "",
	    r & HL_REFS_CHECK ? " CHECK" : "", v, v & HL_LOCKF_COUNT_MASK,
	    v & HL_LOCKF_EXCLUSIVE ? " EXCLUSIVE" : "",
	    v & HL_LOCKF_WANTED ? " WANTED" : "",
	    (unsigned long)atomic_load((_Atomic uintptr_t *)&l->rowner),
	    (unsigned long)atomic_load((_Atomic uintptr_t *)&l->lowner));
}

bool
hl_debug_enabled(void)
{
	return hl_debug;
}
