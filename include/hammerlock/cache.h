/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hammerlock/cache.h - the referenced object cache: a mount of volume
 * files, its volumes, buffers and B-tree nodes, and the bounded buffer
 * pool under them.
 *
 * Every cached object carries a struct hl_lock and follows the protocol
 * of hammerlock/refs.h: it is loaded by the thread whose reference takes
 * the count 0->1 (or that finds CHECK set), under the interlock, never
 * under the object's shared/exclusive lock.
 *
 * A mount opens 1 to HL_MAX_VOLUMES volume files, reads every header
 * through the I/O backend and cross-checks them (one mount id, one volume
 * per number, same buffer and node sizes).  A volume's header is loaded
 * again, and validated against what the mount saw, on the volume's first
 * reference; it then stays loaded until unmount, as in HAMMER.
 *
 * Functions return 0 or a positive errno (or NULL with *errorp set); the
 * `why' buffers, when not NULL, receive a one-line explanation.
 */
#ifndef HAMMERLOCK_CACHE_H
#define HAMMERLOCK_CACHE_H

#include <stddef.h>
#include <hammerlock/format.h>
#include <hammerlock/io.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hl_mount;
struct hl_volume;
struct hl_buffer;
struct hl_node;

/* Default pool budget when hl_mount_opts.pool_bytes is 0. */
#define HL_POOL_BYTES_DEFAULT (64u << 20)

struct hl_mount_opts {
	struct hl_io *io;    /* I/O backend; NULL: hl_io_posix() */
	bool readonly;	     /* open the volumes read-only */
	bool sync_on_close;  /* hl_mount_close() syncs first */
	uint64_t pool_bytes; /* buffer memory budget; 0: default */
	/*
	 * The pool writes modified buffers back when they are all that
	 * pins it.  By default it fdatasyncs them before dropping their
	 * memory, so a device error is caught while the data is still in
	 * memory (and kept, pinned, for the next sync).  writeback_nosync
	 * drops them after the write alone, as a kernel's flusher does:
	 * no sync per batch, but a later fdatasync failure (reported by
	 * hl_mount_sync(), naming the volume) may have lost them.
	 */
	bool writeback_nosync;
};

/*
 * Statistics.  Counters (loads, reads...) only grow; the instantaneous
 * counts (buffers, nodes, pool_bytes...) are a snapshot taken while the
 * mount runs, each exact at some moment but not all at the same one.
 * At rest: buffer_loads - buffer_unloads == buffers_resident.
 */
struct hl_mount_stats {
	uint32_t volumes;	     /* volumes in the mount */
	uint32_t volumes_loaded;     /* volumes whose header is loaded */
	uint64_t volume_loads;	     /* header loads (0->1 with no header) */
	uint64_t volume_load_errors; /* loads that failed */

	uint64_t buffers;	     /* buffer structures in the table */
	uint64_t buffers_referenced; /* ... with references other than
				      * their resident nodes' */
	uint64_t buffers_resident;   /* ... with pool memory */
	uint64_t buffers_modified;   /* ... modified, not yet written */
	uint64_t buffers_ioerror;    /* ... whose last write failed */
	uint64_t pool_bytes;	     /* pool memory in use */
	uint64_t pool_limit;	     /* the budget */
	uint64_t buffer_loads;	     /* memory associated (read or new) */
	uint64_t buffer_hits;	     /* 0->1 that found memory: no I/O */
	uint64_t buffer_unloads;     /* memory released */
	uint64_t buffer_destroys;    /* structures destroyed */
	uint64_t reclaims;	     /* unloads done by the pool */
	uint64_t reclaim_deferred;   /* pool skipped a pinned buffer */
	uint64_t reclaim_failures;   /* gets refused: everything pinned */
	uint64_t writebacks;	     /* modified buffers the pool wrote */
	uint64_t collisions;	     /* late collisions resolved */

	uint64_t nodes;		   /* node structures in the table */
	uint64_t nodes_referenced; /* ... with users' references */
	uint64_t nodes_resident;   /* ... loaded, held by the cache */
	uint64_t node_loads;	   /* node loads (0->1, CHECK) */
	uint64_t node_destroys;	   /* node structures destroyed */
	uint64_t crc_errors;	   /* node loads refused for a bad CRC */

	uint64_t reads;		   /* buffer and header reads issued */
	uint64_t writes;	   /* buffer writes issued */
	uint64_t syncs;		   /* fdatasync calls */
	uint64_t read_errors;	   /* failed reads, any object */
	uint64_t write_errors;	   /* failed writes and syncs */
	uint64_t interlock_sleeps; /* process-wide: sleeps on refs words */
	uint64_t lock_contended;   /* process-wide: lock requests that waited */
	uint64_t index_misses;	   /* lock-free lookups of buffers and nodes
				    * that the tables' index did not answer
				    * (new objects, or not indexed) */
};

/*
 * Open the n volume files of one mount.  Every header is read and
 * validated, and the set cross-checked, before anything is cached.
 * Errors: those of the backend's open/read, EINVAL/ENOTSUP/EBADMSG from
 * the header checks (see hl_volhdr_decode()), ENOMEM.
 */
HL_EXPORT int hl_mount_open(const char *const *paths, int n,
    const struct hl_mount_opts *opts, struct hl_mount **mp, char *why,
    size_t whylen);

/*
 * Unmount: unload everything and close the files.  Writes nothing.  An
 * object still referenced is a leak: each is reported in `why' (and on
 * stderr) with its name, offset and refs word, and EBUSY is returned; the
 * mount is torn down all the same and the caller's pointers die with it.
 */
