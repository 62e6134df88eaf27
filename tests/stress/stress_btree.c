/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stress_btree.c - the B+tree under concurrent gets, puts, deletes and
 * scans, checked against a reference model at every step.
 *
 * The model has one slot per key.  A slot's mutex is held across the
 * tree operation on its key and the model's update, so for every key the
 * model says what the tree holds whenever nobody is operating on it.
 * Each slot also publishes, for scanners that take no mutex, a word
 * st = seq << 1 | present: seq is made odd before the tree operation and
 * even again after it, so two equal even readings of st around a scan
 * prove that the key was not touched in between, and that it was
 * present (or absent) all along.
 *
 *   get    under the slot mutex: 0 and the model's value, or ENOENT,
 *          exactly as the model says
 *   put    under the slot mutex; the model changes only on success
 *   del    under the slot mutex: 0 if the model has the key, else ENOENT
 *   runs   puts or deletes of up to 200 consecutive keys, one at a time:
 *          whole leaves emptied (node removals) or split in one place
 *   scan   seek to a random place and walk next() over a window of keys
 *          (no mutex): keys strictly increasing, each a real key, each
 *          untouched key returned iff present, with its value
 *   sync   one thread calls hl_btree_sync() every few milliseconds
 *
 * A failed put or del (EIO under fault injection; ENOMEM when the small
 * pool is all pinned) must leave the model's state: the key is read back
 * at once under the mutex.  Keys lost as a side effect show up in later
 * gets and scans of other threads.
 *
 * At the end (faults off): a final sync, the whole tree compared with
 * the model by get and by a full scan, hl_btree_check() with no problem
 * and the model's key count, an unmount that must report no leak, then a
 * second mount compared and checked again.
 *
 * A watchdog turns a hang into a failure: when a thread's operation has
 * been running for --hang seconds it prints every thread's operation,
 * every sleeper with its lock words (hl_dump_waiters) and exits 2.
 *
 * Options: --seed N (or HL_SEED), --seconds S (or HL_SECONDS, default 5),
 * --threads N (or HL_THREADS, default 16), --node-size 512|4096 (4 KiB
 * buffers either way), --pool-kb K (default 256), --keys N (default
 * 20000), --fail-ppm P (random read/write failures, default 0), --hang S
 * (default 60), --inject-hang 1 (a thread keeps the root node locked:
 * the watchdog must fire).
 */
#include "harness.h"

#include <hammerlock/btree.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BS	    4096u
#define VOL_SIZE    (64ull << 20)
#define KSTEP	    4u /* key of slot i: (i + 1) * KSTEP */
#define MAX_THREADS 128
#define WINDOW_MAX  1024

#define U(x) ((unsigned long long)(x))

/* --- configuration and shared state ------------------------------------- */

static struct {
	uint64_t seed;
	double seconds;
	int threads;
	uint32_t node_size;
	uint64_t pool_kb;
	size_t keys;
	uint32_t fail_ppm;
	double hang;
	bool inject_hang;
} cfg;

struct slot {
	pthread_mutex_t mtx;
	_Atomic uint64_t st;  /* seq << 1 | present; seq odd: in flight */
	_Atomic uint64_t val; /* valid while present */
};

static struct slot *slots;
static char dir[64], p0[96];
static const char *paths[1] = {p0};
static struct hl_io *fio;
static struct hl_mount *mnt;
static struct hl_btree *bt;
static atomic_bool stop;

/* What each thread is doing, for the watchdog. */
enum op { OP_IDLE, OP_GET, OP_PUT, OP_DEL, OP_SCAN, OP_SYNC, OP_VERIFY };
static const char *const op_name[] = {
    "idle", "get", "put", "del", "scan", "sync", "verify"};

struct tstate {
	_Atomic int op;
	_Atomic uint64_t key;
	_Atomic int64_t since_ns; /* when the op started */
	_Atomic uint64_t done;	  /* ops completed */
};

