/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_run.c - `hammerlock run': load a B-tree with keys, run YCSB-style
 * workloads on it with several threads through a pool much smaller than
 * the tree, and check every answer against an in-memory reference.
 *
 * The reference.  Every key the run may touch is an item: a number
 * 0..n-1 with its key (keys[]), whether the tree should hold it
 * (present[]) and the value it should hold (vals[]).  Items are guarded
 * by NSHARDS mutexes (item % NSHARDS); an operation on one item holds its
 * shard's mutex across the tree call and the reference update, so the
 * reference is always exactly what the tree must answer, and a get can
 * be checked on the spot.  Operations on different items (in the same
 * leaves, the keys being hashed) run concurrently in the tree.  Scans
 * take no mutex: what they return is checked for order, for keys the
 * run knows and has handed out, and, in a mix that changes no existing
 * item (E), for exact values and for every key that was present all
 * along (items marked stable[] at the start of the mix).
 *
 * Items, in order: the keys found in the tree at the start (--mount,
 * sorted by key), then the keys loaded that were not there, then room
 * for the keys that insert operations add.  `issued' counts the items
 * handed out so far; choosers draw below it, as YCSB does.
 *
 * The phases.  The load puts the keys through a pool that holds the
 * whole tree, then syncs and mounts again with the run's pool.  Each mix
 * runs for --seconds while a thread syncs the tree every --sync-ms.
 * Then, with the workers stopped: every item is read back (in key order)
 * and compared, and a full scan must return exactly the present items in
 * key order; then sync, unmount (no leaked reference), mount again,
 * compare everything again, and hl_btree_check() the structure and the
 * free map.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <hammerlock.h>
#include <hammerlock/btree.h>

#include "cli.h"
#include "ycsb.h"

#define RUN_MAXTHREADS	 256
#define RUN_MAXMIXES	 16
#define RUN_NSHARDS	 4096 /* reference mutexes */
#define RUN_MAXPRINT	 10   /* failures printed in full */
#define RUN_NVOL	 2    /* volumes of the temporary mount */
#define RUN_KEYS_PER_LF	 175  /* keys per leaf (254 fit): sizing */
#define RUN_KIDS_PER_IN	 44   /* children per internal node (63 fit) */
#define RUN_HEADROOM	 5    /* volume room: 5/2 of the tree */
#define RUN_POOL_FLOOR	 (2u << 20)
#define RUN_LOAD_POOL	 (1ULL << 30) /* most the load's pool holds */
#define RUN_ENOMEM_TRIES 100000	      /* 10 s of 100 us naps */
#define RUN_CHUNK	 1024	      /* items a loader takes at once */

#define LAT_SUB 3 /* latency buckets: 8 per power of two */
#define LAT_NB	(64 << LAT_SUB)

#define LD(p)	  atomic_load_explicit(p, memory_order_relaxed)
#define ADD(p, v) atomic_fetch_add_explicit(p, v, memory_order_relaxed)

struct run_cfg {
	uint64_t keys;
	double seconds;
	int threads;
	const struct ycsb_mix *mixes[RUN_MAXMIXES];
	int nmixes;
	uint64_t pool_bytes; /* 0: 10% of the tree */
	enum ycsb_dist dist;
	uint64_t seed;
	uint64_t inserts; /* room for inserted items */
	bool inserts_set;
	uint32_t sync_ms;
	bool mount, load, keep, quiet;
};

/* An entry of the key index: keys sorted, with their items. */
struct kix {
	uint64_t key, item;
};

/* One mix's results. */
struct mix_res {
	const struct ycsb_mix *mix;
	double secs, cpu;
	uint64_t ops, scanned, enomem, insert_full, syncs, sync_enomem;
	uint64_t nop[YCSB_NOPS];
	uint64_t lat[LAT_NB];
	struct hl_mount_stats ms0, ms1;
	struct hl_btree_stats bs0, bs1;
};

struct run;

struct run_thread {
	struct run *r;
	int id;
	pthread_t tid;
	struct ycsb_gen gen;
	struct hl_btree_cursor *cur;
	uint64_t *sk, *sv; /* scan results */
	_Atomic uint64_t ops;
	uint64_t nop[YCSB_NOPS];
	uint64_t lat[LAT_NB];
	uint64_t scanned, enomem, insert_full;
};

struct run {
	struct run_cfg cfg;
	const char *const *paths;
	int nvol;
	char tmpdir[PATH_MAX];
	char tmppath[RUN_NVOL][PATH_MAX + 16];
	const char *tmpargs[RUN_NVOL];
	struct hl_mount *m;
	struct hl_btree *bt;
	uint64_t pool_bytes;
	double tree_est; /* estimated tree bytes */
	long ncpu;
	bool tty;

	/* The reference (see the top of the file). */
	uint64_t ntotal; /* items in the table */
	uint64_t n0;	 /* found in the tree at the start */
	uint64_t ninit;	 /* present after the load */
	uint64_t *keys, *vals;
	uint8_t *present, *stable;
	uint64_t *loadmap; /* --mount --load: load index -> item */
	uint64_t nload;
	struct kix *index;
	_Atomic uint64_t issued;
	pthread_mutex_t shard[RUN_NSHARDS];

	/* The running phase. */
	const struct ycsb_mix *mix;
	bool check_stable; /* the mix changes no existing item */
	_Atomic bool stop;
	_Atomic uint64_t next; /* loaders, verifiers: next chunk */
	_Atomic int finished;  /* threads that returned */
	_Atomic uint64_t syncs, sync_enomem;
	_Atomic bool nospace; /* a load found the volumes full */
	struct run_thread *th;
	struct run_thread mainth; /* the main thread's tree calls */
	pthread_t sync_tid;
	const char *phase; /* verifiers: what is verified */

	struct mix_res res[RUN_MAXMIXES];
	int nres;
	struct hl_btree_stats bs_load;
	double load_secs;

	/* Failures. */
	_Atomic uint64_t nfail;
	pthread_mutex_t fail_mtx;
};

static volatile sig_atomic_t run_signalled;

/* A mix's line of the help, its description wrapped at 78 columns. */
static void
run_usage_mix(FILE *fp, const struct ycsb_mix *mix)
{
	const char *p = mix->descr;
	int col = fprintf(fp, "%24s%s ", "", mix->name);

	while (*p != '\0') {
		size_t w = strcspn(p, " ");

		if (col + 1 + (int)w > 78)
			col = fprintf(fp, "\n%26s", "") - 1;
		col += fprintf(fp, " %.*s", (int)w, p);
		p += w;
		p += strspn(p, " ");
	}
	fputc('\n', fp);
}

void
hl_cli_run_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: hammerlock run [--keys N] [--seconds S] [--threads T] "
	    "[--mix M[,M...]]\n"
	    "                      [--pool-mb MB] [--dist D] [--seed X] "
	    "[--sync-ms MS]\n"
	    "                      [--inserts N] [--keep] [--quiet]\n"
	    "       hammerlock run --mount [--load] [OPTIONS] FILE...\n"
	    "\n"
	    "Load a B-tree with N keys, run YCSB-style workloads on it with T\n"
	    "threads through a buffer pool much smaller than the tree, and "
	    "check\n"
	    "every answer against an in-memory reference; at the end read "
	    "every\n"
	    "key back, scan the whole tree, sync, mount again, compare again\n"
	    "and check the tree's structure and free map.\n"
	    "\n"
	    "With no FILE, a temporary two-volume mount sized for the keys is\n"
	    "created (in $TMPDIR or /tmp) and removed at the end.  With "
	    "--mount,\n"
	    "FILE... are the volumes of an existing mount (all of them, any\n"
	    "order), used in place and kept: the reference starts from a scan "
	    "of\n"
	    "what the tree holds, and --load first puts the N keys a "
	    "temporary\n"
	    "run would load (their values are overwritten).\n"
	    "\n"
	    "  -k, --keys N        keys to load (default 1000000)\n"
	    "  -s, --seconds S     run time of each mix (default 10)\n"
	    "  -t, --threads T     worker threads (default 2)\n"
	    "  -x, --mix M[,M...]  mixes to run in turn (default A):\n");
	for (size_t i = 0; i < ycsb_nmixes; i++)
		run_usage_mix(fp, &ycsb_mixes[i]);
	fprintf(fp,
	    "  -p, --pool-mb MB    buffer pool in MiB, fractions allowed "
	    "(default:\n"
	    "                      10%% of the tree's size, at least 1; "
	    "printed)\n"
	    "  -d, --dist D        key chooser: zipfian (YCSB's scrambled "
	    "Zipfian,\n"
	    "                      the default), hotspot (Zipfian, item 0 "
	    "hottest)\n"
	    "                      or uniform\n"
	    "      --seed X        seed of every random choice (default: "
	    "from the\n"
	    "                      clock; printed)\n"
	    "      --sync-ms MS    a thread syncs the tree every MS ms while "
	    "the\n"
	    "                      workload runs (default 1000; 0: never)\n"
	    "      --inserts N     room for items added by inserts (default "
	    "half\n"
	    "                      the keys, at least 65536); an insert past "
	    "it\n"
	    "                      updates an existing item instead (reads "
	    "one in\n"
	    "                      mix E, which changes no existing item)\n"
	    "  -m, --mount         FILE... are an existing mount (see above)\n"
	    "  -l, --load          with --mount: load the keys first\n"
	    "      --keep          keep the temporary volumes (paths "
	    "printed)\n"
	    "  -q, --quiet         no progress line\n"
	    "  -h, --help          show this help\n"
	    "\n"
	    "A progress line (ops/s, pool use, buffer loads, reclaims and\n"
	    "write-backs per second) goes to stderr each second; the summary "
	    "to\n"
	    "stdout.  exit status: 0 every check passed, 1 a result did not "
	    "match\n"
	    "the reference or the tree is damaged (the first mismatches are\n"
	    "printed), 2 usage error or setup failure.\n");
}

