/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_btree_check.c - hl_btree_check() on real trees: a tree built by
 * hl_btree_put() and hl_btree_del() (one thread, then several) checks
 * clean, with an exact shape; then each kind of damage, made on purpose
 * through the cache (reference, lock exclusive, modify, change bytes),
 * must produce its own report at the right offset, and undoing it must
 * give a clean check again.
 *
 * Geometry: two 4 MiB volumes, 4 KiB buffers, 128-byte nodes: 6 elements
 * a node, so a few thousand keys make a tree of 5 or 6 levels; 8184 node
 * slots a volume, mapped by 3 free-map nodes of 3904 bits.
 *
 * The test reads and changes nodes with the layout of
 * src/btree/btree_internal.h (64-byte elements: key, then value or child
 * offset), written out here from format.h's constants.
 *
 * Options: --seed N (or HL_SEED); HL_THREADS for the threaded case.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hammerlock/btree.h>

#include "unit.h"

#define NVOL	 2
#define VOL_SIZE (4u << 20)
#define BUFSZ	 4096u
#define NODESZ	 128u
#define MAXELM	 HL_NODE_MAX_ELMS(NODESZ)
#define NSLOTS	 ((VOL_SIZE - BUFSZ) / NODESZ)
#define MAPBITS	 ((NODESZ - HL_NODE_HDR_SIZE) * 8)
#define NMAP	 ((NSLOTS + MAPBITS - 1) / MAPBITS)
#define NKEYS	 3000u

/* Byte offset of element i in a node, and of its value / child. */
#define ELM(i)	(HL_NODE_HDR_SIZE + (size_t)(i)*HL_BTREE_ELM_SIZE)
#define ELMV(i) (ELM(i) + 8)
#define ANY	UINT64_MAX /* expect(): a report at any offset */
#define MAXPATH 32

#define U(x) ((unsigned long long)(x))

static char dir[64];
static char p0[96], p1[96];
static const char *paths[NVOL] = {p0, p1};
static int npassed;
static uint64_t seed;

static struct hl_mount *m;
static struct hl_btree *bt;
static uint64_t frees_synced; /* hl_btree_stats().frees at the last sync */

static void
passed(const char *what)
{
	printf("  ok: %s\n", what);
	fflush(stdout);
	npassed++;
}

/* --- the mount and the tree ----------------------------------------------- */

static void
setup(void)
{
	struct hl_newfs_opts o = {
	    .vol_size = VOL_SIZE, .buffer_size = BUFSZ, .node_size = NODESZ};
	char why[256];
	int error;

	HT_CHECK(
	    hl_newfs(paths, NVOL, &o, why, sizeof(why)) == 0, "newfs: %s", why);
	error = hl_mount_open(paths, NVOL, NULL, &m, why, sizeof(why));
	HT_CHECK(error == 0, "mount: %s", why);
	HT_CHECK(hl_btree_open(m, &bt) == 0, "btree open");
	frees_synced = 0;
}

static void
sync_tree(void)
{
	struct hl_btree_stats st;
	char why[256];
	int error = hl_btree_sync(bt, why, sizeof(why));

	HT_CHECK(error == 0, "sync: %d: %s", error, why);
	hl_btree_stats(bt, &st);
	frees_synced = st.frees;
}

static void
teardown(void)
{
	char why[1024];

	sync_tree();
	hl_btree_close(bt);
	HT_CHECK(hl_mount_close(m, why, sizeof(why)) == 0, "unmount: %s", why);
	bt = NULL;
	m = NULL;
}

static void
cleanup(void)
{
	unlink(p0);
	unlink(p1);
	rmdir(dir);
}

/* Key i of the test trees: gaps between keys leave room for damage. */
static uint64_t
tkey(unsigned i)
{
	return 16 * (uint64_t)i + 16;
}

/* Put keys tkey(0..n-1) in a shuffled order; sync. */
static void
build(unsigned n)
{
	unsigned *ord = malloc(n * sizeof(*ord));
	uint64_t rs = ht_rng_stream(seed, 1);

	HT_CHECK(ord != NULL, "malloc");
	for (unsigned i = 0; i < n; i++)
		ord[i] = i;
	for (unsigned i = n; i > 1; i--) {
		unsigned j = ht_rand_below(&rs, i), t = ord[i - 1];

		ord[i - 1] = ord[j];
		ord[j] = t;
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t k = tkey(ord[i]);
		int error = hl_btree_put(bt, k, k ^ 0x5555);

		HT_CHECK(error == 0, "put %#llx: %d", U(k), error);
	}
	free(ord);
	sync_tree();
}

/* --- node bytes, through the cache ---------------------------------------- */

static struct hl_node *
nget(uint64_t off)
{
	struct hl_trans t;
	struct hl_node *n;
	int error;

	hl_trans_init(&t, m);
	n = hl_get_node(&t, off, false, &error);
	HT_CHECK(n != NULL, "get node %#llx: %d", U(off), error);
	return n;
}

