/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hammerlock/lock.h - the shared/exclusive lock in lockval.
 *
 * A lock may only be taken by a thread that holds a reference (the refs
 * word is non-zero: a count or the interlock); taking it without one is
 * fatal.  The exclusive owner may take the lock again, exclusively or
 * shared, and each take needs its own hl_unlock().  Shared requests are
 * granted whenever EXCLUSIVE is clear, even with exclusive waiters queued:
 * a writer-priority rule would deadlock a reader that already holds the
 * lock shared and asks for it again.  Sleeping is on the lockval word
 * (futex), separate from refs; the `ident' of a sleeper names what it
 * waits for in hl_dump_waiters().
 *
 * Orderings: taking (hl_lock_ex*, hl_lock_sh*, a successful upgrade) is an
 * acquire; giving up (hl_unlock, hl_lock_downgrade) is a release.
 */
#ifndef HAMMERLOCK_LOCK_H
#define HAMMERLOCK_LOCK_H

#include <hammerlock/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exclusive lock; recursive for the owner.  Acquire.  May sleep. */
HL_EXPORT void hl_lock_ex(struct hl_lock *l);
HL_EXPORT void hl_lock_ex_ident(struct hl_lock *l, const char *ident);

/* As hl_lock_ex(), but returns EAGAIN instead of sleeping; 0 on success. */
HL_EXPORT HL_MUST_CHECK int hl_lock_ex_try(struct hl_lock *l);

/*
 * Shared lock, granted whenever EXCLUSIVE is clear.  The exclusive owner
 * asking for a shared lock gets another exclusive hold instead (no
 * self-deadlock).  Acquire.  May sleep.
 */
HL_EXPORT void hl_lock_sh(struct hl_lock *l);
HL_EXPORT void hl_lock_sh_ident(struct hl_lock *l, const char *ident);

/* As hl_lock_sh(), but returns EAGAIN instead of sleeping; 0 on success. */
HL_EXPORT HL_MUST_CHECK int hl_lock_sh_try(struct hl_lock *l);

/*
 * Upgrade the caller's `shcount' shared holds to exclusive.  Succeeds (0)
 * only if they are the only holds; returns 0 at once if the caller already
 * holds the lock exclusively; otherwise EDEADLK.  Never sleeps: a caller
 * that gets EDEADLK must release its locks and restart.  Fatal if the lock
 * is not held.  Acquire on success.
 */
HL_EXPORT HL_MUST_CHECK int hl_lock_upgrade(struct hl_lock *l, int shcount);

/*
 * Turn the caller's exclusive lock of depth `shcount' into `shcount'
 * shared holds, waking sleepers.  The owner is cleared before the word
 * changes.  Fatal unless the caller owns the lock with exactly that depth.
 * Release.  Never sleeps.
 */
HL_EXPORT void hl_lock_downgrade(struct hl_lock *l, int shcount);

/*
 * Drop one hold.  The last one clears EXCLUSIVE and the owner and wakes
 * sleepers if WANTED was set.  Fatal if the lock is not held, or is held
 * exclusively by another thread.  Release.  Never sleeps.
 */
HL_EXPORT void hl_unlock(struct hl_lock *l);

/* 1 if held exclusively, -1 if held shared; fatal if not held. */
HL_EXPORT HL_MUST_CHECK int hl_lock_status(struct hl_lock *l);

/* True if the calling thread holds the lock exclusively. */
HL_EXPORT HL_MUST_CHECK bool hl_lock_excl_owned(struct hl_lock *l);

static inline HL_MUST_CHECK bool
hl_islocked(const struct hl_lock *l)
{
	return atomic_load_explicit(&l->lockval, memory_order_relaxed) != 0;
}

static inline HL_MUST_CHECK bool
hl_notlocked(const struct hl_lock *l)
{
	return atomic_load_explicit(&l->lockval, memory_order_relaxed) == 0;
}

#ifdef __cplusplus
}
#endif

#endif /* HAMMERLOCK_LOCK_H */
