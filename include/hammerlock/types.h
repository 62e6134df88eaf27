/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hammerlock/types.h - struct hl_lock and the layout of its two words.
 *
 * A struct hl_lock carries two independent 32-bit atomic words:
 *
 *   refs     the structural reference count of the object, plus a
 *            transition interlock used to load the object on its first
 *            reference and to unload it on its last;
 *   lockval  a shared/exclusive lock on the object's contents, with an
 *            exclusive owner and owner recursion.
 *
 * Loading and unloading use only `refs'; `lockval' is never taken to load
 * or unload.  A thread that holds `lockval' shared may therefore reference
 * the object again, even when that makes it the loader, without waiting
 * for itself (the deadlock that the HAMMER retooling removed).
 *
 * The refs word
 * -------------
 *
 *    31  30       29       28       27                                  0
 *   +---+--------+--------+--------+-------------------------------------+
 *   | D | LOCKED | WANTED | CHECK  |              count                  |
 *   +---+--------+--------+--------+-------------------------------------+
 *
 *   count   number of references (HL_REFS_COUNT_MASK, 0..2^28-1).
 *   CHECK   the object must be loaded or re-validated before use.  Set on
 *           every 0->1 transition of the count and by an invalidation
 *           (hl_put_interlock() with an error while references remain);
 *           cleared by a successful load (hl_ref_interlock_done()) and
 *           when the count returns to 0.
 *   LOCKED  the transition interlock.  Exactly one thread holds it; that
 *           thread loads, validates, invalidates or unloads the object.
 *   WANTED  at least one thread sleeps on this word (futex on &refs).
 *   DEAD    bit 31.  The whole word is exactly HL_REFS_DEAD when the
 *           object has been destroyed and its (type-stable) memory may be
 *           recycled: hl_ref_live() refuses it, so a lookup that raced
 *           the destruction cannot revive the object.  Only
 *           hl_kill_interlock() sets it and hl_revive_interlock() clears
 *           it.  hl_try_interlock_norefs() fails on it; any other
 *           operation that would take a reference or the interlock on a
 *           DEAD word is fatal.
 *
 * States of the refs word (C = count):
 *
 *             hl_ref_interlock()            hl_ref_interlock_done()
 *   [0] ------------------------> [1|L|K] --------------------------> [C]
 *    ^   0->1: caller loads        |  ^     load succeeded              |
 *    |                             |  |                                 |
 *    |  hl_rel_interlock_done()    |  | others ref: C+1, they sleep     |
 *    +--------- [0|L] <------------+  | on L|K, or take L if K is       |
 *    |    unload done      failed     | still set when L frees          |
 *    |                     load       |                                 |
 *    |                                +--- hl_get_interlock() + --------+
 *    |                                     hl_put_interlock(error)      |
 *    |                                     (invalidate: C|K)            |
 *    |  hl_rel_interlock(): 1->0 takes L in the same CAS ([0|L])        |
 *    +------------------------------------------------------------------+
 *
 *   L = LOCKED, K = CHECK.  N->N+1 with CHECK clear, and N->N-1 with N > 1,
 *   are a single compare-and-swap that touches no flag (the hot paths).
 *
 * The lockval word
 * ----------------
 *
 *    31  30         29       28  27                   0
 *   +---+----------+--------+---+----------------------+
 *   | 0 | EXCLUSIVE| WANTED | 0 |        count         |
 *   +---+----------+--------+---+----------------------+
 *
 *   count      number of holds (shared holders, or the exclusive owner's
 *              recursion depth); HL_LOCKF_COUNT_MASK.
 *   EXCLUSIVE  held exclusively by `lowner'.
 *   WANTED     at least one thread sleeps on this word (futex on &lockval).
 *   bits 28, 31 reserved, always 0.
 *
 * Memory ordering
 * ---------------
 *
 * Every operation that grants the caller the use of the object or of the
 * lock is an acquire operation: hl_ref, hl_ref_interlock (both results),
 * hl_ref_interlock_true, hl_get_interlock, hl_try_interlock_norefs, the
 * TRUE result of hl_rel_interlock (both forms), hl_lock_ex*, hl_lock_sh*,
 * and a successful hl_lock_upgrade; the refs queries (hl_isactive,
 * hl_norefs, ...) are acquire loads.  Every operation that gives use up is a
 * release operation: hl_rel, the FALSE result of hl_rel_interlock,
 * hl_ref_interlock_done, hl_rel_interlock_done, hl_put_interlock,
 * hl_unlock and hl_lock_downgrade.  Because every change to a word is a
 * read-modify-write, the writes a loader made before
 * hl_ref_interlock_done() are visible to every thread whose
 * hl_ref_interlock() later returns FALSE, and the writes of every holder
 * before its release are visible to the thread that unloads.
 *
 * Overflow rule
 * -------------
 *
 * The count never carries into the flag bits: taking a reference when the
 * count is HL_REFS_COUNT_MASK, or releasing one when it is 0, is fatal
 * (see hammerlock/diag.h), as is the same on the lockval count.
 *
 * Owners
 * ------
 *
 * `lowner' is the exclusive holder of lockval and `rowner' the holder of
 * the refs interlock, as opaque thread identities.  They are atomics
 * written with relaxed order: an owner is stored after the compare-and-swap
 * that takes the word and cleared before the one that gives it up, so a
 * thread only ever finds its own identity in them while it holds the word.
 * They serve ownership checks and diagnostics, never synchronization.
 *
 * A zero-filled struct hl_lock is unlocked and unreferenced.
 */
