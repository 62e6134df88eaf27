/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sleep_parking.c - portable sleeping: a hashed parking lot.
 *
 * Words hash to buckets of a mutex and a condition variable.  A sleeper
 * takes its bucket's mutex, re-reads the word and waits only if it still
 * holds the published value; a waker, which changed the word before
 * calling, takes the same mutex and broadcasts.  Either the sleeper reads
 * the new value, or it is already waiting when the broadcast comes: no
 * wakeup is lost.  Words sharing a bucket see spurious wakeups, which the
 * callers tolerate.
 */
#include <stdint.h>

#include "internal.h"

const char hl__os_backend[] = "parking";

#define NBUCKETS 256

static struct bucket {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
} __attribute__((aligned(64))) buckets[NBUCKETS];

static pthread_once_t buckets_once = PTHREAD_ONCE_INIT;

static void
buckets_init(void)
{
	for (int i = 0; i < NBUCKETS; i++) {
		pthread_mutex_init(&buckets[i].mtx, NULL);
		pthread_cond_init(&buckets[i].cv, NULL);
	}
}

static struct bucket *
bucket_of(_Atomic uint32_t *word)
{
	uintptr_t a = (uintptr_t)word;

	pthread_once(&buckets_once, buckets_init);
	a ^= a >> 17;
	a *= 0x9E3779B97F4A7C15ull;
	return &buckets[(a >> 32) % NBUCKETS];
}

void
hl__os_wait(_Atomic uint32_t *word, uint32_t val)
{
	struct bucket *b = bucket_of(word);

	pthread_mutex_lock(&b->mtx);
	if (atomic_load_explicit(word, memory_order_relaxed) == val)
		pthread_cond_wait(&b->cv, &b->mtx);
	pthread_mutex_unlock(&b->mtx);
}

void
hl__os_wake(_Atomic uint32_t *word)
{
	struct bucket *b = bucket_of(word);

	pthread_mutex_lock(&b->mtx);
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mtx);
}
