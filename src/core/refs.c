/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * refs.c - slow paths of the integrated reference count and interlock.
 *
 * Every transition is one compare-and-swap on the refs word; the loops
 * only retry a compare-and-swap that lost a race.  Sleeping follows one
 * pattern: publish WANTED with a compare-and-swap, then sleep only while
 * the word still holds the value just published (hl__sleep checks that
 * atomically against the wakers), so a wakeup that races the sleep is
 * never lost.  Whoever clears LOCKED while WANTED is set wakes every
 * sleeper on the word; nobody else makes a system call.
 */
#include "internal.h"

#define R_COUNT(lv) ((lv)&HL_REFS_COUNT_MASK)

static inline uint32_t
refs_load(struct hl_lock *l, memory_order mo)
{
	return atomic_load_explicit(&l->refs, mo);
}

static inline bool
refs_cas(struct hl_lock *l, uint32_t *lv, uint32_t nlv, memory_order mo)
{
	return atomic_compare_exchange_weak_explicit(
	    &l->refs, lv, nlv, mo, memory_order_relaxed);
}

static inline void
rowner_set(struct hl_lock *l)
{
	hl__rowner_set(l, hl__self());
}

/*
 * Check that the caller of `func' holds the interlock, then clear the
 * interlock owner (before the compare-and-swap that releases LOCKED).
 */
static uint32_t
interlock_release_check(struct hl_lock *l, const char *func)
{
	uint32_t lv = refs_load(l, memory_order_relaxed);

	if (HL_UNLIKELY((lv & HL_REFS_LOCKED) == 0))
		hl__fatal(func, l, "interlock not held");
	if (hl_debug && atomic_load_explicit(
			    &l->rowner, memory_order_relaxed) != hl__self())
		hl__fatal(func, l, "interlock held by another thread");
	atomic_store_explicit(&l->rowner, 0, memory_order_relaxed);
	return lv;
}

/*
 * LOCKED is set in lv and the caller is about to wait for it: refuse to
 * wait for ourselves.
 */
static void
interlock_wait(
    struct hl_lock *l, uint32_t lv, const char *func, const char *ident)
{
	if (HL_UNLIKELY(atomic_load_explicit(
			    &l->rowner, memory_order_relaxed) == hl__self()))
		hl__fatal(func, l, "thread waits for an interlock it holds");
	if ((lv & HL_REFS_WANTED) == 0) {
		uint32_t nlv = lv | HL_REFS_WANTED;

		if (!atomic_compare_exchange_strong_explicit(&l->refs, &lv, nlv,
			memory_order_relaxed, memory_order_relaxed))
			return; /* word changed: caller re-reads */
		lv = nlv;
	}
	hl__sleep(l, HL_WORD_REFS, lv, ident);
}

/* Any reference or interlock taken on a destroyed object is misuse. */
static inline void
refs_not_dead(struct hl_lock *l, uint32_t lv, const char *func)
{
	if (HL_UNLIKELY(lv & HL_REFS_DEAD))
		hl__fatal(
		    func, l, "object is DEAD (destroyed, maybe recycled)");
}

/* Wake sleepers if the word we replaced had WANTED set. */
static inline void
refs_wake(struct hl_lock *l, uint32_t old)
{
	if (old & HL_REFS_WANTED)
		hl__wake(l, HL_WORD_REFS);
}

void
hl__ref_slow(struct hl_lock *l)
{
	uint32_t lv = refs_load(l, memory_order_relaxed);
	uint32_t nlv;

	do {
		refs_not_dead(l, lv, "hl_ref");
		if (HL_UNLIKELY(R_COUNT(lv) == HL_REFS_COUNT_MASK))
			hl__fatal("hl_ref", l, "reference count overflow");
		nlv = lv + 1;
		if (R_COUNT(lv) == 0) {
			/*
			 * 0->1 with a plain ref: only the interlock holder
			 * may do this; anyone else could be racing an
			 * unload.
			 */
			if (hl_debug &&
			    ((lv & HL_REFS_LOCKED) == 0 ||
				atomic_load_explicit(&l->rowner,
				    memory_order_relaxed) != hl__self()))
				hl__fatal("hl_ref", l,
				    "0->1 reference without the interlock");
			nlv |= HL_REFS_CHECK;
		}
	} while (!refs_cas(l, &lv, nlv, memory_order_acquire));
}

