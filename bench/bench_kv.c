/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_kv.c - hammerlock's B-tree against LMDB and SQLite on the YCSB
 * core mixes A, B, C and E, with the same keys and the same operations,
 * in one program, on the same machine, with the runs of the engines
 * interleaved so that their ratios are same-run ratios.
 *
 * Engines (u64 key, u64 value; no sync per operation, one sync at the
 * end of each measurement, outside the timed part):
 *
 *   hammerlock  hl_btree_* on a temporary 2-volume mount; its pool holds
 *               the tree (memory case "in") or 10% of it ("out");
 *   lmdb        LMDB, MDB_NOSYNC, one write transaction per update;
 *   lmdb-wm     LMDB, MDB_WRITEMAP | MDB_NOSYNC (writes go to the map,
 *               no system call per write);
 *   sqlite      SQLite, WAL, synchronous=OFF, kv(k INTEGER PRIMARY KEY,
 *               v INTEGER), one connection per thread, prepared
 *               statements; its page cache holds the database ("in") or
 *               10% of it ("out").
 *
 * The workload comes from tools/ycsb (scrambled Zipfian, theta 0.99):
 * every thread of every engine gets a generator forked with the same
 * seed and stream for the same (run, mix, thread count, thread), so all
 * engines see the same operation sequence.  Reads, updates and scans
 * draw among the loaded items; the inserts of E add new items, thread t
 * of T taking items keys + k * T + t for its k-th insert, and are
 * deleted again after the measurement (untimed), so that every
 * measurement starts from the same key set.
 *
 * A benchmark, not a test: it prints a markdown report on stdout and
 * progress on stderr, and exits 0; 2 on a usage error, 1 when it cannot
 * set up or an engine fails (a failed call, a sync, an unmount that finds
 * a leaked reference).  A read that misses, an operation error or keys
 * left over at the end are reported as BENCH-WARNING lines.  See
 * bench/README.md, section "bench_kv".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sqlite3.h>

#include <hammerlock.h>
#include <hammerlock/btree.h>

#include "ycsb.h"

#define KV_DEF_KEYS   1000000
#define KV_DEF_SECS   2.0
#define KV_DEF_RUNS   5
#define KV_DEF_WARMUP 1.0
#define KV_DEF_SEED   42
#define KV_DEF_BUFSZ  4096u /* hammerlock: the competitors' page size */
#define KV_MAXTHR     8	    /* worker threads */
#define KV_MAXTL      4	    /* entries of --threads */
#define KV_MAXMIX     6	    /* entries of --mixes */
#define KV_NENG	      4	    /* engines */
#define KV_NMEM	      2	    /* memory cases */
#define KV_MAXRUNS    99
#define KV_ROOM_MIN   262144 /* insert room per measurement, at least */
#define KV_ENOMEM_TRY 100000 /* hammerlock ENOMEM retries: 10 s */
#define KV_POOL_FLOOR (2ULL << 20)
#define KV_BUSY_SPINS 64     /* SQLite busy handler: yields, then naps */
#define KV_BUSY_MAX   200000 /* ... about 10 s of 50 us naps */
#define KV_LOAD_BATCH 65536  /* LMDB/SQLite puts per load transaction */
#define KV_SIGN	      (1ULL << 63)
#define KV_VAL_MUL    0x9E3779B97F4A7C15ULL

enum { ENG_HL, ENG_LMDB, ENG_LMDB_WM, ENG_SQLITE };
enum { MEM_IN, MEM_OUT };

static const char *const eng_names[KV_NENG] = {
    "hammerlock", "lmdb", "lmdb-wm", "sqlite"};
static const char *const mem_names[KV_NMEM] = {"in", "out"};
static const char *const mem_long[KV_NMEM] = {"in memory", "out of memory"};

struct eng;

/* One thread's handles on an engine (used by one thread at a time). */
struct slot {
	struct eng *e;
	struct hl_btree_cursor *cur; /* hammerlock */
	MDB_txn *rtxn;		     /* lmdb: reset read transaction */
	MDB_cursor *rcur;
	sqlite3 *db; /* sqlite: this thread's connection */
	sqlite3_stmt *st_get, *st_upd, *st_ins, *st_scan, *st_del;
	uint64_t enomem, busy; /* cumulative */
} __attribute__((aligned(128)));

/* Cumulative counters of an engine's cache (0 where it has none). */
struct eng_counts {
	uint64_t loads;	     /* hammerlock: buffer loads; sqlite: misses */
	uint64_t reclaims;   /* hammerlock: buffers the pool reclaimed */
	uint64_t writebacks; /* hammerlock: modified buffers it wrote */
	uint64_t syncs;	     /* hammerlock: fdatasync calls */
};

struct eng_ops {
	int (*setup)(struct eng *e);
	int (*memcase)(struct eng *e, int mem);
	/* Optional: before each measurement with nthr threads. */
	int (*threads)(struct eng *e, int nthr);
	int (*get)(struct slot *s, uint64_t key, uint64_t *valp);
	int (*put)(struct slot *s, uint64_t key, uint64_t val, bool insert);
	int (*scan)(struct slot *s, uint64_t key, uint32_t len, uint64_t *sum,
	    uint32_t *np);
	int (*batch)(struct eng *e, const uint64_t *keys, size_t n, bool del);
	int (*sync)(struct eng *e);
	int (*count)(struct eng *e, uint64_t *np);
	void (*stats)(struct eng *e, struct eng_counts *c);
	void (*teardown)(struct eng *e);
};

struct bench;

struct eng {
	int id;
	const char *name;
	const struct eng_ops *ops;
	struct bench *b;
	struct slot slot[KV_MAXTHR];
	bool loaded;
	char info[256]; /* size and cache, for the report */

	/* hammerlock */
	char vol[2][PATH_MAX];
	const char *volp[2];
	struct hl_mount *m;
	struct hl_btree *bt;
	uint64_t pool, tree_bytes;

	/* lmdb */
	char lpath[PATH_MAX];
	MDB_env *env;
	MDB_dbi dbi;
	unsigned lflags;

	/* sqlite */
	char spath[PATH_MAX];
	uint64_t db_bytes;
	int64_t sq_kib; /* the page cache budget of the memory case */
	int sq_mem;	/* which memory case */
};

/* One measurement. */
struct sample {
	double ops_s, cpu, loads_s, reclaims_s, wb_s, syncs_s, sync_s;
	uint64_t ops, misses, errors, enomem, busy, inserted, insert_full;
};

struct bench {
	uint64_t keys, room, seed;
	bool wb_sync;	/* hammerlock: fdatasync at pool write-back */
	uint32_t bufsz; /* hammerlock: buffer size at newfs */
	bool sq_each;	/* sqlite: each connection gets the whole budget */
	double secs, warmup;
	int runs;
	int thr[KV_MAXTL], nthr, maxthr;
	const struct ycsb_mix *mix[KV_MAXMIX];
	int nmix;
	int mem[KV_NMEM], nmem;
	struct eng *eng[KV_NENG];
	int neng;
	bool use[KV_NENG];
	char dir[PATH_MAX - 64];
	const char *dirbase, *datafile;
	long ncpu;
	struct sample *res; /* [mem][mix][thr][eng][run] */
	uint64_t nwarn;
	double t_start;
	int done, total;
};

/* A worker thread. */
struct worker {
	struct bench *b;
	struct slot *s;
	const struct ycsb_mix *mix;
	struct ycsb_gen gen;
	pthread_t tid;
	pthread_barrier_t *bar;
	int id, nthr;
	uint64_t ops, misses, errors, inserted, insert_full, sum;
} __attribute__((aligned(128)));

static _Atomic bool kv_stop;
static volatile sig_atomic_t kv_interrupted;