HL_EXPORT int hl_mount_close(struct hl_mount *m, char *why, size_t whylen);

HL_EXPORT int hl_mount_nvolumes(const struct hl_mount *m);
HL_EXPORT void hl_mount_stats(struct hl_mount *m, struct hl_mount_stats *st);

/*
 * Reference volume vol_no, loading its header on the first reference.
 * NULL with *errorp = ENOENT for a volume the mount does not have, or the
 * load's error (EIO, EBADMSG, EINVAL...: the reference is not kept).
 */
HL_EXPORT struct hl_volume *hl_get_volume(
    struct hl_mount *m, int vol_no, int *errorp);
HL_EXPORT struct hl_volume *hl_get_root_volume(struct hl_mount *m, int *errorp);

/* Another reference on a volume (loads it if needed); 0 or an errno. */
HL_EXPORT int hl_ref_volume(struct hl_volume *v);

/* Drop a reference.  The header stays loaded until unmount. */
HL_EXPORT void hl_rel_volume(struct hl_volume *v);

/* The loaded header; valid while the caller holds a reference. */
HL_EXPORT const struct hl_volume_header *hl_volume_header(
    const struct hl_volume *v);
HL_EXPORT const char *hl_volume_path(const struct hl_volume *v);

/* The volume's lock word (for diagnostics and tests). */
HL_EXPORT struct hl_lock *hl_volume_lock(struct hl_volume *v);

/*
 * Buffers
 * -------
 *
 * A buffer is the buffer_size bytes of a volume at a buffer-aligned
 * offset.  hl_get_buffer() finds or creates its structure and references
 * it; the reference that takes the count 0->1 loads it: with no I/O if
 * the pool still holds its memory, else by reading it (or zero-filling it
 * when isnew).  The 1->0 release keeps the memory in the pool; the pool
 * reclaims unreferenced, unmodified memory when over budget, and a
 * structure with neither references nor memory is destroyed.
 *
 * offset may point anywhere inside the buffer (it is rounded down);
 * bytes is 0 or the mount's buffer_size.  Errors: EINVAL (zone, bytes or
 * place: the header buffer), ERANGE (past the volume's end), ENOENT (no
 * such volume), EIO or the backend's error on a read, ENOMEM when the
 * pool is over budget with everything pinned (nothing is waited for).
 * On error no reference is held.
 */
HL_EXPORT struct hl_buffer *hl_get_buffer(struct hl_mount *m, uint64_t offset,
    uint32_t bytes, bool isnew, int *errorp);

/* Another reference (loads the buffer if it must); 0 or an errno. */
HL_EXPORT int hl_ref_buffer(struct hl_buffer *b);

/* Drop a reference.  On error paths the pointer is stale afterwards. */
HL_EXPORT void hl_rel_buffer(struct hl_buffer *b);