void
hl__rel_fixup(struct hl_lock *l, uint32_t old)
{
	uint32_t lv;

	if (HL_UNLIKELY(R_COUNT(old) == 0)) {
		/* Undo the borrow before anyone acts on it, then report. */
		atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
		hl__fatal("hl_rel", l, "release with no reference");
	}
	if ((old & HL_REFS_CHECK) == 0)
		return;
	/*
	 * 1->0 with CHECK set: clear CHECK unless the count has meanwhile
	 * gone back up (a new 0->1 sets CHECK itself and owns it).
	 */
	lv = refs_load(l, memory_order_relaxed);
	while (R_COUNT(lv) == 0 && (lv & HL_REFS_CHECK) &&
	       !refs_cas(l, &lv, lv & ~HL_REFS_CHECK, memory_order_relaxed))
		;
}

/*
 * Plain count-1 with a compare-and-swap, for the failure/unload path of
 * hl_rel_interlock(l, true): acquire and release, since the caller holds
 * the interlock and goes on to unload.
 */
static void
hl__rel_slow(struct hl_lock *l)
{
	uint32_t lv = refs_load(l, memory_order_relaxed);
	uint32_t nlv;

	do {
		if (HL_UNLIKELY(R_COUNT(lv) == 0))
			hl__fatal("hl_rel", l, "release with no reference");
		nlv = lv - 1;
		if (R_COUNT(lv) == 1)
			nlv &= ~HL_REFS_CHECK;
	} while (!refs_cas(l, &lv, nlv, memory_order_acq_rel));
}

static bool check_interlock_wait(struct hl_lock *l, const char *func);

bool
hl__ref_interlock_slow(struct hl_lock *l)
{
	uint32_t lv = refs_load(l, memory_order_relaxed);
	uint32_t nlv;

	/*
	 * Take the reference.  Four outcomes:
	 *  (a) 0 -> 1|LOCKED|CHECK: we load; true.
	 *  (b) N -> N+1 with CHECK clear: loaded; false.
	 *  (c) CHECK set (or 0->1) and LOCKED held elsewhere: keep the
	 *      reference, wait below.
	 *  (d) CHECK set and LOCKED free: take it; true.
	 */
	for (;;) {
		refs_not_dead(l, lv, "hl_ref_interlock");
		if (HL_UNLIKELY(R_COUNT(lv) == HL_REFS_COUNT_MASK))
			hl__fatal(
			    "hl_ref_interlock", l, "reference count overflow");
		if (lv == 0) {
			nlv = 1 | HL_REFS_LOCKED | HL_REFS_CHECK;
			if (refs_cas(l, &lv, nlv, memory_order_acquire)) {
				rowner_set(l);
				return true;
			}
			continue;
		}
		nlv = lv + 1;
		if (R_COUNT(lv) == 0)
			nlv |= HL_REFS_CHECK;
		if ((nlv & HL_REFS_CHECK) == 0) {
			if (refs_cas(l, &lv, nlv, memory_order_acquire))
				return false;
		} else if (lv & HL_REFS_LOCKED) {
			if (refs_cas(l, &lv, nlv, memory_order_acquire))
				break;
		} else {
			nlv |= HL_REFS_LOCKED;
			if (refs_cas(l, &lv, nlv, memory_order_acquire)) {
				rowner_set(l);
				return true;
			}
		}
	}

	return check_interlock_wait(l, "hl_ref_interlock");
}

bool
hl__check_interlock_slow(struct hl_lock *l)
{
	return check_interlock_wait(l, "hl_check_interlock");
}

/*
 * Deferred check: the caller holds a reference and CHECK was set.  Wait
 * until either the interlock holder cleared CHECK (it loaded the object:
 * false) or the interlock is free with CHECK still set (its load failed
 * or the object was invalidated: we take over; true).
 */