/* --- small helpers -------------------------------------------------------- */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
cpu_secs(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static void
nap_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

static void kv_warn(struct bench *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
kv_warn(struct bench *b, const char *fmt, ...)
{
	va_list ap;

	b->nwarn++;
	fprintf(stderr, "BENCH-WARNING: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of n values (n >= 1), and their min and max. */
static double
median(const double *v, int n, double *minp, double *maxp)
{
	double t[KV_MAXRUNS];

	memcpy(t, v, (size_t)n * sizeof(*v));
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	if (minp != NULL)
		*minp = t[0];
	if (maxp != NULL)
		*maxp = t[n - 1];
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static uint64_t
round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static uint64_t
val_of(uint64_t key, uint64_t n)
{
	return key * KV_VAL_MUL + n;
}

/* SQLite's keys: u64 with the top bit flipped, so that the order of the
 * signed INTEGER PRIMARY KEY is the order of the u64 keys. */
static sqlite3_int64
sq_key(uint64_t key)
{
	return (sqlite3_int64)(key ^ KV_SIGN);
}

static int
fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY), error = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : errno;
	if (fdatasync(fd) != 0)
		error = errno;
	close(fd);
	return error;
}

/* --- hammerlock ----------------------------------------------------------- */

/* Nodes of a tree of n keys with half-full nodes, and some spare. */
static uint64_t
hl_nodes_for(uint64_t n)
{
	uint64_t leaves = n / (HL_NODE_MAX_ELMS(HL_NODE_SIZE_DEFAULT) / 2) + 1;

	return leaves + leaves / 31 + 1024;
}

static int
hl_do_mount(struct eng *e, uint64_t pool)
{
	/* The same durability as the others: no sync before the end, so
	 * the pool's write-back does not fdatasync (--wb-sync: it does). */
	struct hl_mount_opts mo = {
	    .pool_bytes = pool, .writeback_nosync = !e->b->wb_sync};
	char why[1024];
	int error, i;

	error = hl_mount_open(e->volp, 2, &mo, &e->m, why, sizeof(why));
	if (error != 0) {
		fprintf(stderr, "bench_kv: hammerlock mount: %s\n", why);
		e->m = NULL;
		return error;
	}
	if ((error = hl_btree_open(e->m, &e->bt)) != 0) {
		fprintf(
		    stderr, "bench_kv: hl_btree_open: %s\n", strerror(error));
		hl_mount_close(e->m, NULL, 0);
		e->m = NULL;
		return error;
	}
	for (i = 0; i < e->b->maxthr; i++) {
		error = hl_btree_cursor_open(e->bt, &e->slot[i].cur);
		if (error != 0) {
			fprintf(stderr, "bench_kv: hl_btree_cursor_open: %s\n",
			    strerror(error));
			return error;
		}
	}
	e->pool = pool;
	return 0;
}

static int
hl_do_unmount(struct eng *e)
{
	char why[1024];
	int error, i;

	if (e->m == NULL)
		return 0;
	for (i = 0; i < KV_MAXTHR; i++)
		if (e->slot[i].cur != NULL) {
			hl_btree_cursor_close(e->slot[i].cur);
			e->slot[i].cur = NULL;
		}
	hl_btree_close(e->bt);
	e->bt = NULL;
	error = hl_mount_close(e->m, why, sizeof(why));
	e->m = NULL;
	if (error != 0)
		fprintf(stderr, "bench_kv: hammerlock unmount: %s (%s)\n",
		    strerror(error), why);
	return error;
}

static int
hl_sync(struct eng *e)
{
	char why[512];
	int error;

	error = hl_btree_sync(e->bt, why, sizeof(why));
	if (error != 0)
		fprintf(stderr, "bench_kv: hl_btree_sync: %s (%s)\n",
		    strerror(error), why);
	return error;
}

/* The tree's bytes, from its shape (quiescent tree). */
static int
hl_measure(struct eng *e, struct hl_btree_shape *sh)
{
	uint64_t nprob = 0;
	int error;

	error = hl_btree_check(e->bt, sh, NULL, NULL, &nprob);
	if (error != 0) {
		fprintf(
		    stderr, "bench_kv: hl_btree_check: %s\n", strerror(error));
		return error;
	}
	if (nprob != 0)
		kv_warn(e->b,
		    "hammerlock: hl_btree_check found %" PRIu64 " problems",
		    nprob);
	e->tree_bytes =
	    (sh->internal + sh->leaves) * (uint64_t)hl_mount_node_size(e->m);
	return 0;
}

static int
hl_setup(struct eng *e)
{
	struct bench *b = e->b;
	struct hl_newfs_opts o = {0};
	struct hl_btree_shape sh;
	uint64_t nodes, per, pool;
	char why[512];
	int error;

	for (int i = 0; i < 2; i++) {
		snprintf(e->vol[i], sizeof(e->vol[i]), "%s/hl%d", b->dir, i);
		e->volp[i] = e->vol[i];
	}
	/* Sparse volumes, generously sized: the inserts of E split leaves
	 * that their deletes leave half full. */
	nodes = hl_nodes_for(b->keys + b->room);
	per = nodes / 2 + 64;
	per += per / ((HL_NODE_SIZE_DEFAULT - HL_NODE_HDR_SIZE) * 8) + 1;
	o.buffer_size = b->bufsz;
	o.vol_size = round_up(b->bufsz + per * HL_NODE_SIZE_DEFAULT, b->bufsz);
	if ((error = hl_newfs(e->volp, 2, &o, why, sizeof(why))) != 0) {
		fprintf(stderr, "bench_kv: hl_newfs: %s\n", why);
		return error;
	}
	/* The load's pool holds the whole tree. */
	pool = hl_nodes_for(b->keys) * 2 * HL_NODE_SIZE_DEFAULT + (64u << 20);
	if ((error = hl_do_mount(e, pool)) != 0)
		return error;
	if ((error = e->ops->batch(e, NULL, 0, false)) != 0)
		return error;
	if ((error = hl_sync(e)) != 0 || (error = hl_measure(e, &sh)) != 0)
		return error;
	if (sh.keys != b->keys)
		kv_warn(b,
		    "hammerlock: %" PRIu64 " keys after the load, not %" PRIu64,
		    sh.keys, b->keys);
	return 0;
}

/* Remount with the memory case's pool: the tree (as it is now) twice
 * over plus 16 MiB, or 10% of it (at least 1 MiB). */
static int
hl_memcase(struct eng *e, int mem)
{
	struct hl_btree_shape sh;
	uint64_t pool;
	int error;

	if ((error = hl_sync(e)) != 0 || (error = hl_measure(e, &sh)) != 0)
		return error;
	if (mem == MEM_IN)
		pool = e->tree_bytes * 2 + (16u << 20);
	else {
		pool = e->tree_bytes / 10;
		if (pool < KV_POOL_FLOOR)
			pool = KV_POOL_FLOOR;
	}
	pool = round_up(pool, e->b->bufsz);
	if ((error = hl_do_unmount(e)) != 0 ||
	    (error = hl_do_mount(e, pool)) != 0)
		return error;
	snprintf(e->info, sizeof(e->info),
	    "tree %.1f MiB (%" PRIu64 " internal + %" PRIu64
	    " leaves of %u bytes, depth %" PRIu32
	    "), buffers of %u bytes, pool %.2f MiB%s",
	    (double)e->tree_bytes / 1048576.0, sh.internal, sh.leaves,
	    hl_mount_node_size(e->m), sh.depth, e->b->bufsz,
	    (double)pool / 1048576.0,
	    mem == MEM_OUT && pool >= e->tree_bytes
		? " (its 1 MiB floor holds the tree: not out of memory)"
		: "");
	return 0;
}

static int
hl_get(struct slot *s, uint64_t key, uint64_t *valp)
{
	int error, tries = 0;

	while ((error = hl_btree_get(s->e->bt, key, valp)) == ENOMEM &&
	       tries++ < KV_ENOMEM_TRY) {
		s->enomem++;
		nap_us(100);
	}
	return error;
}

static int
hl_put(struct slot *s, uint64_t key, uint64_t val, bool insert)
{
	int error, tries = 0;

	(void)insert;
	while ((error = hl_btree_put(s->e->bt, key, val)) == ENOMEM &&
	       tries++ < KV_ENOMEM_TRY) {
		s->enomem++;
		nap_us(100);
	}
	return error;
}

static int
hl_del(struct slot *s, uint64_t key)
{
	int error, tries = 0;

	while ((error = hl_btree_del(s->e->bt, key)) == ENOMEM &&
	       tries++ < KV_ENOMEM_TRY) {
		s->enomem++;
		nap_us(100);
	}
	return error;
}

static int
hl_scan(struct slot *s, uint64_t key, uint32_t len, uint64_t *sum, uint32_t *np)
{
	uint64_t k, v;
	uint32_t n = 0;
	int error, tries = 0;

	while ((error = hl_btree_seek(s->cur, key, &k, &v)) == ENOMEM &&
	       tries++ < KV_ENOMEM_TRY) {
		s->enomem++;
		nap_us(100);
	}
	while (error == 0) {
		*sum += v;
		if (++n == len)
			break;
		tries = 0;
		while ((error = hl_btree_next(s->cur, &k, &v)) == ENOMEM &&
		       tries++ < KV_ENOMEM_TRY) {
			s->enomem++;
			nap_us(100);
		}
	}
	*np = n;
	return error == ENOENT ? 0 : error;
}

/* Put (or delete) keys from the main thread; keys NULL: load 0..keys-1. */
static int
hl_batch(struct eng *e, const uint64_t *keys, size_t n, bool del)
{
	struct slot *s = &e->slot[0];
	int error = 0;

	if (keys == NULL) {
		for (uint64_t i = 0; i < e->b->keys && error == 0; i++) {
			uint64_t k = ycsb_key(i);

			error = hl_put(s, k, val_of(k, 0), true);
		}
	} else {
		for (size_t i = 0; i < n && error == 0; i++)
			error =
			    del ? hl_del(s, keys[i])
				: hl_put(s, keys[i], val_of(keys[i], 0), true);
	}
	if (error != 0)
		fprintf(stderr, "bench_kv: hammerlock %s: %s\n",
		    del ? "delete" : "put", strerror(error));
	return error;
}

static int
hl_count(struct eng *e, uint64_t *np)
{
	struct hl_btree_shape sh;
	int error;

	if ((error = hl_measure(e, &sh)) != 0)
		return error;
	*np = sh.keys;
	return 0;
}

static void
hl_stats(struct eng *e, struct eng_counts *c)
{
	struct hl_mount_stats st;

	hl_mount_stats(e->m, &st);
	c->loads = st.buffer_loads;
	c->reclaims = st.reclaims;
	c->writebacks = st.writebacks;
	c->syncs = st.syncs;
}

static void
hl_teardown(struct eng *e)
{
	hl_do_unmount(e);
	for (int i = 0; i < 2; i++)
		if (e->vol[i][0] != '\0')
			unlink(e->vol[i]);
}

static const struct eng_ops hl_ops = {
    .setup = hl_setup,
    .memcase = hl_memcase,
    .get = hl_get,
    .put = hl_put,
    .scan = hl_scan,
    .batch = hl_batch,
    .sync = hl_sync,
    .count = hl_count,
    .stats = hl_stats,
    .teardown = hl_teardown,
};

/* --- LMDB ----------------------------------------------------------------- */

static int
lm_err(const char *what, int rc)
{
	fprintf(stderr, "bench_kv: lmdb %s: %s\n", what, mdb_strerror(rc));
	return rc > 0 && rc < 1000 ? rc : EIO;
}

static int
lm_setup(struct eng *e)
{
	struct bench *b = e->b;
	MDB_txn *t;
	MDB_stat st;
	MDB_envinfo ei;
	size_t mapsize;
	int rc;

	snprintf(e->lpath, sizeof(e->lpath), "%s/%s", b->dir, e->name);
	if (mkdir(e->lpath, 0755) != 0)
		return errno;
	mapsize = (size_t)((b->keys + b->room) * 256 + (256u << 20));
	if ((rc = mdb_env_create(&e->env)) != 0)
		return lm_err("mdb_env_create", rc);
	if ((rc = mdb_env_set_mapsize(e->env, mapsize)) != 0 ||
	    (rc = mdb_env_set_maxreaders(e->env, KV_MAXTHR + 2)) != 0)
		return lm_err("mdb_env_set", rc);
	rc = mdb_env_open(e->env, e->lpath, e->lflags | MDB_NOTLS, 0644);
	if (rc != 0)
		return lm_err("mdb_env_open", rc);
	if ((rc = mdb_txn_begin(e->env, NULL, 0, &t)) != 0)
		return lm_err("mdb_txn_begin", rc);
	if ((rc = mdb_dbi_open(t, NULL, MDB_INTEGERKEY, &e->dbi)) != 0) {
		mdb_txn_abort(t);
		return lm_err("mdb_dbi_open", rc);
	}
	if ((rc = mdb_txn_commit(t)) != 0)
		return lm_err("mdb_txn_commit", rc);
	for (int i = 0; i < b->maxthr; i++) {
		struct slot *s = &e->slot[i];

		rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &s->rtxn);
		if (rc != 0)
			return lm_err("mdb_txn_begin (read)", rc);
		if ((rc = mdb_cursor_open(s->rtxn, e->dbi, &s->rcur)) != 0)
			return lm_err("mdb_cursor_open", rc);
		mdb_txn_reset(s->rtxn);
	}
	if ((rc = e->ops->batch(e, NULL, 0, false)) != 0)
		return rc;
	if ((rc = mdb_env_sync(e->env, 1)) != 0)
		return lm_err("mdb_env_sync", rc);
	mdb_env_stat(e->env, &st);
	mdb_env_info(e->env, &ei);
	snprintf(e->info, sizeof(e->info),
	    "%" PRIu64 " entries, %zu branch + %zu leaf pages of %u bytes "
	    "(depth %u), %.1f MiB used of the map; the OS page cache holds "
	    "it in both memory cases",
	    (uint64_t)st.ms_entries, st.ms_branch_pages, st.ms_leaf_pages,
	    st.ms_psize, st.ms_depth,
	    (double)(ei.me_last_pgno + 1) * st.ms_psize / 1048576.0);
	if (st.ms_entries != b->keys)
		kv_warn(b, "%s: %zu entries after the load, not %" PRIu64,
		    e->name, st.ms_entries, b->keys);
	return 0;
}

static int
lm_memcase(struct eng *e, int mem)
{
	/* No cache of its own: reads go to the map (the page cache). */
	(void)e;
	(void)mem;
	return 0;
}

static int
lm_get(struct slot *s, uint64_t key, uint64_t *valp)
{
	MDB_val k = {sizeof(key), &key}, d;
	int rc;

	if ((rc = mdb_txn_renew(s->rtxn)) != 0)
		return lm_err("mdb_txn_renew", rc);
	rc = mdb_get(s->rtxn, s->e->dbi, &k, &d);
	if (rc == 0 && d.mv_size == sizeof(*valp))
		memcpy(valp, d.mv_data, sizeof(*valp));
	mdb_txn_reset(s->rtxn);
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	return rc == 0 ? 0 : lm_err("mdb_get", rc);
}

static int
lm_put_txn(MDB_txn *t, MDB_dbi dbi, uint64_t key, uint64_t val)
{
	MDB_val k = {sizeof(key), &key}, d = {sizeof(val), &val};

	return mdb_put(t, dbi, &k, &d, 0);
}

static int
lm_put(struct slot *s, uint64_t key, uint64_t val, bool insert)
{
	MDB_txn *t;
	int rc;

	(void)insert;
	if ((rc = mdb_txn_begin(s->e->env, NULL, 0, &t)) != 0)
		return lm_err("mdb_txn_begin", rc);
	if ((rc = lm_put_txn(t, s->e->dbi, key, val)) != 0) {
		mdb_txn_abort(t);
		return lm_err("mdb_put", rc);
	}
	if ((rc = mdb_txn_commit(t)) != 0)
		return lm_err("mdb_txn_commit", rc);
	return 0;
}

static int
lm_scan(struct slot *s, uint64_t key, uint32_t len, uint64_t *sum, uint32_t *np)
{
	MDB_val k = {sizeof(key), &key}, d;
	uint64_t v;
	uint32_t n = 0;
	int rc;

	if ((rc = mdb_txn_renew(s->rtxn)) != 0)
		return lm_err("mdb_txn_renew", rc);
	if ((rc = mdb_cursor_renew(s->rtxn, s->rcur)) != 0) {
		mdb_txn_reset(s->rtxn);
		return lm_err("mdb_cursor_renew", rc);
	}
	rc = mdb_cursor_get(s->rcur, &k, &d, MDB_SET_RANGE);
	while (rc == 0) {
		memcpy(&v, d.mv_data, sizeof(v));
		*sum += v;
		if (++n == len)
			break;
		rc = mdb_cursor_get(s->rcur, &k, &d, MDB_NEXT);
	}
	mdb_txn_reset(s->rtxn);
	*np = n;
	if (rc == MDB_NOTFOUND)
		rc = 0;
	return rc == 0 ? 0 : lm_err("mdb_cursor_get", rc);
}

static int
lm_batch(struct eng *e, const uint64_t *keys, size_t n, bool del)
{
	uint64_t total = keys == NULL ? e->b->keys : n, i = 0;
	MDB_txn *t;
	int rc;

	while (i < total) {
		uint64_t end =
		    i + KV_LOAD_BATCH < total ? i + KV_LOAD_BATCH : total;

		if ((rc = mdb_txn_begin(e->env, NULL, 0, &t)) != 0)
			return lm_err("mdb_txn_begin", rc);
		for (; i < end; i++) {
			uint64_t k = keys == NULL ? ycsb_key(i) : keys[i];
			MDB_val kv = {sizeof(k), &k};

			rc = del ? mdb_del(t, e->dbi, &kv, NULL)
				 : lm_put_txn(t, e->dbi, k, val_of(k, 0));
			if (rc != 0) {
				mdb_txn_abort(t);
				return lm_err(del ? "mdb_del" : "mdb_put", rc);
			}
		}
		if ((rc = mdb_txn_commit(t)) != 0)
			return lm_err("mdb_txn_commit", rc);
	}
	return 0;
}

static int
lm_sync(struct eng *e)
{
	int rc = mdb_env_sync(e->env, 1);

	return rc == 0 ? 0 : lm_err("mdb_env_sync", rc);
}

static int
lm_count(struct eng *e, uint64_t *np)
{
	MDB_stat st;
	int rc = mdb_env_stat(e->env, &st);

	if (rc != 0)
		return lm_err("mdb_env_stat", rc);
	*np = st.ms_entries;
	return 0;
}

static void
lm_stats(struct eng *e, struct eng_counts *c)
{
	(void)e;
	memset(c, 0, sizeof(*c));
}

static void
lm_teardown(struct eng *e)
{
	char p[PATH_MAX + 16];

	for (int i = 0; i < KV_MAXTHR; i++) {
		struct slot *s = &e->slot[i];

		if (s->rcur != NULL)
			mdb_cursor_close(s->rcur);
		if (s->rtxn != NULL)
			mdb_txn_abort(s->rtxn);
		s->rcur = NULL;
		s->rtxn = NULL;
	}
	if (e->env != NULL)
		mdb_env_close(e->env);
	e->env = NULL;
	if (e->lpath[0] == '\0')
		return;
	snprintf(p, sizeof(p), "%s/data.mdb", e->lpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", e->lpath);
	unlink(p);
	rmdir(e->lpath);
}

static const struct eng_ops lm_ops = {
    .setup = lm_setup,
    .memcase = lm_memcase,
    .get = lm_get,
    .put = lm_put,
    .scan = lm_scan,
    .batch = lm_batch,
    .sync = lm_sync,
    .count = lm_count,
    .stats = lm_stats,
    .teardown = lm_teardown,
};

/* --- SQLite --------------------------------------------------------------- */

static int
sq_err(sqlite3 *db, const char *what, int rc)
{
	fprintf(stderr, "bench_kv: sqlite %s: %s (%d)\n", what,
	    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
	return rc == SQLITE_BUSY ? EBUSY : EIO;
}

/*
 * Concurrent writers: yield, then nap 50 us, for about 10 s.  Shorter
 * waits than busy_timeout's (1 ms and up), which would leave a vCPU idle.
 */
static int
sq_busy(void *arg, int count)
{
	struct slot *s = arg;

	s->busy++;
	if (count < KV_BUSY_SPINS)
		sched_yield();
	else
		nap_us(50);
	return count < KV_BUSY_MAX;
}

static int
sq_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		fprintf(stderr, "bench_kv: sqlite '%s': %s\n", sql,
		    msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return rc == SQLITE_BUSY ? EBUSY : EIO;
	}
	return 0;
}

/* One integer from a statement (a pragma). */
static int64_t
sq_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
sq_open_slot(struct eng *e, struct slot *s)
{
	static const struct {
		size_t off;
		const char *sql;
	} stmts[] = {
	    {offsetof(struct slot, st_get), "SELECT v FROM kv WHERE k = ?1"},
	    {offsetof(struct slot, st_upd),
		"UPDATE kv SET v = ?2 WHERE k = ?1"},
	    {offsetof(struct slot, st_ins),
		"INSERT INTO kv(k, v) VALUES (?1, ?2)"},
	    {offsetof(struct slot, st_scan),
		"SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2"},
	    {offsetof(struct slot, st_del), "DELETE FROM kv WHERE k = ?1"},
	};
	int rc, error;

	rc = sqlite3_open_v2(e->spath, &s->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (rc != SQLITE_OK)
		return sq_err(s->db, "open", rc);
	sqlite3_busy_handler(s->db, sq_busy, s);
	if ((error = sq_exec(s->db, "PRAGMA journal_mode = WAL")) != 0 ||
	    (error = sq_exec(s->db, "PRAGMA synchronous = OFF")) != 0 ||
	    (error = sq_exec(s->db, "CREATE TABLE IF NOT EXISTS "
				    "kv(k INTEGER PRIMARY KEY, v INTEGER)")) !=
		0)
		return error;
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		sqlite3_stmt **sp = (sqlite3_stmt **)((char *)s + stmts[i].off);

		rc = sqlite3_prepare_v3(s->db, stmts[i].sql, -1,
		    SQLITE_PREPARE_PERSISTENT, sp, NULL);
		if (rc != SQLITE_OK)
			return sq_err(s->db, "prepare", rc);
	}
	return 0;
}

static int
sq_setup(struct eng *e)
{
	struct bench *b = e->b;
	int error;

	if (sqlite3_threadsafe() == 0) {
		fprintf(stderr, "bench_kv: sqlite built without threads\n");
		return ENOTSUP;
	}
	snprintf(e->spath, sizeof(e->spath), "%s/sqlite.db", b->dir);
	for (int i = 0; i < b->maxthr; i++)
		if ((error = sq_open_slot(e, &e->slot[i])) != 0)
			return error;
	if ((error = sq_exec(e->slot[0].db, "PRAGMA cache_size = -262144")) !=
		0 ||
	    (error = e->ops->batch(e, NULL, 0, false)) != 0 ||
	    (error = e->ops->sync(e)) != 0)
		return error;
	return 0;
}

static int
sq_memcase(struct eng *e, int mem)
{
	struct bench *b = e->b;
	int64_t pages, psize, kib;
	char sql[128];
	int error;

	pages = sq_int(e->slot[0].db, "PRAGMA page_count");
	psize = sq_int(e->slot[0].db, "PRAGMA page_size");
	e->db_bytes = pages > 0 && psize > 0 ? (uint64_t)(pages * psize) : 0;
	kib = (int64_t)(e->db_bytes / 1024);
	kib = mem == MEM_IN ? kib * 2 + 16384 : kib / 10;
	if (kib < 64)
		kib = 64;
	e->sq_kib = kib;
	e->sq_mem = mem;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%" PRId64, kib);
	for (int i = 0; i < b->maxthr; i++)
		if ((error = sq_exec(e->slot[i].db, sql)) != 0)
			return error;
	snprintf(e->info, sizeof(e->info),
	    "database %.1f MiB (%" PRId64 " pages of %" PRId64
	    " bytes), page cache %.2f MiB%s",
	    (double)e->db_bytes / 1048576.0, pages, psize, (double)kib / 1024.0,
	    mem == MEM_IN || b->sq_each
		? " per connection"
		: " in all, divided among a run's connections");
	return 0;
}

/*
 * SQLite's page cache belongs to a connection, and there is one per
 * thread: out of memory, a run's connections share the memory case's
 * budget (as hammerlock's threads share its pool), unless --sqlite-cache
 * each gives every connection all of it.
 */
static int
sq_threads(struct eng *e, int nthr)
{
	int64_t kib = e->sq_kib;
	char sql[128];
	int error;

	if (e->sq_mem == MEM_OUT && !e->b->sq_each)
		kib /= nthr;
	if (kib < 64)
		kib = 64;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%" PRId64, kib);
	for (int i = 0; i < nthr; i++)
		if ((error = sq_exec(e->slot[i].db, sql)) != 0)
			return error;
	return 0;
}

static int
sq_get(struct slot *s, uint64_t key, uint64_t *valp)
{
	sqlite3_stmt *st = s->st_get;
	int rc, error = 0;

	sqlite3_bind_int64(st, 1, sq_key(key));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*valp = (uint64_t)sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		error = ENOENT;
	else
		error = sq_err(s->db, "select", rc);
	sqlite3_reset(st);
	return error;
}

static int
sq_put(struct slot *s, uint64_t key, uint64_t val, bool insert)
{
	sqlite3_stmt *st = insert ? s->st_ins : s->st_upd;
	int rc, error = 0;

	sqlite3_bind_int64(st, 1, sq_key(key));
	sqlite3_bind_int64(st, 2, (sqlite3_int64)val);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		error = sq_err(s->db, insert ? "insert" : "update", rc);
	else if (!insert && sqlite3_changes(s->db) != 1)
		error = ENOENT;
	sqlite3_reset(st);
	return error;
}

static int
sq_scan(struct slot *s, uint64_t key, uint32_t len, uint64_t *sum, uint32_t *np)
{
	sqlite3_stmt *st = s->st_scan;
	uint32_t n = 0;
	int rc, error = 0;

	sqlite3_bind_int64(st, 1, sq_key(key));
	sqlite3_bind_int64(st, 2, len);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*sum += (uint64_t)sqlite3_column_int64(st, 1);
		n++;
	}
	if (rc != SQLITE_DONE)
		error = sq_err(s->db, "scan", rc);
	sqlite3_reset(st);
	*np = n;
	return error;
}

static int
sq_batch(struct eng *e, const uint64_t *keys, size_t n, bool del)
{
	struct slot *s = &e->slot[0];
	uint64_t total = keys == NULL ? e->b->keys : n;
	int error;

	if ((error = sq_exec(s->db, "BEGIN")) != 0)
		return error;
	for (uint64_t i = 0; i < total && error == 0; i++) {
		uint64_t k = keys == NULL ? ycsb_key(i) : keys[i];
		sqlite3_stmt *st = del ? s->st_del : s->st_ins;
		int rc;

		sqlite3_bind_int64(st, 1, sq_key(k));
		if (!del)
			sqlite3_bind_int64(st, 2, (sqlite3_int64)val_of(k, 0));
		if ((rc = sqlite3_step(st)) != SQLITE_DONE)
			error = sq_err(s->db, del ? "delete" : "insert", rc);
		sqlite3_reset(st);
	}
	if (error != 0) {
		sq_exec(s->db, "ROLLBACK");
		return error;
	}
	return sq_exec(s->db, "COMMIT");
}

/* Copy the WAL into the database, empty it, and sync the files. */
static int
sq_sync(struct eng *e)
{
	char wal[PATH_MAX + 8];
	int error;

	error = sq_exec(e->slot[0].db, "PRAGMA wal_checkpoint(TRUNCATE)");
	if (error != 0)
		return error;
	snprintf(wal, sizeof(wal), "%s-wal", e->spath);
	if ((error = fsync_path(e->spath)) != 0 ||
	    (error = fsync_path(wal)) != 0)
		fprintf(stderr, "bench_kv: sqlite sync: %s\n", strerror(error));
	return error;
}

static int
sq_count(struct eng *e, uint64_t *np)
{
	int64_t n = sq_int(e->slot[0].db, "SELECT count(*) FROM kv");

	if (n < 0)
		return EIO;
	*np = (uint64_t)n;
	return 0;
}

/* Page cache misses of all the connections (loads); no reclaim count. */
static void
sq_stats(struct eng *e, struct eng_counts *c)
{
	int cur, hi;

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < e->b->maxthr; i++) {
		if (e->slot[i].db == NULL)
			continue;
		sqlite3_db_status(
		    e->slot[i].db, SQLITE_DBSTATUS_CACHE_MISS, &cur, &hi, 0);
		c->loads += (uint64_t)cur;
	}
}

static void
sq_teardown(struct eng *e)
{
	char p[PATH_MAX + 16];

	for (int i = 0; i < KV_MAXTHR; i++) {
		struct slot *s = &e->slot[i];

		sqlite3_finalize(s->st_get);
		sqlite3_finalize(s->st_upd);
		sqlite3_finalize(s->st_ins);
		sqlite3_finalize(s->st_scan);
		sqlite3_finalize(s->st_del);
		if (s->db != NULL)
			sqlite3_close(s->db);
		memset(s, 0, sizeof(*s));
	}
	if (e->spath[0] == '\0')
		return;
	unlink(e->spath);
	snprintf(p, sizeof(p), "%s-wal", e->spath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", e->spath);
	unlink(p);
}

static const struct eng_ops sq_ops = {
    .setup = sq_setup,
    .memcase = sq_memcase,
    .threads = sq_threads,
    .get = sq_get,
    .put = sq_put,
    .scan = sq_scan,
    .batch = sq_batch,
    .sync = sq_sync,
    .count = sq_count,
    .stats = sq_stats,
    .teardown = sq_teardown,
};

/* --- the workers ---------------------------------------------------------- */

/*
 * A worker: operations of its mix until told to stop.  The generator and
 * the counters are kept in locals and stored at the end, so that the
 * threads share no cache line while they run.
 */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct slot *s = w->s;
	const struct eng_ops *ops = s->e->ops;
	const struct ycsb_mix *mix = w->mix;
	struct ycsb_gen g = w->gen;
	uint64_t room = w->b->room / (uint64_t)w->nthr, first = w->b->keys;
	uint64_t nops = 0, misses = 0, errors = 0, ins = 0, full = 0;
	uint64_t sum = 0, v = 0;
	uint32_t n;
	int error = 0;

	pthread_barrier_wait(w->bar);
	while (!atomic_load_explicit(&kv_stop, memory_order_relaxed)) {
		enum ycsb_op op = ycsb_next_op(mix, &g.rng);
		uint64_t item, key;

		if (op == YCSB_OP_INSERT && ins >= room) {
			full++; /* out of room: an update instead */
			op = YCSB_OP_UPDATE;
		}
		if (op == YCSB_OP_INSERT)
			item =
			    first + ins++ * (uint64_t)w->nthr + (uint64_t)w->id;
		else
			item = ycsb_next_item(&g);
		key = ycsb_key(item);
		switch (op) {
		case YCSB_OP_READ:
			error = ops->get(s, key, &v);
			sum += v;
			break;
		case YCSB_OP_UPDATE:
			error = ops->put(s, key, val_of(key, nops), false);
			break;
		case YCSB_OP_INSERT:
			error = ops->put(s, key, val_of(key, nops), true);
			break;
		case YCSB_OP_SCAN:
			error = ops->scan(
			    s, key, ycsb_scan_len(mix, &g.rng), &sum, &n);
			break;
		case YCSB_OP_RMW:
			if ((error = ops->get(s, key, &v)) == 0)
				error = ops->put(s, key, v + 1, false);
			break;
		default:
			error = EINVAL;
			break;
		}
		if (error == ENOENT)
			misses++;
		else if (error != 0)
			errors++;
		nops++;
	}
	w->ops = nops;
	w->misses = misses;
	w->errors = errors;
	w->inserted = ins;
	w->insert_full = full;
	w->sum = sum;
	return NULL;
}

/* Sleep until the deadline (or an interrupt). */
static void
sleep_until(double deadline)
{
	double left;

	while (!kv_interrupted && (left = deadline - now()) > 0)
		nap_us(left > 0.1 ? 100000 : (long)(left * 1e6) + 1);
}

/*
 * One measurement: nthr threads of engine e run mix for secs seconds
 * with the generators of (run, xi); then the inserted keys are deleted
 * and the engine synced, untimed.  run < 0: a warm-up.
 */
static int
measure(struct bench *b, struct eng *e, int xi, const struct ycsb_mix *mix,
    int nthr, int run, double secs, struct sample *out)
{
	struct worker w[KV_MAXTHR];
	struct ycsb_gen g0;
	pthread_barrier_t bar;
	struct eng_counts k0, k1;
	uint64_t enomem0 = 0, busy0 = 0, *ins = NULL;
	double t0, t1, c0, c1, s0;
	size_t nins = 0;
	int error = 0;

	memset(out, 0, sizeof(*out));
	memset(w, 0, sizeof(w));
	if (e->ops->threads != NULL && (error = e->ops->threads(e, nthr)) != 0)
		return error;
	ycsb_init(&g0, b->keys, YCSB_DIST_SCRAMBLED, b->seed);
	pthread_barrier_init(&bar, NULL, (unsigned)nthr + 1);
	atomic_store(&kv_stop, false);
	for (int i = 0; i < nthr; i++) {
		w[i].b = b;
		w[i].s = &e->slot[i];
		w[i].mix = mix;
		w[i].bar = &bar;
		w[i].id = i;
		w[i].nthr = nthr;
		ycsb_fork(&w[i].gen, &g0, b->seed,
		    (uint64_t)(run + 2) * 100000 + (uint64_t)xi * 1000 +
			(uint64_t)nthr * 10 + (uint64_t)i);
		enomem0 += e->slot[i].enomem;
		busy0 += e->slot[i].busy;
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "bench_kv: pthread_create failed\n");
			exit(1);
		}
	}
	e->ops->stats(e, &k0);
	c0 = cpu_secs();
	pthread_barrier_wait(&bar);
	t0 = now();
	sleep_until(t0 + secs);
	atomic_store(&kv_stop, true);
	for (int i = 0; i < nthr; i++)
		pthread_join(w[i].tid, NULL);
	t1 = now();
	c1 = cpu_secs();
	e->ops->stats(e, &k1);
	pthread_barrier_destroy(&bar);

	for (int i = 0; i < nthr; i++) {
		out->ops += w[i].ops;
		out->misses += w[i].misses;
		out->errors += w[i].errors;
		out->inserted += w[i].inserted;
		out->insert_full += w[i].insert_full;
		out->enomem += e->slot[i].enomem;
		out->busy += e->slot[i].busy;
	}
	out->enomem -= enomem0;
	out->busy -= busy0;
	out->ops_s = (double)out->ops / (t1 - t0);
	out->cpu = (c1 - c0) / ((t1 - t0) * (double)b->ncpu);
	out->loads_s = (double)(k1.loads - k0.loads) / (t1 - t0);
	out->reclaims_s = (double)(k1.reclaims - k0.reclaims) / (t1 - t0);
	out->wb_s = (double)(k1.writebacks - k0.writebacks) / (t1 - t0);
	out->syncs_s = (double)(k1.syncs - k0.syncs) / (t1 - t0);

	/* Untimed: delete what E inserted, sync. */
	s0 = now();
	if (out->inserted > 0) {
		ins = malloc(out->inserted * sizeof(*ins));
		if (ins == NULL) {
			fprintf(stderr, "bench_kv: out of memory\n");
			exit(1);
		}
		for (int i = 0; i < nthr; i++)
			for (uint64_t k = 0; k < w[i].inserted; k++)
				ins[nins++] = ycsb_key(
				    b->keys + k * (uint64_t)nthr + (uint64_t)i);
		error = e->ops->batch(e, ins, nins, true);
		free(ins);
	}
	if (error == 0)
		error = e->ops->sync(e);
	out->sync_s = now() - s0;
	return error;
}

