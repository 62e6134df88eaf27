/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lock.c - the shared/exclusive lock in the lockval word.
 *
 * lowner is stored after the compare-and-swap that makes the caller the
 * exclusive owner and cleared before the one that ends its ownership, so
 * the only thread that can find its own identity there is the owner.
 */
#include <errno.h>

#include "internal.h"

#define L_COUNT(lv) ((lv)&HL_LOCKF_COUNT_MASK)

static inline uint32_t
lv_load(struct hl_lock *l)
{
	return atomic_load_explicit(&l->lockval, memory_order_relaxed);
}

static inline bool
lv_cas(struct hl_lock *l, uint32_t *lv, uint32_t nlv, memory_order mo)
{
	return atomic_compare_exchange_weak_explicit(
	    &l->lockval, lv, nlv, mo, memory_order_relaxed);
}

static inline uintptr_t
lowner(struct hl_lock *l)
{
	return atomic_load_explicit(&l->lowner, memory_order_relaxed);
}

static inline void
lowner_set(struct hl_lock *l, uintptr_t td)
{
	atomic_store_explicit(&l->lowner, td, memory_order_relaxed);
}

/* A lock may only be taken by a thread that holds a reference. */
static inline void
need_ref(struct hl_lock *l, const char *func)
{
	uint32_t refs = atomic_load_explicit(&l->refs, memory_order_relaxed);

	if (HL_UNLIKELY(refs == 0))
		hl__fatal(func, l, "lock taken without a reference");
	if (HL_UNLIKELY(refs & HL_REFS_DEAD))
		hl__fatal(func, l, "lock taken on a DEAD object");
}

static inline uint32_t
one_more(struct hl_lock *l, uint32_t lv, const char *func)
{
	if (HL_UNLIKELY(L_COUNT(lv) == HL_LOCKF_COUNT_MASK))
		hl__fatal(func, l, "lock count overflow");
	return lv + 1;
}

/* Publish WANTED on the word seen as lv, then sleep while it stays so. */
static void
lock_wait(struct hl_lock *l, uint32_t lv, const char *ident)
{
	if ((lv & HL_LOCKF_WANTED) == 0) {
		uint32_t nlv = lv | HL_LOCKF_WANTED;

		if (!atomic_compare_exchange_strong_explicit(&l->lockval, &lv,
			nlv, memory_order_relaxed, memory_order_relaxed))
			return;
		lv = nlv;
	}
	hl__sleep(l, HL_WORD_LOCKVAL, lv, ident);
}

/*
 * One attempt at an exclusive lock.  Returns 0 when taken, or EAGAIN with
 * *seen set to the word that stood in the way.
 */
static int
try_ex(struct hl_lock *l, uintptr_t self, const char *func, uint32_t *seen)
{
	uint32_t lv = lv_load(l);

	for (;;) {
		if (lv == 0) {
			if (lv_cas(l, &lv, 1 | HL_LOCKF_EXCLUSIVE,
				memory_order_acquire)) {
				lowner_set(l, self);
				return 0;
			}
		} else if ((lv & HL_LOCKF_EXCLUSIVE) && lowner(l) == self) {
			if (lv_cas(l, &lv, one_more(l, lv, func),
				memory_order_relaxed))
				return 0;
		} else {
			*seen = lv;
			return EAGAIN;
		}
	}
}

/*
 * One attempt at a shared lock: granted whenever EXCLUSIVE is clear; the
 * exclusive owner gets one more exclusive hold.
 */
static int
try_sh(struct hl_lock *l, uintptr_t self, const char *func, uint32_t *seen)
{
	uint32_t lv = lv_load(l);

	for (;;) {
		if ((lv & HL_LOCKF_EXCLUSIVE) == 0 || lowner(l) == self) {
			if (lv_cas(l, &lv, one_more(l, lv, func),
				memory_order_acquire))
				return 0;
		} else {
			*seen = lv;
			return EAGAIN;
		}
	}
}

typedef int (*try_fn)(struct hl_lock *, uintptr_t, const char *, uint32_t *);

static void
lock_slow(struct hl_lock *l, try_fn try, const char *func, const char *ident)
{
	uintptr_t self = hl__self();
	uint32_t seen;

	need_ref(l, func);
	if (try(l, self, func, &seen) == 0)
		return;
	hl__count(&hl__counters.lock_contended);
	do
		lock_wait(l, seen, ident);
	while (try(l, self, func, &seen) != 0);
}

