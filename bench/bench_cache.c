/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_cache.c - the cache hit path: find a cached node by its offset,
 * reference it, release it.  Four implementations of that path run in one
 * program, on the same keys, with their runs interleaved:
 *
 *   (a) mutex    a chained hash table under one pthread mutex; an int
 *                count per node, changed under the same mutex;
 *   (b) preseed  HAMMER before the refcount retooling: the lookup under a
 *                global mutex (the kernel's big lock), a bare atomic
 *                count, and the node's exclusive lock taken to load it
 *                when a get finds it unloaded and to unload it on the
 *                last release (the skeleton of bench_refs' `preseed');
 *   (c) floor    open addressing, lock-free reads (every key is inserted
 *                before the run, none is removed) and an atomic
 *                fetch_add/fetch_sub count: no interlock, no reclamation;
 *   (d) hl       libhammerlock's cache on a real mount with every node in
 *                memory: hl_get_node() + hl_rel_node().
 *
 * Keys are node offsets drawn uniformly at random from precomputed
 * per-thread arrays; with two threads each thread draws from its own half
 * of the nodes.  Each measurement runs for a fixed time after a short
 * untimed warm-up and yields the thread CPU time per hit
 * (CLOCK_THREAD_CPUTIME_ID) and the wall-clock throughput.  See
 * bench/README.md, section "bench_cache", for the method and the output.
 *
 * A benchmark, not a test: it prints numbers and exits 0; 2 on a usage
 * error, 1 when it cannot set up.  A final state that is not clean (a
 * count left non-zero, a lookup that missed) is printed as BENCH-WARNING.
 *
 * Built with -DNO_HL_CACHE, variant (d) is left out (for working on the
 * others while the cache is not there).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <hammerlock.h>

#define BENCH_MAX_RUNS	 99
#define BENCH_DEF_RUNS	 7
#define BENCH_QUICK_RUNS 5
#define BENCH_DEF_SECS	 0.4
#define BENCH_QUICK_SECS 0.01
#define BENCH_WARM_DIV	 8 /* warm-up = run time / this */
#define BENCH_DEF_KEYS	 (1u << 22)
#define BENCH_QUICK_KEYS (1u << 12)
#define BENCH_MAX_SIZES	 8
#define BENCH_CHUNK	 1024 /* hits between two looks at the clock */
#define BENCH_BUFSIZE	 16384u
#define BENCH_NODESIZE	 4096u
#define BENCH_SMALLNODE	 512u
#define BENCH_HASH_MUL	 0x9E3779B97F4A7C15ull
#define BENCH_NOINLINE	 __attribute__((noinline))

/* Where a size's nodes are: keys are the node offsets of (d)'s volume. */
struct bench_geom {
	uint64_t nnodes;
	uint32_t node_size;
	uint32_t buffer_size;
};

static inline uint64_t
bench_key(const struct bench_geom *g, uint64_t i)
{
	return HL_OFF_MAKE(0, (uint64_t)g->buffer_size + i * g->node_size);
}

/* Multiplicative hash: the top bits of key * 2^64/phi. */
static inline uint64_t
bench_hash(uint64_t key, unsigned shift)
{
	return (key * BENCH_HASH_MUL) >> shift;
}

/* Smallest power of two >= n (and >= 16), and its log2. */
static uint64_t
bench_pow2(uint64_t n, unsigned *log2p)
{
	uint64_t p = 16;
	unsigned l = 4;

	while (p < n) {
		p <<= 1;
		l++;
	}
	*log2p = l;
	return p;
}

static void *
bench_xalloc(size_t align, size_t size)
{
	void *p;

	size = (size + align - 1) / align * align;
	if ((p = aligned_alloc(align, size)) == NULL) {
		fprintf(
		    stderr, "bench_cache: out of memory (%zu bytes)\n", size);
		exit(1);
	}
	memset(p, 0, size);
	return p;
}

static uint64_t
bench_now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* (a): chained hash table and int counts under one mutex. */

struct bench_mnode {
	alignas(64) struct bench_mnode *next;
	uint64_t key;
	int refs;
};

struct bench_mtab {
	alignas(64) pthread_mutex_t mtx;
	alignas(64) struct bench_mnode **heads;
	struct bench_mnode *nodes;
	uint64_t nnodes;
	unsigned shift;
};

static void *
bench_mutex_setup(const struct bench_geom *g, char *why, size_t whylen)
{
	struct bench_mtab *t = bench_xalloc(64, sizeof(*t));
	uint64_t nb;
	unsigned lg;

	(void)why;
	(void)whylen;
	pthread_mutex_init(&t->mtx, NULL);
	nb = bench_pow2(g->nnodes, &lg);
	t->shift = 64 - lg;
	t->heads = bench_xalloc(64, nb * sizeof(*t->heads));
	t->nodes = bench_xalloc(64, g->nnodes * sizeof(*t->nodes));
	t->nnodes = g->nnodes;
	for (uint64_t i = 0; i < g->nnodes; i++) {
		struct bench_mnode *e = &t->nodes[i];
		uint64_t h;

		e->key = bench_key(g, i);
		h = bench_hash(e->key, t->shift);
		e->next = t->heads[h];
		t->heads[h] = e;
	}
	return t;
}

static BENCH_NOINLINE uint64_t
bench_mutex_hits(
    void *ctx, const uint64_t *keys, uint64_t kmask, uint64_t *pos, uint64_t n)
{
	struct bench_mtab *t = ctx;
	uint64_t p = *pos, miss = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t key = keys[p++ & kmask];
		struct bench_mnode *e;

		pthread_mutex_lock(&t->mtx);
		e = t->heads[bench_hash(key, t->shift)];
		while (e != NULL && e->key != key)
			e = e->next;
		if (e != NULL)
			e->refs++;
		pthread_mutex_unlock(&t->mtx);
		if (e == NULL) {
			miss++;
			continue;
		}
		pthread_mutex_lock(&t->mtx);
		e->refs--;
		pthread_mutex_unlock(&t->mtx);
	}
	*pos = p;
	return miss;
}

static const char *
bench_mutex_check(void *ctx)
{
	struct bench_mtab *t = ctx;

	for (uint64_t i = 0; i < t->nnodes; i++)
		if (t->nodes[i].refs != 0)
			return "a node's count is not 0 at the end";
	return NULL;
}

static void
bench_mutex_teardown(void *ctx)
{
	struct bench_mtab *t = ctx;

	pthread_mutex_destroy(&t->mtx);
	free(t->heads);
	free(t->nodes);
	free(t);
}

