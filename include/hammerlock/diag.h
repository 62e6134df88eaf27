/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hammerlock/diag.h - fatal errors, statistics and sleeper dumps.
 *
 * Misuse of a lock (a release with no reference, a count overflow, giving
 * up an interlock or a lock that is not held, locking without a reference,
 * upgrading an unheld lock) is not an error code: the word is already
 * wrong, or would become so.  The library calls the fatal handler with the
 * function's name, the lock, both words as they were seen and a message.
 * The default handler prints one line to stderr and aborts; a replacement
 * (for tests, or to log elsewhere) must not return: it may longjmp out or
 * exit.  If it returns, the library aborts.
 */
#ifndef HAMMERLOCK_DIAG_H
#define HAMMERLOCK_DIAG_H

#include <stdio.h>
#include <hammerlock/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*hl_fatal_fn)(const char *func, const struct hl_lock *l,
    uint32_t refs, uint32_t lockval, const char *msg);

/* Install a fatal handler (NULL restores the default); returns the old. */
HL_EXPORT hl_fatal_fn hl_set_fatal_handler(hl_fatal_fn fn);

/*
 * Format the fatal message the default handler prints, into buf.
 * Returns what snprintf() returns.
 */
HL_EXPORT int hl_fatal_format(char *buf, size_t len, const char *func,
    const struct hl_lock *l, uint32_t refs, uint32_t lockval, const char *msg);

/* Process-wide counters of the slow paths (relaxed, monotonic). */
struct hl_lock_stats {
	uint64_t refs_sleeps;	 /* sleeps on a refs word */
	uint64_t refs_wakeups;	 /* wake calls on a refs word */
	uint64_t lock_sleeps;	 /* sleeps on a lockval word */
	uint64_t lock_wakeups;	 /* wake calls on a lockval word */
	uint64_t lock_contended; /* blocking lock requests that had to wait */
};

HL_EXPORT void hl_lock_stats_get(struct hl_lock_stats *st);

/*
 * Print every thread that is sleeping in hammerlock now: its ident, the
 * lock, which word and both words' values.  For watchdogs and debuggers:
 * it reads each sleeper's lock, so the locks must not be freed while it
 * runs.  Returns the number of sleepers.
 */
HL_EXPORT int hl_dump_waiters(FILE *fp);

/* Print one lock's words and owners on one line. */
HL_EXPORT void hl_lock_dump(
    FILE *fp, const char *name, const struct hl_lock *l);

/* The sleep backend compiled in: "futex" or "parking". */
HL_EXPORT const char *hl_sleep_backend(void);

/* True if the library was built with debug checks (HL_DEBUG). */
HL_EXPORT bool hl_debug_enabled(void);

#ifdef __cplusplus
}
#endif

#endif /* HAMMERLOCK_DIAG_H */