static void
peek(uint64_t off, size_t at, void *p, size_t len)
{
	struct hl_node *n = nget(off);

	hl_lock_sh(hl_node_lock(n));
	memcpy(p, (uint8_t *)hl_node_data(n) + at, len);
	hl_unlock(hl_node_lock(n));
	hl_rel_node(n);
}

/* Damage on purpose: lock, modify, change, done, unlock, release. */
static void
poke(uint64_t off, size_t at, const void *p, size_t len)
{
	struct hl_node *n = nget(off);

	hl_lock_ex(hl_node_lock(n));
	HT_CHECK(hl_modify_node(n) == 0, "modify %#llx", U(off));
	memcpy((uint8_t *)hl_node_data(n) + at, p, len);
	hl_modify_node_done(n);
	hl_unlock(hl_node_lock(n));
	hl_rel_node(n);
}

static uint64_t
rd64(uint64_t off, size_t at)
{
	uint8_t b[8];

	peek(off, at, b, 8);
	return hl_le64_get(b);
}

static unsigned
rd16(uint64_t off, size_t at)
{
	uint8_t b[2];

	peek(off, at, b, 2);
	return hl_le16_get(b);
}

static void
wr64(uint64_t off, size_t at, uint64_t v)
{
	uint8_t b[8];

	hl_le64_put(b, v);
	poke(off, at, b, 8);
}

static void
wr16(uint64_t off, size_t at, unsigned v)
{
	uint8_t b[2];

	hl_le16_put(b, (uint16_t)v);
	poke(off, at, b, 2);
}

#define ntype(off)     rd16(off, HL_NODE_OFF_TYPE)
#define ncount(off)    rd16(off, HL_NODE_OFF_COUNT)
#define nparent(off)   rd64(off, HL_NODE_OFF_PARENT)
#define nkey(off, i)   rd64(off, ELM(i))
#define nchild(off, i) rd64(off, ELMV(i))

/* The path root .. leftmost leaf; returns its length (levels). */
static int
leftmost(uint64_t *path)
{
	uint64_t off = hl_mount_root(m);
	int d = 0;

	HT_CHECK(off != 0, "empty tree");
	for (;;) {
		HT_CHECK(d < MAXPATH, "tree too deep");
		path[d++] = off;
		if (ntype(off) == HL_NODE_LEAF)
			return d;
		HT_CHECK(ntype(off) == HL_NODE_INTERNAL, "node %#llx type %u",
		    U(off), ntype(off));
		off = nchild(off, 0);
	}
}

/* Where the free-map bit of node slot `off' is. */
static void
map_loc(uint64_t off, uint64_t *moff, size_t *at, uint8_t *mask)
{
	unsigned vol = HL_OFF_VOL(off);
	uint64_t slot = (HL_OFF_SHORT(off) - BUFSZ) / NODESZ, b;
	struct hl_volume *v;
	int error;

	v = hl_get_volume(m, (int)vol, &error);
	HT_CHECK(v != NULL, "volume %u: %d", vol, error);
	*moff = hl_volume_header(v)->freemap_offset + (slot / MAPBITS) * NODESZ;
	hl_rel_volume(v);
	b = slot % MAPBITS;
	*at = HL_NODE_HDR_SIZE + b / 8;
	*mask = (uint8_t)(1u << (b % 8));
}

static bool
map_bit(uint64_t off)
{
	uint64_t moff;
	size_t at;
	uint8_t mask, byte;

	map_loc(off, &moff, &at, &mask);
	peek(moff, at, &byte, 1);
	return (byte & mask) != 0;
}

static void
set_map_bit(uint64_t off, bool used)
{
	uint64_t moff;
	size_t at;
	uint8_t mask, byte;

	map_loc(off, &moff, &at, &mask);
	peek(moff, at, &byte, 1);
	byte = used ? (uint8_t)(byte | mask) : (uint8_t)(byte & ~mask);
	poke(moff, at, &byte, 1);
}

/* --- running the checker -------------------------------------------------- */

#define MAXREP 256

static struct {
	unsigned n; /* stored (all are counted by the checker) */
	uint64_t off[MAXREP];
	char what[MAXREP][256];
} reps;

static void
collect(void *arg, uint64_t off, const char *what)
{
	(void)arg;
	if (reps.n < 12)
		printf("    report %#llx: %s\n", U(off), what);
	if (reps.n < MAXREP) {
		reps.off[reps.n] = off;
		snprintf(reps.what[reps.n], sizeof(reps.what[0]), "%s", what);
	}
	reps.n++;
}

/* Check; the number of problems, which must match the reports. */
static uint64_t
check(struct hl_btree_shape *sh)
{
	struct hl_btree_shape dummy;
	uint64_t np = ~0ULL;
	int error;

	memset(&reps, 0, sizeof(reps));
	error = hl_btree_check(bt, sh ? sh : &dummy, collect, NULL, &np);
	HT_CHECK(error == 0, "hl_btree_check: %d", error);
	HT_CHECK(
	    np == reps.n, "%llu problems counted, %u reported", U(np), reps.n);
	return np;
}

