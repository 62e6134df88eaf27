/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sleep.c - sleeping on a lock word, and the registry of sleepers.
 *
 * Each thread that ever sleeps in hammerlock registers a small record (on
 * its first sleep, which is a system call anyway) naming what it waits
 * for; hl_dump_waiters() walks the records, so a watchdog can print who
 * waits on which word when a test hangs.  The record leaves the registry
 * when its thread exits.
 */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

struct hl_waiter {
	_Atomic(struct hl_lock *) lock; /* NULL when not sleeping */
	_Atomic int which;		/* enum hl_word */
	_Atomic(const char *) ident;
	long tid;
	struct hl_waiter *next;
	struct hl_waiter **pprev;
	bool registered;
};

static _Thread_local struct hl_waiter self_waiter;

static pthread_mutex_t reg_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct hl_waiter *reg_head;
static pthread_key_t reg_key;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

static void
reg_exit(void *arg)
{
	struct hl_waiter *w = arg;

	pthread_mutex_lock(&reg_mtx);
	if ((*w->pprev = w->next) != NULL)
		w->next->pprev = w->pprev;
	w->registered = false;
	pthread_mutex_unlock(&reg_mtx);
}

static void
reg_init(void)
{
	if (pthread_key_create(&reg_key, reg_exit) != 0)
		abort();
}

static struct hl_waiter *
waiter_self(void)
{
	struct hl_waiter *w = &self_waiter;

	if (HL_LIKELY(w->registered))
		return w;
	pthread_once(&reg_once, reg_init);
#ifdef SYS_gettid
	w->tid = (long)syscall(SYS_gettid);
#else
	w->tid = (long)(uintptr_t)pthread_self();
#endif
	pthread_mutex_lock(&reg_mtx);
	if ((w->next = reg_head) != NULL)
		reg_head->pprev = &w->next;
	w->pprev = &reg_head;
	reg_head = w;
	w->registered = true;
	pthread_mutex_unlock(&reg_mtx);
	pthread_setspecific(reg_key, w);
	return w;
}

static inline _Atomic uint32_t *
word_of(struct hl_lock *l, enum hl_word which)
{
	return which == HL_WORD_REFS ? &l->refs : &l->lockval;
}

void
hl__sleep(
    struct hl_lock *l, enum hl_word which, uint32_t val, const char *ident)
{
	struct hl_waiter *w = waiter_self();

	hl__count(which == HL_WORD_REFS ? &hl__counters.refs_sleeps
					: &hl__counters.lock_sleeps);
	atomic_store_explicit(&w->which, (int)which, memory_order_relaxed);
	atomic_store_explicit(&w->ident, ident, memory_order_relaxed);
	atomic_store_explicit(&w->lock, l, memory_order_relaxed);
	hl__os_wait(word_of(l, which), val);
	atomic_store_explicit(&w->lock, NULL, memory_order_relaxed);
}

void
hl__wake(struct hl_lock *l, enum hl_word which)
{
	hl__count(which == HL_WORD_REFS ? &hl__counters.refs_wakeups
					: &hl__counters.lock_wakeups);
	hl__os_wake(word_of(l, which));
}

int
hl_dump_waiters(FILE *fp)
{
	struct hl_waiter *w;
	int n = 0;

	pthread_mutex_lock(&reg_mtx);
	for (w = reg_head; w != NULL; w = w->next) {
		struct hl_lock *l =
		    atomic_load_explicit(&w->lock, memory_order_relaxed);
		int which =
		    atomic_load_explicit(&w->which, memory_order_relaxed);
		const char *ident =
		    atomic_load_explicit(&w->ident, memory_order_relaxed);

		if (l == NULL)
			continue;
		fprintf(fp,
		    "hammerlock: thread %ld sleeps in \"%s\" on %s of lock %p: "
		    "refs=0x%08x lockval=0x%08x rowner=%#lx lowner=%#lx\n",
		    w->tid, ident ? ident : "?",
		    which == HL_WORD_REFS ? "refs" : "lockval", (void *)l,
		    atomic_load(&l->refs), atomic_load(&l->lockval),
		    (unsigned long)atomic_load(&l->rowner),
		    (unsigned long)atomic_load(&l->lowner));
		n++;
	}
	pthread_mutex_unlock(&reg_mtx);
	return n;
}

const char *
hl_sleep_backend(void)
{
	return hl__os_backend;
}
