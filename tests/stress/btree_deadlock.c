/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * btree_deadlock.c - the deadlock class HAMMER's refcount retooling
 * removed, end to end through the B-tree's nodes.
 *
 * Before the retooling a node was loaded under its own exclusive lock.
 * A reader that held nodes shared (a cursor: the path from the root to a
 * leaf) and referenced one of them again while it had to be re-validated
 * waited for that exclusive lock: behind its own shared hold, or behind a
 * writer queued behind it.  Loading now uses the interlock in refs only.
 *
 *   part 1  deterministic.  R takes the path to a key top-down (hl_get_node
 *           + hl_lock_sh per level) and keeps it.  Writers queue behind it:
 *           one raw hl_lock_ex() per path node, plus a B-tree put and a
 *           delete in R's leaf.  A B-tree get still passes (shared locks
 *           are granted with exclusive waiters queued).  Every path node
 *           is invalidated (hl_get_interlock + hl_put_interlock(EIO): CHECK
 *           set while referenced).  R references each node again and takes
 *           it shared again: every call must return, each clearing CHECK
 *           (R was the loader) without touching the lock word beyond R's
 *           own shared hold.  Then R lets go and every writer finishes.
 *   part 2  the same, but main holds the leaf's interlock when R
 *           re-references it: R must sleep on the refs word (not lockval)
 *           and, once main puts the interlock back with CHECK still set,
 *           become the loader and go on.
 *   part 3  randomized: readers hold whole paths shared, invalidate nodes
 *           of their path and reference them again, and check that their
 *           leaf, which nobody can change under them, holds every key of
 *           its range that is never deleted; B-tree writers put and delete
 *           the other keys meanwhile and a thread syncs.
 *
 * Every wait has a deadline: a step that does not come prints the lock
 * words and the sleepers and fails, and the harness watchdog bounds the
 * whole run.  The end checks the tree (hl_btree_check) and the unmount.
 *
 * Options: --seed N (or HL_SEED), HL_SECONDS (part 3, default 3),
 * HL_THREADS (part 3 readers + writers, default 12).
 */
#include "harness.h"

#include <hammerlock/btree.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS	   128u
#define BS	   4096u
#define VOL	   (16u << 20)
#define NKEYS	   3000u
#define KSTEP	   16u /* key of slot i: (i + 1) * KSTEP */
#define MAXD	   16
#define STEP_SECS  15.0
#define ELM_OFF(i) (HL_NODE_HDR_SIZE + (size_t)(i)*HL_BTREE_ELM_SIZE)

#define U(x) ((unsigned long long)(x))

static char dir[64], p0[96];
static const char *paths[1] = {p0};
static struct hl_mount *mnt;
static struct hl_btree *bt;
static uint64_t seed;
static int npassed;

static uint32_t
refs_of(const struct hl_lock *l)
{
	return atomic_load(&l->refs);
}

static uint32_t
lockval_of(const struct hl_lock *l)
{
	return atomic_load(&l->lockval);
}

static uint64_t
mkey(size_t i)
{
	return ((uint64_t)i + 1) * KSTEP;
}

/* --- the path a reader holds -------------------------------------------- */

struct path {
	int depth;
	uint64_t key;
	uint64_t off[MAXD];
	struct hl_node *n[MAXD];
	uint64_t lo, hi; /* the leaf's key range: [lo, hi) */
	bool hi_none;	 /* no upper bound */
	char name[MAXD][24];
};

static void dump_path(const struct path *p);

/* Current path being watched, for the failure dumps. */
static struct path *watched;

static void
dump_all(void)
{
	if (watched != NULL)
		dump_path(watched);
	hl_dump_waiters(stderr);
}