/* A report at off (ANY: anywhere) whose text holds each of a, b. */
static void
expect2(uint64_t off, const char *a, const char *b)
{
	for (unsigned i = 0; i < reps.n && i < MAXREP; i++)
		if ((off == ANY || reps.off[i] == off) &&
		    strstr(reps.what[i], a) != NULL &&
		    (b == NULL || strstr(reps.what[i], b) != NULL))
			return;
	HT_CHECK(0, "no report at %#llx with \"%s\"%s%s%s (%u reports)", U(off),
	    a, b ? " and \"" : "", b ? b : "", b ? "\"" : "", reps.n);
}

static void
expect(uint64_t off, const char *a)
{
	expect2(off, a, NULL);
}

/* Frees not yet applied to the free map. */
static uint64_t
pending(void)
{
	struct hl_btree_stats st;

	hl_btree_stats(bt, &st);
	return st.frees - frees_synced;
}

/*
 * A clean check of a tree holding nkeys keys: no problem, and a shape
 * that agrees with the tree (depth: the leftmost path) and the free map
 * (used: tree nodes, map nodes and pending frees).
 */
static void
check_clean(uint64_t nkeys, struct hl_btree_shape *shp)
{
	struct hl_btree_shape sh;
	uint64_t path[MAXPATH], np;
	int depth = 0;

	np = check(&sh);
	HT_CHECK(np == 0, "%llu problems in a clean tree (first: %#llx: %s)",
	    U(np), U(reps.off[0]), reps.what[0]);
	HT_CHECK(sh.keys == nkeys, "shape: %llu keys, expected %llu",
	    U(sh.keys), U(nkeys));
	if (hl_mount_root(m) != 0)
		depth = leftmost(path);
	HT_CHECK(sh.depth == (uint32_t)depth, "shape: depth %u, expected %d",
	    sh.depth, depth);
	HT_CHECK(
	    sh.used_nodes == sh.internal + sh.leaves + NVOL * NMAP + pending(),
	    "shape: %llu used, %llu internal + %llu leaves + %u map nodes + "
	    "%llu pending",
	    U(sh.used_nodes), U(sh.internal), U(sh.leaves), NVOL * NMAP,
	    U(pending()));
	HT_CHECK(sh.used_nodes + sh.free_nodes == (uint64_t)NVOL * NSLOTS,
	    "shape: %llu used + %llu free, %u slots", U(sh.used_nodes),
	    U(sh.free_nodes), NVOL * NSLOTS);
	if (depth > 1)
		HT_CHECK(sh.internal >= 1 && sh.leaves >= 2,
		    "shape: %llu internal, %llu leaves", U(sh.internal),
		    U(sh.leaves));
	/* A leaf holds a key at least (an emptied root leaf aside). */
	HT_CHECK(sh.leaves <= nkeys || nkeys == 0, "shape: %llu leaves",
	    U(sh.leaves));
	if (shp != NULL)
		*shp = sh;
}

/* Exactly n problems (collect() printed the first ones). */
static void
expect_n(uint64_t np, uint64_t n, const char *what)
{
	HT_CHECK(
	    np == n, "%s: %llu problems, expected %llu", what, U(np), U(n));
}

/* --- clean trees ---------------------------------------------------------- */

static void
test_empty(void)
{
	struct hl_btree_shape sh;
	uint64_t np = 1;

	setup();
	check_clean(0, &sh);
	HT_CHECK(sh.depth == 0 && sh.internal == 0 && sh.leaves == 0,
	    "empty tree shape: depth %u, %llu internal, %llu leaves", sh.depth,
	    U(sh.internal), U(sh.leaves));
	HT_CHECK(
	    sh.used_nodes == NVOL * NMAP, "empty: %llu used", U(sh.used_nodes));
	/* No callback and no shape: only the count. */
	HT_CHECK(hl_btree_check(bt, NULL, NULL, NULL, &np) == 0 && np == 0,
	    "check without report: %llu", U(np));
	/* One key: a root leaf. */
	HT_CHECK(hl_btree_put(bt, 7, 8) == 0, "put");
	check_clean(1, &sh);
	HT_CHECK(sh.depth == 1 && sh.leaves == 1 && sh.internal == 0,
	    "one key: depth %u, %llu leaves", sh.depth, U(sh.leaves));
	/* The root leaf emptied stays: allowed. */
	HT_CHECK(hl_btree_del(bt, 7) == 0, "del");
	check_clean(0, &sh);
	HT_CHECK(sh.depth == 1 && sh.leaves == 1, "empty root leaf: depth %u",
	    sh.depth);
	teardown();
	passed("empty tree, root leaf, emptied root leaf: clean");
}