/* Workers 0..threads-1, then the sync thread, then main. */
static struct tstate ts[MAX_THREADS + 2];
static int nts;

struct counts {
	uint64_t gets, get_hits, puts, dels, del_absent, scans, scan_keys;
	uint64_t scan_checked; /* untouched keys whose presence was checked */
	uint64_t eio, enomem, failed_writes, syncs, sync_errors;
};

static struct counts tot;

static int64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static uint64_t
mkey(size_t i)
{
	return ((uint64_t)i + 1) * KSTEP;
}

static void
op_begin(int t, enum op op, uint64_t key)
{
	atomic_store(&ts[t].key, key);
	atomic_store(&ts[t].since_ns, now_ns());
	atomic_store(&ts[t].op, op);
}

static void
op_end(int t)
{
	atomic_store(&ts[t].op, OP_IDLE);
	atomic_fetch_add_explicit(&ts[t].done, 1, memory_order_relaxed);
}

/* --- the watchdog -------------------------------------------------------- */

static void
dump_state(FILE *fp)
{
	int64_t t = now_ns();

	for (int i = 0; i < nts; i++) {
		int op = atomic_load(&ts[i].op);

		fprintf(fp, "  thread %d (%s): %s", i,
		    i < cfg.threads    ? "worker"
		    : i == cfg.threads ? "sync"
				       : "main",
		    op_name[op]);
		if (op != OP_IDLE)
			fprintf(fp, " key %llu for %.1f s",
			    U(atomic_load(&ts[i].key)),
			    (double)(t - atomic_load(&ts[i].since_ns)) / 1e9);
		fprintf(fp, ", %llu ops done\n", U(atomic_load(&ts[i].done)));
	}
}

static atomic_bool wd_stop;

static void *
watchdog_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&wd_stop)) {
		int64_t t = now_ns();

		for (int i = 0; i < nts; i++) {
			int op = atomic_load(&ts[i].op);
			int64_t since = atomic_load(&ts[i].since_ns);

			if (op == OP_IDLE ||
			    (double)(t - since) / 1e9 < cfg.hang)
				continue;
			fprintf(stderr,
			    "WATCHDOG: thread %d stuck in %s for %.0f s "
			    "(seed %llu)\n",
			    i, op_name[op], cfg.hang, U(cfg.seed));
			dump_state(stderr);
			fprintf(stderr, "WATCHDOG: sleepers and lock words:\n");
			if (hl_dump_waiters(stderr) == 0)
				fprintf(
				    stderr, "  (none: a spin or a livelock)\n");
			fprintf(stderr, "FAIL: watchdog fired (hang)\n");
			fflush(stderr);
			/* Hung threads cannot be joined: leave at once. */
			unlink(p0);
			rmdir(dir);
			_exit(2);
		}
		usleep(100000);
	}
	return NULL;
}

/* --- checks -------------------------------------------------------------- */

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;

	atomic_store(&stop, true);
	fprintf(stderr, "FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr,
	    " (seed %llu, node size %u, pool %llu KiB, "
	    "fail-ppm %u)\n",
	    U(cfg.seed), cfg.node_size, U(cfg.pool_kb), cfg.fail_ppm);
	fflush(stderr);
	fflush(stdout);
	/* Other threads still use the mount: no exit handlers. */
	unlink(p0);
	rmdir(dir);
	_exit(1);
}

/* Errors an operation may return here besides its normal outcome. */
static bool
tolerated(int error, struct counts *c)
{
	if (error == EIO && cfg.fail_ppm != 0) {
		c->eio++;
		return true;
	}
	if (error == ENOMEM) {
		/* The pool may be all pinned: nothing was waited for. */
		c->enomem++;
		return true;
	}
	return false;
}

/*
 * After a failed put or del, the key must read back as the model has
 * it (the mutex is still held).  Reads may fail too: try a few times.
 */
