/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * table.c - the object table: lock-free hits, shard-locked misses,
 * type-stable objects recycled through the DEAD refs state.  The argument
 * for its safety is in doc/design.md section 10 and model/table.pml.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "table.h"

void
hl__obj_fatal(const char *func, struct hl_obj *o, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hl__fatal(func, &o->lock, msg);
}

static inline size_t
tbl_nlines(size_t nbuckets)
{
	return (nbuckets + HL_TBL_LINE_BUCKETS - 1) / HL_TBL_LINE_BUCKETS;
}

/* The buckets of an index line share its shard. */
static inline pthread_mutex_t *
tbl_shard(struct hl_table *t, uint32_t bucket)
{
	return &t->shards[(bucket / HL_TBL_LINE_BUCKETS) % HL_TBL_SHARDS].mtx;
}

static inline struct hl_tbl_line *
tbl_line(struct hl_table *t, uint32_t bucket)
{
	return &t->lines[bucket / HL_TBL_LINE_BUCKETS];
}

/* o's number in an index entry: the inverse of hl__tbl_eobj(). */
static inline uint64_t
tbl_onum(const struct hl_table *t, const struct hl_obj *o)
{
	return ((uintptr_t)o - t->ebase) >> 6;
}

/* A new object's header: a DEAD word (lookups refuse it) and key. */
static void
tbl_obj_dead(struct hl_obj *o, uint64_t key)
{
	hl_lock_init(&o->lock);
	atomic_store_explicit(
	    &o->lock.refs, HL_REFS_DEAD, memory_order_relaxed);
	atomic_store_explicit(&o->key, key, memory_order_relaxed);
}

/* Is o one of the home slots (found there, not through the index)? */
static inline bool
tbl_is_home(const struct hl_table *t, const struct hl_obj *o)
{
	return (const char *)o < t->chunks;
}

/* Index entry for o in a free slot of its line, if any.  Shard held. */
static void
tbl_index_add(struct hl_table *t, uint32_t b, struct hl_obj *o)
{
	struct hl_tbl_line *ln = tbl_line(t, b);
	unsigned i;

	if (tbl_is_home(t, o))
		return;

	/* The number first: a reader that sees the tag sees it too.  Both
	 * release: a reader that gets the number, with or without the tag,
	 * sees the object as its allocator made it (hl__tbl_slot_num). */
	for (i = 0; i < HL_TBL_LINE_SLOTS; i++)
		if (atomic_load_explicit(&ln->tag[i], memory_order_relaxed) ==
		    0) {
			atomic_store_explicit(&ln->onum[i],
			    (uint32_t)tbl_onum(t, o), memory_order_release);
			atomic_store_explicit(&ln->tag[i],
			    hl__tbl_tag(hl__obj_key(o)), memory_order_release);
			return;
		}
}

/* Drop o's index entry, if it has one.  Shard held. */
static void
tbl_index_del(struct hl_table *t, uint32_t b, struct hl_obj *o)
{
	struct hl_tbl_line *ln = tbl_line(t, b);
	uint64_t num = tbl_onum(t, o);
	unsigned i;

	if (tbl_is_home(t, o))
		return;

	/* A free entry's number may be a stale one: tags first. */
	for (i = 0; i < HL_TBL_LINE_SLOTS; i++)
		if (atomic_load_explicit(&ln->tag[i], memory_order_relaxed) !=
			0 &&
		    atomic_load_explicit(&ln->onum[i], memory_order_relaxed) ==
			num) {
			atomic_store_explicit(
			    &ln->tag[i], 0, memory_order_relaxed);
			atomic_store_explicit(
			    &ln->onum[i], 0, memory_order_relaxed);
			return;
		}
}

/*
 * Debug builds: HL_TBL_PROBE=spec or exact picks the index probe of every
 * table, so that the tests, whose tables are small, run both;
 * HL_TBL_HOME=on gives home slots to every table that asks for them
 * (by default only big ones have them), off to none.
 */