#define WAIT_FOR(secs, cond, ...)                                              \
	do {                                                                   \
		double wf_dl = ht_now() + (secs);                              \
		while (!(cond)) {                                              \
			if (ht_now() > wf_dl) {                                \
				fprintf(stderr, "timeout; lock words:\n");     \
				dump_all();                                    \
				ht_fail(                                       \
				    __FILE__, __LINE__, #cond, __VA_ARGS__);   \
			}                                                      \
			ht_nap_us(200);                                        \
		}                                                              \
	} while (0)

static void
dump_path(const struct path *p)
{
	for (int i = 0; i < p->depth; i++)
		if (p->n[i] != NULL)
			hl_lock_dump(stderr, p->name[i], hl_node_lock(p->n[i]));
}

/*
 * Reference and lock shared, from the root down, the nodes on the way
 * to key; everything stays held.  The child's offset is read under the
 * parent's shared lock, as the tree does, so it cannot be unlinked
 * meanwhile.  The root is never removed here (the tree never empties).
 */
static void
path_take(struct path *p, uint64_t key, const char *ident)
{
	struct hl_trans t;
	uint64_t off = hl_mount_root(mnt);
	int error;

	memset(p, 0, sizeof(*p));
	p->key = key;
	p->lo = 0;
	p->hi_none = true;
	hl_trans_init(&t, mnt);
	for (int lvl = 0;; lvl++) {
		struct hl_node *n;
		uint8_t *d;
		unsigned type, cnt, i;

		HT_CHECK(lvl < MAXD, "path deeper than %d", MAXD);
		HT_CHECK(off != 0, "no root");
		n = hl_get_node(&t, off, false, &error);
		HT_CHECK(n != NULL, "path: node %#llx: %d", U(off), error);
		hl_lock_sh_ident(hl_node_lock(n), ident);
		if (lvl == 0 && hl_mount_root(mnt) != off) {
			/*
			 * The root split meanwhile.  Once the root is held
			 * shared it stays the root: a split or removal of
			 * it needs it exclusive.
			 */
			hl_unlock(hl_node_lock(n));
			hl_rel_node(n);
			off = hl_mount_root(mnt);
			lvl--;
			continue;
		}
		p->n[lvl] = n;
		p->off[lvl] = off;
		p->depth = lvl + 1;
		snprintf(p->name[lvl], sizeof(p->name[lvl]), "level %d", lvl);
		d = hl_node_data(n);
		type = hl_le16_get(d + HL_NODE_OFF_TYPE);
		cnt = hl_le16_get(d + HL_NODE_OFF_COUNT);
		if (type == HL_NODE_LEAF)
			return;
		HT_CHECK(type == HL_NODE_INTERNAL && cnt > 0,
		    "node %#llx: type %u count %u", U(off), type, cnt);
		/* The child whose range holds key (child 0 takes the rest). */
		for (i = cnt - 1; i > 0; i--)
			if (hl_le64_get(d + ELM_OFF(i)) <= key)
				break;
		if (i > 0)
			p->lo = hl_le64_get(d + ELM_OFF(i));
		if (i + 1 < cnt) {
			uint64_t h = hl_le64_get(d + ELM_OFF(i + 1));

			if (p->hi_none || h < p->hi)
				p->hi = h;
			p->hi_none = false;
		}
		off = hl_le64_get(d + ELM_OFF(i) + 8);
	}
}

/* Unlock (holds times each) and release (refs times each), bottom-up. */
static void
path_drop(struct path *p, int holds, int refs)
{
	for (int i = p->depth - 1; i >= 0; i--) {
		for (int k = 0; k < holds; k++)
			hl_unlock(hl_node_lock(p->n[i]));
		for (int k = 0; k < refs; k++)
			hl_rel_node(p->n[i]);
		p->n[i] = NULL;
	}
}

/* Set CHECK on a referenced node: take and give back its interlock. */
static void
invalidate(struct hl_node *n)
{
	(void)hl_get_interlock(hl_node_lock(n));
	hl_put_interlock(hl_node_lock(n), EIO);
}

/* The leaf's keys, in order; at most cap. */
static unsigned
leaf_keys(struct hl_node *leaf, uint64_t *keys, unsigned cap)
{
	uint8_t *d = hl_node_data(leaf);
	unsigned cnt = hl_le16_get(d + HL_NODE_OFF_COUNT);

	for (unsigned i = 0; i < cnt && i < cap; i++)
		keys[i] = hl_le64_get(d + ELM_OFF(i));
	return cnt < cap ? cnt : cap;
}

/*
 * How many threads sleep on `which' ("refs" or "lockval") of lock l,
 * per hl_dump_waiters().
 */
static int
sleepers_on(const struct hl_lock *l, const char *which)
{
	char *buf = NULL, pat[96];
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	int n = 0;

	HT_CHECK(fp != NULL, "open_memstream");
	hl_dump_waiters(fp);
	fclose(fp);
	snprintf(pat, sizeof(pat), "on %s of lock %p:", which, (void *)l);
	for (char *s = buf; (s = strstr(s, pat)) != NULL; s += strlen(pat))
		n++;
	free(buf);
	return n;
}

static int
sleepers_on_path(const struct path *p, const char *which)
{
	int n = 0;

	for (int i = 0; i < p->depth; i++)
		n += sleepers_on(hl_node_lock(p->n[i]), which);
	return n;
}

/* --- setup ------------------------------------------------------------------
 */

static void
mount_tree(void)
{
	struct hl_mount_opts mo = {0};
	char why[256];
	int error;

	error = hl_mount_open(paths, 1, &mo, &mnt, why, sizeof(why));
	HT_CHECK(error == 0, "mount: %d: %s", error, why);
	HT_CHECK(hl_btree_open(mnt, &bt) == 0, "hl_btree_open");
}

static void
check_report(void *arg, uint64_t off, const char *what)
{
	(void)arg;
	fprintf(stderr, "  hl_btree_check: node %#llx: %s\n", U(off), what);
}

static void
sync_and_check(const char *when)
{
	struct hl_btree_shape sh;
	uint64_t np = 0;
	char why[256] = "";
	int error;

	error = hl_btree_sync(bt, why, sizeof(why));
	HT_CHECK(error == 0, "%s: sync: %d: %s", when, error, why);
	error = hl_btree_check(bt, &sh, check_report, NULL, &np);
	HT_CHECK(error == 0 && np == 0, "%s: hl_btree_check: %d, %llu problems",
	    when, error, U(np));
	HT_CHECK(sh.depth >= 4, "%s: depth %u", when, sh.depth);
}

static void
unmount_tree(void)
{
	char why[1024] = "";
	int error;

	hl_btree_close(bt);
	bt = NULL;
	error = hl_mount_close(mnt, why, sizeof(why));
	HT_CHECK(error == 0, "unmount: %d (leak): %s", error, why);
	mnt = NULL;
}

/* --- parts 1 and 2 ------------------------------------------------------ */

struct rawwriter {
	pthread_t td;
	struct hl_node *n; /* referenced by main for the thread */
	atomic_int state;  /* 1: asking, 2: got it, 3: done */
};

static void *
rawwriter_main(void *arg)
{
	struct rawwriter *w = arg;
	struct hl_lock *l = hl_node_lock(w->n);

	atomic_store(&w->state, 1);
	hl_lock_ex_ident(l, "raw writer");
	atomic_store(&w->state, 2);
	HT_CHECK(hl_lock_status(l) == 1 && hl_lock_excl_owned(l),
	    "raw writer: not exclusive");
	hl_unlock(l);
	hl_rel_node(w->n);
	atomic_store(&w->state, 3);
	return NULL;
}

enum bop { B_PUT, B_DEL, B_GET };

struct btworker {
	pthread_t td;
	enum bop op;
	uint64_t key, val;
	int error;
	atomic_int done;
};

static void *
btworker_main(void *arg)
{
	struct btworker *b = arg;

	switch (b->op) {
	case B_PUT:
		b->error = hl_btree_put(bt, b->key, b->val);
		break;
	case B_DEL:
		b->error = hl_btree_del(bt, b->key);
		break;
	case B_GET:
		b->error = hl_btree_get(bt, b->key, &b->val);
		break;
	}
	atomic_store(&b->done, 1);
	return NULL;
}

enum {
	R_INIT,
	R_HOLDING,   /* R holds the path */
	R_REREF,     /* main: reference the path again */
	R_REREF_IN,  /* R: inside the re-references */
	R_REREF_OUT, /* R: all returned */
	R_RELEASE,   /* main: let go */
	R_DONE,
};

static struct {
	struct path p;
	uint64_t key;
	atomic_int step;   /* main's command */
	atomic_int rstate; /* R's progress */
	atomic_int reref;  /* levels re-referenced so far */
	bool same;	   /* every re-reference gave the held node */
} R;

static void *
reader_main(void *arg)
{
	(void)arg;
	path_take(&R.p, R.key, "R shared");
	atomic_store(&R.rstate, R_HOLDING);
	while (atomic_load(&R.step) < R_REREF)
		ht_nap_us(100);
	atomic_store(&R.rstate, R_REREF_IN);
	R.same = true;
	for (int i = 0; i < R.p.depth; i++) {
		struct hl_trans t;
		struct hl_node *n;
		int error;

		hl_trans_init(&t, mnt);
		n = hl_get_node(&t, R.p.off[i], false, &error);
		HT_CHECK(
		    n != NULL, "R's re-reference of level %d: %d", i, error);
		if (n != R.p.n[i] || hl_node_data(n) != hl_node_data(R.p.n[i]))
			R.same = false;
		/* And shared again, with writers queued. */
		hl_lock_sh_ident(hl_node_lock(n), "R shared again");
		atomic_store(&R.reref, i + 1);
	}
	atomic_store(&R.rstate, R_REREF_OUT);
	while (atomic_load(&R.step) < R_RELEASE)
		ht_nap_us(100);
	path_drop(&R.p, 2, 2);
	atomic_store(&R.rstate, R_DONE);
	return NULL;
}

/*
 * One run of the scenario; with hold_leaf_interlock (part 2) main keeps
 * the leaf's interlock while R re-references the path.
 */
static void
scenario(uint64_t key, bool hold_leaf_interlock)
{
	struct rawwriter w[MAXD];
	struct btworker bw[3];
	struct path *p = &R.p;
	uint32_t lv[MAXD], lv1;
	uint64_t keys[64], newkey = 0, delkey = 0, v = 0;
	pthread_t rtd;
	unsigned nk, nb = 2;
	int depth, leaf;
	char what[200];

	memset(&R, 0, sizeof(R));
	memset(w, 0, sizeof(w));
	memset(bw, 0, sizeof(bw));
	R.key = key;
	HT_CHECK(pthread_create(&rtd, NULL, reader_main, NULL) == 0, "spawn");
	WAIT_FOR(STEP_SECS, atomic_load(&R.rstate) == R_HOLDING,
	    "R never got its path shared");
	watched = p;
	depth = p->depth;
	leaf = depth - 1;
	HT_CHECK(depth >= 4, "depth %d", depth);

	/* A raw exclusive waiter per path node. */
	for (int i = 0; i < depth; i++) {
		uint32_t r = refs_of(hl_node_lock(p->n[i]));
		uint32_t c = r & HL_REFS_COUNT_MASK;

		/*
		 * R's reference and the cache's (a loaded node is
		 * resident); no interlock, no CHECK; R's shared hold only.
		 */
		HT_CHECK(
		    r == c && c == 2 && lockval_of(hl_node_lock(p->n[i])) == 1,
		    "level %d before the writers: refs 0x%08x lockval 0x%08x",
		    i, r, lockval_of(hl_node_lock(p->n[i])));
		hl_ref_node(p->n[i]); /* the writer's reference */
		w[i].n = p->n[i];
		HT_CHECK(
		    pthread_create(&w[i].td, NULL, rawwriter_main, &w[i]) == 0,
		    "spawn");
		WAIT_FOR(STEP_SECS,
		    sleepers_on(hl_node_lock(p->n[i]), "lockval") == 1,
		    "the raw writer of level %d never slept on lockval", i);
		HT_CHECK(atomic_load(&w[i].state) == 1,
		    "raw writer %d got the lock past R's shared hold", i);
	}

	/*
	 * B-tree writers in R's leaf, both in the optimistic mode (no split,
	 * no removal: a pessimistic writer would hold the root lock while it
	 * waits, and the get below would rightly wait for it): a put of a
	 * new key (a replacement if the leaf is full) and a delete.
	 */
	nk = leaf_keys(p->n[leaf], keys, 64);
	HT_CHECK(nk >= 2, "R's leaf holds %u keys", nk);
	newkey = nk < HL_NODE_MAX_ELMS(NS) ? keys[0] + 1 : keys[0];
	delkey = keys[nk - 1];
	HT_CHECK(newkey >= p->lo && (p->hi_none || newkey < p->hi),
	    "new key outside the leaf");
	bw[0] = (struct btworker){.op = B_PUT, .key = newkey, .val = 77};
	bw[1] = (struct btworker){.op = B_DEL, .key = delkey};
	for (unsigned i = 0; i < nb; i++)
		HT_CHECK(
		    pthread_create(&bw[i].td, NULL, btworker_main, &bw[i]) == 0,
		    "spawn");
	WAIT_FOR(STEP_SECS, sleepers_on_path(p, "lockval") == depth + (int)nb,
	    "the B-tree writers never queued on the path (%d sleepers on "
	    "lockval)",
	    sleepers_on_path(p, "lockval"));
	HT_CHECK(!atomic_load(&bw[0].done) && !atomic_load(&bw[1].done),
	    "a B-tree write finished past R's shared hold of its leaf");

	/* A B-tree get passes the queued writers. */
	bw[2] = (struct btworker){.op = B_GET, .key = keys[nk / 2]};
	HT_CHECK(pthread_create(&bw[2].td, NULL, btworker_main, &bw[2]) == 0,
	    "spawn");
	WAIT_FOR(STEP_SECS, atomic_load(&bw[2].done),
	    "a B-tree get blocked behind queued exclusive waiters");
	pthread_join(bw[2].td, NULL);
	HT_CHECK(bw[2].error == 0, "get %llu: %d", U(bw[2].key), bw[2].error);

	/* Invalidate every path node: CHECK set, references held. */
	for (int i = 0; i < depth; i++) {
		struct hl_lock *l = hl_node_lock(p->n[i]);

		lv[i] = lockval_of(l);
		HT_CHECK((lv[i] & HL_LOCKF_EXCLUSIVE) == 0 &&
			     (lv[i] & HL_LOCKF_WANTED) != 0 &&
			     (lv[i] & HL_LOCKF_COUNT_MASK) >= 1,
		    "level %d: lockval 0x%08x, expected shared with waiters", i,
		    lv[i]);
		invalidate(p->n[i]);
		HT_CHECK((refs_of(l) & (HL_REFS_CHECK | HL_REFS_LOCKED)) ==
			     HL_REFS_CHECK,
		    "level %d after invalidation: refs 0x%08x", i, refs_of(l));
	}
	if (hold_leaf_interlock) {
		HT_CHECK(hl_get_interlock(hl_node_lock(p->n[leaf])),
		    "the leaf's CHECK must be set");
	}

	/* R references every node again. */
	atomic_store(&R.step, R_REREF);
	if (hold_leaf_interlock) {
		struct hl_lock *l = hl_node_lock(p->n[leaf]);

		WAIT_FOR(STEP_SECS, sleepers_on(l, "refs") == 1,
		    "R never slept on the leaf's refs word");
		HT_CHECK(atomic_load(&R.reref) == leaf,
		    "R re-referenced %d levels, expected all %d above the "
		    "leaf",
		    atomic_load(&R.reref), leaf);
		HT_CHECK(sleepers_on_path(p, "lockval") == depth + (int)nb,
		    "the writers left lockval");
		HT_CHECK(atomic_load(&R.rstate) == R_REREF_IN,
		    "R went past a held interlock");
		lv1 = lockval_of(l);
		HT_CHECK(lv1 == lv[leaf],
		    "R's wait changed the leaf's lockval "
		    "0x%08x -> 0x%08x",
		    lv[leaf], lv1);
		/* Give it back failed: CHECK stays, R must load. */
		hl_put_interlock(l, EIO);
	}
	WAIT_FOR(STEP_SECS, atomic_load(&R.rstate) == R_REREF_OUT,
	    "DEADLOCK: R, holding its path shared with writers queued, did "
	    "not get through re-referencing level %d",
	    atomic_load(&R.reref));
	HT_CHECK(R.same, "a re-reference gave another node structure");
	for (int i = 0; i < depth; i++) {
		struct hl_lock *l = hl_node_lock(p->n[i]);
		uint32_t now_lv = lockval_of(l);

		HT_CHECK((refs_of(l) & (HL_REFS_CHECK | HL_REFS_LOCKED)) == 0,
		    "level %d: R's re-reference left refs 0x%08x (it should "
		    "have loaded, clearing CHECK)",
		    i, refs_of(l));
		HT_CHECK(now_lv == lv[i] + 1,
		    "level %d: lockval 0x%08x, expected 0x%08x + R's second "
		    "shared hold",
		    i, now_lv, lv[i]);
	}
	for (int i = 0; i < depth; i++)
		HT_CHECK(atomic_load(&w[i].state) == 1,
		    "raw writer %d got in while R holds its node", i);

	/* R lets go: every writer gets its turn. */
	atomic_store(&R.step, R_RELEASE);
	WAIT_FOR(STEP_SECS, atomic_load(&R.rstate) == R_DONE, "R's release");
	pthread_join(rtd, NULL);
	for (int i = 0; i < depth; i++) {
		WAIT_FOR(STEP_SECS, atomic_load(&w[i].state) == 3,
		    "raw writer %d never finished", i);
		pthread_join(w[i].td, NULL);
	}
	for (unsigned i = 0; i < nb; i++) {
		WAIT_FOR(STEP_SECS, atomic_load(&bw[i].done),
		    "B-tree writer %u never finished", i);
		pthread_join(bw[i].td, NULL);
	}
	watched = NULL;
	HT_CHECK(bw[0].error == 0 && bw[1].error == 0, "put %d, del %d",
	    bw[0].error, bw[1].error);
	HT_CHECK(hl_btree_get(bt, newkey, &v) == 0 && v == 77, "put lost");
	HT_CHECK(hl_btree_get(bt, delkey, &v) == ENOENT, "del lost");
	if (newkey == keys[0])
		HT_CHECK(hl_btree_put(bt, newkey, newkey * 3) == 0, "undo put");
	else
		HT_CHECK(hl_btree_del(bt, newkey) == 0, "undo put");
	HT_CHECK(hl_btree_put(bt, delkey, delkey * 3) == 0, "undo del");
	sync_and_check("after the scenario");
	snprintf(what, sizeof(what),
	    "%s, key %llu: R re-references a %d-level path it holds shared, "
	    "%d raw + %u B-tree writers queued%s",
	    hold_leaf_interlock ? "part 2" : "part 1", U(key), depth, depth, nb,
	    hold_leaf_interlock ? ", the leaf's interlock held elsewhere" : "");
	printf("  ok: %s\n", what);
	fflush(stdout);
	npassed++;
}

/* --- part 3 ------------------------------------------------------------------
 */

static atomic_bool stop;
static atomic_ulong reader_rounds, reader_invals, writer_ops, syncs;

/*
 * A node's content: type, count, parent and payload; not the CRC and
 * generation, which write-back seals into the header under the buffer's
 * lock, not the node's (the tree never reads them).
 */
#define CONTENT_A   (HL_NODE_OFF_GEN - HL_NODE_OFF_TYPE)
#define CONTENT_LEN (CONTENT_A + NS - HL_NODE_HDR_SIZE)

static void
node_content(const uint8_t *d, uint8_t *out)
{
	memcpy(out, d + HL_NODE_OFF_TYPE, CONTENT_A);
	memcpy(out + CONTENT_A, d + HL_NODE_HDR_SIZE, NS - HL_NODE_HDR_SIZE);
}

/*
 * Slots with an even index are never deleted; writers put and delete
 * the odd ones.
 */
static void *
p3_reader(void *arg)
{
	uint64_t rng = ht_rng_stream(seed, (uint64_t)(uintptr_t)arg);
	struct path p;
	uint64_t keys[64];

	while (!atomic_load(&stop)) {
		size_t slot = ht_rand_below(&rng, NKEYS);
		unsigned nk, hold = ht_rand_below(&rng, 3);
		uint8_t before[CONTENT_LEN], after[CONTENT_LEN];

		path_take(&p, mkey(slot), "p3 reader");
		node_content(hl_node_data(p.n[p.depth - 1]), before);
		/* Invalidate some nodes of the path, then re-reference all. */
		for (int i = 0; i < p.depth; i++)
			if (ht_rand_below(&rng, 3) == 0) {
				invalidate(p.n[i]);
				atomic_fetch_add(&reader_invals, 1);
			}
		for (int i = 0; i < p.depth; i++) {
			struct hl_trans t;
			struct hl_node *n;
			int error;

			hl_trans_init(&t, mnt);
			n = hl_get_node(&t, p.off[i], false, &error);
			HT_CHECK(n == p.n[i], "re-reference: %p, held %p (%d)",
			    (void *)n, (void *)p.n[i], error);
			if (hold)
				hl_lock_sh_ident(hl_node_lock(n), "p3 again");
		}
		if (ht_rand_below(&rng, 4) == 0)
			sched_yield();
		/* The held leaf cannot have changed. */
		node_content(hl_node_data(p.n[p.depth - 1]), after);
		HT_CHECK(memcmp(before, after, CONTENT_LEN) == 0,
		    "leaf %#llx, held shared, changed under its reader",
		    U(p.off[p.depth - 1]));
		/* It holds every never-deleted key of its range. */
		nk = leaf_keys(p.n[p.depth - 1], keys, 64);
		for (size_t s = 0, k = 0; s < NKEYS; s += 2) {
			uint64_t key = mkey(s);

			if (key < p.lo || (!p.hi_none && key >= p.hi))
				continue;
			while (k < nk && keys[k] < key)
				k++;
			HT_CHECK(k < nk && keys[k] == key,
			    "leaf %#llx [%llu, %llu%s) lacks key %llu",
			    U(p.off[p.depth - 1]), U(p.lo), U(p.hi),
			    p.hi_none ? "+" : "", U(key));
		}
		path_drop(&p, hold ? 2 : 1, 2);
		atomic_fetch_add(&reader_rounds, 1);
	}
	return NULL;
}

static void *
p3_writer(void *arg)
{
	uint64_t rng = ht_rng_stream(seed, 500 + (uint64_t)(uintptr_t)arg);

	while (!atomic_load(&stop)) {
		size_t slot = 2 * ht_rand_below(&rng, NKEYS / 2) + 1;
		int error;

		if (ht_rand_below(&rng, 2)) {
			error = hl_btree_put(bt, mkey(slot), slot);
			HT_CHECK(error == 0, "put: %d", error);
		} else {
			error = hl_btree_del(bt, mkey(slot));
			HT_CHECK(
			    error == 0 || error == ENOENT, "del: %d", error);
		}
		atomic_fetch_add(&writer_ops, 1);
	}
	return NULL;
}

static void *
p3_syncer(void *arg)
{
	char why[256];

	(void)arg;
	while (!atomic_load(&stop)) {
		ht_nap_us(20000);
		HT_CHECK(
		    hl_btree_sync(bt, why, sizeof(why)) == 0, "sync: %s", why);
		atomic_fetch_add(&syncs, 1);
	}
	return NULL;
}

static void
part3(void)
{
	int nthreads = ht_threads_from_env(12);
	double secs = ht_seconds_from_env(3), t0 = ht_now();
	int nreaders = nthreads / 2 > 0 ? nthreads / 2 : 1;
	int nwriters = nthreads - nreaders > 0 ? nthreads - nreaders : 1;
	pthread_t td[64 + 1];
	int n = 0;
	char what[200];

	for (int i = 0; i < nreaders && n < 32; i++)
		HT_CHECK(pthread_create(&td[n++], NULL, p3_reader,
			     (void *)(uintptr_t)i) == 0,
		    "spawn");
	for (int i = 0; i < nwriters && n < 64; i++)
		HT_CHECK(pthread_create(&td[n++], NULL, p3_writer,
			     (void *)(uintptr_t)i) == 0,
		    "spawn");
	HT_CHECK(pthread_create(&td[n++], NULL, p3_syncer, NULL) == 0, "spawn");
	while (ht_now() - t0 < secs)
		ht_nap_us(20000);
	atomic_store(&stop, true);
	for (int i = 0; i < n; i++)
		pthread_join(td[i], NULL);
	HT_CHECK(
	    atomic_load(&reader_rounds) > 0 && atomic_load(&writer_ops) > 0,
	    "part 3 did nothing");
	sync_and_check("after part 3");
	snprintf(what, sizeof(what),
	    "part 3: %d readers (%lu paths held, %lu invalidations), %d "
	    "writers (%lu ops), %lu syncs in %.1f s",
	    nreaders, atomic_load(&reader_rounds), atomic_load(&reader_invals),
	    nwriters, atomic_load(&writer_ops), atomic_load(&syncs),
	    ht_now() - t0);
	printf("  ok: %s\n", what);
	fflush(stdout);
	npassed++;
}

/* --- main --------------------------------------------------------------------
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
	struct hl_newfs_opts o = {
	    .vol_size = VOL, .buffer_size = BS, .node_size = NS};
	uint64_t rng;
	char why[256];

	seed = ht_seed(argc, argv);
	rng = ht_rng_stream(seed, 1);
	strcpy(dir, "/tmp/hl-btdl-XXXXXX");
	HT_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	atexit(cleanup);
	snprintf(p0, sizeof(p0), "%s/v0", dir);
	HT_CHECK(
	    hl_newfs(paths, 1, &o, why, sizeof(why)) == 0, "newfs: %s", why);
	ht_watchdog_start(240, dump_all);
	mount_tree();
	/* Every key, in random order: a tree 5 or 6 levels deep. */
	{
		size_t order[NKEYS];

		for (size_t i = 0; i < NKEYS; i++)
			order[i] = i;
		for (size_t i = NKEYS; i > 1; i--) {
			size_t j = ht_rand(&rng) % i, t = order[i - 1];

			order[i - 1] = order[j];
			order[j] = t;
		}
		for (size_t i = 0; i < NKEYS; i++)
			HT_CHECK(hl_btree_put(bt, mkey(order[i]),
				     mkey(order[i]) * 3) == 0,
			    "fill");
	}
	sync_and_check("after the fill");

	scenario(mkey(NKEYS / 2), false);
	scenario(mkey(NKEYS / 3), true);
	scenario(mkey(NKEYS - 1), true);
	part3();
	unmount_tree();
	mount_tree();
	sync_and_check("after a remount");
	unmount_tree();
	ht_watchdog_stop();
	ht_pass("btree_deadlock", npassed);
	return 0;
}
