/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stripe.h - the calling thread's stripe number (stripe.c).
 *
 * Counters and free lists that every thread writes are split into
 * stripes, each on its own cache line; a thread uses the stripe of its
 * number modulo the stripe count.  The number lives in initial-exec TLS,
 * so reading it is one load from the thread pointer: no call, no
 * __tls_get_addr (the library is linked at start-up, where static TLS
 * has room for one word).
 */
#ifndef HL_STRIPE_H
#define HL_STRIPE_H

#define HL_HIDDEN_TLS                                                          \
	__attribute__((visibility("hidden"), tls_model("initial-exec")))

/* The number plus one; 0 until the thread's first call. */
extern _Thread_local unsigned hl__stripe_tls HL_HIDDEN_TLS;

__attribute__((visibility("hidden"))) unsigned hl__thread_stripe_slow(void);

/* The calling thread's number, below 65536, handed out round robin. */
static inline unsigned
hl__thread_stripe(void)
{
	unsigned v = hl__stripe_tls;

	return __builtin_expect(v != 0, 1) ? v - 1 : hl__thread_stripe_slow();
}

/* The sum of member f over the n stripes of array a (relaxed loads). */
#define HL_STRIPE_SUM(a, n, f)                                                 \
	({                                                                     \
		uint64_t sum_ = 0;                                             \
		for (unsigned s_ = 0; s_ < (n); s_++)                          \
			sum_ += atomic_load_explicit(                          \
			    &(a)[s_].f, memory_order_relaxed);                 \
		sum_;                                                          \
	})

#endif /* HL_STRIPE_H */
