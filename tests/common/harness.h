/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * harness.h - the small test harness shared by hammerlock's tests.
 *
 *   HT_CHECK(cond, fmt, ...)   fail loudly (file:line, message) and exit 1
 *   ht_seed(argc, argv)        seed from --seed N, $HL_SEED or the clock;
 *                              printed, so a failing run can be replayed
 *   ht_rand(&state)            xorshift64* generator; ht_rng_stream()
 *                              derives per-thread states from the seed,
 *                              ht_rand_below(), ht_spin_pause()
 *   ht_watchdog_start(s, ...)  turn a hang into a failure: after s seconds
 *                              dump the registered lock words and every
 *                              sleeper, then exit 2
 *   ht_expect_fatal(fn, arg, substr)
 *                              run fn in-process with a fatal handler that
 *                              records the message and longjmps back;
 *                              true if fn hit a fatal error naming substr
 *   ht_expect_abort(fn, arg, substr)
 *                              run fn in a child with the default handler;
 *                              true if it aborted printing substr
 *   ht_threads_from_env(def)   thread count from $HL_THREADS or def
 *   ht_seconds_from_env(def)   run time from $HL_SECONDS or def
 */
#ifndef HT_HARNESS_H
#define HT_HARNESS_H

#include <hammerlock.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HT_CHECK(cond, ...)                                                    \
	do {                                                                   \
		if (!(cond))                                                   \
			ht_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);       \
	} while (0)

__attribute__((noreturn, format(printf, 4, 5))) void ht_fail(
    const char *file, int line, const char *cond, const char *fmt, ...);

uint64_t ht_seed(int argc, char **argv);
uint64_t ht_rand(uint64_t *state);
/* An independent non-zero generator state for stream idx of a seed. */
uint64_t ht_rng_stream(uint64_t seed, uint64_t idx);
/* Uniform-ish in [0, n). */
unsigned ht_rand_below(uint64_t *state, unsigned n);
/* Spin a random 0..maxspin iterations; yield the CPU one time in `yield'. */
void ht_spin_pause(uint64_t *state, unsigned maxspin, unsigned yield);
int ht_threads_from_env(int def);
double ht_seconds_from_env(double def);
/* Monotonic clock in seconds; sleep for us microseconds. */
double ht_now(void);
void ht_nap_us(long us);

/* Register a lock for the watchdog's dump (up to 64, name must persist). */
void ht_watch_lock(const char *name, const struct hl_lock *l);
void ht_watchdog_start(double seconds, void (*extra_dump)(void));
void ht_watchdog_stop(void);

bool ht_expect_fatal(void (*fn)(void *), void *arg, const char *substr);
bool ht_expect_abort(void (*fn)(void *), void *arg, const char *substr);

/* Print the closing line that CTest logs read: "name: N passed, 0 failed". */
void ht_pass(const char *name, int npassed);

#endif /* HT_HARNESS_H */