static bool
check_interlock_wait(struct hl_lock *l, const char *func)
{
	uint32_t lv;

	for (;;) {
		lv = refs_load(l, memory_order_acquire);
		if (HL_UNLIKELY(R_COUNT(lv) == 0 || (lv & HL_REFS_DEAD)))
			hl__fatal(func, l, "caller holds no reference");
		if ((lv & HL_REFS_CHECK) == 0)
			return false;
		if (lv & HL_REFS_LOCKED) {
			interlock_wait(l, lv, func, "hl_ref_il");
			continue;
		}
		if (refs_cas(
			l, &lv, lv | HL_REFS_LOCKED, memory_order_acquire)) {
			rowner_set(l);
			return true;
		}
	}
}

bool
hl__ref_live_slow(struct hl_lock *l)
{
	uint32_t lv = refs_load(l, memory_order_relaxed);
	uint32_t nlv;

	do {
		if (lv & HL_REFS_DEAD) {
			/*
			 * Acquire the death: a caller that goes on to make
			 * the object's successor (a new object for the same
			 * key) must come after the destroyer, and so after
			 * everything the object's users did under it, or
			 * they and the successor's users are unordered
			 * (ThreadSanitizer saw that in the cache stress).
			 */
			(void)refs_load(l, memory_order_acquire);
			return false;
		}
		if (HL_UNLIKELY(R_COUNT(lv) == HL_REFS_COUNT_MASK))
			hl__fatal("hl_ref_live", l, "reference count overflow");
		nlv = lv + 1;
		if (R_COUNT(lv) == 0)
			nlv |= HL_REFS_CHECK;
	} while (!refs_cas(l, &lv, nlv, memory_order_acquire));
	return true;
}

bool
hl_kill_interlock(struct hl_lock *l)
{
	uint32_t lv = refs_load(l, memory_order_relaxed);

	if (HL_UNLIKELY((lv & HL_REFS_LOCKED) == 0))
		hl__fatal("hl_kill_interlock", l, "interlock not held");
	if (hl_debug && atomic_load_explicit(
			    &l->rowner, memory_order_relaxed) != hl__self())
		hl__fatal(
		    "hl_kill_interlock", l, "interlock held by another thread");
	atomic_store_explicit(&l->rowner, 0, memory_order_relaxed);
	/* Count 0 and nobody asleep on the word; CHECK means nothing at 0. */
	while (R_COUNT(lv) == 0 && (lv & HL_REFS_WANTED) == 0) {
		if (refs_cas(l, &lv, HL_REFS_DEAD, memory_order_acq_rel))
			return true;
	}
	rowner_set(l);
	return false;
}

void
hl_revive_interlock(struct hl_lock *l)
{
	uint32_t lv = HL_REFS_DEAD;

	if (!atomic_compare_exchange_strong_explicit(&l->refs, &lv,
		1 | HL_REFS_LOCKED | HL_REFS_CHECK, memory_order_acq_rel,
		memory_order_relaxed))
		hl__fatal("hl_revive_interlock", l, "refs word is not DEAD");
	rowner_set(l);
}

bool
hl_ref_interlock_true(struct hl_lock *l)
{
	uint32_t lv = 0;

	if (!atomic_compare_exchange_strong_explicit(&l->refs, &lv,
		1 | HL_REFS_LOCKED | HL_REFS_CHECK, memory_order_acquire,
		memory_order_relaxed))
		hl__fatal("hl_ref_interlock_true", l,
		    "refs word is not 0 (object already referenced or "
		    "interlocked)");
	rowner_set(l);
	return true;
}

void
hl__ref_interlock_done_slow(struct hl_lock *l)
{
	uint32_t lv;

	lv = interlock_release_check(l, "hl_ref_interlock_done");
	while (!refs_cas(l, &lv, lv & ~HL_REFS_FLAGS, memory_order_release))
		;
	refs_wake(l, lv);
}