/* ------------------------------------------------------------------ */
/*
 * (b): the pre-seed scheme.  Before the retooling, HAMMER found a node
 * under the kernel's big lock and bumped a plain counter; whether the
 * node had to be loaded was decided by looking at its ondisk pointer and
 * its `loading' count, and loading and unloading were serialized by the
 * node's own exclusive lock.  Per node, as in bench_refs:
 *
 *	get:	lookup, refs++		(under the global mutex)
 *		if (!loaded || loading) {
 *			loading++; lock_ex;
 *			if (!loaded) loaded = 1;	(the load)
 *			loading--; unlock;
 *		}
 *	release: if (refs == 1) {
 *			loading++; lock_ex;
 *			if (refs == 1) loaded = 0;	(the unload)
 *			loading--; unlock;
 *		}
 *		refs--
 *
 * The load and unload are empty.  refs is the refs word of the node's
 * hl_lock used as a bare counter, so hl_lock_ex() finds the reference it
 * insists on; the lock is the library's lockval lock.  `loading' uses
 * sequentially consistent operations so that a get that bumps refs after
 * a releaser re-checked it is sure to see `loading' raised.
 */
struct bench_pnode {
	alignas(64) struct hl_lock lk;
	_Atomic int loaded;
	_Atomic int loading;
	struct bench_pnode *next;
	uint64_t key;
};

struct bench_ptab {
	alignas(64) pthread_mutex_t mtx;
	alignas(64) struct bench_pnode **heads;
	struct bench_pnode *nodes;
	uint64_t nnodes;
	unsigned shift;
};

static void *
bench_preseed_setup(const struct bench_geom *g, char *why, size_t whylen)
{
	struct bench_ptab *t = bench_xalloc(64, sizeof(*t));
	uint64_t nb;
	unsigned lg;

	(void)why;
	(void)whylen;
	pthread_mutex_init(&t->mtx, NULL);
	nb = bench_pow2(g->nnodes, &lg);
	t->shift = 64 - lg;
	t->heads = bench_xalloc(64, nb * sizeof(*t->heads));
	t->nodes = bench_xalloc(64, g->nnodes * sizeof(*t->nodes));
	t->nnodes = g->nnodes;
	for (uint64_t i = 0; i < g->nnodes; i++) {
		struct bench_pnode *e = &t->nodes[i];
		uint64_t h;

		hl_lock_init(&e->lk);
		e->key = bench_key(g, i);
		h = bench_hash(e->key, t->shift);
		e->next = t->heads[h];
		t->heads[h] = e;
	}
	return t;
}

static inline struct bench_pnode *
bench_preseed_get(struct bench_ptab *t, uint64_t key)
{
	struct bench_pnode *e;

	pthread_mutex_lock(&t->mtx);
	e = t->heads[bench_hash(key, t->shift)];
	while (e != NULL && e->key != key)
		e = e->next;
	if (e != NULL)
		atomic_fetch_add(&e->lk.refs, 1);
	pthread_mutex_unlock(&t->mtx);
	if (e == NULL)
		return NULL;
	if (atomic_load(&e->loaded) && atomic_load(&e->loading) == 0)
		return e;
	atomic_fetch_add(&e->loading, 1);
	hl_lock_ex(&e->lk);
	if (!atomic_load_explicit(&e->loaded, memory_order_relaxed))
		atomic_store_explicit(&e->loaded, 1, memory_order_relaxed);
	atomic_fetch_sub(&e->loading, 1);
	hl_unlock(&e->lk);
	return e;
}

static inline void
bench_preseed_rel(struct bench_pnode *e)
{
	if (atomic_load(&e->lk.refs) == 1) {
		atomic_fetch_add(&e->loading, 1);
		hl_lock_ex(&e->lk);
		if (atomic_load(&e->lk.refs) == 1)
			atomic_store_explicit(
			    &e->loaded, 0, memory_order_relaxed);
		atomic_fetch_sub(&e->loading, 1);
		hl_unlock(&e->lk);
	}
	atomic_fetch_sub(&e->lk.refs, 1);
}

static BENCH_NOINLINE uint64_t
bench_preseed_hits(
    void *ctx, const uint64_t *keys, uint64_t kmask, uint64_t *pos, uint64_t n)
{
	struct bench_ptab *t = ctx;
	uint64_t p = *pos, miss = 0;

	for (uint64_t i = 0; i < n; i++) {
		struct bench_pnode *e = bench_preseed_get(t, keys[p++ & kmask]);

		if (e == NULL) {
			miss++;
			continue;
		}
		bench_preseed_rel(e);
	}
	*pos = p;
	return miss;
}

static const char *
bench_preseed_check(void *ctx)
{
	struct bench_ptab *t = ctx;

	for (uint64_t i = 0; i < t->nnodes; i++) {
		struct bench_pnode *e = &t->nodes[i];

		if (atomic_load(&e->lk.refs) != 0)
			return "a node's refs word is not 0 at the end";
		if (atomic_load(&e->lk.lockval) != 0)
			return "a node's lock is held at the end";
		if (atomic_load(&e->loading) != 0)
			return "a node's loading count is not 0 at the end";
	}
	return NULL;
}

static void
bench_preseed_teardown(void *ctx)
{
	struct bench_ptab *t = ctx;

	pthread_mutex_destroy(&t->mtx);
	free(t->heads);
	free(t->nodes);
	free(t);
}

/* ------------------------------------------------------------------ */
/*
 * (c): the floor.  Linear probing over a table at most half full; a slot
 * holds a key and a pointer to its node, the key published last (release)
 * so that a reader that sees it (acquire) sees the pointer.  Nothing is
 * ever removed, so readers need no lock and nodes are never reclaimed.
 */
struct bench_fnode {
	alignas(64) _Atomic uint32_t refs;
	uint64_t key;
};

struct bench_fslot {
	_Atomic uint64_t key; /* 0: empty (real keys have zone bits) */
	struct bench_fnode *node;
};

struct bench_ftab {
	struct bench_fslot *slots;
	struct bench_fnode *nodes;
	uint64_t mask;
	uint64_t nnodes;
	unsigned shift;
};

static void *
bench_floor_setup(const struct bench_geom *g, char *why, size_t whylen)
{
	struct bench_ftab *t = bench_xalloc(64, sizeof(*t));
	uint64_t ns;
	unsigned lg;

	(void)why;
	(void)whylen;
	ns = bench_pow2(2 * g->nnodes, &lg);
	t->shift = 64 - lg;
	t->mask = ns - 1;
	t->slots = bench_xalloc(64, ns * sizeof(*t->slots));
	t->nodes = bench_xalloc(64, g->nnodes * sizeof(*t->nodes));
	t->nnodes = g->nnodes;
	for (uint64_t i = 0; i < g->nnodes; i++) {
		struct bench_fnode *e = &t->nodes[i];
		uint64_t h;

		e->key = bench_key(g, i);
		h = bench_hash(e->key, t->shift);
		while (atomic_load_explicit(
			   &t->slots[h].key, memory_order_relaxed) != 0)
			h = (h + 1) & t->mask;
		t->slots[h].node = e;
		atomic_store_explicit(
		    &t->slots[h].key, e->key, memory_order_release);
	}
	return t;
}