static void
test_clean_build(void)
{
	struct hl_btree_shape sh;
	struct hl_btree_stats st;
	uint64_t path[MAXPATH];
	int d;

	setup();
	build(NKEYS);
	check_clean(NKEYS, &sh);
	d = leftmost(path);
	hl_btree_stats(bt, &st);
	printf("    %u keys: depth %u, %llu internal, %llu leaves, %llu used, "
	       "%llu free, %llu splits\n",
	    NKEYS, sh.depth, U(sh.internal), U(sh.leaves), U(sh.used_nodes),
	    U(sh.free_nodes), U(st.splits));
	HT_CHECK(
	    d >= 4, "a %u-key tree of 6-element nodes has depth %d", NKEYS, d);
	/* A full leaf holds 7, a split one at least 3. */
	HT_CHECK(sh.leaves * 3 <= NKEYS && sh.leaves * MAXELM >= NKEYS,
	    "%llu leaves for %u keys", U(sh.leaves), NKEYS);
	/* Nothing was freed: every node allocated is in the tree. */
	HT_CHECK(sh.internal + sh.leaves == st.allocs,
	    "%llu nodes, %llu allocations", U(sh.internal + sh.leaves),
	    U(st.allocs));
	/* Both volumes hold tree nodes: child offsets cross volumes. */
	HT_CHECK(map_bit(HL_OFF_MAKE(0, BUFSZ + NMAP * NODESZ)) &&
		     map_bit(HL_OFF_MAKE(1, BUFSZ + NMAP * NODESZ)),
	    "the first data slot of a volume is unused");
	teardown();

	/* Remount: the same tree from disk checks the same. */
	{
		char why[256];
		struct hl_btree_shape sh2;

		HT_CHECK(
		    hl_mount_open(paths, NVOL, NULL, &m, why, sizeof(why)) == 0,
		    "mount: %s", why);
		HT_CHECK(hl_btree_open(m, &bt) == 0, "btree open");
		frees_synced = 0;
		check_clean(NKEYS, &sh2);
		HT_CHECK(memcmp(&sh, &sh2, sizeof(sh)) == 0,
		    "shape changed across a remount");
		teardown();
	}
	passed("3000 keys put in random order: clean, exact shape, also "
	       "after a remount");
}

static void
test_deletes(void)
{
	struct hl_btree_shape sh0, sh;
	struct hl_btree_stats st;
	uint64_t rs = ht_rng_stream(seed, 2), left = NKEYS;
	uint8_t *gone = calloc(NKEYS, 1);

	HT_CHECK(gone != NULL, "calloc");
	setup();
	build(NKEYS);
	check_clean(NKEYS, &sh0);

	/* Delete two thirds at random: emptied nodes go, frees pend. */
	while (left > NKEYS / 3) {
		unsigned i = ht_rand_below(&rs, NKEYS);

		if (gone[i])
			continue;
		HT_CHECK(hl_btree_del(bt, tkey(i)) == 0, "del %u", i);
		gone[i] = 1;
		left--;
	}
	hl_btree_stats(bt, &st);
	HT_CHECK(st.removals > 0 && pending() > 0,
	    "no node removed (%llu removals, %llu pending)", U(st.removals),
	    U(pending()));
	/* Pending frees: expected used, not reachable, not a problem. */
	check_clean(left, &sh);
	HT_CHECK(sh.used_nodes == sh0.used_nodes,
	    "used %llu before the sync, %llu after the build", U(sh.used_nodes),
	    U(sh0.used_nodes));
	sync_tree();
	check_clean(left, &sh);
	HT_CHECK(sh.used_nodes == sh0.used_nodes - st.removals,
	    "after sync: %llu used, %llu before, %llu removed",
	    U(sh.used_nodes), U(sh0.used_nodes), U(st.removals));
	printf("    %llu keys left: depth %u, %llu internal, %llu leaves, "
	       "%llu removals\n",
	    U(left), sh.depth, U(sh.internal), U(sh.leaves), U(st.removals));

	/* Put some back: freed slots are reused, still clean. */
	for (unsigned i = 0; i < NKEYS; i += 3)
		if (gone[i]) {
			HT_CHECK(hl_btree_put(bt, tkey(i), 1) == 0, "put");
			gone[i] = 0;
			left++;
		}
	check_clean(left, NULL);
	sync_tree();
	check_clean(left, NULL);

	/* Delete everything: the tree goes away, only the map is used. */
	for (unsigned i = 0; i < NKEYS; i++)
		if (!gone[i]) {
			HT_CHECK(hl_btree_del(bt, tkey(i)) == 0, "del %u", i);
			gone[i] = 1;
		}
	check_clean(0, NULL);
	sync_tree();
	check_clean(0, &sh);
	HT_CHECK(sh.used_nodes == NVOL * NMAP + sh.internal + sh.leaves &&
		     sh.internal == 0 && sh.leaves <= 1,
	    "all deleted: %llu used, %llu internal, %llu leaves",
	    U(sh.used_nodes), U(sh.internal), U(sh.leaves));
	teardown();
	free(gone);
	passed("deletes remove nodes: clean with pending frees, after "
	       "sync, after re-puts, and once everything is deleted");
}

