/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check.c - hl_btree_check(): verify the structure of a quiescent tree
 * and that the free map agrees with it.
 *
 * The tree is walked depth first from the root with an explicit stack;
 * one node is referenced and locked shared at a time.  Each stack entry
 * carries what the node must satisfy: the offset of the node pointing to
 * it (its parent field must name it), the key bounds its parent gives it,
 * and its depth.  Every node reached is remembered (offset -> the node it
 * was first reached from) to find nodes reachable twice, and serves the
 * second pass: every slot of every volume's free map must be marked used
 * exactly when it holds a reachable node or a free-map node.
 *
 * Frees deferred to the next sync (bt->pend) keep their slots marked used
 * while nothing points to them any more: such a slot is expected used
 * and not a leak.  The checker is meant for a synced tree, but a tree
 * with pending frees is just as consistent, so it is not a problem.
 *
 * A node that cannot be read, is not a tree node, or a child offset that
 * is not a node slot, hides a subtree: its nodes look unreachable.  Then
 * the used-but-unreachable slots are counted as one problem instead of
 * being listed (they would be noise, not separate faults).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "btree_internal.h"

#define U(x) ((unsigned long long)(x))

/* --- a set of offsets, each with a value ---------------------------------- */

struct chk_set {
	uint64_t *key; /* 0: empty (offset 0 is never a node) */
	uint64_t *val;
	size_t cap, n; /* cap a power of two */
};

static size_t
set_slot(const struct chk_set *s, uint64_t key)
{
	/* Offsets are node aligned and differ in high bits (volume):
	 * mix every bit into the low ones (splitmix64's finalizer). */
	key ^= key >> 30;
	key *= 0xBF58476D1CE4E5B9ULL;
	key ^= key >> 27;
	key *= 0x94D049BB133111EBULL;
	key ^= key >> 31;
	return (size_t)key & (s->cap - 1);
}

static bool
set_get(const struct chk_set *s, uint64_t key, uint64_t *valp)
{
	size_t i;

	if (s->cap == 0)
		return false;
	for (i = set_slot(s, key); s->key[i] != 0; i = (i + 1) & (s->cap - 1))
		if (s->key[i] == key) {
			if (valp != NULL)
				*valp = s->val[i];
			return true;
		}
	return false;
}

static int set_add(struct chk_set *s, uint64_t key, uint64_t val);

static int
set_grow(struct chk_set *s)
{
	struct chk_set o = *s;
	size_t ncap = o.cap ? 2 * o.cap : 1024;

	s->key = calloc(ncap, sizeof(*s->key));
	s->val = calloc(ncap, sizeof(*s->val));
	if (s->key == NULL || s->val == NULL) {
		free(s->key);
		free(s->val);
		*s = o;
		return ENOMEM;
	}
	s->cap = ncap;
	s->n = 0;
	for (size_t i = 0; i < o.cap; i++)
		if (o.key[i] != 0)
			(void)set_add(s, o.key[i], o.val[i]);
	free(o.key);
	free(o.val);
	return 0;
}

/* Add key (absent: the caller looked) with val. */
static int
set_add(struct chk_set *s, uint64_t key, uint64_t val)
{
	size_t i;
	int error;

	if (2 * (s->n + 1) > s->cap && (error = set_grow(s)) != 0)
		return error;
	for (i = set_slot(s, key); s->key[i] != 0; i = (i + 1) & (s->cap - 1))
		;
	s->key[i] = key;
	s->val[i] = val;
	s->n++;
	return 0;
}

static void
set_free(struct chk_set *s)
{
	free(s->key);
	free(s->val);
	memset(s, 0, sizeof(*s));
}

/* --- the walk ------------------------------------------------------------- */

/* A node to visit, and what it must satisfy. */
struct chk_ent {
	uint64_t off;
	uint64_t parent; /* node pointing to it; 0 for the root */
	uint64_t lo, hi; /* its keys are >= lo, and < hi when hashi */
	uint32_t depth;	 /* 0: the root */
	uint32_t elm;	 /* element of the parent pointing to it */
	bool hashi;
};