static BENCH_NOINLINE uint64_t
bench_floor_hits(
    void *ctx, const uint64_t *keys, uint64_t kmask, uint64_t *pos, uint64_t n)
{
	struct bench_ftab *t = ctx;
	uint64_t p = *pos, miss = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t key = keys[p++ & kmask];
		uint64_t h = bench_hash(key, t->shift), k;
		struct bench_fnode *e;

		while ((k = atomic_load_explicit(
			    &t->slots[h].key, memory_order_acquire)) != key &&
		       k != 0)
			h = (h + 1) & t->mask;
		if (k == 0) {
			miss++;
			continue;
		}
		e = t->slots[h].node;
		atomic_fetch_add_explicit(&e->refs, 1, memory_order_acquire);
		atomic_fetch_sub_explicit(&e->refs, 1, memory_order_release);
	}
	*pos = p;
	return miss;
}

static const char *
bench_floor_check(void *ctx)
{
	struct bench_ftab *t = ctx;

	for (uint64_t i = 0; i < t->nnodes; i++)
		if (atomic_load(&t->nodes[i].refs) != 0)
			return "a node's count is not 0 at the end";
	return NULL;
}

static void
bench_floor_teardown(void *ctx)
{
	struct bench_ftab *t = ctx;

	free(t->slots);
	free(t->nodes);
	free(t);
}

/* ------------------------------------------------------------------ */
/*
 * (d): libhammerlock.  A one-volume mount made with hl_newfs in a
 * temporary file, a pool big enough for every buffer, every node created
 * (hl_get_node(isnew)) and written out, then read once so that all of
 * them are in memory and verified before anything is timed.
 */
#ifndef NO_HL_CACHE
static char bench_vol_path[PATH_MAX]; /* removed at exit if still there */
static const char *bench_dir;	      /* where the volume file goes */
static bool bench_sync = true;	      /* hl_mount_sync after populating */

struct bench_hl {
	struct hl_mount *m;
	struct bench_geom g;
	struct hl_mount_stats st0;
	double setup_s, populate_s, sync_s;
};

static void
bench_vol_cleanup(void)
{
	if (bench_vol_path[0] != '\0') {
		(void)unlink(bench_vol_path);
		bench_vol_path[0] = '\0';
	}
}

static void *
bench_hl_fail(struct bench_hl *c, char *why, size_t whylen, const char *what,
    int error, const char *msg)
{
	char close_why[256];

	snprintf(why, whylen, "%s: %s%s%s", what, strerror(error),
	    msg[0] != '\0' ? ": " : "", msg);
	if (c->m != NULL)
		(void)hl_mount_close(c->m, close_why, sizeof(close_why));
	bench_vol_cleanup();
	free(c);
	return NULL;
}

static void *
bench_hl_setup(const struct bench_geom *g, char *why, size_t whylen)
{
	struct bench_hl *c = bench_xalloc(64, sizeof(*c));
	const char *paths[1] = {bench_vol_path};
	struct hl_newfs_opts no;
	struct hl_mount_opts mo;
	struct hl_trans tr;
	uint64_t per_buf, nbuf, t0 = bench_now(CLOCK_MONOTONIC), t1;
	char msg[320] = "";
	int fd, error = 0;

	c->g = *g;
	per_buf = g->buffer_size / g->node_size;
	nbuf = (g->nnodes + per_buf - 1) / per_buf;

	snprintf(bench_vol_path, sizeof(bench_vol_path),
	    "%s/bench_cache.XXXXXX", bench_dir);
	if ((fd = mkstemp(bench_vol_path)) < 0) {
		error = errno;
		bench_vol_path[0] = '\0';
		return bench_hl_fail(c, why, whylen, "mkstemp", error, "");
	}
	close(fd);

	/* The header buffer, nbuf data buffers and 16 spare ones. */
	memset(&no, 0, sizeof(no));
	no.vol_size = (1 + nbuf + 16) * (uint64_t)g->buffer_size;
	no.buffer_size = g->buffer_size;
	no.node_size = g->node_size;
	if ((error = hl_newfs(paths, 1, &no, msg, sizeof(msg))) != 0)
		return bench_hl_fail(c, why, whylen, "hl_newfs", error, msg);

	/* Room for all the data twice over: nothing is ever reclaimed. */
	memset(&mo, 0, sizeof(mo));
	mo.pool_bytes = 2 * nbuf * (uint64_t)g->buffer_size + (64u << 20);
	error = hl_mount_open(paths, 1, &mo, &c->m, msg, sizeof(msg));
	if (error != 0) {
		c->m = NULL;
		return bench_hl_fail(
		    c, why, whylen, "hl_mount_open", error, msg);
	}

	/*
	 * Create the nodes.  Each buffer is first created (zero-filled)
	 * and held while its nodes are made, or every node's load would
	 * read its buffer from the file, which only holds zeros.
	 */
	hl_trans_init(&tr, c->m);
	for (uint64_t i = 0; i < g->nnodes; i += per_buf) {
		struct hl_buffer *b;

		b = hl_get_buffer(c->m, bench_key(g, i), 0, true, &error);
		if (b == NULL)
			return bench_hl_fail(
			    c, why, whylen, "hl_get_buffer(isnew)", error, "");
		for (uint64_t j = i; j < i + per_buf && j < g->nnodes; j++) {
			struct hl_node *n =
			    hl_get_node(&tr, bench_key(g, j), true, &error);

			if (n == NULL) {
				hl_rel_buffer(b);
				return bench_hl_fail(c, why, whylen,
				    "hl_get_node(isnew)", error, "");
			}
			hl_rel_node(n);
		}
		hl_rel_buffer(b);
	}
	t1 = bench_now(CLOCK_MONOTONIC);
	c->populate_s = (double)(t1 - t0) / 1e9;
	if (bench_sync && (error = hl_mount_sync(c->m, msg, sizeof(msg))) != 0)
		return bench_hl_fail(
		    c, why, whylen, "hl_mount_sync", error, msg);
	c->sync_s = (double)(bench_now(CLOCK_MONOTONIC) - t1) / 1e9;

	/* Every node once, in order: all must be there, none read. */
	for (uint64_t i = 0; i < g->nnodes; i++) {
		struct hl_node *n =
		    hl_get_node(&tr, bench_key(g, i), false, &error);

		if (n == NULL)
			return bench_hl_fail(c, why, whylen,
			    "hl_get_node (verify pass)", error, "");
		hl_rel_node(n);
	}
	hl_mount_stats(c->m, &c->st0);
	c->setup_s = (double)(bench_now(CLOCK_MONOTONIC) - t0) / 1e9;
	return c;
}