static void
tbl_probe_override(struct hl_table *t, bool home)
{
	const char *p;

	if (!hl_debug)
		return;
	if ((p = getenv("HL_TBL_PROBE")) != NULL) {
		if (strcmp(p, "spec") == 0)
			t->spec = true;
		else if (strcmp(p, "exact") == 0)
			t->spec = false;
	}
	if ((p = getenv("HL_TBL_HOME")) != NULL) {
		if (strcmp(p, "on") == 0 && home)
			t->nhome = t->mask + 1;
		else if (strcmp(p, "off") == 0)
			t->nhome = 0;
	}
}

/*
 * Anonymous memory aligned to HL_TBL_ARENA_STEP, with protection prot
 * (PROT_NONE: reserved only); if huge, with advice to back it with
 * transparent huge pages (advice only: where the system has them set to
 * "never", or has none free, it gets small pages).  Size: a multiple of
 * HL_TBL_ARENA_STEP.
 */
static char *
tbl_map(size_t size, int prot, bool huge)
{
	size_t step = HL_TBL_ARENA_STEP;
	char *p, *a;

	p = mmap(NULL, size + step, prot,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + step - 1) & ~(uintptr_t)(step - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	munmap(a + size, (size_t)(p + step - a));
	if (huge)
		(void)madvise(a, size, MADV_HUGEPAGE);
	return a;
}

/*
 * The arena's address space (t->arena_size bytes at t->arena), with the
 * home slots usable from the start: a hit reads any of them (untouched
 * pages cost nothing: the kernel's zero page when read, key 0, a
 * never-used slot).  One more step is reserved in front of it, and the
 * last page of that step holds the sentinel: the 64 bytes just before
 * the arena, where an index entry of 0 points (hl__tbl_eobj), a DEAD
 * object of no key that nothing ever revives, so that a probe whose entry
 * was freed under it needs no test of its own (hl__tbl_line_obj).  NULL
 * if out of memory or address space.
 */
static char *
tbl_arena_map(struct hl_table *t, size_t homesize, bool huge)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char *base, *arena;

	base = tbl_map(t->arena_size + HL_TBL_ARENA_STEP, PROT_NONE, huge);
	if (base == NULL)
		return NULL;
	arena = base + HL_TBL_ARENA_STEP;
	if (mprotect(arena - page, page, PROT_READ | PROT_WRITE) != 0 ||
	    (homesize != 0 &&
		mprotect(arena, homesize, PROT_READ | PROT_WRITE) != 0)) {
		munmap(base, t->arena_size + HL_TBL_ARENA_STEP);
		return NULL;
	}
	tbl_obj_dead((struct hl_obj *)(arena - 64), HL_TBL_NOKEY);
	return arena;
}

static void
tbl_arena_unmap(struct hl_table *t)
{
	munmap(t->arena - HL_TBL_ARENA_STEP, t->arena_size + HL_TBL_ARENA_STEP);
}