void
hl_lock_ex_ident(struct hl_lock *l, const char *ident)
{
	lock_slow(l, try_ex, "hl_lock_ex", ident);
}

void
hl_lock_ex(struct hl_lock *l)
{
	lock_slow(l, try_ex, "hl_lock_ex", "hl_lock_ex");
}

int
hl_lock_ex_try(struct hl_lock *l)
{
	uint32_t seen;

	need_ref(l, "hl_lock_ex_try");
	return try_ex(l, hl__self(), "hl_lock_ex_try", &seen);
}

void
hl_lock_sh_ident(struct hl_lock *l, const char *ident)
{
	lock_slow(l, try_sh, "hl_lock_sh", ident);
}

void
hl_lock_sh(struct hl_lock *l)
{
	lock_slow(l, try_sh, "hl_lock_sh", "hl_lock_sh");
}

int
hl_lock_sh_try(struct hl_lock *l)
{
	uint32_t seen;

	need_ref(l, "hl_lock_sh_try");
	return try_sh(l, hl__self(), "hl_lock_sh_try", &seen);
}

int
hl_lock_upgrade(struct hl_lock *l, int shcount)
{
	uint32_t lv = lv_load(l);

	if (HL_UNLIKELY(shcount < 1))
		hl__fatal("hl_lock_upgrade", l, "shcount must be >= 1");
	for (;;) {
		if ((lv & ~HL_LOCKF_WANTED) == (uint32_t)shcount) {
			if (lv_cas(l, &lv, lv | HL_LOCKF_EXCLUSIVE,
				memory_order_acquire)) {
				lowner_set(l, hl__self());
				return 0;
			}
		} else if (lv & HL_LOCKF_EXCLUSIVE) {
			if (lowner(l) != hl__self())
				hl__fatal("hl_lock_upgrade", l,
				    "upgrade of a lock held exclusively by "
				    "another thread");
			return 0;
		} else if (L_COUNT(lv) == 0) {
			hl__fatal("hl_lock_upgrade", l, "lock is not held");
		} else {
			return EDEADLK;
		}
	}
}

void
hl_lock_downgrade(struct hl_lock *l, int shcount)
{
	uint32_t lv = lv_load(l);

	if (HL_UNLIKELY(
		shcount < 1 || (lv & ~HL_LOCKF_WANTED) !=
				   (HL_LOCKF_EXCLUSIVE | (uint32_t)shcount)))
		hl__fatal("hl_lock_downgrade", l,
		    "lock not held exclusively with the given depth");
	if (HL_UNLIKELY(lowner(l) != hl__self()))
		hl__fatal("hl_lock_downgrade", l,
		    "lock held exclusively by another thread");
	lowner_set(l, 0);
	while (!lv_cas(l, &lv, lv & ~(HL_LOCKF_EXCLUSIVE | HL_LOCKF_WANTED),
	    memory_order_release))
		;
	if (lv & HL_LOCKF_WANTED)
		hl__wake(l, HL_WORD_LOCKVAL);
}

void
hl_unlock(struct hl_lock *l)
{
	uint32_t lv = lv_load(l);

	if (HL_UNLIKELY(L_COUNT(lv) == 0))
		hl__fatal("hl_unlock", l, "lock is not held");
	if ((lv & HL_LOCKF_EXCLUSIVE) && HL_UNLIKELY(lowner(l) != hl__self()))
		hl__fatal(
		    "hl_unlock", l, "lock held exclusively by another thread");
	for (;;) {
		if (L_COUNT(lv) > 1) {
			if (lv_cas(l, &lv, lv - 1, memory_order_release))
				return;
		} else if (L_COUNT(lv) == 1) {
			if (lv & HL_LOCKF_EXCLUSIVE)
				lowner_set(l, 0);
			if (lv_cas(l, &lv, 0, memory_order_release)) {
				if (lv & HL_LOCKF_WANTED)
					hl__wake(l, HL_WORD_LOCKVAL);
				return;
			}
		} else {
			hl__fatal("hl_unlock", l, "lock is not held");
		}
	}
}

int
hl_lock_status(struct hl_lock *l)
{
	uint32_t lv = lv_load(l);

	if (lv & HL_LOCKF_EXCLUSIVE)
		return 1;
	if (L_COUNT(lv) != 0)
		return -1;
	hl__fatal("hl_lock_status", l, "lock is not held");
}

bool
hl_lock_excl_owned(struct hl_lock *l)
{
	return (lv_load(l) & HL_LOCKF_EXCLUSIVE) && lowner(l) == hl__self();
}