static void
verify_unchanged(
    size_t i, bool present, uint64_t val, const char *what, int error)
{
	uint64_t v = 0;
	int e = EIO;

	for (int tries = 0; tries < 8 && (e == EIO || e == ENOMEM); tries++)
		e = hl_btree_get(bt, mkey(i), &v);
	if (e == EIO || e == ENOMEM)
		return;
	/* (A key found gone may also have been lost by another thread.) */
	if (present && (e != 0 || v != val))
		fail("%s of key %llu failed (%d), then a get gives %d %#llx: "
		     "the key held %#llx",
		    what, U(mkey(i)), error, e, U(v), U(val));
	if (!present && e != ENOENT)
		fail("%s of key %llu failed (%d), then a get gives %d %#llx: "
		     "the key was absent",
		    what, U(mkey(i)), error, e, U(v));
}

/* --- operations ---------------------------------------------------------- */

static void
do_get(int t, size_t i, struct counts *c)
{
	struct slot *s = &slots[i];
	uint64_t st, v = 0, want;
	int error;

	op_begin(t, OP_GET, mkey(i));
	pthread_mutex_lock(&s->mtx);
	st = atomic_load(&s->st);
	want = atomic_load(&s->val);
	error = hl_btree_get(bt, mkey(i), &v);
	if (error == 0 && (st & 1) && v == want) {
		c->get_hits++;
	} else if (error == ENOENT && !(st & 1)) {
		/* absent, as it should be */
	} else if (!tolerated(error, c)) {
		fail("get %llu: %d, value %#llx; the model has it %s "
		     "(%#llx)",
		    U(mkey(i)), error, U(v), (st & 1) ? "present" : "absent",
		    U(want));
	}
	pthread_mutex_unlock(&s->mtx);
	c->gets++;
	op_end(t);
}

static void
do_write(int t, size_t i, bool put, uint64_t nval, struct counts *c)
{
	struct slot *s = &slots[i];
	uint64_t st, seq, oval;
	bool present;
	int error;

	op_begin(t, put ? OP_PUT : OP_DEL, mkey(i));
	pthread_mutex_lock(&s->mtx);
	st = atomic_load(&s->st);
	seq = st >> 1;
	present = st & 1;
	oval = atomic_load(&s->val);
	atomic_store(&s->st, (seq + 1) << 1 | present);
	error =
	    put ? hl_btree_put(bt, mkey(i), nval) : hl_btree_del(bt, mkey(i));
	if (error == 0 && put) {
		atomic_store(&s->val, nval);
		present = true;
	} else if (error == 0 && present) {
		present = false;
	} else if (error == 0) {
		fail("del %llu returned 0, but the key was absent", U(mkey(i)));
	} else if (error == ENOENT && !put && !present) {
		c->del_absent++;
	} else if (error == ENOENT && !put) {
		fail("del %llu returned ENOENT, but the key was present "
		     "(%#llx)",
		    U(mkey(i)), U(oval));
	} else if (tolerated(error, c)) {
		c->failed_writes++;
		verify_unchanged(i, present, oval, put ? "put" : "del", error);
	} else {
		fail("%s %llu: unexpected error %d", put ? "put" : "del",
		    U(mkey(i)), error);
	}
	atomic_store(&s->st, (seq + 2) << 1 | present);
	pthread_mutex_unlock(&s->mtx);
	if (put)
		c->puts++;
	else
		c->dels++;
	op_end(t);
}

/*
 * Scan a window of w slots from slot first.  The cursor starts at the
 * slot's key or a little below it (between keys), stops after `limit'
 * keys, past the window, or at the end.
 */
static void
do_scan(int t, size_t first, size_t w, size_t limit, uint64_t *rng,
    struct hl_btree_cursor *cur, struct counts *c)
{
	static _Thread_local uint64_t st0[WINDOW_MAX], st1[WINDOW_MAX];
	static _Thread_local uint64_t rval[WINDOW_MAX];
	static _Thread_local bool got[WINDOW_MAX];
	uint64_t from = mkey(first) - ht_rand_below(rng, KSTEP), k, v, last = 0;
	size_t covered, nret = 0, idx = 0;
	bool any = false;
	int error;