int
hl__tbl_init(struct hl_table *t, const char *name, size_t objsize, size_t xsize,
    size_t nbuckets, bool home)
{
	size_t n = 1, homesize;
	uint32_t i;
	bool huge;

	memset(t, 0, sizeof(*t));
	while (n < nbuckets && n < (1u << 30))
		n <<= 1;
	huge = n >= HL_TBL_HUGE_BUCKETS;
	t->name = name;
	t->objsize = (objsize + 63) & ~(size_t)63; /* one line per object */
	t->xsize = (xsize + 7) & ~(size_t)7;
	t->mask = (uint32_t)(n - 1);
	t->lmask = hl__tbl_lmask(t->mask);
	/* 1M buckets: an 8 MiB index and 64 MiB of objects at least. */
	t->spec = n >= HL_TBL_SPEC_BUCKETS;
	/*
	 * Home slots where the index and the objects are too big for the
	 * CPU caches, so that a hit costs one miss instead of two.  Not in
	 * smaller tables: there both lines are cached anyway, and a key
	 * whose home another key holds reads that object's line, which the
	 * other key's user writes (measured, two threads on disjoint halves
	 * of 1K nodes: 0.7x one thread's throughput with homes, 1.9x
	 * without).
	 */
	t->nhome = home && n >= HL_TBL_HOME_BUCKETS ? (uint32_t)n : 0;
	tbl_probe_override(t, home);
	t->plain = !t->spec && t->nhome == 0;
	t->hstride = t->objsize + ((t->xsize + 63) & ~(size_t)63);
	/*
	 * The objects' own arena: address space for the most objects a
	 * table can have, reserved now (PROT_NONE commits nothing) and
	 * made usable a huge page at a time by tbl_grow(), so that the
	 * lines hits touch are dense (as one array's would be) instead of
	 * scattered between the buffers' memory.  A big table asks for
	 * transparent huge pages there and for its index: a hit then costs
	 * its two cache misses and, most of the time, no page walk.
	 */
	homesize = ((size_t)t->nhome * t->hstride + HL_TBL_ARENA_STEP - 1) &
		   ~(HL_TBL_ARENA_STEP - 1);
	t->arena_size =
	    homesize + (size_t)HL_TBL_MAXCHUNKS * HL_TBL_CHUNK * t->objsize;
	if (t->arena_size / 64 >= UINT32_MAX)
		return EINVAL; /* an index entry numbers objects in 32 bits */
	t->arena = tbl_arena_map(t, homesize, huge);
	t->committed = homesize;
	/* The index too: every hit reads it (zeroed: all entries free). */
	t->lines_size =
	    (tbl_nlines(n) * sizeof(*t->lines) + HL_TBL_ARENA_STEP - 1) &
	    ~(HL_TBL_ARENA_STEP - 1);
	t->lines = (struct hl_tbl_line *)tbl_map(
	    t->lines_size, PROT_READ | PROT_WRITE, huge);
	t->buckets = calloc(n, sizeof(*t->buckets));
	t->shards = aligned_alloc(64, HL_TBL_SHARDS * sizeof(*t->shards));
	if (t->arena == NULL || t->lines == NULL || t->buckets == NULL ||
	    t->shards == NULL) {
		free(t->buckets);
		free(t->shards);
		if (t->lines != NULL)
			munmap(t->lines, t->lines_size);
		if (t->arena != NULL)
			tbl_arena_unmap(t);
		return ENOMEM;
	}
	/* The index is zeroed memory (mmap): every entry free.  Entry 0
	 * names the sentinel. */
	t->ebase = (uintptr_t)t->arena - 64;
	/* Object numbers go on after the home slots, a chunk at a time. */
	t->chunks = t->arena + homesize;
	atomic_store_explicit(&t->nobjs, t->nhome, memory_order_relaxed);
	for (i = 0; i < HL_TBL_SHARDS; i++)
		pthread_mutex_init(&t->shards[i].mtx, NULL);
	pthread_mutex_init(&t->alloc_mtx, NULL);
	hl__fl_init(&t->free, offsetof(struct hl_obj, fnext));
	return 0;
}

void
hl__tbl_destroy(struct hl_table *t)
{
	uint32_t n = atomic_load_explicit(&t->nobjs, memory_order_relaxed), i;

	/* A chunk's cold parts are one allocation, its first object's;
	 * a home slot's is in the slot. */
	for (i = t->nhome; i < n; i += HL_TBL_CHUNK)
		free(hl__tbl_obj(t, i)->ext);
	tbl_arena_unmap(t);
	for (i = 0; i < HL_TBL_SHARDS; i++)
		pthread_mutex_destroy(&t->shards[i].mtx);
	pthread_mutex_destroy(&t->alloc_mtx);
	hl__fl_destroy(&t->free);
	free(t->shards);
	munmap(t->lines, t->lines_size);
	free(t->buckets);
}

