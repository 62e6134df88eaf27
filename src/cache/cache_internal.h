/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cache_internal.h - the cache's private structures.
 */
#ifndef HL_CACHE_INTERNAL_H
#define HL_CACHE_INTERNAL_H

#include <pthread.h>

#include <hammerlock.h>
#include <hammerlock/cache.h>

#include "table.h"

struct hl_volume {
	struct hl_lock lock; /* refs: load on 0->1 */
	struct hl_mount *mount;
	int vol_no;
	int fd;
	char *path;
	struct hl_volume_header probe;	 /* as read at mount time */
	struct hl_volume_header *ondisk; /* loaded header, or NULL */
	_Atomic bool written;		 /* written since the last fdatasync */
	_Atomic bool dropped; /* written back unsynced and dropped since */
};

/* Buffer flags (struct hl_buffer.flags). */
#define HL_BUF_MODIFIED 0x01u /* changed since last written */
#define HL_BUF_IOERROR	0x02u /* last write failed; holds a reference */
#define HL_BUF_CLOCK	0x04u /* referenced since the hand passed */
#define HL_BUF_DELETE	0x08u /* space freed: destroy on last release */

/*
 * A buffer.  `data' changes only under the refs interlock (load, reclaim,
 * delete); holders of a reference read it freely.  The content lock
 * (lockval) separates modifiers (shared) from write-back (exclusive).
 */
struct hl_buffer {
	struct hl_obj obj; /* key: the buffer's offset */
	struct hl_mount *mount;
	struct hl_volume *vol;
	void *_Atomic data;	   /* pool memory, or NULL */
	_Atomic uint32_t flags;	   /* HL_BUF_* */
	_Atomic uint64_t needcrc;  /* node slots to seal before writing */
	_Atomic uint64_t gen;	   /* mount-unique id of this memory's read */
	_Atomic uint64_t modseq;   /* hl_modify_buffer() calls */
	uint32_t close_noderefs;   /* unmount: references of loaded nodes */
	_Atomic uint32_t noderefs; /* references held by resident nodes */
};

/* Node flags. */
#define HL_NODE_F_DELETED  0x01u /* destroy on last release */
#define HL_NODE_F_FLUSH	   0x02u /* its buffer went away: destroy when idle */
#define HL_NODE_F_RESIDENT 0x04u /* loaded; the cache holds a reference */

/*
 * A node.  Loaded (ondisk != NULL, holding a reference on `buffer') from
 * its first reference until its last.  Once loaded it is resident: the
 * cache holds a reference of its own, so users' releases do not unload
 * it; the pool drops that reference (hl_try_rel_interlock(), never
 * blocking) when it reclaims the node's buffer, and that last release
 * unloads the node.  An unloaded structure stays in the table until its
 * buffer is torn down, it is deleted, or its load failed.
 */
struct hl_node {
	struct hl_obj obj; /* key: the node's offset; obj.ext: its hl_node_x */
};

/*
 * The rest of a node, apart from it (hl__tbl_init's cold part): a hit
 * reads only obj, so node objects are one cache line each, packed.
 */
struct hl_node_x {
	struct hl_mount *mount;
	struct hl_buffer *_Atomic buffer; /* referenced while loaded */
	void *_Atomic ondisk;		  /* into buffer->data, or NULL */
	_Atomic uint64_t crc_gen;	  /* buffer gen its CRC passed at */
	_Atomic uint64_t ver; /* version: changes in progress (low 16 bits)
			       * and changes made (above): hl_peek_node() */
	struct hl_node_cache *caches; /* under the mount's cache lock */
};

#define HL_CACHE_LOCKS	 64u
#define HL_POOL_WB_BATCH 128u /* buffers written per fdatasync */
#define HL_STAT_STRIPES	 8u

struct hl_mount {
	struct hl_io *io;
	bool readonly;
	bool sync_on_close;
	bool wb_nosync; /* hl_mount_opts.writeback_nosync */
	int nvol;
	uint32_t buffer_size;
	uint32_t node_size;
	struct hl_volume *vols[HL_MAX_VOLUMES]; /* by volume number */

	bool cache_ready; /* tables and locks set up */
	struct hl_table buffers;
	struct hl_table nodes;

	/* The pool. */
	uint64_t pool_limit;
	_Atomic uint64_t pool_used;
	pthread_mutex_t pool_mtx; /* one reclaimer at a time; the hand */
	uint32_t pool_hand;
	struct hl_freelist mem_free; /* buffer memory, linked at offset 0 */
	alignas(64) _Atomic uint64_t gen_next; /* added to on every read */

