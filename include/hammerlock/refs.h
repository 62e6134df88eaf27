/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hammerlock/refs.h - the integrated reference count and interlock.
 *
 * The word and its states are drawn in hammerlock/types.h.  The protocol a
 * cache builds on it:
 *
 *   get:      if (hl_ref_interlock(l)) {           // 0->1, or CHECK set
 *                     if (load(obj) == 0)          // idempotent
 *                             hl_ref_interlock_done(l);
 *                     else if (hl_rel_interlock(l, true)) {
 *                             unload(obj);         // failure path
 *                             hl_rel_interlock_done(l, true);
 *                     }
 *             }
 *   release:  if (hl_rel_interlock(l, false)) {    // 1->0, interlocked
 *                     unload(obj);
 *                     hl_rel_interlock_done(l, false);
 *             }
 *   reclaim:  if (hl_try_interlock_norefs(l)) {    // never blocks
 *                     dropped = drop_memory(obj);  // may decline
 *                     hl_put_interlock(l, dropped);
 *             }
 *
 * The reclaimer must pass a non-zero `error' to hl_put_interlock() when
 * it dropped the contents: a thread that referenced the object meanwhile
 * is asleep with CHECK set, and only a non-zero error keeps CHECK so that
 * it reloads.  With 0 it would get false and use dropped memory.
 *
 * The hot paths (N->N+1 with CHECK clear, N->N-1 with N > 1) are inline
 * here and are one compare-and-swap; every other transition is out of
 * line.  None of the functions touches lockval.  Functions marked "may
 * sleep" sleep on the refs word (futex) and are woken by the thread that
 * clears LOCKED; the others never sleep and never make a system call,
 * except that giving up the interlock wakes sleepers when WANTED was set.
 * A function that would sleep waiting for an interlock the calling thread
 * holds itself is fatal ("thread waits for an interlock it holds").
 * "Fatal without the interlock" checks LOCKED always, and that the caller
 * is the holder in debug builds (HL_DEBUG).
 */
#ifndef HAMMERLOCK_REFS_H
#define HAMMERLOCK_REFS_H

#include <hammerlock/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Out-of-line slow paths of the inline functions below (not API). */
HL_EXPORT void hl__ref_slow(struct hl_lock *l);
HL_EXPORT void hl__rel_fixup(struct hl_lock *l, uint32_t old);
HL_EXPORT bool hl__ref_interlock_slow(struct hl_lock *l);
HL_EXPORT bool hl__rel_interlock_slow(struct hl_lock *l, bool locked);
HL_EXPORT void hl__ref_interlock_done_slow(struct hl_lock *l);
HL_EXPORT void hl__rel_interlock_done_slow(struct hl_lock *l);
HL_EXPORT bool hl__ref_live_slow(struct hl_lock *l);
HL_EXPORT bool hl__check_interlock_slow(struct hl_lock *l);

static inline void
hl__rowner_set(struct hl_lock *l, uintptr_t td)
{
	atomic_store_explicit(&l->rowner, td, memory_order_relaxed);
}

/*
 * Take a reference.  Sets CHECK on 0->1 (the object must then be loaded
 * by whoever takes the interlock).  Only legal on an object that is
 * already referenced or whose interlock the caller holds (checked in
 * debug builds).  Acquire.  Never sleeps.  Fatal on count overflow.
 *
 * Fast path: with LOCKED clear the caller is not the interlock holder, so
 * it holds a reference and the count cannot fall to 0 under it; a count
 * below half the field cannot be carried into CHECK by concurrent adds.
 * Then a plain atomic add is exact.  Anything else takes the slow path.
 */
static inline void
hl_ref(struct hl_lock *l)
{
	uint32_t lv = atomic_load_explicit(&l->refs, memory_order_relaxed);

	if (HL_LIKELY(
		(lv & HL_REFS_LOCKED) == 0 &&
		(lv & HL_REFS_COUNT_MASK) - 1u < HL_REFS_COUNT_MASK / 2)) {
		atomic_fetch_add_explicit(&l->refs, 1, memory_order_acquire);
		return;
	}
	hl__ref_slow(l);
}

/*
 * Drop a reference.  Clears CHECK on 1->0.  Never takes the interlock,
 * never wakes anyone: use hl_rel_interlock() where the 1->0 transition
 * must unload.  Release.  Never sleeps.  Fatal if the count was 0 (the
 * word is restored before the fatal handler runs).
 */
static inline void
hl_rel(struct hl_lock *l)
{
	uint32_t old =
	    atomic_fetch_sub_explicit(&l->refs, 1, memory_order_release);

	if (HL_UNLIKELY((old & HL_REFS_COUNT_MASK) <= 1))
		hl__rel_fixup(l, old);
}

/*
 * The inline fast paths' one compare on a refs word: CHECK clear and
 * 1 <= count < HL_REFS_COUNT_MASK (so N->N+1 is a plain reference; a
 * DEAD word fails it).  For callers that try their own compare-and-swap.
 */
static inline bool
hl__refs_plain(uint32_t lv)
{
	return (lv & (HL_REFS_CHECK | HL_REFS_COUNT_MASK)) - 1u <
	       HL_REFS_COUNT_MASK - 1u;
}

/*
 * Take a reference, and the interlock when the object must be loaded or
 * re-validated.
 *
 * Returns false at once on N->N+1 with CHECK clear: the object is loaded
 * and the loader's writes are visible (an invalidation that holds the
 * interlock but has not yet set CHECK is not waited for).  Returns true,
 * holding LOCKED with CHECK set, on 0->1, or when CHECK is set and the
 * interlock is free: the caller must load/validate and then call
 * hl_ref_interlock_done() on success or hl_rel_interlock(l, true) on
 * failure.  When CHECK is set and another thread holds the interlock,
 * keeps its reference and sleeps until CHECK clears (false) or it can take
 * the interlock with CHECK still set (true).  The count may exceed 1 when
 * true is returned.
 *
 * Acquire.  May sleep.  Fatal on count overflow.
 */
static inline HL_MUST_CHECK bool
hl_ref_interlock(struct hl_lock *l)
{
	uint32_t lv = atomic_load_explicit(&l->refs, memory_order_relaxed);

	if (HL_LIKELY(hl__refs_plain(lv))) {
		if (atomic_compare_exchange_weak_explicit(&l->refs, &lv, lv + 1,
			memory_order_acquire, memory_order_relaxed))
			return false;
	} else if (lv == 0) {
		if (atomic_compare_exchange_weak_explicit(&l->refs, &lv,
			1 | HL_REFS_LOCKED | HL_REFS_CHECK,
			memory_order_acquire, memory_order_relaxed)) {
			hl__rowner_set(l, hl__self_id());
			return true;
		}
	}
	return hl__ref_interlock_slow(l);
}

/*
 * Drop a reference; on 1->0 take the interlock in the same
 * compare-and-swap.
 *
 * locked == false: returns true on 1->0 with LOCKED held (the caller
 * unloads, then calls hl_rel_interlock_done(l, false)); returns false on
 * N->N-1 with N > 1.  With count 1 and the interlock held by another
 * thread, sleeps until it is free.
 *
 * locked == true: the caller already holds the interlock (failure or
 * unload path): the reference is dropped, the interlock kept, and true is
 * returned; finish with hl_rel_interlock_done(l, true).
 *
 * True on 1->0 only means the count reached 0, not that it stays there:
 * a thread that references the object meanwhile sets CHECK and reloads
 * after the interlock is released.
 *
 * Release (and acquire when true is returned).  May sleep.  Fatal if the
 * count is 0, or if locked is true and the interlock is not held.
 */
static inline bool
hl_rel_interlock(struct hl_lock *l, bool locked)
{
	uint32_t lv = atomic_load_explicit(&l->refs, memory_order_relaxed);

	if (HL_LIKELY(!locked)) {
		if ((lv & HL_REFS_COUNT_MASK) > 1) {
			if (atomic_compare_exchange_weak_explicit(&l->refs, &lv,
				lv - 1, memory_order_release,
				memory_order_relaxed))
				return false;
		} else if (lv == 1) {
			if (atomic_compare_exchange_weak_explicit(&l->refs, &lv,
				HL_REFS_LOCKED, memory_order_acq_rel,
				memory_order_relaxed)) {
				hl__rowner_set(l, hl__self_id());
				return true;
			}
		}
	}
	return hl__rel_interlock_slow(l, locked);
}

/*
 * The word must be exactly 0 (fatal otherwise); it becomes
 * 1|LOCKED|CHECK.  For objects the caller has just constructed and not
 * yet published.  Returns true.  Acquire.  Never sleeps.
 */
HL_EXPORT bool hl_ref_interlock_true(struct hl_lock *l);

/*
 * The load succeeded: clear LOCKED, WANTED and CHECK, keep the count, and
 * wake sleepers if WANTED was set.  Fatal without the interlock.
 * Release.  Never sleeps.
 *
 * Fast path: nobody sleeps and the caller is the recorded holder.  The
 * owner is cleared before the word releases it, and put back if the
 * compare-and-swap loses a race (only WANTED or the count can change
 * under the holder).
 */
static inline void
hl_ref_interlock_done(struct hl_lock *l)
{
	uint32_t lv = atomic_load_explicit(&l->refs, memory_order_relaxed);
	uintptr_t self = hl__self_id();

	if (HL_LIKELY(
		(lv & (HL_REFS_LOCKED | HL_REFS_WANTED)) == HL_REFS_LOCKED) &&
	    atomic_load_explicit(&l->rowner, memory_order_relaxed) == self) {
		hl__rowner_set(l, 0);
		if (atomic_compare_exchange_weak_explicit(&l->refs, &lv,
			lv & ~HL_REFS_FLAGS, memory_order_release,
			memory_order_relaxed))
			return;
		hl__rowner_set(l, self);
	}
	hl__ref_interlock_done_slow(l);
}

/*
 * End the interlock taken by hl_rel_interlock(): clear LOCKED and WANTED,
 * and CHECK only if the count is 0, so that a thread which referenced the
 * object meanwhile gets true from hl_ref_interlock() and re-validates.
 * Wakes sleepers if WANTED was set.  orig_locked is the `locked' argument
 * given to hl_rel_interlock() (kept for the API; the rule is the same).
 * Fatal without the interlock.  Release.  Never sleeps.
 */