	if (first + w > cfg.keys)
		w = cfg.keys - first;
	op_begin(t, OP_SCAN, from);
	for (size_t j = 0; j < w; j++) {
		st0[j] = atomic_load(&slots[first + j].st);
		got[j] = false;
	}
	covered = first; /* slots below this one are covered */
	for (error = hl_btree_seek(cur, from, &k, &v); error == 0;
	     error = hl_btree_next(cur, &k, &v)) {
		if (any && k <= last)
			fail("scan from %llu: key %llu after %llu", U(from),
			    U(k), U(last));
		if (k % KSTEP != 0 || k < from || k / KSTEP - 1 >= cfg.keys)
			fail("scan from %llu returned %llu, not a key at or "
			     "above the start",
			    U(from), U(k));
		any = true;
		last = k;
		idx = k / KSTEP - 1;
		if (idx >= first + w) {
			covered = first + w; /* nothing more in the window */
			break;
		}
		got[idx - first] = true;
		rval[idx - first] = v;
		covered = idx + 1;
		if (++nret >= limit)
			break;
	}
	if (error == ENOENT) {
		covered = first + w; /* the end: nothing above last */
	} else if (error != 0 && !tolerated(error, c)) {
		fail("scan from %llu: error %d", U(from), error);
	}
	/* Values first, then the second reading of st (see above). */
	for (size_t j = 0; j < w; j++)
		if (got[j])
			rval[j] ^= atomic_load(&slots[first + j].val);
	for (size_t j = 0; j < w; j++)
		st1[j] = atomic_load(&slots[first + j].st);
	for (size_t j = 0; first + j < covered; j++) {
		bool untouched = st0[j] == st1[j] && (st0[j] & 2) == 0;
		bool present = st0[j] & 1;

		if (!untouched)
			continue;
		c->scan_checked++;
		if (got[j] != present) {
			uint64_t gv = 0;
			int ge = hl_btree_get(bt, mkey(first + j), &gv);

			/* A get tells a cursor bug from a lost key. */
			fail("scan from %llu (%zu keys, ended %d after %llu): "
			     "key %llu, untouched and %s during the scan, %s "
			     "(a get now gives %d %#llx)",
			    U(from), nret, error, U(last), U(mkey(first + j)),
			    present ? "present" : "absent",
			    got[j] ? "was returned" : "was skipped", ge, U(gv));
		}
		if (got[j] && rval[j] != 0)
			fail("scan from %llu: key %llu, untouched, returned "
			     "with value %#llx, not %#llx",
			    U(from), U(mkey(first + j)),
			    U(rval[j] ^ atomic_load(&slots[first + j].val)),
			    U(atomic_load(&slots[first + j].val)));
	}
	c->scans++;
	c->scan_keys += nret;
	op_end(t);
}

struct worker {
	int t;
	pthread_t td;
	struct counts c;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = ht_rng_stream(cfg.seed, (uint64_t)w->t);
	uint64_t serial = 0;
	unsigned leafcap =
	    (cfg.node_size - HL_NODE_HDR_SIZE) / HL_BTREE_ELM_SIZE;
	unsigned range_max = 2 * leafcap > 200 ? 2 * leafcap : 200;
	struct hl_btree_cursor *cur;

	HT_CHECK(hl_btree_cursor_open(bt, &cur) == 0, "cursor open");
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned r = ht_rand_below(&rng, 100);
		size_t i = ht_rand_below(&rng, (unsigned)cfg.keys);