static struct hl_obj *
tbl_walk(struct hl_table *t, uint32_t b, uint64_t key, bool locked,
    void (*release)(struct hl_obj *))
{
	struct hl_obj *o;
	uint32_t hops = 0;

	o = atomic_load_explicit(&t->buckets[b], memory_order_acquire);
	for (; o != NULL;
	     o = atomic_load_explicit(&o->hnext, memory_order_acquire)) {
		if (!locked && ++hops > HL_TBL_WALK_LIMIT)
			return NULL; /* a recycled link may loop: give up */
		if (hl__obj_key(o) != key)
			continue;
		if (!hl_ref_live(&o->lock))
			continue; /* dead, about to be unlinked */
		if (hl__tbl_is(o, key))
			return o;
		/*
		 * Recycled under us (or being discarded): not ours.  Under
		 * the shard mutex every object on the chain is linked to it
		 * and keeps its key until unlinked, so this cannot happen
		 * there (and release() could sleep or take the mutex).
		 */
		if (locked)
			hl__fatal("hl_table", &o->lock,
			    "object changed identity under its shard lock");
		release(o);
		return NULL;
	}
	return NULL;
}

struct hl_obj *
hl__tbl_find(struct hl_table *t, uint64_t key, bool locked,
    void (*release)(struct hl_obj *))
{
	uint32_t b = hl__tbl_bucket(t, key);
	pthread_mutex_t *mtx;
	struct hl_obj *o;

	if (!locked) {
		if ((o = hl__tbl_index_find(t, key, release)) != NULL)
			return o;
		atomic_fetch_add_explicit(
		    &t->index_misses[hl__thread_stripe() % HL_FL_STRIPES].n, 1,
		    memory_order_relaxed);
		return tbl_walk(t, b, key, false, release);
	}
	mtx = tbl_shard(t, b);
	pthread_mutex_lock(mtx);
	o = tbl_walk(t, b, key, true, release);
	pthread_mutex_unlock(mtx);
	return o;
}

uint64_t
hl__tbl_index_misses(struct hl_table *t)
{
	return HL_STRIPE_SUM(t->index_misses, HL_FL_STRIPES, n);
}

struct hl_obj *
hl__tbl_lookup(struct hl_table *t, uint64_t key)
{
	uint32_t b = hl__tbl_bucket(t, key), hops = 0, i;
	struct hl_tbl_line *ln = tbl_line(t, b);
	uint32_t tag = hl__tbl_tag(key);
	struct hl_obj *o;

	if ((o = hl__tbl_home_find(t, b, key)) != NULL)
		return o;
	for (i = 0; i < HL_TBL_LINE_SLOTS; i++)
		if (atomic_load_explicit(&ln->tag[i], memory_order_acquire) ==
			tag &&
		    hl__obj_key(o = hl__tbl_nobj(t, hl__tbl_slot_num(ln, i))) ==
			key)
			return o;
	o = atomic_load_explicit(&t->buckets[b], memory_order_acquire);
	for (; o != NULL && ++hops <= HL_TBL_WALK_LIMIT;
	     o = atomic_load_explicit(&o->hnext, memory_order_acquire))
		if (hl__obj_key(o) == key)
			return o;
	return NULL;
}

struct hl_obj *
hl__tbl_peek(struct hl_table *t, uint64_t key)
{
	uint32_t b = hl__tbl_bucket(t, key);
	pthread_mutex_t *mtx = tbl_shard(t, b);
	struct hl_obj *o;

	pthread_mutex_lock(mtx);
	for (o = atomic_load_explicit(&t->buckets[b], memory_order_relaxed);
	     o != NULL;
	     o = atomic_load_explicit(&o->hnext, memory_order_relaxed))
		if (hl__obj_key(o) == key &&
		    atomic_load_explicit(&o->lock.refs, memory_order_relaxed) !=
			HL_REFS_DEAD)
			break;
	pthread_mutex_unlock(mtx);
	return o;
}