/* --- the report ----------------------------------------------------------- */

/* A cell of the results: memory case, mix, thread count (indexes into
 * b->mem, b->mix, b->thr) and engine. */
struct cell {
	int mi, xi, ti, ei;
};

static struct sample *
res_at(struct bench *b, const struct cell *c, int ei, int run)
{
	size_t i = (size_t)c->mi;

	i = i * (size_t)b->nmix + (size_t)c->xi;
	i = i * (size_t)b->nthr + (size_t)c->ti;
	i = i * KV_NENG + (size_t)ei;
	return &b->res[i * (size_t)b->runs + (size_t)run];
}

/* Ops/s of the faster LMDB configuration in a run (0 if none ran). */
static double
lmdb_best(struct bench *b, const struct cell *c, int run)
{
	double x = 0, y;

	for (int ei = ENG_LMDB; ei <= ENG_LMDB_WM; ei++)
		if (b->use[ei] && (y = res_at(b, c, ei, run)->ops_s) > x)
			x = y;
	return x;
}

/*
 * The median [min, max] of the same-run ratios of the cell's engine to
 * a reference, ref 1: the faster LMDB, ref 2: SQLite.  False when the
 * reference did not run.
 */
static bool
ratio(struct bench *b, const struct cell *c, int ref, double *medp,
    double *minp, double *maxp)
{
	double r[KV_MAXRUNS], d;

	if (ref == 1 && !b->use[ENG_LMDB] && !b->use[ENG_LMDB_WM])
		return false;
	if (ref == 2 && !b->use[ENG_SQLITE])
		return false;
	for (int run = 0; run < b->runs; run++) {
		d = ref == 1 ? lmdb_best(b, c, run)
			     : res_at(b, c, ENG_SQLITE, run)->ops_s;
		r[run] = d > 0 ? res_at(b, c, c->ei, run)->ops_s / d : 0;
	}
	*medp = median(r, b->runs, minp, maxp);
	return true;
}