/* The buffer's bytes and place; valid while referenced. */
HL_EXPORT void *hl_buffer_data(struct hl_buffer *b);
HL_EXPORT uint64_t hl_buffer_offset(const struct hl_buffer *b);
HL_EXPORT uint32_t hl_buffer_bytes(const struct hl_buffer *b);
HL_EXPORT struct hl_lock *hl_buffer_lock(struct hl_buffer *b);

/*
 * Modify a referenced buffer: waits while a write-back of it is running,
 * marks it modified (the pool may not reclaim it until it is written)
 * and holds off write-back until hl_modify_buffer_done().  Calls nest.
 * EROFS on a read-only mount.  May sleep.
 */
HL_EXPORT int hl_modify_buffer(struct hl_buffer *b);
HL_EXPORT void hl_modify_buffer_done(struct hl_buffer *b);

/*
 * The space [base, base + bytes) was freed: destroy the cached buffers
 * (and unreferenced nodes) inside it, dropping their modifications.  A
 * buffer still referenced by someone else is left alone and EAGAIN is
 * returned.  The caller may hold no reference on them.
 */
HL_EXPORT int hl_del_buffers(struct hl_mount *m, uint64_t base, uint64_t bytes);

/*
 * Nodes
 * -----
 *
 * A node is node_size bytes inside a buffer.  It is loaded on its first
 * reference (its buffer referenced, its CRC checked when the buffer's
 * memory has not been verified since it was read) and then stays
 * resident: the cache keeps a reference of its own, so users' releases
 * are a plain decrement and the next lookup a plain increment.  The pool
 * drops that last reference, without ever blocking, when it reclaims the
 * node's buffer (or the space is deleted); that release unloads the node
 * and drops its buffer reference.  A node's content lock is
 * hl_node_lock(); loading never takes it.
 *
 * A transaction carries the caller's flags: HL_TRANSF_CRCDOM makes a bad
 * CRC return EDOM instead of EIO (the caller wants to tell corruption
 * from I/O failure).
 */
#define HL_TRANSF_CRCDOM 0x0001u

struct hl_trans {
	struct hl_mount *mount;
	uint32_t flags;
};

HL_EXPORT void hl_trans_init(struct hl_trans *t, struct hl_mount *m);

/*
 * Reference the node at offset (aligned to node_size).  isnew: the caller
 * is creating it: no CRC check, its bytes are zeroed and it is marked
 * modified.  Errors: those of hl_get_buffer(); EIO (or EDOM) for a bad
 * CRC or a malformed header.  On error no reference is held.
 */
HL_EXPORT struct hl_node *hl_get_node(
    struct hl_trans *t, uint64_t offset, bool isnew, int *errorp);

/* Another reference on an already referenced node.  Never sleeps. */
HL_EXPORT void hl_ref_node(struct hl_node *n);

/* Drop a reference.  The node stays resident (the cache's reference);
 * a deleted node goes with its users' last release. */
HL_EXPORT void hl_rel_node(struct hl_node *n);

/* The node's bytes (header + payload) and place; valid while referenced. */
HL_EXPORT void *hl_node_data(struct hl_node *n);
HL_EXPORT uint64_t hl_node_offset(const struct hl_node *n);
HL_EXPORT struct hl_lock *hl_node_lock(struct hl_node *n);
HL_EXPORT struct hl_buffer *hl_node_buffer(struct hl_node *n);

/*
 * Modify a referenced node: hl_modify_buffer() on its buffer, and mark
 * the node so that its CRC is regenerated before the buffer is written.
 */
HL_EXPORT int hl_modify_node(struct hl_node *n);
HL_EXPORT void hl_modify_node_done(struct hl_node *n);

/*
 * Optimistic reads: a resident node read with no reference, no lock and
 * no store to shared memory (a seqlock on the node's version word).
 *
 *	struct hl_node_peek pk;
 *
 *	if (!hl_peek_node(m, off, &pk))
 *		... not resident, or changing: take the locked path ...
 *	... read pk.data (it may be torn: never trust a value, an index or
 *	    a length from it before the check below) ...
 *	if (!hl_peek_valid(&pk))
 *		... discard what was read: retry, or take the locked path ...
 *
 * The version word changes whenever the node's bytes may change: on load
 * and unload, and in every hl_modify_node() .. hl_modify_node_done()
 * window (concurrent windows included).  So if hl_peek_valid() returns
 * true, nothing changed the node between the two calls, and what was
 * read from pk.data in between is a consistent copy of the node `off'.
 * Bytes written into a buffer through hl_modify_buffer() alone are not
 * covered: modify nodes through hl_modify_node().  The memory behind
 * pk.data is buffer memory, which stays mapped until unmount even after
 * the node is reclaimed, so a stale read is never a fault.  Reads of
 * pk.data race with writers by design; read them with volatile (or
 * relaxed atomic) loads.  hl_peek_node() marks the node used for the
 * pool's CLOCK.  Neither call sleeps; both are acquire loads.
 */