static BENCH_NOINLINE uint64_t
bench_hl_hits(
    void *ctx, const uint64_t *keys, uint64_t kmask, uint64_t *pos, uint64_t n)
{
	struct bench_hl *c = ctx;
	struct hl_trans tr;
	uint64_t p = *pos, miss = 0;

	hl_trans_init(&tr, c->m);
	for (uint64_t i = 0; i < n; i++) {
		struct hl_node *nd;
		int error = 0;

		nd = hl_get_node(&tr, keys[p++ & kmask], false, &error);
		if (nd == NULL) {
			miss++;
			continue;
		}
		hl_rel_node(nd);
	}
	*pos = p;
	return miss;
}

static const char *
bench_hl_check(void *ctx)
{
	struct bench_hl *c = ctx;
	struct hl_mount_stats st;

	hl_mount_stats(c->m, &st);
	if (st.nodes_referenced != 0)
		return "nodes still referenced at the end";
	if (st.reads != c->st0.reads)
		return "nodes were read during the timed runs (not all hits)";
	if (st.reclaims != c->st0.reclaims)
		return "the pool reclaimed buffers during the timed runs";
	return NULL;
}

/* What the mount did during the runs, per hit. */
static void
bench_hl_report(void *ctx, uint64_t hits)
{
	struct bench_hl *c = ctx;
	struct hl_mount_stats st;
	double h = hits > 0 ? (double)hits : 1;

	hl_mount_stats(c->m, &st);
	printf("# (d) size=%" PRIu64 ": setup %.1f s (populate %.1f s, "
	       "sync %.1f s); "
	       "over %" PRIu64 " hits: node_loads/hit %.3f, "
	       "buffer_loads/hit %.3f, buffer_hits/hit %.3f, reads %" PRIu64
	       ", reclaims %" PRIu64 ", index_misses/hit %.3f"
	       ", interlock_sleeps %" PRIu64 ", lock_contended %" PRIu64 "\n",
	    c->g.nnodes, c->setup_s, c->populate_s, c->sync_s, hits,
	    (double)(st.node_loads - c->st0.node_loads) / h,
	    (double)(st.buffer_loads - c->st0.buffer_loads) / h,
	    (double)(st.buffer_hits - c->st0.buffer_hits) / h,
	    st.reads - c->st0.reads, st.reclaims - c->st0.reclaims,
	    (double)(st.index_misses - c->st0.index_misses) / h,
	    st.interlock_sleeps - c->st0.interlock_sleeps,
	    st.lock_contended - c->st0.lock_contended);
}

static void
bench_hl_teardown(void *ctx)
{
	struct bench_hl *c = ctx;
	char why[512];
	int error;

	if ((error = hl_mount_close(c->m, why, sizeof(why))) != 0)
		printf("BENCH-WARNING (d) hl_mount_close: %s: %s\n",
		    strerror(error), why);
	bench_vol_cleanup();
	free(c);
}
#endif /* NO_HL_CACHE */

/* ------------------------------------------------------------------ */

struct bench_variant {
	const char *name;  /* for --variants */
	const char *label; /* in the table */
	void *(*setup)(const struct bench_geom *, char *, size_t);
	uint64_t (*hits)(void *, const uint64_t *, uint64_t, uint64_t *,
	    uint64_t); /* returns the misses */
	const char *(*check)(void *);
	void (*report)(void *, uint64_t);
	void (*teardown)(void *);
};

enum { BENCH_MUTEX, BENCH_PRESEED, BENCH_FLOOR, BENCH_HL, BENCH_NVAR };

static const struct bench_variant bench_variants[BENCH_NVAR] = {
    {"mutex", "(a) mutex", bench_mutex_setup, bench_mutex_hits,
	bench_mutex_check, NULL, bench_mutex_teardown},
    {"preseed", "(b) preseed", bench_preseed_setup, bench_preseed_hits,
	bench_preseed_check, NULL, bench_preseed_teardown},
    {"floor", "(c) floor", bench_floor_setup, bench_floor_hits,
	bench_floor_check, NULL, bench_floor_teardown},
#ifndef NO_HL_CACHE
    {"hl", "(d) hl", bench_hl_setup, bench_hl_hits, bench_hl_check,
	bench_hl_report, bench_hl_teardown},
#else
    {"hl", "(d) hl", NULL, NULL, NULL, NULL, NULL},
#endif
};

/* ------------------------------------------------------------------ */
/* One measurement. */

struct bench_run {
	const struct bench_variant *v;
	void *ctx;
	_Atomic int ready;
	int nthreads;
	uint64_t run_ns, warm_ns;
};

struct bench_worker {
	pthread_t tid;
	struct bench_run *r;
	const uint64_t *keys;
	uint64_t kmask;
	uint64_t hits, warm_hits, miss;
	uint64_t t0, t1, cpu;
};

static void *
bench_worker_main(void *arg)
{
	struct bench_worker *w = arg;
	struct bench_run *r = w->r;
	uint64_t pos, end, c0;
	unsigned spins = 0;

	/* Untimed warm-up, on the second half of the key array. */
	pos = (w->kmask + 1) / 2;
	end = bench_now(CLOCK_MONOTONIC) + r->warm_ns;
	do {
		w->miss +=
		    r->v->hits(r->ctx, w->keys, w->kmask, &pos, BENCH_CHUNK);
		w->warm_hits += BENCH_CHUNK;
	} while (bench_now(CLOCK_MONOTONIC) < end);

	/* Start together; yield if the other vCPU is busy elsewhere. */
	atomic_fetch_add(&r->ready, 1);
	while (atomic_load(&r->ready) < r->nthreads)
		if (++spins > 1000)
			sched_yield();

	/* Every variant sees the same key sequence from here. */
	pos = 0;
	c0 = bench_now(CLOCK_THREAD_CPUTIME_ID);
	w->t0 = bench_now(CLOCK_MONOTONIC);
	end = w->t0 + r->run_ns;
	do {
		w->miss +=
		    r->v->hits(r->ctx, w->keys, w->kmask, &pos, BENCH_CHUNK);
		w->hits += BENCH_CHUNK;
	} while ((w->t1 = bench_now(CLOCK_MONOTONIC)) < end);
	w->cpu = bench_now(CLOCK_THREAD_CPUTIME_ID) - c0;
	return NULL;
}

struct bench_sample {
	double cpu;   /* thread CPU ns per hit (all threads) */
	double mhits; /* hits of all threads per wall-clock microsecond */
	double par;   /* CPU time of the threads / elapsed time */
	uint64_t hits, all_hits, miss;
};

