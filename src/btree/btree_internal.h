/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * btree_internal.h - the B+tree's node layout and private state.
 *
 * A tree node is a cache node (hammerlock/cache.h) of type HL_NODE_LEAF
 * or HL_NODE_INTERNAL; its payload is an array of `count' elements of
 * HL_BTREE_ELM_SIZE bytes, sorted by key:
 *
 *   leaf      elm = { u64 key, u64 value, zero... }
 *   internal  elm = { u64 key, u64 child offset, zero... }
 *
 * In an internal node, elm[i].key (i >= 1) is the separator: every key
 * of child i is >= elm[i].key and < elm[i + 1].key.  elm[0].key is the
 * lowest key the node has held; searches treat child 0 as covering every
 * key below elm[1].key.  The header's parent field names the parent node
 * (0 for the root) and is kept exact.
 *
 * The free map (format version 2) is a bitmap of a volume's node slots
 * held in HL_NODE_RAW nodes at the start of its data area: bit s of the
 * map is the node at byte buffer_size + s * node_size, and is set when
 * that node is in use (tree nodes, and the free map's own nodes).
 */
#ifndef HL_BTREE_INTERNAL_H
#define HL_BTREE_INTERNAL_H

#include <pthread.h>
#include <string.h>

#include <hammerlock.h>
#include <hammerlock/btree.h>

#include "../core/debug.h"
#include "../core/stripe.h"

#define HL_HIDDEN __attribute__((visibility("hidden")))

/* The core's misuse report (src/core/diag.c); never returns. */
HL_HIDDEN _Noreturn void hl__fatal(
    const char *func, const struct hl_lock *l, const char *msg);

#define ELM_KEY	  0
#define ELM_VALUE 8 /* leaf */
#define ELM_CHILD 8 /* internal */

static inline uint8_t *
bt_elm(void *node, unsigned i)
{
	return (uint8_t *)node + HL_NODE_HDR_SIZE +
	       (size_t)i * HL_BTREE_ELM_SIZE;
}

static inline uint64_t
bt_key(void *node, unsigned i)
{
	return hl_le64_get(bt_elm(node, i) + ELM_KEY);
}

static inline uint64_t
bt_val(void *node, unsigned i)
{
	return hl_le64_get(bt_elm(node, i) + ELM_VALUE);
}

static inline unsigned
bt_type(const void *node)
{
	return hl_le16_get((const uint8_t *)node + HL_NODE_OFF_TYPE);
}

static inline unsigned
bt_count(const void *node)
{
	return hl_le16_get((const uint8_t *)node + HL_NODE_OFF_COUNT);
}

static inline uint64_t
bt_parent(const void *node)
{
	return hl_le64_get((const uint8_t *)node + HL_NODE_OFF_PARENT);
}

static inline void
bt_set_count(void *node, unsigned n)
{
	hl_le16_put((uint8_t *)node + HL_NODE_OFF_COUNT, (uint16_t)n);
}

static inline void
bt_set_type(void *node, unsigned t)
{
	hl_le16_put((uint8_t *)node + HL_NODE_OFF_TYPE, (uint16_t)t);
}

static inline void
bt_set_parent(void *node, uint64_t p)
{
	hl_le64_put((uint8_t *)node + HL_NODE_OFF_PARENT, p);
}

static inline void
bt_set_elm(void *node, unsigned i, uint64_t key, uint64_t v)
{
	uint8_t *e = bt_elm(node, i);

	memset(e, 0, HL_BTREE_ELM_SIZE);
	hl_le64_put(e + ELM_KEY, key);
	hl_le64_put(e + ELM_VALUE, v);
}

/*
 * An internal node holds at most BT_INTERNAL_MAX elements, fewer than a
 * 4 KiB node could (254): splitting an internal node keeps a reference on
 * every child that moves (to fix its parent field without a read that
 * could fail), and each pins its buffer, so a split needs about half this
 * many buffers of pool on top of what other threads hold.  127 keeps that
 * at 64 buffers (1 MiB of 16 KiB buffers) while 1M keys still make a tree
 * of depth 3; leaves have no children and are full size.
 */
#define BT_INTERNAL_MAX 127u

/* Free map geometry of one volume. */
struct bt_fmap {
	uint64_t first;	 /* offset of the first free-map node */
	uint32_t nnodes; /* free-map nodes */
	uint64_t nslots; /* node slots in the volume */
	uint64_t hint;	 /* next slot to try for a leaf (under lock) */
	/*
	 * Internal nodes are few and hot: they are taken from the top eighth
	 * of the slots (ibase up; anywhere once that is full), so that they
	 * share buffers with each other rather than with cold leaves, and a
	 * small pool holds them in a few buffers.
	 */
	uint64_t ibase, ihint;
	uint64_t nfree; /* free slots (under lock) */
	pthread_mutex_t lock;
};

#define BT_STRIPES 16

struct hl_btree {
	struct hl_mount *m;
	uint32_t ns;	 /* node size */
	uint32_t maxelm; /* elements a leaf holds */
	uint32_t maxint; /* elements an internal node holds (see bt_cap) */
	/* Debug builds: HL_BTREE_INJECT=nomark leaves out the pessimistic
	 * writer's change marks, a bug stress_btree must catch. */
	bool inject_nomark;
	uint32_t bits; /* slots one free-map node maps */
	int nvol;

	/*
	 * The root pointer's lock.  Shared to read the root and lock the
	 * root node; exclusive to change the root.  Taken before any node
	 * lock (it is the top of the order).  Holds a permanent reference so
	 * that it may be locked.
	 */
	struct hl_lock rootlock;

	struct bt_fmap *fmap; /* per volume number */
	_Atomic uint32_t next_vol;

	/* Frees deferred to the next sync: the space stays used until the
	 * tree that no longer points to it is durable. */
	pthread_mutex_t pend_lock;
	uint64_t *pend;
	size_t npend, cappend;

	/*
	 * Root changes in progress (low 16 bits) and made (above), as a
	 * node's version word (hl_peek_node): an optimistic reader that
	 * read the root pointer and the root node's version between two
	 * equal, idle readings of it started from the real root.
	 */
	_Atomic uint64_t rootver;

	/* Statistics, striped by thread: no line shared per operation. */
	struct bt_counters {
		_Atomic uint64_t gets, puts, dels, scans, restarts,
		    upgrade_deadlocks, splits, removals, allocs, frees,
		    optimistic_retries, optimistic_fallbacks;
		char pad[128 - 12 * sizeof(uint64_t)];
	} st[BT_STRIPES];
};

/* This thread's statistics stripe. */
#define BT_ST(bt) (&(bt)->st[hl__thread_stripe() % BT_STRIPES])

static inline void
bt_stat(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* alloc.c */
HL_HIDDEN int hl__fmap_open(struct hl_btree *bt);
HL_HIDDEN void hl__fmap_close(struct hl_btree *bt);
HL_HIDDEN int hl__node_alloc(struct hl_btree *bt, struct hl_trans *t,
    unsigned type, uint64_t parent, struct hl_node **np);
HL_HIDDEN void hl__node_free(struct hl_btree *bt, uint64_t off);
/* A node never linked into the tree: its slot is free at once. */
HL_HIDDEN void hl__node_free_now(struct hl_btree *bt, uint64_t off);
HL_HIDDEN int hl__fmap_apply_pending(struct hl_btree *bt);
HL_HIDDEN int hl__fmap_test(struct hl_btree *bt, uint64_t off, bool *used);
HL_HIDDEN bool hl__fmap_is_map_node(struct hl_btree *bt, uint64_t off);

/* Lock-order checking (debug builds): the tree level of each lock held. */
HL_HIDDEN void hl__bt_order_acquire(struct hl_btree *bt, int level);
HL_HIDDEN void hl__bt_order_release(struct hl_btree *bt, int level);

/* Elements node (a leaf or an internal node) may hold. */
static inline unsigned
bt_cap(const struct hl_btree *bt, const void *node)
{
	return bt_type(node) == HL_NODE_INTERNAL ? bt->maxint : bt->maxelm;
}

#endif /* HL_BTREE_INTERNAL_H */