struct chk {
	struct hl_btree *bt;
	struct hl_trans t;
	uint32_t bs; /* buffer size */
	hl_btree_report_fn report;
	void *arg;
	uint64_t nproblems;
	struct hl_btree_shape shape;

	struct chk_ent *stack;
	size_t nstack, capstack;
	struct chk_set seen; /* reachable: offset -> node reached from */
	struct chk_set pend; /* pending frees: offset -> 1 */
	bool partial;	     /* some subtree could not be walked */
	bool leafdepth_set;
	uint32_t leafdepth;
};

static void __attribute__((format(printf, 3, 4)))
problem(struct chk *c, uint64_t off, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->nproblems++;
	if (c->report != NULL)
		c->report(c->arg, off, msg);
}

static const char *
type_name(unsigned type)
{
	static const char *const names[] = {
	    "FREE", "INTERNAL", "LEAF", "DELETED", "RAW"};

	return type <= HL_NODE_TYPE_MAX ? names[type] : "unknown";
}

/* Where entry e was reached from, for messages. */
static const char *
from(const struct chk_ent *e, char *buf, size_t len)
{
	if (e->parent == 0)
		return "the root pointer";
	snprintf(buf, len, "%#llx element %u", U(e->parent), e->elm);
	return buf;
}

static uint64_t
slot_off(struct chk *c, int vol, uint64_t slot)
{
	return HL_OFF_MAKE((uint64_t)vol, c->bs + slot * c->bt->ns);
}

/*
 * Whether off may name a tree node: zone 2, an existing volume, node
 * aligned, in a data buffer inside the volume, not in the free map.
 * Returns NULL if so, else what is wrong.
 */
static const char *
bad_node_off(struct chk *c, uint64_t off)
{
	struct hl_btree *bt = c->bt;
	uint64_t shrt = HL_OFF_SHORT(off);

	if (HL_OFF_ZONE(off) != HL_ZONE_RAW)
		return "not in zone 2";
	if ((int)HL_OFF_VOL(off) >= bt->nvol)
		return "in a volume the mount does not have";
	if ((shrt & (bt->ns - 1)) != 0)
		return "not aligned to the node size";
	if (shrt < c->bs)
		return "in the volume header buffer";
	if ((shrt - c->bs) / bt->ns >= bt->fmap[HL_OFF_VOL(off)].nslots)
		return "past the end of its volume";
	if (hl__fmap_is_map_node(bt, off))
		return "a free-map node";
	return NULL;
}

static int
push(struct chk *c, const struct chk_ent *e)
{
	if (c->nstack == c->capstack) {
		size_t ncap = c->capstack ? 2 * c->capstack : 256;
		struct chk_ent *p = realloc(c->stack, ncap * sizeof(*p));

		if (p == NULL)
			return ENOMEM;
		c->stack = p;
		c->capstack = ncap;
	}
	c->stack[c->nstack++] = *e;
	return 0;
}