/* Random puts and deletes, checked every few hundred operations. */
static void
test_random_ops(void)
{
	enum { SPACE = 2000, OPS = 12000 };
	uint8_t *in = calloc(SPACE, 1);
	uint64_t rs = ht_rng_stream(seed, 3), n = 0;

	HT_CHECK(in != NULL, "calloc");
	setup();
	for (unsigned op = 1; op <= OPS; op++) {
		unsigned i = ht_rand_below(&rs, SPACE);
		/* Phases: grow, shrink, grow again. */
		bool put =
		    ht_rand_below(&rs, 100) < (op < OPS / 3	     ? 75u
						  : op < 2 * OPS / 3 ? 25u
								     : 60u);
		int error;

		if (put) {
			HT_CHECK(hl_btree_put(bt, tkey(i), op) == 0, "put");
			n += !in[i];
			in[i] = 1;
		} else {
			error = hl_btree_del(bt, tkey(i));
			HT_CHECK(error == (in[i] ? 0 : ENOENT),
			    "del %u: %d, present %d", i, error, in[i]);
			n -= in[i];
			in[i] = 0;
		}
		if (op % 400 == 0) {
			check_clean(n, NULL);
			if (op % 1200 == 0)
				sync_tree();
		}
	}
	sync_tree();
	check_clean(n, NULL);
	teardown();
	free(in);
	passed("random puts and deletes: clean at every check");
}

/* Several threads put and delete keys of their own. */
#define TH_SPACE 3000u

struct th_arg {
	int id, nth;
	unsigned ops;
	uint64_t rs, n;
	uint8_t in[TH_SPACE];
};

static void *
th_main(void *p)
{
	struct th_arg *a = p;

	for (unsigned op = 0; op < a->ops; op++) {
		unsigned i =
		    ht_rand_below(&a->rs, TH_SPACE / (unsigned)a->nth) *
			(unsigned)a->nth +
		    (unsigned)a->id;
		bool put =
		    ht_rand_below(&a->rs, 100) < (op < a->ops / 2 ? 70u : 35u);
		int error;

		if (put) {
			error = hl_btree_put(bt, tkey(i), op);
			HT_CHECK(error == 0, "put: %d", error);
			a->n += !a->in[i];
			a->in[i] = 1;
		} else {
			error = hl_btree_del(bt, tkey(i));
			HT_CHECK(error == (a->in[i] ? 0 : ENOENT),
			    "del: %d, present %d", error, a->in[i]);
			a->n -= a->in[i];
			a->in[i] = 0;
		}
	}
	return NULL;
}

static void
test_threads(void)
{
	int nth = ht_threads_from_env(4);
	struct th_arg *a = calloc((size_t)nth, sizeof(*a));
	pthread_t *td = calloc((size_t)nth, sizeof(*td));
	uint64_t n = 0, v;

	HT_CHECK(a != NULL && td != NULL && nth >= 1, "calloc");
	setup();
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < nth; i++) {
			a[i].id = i;
			a[i].nth = nth;
			a[i].ops = 4000;
			a[i].rs = ht_rng_stream(
			    seed, 100 + (uint64_t)(round * nth + i));
			td[i] = ht_unit_spawn(th_main, &a[i]);
		}
		for (int i = 0; i < nth; i++)
			ht_unit_join(td[i]);
		n = 0;
		for (int i = 0; i < nth; i++)
			n += a[i].n;
		check_clean(n, NULL);
		for (unsigned k = 0; k < TH_SPACE; k++) {
			bool in = a[k % (unsigned)nth].in[k];
			int error = hl_btree_get(bt, tkey(k), &v);

			HT_CHECK(error == (in ? 0 : ENOENT),
			    "get %u: %d, present %d", k, error, in);
		}
		sync_tree();
		check_clean(n, NULL);
	}
	teardown();
	free(a);
	free(td);
	passed("threads putting and deleting: clean after each round");
}

/* --- damage, one kind at a time ------------------------------------------- */

/* A fresh tree; path: root .. leftmost leaf. */
static int
damage_setup(uint64_t *path)
{
	int d;

	setup();
	build(NKEYS);
	check_clean(NKEYS, NULL);
	d = leftmost(path);
	HT_CHECK(d >= 3, "depth %d", d);
	HT_CHECK(ncount(path[d - 1]) >= 2 && ncount(path[d - 2]) >= 2,
	    "leaf %u keys, parent %u elements", ncount(path[d - 1]),
	    ncount(path[d - 2]));
	return d;
}

static void
test_key_order(void)
{
	uint64_t path[MAXPATH], leaf, k0, k1;
	int d = damage_setup(path);

	leaf = path[d - 1];
	k0 = nkey(leaf, 0);
	k1 = nkey(leaf, 1);
	wr64(leaf, ELM(0), k1);
	wr64(leaf, ELM(1), k0);
	expect_n(check(NULL), 1, "swapped keys");
	expect2(leaf, "key order", "element 1");
	wr64(leaf, ELM(0), k0);
	wr64(leaf, ELM(1), k1);
	check_clean(NKEYS, NULL);

	/* In an internal node too: two equal separators. */
	{
		uint64_t p = path[d - 2];
		uint64_t s2;

		HT_CHECK(ncount(p) >= 3, "parent has %u elements", ncount(p));
		s2 = nkey(p, 2);
		wr64(p, ELM(2), nkey(p, 1));
		check(NULL);
		expect2(p, "key order", "INTERNAL");
		wr64(p, ELM(2), s2);
		check_clean(NKEYS, NULL);
	}
	teardown();
	passed("keys out of order in a leaf and an internal node");
}

