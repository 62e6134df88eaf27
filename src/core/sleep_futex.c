/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sleep_futex.c - sleep on the lock word itself with a Linux futex.
 *
 * FUTEX_WAIT compares the word with the value the caller just published
 * and sleeps only if they are equal, atomically with respect to
 * FUTEX_WAKE; that comparison is what makes the publish-WANTED-then-sleep
 * pattern free of lost wakeups.  EAGAIN (the word changed), EINTR and
 * spurious returns all send the caller back to re-read the word.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

const char hl__os_backend[] = "futex";

static void
futex_failed(const char *op, _Atomic uint32_t *word)
{
	fprintf(stderr, "hammerlock: %s on word %p failed: %s\n", op,
	    (void *)word, strerror(errno));
	abort();
}

void
hl__os_wait(_Atomic uint32_t *word, uint32_t val)
{
	if (syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, NULL,
		NULL, 0) == -1 &&
	    errno != EAGAIN && errno != EINTR)
		futex_failed("FUTEX_WAIT", word);
}

void
hl__os_wake(_Atomic uint32_t *word)
{
	if (syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX,
		NULL, NULL, 0) == -1)
		futex_failed("FUTEX_WAKE", word);
}