		if (r < 40) {
			do_get(w->t, i, &w->c);
		} else if (r < 65) {
			uint64_t nv = (uint64_t)(w->t + 1) << 48 | ++serial;

			do_write(w->t, i, true, nv, &w->c);
		} else if (r < 86) {
			do_write(w->t, i, false, 0, &w->c);
		} else if (r < 88) {
			/*
			 * A run of consecutive keys, deleted (empties whole
			 * leaves: node removals) or put (splits in one
			 * place): up to twice a leaf's capacity, so that
			 * one run can empty a full leaf of any node size
			 * (with 4 KiB nodes, runs of 200 left removals to
			 * chance: none at all in a TSan run).
			 */
			size_t len = 1 + ht_rand_below(&rng, range_max);
			bool put = r == 87;

			for (size_t j = i; j < i + len && j < cfg.keys; j++)
				do_write(w->t, j, put,
				    (uint64_t)(w->t + 1) << 48 | ++serial,
				    &w->c);
		} else {
			size_t win = 1 + ht_rand_below(&rng, 64);

			if (ht_rand_below(&rng, 8) == 0)
				win = WINDOW_MAX;
			do_scan(w->t, i, win, 1 + ht_rand_below(&rng, 300),
			    &rng, cur, &w->c);
		}
		if (ht_rand_below(&rng, 64) == 0)
			sched_yield();
	}
	hl_btree_cursor_close(cur);
	return NULL;
}

static void *
sync_main(void *arg)
{
	struct counts *c = arg;
	uint64_t rng = ht_rng_stream(cfg.seed, 1000);
	char why[256];

	while (!atomic_load(&stop)) {
		int error;

		usleep(5000 + ht_rand_below(&rng, 40000));
		op_begin(cfg.threads, OP_SYNC, 0);
		why[0] = '\0';
		error = hl_btree_sync(bt, why, sizeof(why));
		op_end(cfg.threads);
		c->syncs++;
		if (error == 0)
			continue;
		c->sync_errors++;
		if (!tolerated(error, c))
			fail("hl_btree_sync: %d: %s", error, why);
	}
	return NULL;
}

/*
 * --inject-hang 1: a thread that takes the root node's lock exclusive and
 * never lets go, as a lost unlock would.  The watchdog must catch it.
 */
static void *
hang_main(void *arg)
{
	struct hl_trans t;
	struct hl_node *n;
	int error;

	(void)arg;
	usleep(300000);
	hl_trans_init(&t, mnt);
	n = hl_get_node(&t, hl_mount_root(mnt), false, &error);
	HT_CHECK(n != NULL, "inject-hang: root: %d", error);
	hl_lock_ex_ident(hl_node_lock(n), "injected hang");
	for (;;)
		pause();
	return NULL;
}

/* --- setup and the final comparison ----------------------------------------
 */

static void
mount_all(struct hl_io *io)
{
	struct hl_mount_opts mo = {.io = io, .pool_bytes = cfg.pool_kb << 10};
	char why[256];
	int error;

	error = hl_mount_open(paths, 1, &mo, &mnt, why, sizeof(why));
	HT_CHECK(error == 0, "mount: %d: %s", error, why);
	error = hl_btree_open(mnt, &bt);
	HT_CHECK(error == 0, "hl_btree_open: %d", error);
}

static void
unmount_all(const char *when)
{
	char why[2048] = "";
	int error;

	hl_btree_close(bt);
	bt = NULL;
	error = hl_mount_close(mnt, why, sizeof(why));
	mnt = NULL;
	if (error != 0)
		fail("unmount %s: %d (leak): %s", when, error, why);
}

static void
sync_until_clean(const char *when)
{
	char why[256];
	int error = 0;

	for (int tries = 0; tries < 4; tries++) {
		why[0] = '\0';
		if ((error = hl_btree_sync(bt, why, sizeof(why))) == 0)
			return;
	}
	fail("sync %s: %d: %s", when, error, why);
}

static void
report_problem(void *arg, uint64_t off, const char *what)
{
	uint64_t *n = arg;

	if ((*n)++ < 20)
		fprintf(
		    stderr, "  hl_btree_check: node %#llx: %s\n", U(off), what);
}

