/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * freelist.c - a free list on per-thread stripes (freelist.h).
 */
#include <string.h>

#include "../core/stripe.h"
#include "freelist.h"

static void *
fl_next(const struct hl_freelist *fl, void *p)
{
	void *n;

	memcpy(&n, (char *)p + fl->link, sizeof(n));
	return n;
}

static void
fl_set_next(const struct hl_freelist *fl, void *p, void *n)
{
	memcpy((char *)p + fl->link, &n, sizeof(n));
}

static struct hl_fl_stripe *
fl_mine(struct hl_freelist *fl)
{
	return &fl->s[hl__thread_stripe() % HL_FL_STRIPES];
}

void
hl__fl_init(struct hl_freelist *fl, size_t link)
{
	for (uint32_t i = 0; i < HL_FL_STRIPES; i++) {
		pthread_mutex_init(&fl->s[i].mtx, NULL);
		atomic_init(&fl->s[i].list, NULL);
	}
	fl->link = link;
}

void
hl__fl_destroy(struct hl_freelist *fl)
{
	for (uint32_t i = 0; i < HL_FL_STRIPES; i++)
		pthread_mutex_destroy(&fl->s[i].mtx);
}

void
hl__fl_put_chain(struct hl_freelist *fl, void *head, void *tail)
{
	struct hl_fl_stripe *f = fl_mine(fl);

	pthread_mutex_lock(&f->mtx);
	fl_set_next(
	    fl, tail, atomic_load_explicit(&f->list, memory_order_relaxed));
	atomic_store_explicit(&f->list, head, memory_order_relaxed);
	pthread_mutex_unlock(&f->mtx);
}

void
hl__fl_put(struct hl_freelist *fl, void *p)
{
	hl__fl_put_chain(fl, p, p);
}

static void *
fl_pop(struct hl_freelist *fl, struct hl_fl_stripe *f)
{
	void *p;

	pthread_mutex_lock(&f->mtx);
	p = atomic_load_explicit(&f->list, memory_order_relaxed);
	if (p != NULL)
		atomic_store_explicit(
		    &f->list, fl_next(fl, p), memory_order_relaxed);
	pthread_mutex_unlock(&f->mtx);
	return p;
}

/*
 * The caller's stripe is empty (what it freed went to other threads, or
 * the reverse): take the whole list of the first other stripe that has
 * one (peeked before its mutex is taken), keep its first item and make
 * the rest ours.  Walking a list under another stripe's mutex (a cache
 * miss an item) held its owner up long enough to make it sleep.  Only a
 * stripe's own threads put onto it, so ours is normally still empty when
 * the rest goes there; if a thread sharing our stripe put meanwhile, the
 * items go back one by one.
 */
static void *
fl_steal(struct hl_freelist *fl, struct hl_fl_stripe *mine)
{
	uint32_t s = (uint32_t)(mine - fl->s), i;
	void *head = NULL, *rest, *p;

	for (i = 1; i < HL_FL_STRIPES && head == NULL; i++) {
		struct hl_fl_stripe *f = &fl->s[(s + i) % HL_FL_STRIPES];

		if (atomic_load_explicit(&f->list, memory_order_relaxed) ==
		    NULL)
			continue;
		pthread_mutex_lock(&f->mtx);
		head = atomic_exchange_explicit(
		    &f->list, NULL, memory_order_relaxed);
		pthread_mutex_unlock(&f->mtx);
	}
	if (head == NULL)
		return NULL;
	for (rest = fl_next(fl, head); rest != NULL;) {
		pthread_mutex_lock(&mine->mtx);
		p = atomic_load_explicit(&mine->list, memory_order_relaxed);
		if (p == NULL)
			atomic_store_explicit(
			    &mine->list, rest, memory_order_relaxed);
		pthread_mutex_unlock(&mine->mtx);
		if (p == NULL)
			break;
		p = rest;
		rest = fl_next(fl, p);
		hl__fl_put(fl, p);
	}
	return head;
}

void *
hl__fl_get(struct hl_freelist *fl)
{
	struct hl_fl_stripe *mine = fl_mine(fl);
	void *p = NULL;

	if (atomic_load_explicit(&mine->list, memory_order_relaxed) != NULL)
		p = fl_pop(fl, mine);
	return p != NULL ? p : fl_steal(fl, mine);
}

void *
hl__fl_drain(struct hl_freelist *fl)
{
	void *p = NULL;

	for (uint32_t i = 0; i < HL_FL_STRIPES && p == NULL; i++)
		p = fl_pop(fl, &fl->s[i]);
	return p;
}