	/* Read by every B-tree operation: a line away from written ones. */
	alignas(64) _Atomic uint64_t root; /* B-tree root offset */
	_Atomic bool root_dirty;
	alignas(64) pthread_mutex_t sync_mtx; /* one sync at a time */

	pthread_mutex_t cache_mtx[HL_CACHE_LOCKS]; /* passive node caches */

	/*
	 * Statistics, on per-thread stripes (summed by hl_mount_stats()):
	 * a miss adds to several of them, and two threads adding to one
	 * set of lines passed them back and forth on every miss.
	 */
	struct hl_cache_counters {
		alignas(64) _Atomic uint64_t volumes_loaded; /* a gauge */
		_Atomic uint64_t volume_loads;
		_Atomic uint64_t volume_load_errors;
		_Atomic uint64_t buffer_loads;
		_Atomic uint64_t buffer_hits;
		_Atomic uint64_t buffer_unloads;
		_Atomic uint64_t buffer_destroys;
		_Atomic uint64_t reclaims;
		_Atomic uint64_t reclaim_deferred;
		_Atomic uint64_t reclaim_failures;
		_Atomic uint64_t writebacks;
		_Atomic uint64_t collisions;
		_Atomic uint64_t node_loads;
		_Atomic uint64_t node_destroys;
		_Atomic uint64_t crc_errors;
		_Atomic uint64_t reads;
		_Atomic uint64_t writes;
		_Atomic uint64_t syncs;
		_Atomic uint64_t read_errors;
		_Atomic uint64_t write_errors;
	} st[HL_STAT_STRIPES];
};

/* The calling thread's stripe of m's statistics. */
#define HL_ST(m) (&(m)->st[hl__thread_stripe() % HL_STAT_STRIPES])

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

/* The pool: reserve room for one buffer (reclaiming if over budget). */
HL_HIDDEN int hl__pool_reserve(struct hl_mount *m);
HL_HIDDEN void hl__pool_unreserve(struct hl_mount *m);

/*
 * Buffer memory (buffer_size bytes) from the free list, else from the
 * backend (NULL: ENOMEM); and back to the free list.  Buffer memory is
 * type-stable: it goes back to the backend only at unmount (drain), so an
 * optimistic reader (hl_peek_node) that still points into a reclaimed
 * buffer reads stale bytes, never freed memory.
 */
HL_HIDDEN void *hl__pool_mem_get(struct hl_mount *m);
HL_HIDDEN void hl__pool_mem_put(struct hl_mount *m, void *p);
HL_HIDDEN void hl__pool_mem_drain(struct hl_mount *m);

/* Buffers: the table's release callback, and teardown at unmount. */
HL_HIDDEN void hl__buffer_release_obj(struct hl_obj *o);
HL_HIDDEN void hl__buffer_drop_data(struct hl_buffer *b);
/*
 * Seal b's modified nodes and write it (no fdatasync: the volume is
 * marked for the next sync).  The caller excludes modifiers: exclusive
 * content lock, or the interlock at count 0.  0 or the errno, reported.
 */
HL_HIDDEN int hl__buffer_write(
    struct hl_mount *m, struct hl_buffer *b, char *why, size_t whylen);

/* Drop the reference a failed write holds, if any (caller holds one). */
HL_HIDDEN bool hl__buffer_clear_ioerror(struct hl_buffer *b);
HL_HIDDEN void hl__node_release_obj(struct hl_obj *o);

/*
 * Destroy the idle node structures of a buffer that is going away,
 * without ever sleeping (it runs from the reclaimer).
 */
#define HL_FLUSH_TEARDOWN 0x1 /* space going away: mark nodes in use */
#define HL_FLUSH_CLOCK	  0x2 /* pool victim: recently used nodes stay */
/*
 * The pool's flushes find nodes without the shard mutex (hl__tbl_peek_fast);
 * a node missed there still holds its buffer reference, so the buffer is
 * not taken, or is an idle structure, harmless and found later.
 */
#define HL_FLUSH_FAST 0x4
HL_HIDDEN int hl__flush_buffer_nodes(
    struct hl_mount *m, uint64_t boff, int how);
HL_HIDDEN int hl__flush_node_at(struct hl_mount *m, uint64_t off, int how);

/* Clear every passive cache of n. */
HL_HIDDEN void hl__node_uncache_all(struct hl_node *n);

static inline struct hl_buffer *
hl__obj_buffer(struct hl_obj *o)
{
	return (struct hl_buffer *)o;
}

static inline struct hl_node *
hl__obj_node(struct hl_obj *o)
{
	return (struct hl_node *)o;
}

static inline struct hl_node_x *
hl__node_x(const struct hl_node *n)
{
	return (struct hl_node_x *)n->obj.ext;
}

#endif /* HL_CACHE_INTERNAL_H */
