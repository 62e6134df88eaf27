/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cache_internal.h - the cache's private structures.
 */
#ifndef HL_CACHE_INTERNAL_H
#define HL_CACHE_INTERNAL_H

#include <hammerlock.h>
#include <hammerlock/cache.h>

#define HL_HIDDEN __attribute__((visibility("hidden")))

struct hl_volume {
	struct hl_lock lock; /* refs: load on 0->1 */
	struct hl_mount *mount;
	int vol_no;
	int fd;
	char *path;
	struct hl_volume_header probe;	 /* as read at mount time */
	struct hl_volume_header *ondisk; /* loaded header, or NULL */
};

struct hl_mount {
	struct hl_io *io;
	bool readonly;
	int nvol;
	struct hl_volume *vols[HL_MAX_VOLUMES]; /* by volume number */
	struct {
		_Atomic uint32_t volumes_loaded;
		_Atomic uint64_t volume_loads;
		_Atomic uint64_t volume_load_errors;
		_Atomic uint64_t read_errors;
	} st;
};

static inline void
hl__stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Write a formatted message into why (if not NULL); returns err. */
HL_HIDDEN int hl__cache_why(char *why, size_t whylen, int err, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

HL_HIDDEN int hl__read_header(struct hl_mount *m, int fd, const char *path,
    struct hl_volume_header *vh, char *why, size_t whylen);

HL_HIDDEN void hl__volume_destroy(struct hl_volume *v);

#endif /* HL_CACHE_INTERNAL_H */