/* Check the node of entry e (data d, locked); push its children. */
static int
check_node(struct chk *c, const struct chk_ent *e, void *d)
{
	struct hl_btree *bt = c->bt;
	unsigned type = bt_type(d), cnt = bt_count(d), i, i0;
	uint64_t key, prev = 0;
	char fb[48];
	int error;

	if (type != HL_NODE_LEAF && type != HL_NODE_INTERNAL) {
		problem(c, e->off,
		    "not a tree node: type %u (%s), count %u, reached from %s",
		    type, type_name(type), cnt, from(e, fb, sizeof(fb)));
		c->partial = true;
		return 0;
	}
	if (bt_parent(d) != e->parent)
		problem(c, e->off,
		    "parent field is %#llx, but the node is reached from %s",
		    U(bt_parent(d)), from(e, fb, sizeof(fb)));
	if (cnt > bt->maxelm) {
		problem(c, e->off,
		    "%s node: count %u, more than the %u "
		    "elements a node holds",
		    type_name(type), cnt, bt->maxelm);
		cnt = bt->maxelm;
		c->partial = true;
	}
	if (cnt == 0 && type == HL_NODE_INTERNAL)
		problem(c, e->off, "internal node with no element");
	else if (cnt == 0 && e->depth != 0)
		problem(c, e->off, "empty leaf (not the root) at depth %u",
		    e->depth);

	/*
	 * Keys: strictly increasing, inside the bounds from the parent.
	 * Not elm[0].key of an internal node: no search reads it (child 0
	 * takes every key below elm[1].key), and the tree does not keep it
	 * below the keys that arrive later, so a separator from a split of
	 * child 0 may be lower.
	 */
	i0 = type == HL_NODE_INTERNAL ? 1 : 0;
	for (i = i0; i < cnt; i++) {
		key = bt_key(d, i);
		if (i > i0 && key <= prev)
			problem(c, e->off,
			    "%s key order: element %u key %#llx is not above "
			    "element %u key %#llx",
			    type_name(type), i, U(key), i - 1, U(prev));
		if (key < e->lo)
			problem(c, e->off,
			    "%s element %u key %#llx is below the lower bound "
			    "%#llx given by %#llx element %u",
			    type_name(type), i, U(key), U(e->lo), U(e->parent),
			    e->elm);
		if (e->hashi && key >= e->hi)
			problem(c, e->off,
			    "%s element %u key %#llx is not below the upper "
			    "bound %#llx given by %#llx element %u",
			    type_name(type), i, U(key), U(e->hi), U(e->parent),
			    e->elm);
		prev = key;
	}

	if (type == HL_NODE_LEAF) {
		c->shape.leaves++;
		c->shape.keys += cnt;
		if (!c->leafdepth_set) {
			c->leafdepth_set = true;
			c->leafdepth = e->depth;
		} else if (e->depth != c->leafdepth) {
			problem(c, e->off,
			    "leaf at depth %u, but the first leaf found is at "
			    "depth %u",
			    e->depth, c->leafdepth);
		}
		return 0;
	}
	c->shape.internal++;

	/*
	 * Children, pushed last to first so that they are visited in key
	 * order.  Child i holds [elm[i].key, elm[i + 1].key); child 0
	 * holds every key below elm[1].key down to this node's own lower
	 * bound (elm[0].key bounds nothing, see above).
	 */
	for (i = cnt; i-- > 0;) {
		struct chk_ent ce = {
		    .off = hl_le64_get(bt_elm(d, i) + ELM_CHILD),
		    .parent = e->off,
		    .lo = i == 0 ? e->lo : bt_key(d, i),
		    .hi = i + 1 < cnt ? bt_key(d, i + 1) : e->hi,
		    .hashi = i + 1 < cnt ? true : e->hashi,
		    .depth = e->depth + 1,
		    .elm = i,
		};
		const char *bad = bad_node_off(c, ce.off);

		if (bad != NULL) {
			problem(c, e->off, "element %u: child %#llx is %s", i,
			    U(ce.off), bad);
			c->partial = true;
			continue;
		}
		if ((error = push(c, &ce)) != 0)
			return error;
	}
	return 0;
}

