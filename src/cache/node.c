/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * node.c - B-tree nodes: loaded on 0->1 by referencing their buffer and
 * checking their CRC, unloaded on their last reference by dropping it.
 *
 * A loaded node is resident: its loader adds the cache's own reference,
 * so users' hits and releases are plain count changes.  That reference
 * is dropped without blocking (hl_try_rel_interlock()) by the pool when
 * it reclaims the node's buffer, by hl_del_buffers() and
 * hl_flush_buffer_nodes() (hl__flush_node_at()), or by the users' last
 * release of a deleted node; that last release unloads the node and
 * destroys its structure (doc/design.md, section 10, "Nodes").
 *
 * A node's CRC is checked when it is loaded from buffer memory it has not
 * been checked against since that memory was read (each read gives the
 * buffer a new mount-unique generation).  A modified node is not sealed
 * at once: its buffer records the slot, and write-back regenerates the
 * CRC of every recorded slot, under the buffer's exclusive lock, before
 * writing.  (HAMMER kept such a node loaded until then; keeping the
 * record on the buffer, which cannot be reclaimed while modified, does
 * the same job without pinning the node.)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cache_internal.h"

static inline uint32_t
node_flags(const struct hl_node *n)
{
	return atomic_load_explicit(&n->obj.flags, memory_order_relaxed);
}

static inline void *
node_ondisk(const struct hl_node *n)
{
	return atomic_load_explicit(
	    &hl__node_x(n)->ondisk, memory_order_relaxed);
}

/*
 * A hit: the pool's CLOCK byte, in the object's first line with refs.
 * Stored whether or not it is set already: the reference just taken
 * owns the line, so the store costs less than a test and a branch.
 */
static inline void
node_mark_used(struct hl_node *n)
{
	atomic_store_explicit(&n->obj.used, 1, memory_order_relaxed);
}

/*
 * The version word (hl_peek_node): a change begins with an increment of
 * the low 16 bits (changes in progress) and ends by moving it into the
 * upper bits, so the word only grows, and a reader that saw no change in
 * progress and finds the same word afterwards saw no change at all.  The
 * release fence keeps the begin ahead of the change's stores; the end is
 * a release, for readers that start after it.
 */
#define NODE_VER_BUSY 0xffffu
#define NODE_VER_DONE 0x10000u

