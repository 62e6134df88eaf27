/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * btree.c - lookups, inserts and deletes with top-down lock coupling.
 *
 * Two modes for writers:
 *
 *   optimistic   shared coupling down to the leaf, keeping the parent
 *                (or the root lock) shared while the leaf is locked.  The
 *                leaf's shared lock is upgraded; if hl_lock_upgrade()
 *                returns EDEADLK (other readers), the leaf is released and
 *                locked exclusive again, which is safe while the parent
 *                is held: a leaf is only split or removed under its
 *                parent's exclusive lock.  A leaf that must split or be
 *                removed sends the operation to the next mode.
 *   pessimistic  exclusive coupling from the root lock down, releasing
 *                every held ancestor as soon as a node is safe (cannot
 *                split for an insert, cannot empty for a delete); the
 *                structural change then climbs the held path.
 *
 * Locks are only ever taken root to leaf (the root lock first), and a
 * thread never waits for a lock while holding one below it, so waits
 * cannot form a cycle; debug builds assert this order on every
 * acquisition (hl__bt_order_acquire).
 *
 * Nodes created by a split are not locked: nobody can reach them until
 * the exclusively held parent is released, and they are complete by then.
 */
#include <endian.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "btree_internal.h"

#define BT_MAXDEPTH 20
#define BT_ROOTLVL  (-1)

/* --- lock-order checking (debug builds) -------------------------------- */

static _Thread_local int bt_held[BT_MAXDEPTH + 2];
static _Thread_local int bt_nheld;

void
hl__bt_order_acquire(struct hl_btree *bt, int level)
{
	(void)bt;
	if (!hl_debug)
		return;
	for (int i = 0; i < bt_nheld; i++)
		if (bt_held[i] >= level) {
			fprintf(stderr,
			    "hammerlock: btree lock order: taking a level %d "
			    "node lock while holding level %d\n",
			    level, bt_held[i]);
			abort();
		}
	if (bt_nheld < BT_MAXDEPTH + 2)
		bt_held[bt_nheld++] = level;
}

void
hl__bt_order_release(struct hl_btree *bt, int level)
{
	(void)bt;
	if (!hl_debug)
		return;
	for (int i = 0; i < bt_nheld; i++)
		if (bt_held[i] == level) {
			bt_held[i] = bt_held[--bt_nheld];
			return;
		}
}

static void
bt_lock(struct hl_btree *bt, struct hl_lock *l, int level, bool ex)
{
	hl__bt_order_acquire(bt, level);
	if (ex)
		hl_lock_ex_ident(l, "btree_ex");
	else
		hl_lock_sh_ident(l, "btree_sh");
}

static void
bt_unlock(struct hl_btree *bt, struct hl_lock *l, int level)
{
	hl_unlock(l);
	hl__bt_order_release(bt, level);
}

/* Unlock and release a node held at level. */
static void
bt_put(struct hl_btree *bt, struct hl_node *n, int level)
{
	bt_unlock(bt, hl_node_lock(n), level);
	hl_rel_node(n);
}

/* --- searching ----------------------------------------------------------- */