struct hl_obj *
hl__tbl_peek_fast(struct hl_table *t, uint64_t key)
{
	struct hl_obj *o = hl__tbl_lookup(t, key);

	if (o != NULL && atomic_load_explicit(&o->lock.refs,
			     memory_order_relaxed) == HL_REFS_DEAD)
		return NULL;
	return o;
}

/* A new chunk of DEAD objects onto our free stripe.  alloc_mtx held. */
static int
tbl_grow(struct hl_table *t)
{
	uint32_t n = atomic_load_explicit(&t->nobjs, memory_order_relaxed), i;
	struct hl_obj *head = NULL, *tail = NULL;
	char *mem, *cold = NULL;
	size_t end;

	if ((n - t->nhome) / HL_TBL_CHUNK >= HL_TBL_MAXCHUNKS)
		return ENOSPC;
	/* The cold parts from the heap, the objects from the arena. */
	if (t->xsize != 0) {
		cold = aligned_alloc(64, HL_TBL_CHUNK * t->xsize);
		if (cold == NULL)
			return ENOMEM;
		memset(cold, 0, HL_TBL_CHUNK * t->xsize);
	}
	mem = t->chunks + (size_t)(n - t->nhome) * t->objsize;
	end = (size_t)(mem - t->arena) + HL_TBL_CHUNK * t->objsize;
	if (end > t->committed) {
		/* Whole huge pages: a fault can then map one. */
		end = (end + HL_TBL_ARENA_STEP - 1) & ~(HL_TBL_ARENA_STEP - 1);
		if (mprotect(t->arena + t->committed, end - t->committed,
			PROT_READ | PROT_WRITE)) {
			free(cold);
			return ENOMEM;
		}
		t->committed = end;
	}
	for (i = HL_TBL_CHUNK; i-- > 0;) {
		struct hl_obj *o = (struct hl_obj *)(mem + i * t->objsize);

		if (t->xsize != 0)
			o->ext = cold + i * t->xsize;
		tbl_obj_dead(o, HL_TBL_NOKEY);
		o->fnext = head;
		head = o;
		if (tail == NULL)
			tail = o;
	}
	atomic_store_explicit(
	    &t->nobjs, n + HL_TBL_CHUNK, memory_order_release);
	hl__fl_put_chain(&t->free, head, tail);
	return 0;
}

/*
 * Take key's home slot if it is free: a DEAD object for key, or NULL.
 * The claim is a compare-and-swap on the slot's key word, from one of the
 * two free states (0, HL_TBL_HOMEFREE) that only a free slot has.
 */
static struct hl_obj *
tbl_home_claim(struct hl_table *t, uint64_t key)
{
	struct hl_obj *o = hl__tbl_home(t, hl__tbl_bucket(t, key));
	uint64_t k = hl__obj_key(o);

	if (k == HL_TBL_HOMEFREE)
		/* Acquire: after the last owner's tbl_unlink_free(). */
		return atomic_compare_exchange_strong_explicit(&o->key, &k, key,
			   memory_order_acquire, memory_order_relaxed)
			   ? o
			   : NULL;
	/*
	 * First use: the claim (NOKEY matches no lookup) makes it ours to
	 * turn into a DEAD object.  A slot's key never goes back to 0.
	 */
	if (k != 0 ||
	    !atomic_compare_exchange_strong_explicit(&o->key, &k, HL_TBL_NOKEY,
		memory_order_relaxed, memory_order_relaxed))
		return NULL;
	if (t->xsize != 0)
		o->ext = (char *)o + t->objsize; /* zeroed, like a chunk's */
	tbl_obj_dead(o, key);
	return o;
}

