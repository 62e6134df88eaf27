/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * freelist.h - a free list on per-thread stripes.
 *
 * The cache keeps what it frees (table objects, buffer memory) for reuse,
 * and out of memory every load takes one item and every reclaim gives one
 * back, from every thread.  One list under one mutex made those a cache
 * line passed between the CPUs twice per miss; so each thread puts to and
 * takes from its own stripe (hl__thread_stripe()), a mutex and a list
 * head on a line of their own.  A thread whose stripe is empty takes
 * another stripe's whole list, in constant time under that stripe's
 * mutex.  Items are linked through a pointer at a fixed offset in them.
 */
#ifndef HL_FREELIST_H
#define HL_FREELIST_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define HL_FL_STRIPES 8u

struct hl_freelist {
	struct hl_fl_stripe {
		alignas(64) pthread_mutex_t mtx;
		void *_Atomic list; /* written under mtx; peeked without */
	} s[HL_FL_STRIPES];
	size_t link; /* offset of an item's next pointer */
};

__attribute__((visibility("hidden"))) void hl__fl_init(
    struct hl_freelist *fl, size_t link);
__attribute__((visibility("hidden"))) void hl__fl_destroy(
    struct hl_freelist *fl);
/* Put item p, or the chain head..tail, onto the caller's stripe. */
__attribute__((visibility("hidden"))) void hl__fl_put(
    struct hl_freelist *fl, void *p);
__attribute__((visibility("hidden"))) void hl__fl_put_chain(
    struct hl_freelist *fl, void *head, void *tail);
/* An item from the caller's stripe, or another's; NULL if all are empty. */
__attribute__((visibility("hidden"))) void *hl__fl_get(struct hl_freelist *fl);
/* Any item, NULL when all are empty (teardown: no other user). */
__attribute__((visibility("hidden"))) void *hl__fl_drain(
    struct hl_freelist *fl);

#endif /* HL_FREELIST_H */