/* Internal node: the child whose range holds key. */
static unsigned
bt_search_internal(void *d, uint64_t key)
{
	unsigned lo = 1, hi = bt_count(d); /* first elm with key > key */

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (bt_key(d, mid) <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

/* Leaf: the first element with key >= key (count if none). */
static unsigned
bt_search_leaf(void *d, uint64_t key)
{
	unsigned lo = 0, hi = bt_count(d);

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (bt_key(d, mid) < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A node we are about to walk must be a live tree node. */
static int
bt_node_ok(struct hl_node *n)
{
	void *d = hl_node_data(n);
	unsigned t = bt_type(d);

	if ((t != HL_NODE_LEAF && t != HL_NODE_INTERNAL) ||
	    (t == HL_NODE_INTERNAL && bt_count(d) == 0)) {
		fprintf(stderr,
		    "hammerlock: btree: node %#llx is not a tree node "
		    "(type %u, count %u)\n",
		    (unsigned long long)hl_node_offset(n), t, bt_count(d));
		return EIO;
	}
	return 0;
}

/*
 * Shared-coupled descent to the leaf for key.  On success the leaf is
 * returned locked shared, and, if keep_parent, its parent too (*parentp,
 * or NULL when the leaf is the root: then the root lock is still held
 * shared).  *levelp is the leaf's level.
 */
static int
bt_descend_sh(struct hl_btree *bt, struct hl_trans *t, uint64_t key,
    bool keep_parent, struct hl_node **leafp, struct hl_node **parentp,
    int *levelp, uint64_t *ubp)
{
	struct hl_node *n, *c, *p = NULL;
	uint64_t root, ub = UINT64_MAX;
	int error, level = 0;
	void *d;

	bt_lock(bt, &bt->rootlock, BT_ROOTLVL, false);
	root = hl_mount_root(bt->m);
	if (root == 0) {
		bt_unlock(bt, &bt->rootlock, BT_ROOTLVL);
		return ENOENT;
	}
	n = hl_get_node(t, root, false, &error);
	if (n == NULL) {
		bt_unlock(bt, &bt->rootlock, BT_ROOTLVL);
		return error;
	}
	bt_lock(bt, hl_node_lock(n), 0, false);
	for (;;) {
		if ((error = bt_node_ok(n)) != 0)
			break;
		d = hl_node_data(n);
		if (bt_type(d) == HL_NODE_LEAF) {
			if (keep_parent) {
				*parentp = p;
			} else if (p != NULL) {
				bt_put(bt, p, level - 1);
			} else {
				bt_unlock(bt, &bt->rootlock, BT_ROOTLVL);
			}
			*leafp = n;
			*levelp = level;
			if (ubp != NULL)
				*ubp = ub;
			return 0;
		}
		unsigned i = bt_search_internal(d, key);

		if (i + 1 < bt_count(d) && bt_key(d, i + 1) < ub)
			ub = bt_key(d, i + 1);
		c = hl_get_node(
		    t, hl_le64_get(bt_elm(d, i) + ELM_CHILD), false, &error);
		if (c == NULL)
			break;
		bt_lock(bt, hl_node_lock(c), level + 1, false);
		/* Coupled: c is locked; the grandparent goes now. */
		if (p != NULL)
			bt_put(bt, p, level - 1);
		else
			bt_unlock(bt, &bt->rootlock, BT_ROOTLVL);
		p = n;
		n = c;
		level++;
	}
	bt_put(bt, n, level);
	if (p != NULL)
		bt_put(bt, p, level - 1);
	else
		bt_unlock(bt, &bt->rootlock, BT_ROOTLVL);
	return error;
}

/* --- lock-free lookups ----------------------------------------------------
 *
 * hl_btree_get() first walks the tree with no lock, no reference and no
 * store (optimistic lock coupling over hl_peek_node): at each level it
 * searches the node, peeks the child, and only then checks that the node
 * it came from did not change, so the child really was its child while
 * the child's version was read.  The root is the root if the tree's root
 * version word (rootver) was idle and unchanged around reading the root
 * pointer and peeking the root node; after that a root split changes the
 * old root's version.  A check that fails runs the walk again; a node
 * that is not resident, or keeps changing, sends the get to the locked
 * path, which loads it and reports real damage.
 */

#define BT_OPT_TRIES 4

enum bt_opt { BT_O_CHILD, BT_O_FOUND, BT_O_ABSENT, BT_O_BAD };

/*
 * A binary search over a node that is not in the CPU cache is a chain of
 * dependent misses, one per probe.  Before each probe, ask for the lines
 * of both probes that can come next: the next probe's line is then
 * already on its way, and the chain is about half as long (this bought
 * about 15% of a lookup on 1M keys).
 */
static inline void
bt_prefetch_next(const uint8_t *d, unsigned lo, unsigned mid, unsigned hi)
{
	__builtin_prefetch(d + HL_NODE_HDR_SIZE +
			   (size_t)((lo + mid) / 2) * HL_BTREE_ELM_SIZE);
	__builtin_prefetch(d + HL_NODE_HDR_SIZE +
			   (size_t)((mid + 1 + hi) / 2) * HL_BTREE_ELM_SIZE);
}

/*
 * One step of the lock-free walk over a node's bytes, which writers may
 * be changing: every field is read once (volatile), and nothing read is
 * trusted beyond staying inside the node until the caller's version check
 * passes.  These reads race with writers by design, so ThreadSanitizer is
 * told not to instrument this function (the version checks around it are
 * atomics it does see); everything it returns is discarded unless the
 * version check passes.
 */
#define OKEY(d, i)                                                             \
	le64toh(*(const volatile uint64_t *)((d) + HL_NODE_HDR_SIZE +          \
					     (size_t)(i)*HL_BTREE_ELM_SIZE))
#define OVAL(d, i)                                                             \
	le64toh(*(const volatile uint64_t *)((d) + HL_NODE_HDR_SIZE +          \
					     (size_t)(i)*HL_BTREE_ELM_SIZE +   \
					     ELM_VALUE))

/* The first element in [lo, hi) whose key is > key (upper) or >= key. */
__attribute__((no_sanitize("thread"))) static inline unsigned
bt_opt_bound(
    const uint8_t *d, unsigned lo, unsigned hi, uint64_t key, bool upper)
{
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		uint64_t k;

		bt_prefetch_next(d, lo, mid, hi);
		k = OKEY(d, mid);
		if (k < key || (upper && k == key))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

__attribute__((no_sanitize("thread"))) static enum bt_opt
bt_opt_step(const uint8_t *d, uint64_t key, unsigned maxelm, uint64_t *outp)
{
	unsigned type, count, i;

	type = le16toh(*(const volatile uint16_t *)(d + HL_NODE_OFF_TYPE));
	count = le16toh(*(const volatile uint16_t *)(d + HL_NODE_OFF_COUNT));
	if (count > maxelm)
		return BT_O_BAD;
	if (type == HL_NODE_INTERNAL) {
		if (count == 0)
			return BT_O_BAD;
		/* As bt_search_internal(): the last separator <= key. */
		*outp = OVAL(d, bt_opt_bound(d, 1, count, key, true) - 1);
		return BT_O_CHILD;
	}
	if (type != HL_NODE_LEAF)
		return BT_O_BAD;
	i = bt_opt_bound(d, 0, count, key, false); /* as bt_search_leaf() */
	if (i < count && OKEY(d, i) == key) {
		*outp = OVAL(d, i);
		return BT_O_FOUND;
	}
	return BT_O_ABSENT;
}

/*
 * The scan's step over an internal node: the child whose range holds
 * key, as bt_opt_step(), and the key that bounds that range above
 * (UINT64_MAX for the last child).  BT_O_FOUND means d is a leaf.
 */
__attribute__((no_sanitize("thread"))) static enum bt_opt
bt_opt_child_ub(const uint8_t *d, uint64_t key, unsigned maxelm,
    uint64_t *childp, uint64_t *ubp)
{
	unsigned type, count, i;

	type = le16toh(*(const volatile uint16_t *)(d + HL_NODE_OFF_TYPE));
	count = le16toh(*(const volatile uint16_t *)(d + HL_NODE_OFF_COUNT));
	if (count > maxelm)
		return BT_O_BAD;
	if (type == HL_NODE_LEAF)
		return BT_O_FOUND;
	if (type != HL_NODE_INTERNAL || count == 0)
		return BT_O_BAD;
	i = bt_opt_bound(d, 1, count, key, true);
	*childp = OVAL(d, i - 1);
	*ubp = i < count ? OKEY(d, i) : UINT64_MAX;
	return BT_O_CHILD;
}

/* Copy up to max elements of leaf d with keys >= from; -1: malformed. */
__attribute__((no_sanitize("thread"))) static int
bt_opt_copy(const uint8_t *d, uint64_t from, unsigned maxelm, uint64_t *keys,
    uint64_t *vals, unsigned max)
{
	unsigned count, i, n = 0;

	count = le16toh(*(const volatile uint16_t *)(d + HL_NODE_OFF_COUNT));
	if (count > maxelm)
		return -1;
	for (i = bt_opt_bound(d, 0, count, from, false); i < count && n < max;
	     i++, n++) {
		keys[n] = OKEY(d, i);
		vals[n] = OVAL(d, i);
	}
	return (int)n;
}

#undef OKEY
#undef OVAL

static inline bool
bt_rootver_idle(uint64_t v)
{
	return (v & 0xffffu) == 0;
}

/*
 * Where the lock-free walk stopped because a node was not resident: the
 * node it came from (validated after reading the child's offset, so that
 * was its child then), that node's level, and the child's offset.
 */
struct bt_miss {
	struct hl_node_peek parent;
	uint64_t coff;
	int level;
};

#define BT_NOTRESIDENT (-1) /* not an errno: see struct bt_miss */

/*
 * The start of a lock-free walk: peek the root node (*cur).  0, ENOENT
 * (the tree is empty), or EAGAIN (a root change raced).
 */
static int
bt_opt_root(struct hl_btree *bt, struct hl_node_peek *cur)
{
	uint64_t rv, root;

	rv = atomic_load_explicit(&bt->rootver, memory_order_acquire);
	if (!bt_rootver_idle(rv))
		return EAGAIN;
	root = hl_mount_root(bt->m);
	if (root == 0) {
		atomic_thread_fence(memory_order_acquire);
		return atomic_load_explicit(
			   &bt->rootver, memory_order_relaxed) == rv
			   ? ENOENT
			   : EAGAIN;
	}
	if (!hl_peek_node(bt->m, root, cur))
		return EAGAIN;
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&bt->rootver, memory_order_relaxed) != rv)
		return EAGAIN;
	return 0;
}

/* The walk stopped at parent *cur (at level): child is absent. */
static int
bt_opt_miss(struct bt_miss *miss, const struct hl_node_peek *cur,
    uint64_t child, int level)
{
	if (!hl_peek_valid(cur))
		return EAGAIN;
	miss->parent = *cur;
	miss->coff = child;
	miss->level = level;
	return BT_NOTRESIDENT;
}

/*
 * 0 or ENOENT: the answer; EAGAIN: no answer this time; BT_NOTRESIDENT:
 * a child is not in memory, *miss says where.
 */
static int
bt_get_optimistic(
    struct hl_btree *bt, uint64_t key, uint64_t *valp, struct bt_miss *miss)
{
	struct hl_node_peek cur, nxt;
	uint64_t out;
	int error, level;

	error = bt_opt_root(bt, &cur);
	if (error != 0)
		return error;
	for (level = 0; level < BT_MAXDEPTH; level++) {
		switch (bt_opt_step(cur.data, key, bt->maxelm, &out)) {
		case BT_O_CHILD:
			if (hl_peek_node(bt->m, out, &nxt)) {
				hl__race_window(); /* writers may change cur */
				if (!hl_peek_valid(&cur))
					return EAGAIN;
				cur = nxt;
				continue;
			}
			return bt_opt_miss(miss, &cur, out, level);
		case BT_O_FOUND:
			if (!hl_peek_valid(&cur))
				return EAGAIN;
			*valp = out;
			return 0;
		case BT_O_ABSENT:
			return hl_peek_valid(&cur) ? ENOENT : EAGAIN;
		case BT_O_BAD:
			return EAGAIN;
		}
	}
	return EAGAIN;
}

/*
 * The lock-free walk found the child at miss->coff not resident.  Load it
 * and lock it shared without holding its parent, then check the parent
 * again (hl_peek_valid): if the parent is still the node peeked, with the
 * same version, no change of it began since the walk read the offset, so
 * the offset named its child all along, and the child's bytes read under
 * its lock are the answer.  A writer that splits or removes a child
 * marks the parent first (its change is in progress, or counted, before
 * the child changes), which the check sees.  Taking the parent's
 * reference and lock instead wrote its refs and lockval on every miss:
 * a level-1 node's line that both threads' misses passed back and forth.
 * If the parent changed, the child loaded may be one its parent no longer
 * names, or a deleted node read from a stale offset: harmless, it is
 * released and stays an ordinary idle node (a later allocation of that
 * offset makes it new), and the walk runs again; a load error counts
 * only if the parent did not change.  Returns the answer, EAGAIN (parent
 * changed, or the child was an internal node, or valp is NULL: loaded,
 * walk again), or a load error.
 */
static int
bt_get_below(struct hl_btree *bt, const struct bt_miss *miss, uint64_t key,
    uint64_t *valp)
{
	struct hl_node *c;
	struct hl_trans t;
	int error;
	unsigned i;
	void *d;

	hl_trans_init(&t, bt->m);
	c = hl_get_node(&t, miss->coff, false, &error);
	hl__race_window(); /* the parent may change now */
	if (c == NULL)
		return hl_peek_valid(&miss->parent) ? error : EAGAIN;
	bt_lock(bt, hl_node_lock(c), miss->level + 1, false);
	if ((error = bt_node_ok(c)) == 0) {
		d = hl_node_data(c);
		if (bt_type(d) != HL_NODE_LEAF || valp == NULL) {
			error = EAGAIN;
		} else {
			i = bt_search_leaf(d, key);
			if (i < bt_count(d) && bt_key(d, i) == key) {
				*valp = bt_val(d, i);
				error = 0;
			} else {
				error = ENOENT;
			}
		}
	}
	/* After the reads under the lock (the fence in hl_peek_valid). */
	if (!hl_peek_valid(&miss->parent))
		error = EAGAIN;
	bt_put(bt, c, miss->level + 1);
	return error;
}

/* Root changes (a root split) are bracketed for the lock-free walk. */
static void
bt_rootver_begin(struct hl_btree *bt)
{
	atomic_fetch_add_explicit(&bt->rootver, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void
bt_rootver_end(struct hl_btree *bt)
{
	atomic_fetch_add_explicit(
	    &bt->rootver, 0x10000u - 1, memory_order_release);
}

int
hl_btree_get(struct hl_btree *bt, uint64_t key, uint64_t *valp)
{
	struct hl_node *leaf, *parent;
	struct bt_miss miss;
	struct hl_trans t;
	int error, level, tries;
	unsigned i;
	void *d;

	bt_stat(&BT_ST(bt)->gets);
	for (tries = 0; tries < BT_OPT_TRIES; tries++) {
		error = bt_get_optimistic(bt, key, valp, &miss);
		if (error == BT_NOTRESIDENT)
			error = bt_get_below(bt, &miss, key, valp);
		if (error != EAGAIN)
			return error;
		if (tries + 1 < BT_OPT_TRIES)
			bt_stat(&BT_ST(bt)->optimistic_retries);
	}
	bt_stat(&BT_ST(bt)->optimistic_fallbacks);
	hl_trans_init(&t, bt->m);
	error = bt_descend_sh(bt, &t, key, false, &leaf, &parent, &level, NULL);
	if (error)
		return error;
	d = hl_node_data(leaf);
	i = bt_search_leaf(d, key);
	if (i < bt_count(d) && bt_key(d, i) == key) {
		*valp = bt_val(d, i);
		error = 0;
	} else {
		error = ENOENT;
	}
	bt_put(bt, leaf, level);
	return error;
}

/* --- modifying one node --------------------------------------------------- */

static void
bt_insert_elm(void *d, unsigned i, uint64_t key, uint64_t v)
{
	unsigned n = bt_count(d);

	memmove(bt_elm(d, i + 1), bt_elm(d, i),
	    (size_t)(n - i) * HL_BTREE_ELM_SIZE);
	bt_set_elm(d, i, key, v);
	bt_set_count(d, n + 1);
}

static void
bt_remove_elm(void *d, unsigned i)
{
	unsigned n = bt_count(d);

	memmove(bt_elm(d, i), bt_elm(d, i + 1),
	    (size_t)(n - i - 1) * HL_BTREE_ELM_SIZE);
	memset(bt_elm(d, n - 1), 0, HL_BTREE_ELM_SIZE);
	bt_set_count(d, n - 1);
}

/*
 * Optimistic write on a leaf locked exclusive: put or delete without a
 * structural change.  Returns EAGAIN when one is needed.
 */
static int
bt_leaf_op(struct hl_btree *bt, struct hl_node *leaf, bool is_root, bool put,
    uint64_t key, uint64_t val)
{
	void *d = hl_node_data(leaf);
	unsigned i = bt_search_leaf(d, key), n = bt_count(d);
	bool found = i < n && bt_key(d, i) == key;
	int error;

	if (put && !found && n >= bt->maxelm)
		return EAGAIN; /* must split */
	if (!put && !found)
		return ENOENT;
	if (!put && n == 1 && !is_root)
		return EAGAIN; /* would empty: must be removed */
	if ((error = hl_modify_node(leaf)) != 0)
		return error;
	if (put && found)
		hl_le64_put(bt_elm(d, i) + ELM_VALUE, val);
	else if (put)
		bt_insert_elm(d, i, key, val);
	else
		bt_remove_elm(d, i);
	hl_modify_node_done(leaf);
	return 0;
}

static int
bt_write_optimistic(struct hl_btree *bt, struct hl_trans *t, bool put,
    uint64_t key, uint64_t val)
{
	struct hl_node *leaf, *parent;
	int error, level;

	error = bt_descend_sh(bt, t, key, true, &leaf, &parent, &level, NULL);
	if (error)
		return error == ENOENT && put ? EAGAIN : error;
	if (hl_lock_upgrade(hl_node_lock(leaf), 1) != 0) {
		/* Other readers: relock exclusive under the parent. */
		bt_stat(&BT_ST(bt)->upgrade_deadlocks);
		bt_unlock(bt, hl_node_lock(leaf), level);
		hl__race_window(); /* other readers and writers get in */
		bt_lock(bt, hl_node_lock(leaf), level, true);
	}
	error = bt_leaf_op(bt, leaf, parent == NULL, put, key, val);
	bt_put(bt, leaf, level);
	if (parent != NULL)
		bt_put(bt, parent, level - 1);
	else
		bt_unlock(bt, &bt->rootlock, BT_ROOTLVL);
	return error;
}

/* --- pessimistic mode ------------------------------------------------------
 */

struct bt_path {
	struct hl_node *n[BT_MAXDEPTH];
	unsigned idx[BT_MAXDEPTH]; /* child index taken at each level */
	int first;		   /* first level still held */
	int depth;		   /* levels walked: the leaf is depth - 1 */
	bool rootlock;		   /* root lock still held (exclusive) */
};

/*
 * Lock a node of the held path exclusive, and mark it changing for the
 * lock-free readers (hl_node_change_begin) until path_put(): a split or a
 * removal changes a child before its parent, and a reader must not pair
 * the parent it validated with the child's new content.
 */
static void
path_lock(struct hl_btree *bt, struct hl_node *n, int level)
{
	bt_lock(bt, hl_node_lock(n), level, true);
	if (!bt->inject_nomark)
		hl_node_change_begin(n);
}

static void
path_put(struct hl_btree *bt, struct hl_node *n, int level)
{
	if (!bt->inject_nomark)
		hl_node_change_end(n);
	bt_put(bt, n, level);
}

static void
path_release_above(struct hl_btree *bt, struct bt_path *p, int level)
{
	for (int i = p->first; i < level; i++)
		path_put(bt, p->n[i], i);
	if (p->first < level)
		p->first = level;
	if (p->rootlock) {
		bt_unlock(bt, &bt->rootlock, BT_ROOTLVL);
		p->rootlock = false;
	}
}

static void
path_release(struct hl_btree *bt, struct bt_path *p)
{
	path_release_above(bt, p, p->depth);
}

static bool
bt_safe(struct hl_btree *bt, void *d, bool put)
{
	return put ? bt_count(d) < bt_cap(bt, d) : bt_count(d) > 1;
}

/*
 * Everything an insert's splits will need, gathered before anything is
 * changed, so that an allocation or read failure leaves the tree as it
 * was: the new nodes (one per splitting level, leaf first, then a new
 * root if the root splits) and, for each internal node that splits, a
 * reference on each child that will move (loaded, so that fixing its
 * parent field cannot fail on a read).
 */
struct bt_prep {
	struct hl_node *fresh[BT_MAXDEPTH + 1];
	int nfresh, used;
	struct hl_node **kids[BT_MAXDEPTH]; /* by level */
	unsigned nkids[BT_MAXDEPTH];
};

/* Free a node that was unlinked from the tree (the caller unlocks it). */
static void
bt_drop_node(struct hl_btree *bt, struct hl_node *n)
{
	if (hl_modify_node(n) == 0) {
		bt_set_type(hl_node_data(n), HL_NODE_DELETED);
		bt_set_count(hl_node_data(n), 0);
		hl_modify_node_done(n);
	}
	hl_delete_node(n);
	hl__node_free(bt, hl_node_offset(n));
	bt_stat(&BT_ST(bt)->removals);
}

static void
prep_release(struct hl_btree *bt, struct bt_prep *pr)
{
	for (int i = 0; i < pr->nfresh; i++) {
		struct hl_node *f = pr->fresh[i];

		if (i >= pr->used) {
			/* Never linked: nothing points to it, so its slot
			 * is free at once (not at the next sync). */
			if (hl_modify_node(f) == 0) {
				bt_set_type(hl_node_data(f), HL_NODE_DELETED);
				hl_modify_node_done(f);
			}
			hl_delete_node(f);
			hl__node_free_now(bt, hl_node_offset(f));
		}
		hl_rel_node(f);
	}
	for (int l = 0; l < BT_MAXDEPTH; l++) {
		for (unsigned i = 0; i < pr->nkids[l]; i++)
			hl_rel_node(pr->kids[l][i]);
		free(pr->kids[l]);
	}
	memset(pr, 0, sizeof(*pr));
}

/*
 * The leaf p->n[k] is full: prepare the splits from it up to the first
 * node with room (held, as the descent kept every unsafe ancestor), or a
 * new root.
 */
static int
prep_splits(struct hl_btree *bt, struct hl_trans *t, struct bt_path *p, int k,
    struct bt_prep *pr)
{
	int j = k, l, error = 0;

	memset(pr, 0, sizeof(*pr));
	while (j >= p->first && bt_count(hl_node_data(p->n[j])) >=
				    bt_cap(bt, hl_node_data(p->n[j])))
		j--;
	if (j < p->first && (p->first > 0 || !p->rootlock))
		hl__fatal("hl_btree_put", hl_node_lock(p->n[p->first]),
		    "full node's parent is not held");
	for (l = k; l > j && error == 0; l--) {
		void *d = hl_node_data(p->n[l]);

		error = hl__node_alloc(
		    bt, t, bt_type(d), bt_parent(d), &pr->fresh[pr->nfresh]);
		if (error == 0)
			pr->nfresh++;
	}
	if (error == 0 && j < 0) {
		error = hl__node_alloc(
		    bt, t, HL_NODE_INTERNAL, 0, &pr->fresh[pr->nfresh]);
		if (error == 0)
			pr->nfresh++;
	}
	for (l = k - 1; l > j && error == 0; l--) {
		void *d = hl_node_data(p->n[l]);
		unsigned n = bt_count(d), half = n / 2;

		pr->kids[l] = calloc(n - half, sizeof(*pr->kids[l]));
		if (pr->kids[l] == NULL) {
			error = ENOMEM;
			break;
		}
		for (unsigned i = half; i < n && error == 0; i++) {
			struct hl_node *c = hl_get_node(t,
			    hl_le64_get(bt_elm(d, i) + ELM_CHILD), false,
			    &error);

			if (c != NULL)
				pr->kids[l][pr->nkids[l]++] = c;
		}
	}
	if (error)
		prep_release(bt, pr);
	return error;
}

/*
 * Set the parent field of node c at level `level'.  held: c is on the
 * held path; mine: c was created by this operation and is reachable only
 * through nodes we hold exclusive; otherwise c is locked here (the caller
 * holds nothing at or below that level).  Cannot fail: every node is
 * referenced and loaded, and the mount is writable.
 */
static void
bt_set_parent_of(struct hl_btree *bt, struct hl_node *c, uint64_t parent,
    int level, bool lock)
{
	if (lock)
		bt_lock(bt, hl_node_lock(c), level, true);
	if (hl_modify_node(c) != 0)
		hl__fatal("hl_btree_put", hl_node_lock(c),
		    "cannot modify a node of a writable tree");
	bt_set_parent(hl_node_data(c), parent);
	hl_modify_node_done(c);
	if (lock)
		bt_unlock(bt, hl_node_lock(c), level);
}

/*
 * Split full node p->n[k] into the next prepared node: the upper half
 * moves.  Returns the new node (unlocked, not yet linked) and its
 * separator.
 */
static struct hl_node *
bt_split(struct hl_btree *bt, struct bt_path *p, int k, struct bt_prep *pr,
    uint64_t *sepp)
{
	struct hl_node *l = p->n[k], *r = pr->fresh[pr->used++];
	void *ld = hl_node_data(l), *rd = hl_node_data(r);
	unsigned n = bt_count(ld), half = n / 2;

	if (hl_modify_node(r) != 0 || hl_modify_node(l) != 0)
		hl__fatal("hl_btree_put", hl_node_lock(l),
		    "cannot modify a node of a writable tree");
	memcpy(bt_elm(rd, 0), bt_elm(ld, half),
	    (size_t)(n - half) * HL_BTREE_ELM_SIZE);
	memset(bt_elm(ld, half), 0, (size_t)(n - half) * HL_BTREE_ELM_SIZE);
	bt_set_count(rd, n - half);
	bt_set_count(ld, half);
	hl_modify_node_done(l);
	hl_modify_node_done(r);
	*sepp = bt_key(rd, 0);
	bt_stat(&BT_ST(bt)->splits);
	for (unsigned i = 0; i < pr->nkids[k]; i++)
		bt_set_parent_of(
		    bt, pr->kids[k][i], hl_node_offset(r), k + 1, true);
	return r;
}

/* Insert into a node with room (ours: held, or created by us). */
static void
bt_insert_into(struct hl_node *node, uint64_t key, uint64_t v)
{
	void *d = hl_node_data(node);
	unsigned i;

	if (hl_modify_node(node) != 0)
		hl__fatal("hl_btree_put", hl_node_lock(node),
		    "cannot modify a node of a writable tree");
	i = bt_type(d) == HL_NODE_LEAF ? bt_search_leaf(d, key)
				       : bt_search_internal(d, key) + 1;
	bt_insert_elm(d, i, key, v);
	hl_modify_node_done(node);
}

/*
 * Insert (key, v) at level k of the held path (v: a value in a leaf; in
 * an internal node, vn, the node this operation created one level down),
 * splitting up the path with the prepared nodes.  Cannot fail.
 */
static void
bt_insert_at(struct hl_btree *bt, struct bt_path *p, int k, struct bt_prep *pr,
    uint64_t key, uint64_t v, struct hl_node *vn)
{
	struct hl_node *node = p->n[k], *r, *nr, *tn;
	void *d = hl_node_data(node);
	uint64_t sep;

	if (bt_count(d) < bt_cap(bt, d)) {
		/* vn was created with node as its parent. */
		bt_insert_into(node, key, v);
		return;
	}
	/*
	 * Node k splits.  Everything below it is complete: release it, so
	 * that the children that move can be locked in order.
	 */
	while (p->depth > k + 1) {
		p->depth--;
		path_put(bt, p->n[p->depth], p->depth);
	}
	if (k == 0)
		bt_rootver_begin(bt); /* ends once the new root is set */
	r = bt_split(bt, p, k, pr, &sep);
	tn = key >= sep ? r : node;
	bt_insert_into(tn, key, v);
	if (bt->inject_nomark)
		sched_yield(); /* widen the injected bug's window (debug) */
	if (vn != NULL)
		bt_set_parent_of(bt, vn, hl_node_offset(tn), k + 1, false);
	if (k > 0) {
		bt_insert_at(bt, p, k - 1, pr, sep, hl_node_offset(r), r);
		return;
	}
	/* The root split: the root lock is held exclusive. */
	if (!p->rootlock)
		hl__fatal("hl_btree_put", &bt->rootlock,
		    "root split without the root lock");
	nr = pr->fresh[pr->used++];
	if (hl_modify_node(nr) != 0)
		hl__fatal("hl_btree_put", hl_node_lock(nr),
		    "cannot modify a node of a writable tree");
	bt_set_elm(hl_node_data(nr), 0, bt_key(d, 0), hl_node_offset(node));
	bt_set_elm(hl_node_data(nr), 1, sep, hl_node_offset(r));
	bt_set_count(hl_node_data(nr), 2);
	hl_modify_node_done(nr);
	bt_set_parent_of(bt, node, hl_node_offset(nr), 0, false);
	bt_set_parent_of(bt, r, hl_node_offset(nr), 0, false);
	hl_mount_set_root(bt->m, hl_node_offset(nr));
	bt_rootver_end(bt);
}

/*
 * Remove element i at level k of the held path; an emptied node is
 * unlinked from its parent (held) and freed, recursively.
 */
static int
bt_remove_at(struct hl_btree *bt, struct bt_path *p, int k, unsigned i)
{
	struct hl_node *node = p->n[k];
	void *d = hl_node_data(node);
	int error;

	if ((error = hl_modify_node(node)) != 0)
		return error;
	bt_remove_elm(d, i);
	hl_modify_node_done(node);
	if (bt_count(d) > 0)
		return 0;
	if (k == 0) {
		/* The root emptied: an empty leaf stays; an internal goes. */
		if (bt_type(d) == HL_NODE_INTERNAL) {
			hl_mount_set_root(bt->m, 0);
			bt_drop_node(bt, node);
		}
		return 0;
	}
	if (k <= p->first)
		hl__fatal("hl_btree_del", hl_node_lock(node),
		    "emptied node's parent is not held");
	error = bt_remove_at(bt, p, k - 1, p->idx[k - 1]);
	bt_drop_node(bt, node);
	return error;
}

static int
bt_write_pessimistic(struct hl_btree *bt, struct hl_trans *t, bool put,
    uint64_t key, uint64_t val)
{
	struct bt_path p = {.first = 0, .depth = 0, .rootlock = true};
	struct hl_node *n, *c;
	uint64_t root;
	int error = 0, k;
	void *d;

	bt_lock(bt, &bt->rootlock, BT_ROOTLVL, true);
	root = hl_mount_root(bt->m);
	if (root == 0) {
		if (!put) {
			bt_unlock(bt, &bt->rootlock, BT_ROOTLVL);
			return ENOENT;
		}
		error = hl__node_alloc(bt, t, HL_NODE_LEAF, 0, &n);
		if (error == 0) {
			hl_mount_set_root(bt->m, hl_node_offset(n));
			hl_rel_node(n);
		}
		bt_unlock(bt, &bt->rootlock, BT_ROOTLVL);
		return error ? error : EAGAIN; /* again, with a root */
	}
	n = hl_get_node(t, root, false, &error);
	if (n == NULL) {
		bt_unlock(bt, &bt->rootlock, BT_ROOTLVL);
		return error;
	}
	path_lock(bt, n, 0);
	p.n[0] = n;
	p.depth = 1;
	for (k = 0;; k++) {
		if ((error = bt_node_ok(n)) != 0)
			goto out;
		d = hl_node_data(n);
		if (bt_safe(bt, d, put))
			path_release_above(bt, &p, k);
		if (bt_type(d) == HL_NODE_LEAF)
			break;
		if (k + 1 >= BT_MAXDEPTH) {
			error = EIO;
			goto out;
		}
		p.idx[k] = bt_search_internal(d, key);
		c = hl_get_node(t, hl_le64_get(bt_elm(d, p.idx[k]) + ELM_CHILD),
		    false, &error);
		if (c == NULL)
			goto out;
		path_lock(bt, c, k + 1);
		p.n[k + 1] = c;
		p.depth = k + 2;
		n = c;
	}
	/* n = p.n[k] is the leaf, exclusive, with what it needs above. */
	{
		unsigned i = bt_search_leaf(d, key);
		bool found = i < bt_count(d) && bt_key(d, i) == key;

		if (put && found) {
			if ((error = hl_modify_node(n)) == 0) {
				hl_le64_put(bt_elm(d, i) + ELM_VALUE, val);
				hl_modify_node_done(n);
			}
		} else if (put && bt_count(d) < bt->maxelm) {
			bt_insert_into(n, key, val);
		} else if (put) {
			struct bt_prep pr;

			error = prep_splits(bt, t, &p, k, &pr);
			if (error == 0) {
				bt_insert_at(bt, &p, k, &pr, key, val, NULL);
				prep_release(bt, &pr);
			}
		} else if (!found) {
			error = ENOENT;
		} else {
			error = bt_remove_at(bt, &p, k, i);
		}
	}
out:
	path_release(bt, &p);
	return error;
}

static int
bt_write(struct hl_btree *bt, bool put, uint64_t key, uint64_t val)
{
	struct hl_trans t;
	int error, tries;

	hl_trans_init(&t, bt->m);
	error = bt_write_optimistic(bt, &t, put, key, val);
	for (tries = 0; error == EAGAIN && tries < 4; tries++) {
		bt_stat(&BT_ST(bt)->restarts);
		error = bt_write_pessimistic(bt, &t, put, key, val);
	}
	return error;
}

int
hl_btree_put(struct hl_btree *bt, uint64_t key, uint64_t val)
{
	bt_stat(&BT_ST(bt)->puts);
	return bt_write(bt, true, key, val);
}

int
hl_btree_del(struct hl_btree *bt, uint64_t key)
{
	bt_stat(&BT_ST(bt)->dels);
	return bt_write(bt, false, key, 0);
}

/* --- handle ----------------------------------------------------------------
 */

int
hl_btree_open(struct hl_mount *m, struct hl_btree **btp)
{
	struct hl_btree *bt = calloc(1, sizeof(*bt));
	int error;

	*btp = NULL;
	if (bt == NULL)
		return ENOMEM;
	bt->m = m;
	bt->ns = hl_mount_node_size(m);
	bt->maxelm = HL_NODE_MAX_ELMS(bt->ns);
	bt->maxint =
	    bt->maxelm < BT_INTERNAL_MAX ? bt->maxelm : BT_INTERNAL_MAX;
	bt->nvol = hl_mount_nvolumes(m);
	if (hl_debug) {
		const char *inj = getenv("HL_BTREE_INJECT");

		bt->inject_nomark = inj != NULL && strcmp(inj, "nomark") == 0;
	}
	hl_lock_init(&bt->rootlock);
	/* A permanent reference (locks need one), taken as a first one. */
	if (hl_ref_interlock(&bt->rootlock))
		hl_ref_interlock_done(&bt->rootlock);
	pthread_mutex_init(&bt->pend_lock, NULL);
	if (bt->maxelm < 4) {
		free(bt);
		return EINVAL;
	}
	error = hl__fmap_open(bt);
	if (error) {
		pthread_mutex_destroy(&bt->pend_lock);
		free(bt);
		return error;
	}
	*btp = bt;
	return 0;
}

void
hl_btree_close(struct hl_btree *bt)
{
	hl__fmap_close(bt);
	pthread_mutex_destroy(&bt->pend_lock);
	free(bt->pend);
	free(bt);
}

int
hl_btree_sync(struct hl_btree *bt, char *why, size_t whylen)
{
	int error = hl__fmap_apply_pending(bt);

	if (error)
		return error;
	return hl_mount_sync(bt->m, why, whylen);
}

/* --- statistics ----------------------------------------------------------- */

#define BTST(f) HL_STRIPE_SUM(bt->st, BT_STRIPES, f)

void
hl_btree_stats(struct hl_btree *bt, struct hl_btree_stats *st)
{
	st->gets = BTST(gets);
	st->puts = BTST(puts);
	st->dels = BTST(dels);
	st->scans = BTST(scans);
	st->restarts = BTST(restarts);
	st->upgrade_deadlocks = BTST(upgrade_deadlocks);
	st->splits = BTST(splits);
	st->removals = BTST(removals);
	st->allocs = BTST(allocs);
	st->frees = BTST(frees);
	st->optimistic_retries = BTST(optimistic_retries);
	st->optimistic_fallbacks = BTST(optimistic_fallbacks);
}

/* --- cursors ----------------------------------------------------------------
 */

#define BT_BATCH 64

struct hl_btree_cursor {
	struct hl_btree *bt;
	uint64_t keys[BT_BATCH], vals[BT_BATCH];
	unsigned pos, n;
	uint64_t last; /* last key returned */
	bool any;      /* a key was returned */
};

int
hl_btree_cursor_open(struct hl_btree *bt, struct hl_btree_cursor **cp)
{
	struct hl_btree_cursor *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return ENOMEM;
	c->bt = bt;
	*cp = c;
	return 0;
}

void
hl_btree_cursor_close(struct hl_btree_cursor *c)
{
	free(c);
}

/*
 * The lock-free form of one cursor_fill() step: walk to the leaf for from
 * as hl_btree_get() does, noting the upper bound of each child's range,
 * and copy the leaf's keys >= from into the batch; the leaf's version
 * check then makes the copy one state of the leaf.  0 (the batch, maybe
 * empty, and *ubp: where the next leaf's range starts), ENOENT (empty
 * tree), EAGAIN, or BT_NOTRESIDENT (*miss).
 */
static int
cursor_fill_opt(struct hl_btree_cursor *c, uint64_t from, uint64_t *ubp,
    struct bt_miss *miss)
{
	struct hl_btree *bt = c->bt;
	struct hl_node_peek cur, nxt;
	uint64_t child, ub = UINT64_MAX, nub = UINT64_MAX;
	int error, level, n;

	if ((error = bt_opt_root(bt, &cur)) != 0)
		return error;
	for (level = 0; level < BT_MAXDEPTH; level++) {
		switch (
		    bt_opt_child_ub(cur.data, from, bt->maxelm, &child, &nub)) {
		case BT_O_CHILD:
			if (!hl_peek_node(bt->m, child, &nxt))
				return bt_opt_miss(miss, &cur, child, level);
			hl__race_window(); /* writers may change cur */
			if (!hl_peek_valid(&cur))
				return EAGAIN;
			if (nub < ub)
				ub = nub;
			cur = nxt;
			continue;
		case BT_O_FOUND:
			n = bt_opt_copy(cur.data, from, bt->maxelm, c->keys,
			    c->vals, BT_BATCH);
			if (n < 0 || !hl_peek_valid(&cur))
				return EAGAIN;
			c->n = (unsigned)n;
			*ubp = ub;
			return 0;
		default:
			return EAGAIN;
		}
	}
	return EAGAIN;
}

/*
 * Fill the batch with the keys >= from of the first leaf, in key order,
 * that has any: each leaf is read whole, without locks (cursor_fill_opt)
 * or under its shared lock, and the next leaf is found by its lower
 * bound, so a key present throughout is never skipped.  A leaf that is
 * not resident is loaded below its parent (bt_get_below()); a walk that
 * keeps failing takes the locked descent.
 */
static int
cursor_fill(struct hl_btree_cursor *c, uint64_t from)
{
	struct hl_btree *bt = c->bt;
	struct hl_node *leaf, *parent;
	struct bt_miss miss;
	struct hl_trans t;
	uint64_t ub;
	int error, level, tries = 0;

	c->pos = c->n = 0;
	while (tries < BT_OPT_TRIES) {
		error = cursor_fill_opt(c, from, &ub, &miss);
		if (error == BT_NOTRESIDENT)
			error = bt_get_below(bt, &miss, from, NULL);
		if (error == EAGAIN) {
			c->n = 0;
			tries++;
			continue;
		}
		if (error != 0 || c->n > 0)
			return error;
		if (ub == UINT64_MAX)
			return ENOENT;
		from = ub; /* an empty leaf: the next one's range */
		tries = 0;
	}
	bt_stat(&BT_ST(bt)->optimistic_fallbacks);
	hl_trans_init(&t, bt->m);
	for (;;) {
		error = bt_descend_sh(
		    bt, &t, from, false, &leaf, &parent, &level, &ub);
		if (error)
			return error;
		void *d = hl_node_data(leaf);
		unsigned i = bt_search_leaf(d, from), cnt = bt_count(d);

		for (; i < cnt && c->n < BT_BATCH; i++) {
			c->keys[c->n] = bt_key(d, i);
			c->vals[c->n++] = bt_val(d, i);
		}
		bt_put(bt, leaf, level);
		if (c->n > 0)
			return 0;
		if (ub == UINT64_MAX)
			return ENOENT;
		from = ub; /* the next leaf's range starts there */
	}
}

static int
cursor_take(struct hl_btree_cursor *c, uint64_t *keyp, uint64_t *valp)
{
	c->last = c->keys[c->pos];
	c->any = true;
	*keyp = c->keys[c->pos];
	if (valp != NULL)
		*valp = c->vals[c->pos];
	c->pos++;
	return 0;
}

int
hl_btree_seek(
    struct hl_btree_cursor *c, uint64_t key, uint64_t *keyp, uint64_t *valp)
{
	int error;

	bt_stat(&BT_ST(c->bt)->scans);
	c->any = false;
	error = cursor_fill(c, key);
	if (error)
		return error;
	return cursor_take(c, keyp, valp);
}

int
hl_btree_first(struct hl_btree_cursor *c, uint64_t *keyp, uint64_t *valp)
{
	return hl_btree_seek(c, 0, keyp, valp);
}

int
hl_btree_next(struct hl_btree_cursor *c, uint64_t *keyp, uint64_t *valp)
{
	int error;

	if (c->pos < c->n)
		return cursor_take(c, keyp, valp);
	if (!c->any || c->last == UINT64_MAX)
		return ENOENT;
	error = cursor_fill(c, c->last + 1);
	if (error)
		return error;
	return cursor_take(c, keyp, valp);
}