static void
fmt_ratio(char *buf, size_t len, struct bench *b, const struct cell *c, int ref)
{
	double m;

	if (ratio(b, c, ref, &m, NULL, NULL))
		snprintf(buf, len, "%.2fx", m);
	else
		snprintf(buf, len, "-");
}

enum { ST_OPS, ST_CPU, ST_LOADS, ST_RECLAIMS, ST_WB, ST_SYNCS, ST_SYNC };

/* Median [min, max] of a statistic over the runs of a cell. */
static double
cell_med(
    struct bench *b, const struct cell *c, int what, double *minp, double *maxp)
{
	double v[KV_MAXRUNS];

	for (int run = 0; run < b->runs; run++) {
		struct sample *s = res_at(b, c, c->ei, run);

		switch (what) {
		case ST_OPS:
			v[run] = s->ops_s;
			break;
		case ST_CPU:
			v[run] = s->cpu;
			break;
		case ST_LOADS:
			v[run] = s->loads_s;
			break;
		case ST_RECLAIMS:
			v[run] = s->reclaims_s;
			break;
		case ST_WB:
			v[run] = s->wb_s;
			break;
		case ST_SYNCS:
			v[run] = s->syncs_s;
			break;
		default:
			v[run] = s->sync_s;
			break;
		}
	}
	return median(v, b->runs, minp, maxp);
}