static void
test_parent_field(void)
{
	uint64_t path[MAXPATH], leaf, old;
	int d = damage_setup(path);

	leaf = path[d - 1];
	old = nparent(leaf);
	HT_CHECK(old == path[d - 2], "leaf parent %#llx, path %#llx", U(old),
	    U(path[d - 2]));
	wr64(leaf, HL_NODE_OFF_PARENT, path[0]);
	expect_n(check(NULL), 1, "parent field");
	expect2(leaf, "parent field", "reached from");
	wr64(leaf, HL_NODE_OFF_PARENT, old);
	/* The root's parent field must be 0. */
	wr64(path[0], HL_NODE_OFF_PARENT, path[1]);
	expect_n(check(NULL), 1, "root parent field");
	expect(path[0], "parent field");
	wr64(path[0], HL_NODE_OFF_PARENT, 0);
	check_clean(NKEYS, NULL);
	teardown();
	passed("a wrong parent field (a leaf, the root)");
}

static void
test_reachable_twice(void)
{
	uint64_t path[MAXPATH], p, c0, c1;
	int d = damage_setup(path);

	p = path[d - 2];
	c0 = nchild(p, 0);
	c1 = nchild(p, 1);
	wr64(p, ELMV(1), c0);
	/* c0 is walked first, from element 0; element 1 is the second
	 * path; c1 (a leaf) is no longer reachable. */
	expect_n(check(NULL), 2, "two elements, one child");
	expect2(c0, "reachable twice", "element 1");
	expect2(c1, "leaked", "not reachable");
	wr64(p, ELMV(1), c1);
	check_clean(NKEYS, NULL);

	/* A cycle: a leaf's parent pointed at by a deeper node is found
	 * as a node reached twice, and the walk ends. */
	if (d >= 3) {
		uint64_t g = path[d - 3], pc1 = nchild(p, 1);
		unsigned ptype = ntype(p);

		HT_CHECK(ptype == HL_NODE_INTERNAL, "type");
		/* p's child 1 becomes g: g -> p -> g. */
		wr64(p, ELMV(1), g);
		check(NULL);
		expect2(g, "reachable twice", "element 1");
		wr64(p, ELMV(1), pc1);
		check_clean(NKEYS, NULL);
	}
	teardown();
	passed("a node reachable twice (two elements, a cycle)");
}

static void
test_bounds(void)
{
	uint64_t path[MAXPATH], p, leaf, sib, hi, klast, kfirst;
	unsigned n;
	int d = damage_setup(path);

	p = path[d - 2];
	leaf = path[d - 1];
	hi = nkey(p, 1);
	n = ncount(leaf);
	/* The leaf's last key becomes the separator: in order in the
	 * leaf, outside [.., hi). */
	klast = nkey(leaf, n - 1);
	HT_CHECK(klast < hi, "key %#llx, bound %#llx", U(klast), U(hi));
	wr64(leaf, ELM(n - 1), hi);
	expect_n(check(NULL), 1, "key above the upper bound");
	expect2(leaf, "not below the upper bound", "given by");
	wr64(leaf, ELM(n - 1), klast);
	check_clean(NKEYS, NULL);

	/* Child 1's first key drops below its lower bound hi. */
	sib = nchild(p, 1);
	kfirst = nkey(sib, 0);
	HT_CHECK(kfirst >= hi && klast < hi - 1, "keys");
	wr64(sib, ELM(0), hi - 1);
	expect_n(check(NULL), 1, "key below the lower bound");
	expect2(sib, "below the lower bound", "element 0");
	wr64(sib, ELM(0), kfirst);
	check_clean(NKEYS, NULL);

	/* A bound from higher up: the grandparent's separator bounds every
	 * node under its child 0, the leftmost leaf included. */
	{
		uint64_t g = path[d - 3], ghi = nkey(g, 1), pk;
		unsigned pn = ncount(p);

		/* p's last separator moves above the grandparent's bound. */
		pk = nkey(p, pn - 1);
		wr64(p, ELM(pn - 1), ghi + 1);
		check(NULL);
		expect2(p, "not below the upper bound", "INTERNAL");
		wr64(p, ELM(pn - 1), pk);
		check_clean(NKEYS, NULL);
	}
	teardown();
	passed("keys outside the bounds from the parent (upper, lower, "
	       "from a grandparent)");
}

static void
test_depth(void)
{
	uint64_t path[MAXPATH], g, p, leaf;
	int d = damage_setup(path);

	/* The grandparent points straight at the leftmost leaf: one leaf
	 * one level up, found first, the others deeper. */
	g = path[d - 3];
	p = path[d - 2];
	leaf = path[d - 1];
	HT_CHECK(nchild(g, 0) == p, "path");
	wr64(g, ELMV(0), leaf);
	check(NULL);
	expect(ANY, "depth");
	expect2(leaf, "parent field", "reached from");
	wr64(g, ELMV(0), p);
	check_clean(NKEYS, NULL);
	teardown();
	passed("leaves at different depths");
}