/* The tree holds exactly the model; no operation runs. */
static void
compare_all(const char *when)
{
	struct hl_btree_cursor *cur;
	struct hl_btree_shape sh;
	uint64_t k, v, npresent = 0, reported = 0, np = 0;
	size_t i = 0, lost = 0, extra = 0, wrong = 0;
	int error;

	op_begin(nts - 1, OP_VERIFY, 0);
	for (size_t j = 0; j < cfg.keys; j++) {
		uint64_t st = atomic_load(&slots[j].st);
		uint64_t want = atomic_load(&slots[j].val);

		v = 0;
		op_begin(nts - 1, OP_VERIFY, mkey(j)); /* a heartbeat */
		error = hl_btree_get(bt, mkey(j), &v);
		if (st & 1)
			npresent++;
		if ((st & 1) && error == ENOENT) {
			if (lost++ < 10)
				fprintf(stderr, "  lost: key %llu (%#llx)\n",
				    U(mkey(j)), U(want));
		} else if (!(st & 1) && error == 0) {
			if (extra++ < 10)
				fprintf(
				    stderr, "  extra: key %llu\n", U(mkey(j)));
		} else if ((st & 1) && (error != 0 || v != want)) {
			if (wrong++ < 10)
				fprintf(stderr,
				    "  key %llu: %d %#llx, want "
				    "%#llx\n",
				    U(mkey(j)), error, U(v), U(want));
		} else if (!(st & 1) && error != ENOENT) {
			fail("%s: get %llu: %d", when, U(mkey(j)), error);
		}
	}
	if (lost || extra || wrong)
		fail("%s: the tree differs from the model: %zu keys lost, %zu "
		     "extra, %zu wrong (of %llu present)",
		    when, lost, extra, wrong, U(npresent));
	HT_CHECK(hl_btree_cursor_open(bt, &cur) == 0, "cursor open");
	for (error = hl_btree_first(cur, &k, &v); error == 0;
	     error = hl_btree_next(cur, &k, &v)) {
		op_begin(nts - 1, OP_VERIFY, k);
		while (i < cfg.keys && !(atomic_load(&slots[i].st) & 1))
			i++;
		if (i == cfg.keys || k != mkey(i) ||
		    v != atomic_load(&slots[i].val))
			fail("%s: full scan gives %llu=%#llx, expected %llu",
			    when, U(k), U(v), U(i < cfg.keys ? mkey(i) : 0));
		i++;
	}
	hl_btree_cursor_close(cur);
	if (error != ENOENT)
		fail("%s: full scan ended with %d", when, error);
	while (i < cfg.keys && !(atomic_load(&slots[i].st) & 1))
		i++;
	if (i != cfg.keys)
		fail("%s: full scan ended before key %llu", when, U(mkey(i)));
	op_begin(nts - 1, OP_VERIFY, 0);
	error = hl_btree_check(bt, &sh, report_problem, &reported, &np);
	if (error != 0 || np != 0)
		fail("%s: hl_btree_check: error %d, %llu problems", when, error,
		    U(np));
	if (sh.keys != npresent)
		fail("%s: hl_btree_check counts %llu keys, the model %llu",
		    when, U(sh.keys), U(npresent));
	printf("%s: %llu keys, depth %u, %llu internal + %llu leaves, "
	       "%llu slots free: tree == model, check clean\n",
	    when, U(npresent), sh.depth, U(sh.internal), U(sh.leaves),
	    U(sh.free_nodes));
	op_end(nts - 1);
}