static struct bench_sample
bench_measure(const struct bench_variant *v, void *ctx, int nthreads,
    uint64_t *const *keys, uint64_t kmask, double secs)
{
	struct bench_worker w[2];
	struct bench_run r;
	struct bench_sample sm;
	uint64_t tmin, tmax, cpu = 0;

	memset(&sm, 0, sizeof(sm));
	memset(w, 0, sizeof(w));
	r.v = v;
	r.ctx = ctx;
	atomic_init(&r.ready, 0);
	r.nthreads = nthreads;
	r.run_ns = (uint64_t)(secs * 1e9);
	r.warm_ns = r.run_ns / BENCH_WARM_DIV;
	for (int i = 0; i < nthreads; i++) {
		w[i].r = &r;
		w[i].keys = keys[i];
		w[i].kmask = kmask;
	}
	for (int i = 1; i < nthreads; i++) {
		int e =
		    pthread_create(&w[i].tid, NULL, bench_worker_main, &w[i]);

		if (e != 0) {
			fprintf(stderr, "bench_cache: pthread_create: %s\n",
			    strerror(e));
			exit(1);
		}
	}
	bench_worker_main(&w[0]);
	for (int i = 1; i < nthreads; i++)
		pthread_join(w[i].tid, NULL);

	tmin = w[0].t0;
	tmax = w[0].t1;
	for (int i = 0; i < nthreads; i++) {
		if (w[i].t0 < tmin)
			tmin = w[i].t0;
		if (w[i].t1 > tmax)
			tmax = w[i].t1;
		sm.hits += w[i].hits;
		sm.all_hits += w[i].hits + w[i].warm_hits;
		sm.miss += w[i].miss;
		cpu += w[i].cpu;
	}
	sm.cpu = (double)cpu / (double)sm.hits;
	sm.mhits = (double)sm.hits * 1e3 / (double)(tmax - tmin);
	sm.par = (double)cpu / (double)(tmax - tmin);
	return sm;
}

/* ------------------------------------------------------------------ */
/* Results and statistics. */

struct bench_series {
	double cpu[BENCH_MAX_RUNS], mhits[BENCH_MAX_RUNS], par[BENCH_MAX_RUNS];
	bool ok[BENCH_MAX_RUNS];
	uint64_t hits, all_hits, miss;
	bool skipped; /* setup failed */
};

/* [size][threads - 1][variant] */
static struct bench_series bench_res[BENCH_MAX_SIZES][2][BENCH_NVAR];

struct bench_stat {
	double med, min, max;
	int n;
};

static int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct bench_stat
bench_stat_of(const double *v, int n)
{
	double s[BENCH_MAX_RUNS];
	struct bench_stat st = {0, 0, 0, n};

	if (n == 0)
		return st;
	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), bench_cmp_double);
	st.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	st.min = s[0];
	st.max = s[n - 1];
	return st;
}

/* The runs of a series that succeeded, in order. */
static struct bench_stat
bench_series_stat(const struct bench_series *s, const double *field, int runs)
{
	double v[BENCH_MAX_RUNS];
	int n = 0;

	for (int r = 0; r < runs; r++)
		if (s->ok[r])
			v[n++] = field[r];
	return bench_stat_of(v, n);
}

/*
 * Median of the same-run ratios a[r] / b[r] (or b[r] / a[r] with inv):
 * both were measured in run r, close in time, so drift of the host
 * between runs cancels.  0 when no run has both.
 */
static double
bench_paired_ratio(const struct bench_series *sa, const double *a,
    const struct bench_series *sb, const double *b, int runs)
{
	double v[BENCH_MAX_RUNS];
	int n = 0;

	for (int r = 0; r < runs; r++)
		if (sa->ok[r] && sb->ok[r] && b[r] > 0)
			v[n++] = a[r] / b[r];
	return n > 0 ? bench_stat_of(v, n).med : 0;
}

/* ------------------------------------------------------------------ */
/* Options. */

struct bench_opts {
	uint64_t sizes[BENCH_MAX_SIZES];
	int nsizes;
	int runs;
	double secs;
	uint64_t nkeys; /* per thread, a power of two */
	bool threads[3];
	bool variants[BENCH_NVAR];
	uint32_t node_size; /* 0: automatic */
	bool quick;
};

static void
bench_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bench_cache [--quick] [--sizes LIST] [--runs N] "
	    "[--seconds S]\n"
	    "                   [--threads 1|2|1,2] [--variants LIST] "
	    "[--keys N]\n"
	    "                   [--node-size N] [--dir DIR] [--no-sync] "
	    "[--help]\n"
	    "  --sizes LIST    cached nodes, comma-separated, K/M suffixes\n"
	    "                  (default 1K,64K,1M)\n"
	    "  --runs N        measurements per (size, threads, variant), "
	    "median reported\n"
	    "                  (default %d, 1..%d; >= 5 for results)\n"
	    "  --seconds S     timed length of one measurement "
	    "(default %.2f; warm-up S/%d)\n"
	    "  --threads LIST  1, 2 or 1,2 (default 1,2); 2 threads hit "
	    "disjoint halves\n"
	    "  --variants LIST mutex,preseed,floor,hl (default all)\n"
	    "  --keys N        random keys per thread, power of two "
	    "(default %u)\n"
	    "  --node-size N   node size of every size (512..16384); default: "
	    "4096, or 512\n"
	    "                  if N nodes of 4 KiB would not fit in RAM "
	    "or on disk\n"
	    "  --dir DIR       where (d)'s volume file goes "
	    "(default $TMPDIR or /tmp)\n"
	    "  --no-sync       do not hl_mount_sync after populating (d)\n"
	    "  --quick         smoke run: 1K nodes, %d runs of %.2f s, %u "
	    "keys\n",
	    BENCH_DEF_RUNS, BENCH_MAX_RUNS, BENCH_DEF_SECS, BENCH_WARM_DIV,
	    BENCH_DEF_KEYS, BENCH_QUICK_RUNS, BENCH_QUICK_SECS,
	    BENCH_QUICK_KEYS);
}

static bool
bench_parse_count(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0)
		return false;
	if (*end == 'K' || *end == 'k') {
		x <<= 10;
		end++;
	} else if (*end == 'M' || *end == 'm') {
		x <<= 20;
		end++;
	}
	if (*end != '\0')
		return false;
	*v = x;
	return true;
}

/* Parse a comma-separated list, calling item() on each element. */
static bool
bench_parse_list(const char *s, bool (*item)(const char *, void *), void *arg)
{
	char buf[256], *tok, *save;

	if (s == NULL || strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save))
		if (!item(tok, arg))
			return false;
	return true;
}

