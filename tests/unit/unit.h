/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * unit.h - small helpers shared by the unit tests in this folder.
 *
 *   HT_UNIT_REFS(l, want)      the refs word of *l is exactly want
 *   HT_UNIT_LOCKVAL(l, want)   the lockval word of *l is exactly want
 *   HT_UNIT_WAIT(cond, ...)    poll cond (spin, then short naps) and fail
 *                              the test if it is still false after
 *                              HT_UNIT_WAIT_SECONDS
 *   ht_unit_sleepers()         how many threads sleep in hammerlock now
 *   ht_unit_wait_sleepers(n)   wait until at least n threads sleep there
 *   ht_unit_nap()              sleep about 100 microseconds
 *
 * "A thread is blocked" is checked by polling the lock word for the state
 * the sleeper publishes (WANTED set, its count taken) and then the sleeper
 * registry (hl_dump_waiters), never by a fixed sleep.
 */
#ifndef HT_UNIT_H
#define HT_UNIT_H

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"

#define HT_UNIT_WAIT_SECONDS 10.0

#define HT_UNIT_REFS(l, want)                                                  \
	do {                                                                   \
		uint32_t ht_unit_got_ = atomic_load(&(l)->refs);               \
		uint32_t ht_unit_want_ = (want);                               \
		HT_CHECK(ht_unit_got_ == ht_unit_want_,                        \
		    "refs=0x%08x, expected 0x%08x (%s)", ht_unit_got_,         \
		    ht_unit_want_, #want);                                     \
	} while (0)

#define HT_UNIT_LOCKVAL(l, want)                                               \
	do {                                                                   \
		uint32_t ht_unit_got_ = atomic_load(&(l)->lockval);            \
		uint32_t ht_unit_want_ = (want);                               \
		HT_CHECK(ht_unit_got_ == ht_unit_want_,                        \
		    "lockval=0x%08x, expected 0x%08x (%s)", ht_unit_got_,      \
		    ht_unit_want_, #want);                                     \
	} while (0)

static inline double
ht_unit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void
ht_unit_nap(void)
{
	struct timespec ts = {0, 100000};

	nanosleep(&ts, NULL);
}

/* Spin briefly (the other thread may be about to act), then nap. */
static inline void
ht_unit_pause(unsigned *iter)
{
	if ((*iter)++ < 200)
		sched_yield();
	else
		ht_unit_nap();
}

#define HT_UNIT_WAIT(cond, ...)                                                \
	do {                                                                   \
		double ht_unit_dl_ = ht_unit_now() + HT_UNIT_WAIT_SECONDS;     \
		unsigned ht_unit_it_ = 0;                                      \
		while (!(cond)) {                                              \
			if (ht_unit_now() > ht_unit_dl_)                       \
				ht_fail(                                       \
				    __FILE__, __LINE__, #cond, __VA_ARGS__);   \
			ht_unit_pause(&ht_unit_it_);                           \
		}                                                              \
	} while (0)

static inline int
ht_unit_sleepers(void)
{
	static FILE *devnull;
	int n;

	if (devnull == NULL)
		devnull = fopen("/dev/null", "w");
	HT_CHECK(devnull != NULL, "cannot open /dev/null");
	n = hl_dump_waiters(devnull);
	fflush(devnull);
	return n;
}

/* Wait until at least n threads are inside a hammerlock sleep. */
#define ht_unit_wait_sleepers(n)                                               \
	HT_UNIT_WAIT(ht_unit_sleepers() >= (n),                                \
	    "expected %d sleeping thread(s), see %d", (n), ht_unit_sleepers())

static inline pthread_t
ht_unit_spawn(void *(*fn)(void *), void *arg)
{
	pthread_t td;

	HT_CHECK(pthread_create(&td, NULL, fn, arg) == 0, "pthread_create");
	return td;
}

static inline void
ht_unit_join(pthread_t td)
{
	HT_CHECK(pthread_join(td, NULL) == 0, "pthread_join");
}

#endif /* HT_UNIT_H */