struct hl_node_peek {
	struct hl_node *node; /* type-stable: never freed before unmount */
	const void *data;     /* the node's bytes when peeked */
	uint64_t ver;	      /* its version word then */
};

HL_EXPORT bool hl_peek_node(struct hl_mount *m, uint64_t offset,
    struct hl_node_peek *pk) __attribute__((warn_unused_result));
HL_EXPORT bool hl_peek_valid(const struct hl_node_peek *pk)
    __attribute__((warn_unused_result));

/*
 * Hold a referenced node's version busy (hl_peek_node fails, and checks
 * of earlier peeks fail) over a change that spans several nodes.  A
 * reader validates a node after peeking the child it found there; when a
 * writer changes the child first and the parent afterwards (a split),
 * the parent must already look busy while the child changes, or a reader
 * could pair the old parent with the new child.  So a structural writer
 * marks each node it holds exclusive for the change as it locks it, and
 * ends the mark before unlocking.  Windows nest and overlap freely.
 * Never sleeps; one atomic each.
 */
HL_EXPORT void hl_node_change_begin(struct hl_node *n);
HL_EXPORT void hl_node_change_end(struct hl_node *n);

/*
 * The passive node cache: a pointer to a node that holds no reference.
 * It is cleared when the node structure goes away; hl_ref_node_safe()
 * references the node through it (ENOENT if it was cleared).  A cache
 * must be zeroed (or hl_uncache_node()'d) before first use, and
 * uncached before its memory is freed.
 */
struct hl_node_cache {
	struct hl_node *_Atomic node;
	struct hl_node_cache *next; /* the node's list of caches */
};

HL_EXPORT void hl_cache_node(struct hl_node_cache *c, struct hl_node *n);
HL_EXPORT void hl_uncache_node(struct hl_node_cache *c);
HL_EXPORT struct hl_node *hl_ref_node_safe(
    struct hl_trans *t, struct hl_node_cache *c, int *errorp);

/* Clear every passive cache of a referenced node. */
HL_EXPORT void hl_flush_node(struct hl_node *n);

/*
 * The caller (holding a reference) deletes the node: its caches are
 * cleared and the structure is destroyed on its last release.  Freeing
 * the space on disk is the allocator's business.
 */
HL_EXPORT void hl_delete_node(struct hl_node *n);

/*
 * Evict and destroy the idle node structures inside a buffer, resident
 * or not, without blocking; busy ones go at their last release (called on
 * buffer teardown).  Returns how many are still referenced.
 */
HL_EXPORT int hl_flush_buffer_nodes(struct hl_buffer *b);

/*
 * Write-back
 * ----------
 *
 * Write every buffer modified before the call (regenerating the CRC of
 * its modified nodes first), then fdatasync each volume written.  A
 * buffer whose write fails stays modified and in memory, pinned by a
 * reference that the error holds, and is retried by the next sync; the
 * first error is returned (and described in why).  May sleep.
 */
HL_EXPORT int hl_mount_sync(struct hl_mount *m, char *why, size_t whylen);

/* Recorded root node offset (volume 0's header), and setting it (the
 * header is written by the next hl_mount_sync()). */
HL_EXPORT uint64_t hl_mount_root(struct hl_mount *m);
HL_EXPORT void hl_mount_set_root(struct hl_mount *m, uint64_t off);

/* The mount's geometry. */
HL_EXPORT uint32_t hl_mount_buffer_size(const struct hl_mount *m);
HL_EXPORT uint32_t hl_mount_node_size(const struct hl_mount *m);

#ifdef __cplusplus
}
#endif

#endif /* HAMMERLOCK_CACHE_H */
