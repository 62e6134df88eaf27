/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * internal.h - private helpers shared by the library's source files.
 */
#ifndef HL_INTERNAL_H
#define HL_INTERNAL_H

#include <pthread.h>
#include <stdnoreturn.h>

#include <hammerlock.h>

#include "debug.h"
#include "stripe.h"

#define HL_HIDDEN __attribute__((visibility("hidden")))

/* The calling thread's identity, as stored in lowner/rowner. */
static inline uintptr_t
hl__self(void)
{
	return hl__self_id();
}

/* Report misuse of `l' from `func' and abort; never returns. */
HL_HIDDEN noreturn void hl__fatal(
    const char *func, const struct hl_lock *l, const char *msg);

/* Which word of a lock a sleeper waits on. */
enum hl_word { HL_WORD_REFS, HL_WORD_LOCKVAL };

/*
 * Sleep while *word == val (checked atomically against the wakers, as
 * FUTEX_WAIT does).  Returns on a wakeup, a signal, a spurious wakeup, or
 * at once if the word already differs: the caller re-reads and retries.
 */
HL_HIDDEN void hl__sleep(
    struct hl_lock *l, enum hl_word which, uint32_t val, const char *ident);

/* Wake every thread sleeping on the given word of `l'. */
HL_HIDDEN void hl__wake(struct hl_lock *l, enum hl_word which);

/* The operating-system half of sleeping (sleep_futex.c, sleep_parking.c). */
HL_HIDDEN void hl__os_wait(_Atomic uint32_t *word, uint32_t val);
HL_HIDDEN void hl__os_wake(_Atomic uint32_t *word);
HL_HIDDEN extern const char hl__os_backend[];

/* Counters (stats.c). */
struct hl_counters {
	_Atomic uint64_t refs_sleeps;
	_Atomic uint64_t refs_wakeups;
	_Atomic uint64_t lock_sleeps;
	_Atomic uint64_t lock_wakeups;
	_Atomic uint64_t lock_contended;
};
HL_HIDDEN extern struct hl_counters hl__counters;

static inline void
hl__count(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

#endif /* HL_INTERNAL_H */