/* Call fn on every cell measured, in table order. */
static void
each_cell(struct bench *b, void (*fn)(struct bench *, const struct cell *))
{
	struct cell c;

	for (c.mi = 0; c.mi < b->nmem; c.mi++)
		for (c.xi = 0; c.xi < b->nmix; c.xi++)
			for (c.ti = 0; c.ti < b->nthr; c.ti++)
				for (c.ei = 0; c.ei < KV_NENG; c.ei++)
					if (b->use[c.ei])
						fn(b, &c);
}

static void
table_row(struct bench *b, const struct cell *c)
{
	char r1[32], r2[32], ld[32], rc[32], sy[32];
	double lo, hi, m;

	m = cell_med(b, c, ST_OPS, &lo, &hi);
	fmt_ratio(r1, sizeof(r1), b, c, 1);
	fmt_ratio(r2, sizeof(r2), b, c, 2);
	snprintf(ld, sizeof(ld), "-");
	snprintf(rc, sizeof(rc), "-");
	snprintf(sy, sizeof(sy), "-");
	if (c->ei == ENG_HL || c->ei == ENG_SQLITE)
		snprintf(ld, sizeof(ld), "%.0f",
		    cell_med(b, c, ST_LOADS, NULL, NULL));
	if (c->ei == ENG_HL) {
		snprintf(rc, sizeof(rc), "%.0f",
		    cell_med(b, c, ST_RECLAIMS, NULL, NULL));
		snprintf(sy, sizeof(sy), "%.0f",
		    cell_med(b, c, ST_SYNCS, NULL, NULL));
	}
	printf("| %s | %s | %d | %s | %.0f [%.0f-%.0f] | %.0f | %s | %s | "
	       "%s | %s | %s |\n",
	    mem_names[b->mem[c->mi]], b->mix[c->xi]->name, b->thr[c->ti],
	    eng_names[c->ei], m, lo, hi,
	    cell_med(b, c, ST_CPU, NULL, NULL) * 100, r1, r2, ld, rc, sy);
}