/* --- small helpers -------------------------------------------------------- */

static double
run_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t
run_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
run_nap_us(long us)
{
	struct timespec ts = {
	    .tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double
run_cpu_secs(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static void
run_sigint(int sig)
{
	(void)sig;
	run_signalled = 1;
}

/*
 * A check failed: count it, print the first few.  The progress line is
 * cleared first on a terminal.
 */
__attribute__((format(printf, 2, 3))) static void
run_fail(struct run *r, const char *fmt, ...)
{
	uint64_t n = atomic_fetch_add(&r->nfail, 1);
	va_list ap;

	if (n >= RUN_MAXPRINT)
		return;
	pthread_mutex_lock(&r->fail_mtx);
	fflush(stdout);
	fprintf(stderr, "%shammerlock run: FAIL: ", r->tty ? "\r\033[K" : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (n + 1 == RUN_MAXPRINT)
		fprintf(stderr, "hammerlock run: (further failures are "
				"counted, not printed)\n");
	pthread_mutex_unlock(&r->fail_mtx);
}

/* A value for an item: random high half, the item in the low half. */
static uint64_t
run_val(struct ycsb_rng *rng, uint64_t item)
{
	return (ycsb_rng_next(rng) & 0xFFFFFFFF00000000ULL) |
	       (item & 0xFFFFFFFFu);
}

static pthread_mutex_t *
run_shard(struct run *r, uint64_t item)
{
	return &r->shard[item % RUN_NSHARDS];
}

static uint64_t
run_issued(struct run *r)
{
	uint64_t n = atomic_load(&r->issued);

	return n < r->ntotal ? n : r->ntotal;
}

/* The first index entry whose key is >= key. */
static size_t
run_index_lb(struct run *r, uint64_t key)
{
	size_t lo = 0, hi = r->ntotal;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->index[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* --- latency histogram ---------------------------------------------------- */

static unsigned
lat_bucket(uint64_t ns)
{
	int e;

	if (ns < (1u << LAT_SUB))
		return (unsigned)ns;
	e = 63 - __builtin_clzll(ns);
	return ((unsigned)(e - LAT_SUB + 1) << LAT_SUB) +
	       (unsigned)((ns >> (e - LAT_SUB)) & ((1u << LAT_SUB) - 1));
}

/* The low end of a bucket, in ns. */
static uint64_t
lat_value(unsigned b)
{
	unsigned e;

	if (b < (1u << LAT_SUB))
		return b;
	e = (b >> LAT_SUB) + LAT_SUB - 1;
	return (uint64_t)((1u << LAT_SUB) + (b & ((1u << LAT_SUB) - 1)))
	       << (e - LAT_SUB);
}

/* The q-quantile (0..1) in microseconds, from the bucket's low end. */
static double
lat_quantile(const uint64_t *h, double q)
{
	uint64_t total = 0, want, acc = 0;

	for (unsigned b = 0; b < LAT_NB; b++)
		total += h[b];
	if (total == 0)
		return 0;
	want = (uint64_t)((double)total * q);
	if (want >= total)
		want = total - 1;
	for (unsigned b = 0; b < LAT_NB; b++) {
		acc += h[b];
		if (acc > want)
			return (double)lat_value(b) / 1000.0;
	}
	return 0;
}

/* --- tree calls, retried while the pool is full --------------------------- */

/* A worker (not the main thread) whose phase is stopping. */
static bool
rt_stopping(struct run_thread *t)
{
	return t->id >= 0 &&
	       atomic_load_explicit(&t->r->stop, memory_order_relaxed);
}

/*
 * The tree answered error: try again?  Only ENOMEM (every buffer of the
 * pool pinned by the other threads) is worth waiting for, for at most
 * RUN_ENOMEM_TRIES naps, and not once the phase is stopping: then the
 * caller gives the operation up.
 */
static bool
rt_again(struct run_thread *t, int error, int *tries)
{
	if (error != ENOMEM || ++*tries > RUN_ENOMEM_TRIES || rt_stopping(t))
		return false;
	t->enomem++;
	run_nap_us(100);
	return true;
}

/* An operation given up because the phase stopped (see rt_again()). */
static bool
rt_abandoned(struct run_thread *t, int error)
{
	return error == ENOMEM && rt_stopping(t);
}

static int
rt_get(struct run_thread *t, uint64_t key, uint64_t *valp)
{
	int error, tries = 0;

	do
		error = hl_btree_get(t->r->bt, key, valp);
	while (rt_again(t, error, &tries));
	return error;
}

static int
rt_put(struct run_thread *t, uint64_t key, uint64_t val)
{
	int error, tries = 0;

	do
		error = hl_btree_put(t->r->bt, key, val);
	while (rt_again(t, error, &tries));
	return error;
}

static int
rt_del(struct run_thread *t, uint64_t key)
{
	int error, tries = 0;

	do
		error = hl_btree_del(t->r->bt, key);
	while (rt_again(t, error, &tries));
	return error;
}

static int
rt_seek(struct run_thread *t, uint64_t key, uint64_t *kp, uint64_t *vp)
{
	int error, tries = 0;

	do
		error = hl_btree_seek(t->cur, key, kp, vp);
	while (rt_again(t, error, &tries));
	return error;
}

static int
rt_next(struct run_thread *t, uint64_t *kp, uint64_t *vp)
{
	int error, tries = 0;

	do
		error = hl_btree_next(t->cur, kp, vp);
	while (rt_again(t, error, &tries));
	return error;
}

/* --- operations ----------------------------------------------------------- */

/*
 * Get an item and compare (its shard's mutex held).  what names the
 * operation in a failure.
 */
static void
op_check_get(struct run_thread *t, uint64_t item, const char *what)
{
	struct run *r = t->r;
	uint64_t key = r->keys[item], v = 0;
	int error = rt_get(t, key, &v);

	if (rt_abandoned(t, error))
		return;
	if (error == 0 && r->present[item] && v == r->vals[item])
		return;
	if (error == ENOENT && !r->present[item])
		return;
	if (error != 0 && error != ENOENT)
		run_fail(r, "%s: get key %#" PRIx64 " (item %" PRIu64 "): %s",
		    what, key, item, strerror(error));
	else if (error == ENOENT)
		run_fail(r,
		    "%s: get key %#" PRIx64 " (item %" PRIu64 "): not found, "
		    "expected value %#" PRIx64,
		    what, key, item, r->vals[item]);
	else if (!r->present[item])
		run_fail(r,
		    "%s: get key %#" PRIx64 " (item %" PRIu64 "): found value "
		    "%#" PRIx64 ", expected no such key",
		    what, key, item, v);
	else
		run_fail(r,
		    "%s: get key %#" PRIx64 " (item %" PRIu64
		    "): value %#" PRIx64 ", expected %#" PRIx64,
		    what, key, item, v, r->vals[item]);
}

/* Put a new value for an item (its shard's mutex held). */
static void
op_put(struct run_thread *t, uint64_t item, const char *what)
{
	struct run *r = t->r;
	uint64_t v = run_val(&t->gen.rng, item);
	int error = rt_put(t, r->keys[item], v);

	if (rt_abandoned(t, error))
		return;
	if (error != 0) {
		run_fail(r, "%s: put key %#" PRIx64 " (item %" PRIu64 "): %s",
		    what, r->keys[item], item, strerror(error));
		return;
	}
	r->vals[item] = v;
	r->present[item] = 1;
}

static void
op_delete(struct run_thread *t, uint64_t item)
{
	struct run *r = t->r;
	int error = rt_del(t, r->keys[item]);

	if (rt_abandoned(t, error))
		return;
	if (error == 0 && r->present[item]) {
		r->present[item] = 0;
		return;
	}
	if (error == ENOENT && !r->present[item])
		return;
	run_fail(r,
	    "delete key %#" PRIx64 " (item %" PRIu64 "): %s, expected %s",
	    r->keys[item], item, error ? strerror(error) : "success",
	    r->present[item] ? "success" : "ENOENT");
	/* Whatever the tree did, it no longer holds... or never did. */
	if (error == 0)
		r->present[item] = 0;
}

/*
 * Check what a scan from `from' returned (n keys of the at most want
 * asked for; end: the tree had no more).  See the top of the file.
 */
static void
op_check_scan(
    struct run_thread *t, uint64_t from, uint32_t n, uint32_t want, bool end)
{
	struct run *r = t->r;
	uint64_t issued = run_issued(r);
	size_t p = run_index_lb(r, from);

	for (uint32_t i = 0; i < n; i++) {
		uint64_t k = t->sk[i], v = t->sv[i], item;
		size_t q;

		if ((i == 0 && k < from) || (i > 0 && k <= t->sk[i - 1])) {
			run_fail(r,
			    "scan from %#" PRIx64 ": key %u is %#" PRIx64
			    ", after %#" PRIx64 ": out of order",
			    from, i, k, i == 0 ? from : t->sk[i - 1]);
			return;
		}
		q = run_index_lb(r, k);
		if (q >= r->ntotal || r->index[q].key != k) {
			run_fail(r,
			    "scan from %#" PRIx64 ": returned key %#" PRIx64
			    " that the run never wrote",
			    from, k);
			return;
		}
		item = r->index[q].item;
		if (item >= issued) {
			run_fail(r,
			    "scan from %#" PRIx64 ": returned key %#" PRIx64
			    " (item %" PRIu64 ") before it was inserted",
			    from, k, item);
			return;
		}
		if (r->check_stable && r->stable[item]) {
			if (v != r->vals[item])
				run_fail(r,
				    "scan from %#" PRIx64 ": key %#" PRIx64
				    " (item %" PRIu64 ") has value %#" PRIx64
				    ", expected %#" PRIx64,
				    from, k, item, v, r->vals[item]);
		} else if (item >= r->n0 &&
			   (v & 0xFFFFFFFFu) != (item & 0xFFFFFFFFu)) {
			run_fail(r,
			    "scan from %#" PRIx64 ": key %#" PRIx64
			    " (item %" PRIu64 ") has value %#" PRIx64
			    ", which is not a value of this item",
			    from, k, item, v);
		}
		/* Every key present all along and in between was returned. */
		for (; r->check_stable && p < q; p++)
			if (r->stable[r->index[p].item]) {
				run_fail(r,
				    "scan from %#" PRIx64 ": skipped key "
				    "%#" PRIx64 " (item %" PRIu64 ")",
				    from, r->index[p].key, r->index[p].item);
				return;
			}
		p = q + 1;
	}
	if (!end || !r->check_stable || n >= want)
		return;
	for (; p < r->ntotal; p++)
		if (r->stable[r->index[p].item]) {
			run_fail(r,
			    "scan from %#" PRIx64 ": ended after %u keys "
			    "before key %#" PRIx64 " (item %" PRIu64 ")",
			    from, n, r->index[p].key, r->index[p].item);
			return;
		}
}

/* Scan from an item's key; returns the keys found (in t->sk). */
static uint32_t
op_scan(struct run_thread *t, uint64_t item)
{
	struct run *r = t->r;
	uint32_t want = ycsb_scan_len(r->mix, &t->gen.rng), n = 0;
	uint64_t from = r->keys[item];
	int error;

	error = rt_seek(t, from, &t->sk[0], &t->sv[0]);
	while (error == 0 && ++n < want)
		error = rt_next(t, &t->sk[n], &t->sv[n]);
	if (rt_abandoned(t, error))
		return 0;
	if (error != 0 && error != ENOENT) {
		run_fail(
		    r, "scan from %#" PRIx64 ": %s", from, strerror(error));
		return 0;
	}
	t->scanned += n;
	op_check_scan(t, from, n, want, error == ENOENT);
	return n;
}

/*
 * Delete the keys a scan from item finds, one by one, each under its
 * item's mutex (another thread may have deleted or put it meanwhile:
 * the reference says which).
 */
static void
op_delrange(struct run_thread *t, uint64_t item)
{
	struct run *r = t->r;
	uint32_t n = op_scan(t, item);

	for (uint32_t i = 0; i < n; i++) {
		size_t q = run_index_lb(r, t->sk[i]);

		if (q >= r->ntotal || r->index[q].key != t->sk[i])
			return; /* op_check_scan() reported it */
		item = r->index[q].item;
		pthread_mutex_lock(run_shard(r, item));
		op_delete(t, item);
		pthread_mutex_unlock(run_shard(r, item));
	}
}

static void
run_op(struct run_thread *t, enum ycsb_op op)
{
	struct run *r = t->r;
	uint64_t item;

	if (op == YCSB_OP_INSERT) {
		item = atomic_fetch_add(&r->issued, 1);
		if (item >= r->ntotal) {
			/* No room left: update an item instead, or read
			 * one if the mix must change no existing item. */
			t->insert_full++;
			op = r->check_stable ? YCSB_OP_READ : YCSB_OP_UPDATE;
		}
	}
	if (op != YCSB_OP_INSERT)
		item = ycsb_next_item_below(&t->gen, run_issued(r));
	if (op == YCSB_OP_SCAN) {
		op_scan(t, item);
		return;
	}
	if (op == YCSB_OP_DELRANGE) {
		op_delrange(t, item);
		return;
	}
	pthread_mutex_lock(run_shard(r, item));
	switch (op) {
	case YCSB_OP_READ:
		op_check_get(t, item, "read");
		break;
	case YCSB_OP_UPDATE:
	case YCSB_OP_INSERT:
		op_put(t, item, ycsb_op_name(op));
		break;
	case YCSB_OP_RMW:
		op_check_get(t, item, "read-modify-write");
		op_put(t, item, "read-modify-write");
		break;
	case YCSB_OP_DELETE:
		op_delete(t, item);
		break;
	default:
		break;
	}
	pthread_mutex_unlock(run_shard(r, item));
}

static void *
run_syncer(void *arg)
{
	struct run *r = arg;
	char why[256];
	int error;

	for (;;) {
		for (uint32_t ms = 0; ms < r->cfg.sync_ms; ms += 10) {
			if (atomic_load(&r->stop))
				return NULL;
			run_nap_us(10000);
		}
		why[0] = '\0';
		error = hl_btree_sync(r->bt, why, sizeof(why));
		if (error == ENOMEM) {
			/* The pool was full of pinned buffers: try again
			 * at the next period. */
			ADD(&r->sync_enomem, 1);
			continue;
		}
		if (error != 0)
			run_fail(r, "sync during the run: %s (%s)",
			    strerror(error), why);
		ADD(&r->syncs, 1);
	}
}

/* --- threads and progress ------------------------------------------------- */

static uint64_t
run_ops(struct run *r)
{
	uint64_t s = 0;

	for (int i = 0; i < r->cfg.threads; i++)
		s += LD(&r->th[i].ops);
	return s;
}

static void
run_progress(struct run *r, const char *phase, double elapsed, double dt,
    uint64_t dops, const struct hl_mount_stats *a,
    const struct hl_mount_stats *b)
{
	fprintf(stderr,
	    "%s[%5.1fs] %-6s %8.0f ops/s  pool %5.1f/%.1f MiB  loads %6.0f/s"
	    "  reclaims %6.0f/s  writebacks %5.0f/s%s",
	    r->tty ? "\r" : "", elapsed, phase, (double)dops / dt,
	    (double)b->pool_bytes / 1048576.0,
	    (double)b->pool_limit / 1048576.0,
	    (double)(b->buffer_loads - a->buffer_loads) / dt,
	    (double)(b->reclaims - a->reclaims) / dt,
	    (double)(b->writebacks - a->writebacks) / dt,
	    r->tty ? "\033[K" : "\n");
}

/*
 * Run fn on every thread (and the syncer if sync), printing the progress
 * line each second.  Timed (seconds > 0): stop is set when they have
 * passed.  Otherwise the threads return when their work is done.  A
 * signal (SIGINT, SIGTERM) sets stop too.
 */
static int
run_threads(struct run *r, void *(*fn)(void *), const char *phase,
    double seconds, bool sync)
{
	struct hl_mount_stats a, b;
	double t0 = run_now(), last = t0;
	bool printed = false, syncer = false;
	uint64_t lastops = 0;
	int i, error, started;

	atomic_store(&r->stop, false);
	atomic_store(&r->finished, 0);
	for (i = 0; i < r->cfg.threads; i++)
		atomic_store(&r->th[i].ops, 0);
	hl_mount_stats(r->m, &a);
	for (started = 0; started < r->cfg.threads; started++) {
		error = pthread_create(
		    &r->th[started].tid, NULL, fn, &r->th[started]);
		if (error != 0) {
			hl_cli_err(
			    "run", "pthread_create: %s", strerror(error));
			atomic_store(&r->stop, true);
			break;
		}
	}
	if (sync && r->cfg.sync_ms > 0 && started == r->cfg.threads) {
		error = pthread_create(&r->sync_tid, NULL, run_syncer, r);
		syncer = error == 0;
	}
	while (atomic_load(&r->finished) < started) {
		double now;
		uint64_t ops;

		run_nap_us(10000);
		now = run_now();
		if (run_signalled || (seconds > 0 && now - t0 >= seconds))
			atomic_store(&r->stop, true);
		if (now - last >= 1.0 && !r->cfg.quiet) {
			ops = run_ops(r);
			hl_mount_stats(r->m, &b);
			run_progress(r, phase, now - t0, now - last,
			    ops - lastops, &a, &b);
			printed = true;
			a = b;
			lastops = ops;
			last = now;
		}
	}
	atomic_store(&r->stop, true);
	for (i = 0; i < started; i++)
		pthread_join(r->th[i].tid, NULL);
	if (syncer)
		pthread_join(r->sync_tid, NULL);
	if (printed && r->tty)
		fputc('\n', stderr);
	return started == r->cfg.threads ? 0 : EAGAIN;
}

/* The next chunk [*lo, *hi) of the fixed work [0, end), or false. */
static bool
run_chunk(struct run *r, uint64_t end, uint64_t *lo, uint64_t *hi)
{
	if (atomic_load_explicit(&r->stop, memory_order_relaxed))
		return false;
	*lo = atomic_fetch_add(&r->next, RUN_CHUNK);
	if (*lo >= end)
		return false;
	*hi = *lo + RUN_CHUNK < end ? *lo + RUN_CHUNK : end;
	return true;
}

static void *
run_worker(void *arg)
{
	struct run_thread *t = arg;
	struct run *r = t->r;
	int error;

	if ((error = hl_btree_cursor_open(r->bt, &t->cur)) != 0) {
		run_fail(r, "cursor: %s", strerror(error));
		atomic_fetch_add(&r->finished, 1);
		return NULL;
	}
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		enum ycsb_op op = ycsb_next_op(r->mix, &t->gen.rng);
		uint64_t t0 = run_now_ns();

		run_op(t, op);
		t->lat[lat_bucket(run_now_ns() - t0)]++;
		t->nop[op]++;
		ADD(&t->ops, 1);
	}
	hl_btree_cursor_close(t->cur);
	t->cur = NULL;
	atomic_fetch_add(&r->finished, 1);
	return NULL;
}

/* Put the keys to load: items of r->loadmap, or 0..nload-1. */
static void *
run_loader(void *arg)
{
	struct run_thread *t = arg;
	struct run *r = t->r;
	uint64_t lo, hi;

	while (run_chunk(r, r->nload, &lo, &hi)) {
		for (uint64_t j = lo; j < hi; j++) {
			uint64_t item = r->loadmap ? r->loadmap[j] : j;
			uint64_t v = run_val(&t->gen.rng, item);
			int error = rt_put(t, r->keys[item], v);

			if (rt_abandoned(t, error))
				break;
			if (error == ENOSPC) {
				/* Volumes too small (--mount): setup. */
				atomic_store(&r->nospace, true);
				atomic_store(&r->stop, true);
				break;
			}
			if (error != 0) {
				run_fail(r,
				    "load: put key %#" PRIx64 " (item %" PRIu64
				    "): %s",
				    r->keys[item], item, strerror(error));
				atomic_store(&r->stop, true);
				break;
			}
			/* Loaders own disjoint items: no mutex needed. */
			r->vals[item] = v;
			r->present[item] = 1;
			ADD(&t->ops, 1);
		}
	}
	atomic_fetch_add(&r->finished, 1);
	return NULL;
}

/*
 * Get every item of the table and compare (those never inserted must be
 * absent), in key order so that neighbours share leaves and a small
 * pool is enough.
 */
static void *
run_verifier(void *arg)
{
	struct run_thread *t = arg;
	struct run *r = t->r;
	uint64_t lo, hi;

	while (run_chunk(r, r->ntotal, &lo, &hi)) {
		for (uint64_t j = lo; j < hi; j++) {
			op_check_get(t, r->index[j].item, r->phase);
			ADD(&t->ops, 1);
		}
	}
	atomic_fetch_add(&r->finished, 1);
	return NULL;
}

/* --- whole-tree checks ---------------------------------------------------- */

/*
 * Scan the whole tree and compare it with the present items in key
 * order.  Returns the keys scanned (*errorp: a cursor error, else 0).
 */
static uint64_t
run_verify_scan(struct run *r, const char *when, int *errorp)
{
	struct run_thread *t = &r->mainth;
	uint64_t k = 0, v = 0, prev = 0, n = 0;
	size_t p = 0;
	int error;

	*errorp = 0;
	if ((error = hl_btree_cursor_open(r->bt, &t->cur)) != 0) {
		*errorp = error;
		return 0;
	}
	error = rt_seek(t, 0, &k, &v);
	for (;;) {
		bool have = error == 0;

		if (error != 0 && error != ENOENT) {
			run_fail(r, "%s: full scan after %" PRIu64 " keys: %s",
			    when, n, strerror(error));
			*errorp = error;
			break;
		}
		if (have) {
			if (n > 0 && k <= prev)
				run_fail(r,
				    "%s: full scan: key %#" PRIx64
				    " after %#" PRIx64 ": out of order",
				    when, k, prev);
			prev = k;
		}
		while (p < r->ntotal && !r->present[r->index[p].item])
			p++;
		if (!have && p == r->ntotal)
			break;
		if (have && (p == r->ntotal || k < r->index[p].key)) {
			run_fail(r,
			    "%s: full scan: key %#" PRIx64 " (value %#" PRIx64
			    ") should not be in the tree",
			    when, k, v);
		} else if (!have || r->index[p].key < k) {
			run_fail(r,
			    "%s: full scan: key %#" PRIx64 " (item %" PRIu64
			    ") is missing",
			    when, r->index[p].key, r->index[p].item);
			p++;
			continue; /* compare the same scanned key again */
		} else {
			if (v != r->vals[r->index[p].item])
				run_fail(r,
				    "%s: full scan: key %#" PRIx64
				    " (item %" PRIu64 ") has value %#" PRIx64
				    ", expected %#" PRIx64,
				    when, k, r->index[p].item, v,
				    r->vals[r->index[p].item]);
			p++;
		}
		n++;
		error = rt_next(t, &k, &v);
	}
	hl_btree_cursor_close(t->cur);
	t->cur = NULL;
	return n;
}

/* Every item through a get, then the full scan.  Prints one line. */
static void
run_verify(struct run *r, const char *when)
{
	uint64_t f0 = atomic_load(&r->nfail), present = 0, scanned;
	double t0 = run_now();
	int error;

	r->phase = when;
	atomic_store(&r->next, 0);
	run_threads(r, run_verifier, "verify", 0, false);
	scanned = run_verify_scan(r, when, &error);
	for (uint64_t i = 0; i < r->ntotal; i++)
		present += r->present[i];
	printf("verify (%s): %" PRIu64 " gets (%" PRIu64 " present), "
	       "full scan %" PRIu64 " keys in order: %s (%.1f s)\n",
	    when, r->ntotal, present, scanned,
	    atomic_load(&r->nfail) == f0 ? "ok" : "MISMATCH", run_now() - t0);
	fflush(stdout);
}

static void
run_check_report(void *arg, uint64_t off, const char *what)
{
	struct run *r = arg;

	run_fail(r, "check: node %#" PRIx64 ": %s", off, what);
}

/*
 * hl_btree_check() on the quiescent tree; the keys it counts must be
 * `expect' (UINT64_MAX: any).  Returns 0 or the check's errno.
 */
static int
run_check(
    struct run *r, const char *when, uint64_t expect, struct hl_btree_shape *sh)
{
	uint64_t nproblems = 0, f0 = atomic_load(&r->nfail);
	double t0 = run_now();
	int error;

	memset(sh, 0, sizeof(*sh));
	error = hl_btree_check(r->bt, sh, run_check_report, r, &nproblems);
	if (error != 0) {
		run_fail(r, "check (%s): %s", when, strerror(error));
		return error;
	}
	if (nproblems > 0 && atomic_load(&r->nfail) == f0)
		run_fail(
		    r, "check (%s): %" PRIu64 " problems", when, nproblems);
	if (expect != UINT64_MAX && sh->keys != expect)
		run_fail(r,
		    "check (%s): the tree holds %" PRIu64 " keys, the "
		    "reference %" PRIu64,
		    when, sh->keys, expect);
	printf("check (%s): depth %" PRIu32 ", %" PRIu64 " internal + %" PRIu64
	       " leaf nodes, %" PRIu64
	       " keys (%.1f per leaf); free map: %" PRIu64 " used, %" PRIu64
	       " free; %" PRIu64 " problems (%.1f s)\n",
	    when, sh->depth, sh->internal, sh->leaves, sh->keys,
	    sh->leaves ? (double)sh->keys / (double)sh->leaves : 0.0,
	    sh->used_nodes, sh->free_nodes, nproblems, run_now() - t0);
	fflush(stdout);
	return 0;
}

/* --- setup ---------------------------------------------------------------- */

/* Nodes of a tree of n keys: leaves and the internal nodes above. */
static uint64_t
run_tree_nodes(uint64_t n)
{
	uint64_t leaves = n / RUN_KEYS_PER_LF + 1;

	return leaves + leaves / (RUN_KIDS_PER_IN - 1) + 2;
}

/* Bytes of each of nvol volumes for a tree of `nodes', with headroom. */
static uint64_t
run_vol_size(uint64_t nodes, int nvol)
{
	const uint64_t bs = HL_BUFFER_SIZE_DEFAULT, ns = HL_NODE_SIZE_DEFAULT;
	uint64_t per =
	    (nodes * RUN_HEADROOM / 2 + (uint64_t)nvol - 1) / (uint64_t)nvol +
	    64;

	per += per / ((ns - HL_NODE_HDR_SIZE) * 8) + 1; /* the free map */
	return (bs + per * ns + bs - 1) / bs * bs;
}

static void
run_cleanup_temp(struct run *r)
{
	if (r->tmpdir[0] == '\0')
		return;
	if (r->cfg.keep) {
		printf("volumes kept: %s %s\n", r->tmppath[0], r->tmppath[1]);
		return;
	}
	for (int i = 0; i < RUN_NVOL; i++)
		unlink(r->tmppath[i]);
	if (rmdir(r->tmpdir) != 0)
		hl_cli_err("run", "rmdir %s: %s", r->tmpdir, strerror(errno));
}

/* The temporary mount: two volumes sized for the keys and inserts. */
static int
run_setup_temp(struct run *r)
{
	const char *tmp = getenv("TMPDIR");
	struct hl_newfs_opts o = {0};
	char why[512];
	int error;

	snprintf(r->tmpdir, sizeof(r->tmpdir), "%s/hammerlock-run.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(r->tmpdir) == NULL) {
		hl_cli_err("run", "mkdtemp %s: %s", r->tmpdir, strerror(errno));
		r->tmpdir[0] = '\0';
		return errno;
	}
	for (int i = 0; i < RUN_NVOL; i++) {
		snprintf(r->tmppath[i], sizeof(r->tmppath[i]), "%s/vol%d",
		    r->tmpdir, i);
		r->tmpargs[i] = r->tmppath[i];
	}
	r->paths = r->tmpargs;
	r->nvol = RUN_NVOL;
	o.vol_size = run_vol_size(
	    run_tree_nodes(r->cfg.keys + r->cfg.inserts), RUN_NVOL);
	error = hl_newfs(r->paths, r->nvol, &o, why, sizeof(why));
	if (error != 0)
		hl_cli_err("run", "newfs: %s", why);
	return error;
}

static int
run_mount(struct run *r, uint64_t pool)
{
	struct hl_mount_opts mo = {.pool_bytes = pool};
	char why[1024];
	int error;

	error = hl_mount_open(r->paths, r->nvol, &mo, &r->m, why, sizeof(why));
	if (error != 0) {
		hl_cli_err("run", "mount: %s", why);
		r->m = NULL;
		return error;
	}
	error = hl_btree_open(r->m, &r->bt);
	if (error != 0) {
		hl_cli_err("run", "opening the tree: %s", strerror(error));
		hl_mount_close(r->m, NULL, 0);
		r->m = NULL;
		r->bt = NULL;
	}
	return error;
}

/* Close the tree and unmount, syncing first if sync; a leak fails. */
static void
run_unmount(struct run *r, bool sync, const char *when)
{
	char why[1024];
	int error;

	if (r->m == NULL)
		return;
	if (sync && (error = hl_btree_sync(r->bt, why, sizeof(why))) != 0)
		run_fail(r, "%s: sync: %s (%s)", when, strerror(error), why);
	hl_btree_close(r->bt);
	r->bt = NULL;
	error = hl_mount_close(r->m, why, sizeof(why));
	r->m = NULL;
	if (error != 0)
		run_fail(r, "%s: unmount: %s (%s)", when, strerror(error), why);
}

/* Grow a pair of arrays to hold at least n + 1 entries. */
static int
run_grow(uint64_t **a, uint64_t **b, uint64_t *cap, uint64_t n)
{
	uint64_t ncap = *cap ? *cap * 2 : 65536, *na, *nb;

	if (n < *cap)
		return 0;
	na = realloc(*a, ncap * sizeof(**a));
	if (na == NULL)
		return ENOMEM;
	*a = na;
	nb = realloc(*b, ncap * sizeof(**b));
	if (nb == NULL)
		return ENOMEM;
	*b = nb;
	*cap = ncap;
	return 0;
}

/*
 * What the tree holds (--mount): every key, in order, into *kp, *vp.
 * Keys out of order fail the run (the reference needs them sorted).
 */
static int
run_scan_existing(struct run *r, uint64_t **kp, uint64_t **vp, uint64_t *np)
{
	struct run_thread *t = &r->mainth;
	uint64_t k, v, n = 0, cap = 0, *ks = NULL, *vs = NULL;
	int error;

	if ((error = hl_btree_cursor_open(r->bt, &t->cur)) != 0)
		return error;
	for (error = rt_seek(t, 0, &k, &v); error == 0;
	     error = rt_next(t, &k, &v)) {
		if (n > 0 && k <= ks[n - 1]) {
			run_fail(r,
			    "the tree is damaged: its scan returns key "
			    "%#" PRIx64 " after %#" PRIx64,
			    k, ks[n - 1]);
			error = EIO;
			break;
		}
		if ((error = run_grow(&ks, &vs, &cap, n)) != 0)
			break;
		ks[n] = k;
		vs[n++] = v;
	}
	hl_btree_cursor_close(t->cur);
	t->cur = NULL;
	if (error != ENOENT) {
		if (error != EIO)
			hl_cli_err(
			    "run", "scanning the tree: %s", strerror(error));
		free(ks);
		free(vs);
		return error;
	}
	*kp = ks;
	*vp = vs;
	*np = n;
	return 0;
}

static bool
run_bsearch(const uint64_t *a, uint64_t n, uint64_t key, uint64_t *posp)
{
	uint64_t lo = 0, hi = n;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (a[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	*posp = lo;
	return lo < n && a[lo] == key;
}

static int
kix_cmp(const void *a, const void *b)
{
	const struct kix *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/*
 * The item table: the ne keys found (ek, ev: sorted), the keys to load
 * that were not there, and room for the inserts; then the key index.
 */
static int
run_build_items(
    struct run *r, const uint64_t *ek, const uint64_t *ev, uint64_t ne)
{
	uint64_t max = ne + r->nload + r->cfg.inserts, n, j, pos, c;

	r->keys = malloc(max * sizeof(*r->keys));
	r->vals = calloc(max, sizeof(*r->vals));
	r->present = calloc(max, 1);
	r->stable = calloc(max, 1);
	if (ne > 0 && r->nload > 0)
		r->loadmap = malloc(r->nload * sizeof(*r->loadmap));
	if (r->keys == NULL || r->vals == NULL || r->present == NULL ||
	    r->stable == NULL || (ne > 0 && r->nload > 0 && r->loadmap == NULL))
		return ENOMEM;
	for (n = 0; n < ne; n++) {
		r->keys[n] = ek[n];
		r->vals[n] = ev[n];
		r->present[n] = 1;
	}
	r->n0 = ne;
	for (j = 0; j < r->nload; j++) {
		uint64_t k = ycsb_key(j), item;

		if (run_bsearch(ek, ne, k, &pos)) {
			item = pos;
		} else {
			item = n++;
			r->keys[item] = k;
		}
		if (r->loadmap != NULL)
			r->loadmap[j] = item;
	}
	r->ninit = n;
	for (c = 0; c < r->cfg.inserts; j++) {
		uint64_t k = ycsb_key(j);

		if (run_bsearch(ek, ne, k, &pos))
			continue;
		r->keys[n++] = k;
		c++;
	}
	r->ntotal = n;
	atomic_store(&r->issued, r->ninit);
	r->index = malloc(n * sizeof(*r->index));
	if (r->index == NULL)
		return ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		r->index[i] = (struct kix){r->keys[i], i};
	qsort(r->index, n, sizeof(*r->index), kix_cmp);
	for (uint64_t i = 1; i < n; i++)
		if (r->index[i].key == r->index[i - 1].key) {
			hl_cli_err("run",
			    "internal error: key %#" PRIx64 " is items %" PRIu64
			    " and %" PRIu64,
			    r->index[i].key, r->index[i - 1].item,
			    r->index[i].item);
			return EINVAL;
		}
	return 0;
}

/* --- phases --------------------------------------------------------------- */

static void
run_load(struct run *r)
{
	struct hl_btree_stats b0;
	double t0 = run_now();

	hl_btree_stats(r->bt, &b0);
	atomic_store(&r->next, 0);
	for (int i = 0; i < r->cfg.threads; i++)
		ycsb_rng_init(&r->th[i].gen.rng, r->cfg.seed, 1000 + i);
	run_threads(r, run_loader, "load", 0, false);
	r->load_secs = run_now() - t0;
	hl_btree_stats(r->bt, &r->bs_load);
	r->bs_load.splits -= b0.splits;
	r->bs_load.restarts -= b0.restarts;
	r->bs_load.upgrade_deadlocks -= b0.upgrade_deadlocks;
	printf("load: %" PRIu64 " keys in %.1f s (%.0f puts/s, %d threads), "
	       "%" PRIu64 " splits, %" PRIu64 " restarts\n",
	    run_ops(r), r->load_secs,
	    (double)run_ops(r) / (r->load_secs > 0 ? r->load_secs : 1),
	    r->cfg.threads, r->bs_load.splits, r->bs_load.restarts);
	fflush(stdout);
}

static void
run_mix(struct run *r, int mi)
{
	const struct ycsb_mix *mix = r->cfg.mixes[mi];
	struct mix_res *res = &r->res[r->nres++];
	struct ycsb_gen g0;
	double t0, cpu0;
	uint64_t syncs0, senomem0;

	memset(res, 0, sizeof(*res));
	res->mix = mix;
	r->mix = mix;
	r->check_stable =
	    mix->p[YCSB_OP_UPDATE] == 0 && mix->p[YCSB_OP_RMW] == 0 &&
	    mix->p[YCSB_OP_DELETE] == 0 && mix->p[YCSB_OP_DELRANGE] == 0;
	if (r->check_stable)
		memcpy(r->stable, r->present, r->ntotal);
	/* With inserts, choose among the items the run may reach, drawing
	 * below those issued so far; else among those issued. */
	ycsb_init(&g0, mix->p[YCSB_OP_INSERT] > 0 ? r->ntotal : run_issued(r),
	    r->cfg.dist, r->cfg.seed);
	for (int i = 0; i < r->cfg.threads; i++) {
		struct run_thread *t = &r->th[i];

		ycsb_fork(&t->gen, &g0, r->cfg.seed,
		    (uint64_t)(mi + 1) * 10000 + (uint64_t)i);
		memset(t->nop, 0, sizeof(t->nop));
		memset(t->lat, 0, sizeof(t->lat));
		t->scanned = t->enomem = t->insert_full = 0;
	}
	hl_mount_stats(r->m, &res->ms0);
	hl_btree_stats(r->bt, &res->bs0);
	syncs0 = atomic_load(&r->syncs);
	senomem0 = atomic_load(&r->sync_enomem);
	cpu0 = run_cpu_secs();
	t0 = run_now();
	run_threads(r, run_worker, mix->name, r->cfg.seconds, true);
	res->secs = run_now() - t0;
	res->cpu = (run_cpu_secs() - cpu0) / (res->secs * (double)r->ncpu);
	hl_mount_stats(r->m, &res->ms1);
	hl_btree_stats(r->bt, &res->bs1);
	res->syncs = atomic_load(&r->syncs) - syncs0;
	res->sync_enomem = atomic_load(&r->sync_enomem) - senomem0;
	for (int i = 0; i < r->cfg.threads; i++) {
		struct run_thread *t = &r->th[i];

		for (int op = 0; op < YCSB_NOPS; op++) {
			res->nop[op] += t->nop[op];
			res->ops += t->nop[op];
		}
		for (unsigned b = 0; b < LAT_NB; b++)
			res->lat[b] += t->lat[b];
		res->scanned += t->scanned;
		res->enomem += t->enomem;
		res->insert_full += t->insert_full;
	}
}

static const char *
run_dist_name(enum ycsb_dist d)
{
	return d == YCSB_DIST_UNIFORM ? "uniform"
	       : d == YCSB_DIST_ZIPFIAN
		   ? "hotspot (Zipfian 0.99, item 0 hottest)"
		   : "zipfian (YCSB scrambled Zipfian 0.99)";
}

static void
run_summary(struct run *r)
{
	printf("\nsummary (keys %" PRIu64 ", pool %.2f MiB, %s):\n", r->nload,
	    (double)r->pool_bytes / 1048576.0, run_dist_name(r->cfg.dist));
	printf("%-4s %5s %4s %10s %9s %7s %7s %5s\n", "mix", "secs", "thr",
	    "ops", "ops/s", "p50 us", "p99 us", "cpu");
	for (int i = 0; i < r->nres; i++) {
		struct mix_res *x = &r->res[i];

		printf("%-4s %5.1f %4d %10" PRIu64
		       " %9.0f %7.1f %7.1f %4.0f%%\n",
		    x->mix->name, x->secs, r->cfg.threads, x->ops,
		    (double)x->ops / x->secs, lat_quantile(x->lat, 0.50),
		    lat_quantile(x->lat, 0.99), x->cpu * 100);
	}
	printf("\n%-4s %9s %9s %10s %9s %9s %6s %7s\n", "mix", "loads",
	    "reclaims", "writebacks", "reads", "writes", "syncs", "enomem");
	for (int i = 0; i < r->nres; i++) {
		struct mix_res *x = &r->res[i];
		struct hl_mount_stats *a = &x->ms0, *b = &x->ms1;

		printf("%-4s %9" PRIu64 " %9" PRIu64 " %10" PRIu64 " %9" PRIu64
		       " %9" PRIu64 " %6" PRIu64 " %7" PRIu64 "\n",
		    x->mix->name, b->buffer_loads - a->buffer_loads,
		    b->reclaims - a->reclaims, b->writebacks - a->writebacks,
		    b->reads - a->reads, b->writes - a->writes, x->syncs,
		    x->enomem);
	}
	printf("\n%-4s %8s %8s %9s %9s %8s %8s\n", "mix", "splits", "removals",
	    "restarts", "upgr-dl", "allocs", "frees");
	for (int i = 0; i < r->nres; i++) {
		struct mix_res *x = &r->res[i];
		struct hl_btree_stats *a = &x->bs0, *b = &x->bs1;

		printf("%-4s %8" PRIu64 " %8" PRIu64 " %9" PRIu64 " %9" PRIu64
		       " %8" PRIu64 " %8" PRIu64 "\n",
		    x->mix->name, b->splits - a->splits,
		    b->removals - a->removals, b->restarts - a->restarts,
		    b->upgrade_deadlocks - a->upgrade_deadlocks,
		    b->allocs - a->allocs, b->frees - a->frees);
	}
	printf("\n");
	for (int i = 0; i < r->nres; i++) {
		struct mix_res *x = &r->res[i];
		const char *sep = "";

		printf("%s:", x->mix->name);
		for (int op = 0; op < YCSB_NOPS; op++) {
			if (x->nop[op] == 0)
				continue;
			printf("%s %s %" PRIu64, sep,
			    ycsb_op_name((enum ycsb_op)op), x->nop[op]);
			sep = ",";
		}
		if (x->nop[YCSB_OP_SCAN] + x->nop[YCSB_OP_DELRANGE] > 0)
			printf(" (%.1f keys a scan)",
			    (double)x->scanned /
				(double)(x->nop[YCSB_OP_SCAN] +
					 x->nop[YCSB_OP_DELRANGE]));
		if (x->sync_enomem > 0)
			printf("; %" PRIu64
			       " syncs found the pool full (ENOMEM)",
			    x->sync_enomem);
		if (x->insert_full > 0)
			printf("; %" PRIu64 " inserts found no room and "
			       "updated",
			    x->insert_full);
		printf("\n");
	}
}

/* --- the command ---------------------------------------------------------- */

static int
run_parse_mixes(struct run_cfg *cfg, const char *arg)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf))
		return EINVAL;
	strcpy(buf, arg);
	cfg->nmixes = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		const struct ycsb_mix *m = ycsb_mix_find(tok);

		if (m == NULL || cfg->nmixes >= RUN_MAXMIXES)
			return EINVAL;
		cfg->mixes[cfg->nmixes++] = m;
	}
	return cfg->nmixes > 0 ? 0 : EINVAL;
}

static int
run_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
		return EINVAL;
	*out = v;
	return 0;
}

/* Parse the options into r->cfg; returns -1 to go on, else an exit. */
static int
run_options(struct run *r, int argc, char **argv)
{
	enum { O_SEED = 256, O_SYNC, O_INSERTS, O_KEEP };
	static const struct option longopts[] = {
	    {"keys", required_argument, NULL, 'k'},
	    {"seconds", required_argument, NULL, 's'},
	    {"threads", required_argument, NULL, 't'},
	    {"mix", required_argument, NULL, 'x'},
	    {"pool-mb", required_argument, NULL, 'p'},
	    {"dist", required_argument, NULL, 'd'},
	    {"seed", required_argument, NULL, O_SEED},
	    {"sync-ms", required_argument, NULL, O_SYNC},
	    {"inserts", required_argument, NULL, O_INSERTS},
	    {"mount", no_argument, NULL, 'm'},
	    {"load", no_argument, NULL, 'l'},
	    {"keep", no_argument, NULL, O_KEEP},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct run_cfg *cfg = &r->cfg;
	bool seed_set = false;
	uint64_t v;
	double d;
	int c;

	cfg->keys = 1000000;
	cfg->seconds = 10;
	cfg->threads = 2;
	cfg->mixes[0] = ycsb_mix_find("A");
	cfg->nmixes = 1;
	cfg->dist = YCSB_DIST_SCRAMBLED;
	cfg->sync_ms = 1000;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(
		    argc, argv, ":k:s:t:x:p:d:mlqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (hl_cli_parse_size(optarg, &v) != 0 || v == 0 ||
			    v > (1ULL << 40))
				goto bad;
			cfg->keys = v;
			break;
		case 's':
			if (run_parse_double(optarg, 0.001, 1e7, &d) != 0)
				goto bad;
			cfg->seconds = d;
			break;
		case 't':
			if (hl_cli_parse_u64(optarg, &v) != 0 || v < 1 ||
			    v > RUN_MAXTHREADS)
				goto bad;
			cfg->threads = (int)v;
			break;
		case 'x':
			if (run_parse_mixes(cfg, optarg) != 0)
				goto bad;
			break;
		case 'p':
			if (run_parse_double(optarg, 1.0 / 64, 1 << 20, &d) !=
			    0)
				goto bad;
			cfg->pool_bytes = (uint64_t)(d * 1048576.0);
			break;
		case 'd':
			if (strcmp(optarg, "zipfian") == 0)
				cfg->dist = YCSB_DIST_SCRAMBLED;
			else if (strcmp(optarg, "hotspot") == 0)
				cfg->dist = YCSB_DIST_ZIPFIAN;
			else if (strcmp(optarg, "uniform") == 0)
				cfg->dist = YCSB_DIST_UNIFORM;
			else
				goto bad;
			break;
		case O_SEED:
			if (hl_cli_parse_u64(optarg, &cfg->seed) != 0)
				goto bad;
			seed_set = true;
			break;
		case O_SYNC:
			if (hl_cli_parse_u64(optarg, &v) != 0 || v > 3600000)
				goto bad;
			cfg->sync_ms = (uint32_t)v;
			break;
		case O_INSERTS:
			if (hl_cli_parse_size(optarg, &v) != 0 ||
			    v > (1ULL << 40))
				goto bad;
			cfg->inserts = v;
			cfg->inserts_set = true;
			break;
		case 'm':
			cfg->mount = true;
			break;
		case 'l':
			cfg->load = true;
			break;
		case O_KEEP:
			cfg->keep = true;
			break;
		case 'q':
			cfg->quiet = true;
			break;
		case 'h':
			hl_cli_run_usage(stdout);
			return HL_EXIT_OK;
		case ':':
			hl_cli_err(
			    "run", "option %s needs a value", argv[optind - 1]);
			return HL_EXIT_UNUSABLE;
		default:
			if (optopt != 0)
				hl_cli_err("run",
				    "unknown option '-%c' (try 'hammerlock run "
				    "--help')",
				    optopt);
			else
				hl_cli_err("run",
				    "unknown option '%s' (try 'hammerlock run "
				    "--help')",
				    argv[optind - 1]);
			return HL_EXIT_UNUSABLE;
		}
	}
	if (!seed_set)
		cfg->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (!cfg->inserts_set) {
		cfg->inserts = cfg->keys / 2;
		if (cfg->inserts < 65536)
			cfg->inserts = 65536;
	}
	if (!cfg->mount)
		cfg->load = true;
	return -1;
bad:
	for (const struct option *o = longopts; o->name != NULL; o++)
		if (o->val == c)
			hl_cli_err("run",
			    "bad value '%s' for --%s (try 'hammerlock run "
			    "--help')",
			    optarg, o->name);
	return HL_EXIT_UNUSABLE;
}

/*
 * --mount: check the tree before anything else, and size the pool from
 * its nodes (plus those the load will add).
 */
static int
run_precheck(struct run *r)
{
	struct hl_btree_shape sh;
	int error;

	if ((error = run_mount(r, r->cfg.pool_bytes)) != 0)
		return HL_EXIT_UNUSABLE;
	error = run_check(r, "before the run", UINT64_MAX, &sh);
	run_unmount(r, false, "before the run");
	if (error != 0 || atomic_load(&r->nfail) != 0)
		return HL_EXIT_DAMAGED;
	r->tree_est =
	    (double)(sh.internal + sh.leaves +
		     (r->cfg.load ? run_tree_nodes(r->cfg.keys) : 0)) *
	    HL_NODE_SIZE_DEFAULT;
	return -1;
}

static void
run_free(struct run *r)
{
	if (r->th != NULL)
		for (int i = 0; i < r->cfg.threads; i++) {
			free(r->th[i].sk);
			free(r->th[i].sv);
		}
	free(r->th);
	free(r->keys);
	free(r->vals);
	free(r->present);
	free(r->stable);
	free(r->loadmap);
	free(r->index);
	for (int i = 0; i < RUN_NSHARDS; i++)
		pthread_mutex_destroy(&r->shard[i]);
	pthread_mutex_destroy(&r->fail_mtx);
	free(r);
}

static int
run_alloc_threads(struct run *r)
{
	uint32_t smax = 1;

	for (size_t i = 0; i < ycsb_nmixes; i++)
		if (ycsb_mixes[i].scan_max > smax)
			smax = ycsb_mixes[i].scan_max;
	r->th = calloc((size_t)r->cfg.threads, sizeof(*r->th));
	if (r->th == NULL)
		return ENOMEM;
	for (int i = 0; i < r->cfg.threads; i++) {
		r->th[i].r = r;
		r->th[i].id = i;
		r->th[i].sk = calloc(smax, sizeof(uint64_t));
		r->th[i].sv = calloc(smax, sizeof(uint64_t));
		if (r->th[i].sk == NULL || r->th[i].sv == NULL)
			return ENOMEM;
	}
	r->mainth.r = r;
	r->mainth.id = -1;
	return 0;
}

int
hl_cli_run(int argc, char **argv)
{
	struct sigaction sa, old_int, old_term;
	struct hl_btree_shape sh;
	uint64_t *ek = NULL, *ev = NULL, ne = 0, present = 0, load_pool;
	struct run *r;
	double t0 = run_now();
	int rc, nfiles, error;
	bool sigset = false;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		hl_cli_err("run", "out of memory");
		return HL_EXIT_UNUSABLE;
	}
	for (int i = 0; i < RUN_NSHARDS; i++)
		pthread_mutex_init(&r->shard[i], NULL);
	pthread_mutex_init(&r->fail_mtx, NULL);
	if ((rc = run_options(r, argc, argv)) >= 0) {
		run_free(r);
		return rc;
	}
	rc = HL_EXIT_UNUSABLE;
	nfiles = argc - optind;
	if (r->cfg.mount && (nfiles < 1 || nfiles > HL_MAX_VOLUMES)) {
		hl_cli_err(
		    "run", "--mount needs the volume files of the mount");
		goto out;
	}
	if (!r->cfg.mount && nfiles > 0) {
		hl_cli_err("run",
		    "volume files given without --mount (they are used in "
		    "place: add --mount)");
		goto out;
	}
	r->tty = isatty(STDERR_FILENO);
	r->ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (r->ncpu < 1)
		r->ncpu = 1;
	r->nload = r->cfg.load ? r->cfg.keys : 0;
	printf("hammerlock run: %s, %" PRIu64 " keys to load, %d threads, "
	       "%.1f s per mix, seed %" PRIu64 "\n",
	    r->cfg.mount ? "existing mount" : "temporary mount of 2 volumes",
	    r->nload, r->cfg.threads, r->cfg.seconds, r->cfg.seed);
	fflush(stdout);
	if (r->cfg.mount) {
		r->paths = (const char *const *)(argv + optind);
		r->nvol = nfiles;
		if ((rc = run_precheck(r)) >= 0)
			goto out;
		rc = HL_EXIT_UNUSABLE;
	} else {
		if (run_setup_temp(r) != 0)
			goto out;
		r->tree_est =
		    (double)run_tree_nodes(r->cfg.keys) * HL_NODE_SIZE_DEFAULT;
	}
	r->pool_bytes = r->cfg.pool_bytes;
	if (r->pool_bytes == 0) {
		r->pool_bytes = (uint64_t)(r->tree_est / 10);
		if (r->pool_bytes < RUN_POOL_FLOOR)
			r->pool_bytes = RUN_POOL_FLOOR;
	}
	r->pool_bytes = (r->pool_bytes + HL_BUFFER_SIZE_DEFAULT - 1) /
			HL_BUFFER_SIZE_DEFAULT * HL_BUFFER_SIZE_DEFAULT;
	printf("chooser %s; pool %.2f MiB%s (tree about %.1f MiB)\n",
	    run_dist_name(r->cfg.dist), (double)r->pool_bytes / 1048576.0,
	    r->cfg.pool_bytes ? "" : " (10% of the tree, at least 2 MiB)",
	    r->tree_est / 1048576.0);
	fflush(stdout);
	/* The load gets a pool that holds the tree (then sync and mount
	 * again with the workload's): filling a tree through a small pool
	 * is slow, and not what the run measures. */
	load_pool = r->pool_bytes;
	if (r->nload > 0 && r->tree_est * 1.5 > (double)load_pool) {
		load_pool = (uint64_t)(r->tree_est * 1.5);
		if (load_pool > RUN_LOAD_POOL)
			load_pool = RUN_LOAD_POOL;
		if (load_pool < r->pool_bytes)
			load_pool = r->pool_bytes;
	}
	if (run_mount(r, load_pool) != 0)
		goto out;
	if (r->cfg.mount) {
		error = run_scan_existing(r, &ek, &ev, &ne);
		if (error != 0) {
			rc = error == EIO ? HL_EXIT_DAMAGED : HL_EXIT_UNUSABLE;
			goto out;
		}
		printf("the tree holds %" PRIu64 " keys\n", ne);
	}
	error = run_build_items(r, ek, ev, ne);
	free(ek);
	free(ev);
	if (error == 0)
		error = run_alloc_threads(r);
	if (error != 0) {
		if (error == ENOMEM)
			hl_cli_err("run", "out of memory");
		goto out;
	}
	if (r->ninit == 0) {
		hl_cli_err("run", "the tree is empty: nothing to run on "
				  "(--load puts keys in it)");
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = run_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigset = true;
	if (r->nload > 0)
		run_load(r);
	if (atomic_load(&r->nospace)) {
		hl_cli_err("run",
		    "the volumes are full after %" PRIu64 " of the %" PRIu64
		    " keys to load",
		    run_ops(r), r->nload);
		goto out;
	}
	if (load_pool != r->pool_bytes) {
		double t1 = run_now();

		run_unmount(r, true, "after the load");
		if (run_mount(r, r->pool_bytes) != 0) {
			run_fail(r, "the loaded volumes do not mount again");
			goto done;
		}
		printf("load pool %.1f MiB; sync, unmount and mount with the "
		       "run's pool: %.1f s\n",
		    (double)load_pool / 1048576.0, run_now() - t1);
	}
	for (int i = 0; i < r->cfg.nmixes && !run_signalled; i++) {
		if (atomic_load(&r->nfail) != 0)
			break; /* the report is what matters now */
		run_mix(r, i);
	}
	if (run_signalled)
		printf("interrupted: checking what was done\n");
	run_verify(r, "live");
	run_unmount(r, true, "sync and unmount");
	if (run_mount(r, r->pool_bytes) != 0) {
		run_fail(r, "the synced volumes do not mount again");
		goto done;
	}
	run_verify(r, "after remount");
	for (uint64_t i = 0; i < r->ntotal; i++)
		present += r->present[i];
	run_check(r, "after remount", present, &sh);
	run_unmount(r, false, "final unmount");
done:
	if (r->nres > 0)
		run_summary(r);
	printf("\n");
	if (atomic_load(&r->nfail) == 0) {
		printf("result: ok, every check passed (%.1f s in all)\n",
		    run_now() - t0);
		rc = HL_EXIT_OK;
	} else {
		printf("result: FAILED, %" PRIu64 " mismatches or errors "
		       "(seed %" PRIu64 ")\n",
		    atomic_load(&r->nfail), r->cfg.seed);
		rc = HL_EXIT_DAMAGED;
	}
out:
	if (sigset) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	fflush(stdout);
	if (r->m != NULL) {
		/* Leave an existing mount consistent: what was done is
		 * synced. */
		if (r->bt != NULL && r->cfg.mount)
			run_unmount(r, true, "unmount");
		if (r->bt != NULL)
			hl_btree_close(r->bt);
		if (r->m != NULL)
			hl_mount_close(r->m, NULL, 0);
	}
	if (rc != HL_EXIT_DAMAGED || r->cfg.keep)
		run_cleanup_temp(r);
	else if (r->tmpdir[0] != '\0')
		printf("volumes kept for inspection: %s %s\n", r->tmppath[0],
		    r->tmppath[1]);
	run_free(r);
	return rc;
}