struct hl_obj *
hl__tbl_alloc(struct hl_table *t, uint64_t key)
{
	struct hl_obj *o = NULL;
	int error;

	if (t->nhome != 0)
		o = tbl_home_claim(t, key);
	while (o == NULL && (o = hl__fl_get(&t->free)) == NULL) {
		pthread_mutex_lock(&t->alloc_mtx);
		error = tbl_grow(t);
		pthread_mutex_unlock(&t->alloc_mtx);
		if (error != 0)
			return NULL;
	}
	/* Stale readers may still look at these: atomics, and DEAD refs. */
	atomic_store_explicit(&o->key, key, memory_order_relaxed);
	atomic_store_explicit(&o->linked, false, memory_order_relaxed);
	atomic_store_explicit(&o->hnext, NULL, memory_order_relaxed);
	return o;
}

struct hl_obj *
hl__tbl_insert(
    struct hl_table *t, struct hl_obj *fresh, void (*release)(struct hl_obj *))
{
	uint64_t key = hl__obj_key(fresh);
	uint32_t b = hl__tbl_bucket(t, key);
	pthread_mutex_t *mtx = tbl_shard(t, b);
	struct hl_obj *o;

	pthread_mutex_lock(mtx);
	o = tbl_walk(t, b, key, true, release);
	if (o == NULL) {
		/* linked before reachable: a reader that finds it may use it
		 * (after waiting for our interlock). */
		atomic_store_explicit(
		    &fresh->linked, true, memory_order_relaxed);
		atomic_store_explicit(&fresh->hnext,
		    atomic_load_explicit(&t->buckets[b], memory_order_relaxed),
		    memory_order_relaxed);
		atomic_store_explicit(
		    &t->buckets[b], fresh, memory_order_release);
		tbl_index_add(t, b, fresh);
		o = fresh;
	}
	pthread_mutex_unlock(mtx);
	return o;
}

/* Remove a DEAD object from its chain (if linked) and free it. */
static void
tbl_unlink_free(struct hl_table *t, struct hl_obj *o)
{
	uint32_t b;
	pthread_mutex_t *mtx;
	struct hl_obj *_Atomic *pp;
	struct hl_obj *p;

	hl__race_window(); /* DEAD, still on its chain for lookups */
	if (atomic_load_explicit(&o->linked, memory_order_relaxed)) {
		b = hl__tbl_bucket(t, hl__obj_key(o));
		mtx = tbl_shard(t, b);
		pthread_mutex_lock(mtx);
		for (pp = &t->buckets[b]; (p = atomic_load_explicit(pp,
					       memory_order_relaxed)) != NULL;
		     pp = &p->hnext)
			if (p == o)
				break;
		if (p == NULL)
			hl__fatal("hl_table", &o->lock,
			    "linked object missing from its chain");
		tbl_index_del(t, b, o);
		/* o keeps its hnext: a reader on o walks on. */
		atomic_store_explicit(pp,
		    atomic_load_explicit(&o->hnext, memory_order_relaxed),
		    memory_order_release);
		atomic_store_explicit(&o->linked, false, memory_order_relaxed);
		pthread_mutex_unlock(mtx);
	}
	if (tbl_is_home(t, o))
		/* Free for the next key of its bucket (tbl_home_claim). */
		atomic_store_explicit(
		    &o->key, HL_TBL_HOMEFREE, memory_order_release);
	else
		hl__fl_put(&t->free, o);
}

bool
hl__tbl_kill(struct hl_table *t, struct hl_obj *o)
{
	if (!hl_kill_interlock(&o->lock))
		return false;
	tbl_unlink_free(t, o);
	return true;
}

void
hl__tbl_discard(struct hl_table *t, struct hl_obj *fresh)
{
	/* Not the object for any key from now on; then drop our hold. */
	atomic_store_explicit(&fresh->key, HL_TBL_NOKEY, memory_order_relaxed);
	hl__race_window(); /* a stale lookup may hold it */
	if (hl_rel_interlock(&fresh->lock, true) && hl_norefs(&fresh->lock) &&
	    hl__tbl_kill(t, fresh))
		return;
	/* A stale lookup holds it: its release destroys it. */
	hl_put_interlock(&fresh->lock, ESTALE);
}