static bool
bench_size_item(const char *s, void *arg)
{
	struct bench_opts *o = arg;
	uint64_t v;

	if (!bench_parse_count(s, &v) || v < 2 || v > (64u << 20) ||
	    o->nsizes >= BENCH_MAX_SIZES)
		return false;
	o->sizes[o->nsizes++] = v;
	return true;
}

static bool
bench_threads_item(const char *s, void *arg)
{
	struct bench_opts *o = arg;

	if (strcmp(s, "1") == 0)
		o->threads[1] = true;
	else if (strcmp(s, "2") == 0)
		o->threads[2] = true;
	else
		return false;
	return true;
}

static bool
bench_variant_item(const char *s, void *arg)
{
	struct bench_opts *o = arg;

	for (int v = 0; v < BENCH_NVAR; v++)
		if (strcmp(s, bench_variants[v].name) == 0) {
			o->variants[v] = true;
			return true;
		}
	return false;
}

/* MemAvailable in bytes, or 0 if unknown. */
static uint64_t
bench_mem_available(void)
{
	FILE *fp = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kb = 0;

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(fp);
	return (uint64_t)kb << 10;
}

/*
 * 4 KiB nodes, unless the size's node data (held in the pool, and on
 * disk once synced) would not fit: then 512-byte nodes.  Room is left
 * for the other variants' tables and the key arrays.
 */
static uint32_t
bench_node_size(const struct bench_opts *o, uint64_t nnodes, const char *dir)
{
	uint64_t mem = bench_mem_available(), disk = 0, data;
	struct statvfs sv;

	if (o->node_size != 0)
		return o->node_size;
	if (statvfs(dir, &sv) == 0)
		disk = (uint64_t)sv.f_bavail * sv.f_frsize;
	data = nnodes * BENCH_NODESIZE;
	if ((mem != 0 && data + data / 2 + (1ull << 30) > mem) ||
	    (disk != 0 && data + (1ull << 30) > disk))
		return BENCH_SMALLNODE;
	return BENCH_NODESIZE;
}

static void
bench_fmt_size(char *buf, size_t len, uint64_t n)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(buf, len, "%" PRIu64 "M", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, len, "%" PRIu64 "K", n >> 10);
	else
		snprintf(buf, len, "%" PRIu64, n);
}

/* Uniform random node indices in [lo, hi), as keys; xorshift64*. */
static void
bench_fill_keys(uint64_t *keys, uint64_t nkeys, const struct bench_geom *g,
    uint64_t lo, uint64_t hi, uint64_t seed)
{
	uint64_t x = seed | 1;

	for (uint64_t i = 0; i < nkeys; i++) {
		uint64_t r;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		r = x * 0x2545F4914F6CDD1Dull;
		keys[i] = bench_key(g,
		    lo + (uint64_t)(((unsigned __int128)r * (hi - lo)) >> 64));
	}
}

/* ------------------------------------------------------------------ */
/* Output. */

static void
bench_print_lines(const struct bench_opts *o, int si, uint32_t node_size)
{
	for (int t = 1; t <= 2; t++)
		for (int v = 0; v < BENCH_NVAR; v++) {
			const struct bench_series *s = &bench_res[si][t - 1][v];
			const struct bench_series *fl =
			    &bench_res[si][t - 1][BENCH_FLOOR];
			const struct bench_series *mx =
			    &bench_res[si][t - 1][BENCH_MUTEX];
			struct bench_stat c, m, p;

			if (!o->threads[t] || !o->variants[v] || s->skipped)
				continue;
			c = bench_series_stat(s, s->cpu, o->runs);
			m = bench_series_stat(s, s->mhits, o->runs);
			p = bench_series_stat(s, s->par, o->runs);
			if (c.n == 0)
				continue;
			printf("BENCH_CACHE size=%" PRIu64
			       " node_size=%u threads=%d variant=%s runs=%d "
			       "hits=%" PRIu64 " cpu_ns=%.2f cpu_min=%.2f "
			       "cpu_max=%.2f mhits=%.3f mhits_min=%.3f "
			       "mhits_max=%.3f par=%.2f cpu_vs_floor=%.3f "
			       "thr_vs_floor=%.3f thr_vs_mutex=%.3f "
			       "misses=%" PRIu64 "\n",
			    o->sizes[si], node_size, t, bench_variants[v].name,
			    c.n, s->hits, c.med, c.min, c.max, m.med, m.min,
			    m.max, p.med,
			    bench_paired_ratio(s, s->cpu, fl, fl->cpu, o->runs),
			    bench_paired_ratio(
				s, s->mhits, fl, fl->mhits, o->runs),
			    bench_paired_ratio(
				s, s->mhits, mx, mx->mhits, o->runs),
			    s->miss);
		}
}

static void
bench_print_table(const struct bench_opts *o)
{
	printf("\n%-5s %3s %-12s %-26s %-26s %8s %8s %5s\n", "size", "thr",
	    "variant", "CPU ns/hit med [min-max]", "Mhits/s med [min-max]",
	    "cpu/(c)", "thr/(a)", "par");
	for (int si = 0; si < o->nsizes; si++)
		for (int t = 1; t <= 2; t++)
			for (int v = 0; v < BENCH_NVAR; v++) {
				const struct bench_series *s =
				    &bench_res[si][t - 1][v];
				const struct bench_series *fl =
				    &bench_res[si][t - 1][BENCH_FLOOR];
				const struct bench_series *mx =
				    &bench_res[si][t - 1][BENCH_MUTEX];
				struct bench_stat c, m, p;
				char sz[24], cs[40], ms[40];
				char cr[16] = "-", tr[16] = "-";
				double x;

				if (!o->threads[t] || !o->variants[v])
					continue;
				bench_fmt_size(sz, sizeof(sz), o->sizes[si]);
				if (s->skipped) {
					printf("%-5s %3d %-12s (not run: setup "
					       "failed)\n",
					    sz, t, bench_variants[v].label);
					continue;
				}
				c = bench_series_stat(s, s->cpu, o->runs);
				m = bench_series_stat(s, s->mhits, o->runs);
				p = bench_series_stat(s, s->par, o->runs);
				if (c.n == 0)
					continue;
				snprintf(cs, sizeof(cs), "%.1f [%.1f-%.1f]",
				    c.med, c.min, c.max);
				snprintf(ms, sizeof(ms), "%.2f [%.2f-%.2f]",
				    m.med, m.min, m.max);
				x = bench_paired_ratio(
				    s, s->cpu, fl, fl->cpu, o->runs);
				if (x > 0)
					snprintf(cr, sizeof(cr), "%.2fx", x);
				x = bench_paired_ratio(
				    s, s->mhits, mx, mx->mhits, o->runs);
				if (x > 0)
					snprintf(tr, sizeof(tr), "%.2fx", x);
				printf("%-5s %3d %-12s %-26s %-26s %8s %8s "
				       "%5.2f\n",
				    sz, t, bench_variants[v].label, cs, ms, cr,
				    tr, p.med);
			}
	printf("# CPU ns/hit: thread CPU time (CLOCK_THREAD_CPUTIME_ID) of "
	       "all threads / their hits;\n"
	       "# Mhits/s: hits of all threads / wall-clock time; "
	       "cpu/(c), thr/(a): medians of the\n"
	       "# same-run ratios to (c) floor's CPU ns and to (a) mutex's "
	       "throughput, same size and\n"
	       "# threads; par: CPU time / elapsed time (2.00: both "
	       "threads ran all along).\n");
}

