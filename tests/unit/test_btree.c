/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_btree.c - the B+tree, one thread at a time, with exact outcomes.
 *
 *   empty       an empty tree (root 0), a root leaf emptied and refilled,
 *               absent keys (ENOENT from get, del and the cursor), keys 0
 *               and UINT64_MAX, replacing a value
 *   splits      ascending, descending and random inserts: the depth grows
 *               by one exactly when the root splits, every level splits,
 *               node count == 1 + splits + root splits, every key stays
 *               readable, the leaf count of the ordered inserts is exact
 *   deletes     down to an empty tree (root 0 for a deep tree, an empty
 *               root leaf for a one-leaf tree), every node freed, and back
 *   seek        first/seek/next on a quiet tree: the first key >= target
 *   scans       first/next while the same thread inserts and deletes
 *               between next() calls, splitting and removing nodes: keys
 *               in increasing order, none twice, every key that stays
 *               present returned with its value, nothing never present
 *   reopen      sync, unmount (no leak), mount again: same contents
 *   free map    frees are deferred to the sync, then reused (more nodes
 *               allocated over the rounds than the volume has), the free
 *               count returns exactly to its start, also after a remount
 *   eio         a put that splits up to the root, with each of its reads
 *               failing in turn: the put fails, nothing else changes
 *   enospc      tiny volumes filled to ENOSPC: every put that succeeded
 *               is still there, the failed key is absent, the free map
 *               is exact
 *
 * The eio and enospc tests report each damaged tree (keys lost or gained,
 * hl_btree_check problems, leaked references at unmount) as a "FAIL
 * (library bug)" line and go on; the run fails at the end if any was
 * found.
 *
 * Every shape is verified twice: by hl_btree_check() (after a sync, so
 * that the free map is settled) and by this file's own walk over the
 * nodes (key order and bounds, parent fields, equal leaf depth, no node
 * reached twice), whose counts must agree with hl_btree_check()'s.
 *
 * Geometry: 128-byte nodes (6 elements each) in 4 KiB buffers, so that
 * a few thousand keys make a tree 5 to 7 levels deep.
 *
 * Options: --seed N (or HL_SEED): the random orders and operations.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hammerlock/btree.h>

#include "unit.h"

#define NS	   128u
#define BS	   4096u
#define MAXE	   HL_NODE_MAX_ELMS(NS) /* 7 */
#define BIG_VOL	   (8u << 20)
#define ELM_OFF(i) (HL_NODE_HDR_SIZE + (size_t)(i)*HL_BTREE_ELM_SIZE)

#define U(x) ((unsigned long long)(x))

static char dir[64];
static char p0[96];
static const char *paths[1] = {p0};
static int npassed;
static uint64_t seed;

static double t_last;

static void
passed(const char *what)
{
	double t = ht_now();

	printf("  ok: %s (%.1f s)\n", what, t - t_last);
	fflush(stdout);
	t_last = t;
	npassed++;
}

/* A test that found library bugs (reported as they were found). */
static void
not_passed(const char *what)
{
	double t = ht_now();

	printf("  FAILED: %s (%.1f s)\n", what, t - t_last);
	fflush(stdout);
	t_last = t;
}

/* --- a mount with its tree ------------------------------------------------ */

struct tfs {
	struct hl_io *io; /* fault backend (no faults unless set) */
	struct hl_mount *m;
	struct hl_btree *bt;
	uint64_t vol_size;
	uint64_t nslots; /* node slots of the volume */
	uint32_t fmap;	 /* free-map nodes */
};

static void
tfs_newfs(struct tfs *f, uint64_t vol_size)
{
	struct hl_newfs_opts o = {
	    .vol_size = vol_size, .buffer_size = BS, .node_size = NS};
	struct hl_volume_header vh;
	char why[256];

	memset(f, 0, sizeof(*f));
	HT_CHECK(
	    hl_newfs(paths, 1, &o, why, sizeof(why)) == 0, "newfs: %s", why);
	HT_CHECK(hl_format_probe(paths, 1, &vh, why, sizeof(why)) == 0,
	    "probe: %s", why);
	f->vol_size = vol_size;
	f->nslots = (vol_size - BS) / NS;
	f->fmap = hl_freemap_nodes(&vh);
	HT_CHECK(f->fmap >= 1 && vh.freemap_size == (uint64_t)f->fmap * NS,
	    "free map: %u nodes, %llu bytes", f->fmap, U(vh.freemap_size));
	HT_CHECK(hl_io_fault_create(NULL, NULL, &f->io) == 0, "fault io");
}

static void
tfs_mount(struct tfs *f)
{
	struct hl_mount_opts mo = {.io = f->io};
	char why[256];
	int error;

	error = hl_mount_open(paths, 1, &mo, &f->m, why, sizeof(why));
	HT_CHECK(error == 0, "mount: %d: %s", error, why);
	HT_CHECK(hl_mount_node_size(f->m) == NS, "node size %u",
	    hl_mount_node_size(f->m));
	error = hl_btree_open(f->m, &f->bt);
	HT_CHECK(error == 0 && f->bt != NULL, "hl_btree_open: %d", error);
}

static void
tfs_sync(struct tfs *f)
{
	char why[256] = "";
	int error = hl_btree_sync(f->bt, why, sizeof(why));

	HT_CHECK(error == 0, "hl_btree_sync: %d: %s", error, why);
}

/* Close the tree and unmount; nothing may still be referenced. */
static void
tfs_unmount(struct tfs *f)
{
	char why[1024] = "";
	int error;

	hl_btree_close(f->bt);
	f->bt = NULL;
	error = hl_mount_close(f->m, why, sizeof(why));
	HT_CHECK(error == 0, "unmount: %d (leak?): %s", error, why);
	f->m = NULL;
}

static void
tfs_destroy(struct tfs *f)
{
	if (f->m != NULL)
		tfs_unmount(f);
	hl_io_destroy(f->io);
	f->io = NULL;
}

static struct hl_btree_stats
bst(struct tfs *f)
{
	struct hl_btree_stats st;

	hl_btree_stats(f->bt, &st);
	return st;
}

/* --- an independent walk over the nodes (quiet tree only) ----------------- */

struct walk {
	uint32_t depth; /* levels; 0: no root */
	uint64_t internal, leaves, keys;
	uint64_t *key, *val; /* the keys in order (grown as needed) */
	uint64_t *off;	     /* every node reached, sorted at the end */
	size_t nkey, capkey, capval, noff, capoff;
	int leaf_level; /* level of the first leaf met */
	bool have_prev;
	uint64_t prev; /* last key met */
};

static void
grow(uint64_t **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	*cap = *cap ? *cap * 2 : 1024;
	if (*cap < need)
		*cap = need;
	*p = realloc(*p, *cap * sizeof(**p));
	HT_CHECK(*p != NULL, "out of memory");
}

