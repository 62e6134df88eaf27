/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stripe.c - a small number per thread, for striped state.
 *
 * Counters and free lists that every thread writes are split into
 * stripes, each on its own cache line, so that two threads running at
 * the same time write different lines instead of passing one back and
 * forth.  A thread takes the next number on its first call and keeps it;
 * callers reduce it modulo their stripe count.  Numbers handed out round
 * robin (rather than hashed from the thread's address) make the first N
 * threads of a process use N different stripes.
 */
#include "internal.h"

static _Atomic unsigned stripe_next;
static _Thread_local unsigned stripe_mine = UINT32_MAX;

unsigned
hl__thread_stripe(void)
{
	if (stripe_mine == UINT32_MAX)
		stripe_mine = atomic_fetch_add_explicit(
				  &stripe_next, 1, memory_order_relaxed) &
			      0xffffu;
	return stripe_mine;
}