static int
walk(struct chk *c)
{
	struct hl_btree *bt = c->bt;
	struct chk_ent e = {0};
	struct hl_node *n;
	uint64_t first;
	const char *bad;
	char fb[48], fb2[24];
	int error;

	hl_lock_sh(&bt->rootlock);
	e.off = hl_mount_root(bt->m);
	hl_unlock(&bt->rootlock);
	if (e.off == 0)
		return 0; /* an empty tree */
	if ((bad = bad_node_off(c, e.off)) != NULL) {
		problem(c, e.off, "the root %#llx is %s", U(e.off), bad);
		c->partial = true;
		return 0;
	}
	if ((error = push(c, &e)) != 0)
		return error;
	while (c->nstack > 0) {
		e = c->stack[--c->nstack];
		/* Marked when visited, so that key order decides which
		 * path to a shared node is the first one. */
		if (set_get(&c->seen, e.off, &first)) {
			if (first == 0)
				snprintf(fb2, sizeof(fb2), "the root pointer");
			else
				snprintf(fb2, sizeof(fb2), "%#llx", U(first));
			problem(c, e.off,
			    "node reachable twice: from %s, and before from %s",
			    from(&e, fb, sizeof(fb)), fb2);
			continue;
		}
		if ((error = set_add(&c->seen, e.off, e.parent)) != 0)
			return error;
		n = hl_get_node(&c->t, e.off, false, &error);
		if (n == NULL) {
			if (error == ENOMEM)
				return error;
			problem(c, e.off,
			    "node cannot be read: %s (error %d), reached from "
			    "%s",
			    error == EDOM ? "bad CRC or malformed header"
					  : "read failed",
			    error, from(&e, fb, sizeof(fb)));
			c->partial = true;
			continue;
		}
		hl_lock_sh(hl_node_lock(n));
		error = check_node(c, &e, hl_node_data(n));
		hl_unlock(hl_node_lock(n));
		hl_rel_node(n);
		if (error)
			return error;
	}
	if (c->leafdepth_set)
		c->shape.depth = c->leafdepth + 1;
	return 0;
}

/* --- pending frees and the free map --------------------------------------- */

/* Take a copy of the pending frees; check them against the walk. */
static int
load_pending(struct chk *c)
{
	struct hl_btree *bt = c->bt;
	uint64_t *list = NULL;
	size_t n, i;
	int error = 0;

	pthread_mutex_lock(&bt->pend_lock);
	n = bt->npend;
	if (n > 0 && (list = malloc(n * sizeof(*list))) != NULL)
		memcpy(list, bt->pend, n * sizeof(*list));
	pthread_mutex_unlock(&bt->pend_lock);
	if (n > 0 && list == NULL)
		return ENOMEM;
	for (i = 0; i < n && error == 0; i++) {
		uint64_t off = list[i], from;
		const char *bad = bad_node_off(c, off);

		if (bad != NULL) {
			problem(c, off, "pending free of %#llx, which is %s",
			    U(off), bad);
		} else if (set_get(&c->pend, off, NULL)) {
			problem(c, off, "node pending free twice");
		} else {
			if (set_get(&c->seen, off, &from))
				problem(c, off,
				    "node pending free is still reachable "
				    "(from %#llx)",
				    U(from));
			error = set_add(&c->pend, off, 1);
		}
	}
	free(list);
	return error;
}

/* Check free-map node k of volume vol (data d, locked) bit by bit. */
static void
check_map_node(struct chk *c, int vol, uint32_t k, uint64_t moff, void *d,
    uint64_t *nfreep, uint64_t *nleakp)
{
	struct hl_btree *bt = c->bt;
	struct bt_fmap *f = &bt->fmap[vol];
	const uint8_t *map = HL_NODE_PAYLOAD(d);
	uint64_t s0 = (uint64_t)k * bt->bits, past = 0;

	for (uint64_t b = 0; b < bt->bits; b++) {
		uint64_t s = s0 + b, off;
		bool used = (map[b / 8] >> (b % 8)) & 1;

		if (s >= f->nslots) {
			if (!used)
				past++;
			continue;
		}
		off = slot_off(c, vol, s);
		if (used) {
			c->shape.used_nodes++;
		} else {
			c->shape.free_nodes++;
			(*nfreep)++;
		}
		if (hl__fmap_is_map_node(bt, off)) {
			if (!used)
				problem(c, off,
				    "free-map node marked free (slot %llu of "
				    "volume %d, bit %llu of %#llx)",
				    U(s), vol, U(b), U(moff));
		} else if (set_get(&c->seen, off, NULL)) {
			if (!used)
				problem(c, off,
				    "reachable node marked free (slot %llu of "
				    "volume %d, bit %llu of %#llx)",
				    U(s), vol, U(b), U(moff));
		} else if (set_get(&c->pend, off, NULL)) {
			if (!used)
				problem(c, off,
				    "node pending free is already marked free "
				    "(slot %llu of volume %d)",
				    U(s), vol);
		} else if (used) {
			(*nleakp)++;
			if (!c->partial)
				problem(c, off,
				    "leaked (used in free map, not reachable): "
				    "slot %llu of volume %d, bit %llu of %#llx",
				    U(s), vol, U(b), U(moff));
		}
	}
	if (past > 0)
		problem(c, moff,
		    "free map of volume %d: %llu bits past the last slot "
		    "(%llu) are clear",
		    vol, U(past), U(f->nslots));
}