/* Index of a size in the run, or -1. */
static int
bench_size_index(const struct bench_opts *o, uint64_t n)
{
	for (int si = 0; si < o->nsizes; si++)
		if (o->sizes[si] == n)
			return si;
	return -1;
}

static const char *
bench_verdict(bool ok)
{
	return ok ? "met" : "NOT MET";
}

/* The targets of issue 6, for variant (d). */
static void
bench_print_targets(const struct bench_opts *o)
{
	int k64 = bench_size_index(o, 65536);

	printf("\nTargets (issue 6), variant (d) hl:\n");
	if (!o->variants[BENCH_HL] || !o->variants[BENCH_FLOOR] ||
	    !o->variants[BENCH_MUTEX]) {
		printf("  n/a: needs variants mutex, floor and hl\n");
		return;
	}
	if (o->threads[1] && k64 >= 0 && !bench_res[k64][0][BENCH_HL].skipped) {
		const struct bench_series *s = &bench_res[k64][0][BENCH_HL];
		struct bench_stat c = bench_series_stat(s, s->cpu, o->runs);
		struct bench_stat m = bench_series_stat(s, s->mhits, o->runs);

		if (c.n > 0)
			printf("  1 thread, 64K nodes, hit <= 40 ns: %.1f ns "
			       "CPU (wall %.1f ns)  %s\n",
			    c.med, 1e3 / m.med, bench_verdict(c.med <= 40));
	} else {
		printf("  1 thread, 64K nodes, hit <= 40 ns: n/a (not "
		       "run)\n");
	}
	for (int si = 0; si < o->nsizes; si++) {
		const struct bench_series *h1 = &bench_res[si][0][BENCH_HL];
		const struct bench_series *f1 = &bench_res[si][0][BENCH_FLOOR];
		const struct bench_series *h2 = &bench_res[si][1][BENCH_HL];
		const struct bench_series *a2 = &bench_res[si][1][BENCH_MUTEX];
		char sz[24];
		double x, y;

		bench_fmt_size(sz, sizeof(sz), o->sizes[si]);
		if (o->threads[1] && !h1->skipped) {
			x = bench_paired_ratio(
			    h1, h1->cpu, f1, f1->cpu, o->runs);
			y = bench_paired_ratio(
			    f1, f1->mhits, h1, h1->mhits, o->runs);
			printf("  1 thread, %s nodes, <= 1.5x the floor (c): "
			       "%.2fx CPU (%.2fx wall)  %s\n",
			    sz, x, y, bench_verdict(x > 0 && x <= 1.5));
		}
		if (o->threads[1] && o->threads[2] && !h1->skipped &&
		    !h2->skipped) {
			x = bench_paired_ratio(
			    h2, h2->mhits, h1, h1->mhits, o->runs);
			printf("  2 threads, %s nodes, >= 1.7x one thread's "
			       "throughput: %.2fx  %s\n",
			    sz, x, bench_verdict(x >= 1.7));
		}
		if (o->threads[2] && !h2->skipped) {
			x = bench_paired_ratio(
			    h2, h2->mhits, a2, a2->mhits, o->runs);
			printf("  2 threads, %s nodes, >= 2x the throughput of "
			       "(a): %.2fx  %s\n",
			    sz, x, bench_verdict(x >= 2));
		}
	}
}

