/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hammerlock/btree.h - a concurrent B+tree in the nodes of a mount: an
 * ordered map from 64-bit keys to 64-bit values.
 *
 * The tree lives in node_size nodes (doc/format.md): leaves hold (key,
 * value) elements, internal nodes (key, child) elements, one element per
 * HL_BTREE_ELM_SIZE bytes, so 63 to a 4 KiB node, as in HAMMER.  The
 * root's offset is kept in volume 0's header; node space comes from the
 * free map of each volume (format version 2).
 *
 * Concurrency: readers take node locks shared and writers exclusive,
 * coupled top-down (a child is locked before its parent is released), so
 * locks are always taken in root-to-leaf order and cannot form a cycle.
 * A writer that finds it needs more than it locked (a full leaf, an
 * emptied one, a shared lock that must become exclusive and cannot,
 * hl_lock_upgrade() returning EDEADLK) releases everything and restarts
 * in a mode that locks more.  Node loads go through the cache's refs
 * interlock, never through these locks.
 *
 * Durability: hl_btree_sync() (the free map's pending frees, then
 * hl_mount_sync()) makes every operation that returned before it
 * durable.  A crash between syncs may lose or tear what changed since
 * the last one (README, Caveats).
 *
 * Functions return 0 or a positive errno: ENOENT (no such key; end of a
 * scan), ENOSPC (no free node), EIO/EDOM (a damaged node), ENOMEM (the
 * pool is full of pinned buffers), or the I/O backend's error.
 */
#ifndef HAMMERLOCK_BTREE_H
#define HAMMERLOCK_BTREE_H

#include <stdint.h>
#include <hammerlock/cache.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hl_btree;
struct hl_btree_cursor;

/* Open the tree of a mount (one handle per mount; thread-safe). */
HL_EXPORT int hl_btree_open(struct hl_mount *m, struct hl_btree **btp);

/* Close the handle (does not sync: call hl_btree_sync() first). */
HL_EXPORT void hl_btree_close(struct hl_btree *bt);

HL_EXPORT int hl_btree_get(struct hl_btree *bt, uint64_t key, uint64_t *valp);

/* Insert or replace. */
HL_EXPORT int hl_btree_put(struct hl_btree *bt, uint64_t key, uint64_t val);

/* Remove; ENOENT if absent.  An emptied node is removed from the tree. */
HL_EXPORT int hl_btree_del(struct hl_btree *bt, uint64_t key);

/* Apply the pending frees to the free map, then hl_mount_sync(). */
HL_EXPORT int hl_btree_sync(struct hl_btree *bt, char *why, size_t whylen);

/*
 * Cursors for range scans.  A scan returns keys in increasing order,
 * never the same key twice, and every key present in the tree for the
 * whole scan, while other threads modify the tree.  A cursor holds no
 * lock or reference between calls.
 */
HL_EXPORT int hl_btree_cursor_open(
    struct hl_btree *bt, struct hl_btree_cursor **cp);
HL_EXPORT void hl_btree_cursor_close(struct hl_btree_cursor *c);

/* First key of the tree / first key >= key / the key after the last. */
HL_EXPORT int hl_btree_first(
    struct hl_btree_cursor *c, uint64_t *keyp, uint64_t *valp);
HL_EXPORT int hl_btree_seek(
    struct hl_btree_cursor *c, uint64_t key, uint64_t *keyp, uint64_t *valp);
HL_EXPORT int hl_btree_next(
    struct hl_btree_cursor *c, uint64_t *keyp, uint64_t *valp);

struct hl_btree_stats {
	uint64_t gets, puts, dels, scans; /* operations */
	uint64_t restarts;		  /* writer restarts (any cause) */
	uint64_t upgrade_deadlocks;	  /* hl_lock_upgrade() EDEADLK */
	uint64_t splits;		  /* node splits */
	uint64_t removals;		  /* emptied nodes removed */
	uint64_t allocs, frees;		  /* node space */
	uint64_t optimistic_retries;	  /* lock-free gets run again */
	uint64_t optimistic_fallbacks;	  /* gets that took locks */
};

HL_EXPORT void hl_btree_stats(struct hl_btree *bt, struct hl_btree_stats *st);

/*
 * Structure of a quiescent tree (nobody modifies it meanwhile): walk it
 * from the root and verify key order and bounds, parent pointers, element
 * counts, that no node is reachable twice, and that the free map marks
 * exactly the reachable nodes (and its own nodes) as used.  Each problem
 * is passed to report (may be NULL) and counted.  Returns 0 if the walk
 * completed (problems in *nproblems), else an errno.
 */
struct hl_btree_shape {
	uint32_t depth;
	uint64_t internal, leaves, keys;
	uint64_t free_nodes, used_nodes; /* per the free map */
};

typedef void (*hl_btree_report_fn)(void *arg, uint64_t off, const char *what);

HL_EXPORT int hl_btree_check(struct hl_btree *bt, struct hl_btree_shape *shape,
    hl_btree_report_fn report, void *arg, uint64_t *nproblems);

#ifdef __cplusplus
}
#endif

#endif /* HAMMERLOCK_BTREE_H */