static void
test_counts_types(void)
{
	uint64_t path[MAXPATH], p, leaf, c1;
	unsigned n;
	int d = damage_setup(path);

	p = path[d - 2];
	leaf = path[d - 1];

	/* A leaf marked DELETED still linked: not a tree node. */
	wr16(leaf, HL_NODE_OFF_TYPE, HL_NODE_DELETED);
	expect_n(check(NULL), 1, "deleted node linked");
	expect2(leaf, "not a tree node", "DELETED");
	wr16(leaf, HL_NODE_OFF_TYPE, HL_NODE_LEAF);
	check_clean(NKEYS, NULL);

	/* Count 0 in a leaf that is not the root. */
	n = ncount(leaf);
	wr16(leaf, HL_NODE_OFF_COUNT, 0);
	check(NULL);
	expect(leaf, "empty leaf");
	wr16(leaf, HL_NODE_OFF_COUNT, n);

	/* More elements than a node holds. */
	wr16(leaf, HL_NODE_OFF_COUNT, MAXELM + 1);
	check(NULL);
	expect(leaf, "more than the 6 elements");
	wr16(leaf, HL_NODE_OFF_COUNT, n);
	check_clean(NKEYS, NULL);

	/* An internal node with no element. */
	n = ncount(p);
	wr16(p, HL_NODE_OFF_COUNT, 0);
	check(NULL);
	expect(p, "internal node with no element");
	wr16(p, HL_NODE_OFF_COUNT, n);
	check_clean(NKEYS, NULL);

	/* Child offsets that are not node slots: a free-map node, past the
	 * end, another zone, misaligned.  The old child looks leaked: one
	 * summary problem, since a subtree was not walked. */
	{
		uint64_t bad[] = {HL_OFF_MAKE(0, BUFSZ),
		    HL_OFF_MAKE(1, VOL_SIZE),
		    HL_OFF_MAKE(0, BUFSZ * 4) ^ (1ULL << 63),
		    HL_OFF_MAKE(1, BUFSZ * 4 + 8), HL_OFF_MAKE(0, 0),
		    HL_OFF_MAKE(NVOL, BUFSZ * 4)};
		const char *why[] = {"a free-map node", "past the end",
		    "zone 2", "aligned", "header buffer", "volume"};

		c1 = nchild(p, 1);
		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			wr64(p, ELMV(1), bad[i]);
			expect_n(check(NULL), 2, why[i]);
			expect2(p, "element 1: child", why[i]);
			expect2(
			    0, "1 used slots are not reachable", "not listed");
		}
		wr64(p, ELMV(1), c1);
		check_clean(NKEYS, NULL);
	}

	/* A root pointer that is not a node slot: nothing is walked. */
	hl_mount_set_root(m, HL_OFF_MAKE(0, BUFSZ));
	check(NULL);
	expect2(HL_OFF_MAKE(0, BUFSZ), "the root", "a free-map node");
	expect(0, "used slots are not reachable");
	hl_mount_set_root(m, path[0]);
	check_clean(NKEYS, NULL);
	teardown();
	passed("bad types, counts, child offsets and root pointer");
}

static void
test_free_map(void)
{
	uint64_t path[MAXPATH], leaf, spare, fm1;
	int d = damage_setup(path);

	leaf = path[d - 1];

	/* A reachable node marked free (and the allocator's free count
	 * no longer matches the map). */
	HT_CHECK(map_bit(leaf), "leaf %#llx marked free", U(leaf));
	set_map_bit(leaf, false);
	expect_n(check(NULL), 2, "reachable node marked free");
	expect2(leaf, "reachable node marked free", "slot");
	expect(ANY, "free slots counted in memory");
	set_map_bit(leaf, true);
	check_clean(NKEYS, NULL);

	/* A leak: the last slot of volume 1 marked used. */
	spare = HL_OFF_MAKE(1, BUFSZ + (uint64_t)(NSLOTS - 1) * NODESZ);
	HT_CHECK(!map_bit(spare), "last slot used");
	set_map_bit(spare, true);
	expect_n(check(NULL), 2, "leak");
	{
		char slot[64];

		snprintf(slot, sizeof(slot), "slot %u of volume 1",
		    (unsigned)(NSLOTS - 1));
		expect2(
		    spare, "leaked (used in free map, not reachable)", slot);
	}
	expect2(
	    HL_OFF_MAKE(1, BUFSZ), "free slots counted in memory", "volume 1");
	set_map_bit(spare, false);
	check_clean(NKEYS, NULL);

	/* A bit past the end of the volume cleared. */
	{
		uint64_t past =
		    HL_OFF_MAKE(1, BUFSZ + (uint64_t)NSLOTS * NODESZ);
		uint64_t moff;
		size_t at;
		uint8_t mask;

		map_loc(past, &moff, &at, &mask);
		set_map_bit(past, false);
		expect_n(check(NULL), 1, "past the end");
		expect2(moff, "bits past the last slot", "1 bits");
		set_map_bit(past, true);
		check_clean(NKEYS, NULL);
	}

	/* A free-map node marked free in its own map. */
	fm1 = HL_OFF_MAKE(0, BUFSZ + NODESZ);
	set_map_bit(fm1, false);
	check(NULL);
	expect(fm1, "free-map node marked free");
	set_map_bit(fm1, true);

	/* A free-map node that is not RAW. */
	wr16(fm1, HL_NODE_OFF_TYPE, HL_NODE_LEAF);
	check(NULL);
	expect2(fm1, "free-map node 1 of volume 0", "not RAW");
	wr16(fm1, HL_NODE_OFF_TYPE, HL_NODE_RAW);
	check_clean(NKEYS, NULL);
	teardown();
	passed("free map: reachable node marked free, leak, bits past the "
	       "end, map nodes");
}