static inline void
node_ver_begin(struct hl_node *n)
{
	atomic_fetch_add_explicit(&hl__node_x(n)->ver, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static inline void
node_ver_end(struct hl_node *n)
{
	atomic_fetch_add_explicit(
	    &hl__node_x(n)->ver, NODE_VER_DONE - 1, memory_order_release);
}

static inline pthread_mutex_t *
node_cache_mtx(struct hl_node *n)
{
	uintptr_t h = (uintptr_t)n / 64;

	return &hl__node_x(n)
		    ->mount->cache_mtx[(h ^ (h >> 7)) % HL_CACHE_LOCKS];
}

void
hl_trans_init(struct hl_trans *t, struct hl_mount *m)
{
	t->mount = m;
	t->flags = 0;
}

/*
 * Interlock held, no references: destroy the structure (clearing its
 * caches) unless a lookup got in, in which case it reloads.
 */
static void
node_destroy(struct hl_node *n)
{
	struct hl_mount *m = hl__node_x(n)->mount;

	hl__node_uncache_all(n);
	hl__race_window(); /* a lookup may reference it now */
	if (hl__tbl_kill(&m->nodes, &n->obj)) {
		hl__stat_add(&HL_ST(m)->node_destroys, 1);
		return;
	}
	hl_put_interlock(&n->obj.lock, ENODATA);
}

/*
 * Unload: the node's pointers go; the buffer reference is the caller's to
 * drop (after the node's interlock, or plainly from the reclaimer).
 */
static void
node_unload(struct hl_node *n)
{
	struct hl_node_x *x = hl__node_x(n);
	struct hl_buffer *b =
	    atomic_load_explicit(&x->buffer, memory_order_relaxed);

	if (atomic_fetch_and_explicit(
		&n->obj.flags, ~HL_NODE_F_RESIDENT, memory_order_relaxed) &
	    HL_NODE_F_RESIDENT)
		atomic_fetch_sub_explicit(
		    &b->noderefs, 1, memory_order_relaxed);
	node_ver_begin(n);
	atomic_store_explicit(&x->ondisk, NULL, memory_order_relaxed);
	node_ver_end(n);
	atomic_store_explicit(&x->buffer, NULL, memory_order_relaxed);
}

static void node_dispose(struct hl_node *n, bool locked);

/*
 * Drop the cache's reference of a resident node if nobody else holds one
 * (never sleeps), and dispose of it.  True if it was dropped.
 */
static bool
node_try_evict(struct hl_node *n)
{
	if (!hl_try_rel_interlock(&n->obj.lock))
		return false;
	hl__race_window(); /* a lookup may reference it now */
	if ((node_flags(n) & HL_NODE_F_RESIDENT) == 0) {
		/*
		 * That was a user's reference after all: put it back.  Not
		 * loaded: a lookup that came in meanwhile must load it, so
		 * CHECK stays (ENODATA).
		 */
		hl_ref(&n->obj.lock);
		hl_put_interlock(&n->obj.lock, ENODATA);
		return false;
	}
	node_dispose(n, false);
	return true;
}

/*
 * The interlock is held (1->0, or the failure path with locked): unload,
 * then destroy or end the interlock.  Releases the buffer reference last,
 * outside the node's interlock.
 *
 * A loaded node unloads even if a lookup has referenced it since the
 * count reached 0: the cache's reference is gone with that 0, and the
 * lookup's 0->1 set CHECK, which ending the interlock keeps, so it loads
 * the node again (with a new cache reference).  Left loaded, the node
 * would be handed to the lookup as resident without the cache's
 * reference, and a later eviction would take its user's.
 */
static void
node_dispose(struct hl_node *n, bool locked)
{
	struct hl_buffer *b = NULL;
	bool idle = hl_norefs(&n->obj.lock);

	if (node_ondisk(n) != NULL) {
		b = atomic_load_explicit(
		    &hl__node_x(n)->buffer, memory_order_relaxed);
		node_unload(n);
	}
	if (idle &&
	    ((node_flags(n) & (HL_NODE_F_DELETED | HL_NODE_F_FLUSH)) ||
		!atomic_load_explicit(&n->obj.linked, memory_order_relaxed)))
		node_destroy(n);
	else
		hl_rel_interlock_done(&n->obj.lock, locked);
	if (b != NULL)
		hl_rel_buffer(b);
}

/*
 * A release past its fast path.  lv is 2 if our reference is already
 * gone (hl_rel_node's decrement, or node_rel's compare-and-swap) and the
 * node's flags ask for more; else the word node_rel's compare-and-swap
 * found instead of 2, our reference still counted in it.
 */
static __attribute__((noinline)) void
node_rel_slow(struct hl_node *n, uint32_t lv)
{
	if (HL_UNLIKELY(lv & HL_REFS_DEAD))
		hl__obj_fatal("hl_rel_node", &n->obj,
		    "release of node %#llx, which is destroyed",
		    (unsigned long long)hl__obj_key(&n->obj));
	if (lv == 2 || !hl_rel_interlock(&n->obj.lock, false)) {
		if (node_flags(n) & (HL_NODE_F_DELETED | HL_NODE_F_FLUSH))
			(void)node_try_evict(n); /* last user of a dying node */
		return;
	}
	node_dispose(n, false);
}

/*
 * Debug builds: n is a node the caller got from hl_get_node() (or
 * hl_ref_node()) and still holds, so it is loaded, resident and linked,
 * and its word counts the caller's reference and the cache's: fatal,
 * naming the node, if not.  Not for a lookup's release of an object that
 * turned out to be another key's (hl__node_release_obj): that one may be
 * anything.
 */
static void
node_check_held(struct hl_node *n, const char *func)
{
	uint32_t lv, f;

	if (!hl_debug)
		return;
	lv = atomic_load_explicit(&n->obj.lock.refs, memory_order_relaxed);
	f = node_flags(n);
	if ((lv & HL_REFS_DEAD) || (lv & HL_REFS_COUNT_MASK) < 2 ||
	    (f & HL_NODE_F_RESIDENT) == 0 || node_ondisk(n) == NULL ||
	    !atomic_load_explicit(&n->obj.linked, memory_order_relaxed))
		hl__obj_fatal(func, &n->obj,
		    "node %#llx held by a user is not resident with the "
		    "cache's reference (flags %#x, linked %d)",
		    (unsigned long long)hl__obj_key(&n->obj), f,
		    (int)atomic_load_explicit(
			&n->obj.linked, memory_order_relaxed));
}

/* Drop a reference taken by a lookup, whatever the object turned out
 * to be: not always a resident node's, so not hl_rel_node()'s decrement. */
static void
node_rel(struct hl_node *n)
{
	uint32_t lv = 2;

	/*
	 * hl_rel_interlock(), first guessing the word of a resident node
	 * that one user holds (2: the user and the cache's reference): see
	 * hl__tbl_ref() on the compare-and-swap without a load.  A strong
	 * compare-and-swap: on failure lv is not 2.
	 */
	if (HL_LIKELY(atomic_compare_exchange_strong_explicit(&n->obj.lock.refs,
		&lv, 1, memory_order_release, memory_order_relaxed))) {
		hl__race_window(); /* our reference is gone: n may change */
		if (HL_LIKELY((node_flags(n) &
				  (HL_NODE_F_DELETED | HL_NODE_F_FLUSH)) == 0))
			return;
	}
	node_rel_slow(n, lv);
}

/*
 * A user's release.  The node is resident and held (the caller's
 * reference, checked in debug builds), so the cache's reference is there
 * too, and stays while the caller's is: it is only dropped when the word
 * is exactly 1 (hl_try_rel_interlock) or 0.  So the count is at least 2
 * and this is never the 1->0 transition: a plain decrement, whatever
 * flags the word holds, is exact, and needs no compare-and-swap.  That
 * matters more than its count of instructions suggests: a hit whose
 * release only decrements (the result unused) lets the CPU run on into
 * the next hits with their cache misses in flight, where a release that
 * tests the word it swapped waits for it (measured with the hit-path
 * benchmark, doc/design.md section 10).  Acquire and release: the last
 * user of a node that another user deleted or a teardown marked (flags
 * set before their own release) sees the flag, and evicts it.
 */
void
hl_rel_node(struct hl_node *n)
{
	node_check_held(n, "hl_rel_node");
	atomic_fetch_sub_explicit(&n->obj.lock.refs, 1, memory_order_acq_rel);
	hl__race_window(); /* our reference is gone: n may change */
	if (HL_UNLIKELY(node_flags(n) & (HL_NODE_F_DELETED | HL_NODE_F_FLUSH)))
		node_rel_slow(n, 2);
}

void
hl__node_release_obj(struct hl_obj *o)
{
	node_rel(hl__obj_node(o));
}

void
hl_ref_node(struct hl_node *n)
{
	if (hl_debug && (hl_norefs(&n->obj.lock) || node_ondisk(n) == NULL))
		hl__fatal("hl_ref_node", &n->obj.lock,
		    "node is not referenced and loaded");
	hl_ref(&n->obj.lock);
}

/*
 * Load a referenced, interlocked node.  Disposes of the interlock, and on
 * error of the reference too.  Idempotent.
 */
static int
node_load(struct hl_trans *t, struct hl_node *n, bool isnew)
{
	struct hl_node_x *x = hl__node_x(n);
	struct hl_mount *m = x->mount;
	uint64_t off = hl__obj_key(&n->obj);
	struct hl_buffer *b;
	char why[160];
	unsigned slot;
	uint8_t *p;
	int error;

	if (node_ondisk(n) != NULL) {
		hl_ref_interlock_done(&n->obj.lock);
		return 0;
	}
	atomic_fetch_and_explicit(
	    &n->obj.flags, ~HL_NODE_F_FLUSH, memory_order_relaxed);
	b = hl_get_buffer(m, off, 0, false, &error);
	if (b == NULL)
		goto fail;
	hl__race_window(); /* lookups wait for our interlock */
	slot = (unsigned)((off & (m->buffer_size - 1)) / m->node_size);
	p = (uint8_t *)hl_buffer_data(b) + (off & (m->buffer_size - 1));
	/* New, or modified in memory and not yet sealed: nothing to check. */
	if (isnew || (atomic_load_explicit(&b->needcrc, memory_order_relaxed) &
			 ((uint64_t)1 << slot))) {
		atomic_store_explicit(&x->crc_gen,
		    atomic_load_explicit(&b->gen, memory_order_relaxed),
		    memory_order_relaxed);
	} else if (atomic_load_explicit(&x->crc_gen, memory_order_relaxed) !=
		   atomic_load_explicit(&b->gen, memory_order_relaxed)) {
		/* Shared: a write-back (exclusive) may be sealing it. */
		hl_lock_sh(&b->obj.lock);
		error = hl_node_check(p, m->node_size, why, sizeof(why));
		hl_unlock(&b->obj.lock);
		if (error) {
			hl__stat_add(&HL_ST(m)->crc_errors, 1);
			fprintf(stderr, "hammerlock: node %#llx (%s): %s\n",
			    (unsigned long long)off, b->vol->path, why);
			error = (t->flags & HL_TRANSF_CRCDOM) ? EDOM : EIO;
			hl_rel_buffer(b);
			goto fail;
		}
		atomic_store_explicit(&x->crc_gen,
		    atomic_load_explicit(&b->gen, memory_order_relaxed),
		    memory_order_relaxed);
	}
	atomic_store_explicit(&x->buffer, b, memory_order_relaxed);
	node_ver_begin(n);
	atomic_store_explicit(&x->ondisk, p, memory_order_relaxed);
	node_ver_end(n);
	hl__stat_add(&HL_ST(m)->node_loads, 1);
	/* Resident: the cache's own reference keeps it loaded. */
	atomic_fetch_or_explicit(
	    &n->obj.flags, HL_NODE_F_RESIDENT, memory_order_relaxed);
	atomic_fetch_add_explicit(&b->noderefs, 1, memory_order_relaxed);
	hl_ref(&n->obj.lock);
	hl_ref_interlock_done(&n->obj.lock);
	return 0;
fail:
	/* Nobody needs the structure of a node that failed: if idle, it
	 * goes (a bad offset must not pin a table object until unmount). */
	atomic_fetch_or_explicit(
	    &n->obj.flags, HL_NODE_F_FLUSH, memory_order_relaxed);
	if (hl_rel_interlock(&n->obj.lock, true))
		node_dispose(n, true);
	return error;
}

/* A new node: zero it and mark it modified (CRC sealed at write-back). */
static int
node_make_new(struct hl_node *n)
{
	int error = hl_modify_node(n);

	if (error)
		return error;
	memset(node_ondisk(n), 0, hl__node_x(n)->mount->node_size);
	hl_modify_node_done(n);
	return 0;
}

/*
 * Everything but the common hit: o is what the index gave (referenced,
 * perhaps not offset's node, CHECK possibly set) or NULL.
 */
static __attribute__((noinline)) struct hl_node *
node_get(struct hl_trans *t, uint64_t offset, bool isnew, int *errorp,
    struct hl_obj *o)
{
	struct hl_mount *m = t->mount;
	struct hl_obj *fresh = NULL;
	struct hl_node *n;
	int error;

	if (o != NULL && !hl__tbl_is(o, offset)) {
		node_rel(hl__obj_node(o)); /* a torn or stale index entry */
		o = NULL;
	}
	if (o == NULL) {
		/* Only valid offsets are ever in the table. */
		if (HL_OFF_ZONE(offset) != HL_ZONE_RAW ||
		    (offset & (m->node_size - 1)) != 0) {
			*errorp = EINVAL;
			return NULL;
		}
		o = hl__tbl_find(
		    &m->nodes, offset, false, hl__node_release_obj);
	}
	if (o == NULL) {
		struct hl_node_x *x;

		fresh = hl__tbl_alloc(&m->nodes, offset);
		if (fresh == NULL) {
			*errorp = ENOMEM;
			return NULL;
		}
		hl__race_window(); /* stale lookups may read it (DEAD) */
		n = hl__obj_node(fresh);
		x = hl__node_x(n);
		x->mount = m;
		x->caches = NULL;
		atomic_store_explicit(&x->buffer, NULL, memory_order_relaxed);
		atomic_store_explicit(&x->ondisk, NULL, memory_order_relaxed);
		atomic_store_explicit(&n->obj.flags, 0, memory_order_relaxed);
		atomic_store_explicit(&x->crc_gen, 0, memory_order_relaxed);
		hl_revive_interlock(&fresh->lock);
		o = hl__tbl_insert(&m->nodes, fresh, hl__node_release_obj);
		if (o != fresh) {
			hl__stat_add(&HL_ST(m)->collisions, 1);
			hl__tbl_discard(&m->nodes, fresh);
		}
	}
	n = hl__obj_node(o);
	if (o == fresh || hl_check_interlock(&o->lock)) {
		error = node_load(t, n, isnew);
		if (error) {
			*errorp = error;
			return NULL;
		}
	}
	if (isnew && (error = node_make_new(n)) != 0) {
		hl_rel_node(n);
		*errorp = error;
		return NULL;
	}
	node_check_held(n, "hl_get_node");
	node_mark_used(n);
	*errorp = 0;
	return n;
}

/*
 * The common hit (indexed, loaded, not new) inline, with nothing to save
 * for a call; the rest, and offsets not in the table (invalid ones
 * included: node_get() checks them), in node_get().
 */
struct hl_node *
hl_get_node(struct hl_trans *t, uint64_t offset, bool isnew, int *errorp)
{
	struct hl_obj *o;
	uint32_t lv;

	if (HL_UNLIKELY(isnew))
		return node_get(t, offset, true, errorp, NULL);
	o = hl__tbl_index_probe(&t->mount->nodes, offset);
	if (HL_UNLIKELY(o == NULL))
		return node_get(t, offset, false, errorp, NULL);
	/*
	 * No CHECK test: the inline references only succeed on a word with
	 * CHECK clear, and their acquire is the one that orders the
	 * loader's writes before our reads of the node.
	 *
	 * A word of exactly 1 is a resident node's at rest (the cache's
	 * reference; model/node.pml).  A resident node is linked: it is
	 * unlinked only once DEAD, which it becomes only after it is
	 * unloaded.  So when the 1 -> 2 guess takes the reference, the key
	 * alone tells whether the entry was stale or another key's (debug
	 * builds check the linked flag in node_check_held()).
	 */
	if (HL_LIKELY(hl__tbl_ref_idle(o, &lv))) {
		if (HL_UNLIKELY(hl__obj_key(o) != offset))
			return node_get(t, offset, false, errorp, o);
	} else {
		if (HL_UNLIKELY(!hl__tbl_ref_seen(o, lv, false)))
			return node_get(t, offset, false, errorp, NULL);
		if (HL_UNLIKELY(!hl__tbl_is(o, offset)))
			return node_get(t, offset, false, errorp, o);
	}
	node_check_held(hl__obj_node(o), "hl_get_node");
	node_mark_used(hl__obj_node(o));
	*errorp = 0;
	return hl__obj_node(o);
}

void *
hl_node_data(struct hl_node *n)
{
	return node_ondisk(n);
}

uint64_t
hl_node_offset(const struct hl_node *n)
{
	return hl__obj_key(&n->obj);
}

struct hl_lock *
hl_node_lock(struct hl_node *n)
{
	return &n->obj.lock;
}

struct hl_buffer *
hl_node_buffer(struct hl_node *n)
{
	return atomic_load_explicit(
	    &hl__node_x(n)->buffer, memory_order_relaxed);
}

int
hl_modify_node(struct hl_node *n)
{
	struct hl_buffer *b = hl_node_buffer(n);
	struct hl_mount *m = hl__node_x(n)->mount;
	unsigned slot;
	int error;

	error = hl_modify_buffer(b);
	if (error)
		return error;
	slot = (unsigned)((hl__obj_key(&n->obj) & (m->buffer_size - 1)) /
			  m->node_size);
	atomic_fetch_or_explicit(
	    &b->needcrc, (uint64_t)1 << slot, memory_order_relaxed);
	node_ver_begin(n);
	return 0;
}

void
hl_modify_node_done(struct hl_node *n)
{
	node_ver_end(n);
	hl_modify_buffer_done(hl_node_buffer(n));
}

void
hl_node_change_begin(struct hl_node *n)
{
	node_ver_begin(n);
}

void
hl_node_change_end(struct hl_node *n)
{
	node_ver_end(n);
}

bool
hl_peek_node(struct hl_mount *m, uint64_t offset, struct hl_node_peek *pk)
{
	struct hl_obj *o = hl__tbl_lookup(&m->nodes, offset);
	struct hl_node *n;
	uint64_t v;
	void *d;

	if (o == NULL)
		return false;
	n = hl__obj_node(o);
	v = atomic_load_explicit(&hl__node_x(n)->ver, memory_order_acquire);
	if ((v & NODE_VER_BUSY) != 0 || hl__obj_key(o) != offset)
		return false;
	/* Loaded now and for as long as the word stays v. */
	if ((d = node_ondisk(n)) == NULL)
		return false;
	node_mark_used(n);
	pk->node = n;
	pk->data = d;
	pk->ver = v;
	return true;
}

bool
hl_peek_valid(const struct hl_node_peek *pk)
{
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(
		   &hl__node_x(pk->node)->ver, memory_order_relaxed) == pk->ver;
}

/*
 * Passive caches.
 */
static void
cache_unlink(struct hl_node *n, struct hl_node_cache *c)
{
	struct hl_node_cache **pp;

	for (pp = &hl__node_x(n)->caches; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->next = NULL;
	atomic_store_explicit(&c->node, NULL, memory_order_release);
}

void
hl_uncache_node(struct hl_node_cache *c)
{
	struct hl_node *n;
	pthread_mutex_t *mtx;

	for (;;) {
		n = atomic_load_explicit(&c->node, memory_order_acquire);
		if (n == NULL)
			return;
		mtx = node_cache_mtx(n);
		pthread_mutex_lock(mtx);
		if (atomic_load_explicit(&c->node, memory_order_relaxed) == n) {
			cache_unlink(n, c);
			pthread_mutex_unlock(mtx);
			return;
		}
		pthread_mutex_unlock(mtx); /* moved meanwhile: again */
	}
}

void
hl_cache_node(struct hl_node_cache *c, struct hl_node *n)
{
	pthread_mutex_t *mtx;

	if (atomic_load_explicit(&c->node, memory_order_relaxed) == n)
		return;
	hl_uncache_node(c);
	mtx = node_cache_mtx(n);
	pthread_mutex_lock(mtx);
	c->next = hl__node_x(n)->caches;
	hl__node_x(n)->caches = c;
	atomic_store_explicit(&c->node, n, memory_order_release);
	pthread_mutex_unlock(mtx);
}

void
hl__node_uncache_all(struct hl_node *n)
{
	pthread_mutex_t *mtx = node_cache_mtx(n);

	pthread_mutex_lock(mtx);
	while (hl__node_x(n)->caches != NULL)
		cache_unlink(n, hl__node_x(n)->caches);
	pthread_mutex_unlock(mtx);
}

void
hl_flush_node(struct hl_node *n)
{
	hl__node_uncache_all(n);
}

struct hl_node *
hl_ref_node_safe(struct hl_trans *t, struct hl_node_cache *c, int *errorp)
{
	struct hl_node *n;

	for (;;) {
		n = atomic_load_explicit(&c->node, memory_order_acquire);
		if (n == NULL) {
			*errorp = ENOENT;
			return NULL;
		}
		if (!hl_ref_live(&n->obj.lock))
			continue; /* dying: its caches are being cleared */
		hl__race_window();
		/* Still cached here (so still that node)? */
		if (atomic_load_explicit(&c->node, memory_order_acquire) == n &&
		    atomic_load_explicit(&n->obj.linked, memory_order_relaxed))
			break;
		node_rel(n); /* a lookup's reference, whatever n is now */
	}
	if (hl_check_interlock(&n->obj.lock)) {
		*errorp = node_load(t, n, false);
		if (*errorp)
			return NULL;
	}
	node_mark_used(n);
	*errorp = 0;
	return n;
}

void
hl_delete_node(struct hl_node *n)
{
	atomic_fetch_or_explicit(
	    &n->obj.flags, HL_NODE_F_DELETED, memory_order_relaxed);
	hl__node_uncache_all(n);
}

/*
 * Never sleeps: for each node slot of the buffer at boff, take an idle
 * node's interlock without waiting, check it is that node, destroy it.
 * A node with references is loading or loaded (then it holds a buffer
 * reference and we are not tearing the buffer down): it is marked and
 * goes when it is next idle.  Returns the number left.
 */
/*
 * Never sleeps: destroy the idle node at off, if any: an unreferenced
 * structure is taken with hl_try_interlock_norefs(), a resident one whose
 * only reference is the cache's with hl_try_rel_interlock() (then
 * unloaded, its buffer reference dropped without blocking).  A node in
 * use is left alone and counted (1); with HL_FLUSH_TEARDOWN it is also
 * marked, to go at its last release.  With HL_FLUSH_CLOCK (the pool
 * choosing a victim), a node referenced since the pool last looked gets
 * a second chance (counted as in use).
 */
int
hl__flush_node_at(struct hl_mount *m, uint64_t off, int how)
{
	struct hl_obj *o = (how & HL_FLUSH_FAST)
			       ? hl__tbl_peek_fast(&m->nodes, off)
			       : hl__tbl_peek(&m->nodes, off);
	struct hl_buffer *b;
	struct hl_node *n;

	if (o == NULL)
		return 0;
	n = hl__obj_node(o);
	hl__race_window(); /* o may die or change identity now */
	if ((how & HL_FLUSH_CLOCK) &&
	    atomic_load_explicit(&o->used, memory_order_relaxed)) {
		atomic_store_explicit(&o->used, 0, memory_order_relaxed);
		return 1;
	}
	if (hl_try_interlock_norefs(&o->lock)) {
		hl__race_window();
		if (hl__obj_key(o) != off ||
		    !atomic_load_explicit(&o->linked, memory_order_relaxed) ||
		    node_ondisk(n) != NULL) {
			hl_put_interlock(&o->lock, 0);
			return 0;
		}
		node_destroy(n);
		return 0;
	}
	if (hl_try_rel_interlock(&o->lock)) {
		hl__race_window();
		if ((node_flags(n) & HL_NODE_F_RESIDENT) == 0 ||
		    hl__obj_key(o) != off) {
			/* A user's only reference, or another key's
			 * resident node: give it back (CHECK for a lookup
			 * that came in, if it is not loaded). */
			hl_ref(&o->lock);
			hl_put_interlock(&o->lock,
			    (node_flags(n) & HL_NODE_F_RESIDENT) ? 0 : ENODATA);
			return 1;
		}
		b = atomic_load_explicit(
		    &hl__node_x(n)->buffer, memory_order_relaxed);
		node_unload(n);
		hl_rel(&b->obj.lock); /* the buffer keeps its memory */
		node_destroy(n);
		return 0;
	}
	if ((how & HL_FLUSH_TEARDOWN) && hl__obj_key(o) == off)
		atomic_fetch_or_explicit(
		    &n->obj.flags, HL_NODE_F_FLUSH, memory_order_relaxed);
	return 1;
}

/* The idle node structures of the buffer at boff go (never sleeps). */
int
hl__flush_buffer_nodes(struct hl_mount *m, uint64_t boff, int how)
{
	uint32_t slots = m->buffer_size / m->node_size, i;
	int busy = 0;

	for (i = 0; i < slots; i++)
		busy += hl__flush_node_at(
		    m, boff + (uint64_t)i * m->node_size, how);
	return busy;
}

int
hl_flush_buffer_nodes(struct hl_buffer *b)
{
	return hl__flush_buffer_nodes(
	    b->mount, hl__obj_key(&b->obj), HL_FLUSH_TEARDOWN);
}