static void
raw_row(struct bench *b, const struct cell *c)
{
	uint64_t miss = 0, err = 0, enomem = 0, busy = 0, full = 0;
	double lo, hi, m, r1 = 0, r2 = 0;

	for (int run = 0; run < b->runs; run++) {
		struct sample *s = res_at(b, c, c->ei, run);

		miss += s->misses;
		err += s->errors;
		enomem += s->enomem;
		busy += s->busy;
		full += s->insert_full;
	}
	m = cell_med(b, c, ST_OPS, &lo, &hi);
	ratio(b, c, 1, &r1, NULL, NULL);
	ratio(b, c, 2, &r2, NULL, NULL);
	printf("BENCH_KV mem=%s mix=%s threads=%d engine=%s runs=%d "
	       "ops_s=%.0f min=%.0f max=%.0f cpu=%.3f vs_lmdb=%.3f "
	       "vs_sqlite=%.3f loads_s=%.0f reclaims_s=%.0f writebacks_s=%.0f "
	       "syncs_s=%.1f end_sync_s=%.3f "
	       "enomem=%" PRIu64 " busy=%" PRIu64 " misses=%" PRIu64
	       " errors=%" PRIu64 " insert_full=%" PRIu64 "\n",
	    mem_names[b->mem[c->mi]], b->mix[c->xi]->name, b->thr[c->ti],
	    eng_names[c->ei], b->runs, m, lo, hi,
	    cell_med(b, c, ST_CPU, NULL, NULL), r1, r2,
	    cell_med(b, c, ST_LOADS, NULL, NULL),
	    cell_med(b, c, ST_RECLAIMS, NULL, NULL),
	    cell_med(b, c, ST_WB, NULL, NULL),
	    cell_med(b, c, ST_SYNCS, NULL, NULL),
	    cell_med(b, c, ST_SYNC, NULL, NULL), enomem, busy, miss, err, full);
	if (miss + err + full > 0)
		kv_warn(b,
		    "%s, %s memory, %s %dt: %" PRIu64 " misses, %" PRIu64
		    " errors, %" PRIu64 " inserts out of room",
		    eng_names[c->ei], mem_names[b->mem[c->mi]],
		    b->mix[c->xi]->name, b->thr[c->ti], miss, err, full);
}

static int
find_mix(struct bench *b, const char *name)
{
	for (int i = 0; i < b->nmix; i++)
		if (strcmp(b->mix[i]->name, name) == 0)
			return i;
	return -1;
}

static int
find_thr(struct bench *b, int t)
{
	for (int i = 0; i < b->nthr; i++)
		if (b->thr[i] == t)
			return i;
	return -1;
}

static int
find_mem(struct bench *b, int mem)
{
	for (int i = 0; i < b->nmem; i++)
		if (b->mem[i] == mem)
			return i;
	return -1;
}

/* One target of the issue: hammerlock's ratio to ref >= want. */
static void
target_row(struct bench *b, const char *what, int mi, int xi, int ti, int ref,
    double want)
{
	struct cell c = {mi, xi, ti, ENG_HL};
	double m, lo, hi;

	if (mi < 0 || xi < 0 || ti < 0 || !ratio(b, &c, ref, &m, &lo, &hi))
		return;
	printf("| %s | %s, %s, %d thread%s | %.2fx [%.2f-%.2f] | %s |\n", what,
	    b->mix[xi]->name, mem_long[b->mem[mi]], b->thr[ti],
	    b->thr[ti] > 1 ? "s" : "", m, lo, hi,
	    m >= want ? "met" : "not met");
}

static void
report_targets(struct bench *b)
{
	int c = find_mix(b, "C"), a = find_mix(b, "A");
	int in = find_mem(b, MEM_IN), t1 = find_thr(b, 1), t2 = find_thr(b, 2);

	if (!b->use[ENG_HL])
		return;
	printf("\n| target | cell | hammerlock ratio, median [min-max] | "
	       "result |\n");
	printf("|---|---|---|---|\n");
	target_row(b, "read-only C in memory >= 1.0x LMDB (faster config)", in,
	    c, t1, 1, 1.0);
	target_row(b, "read-only C in memory >= 1.0x LMDB (faster config)", in,
	    c, t2, 1, 1.0);
	for (int mi = 0; mi < b->nmem; mi++)
		target_row(b, "mix A, 2 threads >= 1.0x the faster LMDB", mi, a,
		    t2, 1, 1.0);
	for (int mi = 0; mi < b->nmem; mi++)
		for (int xi = 0; xi < b->nmix; xi++)
			for (int ti = 0; ti < b->nthr; ti++)
				target_row(b, "every mix >= 2x SQLite", mi, xi,
				    ti, 2, 2.0);
}