static inline void
hl_rel_interlock_done(struct hl_lock *l, bool orig_locked)
{
	uint32_t lv = atomic_load_explicit(&l->refs, memory_order_relaxed);
	uintptr_t self = hl__self_id();

	(void)orig_locked;
	if (HL_LIKELY(lv == HL_REFS_LOCKED) &&
	    atomic_load_explicit(&l->rowner, memory_order_relaxed) == self) {
		hl__rowner_set(l, 0);
		if (atomic_compare_exchange_weak_explicit(&l->refs, &lv, 0,
			memory_order_release, memory_order_relaxed))
			return;
		hl__rowner_set(l, self);
	}
	hl__rel_interlock_done_slow(l);
}

/*
 * Take the interlock whatever the count, sleeping while another thread
 * holds it.  Returns the CHECK bit seen when it was taken (true: the
 * object needs loading, as for hl_ref_interlock()).  Finish with
 * hl_put_interlock().  Acquire.  May sleep.
 */
HL_EXPORT bool hl_get_interlock(struct hl_lock *l);

/*
 * Take the interlock only if the whole word is 0 (no references, no
 * interlock, no flags), leaving 0|LOCKED.  For reclaimers and completion
 * callbacks, which must never block.  Acquire.  Never sleeps.
 */
HL_EXPORT HL_MUST_CHECK bool hl_try_interlock_norefs(struct hl_lock *l);