static int
check_fmap(struct chk *c)
{
	struct hl_btree *bt = c->bt;
	uint64_t nleak = 0;

	for (int vol = 0; vol < bt->nvol; vol++) {
		struct bt_fmap *f = &bt->fmap[vol];
		uint64_t nfree = 0, memfree;
		bool complete = true;

		for (uint32_t k = 0; k < f->nnodes; k++) {
			uint64_t moff = f->first + (uint64_t)k * bt->ns;
			struct hl_node *n;
			void *d;
			int error;

			n = hl_get_node(&c->t, moff, false, &error);
			if (n == NULL) {
				if (error == ENOMEM)
					return error;
				problem(c, moff,
				    "free-map node %u of volume %d cannot be "
				    "read (error %d)",
				    k, vol, error);
				complete = false;
				continue;
			}
			hl_lock_sh(hl_node_lock(n));
			d = hl_node_data(n);
			if (bt_type(d) != HL_NODE_RAW) {
				problem(c, moff,
				    "free-map node %u of volume %d has type "
				    "%u (%s), not RAW",
				    k, vol, bt_type(d), type_name(bt_type(d)));
				complete = false;
			} else {
				check_map_node(
				    c, vol, k, moff, d, &nfree, &nleak);
			}
			hl_unlock(hl_node_lock(n));
			hl_rel_node(n);
		}
		/* The allocator's count of free slots must agree. */
		pthread_mutex_lock(&f->lock);
		memfree = f->nfree;
		pthread_mutex_unlock(&f->lock);
		if (complete && memfree != nfree)
			problem(c, f->first,
			    "volume %d: %llu free slots counted in memory, "
			    "%llu in the free map",
			    vol, U(memfree), U(nfree));
	}
	if (c->partial && nleak > 0)
		problem(c, 0,
		    "%llu used slots are not reachable (not listed: part "
		    "of the tree could not be walked)",
		    U(nleak));
	return 0;
}

int
hl_btree_check(struct hl_btree *bt, struct hl_btree_shape *shape,
    hl_btree_report_fn report, void *arg, uint64_t *nproblems)
{
	struct chk c;
	int error;

	memset(&c, 0, sizeof(c));
	c.bt = bt;
	c.bs = hl_mount_buffer_size(bt->m);
	c.report = report;
	c.arg = arg;
	/* Tell a bad CRC (EDOM: damage, reported) from a failed read. */
	hl_trans_init(&c.t, bt->m);
	c.t.flags |= HL_TRANSF_CRCDOM;

	error = walk(&c);
	if (error == 0)
		error = load_pending(&c);
	if (error == 0)
		error = check_fmap(&c);

	free(c.stack);
	set_free(&c.seen);
	set_free(&c.pend);
	if (shape != NULL)
		*shape = c.shape;
	if (nproblems != NULL)
		*nproblems = c.nproblems;
	return error;
}