/* Pending frees that disagree with the map or the tree. */
static void
test_pending(void)
{
	uint64_t path[MAXPATH], leaf, p, c0, keys[MAXELM];
	unsigned n;
	int d = damage_setup(path);

	leaf = path[d - 1];
	p = path[d - 2];
	n = ncount(leaf);
	for (unsigned i = 0; i < n; i++)
		keys[i] = nkey(leaf, i);
	for (unsigned i = 0; i < n; i++)
		HT_CHECK(hl_btree_del(bt, keys[i]) == 0, "del");
	HT_CHECK(pending() == 1 && nchild(p, 0) != leaf,
	    "the emptied leaf was not removed (%llu pending)", U(pending()));
	check_clean(NKEYS - n, NULL);
	HT_CHECK(map_bit(leaf), "pending free already clear");

	/* The map says free before the sync applied the free. */
	set_map_bit(leaf, false);
	expect_n(check(NULL), 2, "pending free marked free");
	expect(leaf, "node pending free is already marked free");
	expect(ANY, "free slots counted in memory");
	set_map_bit(leaf, true);
	check_clean(NKEYS - n, NULL);

	/* The freed node linked again. */
	c0 = nchild(p, 0);
	wr64(p, ELMV(0), leaf);
	expect_n(check(NULL), 3, "pending free reachable");
	expect2(leaf, "not a tree node", "DELETED");
	expect2(leaf, "node pending free is still reachable", "from");
	expect(0, "1 used slots are not reachable");
	wr64(p, ELMV(0), c0);
	check_clean(NKEYS - n, NULL);

	sync_tree();
	check_clean(NKEYS - n, NULL);
	HT_CHECK(!map_bit(leaf), "freed leaf still used after the sync");
	teardown();
	passed("pending frees: marked free early, still reachable");
}

/* Write bytes of volume vol directly (the mount is closed). */
static void
pwrite_vol(int vol, uint64_t byteoff, const void *p, size_t len)
{
	int fd = open(paths[vol], O_RDWR);

	HT_CHECK(fd >= 0, "open %s", paths[vol]);
	HT_CHECK(pwrite(fd, p, len, (off_t)byteoff) == (ssize_t)len, "pwrite");
	close(fd);
}

static void
test_damaged_node(void)
{
	uint64_t path[MAXPATH], leaf, inner;
	char why[256];
	uint8_t junk = 0xA5;
	int d = damage_setup(path);

	leaf = path[d - 1];
	inner = path[d - 2];
	teardown();
	/* A byte of the leaf's payload changes on disk: bad CRC. */
	pwrite_vol((int)HL_OFF_VOL(leaf), HL_OFF_SHORT(leaf) + 100, &junk, 1);
	HT_CHECK(hl_mount_open(paths, NVOL, NULL, &m, why, sizeof(why)) == 0,
	    "mount: %s", why);
	HT_CHECK(hl_btree_open(m, &bt) == 0, "btree open");
	frees_synced = 0;
	expect_n(check(NULL), 1, "damaged leaf");
	expect2(leaf, "cannot be read", "bad CRC");
	teardown();

	/* An internal node: its subtree is unknown, its slots unreachable,
	 * summed up in one problem. */
	pwrite_vol((int)HL_OFF_VOL(inner), HL_OFF_SHORT(inner) + 100, &junk, 1);
	HT_CHECK(hl_mount_open(paths, NVOL, NULL, &m, why, sizeof(why)) == 0,
	    "mount: %s", why);
	HT_CHECK(hl_btree_open(m, &bt) == 0, "btree open");
	frees_synced = 0;
	check(NULL);
	expect2(inner, "cannot be read", "bad CRC");
	expect(0, "used slots are not reachable");
	teardown();
	passed("damaged nodes (bad CRC) are reported, the walk goes on");
}

int
main(int argc, char **argv)
{
	seed = ht_seed(argc, argv);
	strcpy(dir, "/tmp/hl-btchk-XXXXXX");
	HT_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	atexit(cleanup);
	snprintf(p0, sizeof(p0), "%s/v0", dir);
	snprintf(p1, sizeof(p1), "%s/v1", dir);
	ht_watchdog_start(240, NULL);

	test_empty();
	test_clean_build();
	test_deletes();
	test_random_ops();
	test_threads();
	test_key_order();
	test_parent_field();
	test_reachable_twice();
	test_bounds();
	test_depth();
	test_counts_types();
	test_free_map();
	test_pending();
	test_damaged_node();

	ht_watchdog_stop();
	ht_pass("unit_btree_check", npassed);
	return 0;
}