/*
 * Drop the last reference and take the interlock, only if the word is
 * exactly 1 (one reference, no interlock, no flags): 1 -> 0|LOCKED, true;
 * otherwise false and nothing changes.  For a cache that keeps a
 * reference of its own on a loaded object and drops it from a reclaimer,
 * which must never block: the caller then unloads, as after
 * hl_rel_interlock() returned true, and ends with hl_rel_interlock_done()
 * (or destroys).  Acquire and release.  Never sleeps.
 */
HL_EXPORT HL_MUST_CHECK bool hl_try_rel_interlock(struct hl_lock *l);

/*
 * Release an interlock taken by hl_get_interlock() or
 * hl_try_interlock_norefs(): clear LOCKED and WANTED; set CHECK if error
 * is non-zero and references remain (they must re-validate), clear it
 * otherwise.  Pass a non-zero error whenever the contents were dropped or
 * invalidated under the interlock.  Wakes sleepers if WANTED was set.  Fatal
 * without the interlock.  Release.  Never sleeps.
 */
HL_EXPORT void hl_put_interlock(struct hl_lock *l, int error);

/*
 * Lookup versus destruction (type-stable objects)
 * ------------------------------------------------
 *
 * A cache whose lookups run without a lock finds objects that may be
 * destroyed and recycled under it.  Such a cache keeps object memory
 * type-stable (never freed while lookups can run) and uses these four:
 *
 *   hl_ref_live()         the lookup's reference: refused on a DEAD
 *                         word.  Never sleeps, so it may run under a
 *                         table lock.  The caller then re-checks the
 *                         object's identity and calls hl_check_interlock().
 *   hl_check_interlock()  the second half of hl_ref_interlock(), for a
 *                         caller that already holds a reference.
 *   hl_kill_interlock()   the destroyer, holding the interlock at count 0,
 *                         makes the word DEAD; fails if a lookup's
 *                         reference got in first.
 *   hl_revive_interlock() the recycler turns a DEAD word into
 *                         1|LOCKED|CHECK for the object it constructs.
 */