static void
parse_args(int argc, char **argv)
{
	cfg.seconds = ht_seconds_from_env(5);
	cfg.threads = ht_threads_from_env(16);
	cfg.node_size = 512;
	cfg.pool_kb = 256;
	cfg.keys = 20000;
	cfg.hang = 60;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			break;
		if (strcmp(a, "--seconds") == 0)
			cfg.seconds = atof(v);
		else if (strcmp(a, "--threads") == 0)
			cfg.threads = atoi(v);
		else if (strcmp(a, "--node-size") == 0)
			cfg.node_size = (uint32_t)atoi(v);
		else if (strcmp(a, "--pool-kb") == 0)
			cfg.pool_kb = strtoull(v, NULL, 0);
		else if (strcmp(a, "--keys") == 0)
			cfg.keys = strtoull(v, NULL, 0);
		else if (strcmp(a, "--fail-ppm") == 0)
			cfg.fail_ppm = (uint32_t)atoi(v);
		else if (strcmp(a, "--hang") == 0)
			cfg.hang = atof(v);
		else if (strcmp(a, "--inject-hang") == 0)
			cfg.inject_hang = atoi(v) != 0;
		else if (strcmp(a, "--seed") != 0)
			continue;
		i++;
	}
	HT_CHECK(cfg.threads >= 1 && cfg.threads <= MAX_THREADS,
	    "--threads 1..%d", MAX_THREADS);
	HT_CHECK(cfg.node_size == 512 || cfg.node_size == 4096,
	    "--node-size 512 or 4096");
	HT_CHECK(cfg.keys >= 100 && cfg.keys < (1u << 30), "--keys");
	HT_CHECK(cfg.pool_kb >= 64, "--pool-kb at least 64");
}