static void
report(struct bench *b)
{
	printf("\n| memory | mix | threads | engine | ops/s median [min-max] | "
	       "CPU %% | vs LMDB best | vs SQLite | loads/s | reclaims/s | "
	       "syncs/s |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
	each_cell(b, table_row);
	report_targets(b);
	printf("\n```text\n");
	each_cell(b, raw_row);
	printf("```\n");
}

/*
 * The gnuplot data: one block per memory case (separated by two blank
 * lines), one row per (mix, threads): the label, then median, min and
 * max ops/s of each engine of eng_names[] ("NaN" when not measured).
 */
static void
write_data(struct bench *b)
{
	FILE *fp = fopen(b->datafile, "w");
	struct cell c;
	double lo, hi, m;

	if (fp == NULL) {
		kv_warn(b, "cannot write %s: %s", b->datafile, strerror(errno));
		return;
	}
	fprintf(fp,
	    "# bench_kv: ops/s, median min max per engine; %" PRIu64
	    " keys, %d runs of %.1f s\n",
	    b->keys, b->runs, b->secs);
	for (c.mi = 0; c.mi < b->nmem; c.mi++) {
		/* The block's title: the memory case and the set-up. */
		fprintf(fp,
		    "%s\"%s: %" PRIu64 " keys, median of %d run%s of %.1f "
		    "s\"",
		    c.mi > 0 ? "\n\n" : "", mem_long[b->mem[c.mi]], b->keys,
		    b->runs, b->runs > 1 ? "s" : "", b->secs);
		for (int ei = 0; ei < KV_NENG; ei++)
			fprintf(fp, " %s min max", eng_names[ei]);
		fprintf(fp, "\n");
		for (c.xi = 0; c.xi < b->nmix; c.xi++)
			for (c.ti = 0; c.ti < b->nthr; c.ti++) {
				fprintf(fp, "\"%s %dt\"", b->mix[c.xi]->name,
				    b->thr[c.ti]);
				for (c.ei = 0; c.ei < KV_NENG; c.ei++) {
					if (!b->use[c.ei]) {
						fprintf(fp, " NaN NaN NaN");
						continue;
					}
					m = cell_med(b, &c, ST_OPS, &lo, &hi);
					fprintf(
					    fp, " %.0f %.0f %.0f", m, lo, hi);
				}
				fprintf(fp, "\n");
			}
	}
	if (fclose(fp) != 0)
		kv_warn(b, "writing %s: %s", b->datafile, strerror(errno));
}

/* --- the driver ----------------------------------------------------------- */

static void
progress(struct bench *b, const char *what, const struct sample *s)
{
	double el = now() - b->t_start;
	double left = b->done > 0 ? el / b->done * (b->total - b->done) : 0;

	fprintf(stderr,
	    "[%3d/%d %2d:%02d, ~%d:%02d left] %-28s %9.0f ops/s cpu %3.0f%%"
	    " sync %.2fs",
	    b->done, b->total, (int)el / 60, (int)el % 60, (int)left / 60,
	    (int)left % 60, what, s->ops_s, s->cpu * 100, s->sync_s);
	if (s->loads_s > 0 || s->reclaims_s > 0)
		fprintf(stderr, " loads %.0f/s reclaims %.0f/s", s->loads_s,
		    s->reclaims_s);
	if (s->wb_s > 0 || s->syncs_s > 0)
		fprintf(stderr, " writebacks %.0f/s fdatasyncs %.1f/s", s->wb_s,
		    s->syncs_s);
	if (s->misses + s->errors > 0)
		fprintf(stderr, " MISSES %" PRIu64 " ERRORS %" PRIu64,
		    s->misses, s->errors);
	fprintf(stderr, "\n");
}

/*
 * Create and load an engine's store, removing the one it had first: each
 * memory case starts from a freshly loaded store (E's inserts, deleted
 * again, leave hammerlock's leaves split).
 */
static void
init_engine(struct bench *b, struct eng *e, int id)
{
	static const struct eng_ops *const ops[KV_NENG] = {
	    &hl_ops, &lm_ops, &lm_ops, &sq_ops};
	static const unsigned lflags[KV_NENG] = {
	    0, MDB_NOSYNC, MDB_WRITEMAP | MDB_NOSYNC, 0};

	memset(e, 0, sizeof(*e));
	e->id = id;
	e->name = eng_names[id];
	e->ops = ops[id];
	e->lflags = lflags[id];
	e->b = b;
	for (int j = 0; j < KV_MAXTHR; j++)
		e->slot[j].e = e;
}

static int
load_engine(struct bench *b, struct eng *e)
{
	double t0 = now();
	int error;

	if (e->loaded) {
		e->ops->teardown(e);
		init_engine(b, e, e->id);
	}
	e->loaded = true;
	if ((error = e->ops->setup(e)) != 0) {
		fprintf(stderr, "bench_kv: %s: set-up failed\n", e->name);
		return error;
	}
	fprintf(stderr, "[set-up] %s: %" PRIu64 " keys loaded in %.1f s\n",
	    e->name, b->keys, now() - t0);
	return 0;
}

/* Load every engine, set it up for a memory case, warm it up (mix C). */
static int
start_memcase(struct bench *b, int mem)
{
	const struct ycsb_mix *cmix = ycsb_mix_find("C");
	struct sample s;
	int error;

	for (int k = 0; k < b->neng; k++) {
		struct eng *e = b->eng[k];

		if ((error = load_engine(b, e)) != 0 ||
		    (error = e->ops->memcase(e, mem)) != 0)
			return error;
		printf("- %s, %s: %s\n", mem_long[mem], e->name, e->info);
		fflush(stdout);
		if (b->warmup <= 0)
			continue;
		error = measure(b, e, 0, cmix, b->maxthr, -1, b->warmup, &s);
		if (error != 0)
			return error;
		fprintf(stderr,
		    "[warm-up] %s, %s: mix C, %d threads, %.0f "
		    "ops/s\n",
		    mem_long[mem], e->name, b->maxthr, s.ops_s);
	}
	return 0;
}

/* One run of one cell: every engine once, the order rotating. */
static int
run_cell(struct bench *b, int mi, int xi, int ti, int run)
{
	char what[64];
	int error;

	for (int k = 0; k < b->neng; k++) {
		struct eng *e = b->eng[(k + run + xi * b->nthr + ti) % b->neng];
		struct cell c = {mi, xi, ti, e->id};
		struct sample *out = res_at(b, &c, e->id, run);

		if (kv_interrupted)
			return EINTR;
		error = measure(
		    b, e, xi, b->mix[xi], b->thr[ti], run, b->secs, out);
		if (error != 0)
			return error;
		b->done++;
		snprintf(what, sizeof(what), "%s run %d/%d %s %dt %s",
		    mem_names[b->mem[mi]], run + 1, b->runs, b->mix[xi]->name,
		    b->thr[ti], e->name);
		progress(b, what, out);
	}
	return 0;
}

static int
run_all(struct bench *b)
{
	int error;

	b->total = b->nmem * b->runs * b->nmix * b->nthr * b->neng;
	b->t_start = now();
	for (int mi = 0; mi < b->nmem; mi++) {
		if ((error = start_memcase(b, b->mem[mi])) != 0)
			return error;
		/* Mix by mix (E, which changes the trees, last by
		 * default), run by run, every thread count. */
		for (int xi = 0; xi < b->nmix; xi++)
			for (int run = 0; run < b->runs; run++)
				for (int ti = 0; ti < b->nthr; ti++)
					if ((error = run_cell(
						 b, mi, xi, ti, run)) != 0)
						return error;
	}
	return 0;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bench_kv [--keys N] [--seconds S] [--runs N] "
	    "[--threads LIST]\n"
	    "                [--mixes LIST] [--mem in,out] [--engines LIST] "
	    "[--warmup S]\n"
	    "                [--seed X] [--dir DIR] [--data FILE] [--quick] "
	    "[--wb-sync]\n"
	    "                [--buffer-size N] [--sqlite-cache split|each]\n"
	    "\n"
	    "hammerlock's B-tree against LMDB (MDB_NOSYNC; MDB_WRITEMAP|"
	    "MDB_NOSYNC) and\n"
	    "SQLite (WAL, synchronous=OFF) on YCSB mixes, same keys, same "
	    "operations,\n"
	    "runs interleaved.  Markdown report on stdout, progress on "
	    "stderr.\n"
	    "\n"
	    "  --keys N        keys loaded (default %d; K/M suffixes)\n"
	    "  --seconds S     timed length of one measurement (default %.1f)\n"
	    "  --runs N        measurements per cell, median reported "
	    "(default %d)\n"
	    "  --threads LIST  thread counts (default 1,2; at most %d)\n"
	    "  --mixes LIST    YCSB mixes among A,B,C,E,F (default A,B,C,E)\n"
	    "  --mem LIST      in (pool/cache >= store), out (10%% of it); "
	    "default in,out\n"
	    "  --engines LIST  hammerlock,lmdb,lmdb-wm,sqlite (default all)\n"
	    "  --warmup S      untimed mix C per engine and memory case "
	    "(default %.1f)\n"
	    "  --seed X        workload seed (default %d)\n"
	    "  --dir DIR       where the stores go (default $TMPDIR or /tmp)\n"
	    "  --data FILE     write the gnuplot data (see plot_kv.gp)\n"
	    "  --quick         --keys 20000 --seconds 0.5 --runs 1 --warmup "
	    "0.2\n"
	    "  --wb-sync       hammerlock's pool fdatasyncs what it writes "
	    "back "
	    "(its\n"
	    "                  default; the others never sync before the end, "
	    "so by\n"
	    "                  default the benchmark mounts with "
	    "writeback_nosync)\n"
	    "  --buffer-size N hammerlock's buffer size, the unit it reads "
	    "and\n"
	    "                  writes (default %u, the page size LMDB and\n"
	    "                  SQLite read and write here; the format's "
	    "default\n"
	    "                  is %u)\n"
	    "  --sqlite-cache split|each\n"
	    "                  out of memory, SQLite's page cache budget "
	    "(10%%\n"
	    "                  of its database) is divided among a run's\n"
	    "                  connections, one per thread, as hammerlock's\n"
	    "                  threads share its pool (split, the default);\n"
	    "                  each: every connection has all of it\n",
	    KV_DEF_KEYS, KV_DEF_SECS, KV_DEF_RUNS, KV_MAXTHR, KV_DEF_WARMUP,
	    KV_DEF_SEED, (unsigned)KV_DEF_BUFSZ,
	    (unsigned)HL_BUFFER_SIZE_DEFAULT);
}

static bool
parse_u64(const char *s, uint64_t *vp)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return false;
	if (*end == 'k' || *end == 'K')
		v *= 1000, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1000000, end++;
	if (*end != '\0')
		return false;
	*vp = v;
	return true;
}

/* Split a comma list; calls fn on each item; false on a bad item. */
static bool
parse_list(struct bench *b, char *list, bool (*fn)(struct bench *, char *))
{
	char *save = NULL;

	for (char *t = strtok_r(list, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save))
		if (!fn(b, t))
			return false;
	return true;
}