bool
hl__rel_interlock_slow(struct hl_lock *l, bool locked)
{
	uint32_t lv;

	if (locked) {
		/* Failure/unload path: drop the ref, keep the interlock. */
		lv = refs_load(l, memory_order_relaxed);
		if (HL_UNLIKELY((lv & HL_REFS_LOCKED) == 0))
			hl__fatal("hl_rel_interlock", l,
			    "locked=true but the interlock is not held");
		if (HL_UNLIKELY(R_COUNT(lv) == 0))
			hl__fatal(
			    "hl_rel_interlock", l, "release with no reference");
		if (hl_debug && atomic_load_explicit(&l->rowner,
				    memory_order_relaxed) != hl__self())
			hl__fatal("hl_rel_interlock", l,
			    "locked=true but the interlock is held by "
			    "another thread");
		hl__rel_slow(l);
		return true;
	}

	lv = refs_load(l, memory_order_relaxed);
	for (;;) {
		if (HL_UNLIKELY(R_COUNT(lv) == 0))
			hl__fatal(
			    "hl_rel_interlock", l, "release with no reference");
		if (R_COUNT(lv) > 1) {
			if (refs_cas(l, &lv, lv - 1, memory_order_release))
				return false;
			continue;
		}
		/* 1->0: take the interlock in the same step. */
		if ((lv & HL_REFS_LOCKED) == 0) {
			if (refs_cas(l, &lv, (lv - 1) | HL_REFS_LOCKED,
				memory_order_acq_rel)) {
				rowner_set(l);
				return true;
			}
			continue;
		}
		interlock_wait(l, lv, "hl_rel_interlock", "hl_rel_il");
		lv = refs_load(l, memory_order_relaxed);
	}
}

void
hl__rel_interlock_done_slow(struct hl_lock *l)
{
	uint32_t lv, nlv;

	lv = interlock_release_check(l, "hl_rel_interlock_done");
	do {
		nlv = lv & ~(HL_REFS_LOCKED | HL_REFS_WANTED);
		if (R_COUNT(lv) == 0)
			nlv &= ~HL_REFS_CHECK;
	} while (!refs_cas(l, &lv, nlv, memory_order_release));
	refs_wake(l, lv);
}

bool
hl_get_interlock(struct hl_lock *l)
{
	uint32_t lv;

	for (;;) {
		lv = refs_load(l, memory_order_relaxed);
		refs_not_dead(l, lv, "hl_get_interlock");
		if (lv & HL_REFS_LOCKED) {
			interlock_wait(l, lv, "hl_get_interlock", "hl_get_il");
			continue;
		}
		if (refs_cas(
			l, &lv, lv | HL_REFS_LOCKED, memory_order_acquire)) {
			rowner_set(l);
			return (lv & HL_REFS_CHECK) != 0;
		}
	}
}

bool
hl_try_interlock_norefs(struct hl_lock *l)
{
	uint32_t lv = 0;

	if (refs_load(l, memory_order_relaxed) != 0)
		return false;
	if (!atomic_compare_exchange_strong_explicit(&l->refs, &lv,
		HL_REFS_LOCKED, memory_order_acquire, memory_order_relaxed))
		return false;
	rowner_set(l);
	return true;
}

bool
hl_try_rel_interlock(struct hl_lock *l)
{
	uint32_t lv = 1;

	if (refs_load(l, memory_order_relaxed) != 1)
		return false;
	if (!atomic_compare_exchange_strong_explicit(&l->refs, &lv,
		HL_REFS_LOCKED, memory_order_acq_rel, memory_order_relaxed))
		return false;
	rowner_set(l);
	return true;
}

void
hl_put_interlock(struct hl_lock *l, int error)
{
	uint32_t lv, nlv;

	lv = interlock_release_check(l, "hl_put_interlock");
	do {
		nlv = lv & ~(HL_REFS_LOCKED | HL_REFS_WANTED);
		if (R_COUNT(lv) == 0 || error == 0)
			nlv &= ~HL_REFS_CHECK;
		else
			nlv |= HL_REFS_CHECK;
	} while (!refs_cas(l, &lv, nlv, memory_order_release));
	refs_wake(l, lv);
}

void
hl_lock_init(struct hl_lock *l)
{
	atomic_init(&l->refs, 0);
	atomic_init(&l->lockval, 0);
	atomic_init(&l->lowner, 0);
	atomic_init(&l->rowner, 0);
}