/*
 * Take a reference unless the word is DEAD (then return false and take
 * nothing).  On 0->1 sets CHECK (the object must be loaded or
 * re-validated: follow with hl_check_interlock()).  Acquire, on either
 * outcome: after false the caller is ordered after the destruction (and
 * so after the object's users), as one that makes a successor for the
 * same identity must be.  Never sleeps.  Fatal on count overflow.
 */
static inline HL_MUST_CHECK bool
hl_ref_live(struct hl_lock *l)
{
	uint32_t lv = atomic_load_explicit(&l->refs, memory_order_relaxed);

	if (HL_LIKELY(hl__refs_plain(lv)) &&
	    atomic_compare_exchange_weak_explicit(&l->refs, &lv, lv + 1,
		memory_order_acquire, memory_order_relaxed))
		return true;
	return hl__ref_live_slow(l);
}

/*
 * The caller holds a reference.  Returns false if CHECK is clear (the
 * object is loaded).  Otherwise takes the interlock and returns true (the
 * caller loads, then hl_ref_interlock_done() or hl_rel_interlock(l, true)
 * as after hl_ref_interlock()), sleeping while another thread holds it;
 * if that thread loads the object meanwhile, returns false.
 * Acquire.  May sleep.
 */
static inline HL_MUST_CHECK bool
hl_check_interlock(struct hl_lock *l)
{
	if (HL_LIKELY((atomic_load_explicit(&l->refs, memory_order_acquire) &
			  HL_REFS_CHECK) == 0))
		return false;
	return hl__check_interlock_slow(l);
}

/*
 * The caller holds the interlock and no references remain: if the count
 * is 0 and nobody sleeps on the word, make it DEAD and return true (the
 * interlock is gone with it; the object may be unlinked and recycled).
 * Otherwise (a lookup referenced the object meanwhile, or someone sleeps on it)
 * return false, still holding the interlock.  Acq_rel.  Never sleeps.
 */
HL_EXPORT HL_MUST_CHECK bool hl_kill_interlock(struct hl_lock *l);

/*
 * The word must be DEAD (fatal otherwise): it becomes 1|LOCKED|CHECK,
 * owned by the caller, which is constructing a recycled object.  Every
 * write the caller made to the object before this call (its new
 * identity) is visible to a thread whose hl_ref_live() then succeeds.
 * Release and acquire.  Never sleeps.
 */
HL_EXPORT void hl_revive_interlock(struct hl_lock *l);

/*
 * Queries: snapshots of the refs word.  They are acquire loads, so a
 * thread that sees the count at 0 (typically the interlock holder deciding
 * whether it may unload or destroy) also sees every write the other
 * holders made before they released their references.
 */
static inline HL_MUST_CHECK uint32_t
hl_isactive(const struct hl_lock *l)
{
	return atomic_load_explicit(&l->refs, memory_order_acquire) &
	       HL_REFS_COUNT_MASK;
}

static inline HL_MUST_CHECK bool
hl_oneref(const struct hl_lock *l)
{
	return hl_isactive(l) == 1;
}

static inline HL_MUST_CHECK bool
hl_norefs(const struct hl_lock *l)
{
	return hl_isactive(l) == 0;
}

/* True if the whole word is 0: no references, interlock or flags. */
static inline HL_MUST_CHECK bool
hl_norefsorlock(const struct hl_lock *l)
{
	return atomic_load_explicit(&l->refs, memory_order_acquire) == 0;
}

static inline HL_MUST_CHECK bool
hl_refsorlock(const struct hl_lock *l)
{
	return atomic_load_explicit(&l->refs, memory_order_acquire) != 0;
}

#ifdef __cplusplus
}
#endif

#endif /* HAMMERLOCK_REFS_H */
