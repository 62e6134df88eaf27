/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * format_internal.h - private helpers of the on-disk format code.
 */
#ifndef HL_FORMAT_INTERNAL_H
#define HL_FORMAT_INTERNAL_H

#include <stddef.h>

#include <hammerlock/format.h>

/* Write a message to why[0..whylen) if why is not NULL (printf format). */
__attribute__((visibility("hidden"), format(printf, 3, 4))) void hl__why(
    char *why, size_t whylen, const char *fmt, ...);

/* Is x a power of two (and not 0)? */
static inline int
hl__pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

#endif /* HL_FORMAT_INTERNAL_H */