static void
cleanup(void)
{
	unlink(p0);
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	struct hl_newfs_opts no = {.vol_size = VOL_SIZE, .buffer_size = BS};
	struct hl_io_fault_cfg fc = {0};
	struct hl_io_fault_stats fst;
	struct hl_btree_stats bs;
	struct hl_mount_stats ms;
	struct worker *w;
	struct counts sc = {0};
	pthread_t sync_td, wd_td;
	uint64_t rng;
	int64_t t0;
	char why[256];

	cfg.seed = ht_seed(argc, argv);
	parse_args(argc, argv);
	no.node_size = cfg.node_size;
	rng = ht_rng_stream(cfg.seed, 9999);
	printf("stress_btree: %d threads, %.1f s, %zu keys, node size %u, "
	       "pool %llu KiB, fail-ppm %u, lock-order checks %s\n",
	    cfg.threads, cfg.seconds, cfg.keys, cfg.node_size, U(cfg.pool_kb),
	    cfg.fail_ppm, hl_debug_enabled() ? "on (HL_DEBUG)" : "off");
	fflush(stdout);

	strcpy(dir, "/tmp/hl-stbt-XXXXXX");
	HT_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	atexit(cleanup);
	snprintf(p0, sizeof(p0), "%s/v0", dir);
	HT_CHECK(
	    hl_newfs(paths, 1, &no, why, sizeof(why)) == 0, "newfs: %s", why);
	slots = calloc(cfg.keys, sizeof(*slots));
	HT_CHECK(slots != NULL, "out of memory");
	for (size_t i = 0; i < cfg.keys; i++)
		pthread_mutex_init(&slots[i].mtx, NULL);
	HT_CHECK(hl_io_fault_create(NULL, NULL, &fio) == 0, "fault io");
	mount_all(fio);

	nts = cfg.threads + 2;
	HT_CHECK(
	    pthread_create(&wd_td, NULL, watchdog_main, NULL) == 0, "watchdog");

	/* Half the keys, in random order, before the threads start. */
	op_begin(nts - 1, OP_VERIFY, 0);
	for (size_t i = 0; i < cfg.keys; i++) {
		size_t j = ht_rand_below(&rng, (unsigned)cfg.keys);
		uint64_t v = ht_rand(&rng);

		if (atomic_load(&slots[j].st) & 1)
			continue;
		op_begin(nts - 1, OP_VERIFY, mkey(j)); /* a heartbeat */
		HT_CHECK(hl_btree_put(bt, mkey(j), v) == 0, "fill");
		atomic_store(&slots[j].val, v);
		atomic_store(&slots[j].st, 1);
	}
	sync_until_clean("after the fill");
	op_end(nts - 1);

	if (cfg.fail_ppm != 0) {
		fc.fail_rate_ppm = cfg.fail_ppm;
		fc.seed = cfg.seed;
		HT_CHECK(hl_io_fault_set(fio, &fc) == 0, "hl_io_fault_set");
	}
	w = calloc((size_t)cfg.threads, sizeof(*w));
	HT_CHECK(w != NULL, "out of memory");
	t0 = now_ns();
	for (int i = 0; i < cfg.threads; i++) {
		w[i].t = i;
		HT_CHECK(
		    pthread_create(&w[i].td, NULL, worker_main, &w[i]) == 0,
		    "pthread_create");
	}
	HT_CHECK(pthread_create(&sync_td, NULL, sync_main, &sc) == 0,
	    "pthread_create");
	if (cfg.inject_hang) {
		pthread_t hang_td;

		HT_CHECK(pthread_create(&hang_td, NULL, hang_main, NULL) == 0,
		    "pthread_create");
	}
	while ((double)(now_ns() - t0) / 1e9 < cfg.seconds)
		usleep(20000);
	atomic_store(&stop, true);
	for (int i = 0; i < cfg.threads; i++) {
		pthread_join(w[i].td, NULL);
		tot.gets += w[i].c.gets;
		tot.get_hits += w[i].c.get_hits;
		tot.puts += w[i].c.puts;
		tot.dels += w[i].c.dels;
		tot.del_absent += w[i].c.del_absent;
		tot.scans += w[i].c.scans;
		tot.scan_keys += w[i].c.scan_keys;
		tot.scan_checked += w[i].c.scan_checked;
		tot.eio += w[i].c.eio;
		tot.enomem += w[i].c.enomem;
		tot.failed_writes += w[i].c.failed_writes;
	}
	pthread_join(sync_td, NULL);
	hl_io_fault_set(fio, NULL);

	hl_btree_stats(bt, &bs);
	hl_mount_stats(mnt, &ms);
	hl_io_fault_stats(fio, &fst);
	printf("ran %.2f s: %llu gets (%llu hits), %llu puts, %llu dels "
	       "(%llu absent), %llu scans (%llu keys, %llu untouched keys "
	       "checked)\n",
	    (double)(now_ns() - t0) / 1e9, U(tot.gets), U(tot.get_hits),
	    U(tot.puts), U(tot.dels), U(tot.del_absent), U(tot.scans),
	    U(tot.scan_keys), U(tot.scan_checked));
	printf("errors: %llu EIO, %llu ENOMEM, %llu failed writes, %llu of "
	       "%llu syncs failed; %llu faults injected\n",
	    U(tot.eio + sc.eio), U(tot.enomem + sc.enomem),
	    U(tot.failed_writes), U(sc.sync_errors), U(sc.syncs),
	    U(fst.injected_errors));
	printf("btree: %llu splits, %llu removals, %llu restarts, %llu "
	       "upgrade EDEADLK, %llu allocs, %llu frees; pool: %llu "
	       "reclaims, %llu writebacks, %llu refused gets\n",
	    U(bs.splits), U(bs.removals), U(bs.restarts),
	    U(bs.upgrade_deadlocks), U(bs.allocs), U(bs.frees), U(ms.reclaims),
	    U(ms.writebacks), U(ms.reclaim_failures));
	fflush(stdout);
	HT_CHECK(bs.splits > 0 && bs.removals > 0 && tot.scan_checked > 0,
	    "the run did too little to test anything");

	sync_until_clean("at the end");
	compare_all("at the end");
	unmount_all("at the end");
	mount_all(NULL);
	compare_all("after remount");
	unmount_all("after remount");

	atomic_store(&wd_stop, true);
	pthread_join(wd_td, NULL);
	hl_io_destroy(fio);
	for (size_t i = 0; i < cfg.keys; i++)
		pthread_mutex_destroy(&slots[i].mtx);
	free(slots);
	free(w);
	ht_pass("stress_btree", 1);
	return 0;
}