#ifndef HAMMERLOCK_TYPES_H
#define HAMMERLOCK_TYPES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define HL_REFS_CHECK	   0x10000000u
#define HL_REFS_WANTED	   0x20000000u
#define HL_REFS_LOCKED	   0x40000000u
#define HL_REFS_FLAGS	   (HL_REFS_LOCKED | HL_REFS_WANTED | HL_REFS_CHECK)
#define HL_REFS_COUNT_MASK 0x0FFFFFFFu
#define HL_REFS_DEAD	   0x80000000u

#define HL_LOCKF_WANTED	    0x20000000u
#define HL_LOCKF_EXCLUSIVE  0x40000000u
#define HL_LOCKF_COUNT_MASK 0x0FFFFFFFu

struct hl_lock {
	_Atomic uint32_t refs;	  /* count + CHECK/WANTED/LOCKED */
	_Atomic uint32_t lockval; /* shared/exclusive lock word */
	_Atomic uintptr_t lowner; /* exclusive owner of lockval, or 0 */
	_Atomic uintptr_t rowner; /* holder of the refs interlock, or 0 */
};

#define HL_LOCK_INITIALIZER                                                    \
	{                                                                      \
		0, 0, 0, 0                                                     \
	}

/* Result helpers: a try form's or predicate's result must be used. */
#if defined(__GNUC__) || defined(__clang__)
#define HL_MUST_CHECK  __attribute__((warn_unused_result))
#define HL_LIKELY(x)   __builtin_expect(!!(x), 1)
#define HL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HL_EXPORT      __attribute__((visibility("default")))
#else
#define HL_MUST_CHECK
#define HL_LIKELY(x)   (x)
#define HL_UNLIKELY(x) (x)
#define HL_EXPORT
#endif

#if defined(__has_builtin)
#if __has_builtin(__builtin_thread_pointer)
#define HL_HAVE_THREAD_POINTER 1
#endif
#endif
#ifndef HL_HAVE_THREAD_POINTER
#include <pthread.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The calling thread's identity as stored in lowner/rowner (not API): the
 * thread pointer, which is unique among live threads and never 0, and
 * costs no call.
 */
static inline uintptr_t
hl__self_id(void)
{
#ifdef HL_HAVE_THREAD_POINTER
	return (uintptr_t)__builtin_thread_pointer();
#else
	return (uintptr_t)pthread_self();
#endif
}

/* Initialize (or reset) a lock to unlocked and unreferenced. */
HL_EXPORT void hl_lock_init(struct hl_lock *l);

#ifdef __cplusplus
}
#endif

#endif /* HAMMERLOCK_TYPES_H */