/* ------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	struct bench_opts o;
	uint64_t *keys1[1], *keys2[2];
	uint64_t t_start = bench_now(CLOCK_MONOTONIC);
	bool have_runs = false, have_secs = false, have_keys = false;
	bool have_threads = false, have_variants = false;
	const char *dir = getenv("TMPDIR");
	char when[64];
	time_t now;

	memset(&o, 0, sizeof(o));
	o.runs = BENCH_DEF_RUNS;
	o.secs = BENCH_DEF_SECS;
	o.nkeys = BENCH_DEF_KEYS;
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t x;
		bool ok = true, takes = true;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			bench_usage(stdout);
			return 0;
		} else if (strcmp(a, "--quick") == 0) {
			o.quick = true;
			takes = false;
		} else if (strcmp(a, "--no-sync") == 0) {
#ifndef NO_HL_CACHE
			bench_sync = false;
#endif
			takes = false;
		} else if (strcmp(a, "--sizes") == 0) {
			o.nsizes = 0;
			ok = bench_parse_list(v, bench_size_item, &o) &&
			     o.nsizes > 0;
		} else if (strcmp(a, "--runs") == 0) {
			ok = bench_parse_count(v, &x) && x >= 1 &&
			     x <= BENCH_MAX_RUNS;
			o.runs = (int)x;
			have_runs = true;
		} else if (strcmp(a, "--seconds") == 0 ||
			   strcmp(a, "--seconds-per-run") == 0) {
			char *end;

			o.secs = v != NULL ? strtod(v, &end) : 0;
			ok = v != NULL && *end == '\0' && o.secs >= 0.001 &&
			     o.secs <= 60;
			have_secs = true;
		} else if (strcmp(a, "--keys") == 0) {
			ok = bench_parse_count(v, &o.nkeys) &&
			     o.nkeys >= BENCH_CHUNK && o.nkeys <= (1u << 26) &&
			     (o.nkeys & (o.nkeys - 1)) == 0;
			have_keys = true;
		} else if (strcmp(a, "--threads") == 0) {
			o.threads[1] = o.threads[2] = false;
			ok = bench_parse_list(v, bench_threads_item, &o);
			have_threads = true;
		} else if (strcmp(a, "--variants") == 0) {
			memset(o.variants, 0, sizeof(o.variants));
			ok = bench_parse_list(v, bench_variant_item, &o);
			have_variants = true;
		} else if (strcmp(a, "--node-size") == 0) {
			ok = bench_parse_count(v, &x) && x >= 512 &&
			     x <= BENCH_BUFSIZE && (x & (x - 1)) == 0;
			o.node_size = (uint32_t)x;
		} else if (strcmp(a, "--dir") == 0) {
			ok = v != NULL && *v != '\0';
			dir = v;
		} else {
			ok = false;
		}
		if (!ok) {
			fprintf(stderr,
			    "bench_cache: bad option or value: %s%s%s\n", a,
			    takes && v ? " " : "", takes && v ? v : "");
			bench_usage(stderr);
			return 2;
		}
		if (takes)
			i++;
	}
	if (o.nsizes == 0) {
		o.sizes[0] = 1u << 10;
		o.nsizes = 1;
		if (!o.quick) {
			o.sizes[1] = 1u << 16;
			o.sizes[2] = 1u << 20;
			o.nsizes = 3;
		}
	}
	if (o.quick) {
		if (!have_runs)
			o.runs = BENCH_QUICK_RUNS;
		if (!have_secs)
			o.secs = BENCH_QUICK_SECS;
		if (!have_keys)
			o.nkeys = BENCH_QUICK_KEYS;
	}
	if (!have_threads)
		o.threads[1] = o.threads[2] = true;
	if (!have_variants)
		for (int v = 0; v < BENCH_NVAR; v++)
			o.variants[v] = true;
#ifdef NO_HL_CACHE
	o.variants[BENCH_HL] = false;
#else
	bench_dir = dir;
	atexit(bench_vol_cleanup);
#endif

	now = time(NULL);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	printf("# bench_cache: libhammerlock %s, sleep backend %s%s, %ld "
	       "CPUs, %s\n",
	    HL_VERSION_STRING, hl_sleep_backend(),
	    hl_debug_enabled() ? " (HL_DEBUG)" : "",
	    sysconf(_SC_NPROCESSORS_ONLN), when);
	printf(
	    "# runs=%d seconds/run=%.3f (+ warm-up %.3f) keys/thread=%" PRIu64
	    " buffer_size=%u%s%s\n",
	    o.runs, o.secs, o.secs / BENCH_WARM_DIV, o.nkeys, BENCH_BUFSIZE,
	    o.quick ? " quick" : "",
#ifdef NO_HL_CACHE
	    " (built with NO_HL_CACHE: no variant (d))"
#else
	    ""
#endif
	);
#ifndef __OPTIMIZE__
	printf("BENCH-WARNING built without optimization\n");
#endif
	printf("# a hit: look a cached node up by offset, reference it, "
	       "release it; keys uniform at\n"
	       "# random; with 2 threads each thread hits only its own half "
	       "of the nodes\n");

	keys1[0] = bench_xalloc(64, o.nkeys * sizeof(uint64_t));
	keys2[0] = bench_xalloc(64, o.nkeys * sizeof(uint64_t));
	keys2[1] = bench_xalloc(64, o.nkeys * sizeof(uint64_t));

	for (int si = 0; si < o.nsizes; si++) {
		struct bench_geom g;
		void *ctx[BENCH_NVAR];
		char sz[24];

		g.nnodes = o.sizes[si];
		g.buffer_size = BENCH_BUFSIZE;
		g.node_size = bench_node_size(&o, g.nnodes, dir);
		bench_fmt_size(sz, sizeof(sz), g.nnodes);
		printf("\n# size %s: %" PRIu64
		       " nodes of %u bytes (%.1f MiB of "
		       "node data)\n",
		    sz, g.nnodes, g.node_size,
		    (double)g.nnodes * g.node_size / (1 << 20));
		fflush(stdout);

		bench_fill_keys(keys1[0], o.nkeys, &g, 0, g.nnodes,
		    0x9E3779B97F4A7C15ull * (uint64_t)(si + 1));
		bench_fill_keys(keys2[0], o.nkeys, &g, 0, g.nnodes / 2,
		    0xD1B54A32D192ED03ull * (uint64_t)(si + 1));
		bench_fill_keys(keys2[1], o.nkeys, &g, g.nnodes / 2, g.nnodes,
		    0xABC98388FB8FAC03ull * (uint64_t)(si + 1));

		for (int v = 0; v < BENCH_NVAR; v++) {
			char why[512] = "";

			ctx[v] = NULL;
			if (!o.variants[v])
				continue;
			ctx[v] = bench_variants[v].setup(&g, why, sizeof(why));
			if (ctx[v] == NULL) {
				printf("BENCH-WARNING size=%" PRIu64
				       " variant=%s: setup failed: %s\n",
				    g.nnodes, bench_variants[v].name, why);
				bench_res[si][0][v].skipped = true;
				bench_res[si][1][v].skipped = true;
			}
		}

		/*
		 * Run-major: each run measures every thread count and every
		 * variant once; the variant order rotates from run to run.
		 */
		for (int r = 0; r < o.runs; r++)
			for (int t = 1; t <= 2; t++)
				for (int k = 0; k < BENCH_NVAR; k++) {
					int v = (k + r) % BENCH_NVAR;
					struct bench_series *s =
					    &bench_res[si][t - 1][v];
					struct bench_sample sm;

					if (!o.threads[t] || ctx[v] == NULL)
						continue;
					sm = bench_measure(&bench_variants[v],
					    ctx[v], t, t == 1 ? keys1 : keys2,
					    o.nkeys - 1, o.secs);
					s->cpu[r] = sm.cpu;
					s->mhits[r] = sm.mhits;
					s->par[r] = sm.par;
					s->ok[r] = sm.hits > 0;
					s->hits += sm.hits;
					s->all_hits += sm.all_hits;
					s->miss += sm.miss;
				}

		for (int v = 0; v < BENCH_NVAR; v++) {
			const char *bad;
			uint64_t all, miss;

			if (ctx[v] == NULL)
				continue;
			all = bench_res[si][0][v].all_hits +
			      bench_res[si][1][v].all_hits;
			miss =
			    bench_res[si][0][v].miss + bench_res[si][1][v].miss;
			if (miss != 0)
				printf("BENCH-WARNING size=%" PRIu64
				       " variant=%s: %" PRIu64
				       " lookups missed\n",
				    g.nnodes, bench_variants[v].name, miss);
			if ((bad = bench_variants[v].check(ctx[v])) != NULL)
				printf("BENCH-WARNING size=%" PRIu64
				       " variant=%s: %s\n",
				    g.nnodes, bench_variants[v].name, bad);
			if (bench_variants[v].report != NULL)
				bench_variants[v].report(ctx[v], all);
			bench_variants[v].teardown(ctx[v]);
		}
		bench_print_lines(&o, si, g.node_size);
		fflush(stdout);
	}

	bench_print_table(&o);
	bench_print_targets(&o);
	printf("\n# total time %.1f s\n",
	    (double)(bench_now(CLOCK_MONOTONIC) - t_start) / 1e9);
	free(keys1[0]);
	free(keys2[0]);
	free(keys2[1]);
	return 0;
}