static bool
add_thr(struct bench *b, char *t)
{
	uint64_t v;

	if (!parse_u64(t, &v) || v < 1 || v > KV_MAXTHR || b->nthr >= KV_MAXTL)
		return false;
	b->thr[b->nthr++] = (int)v;
	if ((int)v > b->maxthr)
		b->maxthr = (int)v;
	return true;
}

static bool
add_mix(struct bench *b, char *t)
{
	const struct ycsb_mix *m = ycsb_mix_find(t);

	if (m == NULL || b->nmix >= KV_MAXMIX || m->p[YCSB_OP_DELETE] > 0 ||
	    m->p[YCSB_OP_DELRANGE] > 0)
		return false;
	b->mix[b->nmix++] = m;
	return true;
}

static bool
add_mem(struct bench *b, char *t)
{
	for (int i = 0; i < KV_NMEM; i++)
		if (strcmp(t, mem_names[i]) == 0 && b->nmem < KV_NMEM) {
			b->mem[b->nmem++] = i;
			return true;
		}
	return false;
}

static bool
add_eng(struct bench *b, char *t)
{
	for (int i = 0; i < KV_NENG; i++)
		if (strcmp(t, eng_names[i]) == 0) {
			b->use[i] = true;
			return true;
		}
	return false;
}

static int
options(struct bench *b, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"keys", required_argument, NULL, 'k'},
	    {"seconds", required_argument, NULL, 's'},
	    {"runs", required_argument, NULL, 'r'},
	    {"threads", required_argument, NULL, 't'},
	    {"mixes", required_argument, NULL, 'x'},
	    {"mem", required_argument, NULL, 'm'},
	    {"engines", required_argument, NULL, 'e'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"seed", required_argument, NULL, 'S'},
	    {"dir", required_argument, NULL, 'd'},
	    {"data", required_argument, NULL, 'D'},
	    {"quick", no_argument, NULL, 'q'},
	    {"wb-sync", no_argument, NULL, 'W'},
	    {"buffer-size", required_argument, NULL, 'B'},
	    {"sqlite-cache", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v;
	char *end;
	int c;
	bool ok;

	b->keys = KV_DEF_KEYS;
	b->secs = KV_DEF_SECS;
	b->runs = KV_DEF_RUNS;
	b->warmup = KV_DEF_WARMUP;
	b->seed = KV_DEF_SEED;
	b->bufsz = KV_DEF_BUFSZ;
	while ((c = getopt_long(argc, argv, "k:s:r:t:x:m:e:w:S:d:D:B:C:qh", lo,
		    NULL)) != -1) {
		ok = true;
		switch (c) {
		case 'k':
			ok = parse_u64(optarg, &b->keys) && b->keys >= 1000;
			break;
		case 's':
			b->secs = strtod(optarg, &end);
			ok = *end == '\0' && b->secs > 0 && b->secs <= 3600;
			break;
		case 'r':
			ok = parse_u64(optarg, &v) && v >= 1 && v <= KV_MAXRUNS;
			b->runs = (int)v;
			break;
		case 't':
			ok = parse_list(b, optarg, add_thr);
			break;
		case 'x':
			ok = parse_list(b, optarg, add_mix);
			break;
		case 'm':
			ok = parse_list(b, optarg, add_mem);
			break;
		case 'e':
			ok = parse_list(b, optarg, add_eng);
			break;
		case 'w':
			b->warmup = strtod(optarg, &end);
			ok = *end == '\0' && b->warmup >= 0;
			break;
		case 'S':
			ok = parse_u64(optarg, &b->seed);
			break;
		case 'd':
			b->dirbase = optarg;
			break;
		case 'D':
			b->datafile = optarg;
			break;
		case 'W':
			b->wb_sync = true;
			break;
		case 'B':
			ok = parse_u64(optarg, &v) &&
			     v >= HL_NODE_SIZE_DEFAULT && v <= (1u << 20) &&
			     (v & (v - 1)) == 0;
			b->bufsz = (uint32_t)v;
			break;
		case 'C':
			ok = strcmp(optarg, "split") == 0 ||
			     strcmp(optarg, "each") == 0;
			b->sq_each = strcmp(optarg, "each") == 0;
			break;
		case 'q':
			b->keys = 20000;
			b->secs = 0.5;
			b->runs = 1;
			b->warmup = 0.2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (!ok) {
			fprintf(stderr, "bench_kv: bad value '%s' for -%c\n",
			    optarg, c);
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (b->nthr == 0) {
		b->thr[b->nthr++] = 1;
		b->thr[b->nthr++] = 2;
		b->maxthr = 2;
	}
	if (b->nmix == 0)
		for (const char *p = "ABCE"; *p != '\0'; p++)
			b->mix[b->nmix++] = ycsb_mix_find((char[]){*p, 0});
	if (b->nmem == 0) {
		b->mem[b->nmem++] = MEM_IN;
		b->mem[b->nmem++] = MEM_OUT;
	}
	for (int i = 0; i < KV_NENG; i++)
		if (b->use[i])
			b->neng++;
	if (b->neng == 0)
		for (int i = 0; i < KV_NENG; i++)
			b->use[i] = true;
	b->room = b->keys > KV_ROOM_MIN ? b->keys : KV_ROOM_MIN;
	return -1;
}

static void
on_signal(int sig)
{
	(void)sig;
	kv_interrupted = 1;
}

int
main(int argc, char **argv)
{
	struct bench *b;
	struct sigaction sa;
	const char *tmp;
	int rc = 1, error = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return 1;
	if ((rc = options(b, argc, argv)) >= 0) {
		free(b);
		return rc;
	}
	rc = 1;
	b->ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (b->ncpu < 1)
		b->ncpu = 1;
	b->res = calloc((size_t)b->nmem * (size_t)b->nmix * (size_t)b->nthr *
			    KV_NENG * (size_t)b->runs,
	    sizeof(*b->res));
	if (b->res == NULL)
		goto out;
	tmp = b->dirbase != NULL ? b->dirbase : getenv("TMPDIR");
	snprintf(b->dir, sizeof(b->dir), "%s/bench-kv.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(b->dir) == NULL) {
		fprintf(stderr, "bench_kv: mkdtemp %s: %s\n", b->dir,
		    strerror(errno));
		b->dir[0] = '\0';
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	printf("## bench_kv: hammerlock, LMDB and SQLite on YCSB mixes\n\n");
	printf("- %" PRIu64 " keys (u64 key, u64 value), YCSB scrambled "
	       "Zipfian (theta 0.99), seed %" PRIu64 "; mixes",
	    b->keys, b->seed);
	for (int i = 0; i < b->nmix; i++)
		printf(" %s", b->mix[i]->name);
	printf("; threads");
	for (int i = 0; i < b->nthr; i++)
		printf(" %d", b->thr[i]);
	printf("\n- %d run%s of %.1f s per cell, engines interleaved; median "
	       "[min-max]; ratios are medians of same-run ratios; CPU %% = "
	       "process CPU time / (wall time x %ld CPUs)\n",
	    b->runs, b->runs > 1 ? "s" : "", b->secs, b->ncpu);
	printf("- %s, SQLite %s, hammerlock %s\n", MDB_VERSION_STRING,
	    sqlite3_libversion(), HL_VERSION_STRING);
	fflush(stdout);

	/* The engines (start_memcase() loads them). */
	b->neng = 0;
	for (int i = 0; i < KV_NENG; i++) {
		struct eng *e;

		if (!b->use[i])
			continue;
		/* Its slots are aligned to 128 bytes: so is the engine. */
		if (posix_memalign((void **)&e, 128, sizeof(*e)) != 0)
			goto out;
		init_engine(b, e, i);
		b->eng[b->neng++] = e;
	}
	fprintf(stderr,
	    "[plan] %d measurements of %.1f s (+ set-up, syncs); "
	    "about %.0f min\n",
	    b->nmem * b->runs * b->nmix * b->nthr * b->neng, b->secs,
	    (b->nmem *
		(b->runs * b->nmix * b->nthr * b->neng * (b->secs + 0.3) +
		    b->neng * b->warmup)) /
		60.0);
	error = run_all(b);
	if (error == EINTR)
		fprintf(stderr, "bench_kv: interrupted\n");
	else if (error != 0)
		fprintf(stderr, "bench_kv: a measurement failed: %s\n",
		    strerror(error));
	else {
		/* Every store must hold the loaded keys and no others. */
		for (int k = 0; k < b->neng; k++) {
			struct eng *e = b->eng[k];
			uint64_t n = 0;

			if (e->ops->count(e, &n) != 0 || n != b->keys)
				kv_warn(b,
				    "%s holds %" PRIu64
				    " keys at the end, not %" PRIu64,
				    e->name, n, b->keys);
		}
		report(b);
		if (b->datafile != NULL)
			write_data(b);
		printf("\n%" PRIu64 " warnings; %.0f s in all\n", b->nwarn,
		    now() - b->t_start);
		rc = 0;
	}
out:
	for (int k = 0; k < b->neng; k++) {
		if (b->eng[k] == NULL)
			continue;
		b->eng[k]->ops->teardown(b->eng[k]);
		free(b->eng[k]);
	}
	if (b->dir[0] != '\0' && rmdir(b->dir) != 0)
		fprintf(stderr, "bench_kv: rmdir %s: %s\n", b->dir,
		    strerror(errno));
	free(b->res);
	free(b);
	return rc;
}