static void
walk_free(struct walk *w)
{
	free(w->key);
	free(w->val);
	free(w->off);
	memset(w, 0, sizeof(*w));
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Visit the node at off, child of parent, at level; its keys must lie in
 * [lo, hi) (hi_none: no upper bound).
 */
static void
walk_node(struct tfs *f, struct walk *w, uint64_t off, uint64_t parent,
    int level, uint64_t lo, uint64_t hi, bool hi_none)
{
	struct hl_trans t;
	struct hl_node *n;
	struct hl_node_header h;
	uint8_t *d;
	int error;

	HT_CHECK(level < 32, "node %#llx: tree deeper than 32", U(off));
	hl_trans_init(&t, f->m);
	n = hl_get_node(&t, off, false, &error);
	HT_CHECK(n != NULL, "walk: node %#llx: error %d", U(off), error);
	d = hl_node_data(n);
	hl_node_hdr_decode(d, &h);
	grow(&w->off, &w->capoff, w->noff + 1);
	w->off[w->noff++] = off;
	HT_CHECK(h.parent == parent,
	    "node %#llx (level %d): parent field %#llx, its parent is %#llx",
	    U(off), level, U(h.parent), U(parent));
	HT_CHECK(h.count <= MAXE, "node %#llx: count %u", U(off), h.count);
	if ((uint32_t)level + 1 > w->depth)
		w->depth = (uint32_t)level + 1;
	if (h.type == HL_NODE_LEAF) {
		HT_CHECK(h.count > 0 || level == 0,
		    "node %#llx: empty leaf at level %d (only the root leaf "
		    "may be empty)",
		    U(off), level);
		if (w->leaf_level < 0)
			w->leaf_level = level;
		HT_CHECK(w->leaf_level == level,
		    "leaf %#llx at level %d, another at level %d", U(off),
		    level, w->leaf_level);
		w->leaves++;
		for (unsigned i = 0; i < h.count; i++) {
			uint64_t k = hl_le64_get(d + ELM_OFF(i));

			HT_CHECK(k >= lo && (hi_none || k < hi),
			    "leaf %#llx: key %llu outside [%llu, %llu%s)",
			    U(off), U(k), U(lo), U(hi), hi_none ? "+" : "");
			HT_CHECK(!w->have_prev || k > w->prev,
			    "leaf %#llx: key %llu after %llu", U(off), U(k),
			    U(w->prev));
			w->have_prev = true;
			w->prev = k;
			grow(&w->key, &w->capkey, w->nkey + 1);
			grow(&w->val, &w->capval, w->nkey + 1);
			w->key[w->nkey] = k;
			w->val[w->nkey++] = hl_le64_get(d + ELM_OFF(i) + 8);
			w->keys++;
		}
		hl_rel_node(n);
		return;
	}
	HT_CHECK(h.type == HL_NODE_INTERNAL && h.count > 0,
	    "node %#llx (level %d): type %u count %u", U(off), level, h.type,
	    h.count);
	w->internal++;
	/*
	 * Copy the elements out: the children are walked with this node
	 * released (a deep walk must not pin a path per level it visits).
	 */
	unsigned cnt = h.count;
	uint64_t ks[MAXE], cs[MAXE];

	for (unsigned i = 0; i < cnt; i++) {
		ks[i] = hl_le64_get(d + ELM_OFF(i));
		cs[i] = hl_le64_get(d + ELM_OFF(i) + 8);
	}
	hl_rel_node(n);
	for (unsigned i = 1; i < cnt; i++) {
		HT_CHECK(ks[i] >= lo && (hi_none || ks[i] < hi),
		    "node %#llx: separator %u = %llu outside [%llu, %llu%s)",
		    U(off), i, U(ks[i]), U(lo), U(hi), hi_none ? "+" : "");
		HT_CHECK(i == 1 || ks[i] > ks[i - 1],
		    "node %#llx: separators %llu, %llu out of order", U(off),
		    U(ks[i - 1]), U(ks[i]));
	}
	for (unsigned i = 0; i < cnt; i++) {
		uint64_t clo = i == 0 ? lo : ks[i];
		uint64_t chi = i + 1 < cnt ? ks[i + 1] : hi;
		bool cnone = i + 1 < cnt ? false : hi_none;

		walk_node(f, w, cs[i], off, level + 1, clo, chi, cnone);
	}
}

/* Walk the whole tree; no node may be reached twice. */
static void
walk_tree(struct tfs *f, struct walk *w)
{
	uint64_t root = hl_mount_root(f->m);

	memset(w, 0, sizeof(*w));
	w->leaf_level = -1;
	if (root != 0)
		walk_node(f, w, root, 0, 0, 0, 0, true);
	if (w->noff > 1)
		qsort(w->off, w->noff, sizeof(*w->off), cmp_u64);
	for (size_t i = 1; i < w->noff; i++)
		HT_CHECK(w->off[i] != w->off[i - 1], "node %#llx reached twice",
		    U(w->off[i]));
}

static bool
walk_has_node(const struct walk *w, uint64_t off)
{
	return w->noff > 0 &&
	       bsearch(&off, w->off, w->noff, sizeof(off), cmp_u64) != NULL;
}

/* --- hl_btree_check ------------------------------------------------------- */

static void
check_report(void *arg, uint64_t off, const char *what)
{
	(void)arg;
	fprintf(stderr, "  hl_btree_check: node %#llx: %s\n", U(off), what);
}

/*
 * hl_btree_check() on a quiet, synced tree: no problem, and the same
 * shape as our own walk; the free map counts every slot exactly once.
 */
static void
check_tree(struct tfs *f, struct hl_btree_shape *shp, struct walk *wp)
{
	struct hl_btree_shape sh;
	struct walk w;
	uint64_t np = ~0ull;
	int error;

	memset(&sh, 0, sizeof(sh));
	error = hl_btree_check(f->bt, &sh, check_report, NULL, &np);
	HT_CHECK(error == 0, "hl_btree_check: error %d", error);
	HT_CHECK(np == 0, "hl_btree_check: %llu problem(s)", U(np));
	walk_tree(f, &w);
	HT_CHECK(sh.depth == w.depth && sh.internal == w.internal &&
		     sh.leaves == w.leaves && sh.keys == w.keys,
	    "hl_btree_check shape (depth %u, %llu internal, %llu leaves, "
	    "%llu keys) differs from the walk (%u, %llu, %llu, %llu)",
	    sh.depth, U(sh.internal), U(sh.leaves), U(sh.keys), w.depth,
	    U(w.internal), U(w.leaves), U(w.keys));
	HT_CHECK(sh.used_nodes == f->fmap + w.internal + w.leaves &&
		     sh.free_nodes + sh.used_nodes == f->nslots,
	    "free map: %llu used, %llu free; expected %llu used (%u map + "
	    "%llu tree nodes) of %llu slots",
	    U(sh.used_nodes), U(sh.free_nodes),
	    U(f->fmap + w.internal + w.leaves), f->fmap,
	    U(w.internal + w.leaves), U(f->nslots));
	if (shp != NULL)
		*shp = sh;
	if (wp != NULL)
		*wp = w;
	else
		walk_free(&w);
}

/* --- a model of the contents ---------------------------------------------- */

/*
 * Keys are (i + 1) * KSTEP for slot i, so that there are absent keys
 * between and around them.
 */
#define KSTEP 16u

struct model {
	size_t n;
	bool *present;
	uint64_t *val;
	uint64_t npresent;
};

static uint64_t
mkey(size_t i)
{
	return ((uint64_t)i + 1) * KSTEP;
}

static void
model_init(struct model *md, size_t n)
{
	md->n = n;
	md->present = calloc(n, sizeof(bool));
	md->val = calloc(n, sizeof(uint64_t));
	md->npresent = 0;
	HT_CHECK(md->present != NULL && md->val != NULL, "out of memory");
}

static void
model_free(struct model *md)
{
	free(md->present);
	free(md->val);
	memset(md, 0, sizeof(*md));
}

static void
put_ok(struct tfs *f, struct model *md, size_t i, uint64_t v)
{
	int error = hl_btree_put(f->bt, mkey(i), v);

	HT_CHECK(error == 0, "put %llu: %d", U(mkey(i)), error);
	if (!md->present[i])
		md->npresent++;
	md->present[i] = true;
	md->val[i] = v;
}

static void
del_ok(struct tfs *f, struct model *md, size_t i)
{
	int error = hl_btree_del(f->bt, mkey(i));

	HT_CHECK(md->present[i], "test bug: deleting an absent key");
	HT_CHECK(error == 0, "del %llu: %d", U(mkey(i)), error);
	md->present[i] = false;
	md->npresent--;
}

static void
expect_get(struct tfs *f, uint64_t key, int want_err, uint64_t want_val)
{
	uint64_t v = 0xdeadbeef;
	int error = hl_btree_get(f->bt, key, &v);

	HT_CHECK(error == want_err, "get %llu: %d, expected %d", U(key), error,
	    want_err);
	HT_CHECK(error != 0 || v == want_val,
	    "get %llu: value %#llx, "
	    "expected %#llx",
	    U(key), U(v), U(want_val));
}

/*
 * The tree holds exactly the model: every slot's key (present with its
 * value, or ENOENT), the keys between slots absent, and a full scan and
 * the walk list the present keys in order.
 */
static void
compare_model(struct tfs *f, const struct model *md)
{
	struct hl_btree_cursor *c;
	struct walk w;
	uint64_t k, v;
	size_t i = 0, got = 0;
	int error;

	for (size_t j = 0; j < md->n; j++) {
		expect_get(f, mkey(j), md->present[j] ? 0 : ENOENT, md->val[j]);
		expect_get(f, mkey(j) + 1, ENOENT, 0);
	}
	expect_get(f, 0, ENOENT, 0);
	HT_CHECK(hl_btree_cursor_open(f->bt, &c) == 0, "cursor open");
	error = hl_btree_first(c, &k, &v);
	for (; error == 0; error = hl_btree_next(c, &k, &v)) {
		while (i < md->n && !md->present[i])
			i++;
		HT_CHECK(i < md->n, "scan: key %llu past the last key", U(k));
		HT_CHECK(k == mkey(i) && v == md->val[i],
		    "scan: %llu=%#llx, expected %llu=%#llx", U(k), U(v),
		    U(mkey(i)), U(md->val[i]));
		i++;
		got++;
	}
	HT_CHECK(error == ENOENT, "scan ended with %d", error);
	HT_CHECK(got == md->npresent, "scan: %zu keys, model has %llu", got,
	    U(md->npresent));
	HT_CHECK(hl_btree_next(c, &k, &v) == ENOENT, "next after the end");
	hl_btree_cursor_close(c);
	walk_tree(f, &w);
	HT_CHECK(w.keys == md->npresent, "walk: %llu keys, model %llu",
	    U(w.keys), U(md->npresent));
	for (size_t j = 0, a = 0; j < md->n; j++) {
		if (!md->present[j])
			continue;
		HT_CHECK(w.key[a] == mkey(j) && w.val[a] == md->val[j],
		    "walk: key %zu is %llu=%#llx, expected %llu=%#llx", a,
		    U(w.key[a]), U(w.val[a]), U(mkey(j)), U(md->val[j]));
		a++;
	}
	walk_free(&w);
}

static void
shuffle(size_t *a, size_t n, uint64_t *rng)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = ht_rand(rng) % i, t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* 0..n-1 in ascending (0), descending (1) or random (2) order. */
static size_t *
make_order(size_t n, int kind, uint64_t *rng)
{
	size_t *a = malloc(n * sizeof(*a));

	HT_CHECK(a != NULL, "out of memory");
	for (size_t i = 0; i < n; i++)
		a[i] = kind == 1 ? n - 1 - i : i;
	if (kind == 2)
		shuffle(a, n, rng);
	return a;
}

static const char *const order_name[] = {"ascending", "descending", "random"};

static uint64_t
vfor(size_t i, unsigned gen)
{
	return mkey(i) * 0x9e3779b97f4a7c15ull + gen;
}

/* --- empty trees and absent keys ------------------------------------------ */

static void
expect_scan_empty(struct tfs *f)
{
	struct hl_btree_cursor *c;
	uint64_t k = 7, v = 7;

	HT_CHECK(hl_btree_cursor_open(f->bt, &c) == 0, "cursor open");
	HT_CHECK(hl_btree_next(c, &k, &v) == ENOENT, "next before first");
	HT_CHECK(hl_btree_first(c, &k, &v) == ENOENT, "first: empty tree");
	HT_CHECK(hl_btree_next(c, &k, &v) == ENOENT, "next: empty tree");
	HT_CHECK(hl_btree_seek(c, 0, &k, &v) == ENOENT, "seek 0: empty tree");
	HT_CHECK(hl_btree_seek(c, UINT64_MAX, &k, &v) == ENOENT,
	    "seek max: empty tree");
	HT_CHECK(k == 7 && v == 7, "a failed scan wrote its outputs");
	hl_btree_cursor_close(c);
}

static void
test_empty(void)
{
	struct tfs f;
	struct hl_btree_cursor *c;
	struct hl_btree_stats s0, s1;
	struct walk w;
	uint64_t root, k, v;

	tfs_newfs(&f, BIG_VOL);
	tfs_mount(&f);
	HT_CHECK(hl_mount_root(f.m) == 0, "a new volume has no root");
	s0 = bst(&f);
	expect_get(&f, 0, ENOENT, 0);
	expect_get(&f, 42, ENOENT, 0);
	expect_get(&f, UINT64_MAX, ENOENT, 0);
	HT_CHECK(hl_btree_del(f.bt, 42) == ENOENT, "del in an empty tree");
	expect_scan_empty(&f);
	HT_CHECK(hl_mount_root(f.m) == 0, "reads and deletes make no root");
	s1 = bst(&f);
	HT_CHECK(s1.gets - s0.gets == 3 && s1.dels - s0.dels == 1 &&
		     s1.allocs == s0.allocs && s1.splits == 0,
	    "stats: gets %llu dels %llu allocs %llu", U(s1.gets - s0.gets),
	    U(s1.dels - s0.dels), U(s1.allocs - s0.allocs));
	tfs_sync(&f);
	check_tree(&f, NULL, NULL);

	/* One key: a root leaf. */
	HT_CHECK(hl_btree_put(f.bt, 100, 1000) == 0, "put 100");
	root = hl_mount_root(f.m);
	HT_CHECK(root != 0, "the first put makes a root");
	HT_CHECK(bst(&f).allocs - s0.allocs == 1, "one node allocated");
	expect_get(&f, 100, 0, 1000);
	expect_get(&f, 99, ENOENT, 0);
	expect_get(&f, 101, ENOENT, 0);
	HT_CHECK(hl_btree_del(f.bt, 99) == ENOENT, "del absent 99");
	HT_CHECK(hl_btree_del(f.bt, 101) == ENOENT, "del absent 101");
	/* Replace. */
	HT_CHECK(hl_btree_put(f.bt, 100, 2000) == 0, "replace 100");
	expect_get(&f, 100, 0, 2000);
	walk_tree(&f, &w);
	HT_CHECK(w.depth == 1 && w.leaves == 1 && w.keys == 1 &&
		     w.key[0] == 100 && w.val[0] == 2000,
	    "one leaf holding 100=2000: depth %u leaves %llu keys %llu",
	    w.depth, U(w.leaves), U(w.keys));
	walk_free(&w);

	/* Emptied: the root leaf stays, empty. */
	HT_CHECK(hl_btree_del(f.bt, 100) == 0, "del 100");
	HT_CHECK(hl_mount_root(f.m) == root,
	    "the root leaf stays (%#llx, "
	    "was %#llx)",
	    U(hl_mount_root(f.m)), U(root));
	walk_tree(&f, &w);
	HT_CHECK(w.depth == 1 && w.leaves == 1 && w.keys == 0,
	    "an empty root leaf: depth %u leaves %llu keys %llu", w.depth,
	    U(w.leaves), U(w.keys));
	walk_free(&w);
	expect_get(&f, 100, ENOENT, 0);
	HT_CHECK(hl_btree_del(f.bt, 100) == ENOENT, "del twice");
	expect_scan_empty(&f);
	HT_CHECK(bst(&f).removals == 0, "nothing removed");
	tfs_sync(&f);
	check_tree(&f, NULL, NULL);

	/* Refill, with both extreme keys. */
	HT_CHECK(hl_btree_put(f.bt, UINT64_MAX, 1) == 0, "put max");
	HT_CHECK(hl_btree_put(f.bt, 0, 2) == 0, "put 0");
	HT_CHECK(hl_btree_put(f.bt, 100, 3) == 0, "put 100");
	HT_CHECK(hl_mount_root(f.m) == root, "same root leaf");
	expect_get(&f, 0, 0, 2);
	expect_get(&f, 100, 0, 3);
	expect_get(&f, UINT64_MAX, 0, 1);
	expect_get(&f, UINT64_MAX - 1, ENOENT, 0);
	HT_CHECK(hl_btree_cursor_open(f.bt, &c) == 0, "cursor open");
	HT_CHECK(hl_btree_first(c, &k, &v) == 0 && k == 0 && v == 2, "first");
	HT_CHECK(hl_btree_next(c, &k, &v) == 0 && k == 100 && v == 3, "next");
	HT_CHECK(hl_btree_next(c, &k, &v) == 0 && k == UINT64_MAX && v == 1,
	    "next: max");
	HT_CHECK(hl_btree_next(c, &k, &v) == ENOENT, "after max");
	HT_CHECK(hl_btree_next(c, &k, &v) == ENOENT, "after max, again");
	HT_CHECK(hl_btree_seek(c, 1, &k, &v) == 0 && k == 100, "seek 1");
	HT_CHECK(hl_btree_seek(c, 101, &k, NULL) == 0 && k == UINT64_MAX,
	    "seek 101 (NULL value pointer)");
	HT_CHECK(hl_btree_seek(c, UINT64_MAX, &k, &v) == 0 && k == UINT64_MAX,
	    "seek max");
	HT_CHECK(hl_btree_next(c, &k, &v) == ENOENT, "after seek max");
	hl_btree_cursor_close(c);
	HT_CHECK(hl_btree_del(f.bt, 0) == 0, "del 0");
	HT_CHECK(hl_btree_del(f.bt, UINT64_MAX) == 0, "del max");
	expect_get(&f, 0, ENOENT, 0);
	expect_get(&f, UINT64_MAX, ENOENT, 0);
	expect_get(&f, 100, 0, 3);
	tfs_sync(&f);
	check_tree(&f, NULL, NULL);
	tfs_destroy(&f);
	passed("empty tree, empty root leaf, absent keys, keys 0 and max");
}

/* --- splits ------------------------------------------------------------- */

/*
 * Leaves after n ordered inserts: a full leaf of MAXE keys splits into
 * MAXE / 2 kept and the rest moved.  The first leaf takes MAXE keys; from
 * then on ascending inserts land in the right half (full again after
 * MAXE / 2 more: a leaf per MAXE / 2 keys), descending ones in the left
 * half (a leaf per MAXE - MAXE / 2 keys).  6-element leaves: 3 and 3.
 */
static uint64_t
ordered_leaves(size_t n, int kind)
{
	unsigned per = kind == 0 ? MAXE / 2 : MAXE - MAXE / 2;

	if (n <= MAXE)
		return 1;
	return 2 + (n - MAXE - 1) / per;
}

static void
test_splits(int kind, size_t n)
{
	struct tfs f;
	struct model md;
	struct hl_btree_stats st;
	struct hl_btree_shape sh;
	struct walk w;
	uint64_t rng = ht_rng_stream(seed, 100 + (uint64_t)kind);
	size_t *ord = make_order(n, kind, &rng);
	uint64_t root, rootsplits = 0, lastsplits = 0;
	uint32_t depth = 0;
	char what[128];

	tfs_newfs(&f, BIG_VOL);
	tfs_mount(&f);
	model_init(&md, n);
	root = 0;
	for (size_t j = 0; j < n; j++) {
		put_ok(&f, &md, ord[j], vfor(ord[j], 0));
		expect_get(&f, mkey(ord[j]), 0, vfor(ord[j], 0));
		st = bst(&f);
		if (hl_mount_root(f.m) != root) {
			/* A new root: exactly one level more. */
			walk_tree(&f, &w);
			HT_CHECK(w.depth == depth + 1,
			    "%s, put %zu: root %#llx -> %#llx, depth %u -> %u",
			    order_name[kind], j, U(root), U(hl_mount_root(f.m)),
			    depth, w.depth);
			HT_CHECK(w.keys == j + 1,
			    "walk: %llu keys after %zu "
			    "puts",
			    U(w.keys), j + 1);
			if (depth > 0)
				rootsplits++;
			depth = w.depth;
			root = hl_mount_root(f.m);
			walk_free(&w);
		}
		HT_CHECK(st.splits >= lastsplits, "splits went back");
		lastsplits = st.splits;
		if ((j + 1) % 500 == 0)
			for (size_t i = 0; i < n; i++)
				expect_get(&f, mkey(i),
				    md.present[i] ? 0 : ENOENT, md.val[i]);
	}
	st = bst(&f);
	compare_model(&f, &md);
	tfs_sync(&f);
	check_tree(&f, &sh, &w);
	HT_CHECK(w.depth == depth && sh.depth == depth,
	    "depth %u, walk %u, check %u", depth, w.depth, sh.depth);
	HT_CHECK(depth >= 5, "%s: %zu keys make only %u levels",
	    order_name[kind], n, depth);
	/* Each split makes a node, each root split one more. */
	HT_CHECK(w.internal + w.leaves == 1 + st.splits + rootsplits &&
		     st.allocs == w.internal + w.leaves && st.frees == 0 &&
		     st.removals == 0,
	    "%s: %llu nodes, %llu splits, %llu root splits, %llu allocs, "
	    "%llu frees",
	    order_name[kind], U(w.internal + w.leaves), U(st.splits),
	    U(rootsplits), U(st.allocs), U(st.frees));
	HT_CHECK(rootsplits == depth - 1, "root splits %llu, depth %u",
	    U(rootsplits), depth);
	if (kind != 2)
		HT_CHECK(w.leaves == ordered_leaves(n, kind),
		    "%s: %llu leaves, expected %llu", order_name[kind],
		    U(w.leaves), U(ordered_leaves(n, kind)));
	walk_free(&w);
	/* Updates change no shape. */
	for (size_t i = 0; i < n; i += 3)
		put_ok(&f, &md, i, vfor(i, 1));
	HT_CHECK(bst(&f).splits == st.splits && bst(&f).allocs == st.allocs,
	    "replacing values split a node");
	compare_model(&f, &md);
	tfs_destroy(&f);
	model_free(&md);
	free(ord);
	snprintf(what, sizeof(what),
	    "splits, %s inserts of %zu keys: depth %u, %llu root splits",
	    order_name[kind], n, depth, U(rootsplits));
	passed(what);
}

/* --- deletes ---------------------------------------------------------------
 */

static void
test_delete_all(size_t n, int kind)
{
	struct tfs f;
	struct model md;
	struct walk w;
	struct hl_btree_stats s0, s1;
	struct hl_btree_shape sh;
	uint64_t rng = ht_rng_stream(seed, 200 + n + (uint64_t)kind);
	size_t *ins = make_order(n, 2, &rng), *del = make_order(n, kind, &rng);
	uint64_t nodes, root;
	uint32_t depth;
	char what[128];

	tfs_newfs(&f, BIG_VOL);
	tfs_mount(&f);
	model_init(&md, n);
	for (size_t j = 0; j < n; j++)
		put_ok(&f, &md, ins[j], vfor(ins[j], 0));
	tfs_sync(&f);
	check_tree(&f, NULL, &w);
	nodes = w.internal + w.leaves;
	depth = w.depth;
	root = hl_mount_root(f.m);
	walk_free(&w);
	s0 = bst(&f);
	for (size_t j = 0; j < n; j++) {
		del_ok(&f, &md, del[j]);
		expect_get(&f, mkey(del[j]), ENOENT, 0);
		HT_CHECK(hl_btree_del(f.bt, mkey(del[j])) == ENOENT,
		    "second del of %llu", U(mkey(del[j])));
		if ((j + 1) % 250 == 0 && j + 1 < n) {
			compare_model(&f, &md);
			walk_tree(&f, &w);
			HT_CHECK(w.depth == depth && hl_mount_root(f.m) == root,
			    "a non-empty tree keeps its root and depth (%u, "
			    "was %u)",
			    w.depth, depth);
			walk_free(&w);
		}
	}
	s1 = bst(&f);
	walk_tree(&f, &w);
	if (depth == 1) {
		/* A one-leaf tree keeps its root leaf, empty. */
		HT_CHECK(hl_mount_root(f.m) == root && w.leaves == 1 &&
			     w.keys == 0 && s1.frees == s0.frees,
		    "one-leaf tree emptied: root %#llx leaves %llu frees %llu",
		    U(hl_mount_root(f.m)), U(w.leaves), U(s1.frees - s0.frees));
	} else {
		/* Otherwise every node goes, the root last: root 0. */
		HT_CHECK(hl_mount_root(f.m) == 0 && w.noff == 0,
		    "deep tree emptied: root %#llx, %zu nodes left",
		    U(hl_mount_root(f.m)), w.noff);
		HT_CHECK(s1.frees - s0.frees == nodes &&
			     s1.removals - s0.removals == nodes,
		    "%llu nodes, %llu freed, %llu removed", U(nodes),
		    U(s1.frees - s0.frees), U(s1.removals - s0.removals));
	}
	walk_free(&w);
	expect_scan_empty(&f);
	for (size_t i = 0; i < n; i += 7)
		HT_CHECK(hl_btree_del(f.bt, mkey(i)) == ENOENT, "del absent");
	tfs_sync(&f);
	check_tree(&f, &sh, NULL);
	HT_CHECK(sh.free_nodes == f.nslots - f.fmap - (depth == 1),
	    "after sync every tree node is free: %llu free of %llu",
	    U(sh.free_nodes), U(f.nslots));
	/* And back. */
	for (size_t j = 0; j < n; j++)
		put_ok(&f, &md, ins[j], vfor(ins[j], 1));
	compare_model(&f, &md);
	tfs_sync(&f);
	check_tree(&f, NULL, NULL);
	tfs_destroy(&f);
	model_free(&md);
	free(ins);
	free(del);
	snprintf(what, sizeof(what),
	    "%zu keys (depth %u) deleted in %s order, then reinserted", n,
	    depth, order_name[kind]);
	passed(what);
}

/* --- seek on a quiet tree ------------------------------------------------- */

static void
test_seek(void)
{
	struct tfs f;
	struct model md;
	struct hl_btree_cursor *c;
	uint64_t rng = ht_rng_stream(seed, 300), k, v;
	const size_t n = 3000;
	int error;

	tfs_newfs(&f, BIG_VOL);
	tfs_mount(&f);
	model_init(&md, n);
	for (size_t i = 0; i < n; i++)
		if (ht_rand_below(&rng, 3) != 0)
			put_ok(&f, &md, i, vfor(i, 0));
	HT_CHECK(hl_btree_cursor_open(f.bt, &c) == 0, "cursor open");
	for (int it = 0; it < 4000; it++) {
		uint64_t target = ht_rand(&rng) % ((n + 2) * KSTEP);
		size_t i = target <= KSTEP ? 0 : (target - 1) / KSTEP;
		size_t steps = ht_rand_below(&rng, 12);

		/* The first present slot whose key is >= target. */
		while (i < n && (!md.present[i] || mkey(i) < target))
			i++;
		error = hl_btree_seek(c, target, &k, &v);
		if (i >= n) {
			HT_CHECK(error == ENOENT,
			    "seek %llu: %d, expected the "
			    "end",
			    U(target), error);
			HT_CHECK(hl_btree_next(c, &k, &v) == ENOENT,
			    "next after a failed seek");
			continue;
		}
		HT_CHECK(error == 0 && k == mkey(i) && v == md.val[i],
		    "seek %llu: %d %llu, expected %llu", U(target), error, U(k),
		    U(mkey(i)));
		for (size_t s = 0; s < steps; s++) {
			for (i++; i < n && !md.present[i]; i++)
				;
			error = hl_btree_next(c, &k, &v);
			if (i == n) {
				HT_CHECK(error == ENOENT, "next at the end: %d",
				    error);
				break;
			}
			HT_CHECK(error == 0 && k == mkey(i) && v == md.val[i],
			    "next: %d %llu, expected %llu", error, U(k),
			    U(mkey(i)));
		}
	}
	hl_btree_cursor_close(c);
	tfs_destroy(&f);
	model_free(&md);
	passed("seek/next on a quiet tree: the first key >= the target");
}

/* --- scans while the same thread modifies the tree ------------------------ */

/*
 * One scan from the first key to the end, with `churn' operations (puts
 * and deletes of random keys, and from time to time a run of deletes or
 * inserts just ahead of the cursor) between next() calls.
 */
static void
scan_with_churn(struct tfs *f, struct model *md, uint64_t *rng, int churn,
    uint64_t *splitsp, uint64_t *removalsp)
{
	struct hl_btree_cursor *c;
	struct hl_btree_stats s0 = bst(f), s1;
	bool *start = malloc(md->n), *touched = calloc(md->n, 1);
	bool *ever = malloc(md->n), *seen = calloc(md->n, 1);
	uint64_t k, v, last = 0;
	size_t nret = 0;
	int error;

	HT_CHECK(start && touched && ever && seen, "out of memory");
	memcpy(start, md->present, md->n);
	memcpy(ever, md->present, md->n);
	HT_CHECK(hl_btree_cursor_open(f->bt, &c) == 0, "cursor open");
	for (error = hl_btree_first(c, &k, &v); error == 0;
	     error = hl_btree_next(c, &k, &v)) {
		size_t i = k / KSTEP - 1;

		HT_CHECK(k % KSTEP == 0 && k >= KSTEP && i < md->n,
		    "scan returned %llu, never a key", U(k));
		HT_CHECK(nret == 0 || k > last, "scan returned %llu after %llu",
		    U(k), U(last));
		HT_CHECK(ever[i], "scan returned %llu, never present", U(k));
		HT_CHECK(touched[i] || v == md->val[i],
		    "scan: %llu=%#llx, its value is %#llx", U(k), U(v),
		    U(md->val[i]));
		seen[i] = true;
		last = k;
		nret++;
		for (int o = 0; o < churn; o++) {
			size_t j = ht_rand_below(rng, (unsigned)md->n);
			unsigned r = ht_rand_below(rng, 40);

			if (r == 0) {
				/* Empty a run just ahead: removes leaves. */
				for (size_t a = i + 1; a < i + 60 && a < md->n;
				     a++)
					if (md->present[a]) {
						del_ok(f, md, a);
						touched[a] = true;
					}
				continue;
			}
			if (r == 1) {
				/* Fill a run just ahead: splits. */
				for (size_t a = i + 1; a < i + 60 && a < md->n;
				     a++) {
					put_ok(f, md, a, vfor(a, 7));
					touched[a] = ever[a] = true;
				}
				continue;
			}
			touched[j] = true;
			if (md->present[j]) {
				del_ok(f, md, j);
			} else {
				put_ok(f, md, j, vfor(j, 3));
				ever[j] = true;
			}
		}
	}
	HT_CHECK(error == ENOENT, "scan ended with %d", error);
	for (size_t i = 0; i < md->n; i++)
		HT_CHECK(touched[i] || seen[i] == start[i],
		    "key %llu, %s and untouched during the scan, %s returned",
		    U(mkey(i)), start[i] ? "present" : "absent",
		    seen[i] ? "was" : "was not");
	hl_btree_cursor_close(c);
	s1 = bst(f);
	*splitsp += s1.splits - s0.splits;
	*removalsp += s1.removals - s0.removals;
	free(start);
	free(touched);
	free(ever);
	free(seen);
}

static void
test_scan_churn(void)
{
	struct tfs f;
	struct model md;
	uint64_t rng = ht_rng_stream(seed, 400);
	uint64_t splits = 0, removals = 0;
	const size_t n = 2500;
	char what[160];

	tfs_newfs(&f, BIG_VOL);
	tfs_mount(&f);
	model_init(&md, n);
	for (size_t i = 0; i < n; i++)
		if (ht_rand_below(&rng, 2))
			put_ok(&f, &md, i, vfor(i, 0));
	for (int round = 0; round < 6; round++) {
		scan_with_churn(&f, &md, &rng, round % 3, &splits, &removals);
		compare_model(&f, &md);
	}
	HT_CHECK(splits > 50 && removals > 50,
	    "the scans saw too few structural changes: %llu splits, %llu "
	    "removals",
	    U(splits), U(removals));
	tfs_sync(&f);
	check_tree(&f, NULL, NULL);
	tfs_destroy(&f);
	model_free(&md);
	snprintf(what, sizeof(what),
	    "scans across %llu splits and %llu removals made between next() "
	    "calls",
	    U(splits), U(removals));
	passed(what);
}

/* --- reopen ----------------------------------------------------------------
 */

static void
test_reopen(void)
{
	struct tfs f;
	struct model md;
	struct hl_btree_shape sh1, sh2;
	uint64_t rng = ht_rng_stream(seed, 500), root;
	const size_t n = 4000;

	tfs_newfs(&f, BIG_VOL);
	tfs_mount(&f);
	model_init(&md, n);
	for (size_t i = 0; i < n; i++)
		if (ht_rand_below(&rng, 4) != 0)
			put_ok(&f, &md, i, ht_rand(&rng));
	for (size_t i = 0; i < n; i++)
		if (md.present[i] && ht_rand_below(&rng, 3) == 0)
			del_ok(&f, &md, i);
	tfs_sync(&f);
	check_tree(&f, &sh1, NULL);
	root = hl_mount_root(f.m);
	tfs_unmount(&f);

	tfs_mount(&f);
	HT_CHECK(hl_mount_root(f.m) == root,
	    "root %#llx after remount, was "
	    "%#llx",
	    U(hl_mount_root(f.m)), U(root));
	compare_model(&f, &md);
	check_tree(&f, &sh2, NULL);
	HT_CHECK(memcmp(&sh1, &sh2, sizeof(sh1)) == 0,
	    "shape changed across the remount");
	/* And it keeps working. */
	for (size_t i = 0; i < n; i += 5)
		put_ok(&f, &md, i, vfor(i, 2));
	tfs_sync(&f);
	tfs_unmount(&f);
	tfs_mount(&f);
	compare_model(&f, &md);
	check_tree(&f, NULL, NULL);
	tfs_destroy(&f);
	model_free(&md);
	passed("sync, unmount, mount: the same contents and shape");
}

/* --- free map ------------------------------------------------------------ */

static void
test_freemap(void)
{
	struct tfs f;
	struct model md;
	struct hl_btree_shape sh;
	struct hl_btree_stats s0, s1;
	struct walk wa, wb, wc;
	uint64_t rng = ht_rng_stream(seed, 600), free0, removed, allocs = 0;
	const size_t n = 1500;
	int round;
	char what[160];

	/* 128 KiB: 992 slots, 2 map nodes (832 slots each). */
	tfs_newfs(&f, 128u << 10);
	tfs_mount(&f);
	HT_CHECK(f.nslots == 992 && f.fmap == 2,
	    "geometry: %llu slots, %u "
	    "map nodes",
	    U(f.nslots), f.fmap);
	check_tree(&f, &sh, NULL);
	free0 = sh.free_nodes;
	HT_CHECK(free0 == f.nslots - f.fmap, "new volume: %llu free", U(free0));
	model_init(&md, n);

	/* Fill, sync: the tree's nodes are taken from the free count. */
	for (size_t i = 0; i < n / 2; i++)
		put_ok(&f, &md, i, vfor(i, 0));
	tfs_sync(&f);
	check_tree(&f, &sh, &wa);
	HT_CHECK(sh.free_nodes == free0 - wa.internal - wa.leaves,
	    "%llu free, expected %llu", U(sh.free_nodes),
	    U(free0 - wa.internal - wa.leaves));

	/*
	 * Delete most of it: the removed nodes stay used until the sync, so
	 * inserts made meanwhile get other slots.
	 */
	s0 = bst(&f);
	for (size_t i = 0; i < n / 2; i++)
		if (i % 16 != 0)
			del_ok(&f, &md, i);
	walk_tree(&f, &wb);
	removed = 0;
	for (size_t j = 0; j < wa.noff; j++)
		if (!walk_has_node(&wb, wa.off[j]))
			removed++;
	s1 = bst(&f);
	HT_CHECK(removed > 50 && s1.removals - s0.removals == removed &&
		     s1.frees - s0.frees == removed,
	    "%llu nodes unlinked, stats say %llu removals %llu frees",
	    U(removed), U(s1.removals - s0.removals), U(s1.frees - s0.frees));
	for (size_t i = n / 2; i < n; i++)
		put_ok(&f, &md, i, vfor(i, 0));
	walk_tree(&f, &wc);
	for (size_t j = 0; j < wc.noff; j++)
		HT_CHECK(walk_has_node(&wb, wc.off[j]) ||
			     !walk_has_node(&wa, wc.off[j]),
		    "node %#llx was freed and reused before a sync",
		    U(wc.off[j]));
	walk_free(&wa);
	walk_free(&wb);
	walk_free(&wc);
	tfs_sync(&f);
	check_tree(&f, &sh, &wc);
	HT_CHECK(sh.free_nodes == free0 - wc.internal - wc.leaves,
	    "after the sync the removed nodes are free: %llu free, "
	    "expected %llu",
	    U(sh.free_nodes), U(free0 - wc.internal - wc.leaves));
	walk_free(&wc);

	/*
	 * Rounds of fill, empty, sync: more nodes are allocated in all than
	 * the volume has slots, so freed slots are reused; the free count
	 * comes back exactly after each round, also across remounts.
	 */
	for (round = 0; round < 8; round++) {
		uint64_t a0 = bst(&f).allocs, used;
		size_t *ord = make_order(n, round % 3, &rng);

		for (size_t j = 0; j < n; j++)
			put_ok(&f, &md, ord[j], vfor(ord[j], round));
		tfs_sync(&f);
		check_tree(&f, &sh, &wa);
		used = wa.internal + wa.leaves;
		HT_CHECK(sh.free_nodes == free0 - used,
		    "round %d full: %llu free, expected %llu", round,
		    U(sh.free_nodes), U(free0 - used));
		walk_free(&wa);
		shuffle(ord, n, &rng);
		for (size_t j = 0; j < n; j++)
			del_ok(&f, &md, ord[j]);
		HT_CHECK(hl_mount_root(f.m) == 0, "emptied: no root");
		tfs_sync(&f);
		check_tree(&f, &sh, NULL);
		HT_CHECK(sh.free_nodes == free0,
		    "round %d emptied: %llu free, expected %llu", round,
		    U(sh.free_nodes), U(free0));
		allocs += bst(&f).allocs - a0;
		free(ord);
		if (round % 2 == 1) {
			tfs_unmount(&f);
			tfs_mount(&f);
			check_tree(&f, &sh, NULL);
			HT_CHECK(sh.free_nodes == free0,
			    "after remount: %llu free, expected %llu",
			    U(sh.free_nodes), U(free0));
		}
	}
	HT_CHECK(allocs > 2 * f.nslots,
	    "%llu nodes allocated over the "
	    "rounds: too few to need reuse of %llu slots",
	    U(allocs), U(f.nslots));
	compare_model(&f, &md);
	tfs_destroy(&f);
	model_free(&md);
	snprintf(what, sizeof(what),
	    "free map: deferred frees, exact free counts, %llu allocations "
	    "in a %llu-slot volume",
	    U(allocs), U(f.nslots));
	passed(what);
}

/* --- damage: what a failed operation changed, without stopping ------------ */

/*
 * The last two tests look for lost keys after failed operations.  Each
 * finding is printed and counted, and the run goes on, so that one bug
 * does not hide the next; main fails at the end if any was found.
 */
static int nbugs;

static void __attribute__((format(printf, 1, 2))) bug(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL (library bug): ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	nbugs++;
}

struct damage {
	uint64_t lost;	 /* present in the model, not in the tree */
	uint64_t extra;	 /* absent in the model, present in the tree */
	uint64_t wrong;	 /* present with another value */
	uint64_t errors; /* gets failing with another error */
	uint64_t first_lost, last_lost;
	uint64_t problems; /* hl_btree_check() */
	char problem[200]; /* its first report */
};

static void
damage_report(void *arg, uint64_t off, const char *what)
{
	struct damage *dm = arg;

	if (dm->problem[0] == '\0')
		snprintf(dm->problem, sizeof(dm->problem), "node %#llx: %s",
		    U(off), what);
}

static bool
assess(struct tfs *f, const struct model *md, struct damage *dm)
{
	struct hl_btree_shape sh;
	int error;

	memset(dm, 0, sizeof(*dm));
	for (size_t i = 0; i < md->n; i++) {
		uint64_t v = 0;

		error = hl_btree_get(f->bt, mkey(i), &v);
		if (error == ENOENT && md->present[i]) {
			if (dm->lost++ == 0)
				dm->first_lost = mkey(i);
			dm->last_lost = mkey(i);
		} else if (error == 0 && !md->present[i]) {
			dm->extra++;
		} else if (error == 0 && v != md->val[i]) {
			dm->wrong++;
		} else if (error != 0 && error != ENOENT) {
			dm->errors++;
		}
	}
	error = hl_btree_check(f->bt, &sh, damage_report, dm, &dm->problems);
	if (error != 0)
		dm->errors++;
	return dm->lost || dm->extra || dm->wrong || dm->errors || dm->problems;
}

static void
damage_str(const struct damage *dm, char *buf, size_t len)
{
	snprintf(buf, len,
	    "%llu keys lost (%llu..%llu), %llu extra, %llu wrong values, "
	    "%llu get errors; hl_btree_check: %llu problems (first: %s)",
	    U(dm->lost), U(dm->first_lost), U(dm->last_lost), U(dm->extra),
	    U(dm->wrong), U(dm->errors), U(dm->problems),
	    dm->problem[0] ? dm->problem : "none");
}

/* Unmount, dropping what was not synced; a leak is a finding. */
static void
tfs_discard(struct tfs *f, const char *ctx)
{
	char why[1024] = "";
	int error;

	hl_btree_close(f->bt);
	f->bt = NULL;
	error = hl_mount_close(f->m, why, sizeof(why));
	f->m = NULL;
	if (error != 0)
		bug("%s: unmount after the failure returned %d (leaked "
		    "references): %s",
		    ctx, error, why);
}

/* --- I/O errors in the middle of a deep split ------------------------------
 */

static void
fault_set(struct tfs *f, uint64_t fail_read_nth)
{
	struct hl_io_fault_cfg cfg = {.fail_read_nth = fail_read_nth};

	HT_CHECK(hl_io_fault_set(f->io, fail_read_nth ? &cfg : NULL) == 0,
	    "hl_io_fault_set");
}

static uint64_t
io_reads(struct tfs *f)
{
	struct hl_io_fault_stats st;

	HT_CHECK(hl_io_fault_stats(f->io, &st) == 0, "fault stats");
	return st.reads;
}

/*
 * A put that splits every level, on a cold cache so that it reads: run
 * it once to count its reads, then once per read with that read failing
 * (on a fresh mount of the same synced image each time).  A put that
 * fails must leave every other key, and the tree's structure, as it was.
 */
static void
test_eio_split(void)
{
	struct tfs f;
	struct model md;
	struct hl_btree_stats s0, s1;
	struct damage dm;
	const size_t n = 2000;
	size_t newkey, i;
	uint64_t reads, splits, r0;
	int error, nfail = 0, bugs0 = nbugs;
	char what[200], ctx[160], dstr[400];

	/*
	 * Ascending inserts fill the right spine: find the first put after
	 * 600 keys that splits the root, i.e. every level.
	 */
	tfs_newfs(&f, BIG_VOL);
	tfs_mount(&f);
	model_init(&md, n);
	for (i = 0; i < n; i++) {
		uint64_t root = hl_mount_root(f.m);

		put_ok(&f, &md, i, vfor(i, 0));
		if (hl_mount_root(f.m) != root && i > 600)
			break;
	}
	HT_CHECK(i < n, "no root split between 600 and %zu keys", n);
	newkey = i;
	tfs_destroy(&f);
	model_free(&md);

	/* The same keys but that one, on disk. */
	tfs_newfs(&f, BIG_VOL);
	tfs_mount(&f);
	model_init(&md, n);
	for (i = 0; i < newkey; i++)
		put_ok(&f, &md, i, vfor(i, 0));
	tfs_sync(&f);
	tfs_unmount(&f);

	/* The clean put on a cold cache: how many reads, how many splits. */
	tfs_mount(&f);
	r0 = io_reads(&f);
	s0 = bst(&f);
	HT_CHECK(hl_btree_put(f.bt, mkey(newkey), 1) == 0, "clean put");
	s1 = bst(&f);
	reads = io_reads(&f) - r0;
	splits = s1.splits - s0.splits;
	HT_CHECK(splits >= 4 && reads >= 4,
	    "the put of %llu should split every level: %llu splits, %llu "
	    "reads",
	    U(mkey(newkey)), U(splits), U(reads));
	tfs_unmount(&f);

	/* Again with its k-th read failing, for each k. */
	for (uint64_t k = 1; k <= reads; k++) {
		tfs_mount(&f);
		s0 = bst(&f);
		fault_set(&f, k);
		error = hl_btree_put(f.bt, mkey(newkey), 1);
		fault_set(&f, 0);
		s1 = bst(&f);
		snprintf(ctx, sizeof(ctx),
		    "put %llu (%zu keys 16..%llu inserted ascending, synced, "
		    "remounted) with read %llu of %llu failing, after %llu "
		    "splits, %llu allocs",
		    U(mkey(newkey)), newkey, U(mkey(newkey - 1)), U(k),
		    U(reads), U(s1.splits - s0.splits),
		    U(s1.allocs - s0.allocs));
		if (error != 0) {
			HT_CHECK(error == EIO, "%s: returned %d", ctx, error);
			nfail++;
		} else {
			md.present[newkey] = true;
			md.val[newkey] = 1;
			md.npresent++;
		}
		if (assess(&f, &md, &dm)) {
			damage_str(&dm, dstr, sizeof(dstr));
			bug("%s: returned %d; then %s", ctx, error, dstr);
		}
		if (error == 0) {
			md.present[newkey] = false;
			md.npresent--;
		}
		tfs_discard(&f, ctx);
	}
	tfs_destroy(&f);
	model_free(&md);
	snprintf(what, sizeof(what),
	    "a put splitting %llu levels, each of its %llu reads failing in "
	    "turn (%d failed puts): %s",
	    U(splits), U(reads), nfail,
	    nbugs == bugs0 ? "nothing else changed" : "KEYS LOST (above)");
	if (nbugs == bugs0)
		passed(what);
	else
		not_passed(what);
}

/* --- ENOSPC ----------------------------------------------------------------
 */

/*
 * Fill a volume of `buffers' buffers with keys in the given order until
 * puts keep failing with ENOSPC.  A put that fails must change nothing;
 * every put that succeeded must stay readable.  Returns false (after
 * reporting) if the tree was damaged.
 */
static bool
enospc_run(unsigned buffers, int kind, uint64_t *rng, unsigned *nenospc)
{
	struct tfs f;
	struct model md;
	struct hl_btree_shape sh;
	struct hl_btree_stats s0, s1;
	struct damage dm;
	const size_t n = 3000;
	size_t *ord = make_order(n, kind, rng), j, fails = 0;
	char ctx[200], dstr[400];
	bool ok = true;
	int error;

	tfs_newfs(&f, (uint64_t)buffers * BS);
	tfs_mount(&f);
	model_init(&md, n);
	for (j = 0; j < n && fails < 40; j++) {
		size_t i = ord[j];

		s0 = bst(&f);
		error = hl_btree_put(f.bt, mkey(i), vfor(i, 0));
		if (error == 0) {
			md.present[i] = true;
			md.val[i] = vfor(i, 0);
			md.npresent++;
			continue;
		}
		s1 = bst(&f);
		snprintf(ctx, sizeof(ctx),
		    "%u-buffer volume (%llu slots), %s inserts, put #%zu of "
		    "%llu: ENOSPC after %llu splits and %llu allocs",
		    buffers, U(f.nslots), order_name[kind], j, U(mkey(i)),
		    U(s1.splits - s0.splits), U(s1.allocs - s0.allocs));
		HT_CHECK(error == ENOSPC, "%s: returned %d", ctx, error);
		(*nenospc)++;
		fails++;
		/*
		 * A failure that split or allocated nothing changed
		 * nothing: look closely at the others (and the first).
		 */
		if (fails > 1 && s1.splits == s0.splits &&
		    s1.allocs == s0.allocs && fails % 8 != 0)
			continue;
		if (assess(&f, &md, &dm)) {
			damage_str(&dm, dstr, sizeof(dstr));
			bug("%s; then %s", ctx, dstr);
			ok = false;
			break;
		}
	}
	if (!ok) {
		tfs_discard(&f, ctx);
		tfs_destroy(&f);
		model_free(&md);
		free(ord);
		return false;
	}
	HT_CHECK(fails > 0, "%u buffers: %zu keys fit", buffers, n);
	compare_model(&f, &md);
	tfs_sync(&f);
	check_tree(&f, &sh, NULL);
	HT_CHECK(sh.free_nodes < sh.depth + 1,
	    "%u buffers: ENOSPC with %llu slots free, depth %u", buffers,
	    U(sh.free_nodes), sh.depth);
	/* Deleting works on a full volume; after a sync, puts work again. */
	for (size_t i = 0; i < n; i++)
		if (md.present[i])
			del_ok(&f, &md, i);
	tfs_sync(&f);
	check_tree(&f, &sh, NULL);
	HT_CHECK(sh.free_nodes >= f.nslots - f.fmap - 1,
	    "%u buffers: emptied: %llu slots free of %llu", buffers,
	    U(sh.free_nodes), U(f.nslots));
	for (size_t i = 0; i < 40; i++)
		put_ok(&f, &md, ord[i], vfor(ord[i], 1));
	compare_model(&f, &md);
	tfs_sync(&f);
	check_tree(&f, NULL, NULL);
	tfs_destroy(&f);
	model_free(&md);
	free(ord);
	return true;
}

static void
test_enospc(void)
{
	uint64_t rng = ht_rng_stream(seed, 700);
	unsigned nenospc = 0, nbad = 0, nrun = 0;
	char what[160];

	for (unsigned b = 4; b <= 14; b++)
		for (int kind = 0; kind < 3; kind++, nrun++)
			if (!enospc_run(b, kind, &rng, &nenospc))
				nbad++;
	snprintf(what, sizeof(what),
	    "ENOSPC on %u full volumes (%u failed puts): %s", nrun, nenospc,
	    nbad == 0 ? "nothing lost" : "SOME DAMAGED (above)");
	if (nbad == 0)
		passed(what);
	else
		not_passed(what);
}

/* --- main ------------------------------------------------------------------
 */

static void
cleanup(void)
{
	unlink(p0);
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	seed = ht_seed(argc, argv);
	t_last = ht_now();
	strcpy(dir, "/tmp/hl-btree-XXXXXX");
	HT_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	atexit(cleanup);
	snprintf(p0, sizeof(p0), "%s/v0", dir);
	ht_watchdog_start(240, NULL);

	test_empty();
	for (int kind = 0; kind < 3; kind++)
		test_splits(kind, 3000);
	test_delete_all(6, 2);
	test_delete_all(2000, 0);
	test_delete_all(2000, 1);
	test_delete_all(2000, 2);
	test_seek();
	test_scan_churn();
	test_reopen();
	test_freemap();
	/* Last: these find lost keys in the current src (see the report). */
	test_eio_split();
	test_enospc();

	ht_watchdog_stop();
	if (nbugs != 0) {
		fprintf(stderr,
		    "unit_btree: %d passed, %d failure(s) of the library "
		    "(FAIL lines above)\n",
		    npassed, nbugs);
		return 1;
	}
	ht_pass("unit_btree", npassed);
	return 0;
}
