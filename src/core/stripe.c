/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stripe.c - a small number per thread, for striped state (stripe.h).
 *
 * Two threads running at the same time should write different lines
 * instead of passing one back and forth.  A thread takes the next number
 * on its first call and keeps it.  Numbers handed out round robin
 * (rather than hashed from the thread's address) make the first N
 * threads of a process use N different stripes.
 */
#include <stdatomic.h>

#include "stripe.h"

_Thread_local unsigned hl__stripe_tls HL_HIDDEN_TLS;

static _Atomic unsigned stripe_next;

unsigned
hl__thread_stripe_slow(void)
{
	unsigned v =
	    atomic_fetch_add_explicit(&stripe_next, 1, memory_order_relaxed) &
	    0xffffu;

	hl__stripe_tls = v + 1;
	return v;
}
