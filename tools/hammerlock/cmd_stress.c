/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_stress.c - `hammerlock stress [FILE...]': many threads drive the
 * object cache of one mount at once (get, extra references, modify,
 * release, passive caches, direct buffer access) while one thread syncs
 * and the pool reclaims, and every thread checks, as it goes, that each
 * node holds exactly what was last written to it.
 *
 * The model.  Every node the run uses has a shadow entry holding the
 * version last written to it.  The entry is guarded by the node's own
 * content lock: a writer holds hl_node_lock() exclusive while it
 * modifies the node and bumps the version, a reader holds it shared while
 * it compares the node's bytes with the image that version must have.
 * The image is a function of (offset, version) only, so any thread can
 * rebuild it.  Whatever path the bytes took (kept in the pool, reclaimed,
 * written back and read again), a reader must see the last version.
 *
 * Checked while running:
 *
 *   - contents: a reader (shared lock) sees exactly the image of the
 *     shadow version, and so does a writer (exclusive lock) before it
 *     writes the next one; through hl_node_data(), through a passive
 *     cache, and through the bytes of the node's buffer;
 *   - the lock: no exclusive holder while a shared one is granted and
 *     none other while an exclusive one is, hl_lock_status() agrees;
 *   - a held node keeps its offset, hl_node_data() and hl_node_buffer();
 *     its refs word and its buffer's are live (no DEAD bit) with a count
 *     of at least the holds this thread has; its bytes lie in its
 *     buffer's memory at its slot;
 *   - two holds of one offset are one structure; a passive cache returns
 *     the node it cached or nothing; a node got while its buffer is held
 *     lives in that buffer;
 *   - the pool stays within its budget (a monitor thread, every 10 ms);
 *   - every error a get returns is allowed: ENOMEM (the pool is pinned),
 *     EIO only with --fail-rate; a sync fails only with --fail-rate.
 *
 * The end.  With the faults still on, at rest: the statistics balance
 * (st_check_io()), only failed writes hold buffer references, and every
 * EIO and ENOMEM a get returned matches a failed read and a refused
 * reservation one for one.  With the faults off, a last sync must
 * succeed and leave nothing modified, failed or referenced; the unmount
 * must find no leaked reference; a second mount of the same files must
 * read every node back, CRC valid, as the shadow says.
 *
 * A failed check prints what was expected and found, the node's and its
 * buffer's lock words and the seed, and exits 1 at once, keeping the
 * temporary volume.  A watchdog fails a run that stops making progress
 * in the same way, printing every sleeper and what each thread holds.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hammerlock.h>

#include "cli.h"

#define ST_MAXHOLD     4		/* nodes one operation gets at most */
#define ST_NSLOTS      (ST_MAXHOLD + 1) /* ...plus one extra reference */
#define ST_NCACHE      8		/* passive caches per thread */
#define ST_MAXTHREADS  1024
#define ST_MAXNODES    (1u << 24)
#define ST_MONITOR_MS  10  /* pool budget check period */
#define ST_THROTTLE_MS 100 /* longest wait of a get that found no room */

/* What a thread is doing, for the watchdog. */
enum st_phase {
	PH_IDLE,
	PH_GET,
	PH_CACHE,
	PH_BUFFER,
	PH_LOCK_SH,
	PH_LOCK_EX,
	PH_WORK,
	PH_RELEASE,
	PH_SYNC,
	PH_DONE,
};

static const char *const st_phase_names[] = {"idle", "get", "cache get",
    "buffer get", "lock shared", "lock exclusive", "work", "release", "sync",
    "done"};

/* Bugs the run can plant in itself, to show that the checks see them. */
enum st_inject {
	INJ_NONE,
	INJ_SKIP_MODIFY, /* some writes skip hl_modify_node() */
	INJ_LOST_UNLOCK, /* thread 0 keeps a node locked and stops */
};

struct st_cfg {
	int threads;
	double seconds;
	double pool_mb;
	uint64_t pool_bytes;
	double fail_rate;
	uint32_t fail_ppm;
	uint64_t seed;
	uint32_t sync_ms;
	uint32_t sync_faults; /* 1 sync in N loses an fdatasync; 0: none */
	uint64_t nodes;
	bool nodes_set;
	double watchdog;
	bool keep;
	enum st_inject inject;
};

/* One node's shadow: guarded by the node's content lock. */
struct st_shadow {
	uint64_t version;	 /* last version written */
	_Atomic uintptr_t owner; /* thread holding it exclusive, or 0 */
};

/* Per-thread counters; relaxed atomics, read by the progress line. */
struct st_counts {
	_Atomic uint64_t ops;	   /* operations finished, any outcome */
	_Atomic uint64_t reads;	   /* single-node verifies */
	_Atomic uint64_t writes;   /* versions written */
	_Atomic uint64_t multi;	   /* multi-node operations */
	_Atomic uint64_t refs;	   /* hl_ref_node() on a held node */
	_Atomic uint64_t verifies; /* node images compared */
	_Atomic uint64_t cache_hits;
	_Atomic uint64_t cache_misses;
	_Atomic uint64_t cache_sets;
	_Atomic uint64_t buffers;  /* direct buffer checks */
	_Atomic uint64_t flushes;  /* hl_flush_buffer_nodes() on a held one */
	_Atomic uint64_t eio;	   /* gets that returned EIO */
	_Atomic uint64_t enomem;   /* gets that returned ENOMEM */
	_Atomic uint64_t injected; /* planted bugs (--inject-bug) */
};

/* A node the thread holds a reference on, and what it saw at the get. */
struct st_hold {
	struct hl_node *n;
	uint64_t idx;
	void *data;
	struct hl_buffer *buf;
	int exdepth; /* exclusive holds taken through this entry */
};

struct st_run;

struct st_thread {
	struct st_run *r;
	int id; /* 0..threads-1; -1 for the main thread */
	pthread_t tid;
	uint64_t rng;
	struct hl_trans tr;
	struct st_hold hold[ST_NSLOTS];
	struct hl_node_cache cache[ST_NCACHE];
	uint64_t cache_idx[ST_NCACHE];
	uint8_t *expect; /* node_size bytes of scratch */
	struct st_counts c;
	/* Published for the watchdog. */
	_Atomic int phase;
	_Atomic uint64_t want; /* offset being got, or 0 */
	struct hl_node *_Atomic pub[ST_NSLOTS];
	struct hl_buffer *_Atomic pubbuf;
};

struct st_run {
	struct st_cfg cfg;
	char tmpdir[256];
	char tmppath[300];
	const char **paths;
	int nvol;
	struct hl_io *io;
	struct hl_mount *m;
	uint32_t bsize, nsize, per_buf;
	uint64_t nnodes;
	uint64_t *offs; /* node index -> offset */
	/* Per volume number: first index, nodes in play, first node's
	 * byte offset (past the free map). */
	uint64_t vbase[HL_MAX_VOLUMES], vcount[HL_MAX_VOLUMES];
	uint64_t vfirst[HL_MAX_VOLUMES];
	struct st_shadow *shadow;
	struct st_thread *th;
	struct st_thread main;	 /* population, final checks, remount */
	struct st_thread syncer; /* the syncing thread */
	bool wd_started;
	pthread_t sync_tid, mon_tid, wd_tid;
	_Atomic bool stop;    /* workers and syncer */
	_Atomic bool running; /* workers started, not yet told to stop */
	/* Throttling: a get that found the pool pinned wakes the syncer and
	 * waits (a little) for its next sync, under kick_mtx. */
	pthread_mutex_t kick_mtx;
	pthread_cond_t kick_cv; /* the syncer waits here */
	pthread_cond_t done_cv; /* throttled workers wait here */
	bool kick;
	uint64_t sync_gen;     /* syncs finished */
	_Atomic bool mon_stop; /* monitor */
	_Atomic bool wd_stop;  /* watchdog */
	_Atomic(const char *) main_phase;
	_Atomic uint64_t main_progress;
	_Atomic uint64_t syncs_ok, syncs_failed, sync_faults;
	_Atomic uint64_t pool_max;
	bool tty;
	int failures; /* end-of-run checks that failed */
};

static pthread_mutex_t st_fail_mtx = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t st_signalled;

#define LD(p)	   atomic_load_explicit(p, memory_order_relaxed)
#define ST(p, v)   atomic_store_explicit(p, v, memory_order_relaxed)
#define INC(t, f)  atomic_fetch_add_explicit(&(t)->c.f, 1, memory_order_relaxed)
#define RINC(r, f) atomic_fetch_add_explicit(&(r)->f, 1, memory_order_relaxed)

void
hl_cli_stress_usage(FILE *fp)
{
	static const char *const lines[] = {
	    "usage: hammerlock stress [FILE...] [--threads N] [--seconds S]",
	    "           [--pool-mb M] [--fail-rate R] [--sync-faults N]",
	    "           [--seed X] [--sync-ms T]",
	    "           [--nodes K] [--watchdog S] [--keep]",
	    "",
	    "Stress the object cache: N threads get, reference, modify, verify",
	    "and release nodes (one or several at once, through passive caches",
	    "and through their buffers) while a thread syncs and the pool",
	    "reclaims.  Every read is checked against a shadow of the last",
	    "version written; at the end the statistics must balance, the",
	    "unmount must find no leak, and a second mount must read all the",
	    "nodes back.",
	    "",
	    "With no FILE, a temporary volume just big enough for K nodes is",
	    "created and removed afterwards.  Given FILEs (all the volumes of",
	    "one mount) are used in place: their first K nodes past the free",
	    "map are OVERWRITTEN (and not marked in the free map).",
	    "",
	    "  -t, --threads N     worker threads (default 16)",
	    "  -s, --seconds S     run time, wall clock (default 10)",
	    "  -p, --pool-mb M     pool budget in MiB, fractions allowed",
	    "                      (default 1)",
	    "  -f, --fail-rate R   probability that one read or write call of",
	    "                      the backend fails with EIO, 0..1 in 1e-6",
	    "                      steps (default 0)",
	    "      --sync-faults N with --fail-rate, one sync in N (default 8;",
	    "                      0: none) also has an fdatasync fail",
	    "      --seed X        seed of the random choices (default: from",
	    "                      the clock; printed)",
	    "      --sync-ms T     sync period (default 50; 0: never); a get",
	    "                      that finds the pool pinned syncs sooner",
	    "  -n, --nodes K       nodes in play (default 4096)",
	    "      --watchdog S    fail after S seconds without progress, or",
	    "                      with a thread stuck (default 10)",
	    "  -k, --keep          keep the temporary volume",
	    "      --inject-bug BUG",
	    "                      plant a bug to see the checks fail:",
	    "                      skip-modify (some writes skip",
	    "                      hl_modify_node), lost-unlock (a thread",
	    "                      keeps a node locked: the watchdog fires)",
	    "  -h, --help          show this help",
	    "",
	    "exit status: 0 every check passed; 1 a check failed, or a hang",
	    "(what, which node, its lock words, every sleeper and every",
	    "thread's holds are printed); 2 usage error or unusable input.",
	};
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		fprintf(fp, "%s\n", lines[i]);
}

/* Random numbers: xorshift64*, and splitmix64 to derive states. */
static uint64_t
st_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t
st_mix(uint64_t a, uint64_t b)
{
	uint64_t z = a + (b + 1) * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z != 0 ? z : 1;
}

static unsigned
st_below(struct st_thread *t, unsigned n)
{
	return (unsigned)(st_rand(&t->rng) % n);
}

static double
st_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
st_sleep_ms(uint32_t ms)
{
	struct timespec ts = {
	    .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
st_phase(struct st_thread *t, enum st_phase ph)
{
	ST(&t->phase, (int)ph);
}

/*
 * Node images
 * -----------
 *
 * Version `ver' of the node at `off', bytes [4, size): a RAW header
 * (type, count, parent 0), the offset and the version in the first 16
 * payload bytes, count - 16 pseudo-random bytes seeded by (off, ver), and
 * zeros to the end.  The CRC (bytes 0-3) and the generation (16-23)
 * belong to write-back, which rewrites them under the buffer's lock
 * while readers hold only the node's: they are never written here, nor
 * compared.
 */
static uint32_t
st_count(uint32_t size, uint64_t off, uint64_t ver)
{
	uint32_t max = size - HL_NODE_HDR_SIZE;

	if (max > UINT16_MAX)
		max = UINT16_MAX;
	return 16 + (uint32_t)(st_mix(off, ver) % (max - 15));
}

static void
st_image(uint8_t *p, uint32_t size, uint64_t off, uint64_t ver)
{
	uint32_t count = st_count(size, off, ver), i;
	uint8_t *pay = p + HL_NODE_HDR_SIZE;
	uint64_t s = st_mix(ver, off);

	hl_le16_put(p + HL_NODE_OFF_TYPE, HL_NODE_RAW);
	hl_le16_put(p + HL_NODE_OFF_COUNT, (uint16_t)count);
	hl_le64_put(p + HL_NODE_OFF_PARENT, 0);
	hl_le64_put(pay, off);
	hl_le64_put(pay + 8, ver);
	for (i = 16; i + 8 <= count; i += 8)
		hl_le64_put(pay + i, st_rand(&s));
	for (; i < count; i++)
		pay[i] = (uint8_t)st_rand(&s);
	memset(pay + count, 0, size - HL_NODE_HDR_SIZE - count);
}

/*
 * First byte where the compared ranges differ, or -1.  The header's
 * type, count and parent (bytes 4-15) are compared only if hdr.
 */
static long
st_diff(const uint8_t *a, const uint8_t *b, uint32_t size, bool hdr)
{
	uint32_t i;

	for (i = hdr ? HL_NODE_OFF_TYPE : HL_NODE_HDR_SIZE; i < size; i++) {
		if (i == HL_NODE_OFF_GEN)
			i = HL_NODE_HDR_SIZE;
		if (a[i] != b[i])
			return (long)i;
	}
	return -1;
}

static uint64_t
st_nodeoff(struct st_run *r, uint64_t idx)
{
	return r->offs[idx];
}

/* The index of the node at off, or UINT64_MAX if not in play. */
static uint64_t
st_index(struct st_run *r, uint64_t off)
{
	unsigned vol = HL_OFF_VOL(off);
	uint64_t sh = HL_OFF_SHORT(off), i;

	if (sh < r->vfirst[vol] || (sh & (r->nsize - 1)) != 0)
		return UINT64_MAX;
	i = (sh - r->vfirst[vol]) / r->nsize;
	if (i >= r->vcount[vol])
		return UINT64_MAX;
	return r->vbase[vol] + i;
}

/*
 * Failures
 * --------
 *
 * The first failing thread prints and exits; any other waits on the
 * mutex until then.  Lock words are read with atomic loads, so dumping
 * them while the other threads run is safe (node and buffer memory is
 * type-stable until unmount).
 */
static void
st_dump_hold(struct st_run *r, const char *who, const struct st_hold *h)
{
	char name[96];

	snprintf(name, sizeof(name), "%s node %#" PRIx64 " (index %" PRIu64 ")",
	    who, st_nodeoff(r, h->idx), h->idx);
	hl_lock_dump(stderr, name, hl_node_lock(h->n));
	if (h->buf != NULL) {
		snprintf(name, sizeof(name), "%s  its buffer %#" PRIx64, who,
		    hl_buffer_offset(h->buf));
		hl_lock_dump(stderr, name, hl_buffer_lock(h->buf));
	}
}

static void
st_dump_thread(struct st_run *r, struct st_thread *t)
{
	uint64_t want = LD(&t->want);
	struct hl_buffer *b;
	char who[32];
	int i;

	snprintf(who, sizeof(who), "thread %d", t->id);
	if (want != 0)
		fprintf(stderr, "  %s: %s, getting %#" PRIx64 "\n", who,
		    st_phase_names[LD(&t->phase)], want);
	else
		fprintf(
		    stderr, "  %s: %s\n", who, st_phase_names[LD(&t->phase)]);
	for (i = 0; i < ST_NSLOTS; i++) {
		struct hl_node *n = LD(&t->pub[i]);
		struct st_hold h;

		if (n == NULL)
			continue;
		h.n = n;
		h.idx = st_index(r, hl_node_offset(n));
		if (h.idx == UINT64_MAX)
			h.idx = 0;
		h.buf = hl_node_buffer(n);
		st_dump_hold(r, who, &h);
	}
	if ((b = LD(&t->pubbuf)) != NULL) {
		char name[64];

		snprintf(name, sizeof(name), "%s buffer %#" PRIx64, who,
		    hl_buffer_offset(b));
		hl_lock_dump(stderr, name, hl_buffer_lock(b));
	}
}

static void
st_replay(struct st_run *r)
{
	fprintf(stderr,
	    "hammerlock stress: seed %" PRIu64
	    " (replay: hammerlock stress --seed %" PRIu64 " --threads %d "
	    "--seconds %g --pool-mb %g --fail-rate %g --sync-faults %u "
	    "--sync-ms %u --nodes %" PRIu64 ")\n",
	    r->cfg.seed, r->cfg.seed, r->cfg.threads, r->cfg.seconds,
	    r->cfg.pool_mb, r->cfg.fail_rate, r->cfg.sync_faults,
	    r->cfg.sync_ms, r->nnodes);
	if (r->tmpdir[0] == '\0')
		return;
	if (r->cfg.inject != INJ_NONE && !r->cfg.keep) {
		/* A planted failure: nothing to look at in the volume. */
		unlink(r->tmppath);
		rmdir(r->tmpdir);
		r->tmpdir[0] = '\0';
		return;
	}
	fprintf(stderr, "hammerlock stress: volume kept in %s\n", r->tmpdir);
}

/* Report a failed check by thread t (about hold h, may be NULL); exit. */
__attribute__((format(printf, 3, 4), noreturn)) static void
st_fail(struct st_thread *t, const struct st_hold *h, const char *fmt, ...)
{
	struct st_run *r = t->r;
	va_list ap;

	pthread_mutex_lock(&st_fail_mtx);
	fflush(stdout);
	if (t->id >= 0)
		fprintf(stderr, "hammerlock stress: FAIL: thread %d: ", t->id);
	else
		fprintf(stderr, "hammerlock stress: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (h != NULL) {
		fprintf(stderr,
		    "  node %#" PRIx64 " (index %" PRIu64
		    "): shadow version %" PRIu64 "\n",
		    st_nodeoff(r, h->idx), h->idx, r->shadow[h->idx].version);
		st_dump_hold(r, "failing", h);
	}
	if (t->id >= 0) {
		fprintf(stderr, "  the failing thread's holds:\n");
		st_dump_thread(r, t);
	}
	st_replay(r);
	fflush(stderr);
	_exit(HL_EXIT_DAMAGED);
}

#define FAIL(t, h, ...) st_fail(t, h, __VA_ARGS__)

/* A CLOCK_MONOTONIC deadline ms milliseconds from now. */
static void
st_deadline(struct timespec *dl, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, dl);
	dl->tv_sec += ms / 1000u;
	dl->tv_nsec += (long)(ms % 1000u) * 1000000L;
	if (dl->tv_nsec >= 1000000000L) {
		dl->tv_sec++;
		dl->tv_nsec -= 1000000000L;
	}
}

/*
 * A get found the pool full of pinned (mostly modified) buffers: wake
 * the syncer and wait for its next sync (at most sync_ms, and at most
 * ST_THROTTLE_MS), as a writer throttled on dirty memory would.  Holds
 * kept meanwhile stay kept.
 */
static void
st_throttle(struct st_run *r)
{
	struct timespec dl;
	uint64_t gen;

	if (r->cfg.sync_ms == 0) {
		sched_yield();
		return;
	}
	st_deadline(&dl,
	    r->cfg.sync_ms < ST_THROTTLE_MS ? r->cfg.sync_ms : ST_THROTTLE_MS);
	pthread_mutex_lock(&r->kick_mtx);
	gen = r->sync_gen;
	if (!r->kick) {
		r->kick = true;
		pthread_cond_signal(&r->kick_cv);
	}
	while (r->sync_gen == gen && !atomic_load(&r->stop))
		if (pthread_cond_timedwait(&r->done_cv, &r->kick_mtx, &dl) ==
		    ETIMEDOUT)
			break;
	pthread_mutex_unlock(&r->kick_mtx);
}

/*
 * An error from a get.  ENOMEM is allowed (the pool may be pinned: gets
 * never wait for room), EIO only when faults are injected; anything
 * else fails the run.
 */
static void
st_get_error(struct st_thread *t, int error, const char *what, uint64_t off)
{
	if (error == ENOMEM) {
		INC(t, enomem);
		st_throttle(t->r);
		return;
	}
	if (error == EIO && t->r->cfg.fail_ppm != 0) {
		INC(t, eio);
		return;
	}
	FAIL(
	    t, NULL, "%s(%#" PRIx64 ") failed: %s", what, off, strerror(error));
}

/* Fail unless the refs word l is live with a count of at least atleast. */
static void
st_check_word(struct st_thread *t, const struct st_hold *h,
    const struct hl_lock *l, const char *what, uint32_t atleast)
{
	uint32_t w = atomic_load(&l->refs);

	if ((w & HL_REFS_DEAD) || (w & HL_REFS_COUNT_MASK) < atleast)
		FAIL(t, h,
		    "%s refs word 0x%08x: expected a live word with count >= "
		    "%u",
		    what, w, atleast);
}

/*
 * A held node must stay what the get returned: same offset, same bytes
 * pointer, same buffer, that buffer referenced and alive, its memory
 * where the node's bytes are.
 */
static void
st_check_held(struct st_thread *t, const struct st_hold *h, const char *when,
    uint32_t refs)
{
	struct st_run *r = t->r;
	uint64_t off = st_nodeoff(r, h->idx);
	struct hl_node *n = h->n;
	uint8_t *bdata;

	if (hl_node_offset(n) != off)
		FAIL(t, h,
		    "%s: hl_node_offset %#" PRIx64 ", expected %#" PRIx64, when,
		    hl_node_offset(n), off);
	if (hl_node_data(n) != h->data)
		FAIL(t, h, "%s: hl_node_data moved from %p to %p while held",
		    when, h->data, hl_node_data(n));
	if (hl_node_buffer(n) != h->buf)
		FAIL(t, h, "%s: hl_node_buffer moved from %p to %p while held",
		    when, (void *)h->buf, (void *)hl_node_buffer(n));
	st_check_word(t, h, hl_node_lock(n), "held node's", refs);
	st_check_word(t, h, hl_buffer_lock(h->buf), "held node's buffer's", 1);
	if (hl_buffer_offset(h->buf) != (off & ~(uint64_t)(r->bsize - 1)))
		FAIL(t, h, "%s: the node's buffer is at %#" PRIx64, when,
		    hl_buffer_offset(h->buf));
	bdata = hl_buffer_data(h->buf);
	if (bdata == NULL ||
	    (uint8_t *)h->data != bdata + (off & (r->bsize - 1)))
		FAIL(t, h,
		    "%s: node bytes at %p, but its buffer's memory is at %p",
		    when, h->data, (void *)bdata);
}

/* Get node idx into hold slot `slot'; 0, or the (allowed) error. */
static int
st_get(struct st_thread *t, int slot, uint64_t idx)
{
	struct st_run *r = t->r;
	struct st_hold *h = &t->hold[slot];
	uint64_t off = st_nodeoff(r, idx);
	struct hl_node *n;
	int error;

	st_phase(t, PH_GET);
	ST(&t->want, off);
	n = hl_get_node(&t->tr, off, false, &error);
	ST(&t->want, 0);
	st_phase(t, PH_WORK);
	if (n == NULL) {
		if (error == 0)
			FAIL(t, NULL,
			    "hl_get_node(%#" PRIx64 ") gave NULL "
			    "and no error",
			    off);
		st_get_error(t, error, "hl_get_node", off);
		return error;
	}
	h->n = n;
	h->idx = idx;
	h->data = hl_node_data(n);
	h->buf = hl_node_buffer(n);
	h->exdepth = 0;
	ST(&t->pub[slot], n);
	if (h->data == NULL || h->buf == NULL)
		FAIL(t, h, "hl_get_node returned a node with data %p buffer %p",
		    h->data, (void *)h->buf);
	st_check_held(t, h, "after hl_get_node", 1);
	return 0;
}

static void
st_put(struct st_thread *t, int slot)
{
	struct st_hold *h = &t->hold[slot];

	st_check_held(t, h, "before hl_rel_node", 1);
	st_phase(t, PH_RELEASE);
	ST(&t->pub[slot], NULL);
	hl_rel_node(h->n);
	st_phase(t, PH_WORK);
}

static void
st_put_all(struct st_thread *t, int nslots)
{
	while (nslots-- > 0)
		st_put(t, nslots);
}

static uintptr_t
st_self(struct st_thread *t)
{
	return (uintptr_t)(t->id + 2);
}

static void
st_lock_sh(struct st_thread *t, struct st_hold *h)
{
	struct hl_lock *l = hl_node_lock(h->n);
	uintptr_t o;

	st_phase(t, PH_LOCK_SH);
	hl_lock_sh(l);
	st_phase(t, PH_WORK);
	if (hl_lock_status(l) != -1)
		FAIL(t, h, "hl_lock_sh granted, but hl_lock_status says %d",
		    hl_lock_status(l));
	if ((o = LD(&t->r->shadow[h->idx].owner)) != 0)
		FAIL(t, h,
		    "shared lock granted while thread %d holds the "
		    "node exclusively",
		    (int)o - 2);
}

static void
st_unlock_sh(struct st_thread *t, struct st_hold *h)
{
	uintptr_t o = LD(&t->r->shadow[h->idx].owner);

	if (o != 0)
		FAIL(t, h,
		    "thread %d took the node exclusively while we held "
		    "it shared",
		    (int)o - 2);
	hl_unlock(hl_node_lock(h->n));
}

static void
st_lock_ex(struct st_thread *t, struct st_hold *h)
{
	struct st_shadow *s = &t->r->shadow[h->idx];
	struct hl_lock *l = hl_node_lock(h->n);
	uintptr_t o;

	st_phase(t, PH_LOCK_EX);
	hl_lock_ex(l);
	st_phase(t, PH_WORK);
	if (!hl_lock_excl_owned(l) || hl_lock_status(l) != 1)
		FAIL(t, h, "hl_lock_ex granted, but the lock is not ours");
	o = LD(&s->owner);
	if (h->exdepth++ == 0) {
		if (o != 0)
			FAIL(t, h,
			    "exclusive lock granted while thread %d holds it",
			    (int)o - 2);
		ST(&s->owner, st_self(t));
	} else if (o != st_self(t)) {
		FAIL(
		    t, h, "recursive exclusive lock, owner now %d", (int)o - 2);
	}
}

static void
st_unlock_ex(struct st_thread *t, struct st_hold *h)
{
	struct st_shadow *s = &t->r->shadow[h->idx];

	if (LD(&s->owner) != st_self(t))
		FAIL(t, h, "exclusive lock lost: owner %d",
		    (int)LD(&s->owner) - 2);
	if (--h->exdepth == 0)
		ST(&s->owner, 0);
	hl_unlock(hl_node_lock(h->n));
}

/*
 * Compare the node bytes at p with the image of the shadow version.  The
 * caller holds the node's lock (shared or exclusive).  hdr: compare the
 * header's type, count and parent too (always, but for a planted bug).
 */
static void
st_verify(struct st_thread *t, const struct st_hold *h, const uint8_t *p,
    const char *how, bool hdr)
{
	struct st_run *r = t->r;
	uint64_t off = st_nodeoff(r, h->idx);
	uint64_t ver = r->shadow[h->idx].version;
	long d;

	st_image(t->expect, r->nsize, off, ver);
	d = st_diff(p, t->expect, r->nsize, hdr);
	INC(t, verifies);
	if (d < 0)
		return;
	FAIL(t, h,
	    "%s: node %#" PRIx64 " should hold version %" PRIu64
	    " (count %u) but holds type %u count %u offset %#" PRIx64
	    " version %" PRIu64 "; first difference at byte %ld: 0x%02x, "
	    "expected 0x%02x",
	    how, off, ver, st_count(r->nsize, off, ver),
	    hl_le16_get(p + HL_NODE_OFF_TYPE),
	    hl_le16_get(p + HL_NODE_OFF_COUNT),
	    hl_le64_get(p + HL_NODE_HDR_SIZE),
	    hl_le64_get(p + HL_NODE_HDR_SIZE + 8), d, p[d], t->expect[d]);
}

/* Write the next version of a node held exclusive. */
static void
st_write(struct st_thread *t, struct st_hold *h)
{
	struct st_run *r = t->r;
	struct st_shadow *s = &r->shadow[h->idx];
	bool skip = false;
	int error;

	if (r->cfg.inject == INJ_SKIP_MODIFY && st_below(t, 16) == 0)
		skip = true;
	if (!skip && (error = hl_modify_node(h->n)) != 0)
		FAIL(t, h, "hl_modify_node: %s", strerror(error));
	if (hl_node_data(h->n) != h->data)
		FAIL(t, h, "hl_modify_node moved the node's bytes");
	st_verify(
	    t, h, h->data, "before a write, under the exclusive lock", !skip);
	st_image(h->data, r->nsize, st_nodeoff(r, h->idx), s->version + 1);
	if (skip)
		INC(t, injected);
	else
		hl_modify_node_done(h->n);
	s->version++;
	INC(t, writes);
}

/*
 * Keys: half uniform, half skewed to low indices (u^3), so some nodes
 * and buffers are hot and contended while the rest churn the pool.
 */
static uint64_t
st_key(struct st_thread *t)
{
	uint64_t n = t->r->nnodes, x = st_rand(&t->rng);
	double u;

	if (x & 1)
		return (x >> 1) % n;
	u = (double)(st_rand(&t->rng) >> 11) * 0x1p-53;
	return (uint64_t)(u * u * u * (double)n) % n;
}

/* One node, read under the shared lock (sometimes taken twice). */
static void
st_op_read(struct st_thread *t)
{
	struct st_hold *h = &t->hold[0];
	bool twice = st_below(t, 8) == 0;
	bool extra = st_below(t, 4) == 0;

	if (st_get(t, 0, st_key(t)) != 0)
		return;
	st_lock_sh(t, h);
	if (twice)
		st_lock_sh(t, h);
	if (extra) {
		hl_ref_node(h->n);
		INC(t, refs);
		st_check_held(t, h, "after hl_ref_node", 2);
	}
	st_verify(t, h, h->data, "read under a shared lock", true);
	if (twice)
		st_unlock_sh(t, h);
	st_unlock_sh(t, h);
	if (extra) {
		st_check_held(t, h, "before dropping the extra reference", 2);
		hl_rel_node(h->n);
	}
	st_put(t, 0);
	INC(t, reads);
}

/* One node, written under the exclusive lock (sometimes recursive). */
static void
st_op_write(struct st_thread *t)
{
	struct st_hold *h = &t->hold[0];
	bool twice = st_below(t, 8) == 0;

	if (st_get(t, 0, st_key(t)) != 0)
		return;
	st_lock_ex(t, h);
	if (twice)
		st_lock_ex(t, h);
	st_write(t, h);
	if (t->r->cfg.inject == INJ_LOST_UNLOCK && t->id == 0 &&
	    LD(&t->c.ops) >= 1000) {
		INC(t, injected);
		for (;;) /* never unlocks: the others pile up behind */
			st_sleep_ms(1000);
	}
	if (twice)
		st_unlock_ex(t, h);
	st_unlock_ex(t, h);
	st_put(t, 0);
}

/*
 * 2..4 nodes held at once, maybe one extra reference; locked in offset
 * order (all shared to verify, or all exclusive to write), released in
 * random order.  Two holds of one offset must be one structure.
 */
static void
st_op_multi(struct st_thread *t)
{
	struct st_run *r = t->r;
	int k = 2 + (int)st_below(t, ST_MAXHOLD - 1), nh = 0, i, j;
	int order[ST_NSLOTS];
	bool ex = st_below(t, 4) == 0;

	for (i = 0; i < k; i++) {
		if (st_get(t, nh, st_key(t)) != 0) {
			st_put_all(t, nh);
			return;
		}
		nh++;
	}
	if (st_below(t, 2) == 0) {
		j = (int)st_below(t, (unsigned)nh);
		hl_ref_node(t->hold[j].n);
		INC(t, refs);
		t->hold[nh] = t->hold[j];
		ST(&t->pub[nh], t->hold[nh].n);
		nh++;
	}
	for (i = 0; i < nh; i++) {
		int v = i;

		for (j = i; j > 0 && t->hold[order[j - 1]].idx > t->hold[v].idx;
		     j--)
			order[j] = order[j - 1];
		order[j] = v;
	}
	for (i = 1; i < nh; i++) {
		struct st_hold *a = &t->hold[order[i - 1]];
		struct st_hold *b = &t->hold[order[i]];

		if (a->idx == b->idx && a->n != b->n)
			FAIL(t, b,
			    "two references to node %#" PRIx64
			    " are two structures, %p and %p",
			    st_nodeoff(r, b->idx), (void *)a->n, (void *)b->n);
	}
	for (i = 0; i < nh; i++) {
		struct st_hold *h = &t->hold[order[i]];

		st_check_held(t, h, "multi-node hold", 1);
		if (i > 0 && t->hold[order[i - 1]].idx == h->idx)
			continue;
		if (ex)
			st_lock_ex(t, h);
		else
			st_lock_sh(t, h);
	}
	for (i = 0; i < nh; i++) {
		struct st_hold *h = &t->hold[order[i]];

		if (i > 0 && t->hold[order[i - 1]].idx == h->idx)
			continue;
		if (ex)
			st_write(t, h);
		else
			st_verify(t, h, h->data, "multi-node read", true);
	}
	for (i = nh - 1; i >= 0; i--) {
		struct st_hold *h = &t->hold[order[i]];

		if (i > 0 && t->hold[order[i - 1]].idx == h->idx)
			continue;
		if (ex)
			st_unlock_ex(t, h);
		else
			st_unlock_sh(t, h);
	}
	for (i = nh - 1; i > 0; i--) {
		int tmp;

		j = (int)st_below(t, (unsigned)i + 1);
		tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	for (i = 0; i < nh; i++)
		st_put(t, order[i]);
	INC(t, multi);
}

/*
 * The passive cache: a slot this thread owns either still points at the
 * node it cached (and hl_ref_node_safe() must return that node) or was
 * cleared (ENOENT: cache another one).
 */
static void
st_op_cache(struct st_thread *t)
{
	struct st_run *r = t->r;
	int slot = (int)st_below(t, ST_NCACHE);
	struct hl_node_cache *c = &t->cache[slot];
	struct st_hold *h = &t->hold[0];
	struct hl_node *n;
	int error;

	st_phase(t, PH_CACHE);
	n = hl_ref_node_safe(&t->tr, c, &error);
	st_phase(t, PH_WORK);
	if (n == NULL) {
		if (error != ENOENT) {
			st_get_error(t, error, "hl_ref_node_safe",
			    st_nodeoff(r, t->cache_idx[slot]));
			return;
		}
		INC(t, cache_misses);
		if (st_get(t, 0, st_key(t)) != 0)
			return;
		hl_cache_node(c, h->n);
		t->cache_idx[slot] = h->idx;
		INC(t, cache_sets);
	} else {
		h->n = n;
		h->idx = t->cache_idx[slot];
		h->data = hl_node_data(n);
		h->buf = hl_node_buffer(n);
		h->exdepth = 0;
		ST(&t->pub[0], n);
		if (hl_node_offset(n) != st_nodeoff(r, h->idx))
			FAIL(t, h,
			    "passive cache returned node %#" PRIx64
			    ", it cached %#" PRIx64,
			    hl_node_offset(n), st_nodeoff(r, h->idx));
		if (h->data == NULL || h->buf == NULL)
			FAIL(t, h,
			    "hl_ref_node_safe returned an unloaded "
			    "node");
		st_check_held(t, h, "after hl_ref_node_safe", 1);
		INC(t, cache_hits);
		if (st_below(t, 32) == 0)
			hl_flush_node(n); /* every cache of it, others' too */
		else if (st_below(t, 8) == 0)
			hl_uncache_node(c);
	}
	st_lock_sh(t, h);
	st_verify(t, h, h->data, "read through a passive cache", true);
	st_unlock_sh(t, h);
	st_put(t, 0);
}

/*
 * A buffer got directly: each node in play inside it, got while the
 * buffer is held, must live in that buffer at its slot and read right
 * through the buffer's own bytes.
 */
static void
st_op_buffer(struct st_thread *t)
{
	struct st_run *r = t->r;
	uint64_t boff = st_nodeoff(r, st_key(t)) & ~(uint64_t)(r->bsize - 1);
	struct hl_buffer *b;
	uint8_t *bdata;
	uint32_t s;
	int error;

	st_phase(t, PH_BUFFER);
	ST(&t->want, boff);
	b = hl_get_buffer(r->m, boff + st_below(t, r->bsize),
	    st_below(t, 2) ? r->bsize : 0, false, &error);
	ST(&t->want, 0);
	st_phase(t, PH_WORK);
	if (b == NULL) {
		st_get_error(t, error, "hl_get_buffer", boff);
		return;
	}
	ST(&t->pubbuf, b);
	bdata = hl_buffer_data(b);
	if (hl_buffer_offset(b) != boff || hl_buffer_bytes(b) != r->bsize ||
	    bdata == NULL)
		FAIL(t, NULL,
		    "hl_get_buffer(%#" PRIx64 "): offset %#" PRIx64
		    " bytes %u data %p",
		    boff, hl_buffer_offset(b), hl_buffer_bytes(b),
		    (void *)bdata);
	for (s = 0; s < r->per_buf; s++) {
		uint64_t off = boff + (uint64_t)s * r->nsize;
		uint64_t idx = st_index(r, off);
		struct st_hold *h = &t->hold[0];

		if (idx == UINT64_MAX)
			continue;
		if (st_get(t, 0, idx) != 0)
			continue;
		if (h->buf != b || h->data != bdata + (size_t)s * r->nsize)
			FAIL(t, h,
			    "node got while its buffer %p (data %p) is held "
			    "has buffer %p data %p",
			    (void *)b, (void *)bdata, (void *)h->buf, h->data);
		st_lock_sh(t, h);
		st_verify(t, h, bdata + (size_t)s * r->nsize,
		    "read through its buffer", true);
		st_unlock_sh(t, h);
		st_put(t, 0);
	}
	if (hl_buffer_data(b) != bdata)
		FAIL(t, NULL, "buffer %#" PRIx64 " memory moved while held",
		    boff);
	{
		uint32_t w = atomic_load(&hl_buffer_lock(b)->refs);

		if ((w & HL_REFS_DEAD) || (w & HL_REFS_COUNT_MASK) == 0)
			FAIL(t, NULL,
			    "held buffer %#" PRIx64 " has refs word 0x%08x",
			    boff, w);
	}
	/*
	 * Now and then tear its nodes down while others use them: idle ones
	 * are evicted, those in use marked to go at their users' last
	 * release, which then races other threads' gets of the same nodes.
	 */
	if (st_below(t, 4) == 0) {
		(void)hl_flush_buffer_nodes(b);
		INC(t, flushes);
	}
	ST(&t->pubbuf, NULL);
	hl_rel_buffer(b);
	INC(t, buffers);
}

static void *
st_worker(void *arg)
{
	struct st_thread *t = arg;
	struct st_run *r = t->r;
	int i;

	while (!atomic_load(&r->stop)) {
		unsigned x = st_below(t, 100);

		if (x < 38)
			st_op_read(t);
		else if (x < 60)
			st_op_write(t);
		else if (x < 78)
			st_op_multi(t);
		else if (x < 93)
			st_op_cache(t);
		else
			st_op_buffer(t);
		st_phase(t, PH_IDLE);
		INC(t, ops);
		if (st_below(t, 64) == 0)
			sched_yield();
	}
	for (i = 0; i < ST_NCACHE; i++)
		hl_uncache_node(&t->cache[i]);
	st_phase(t, PH_DONE);
	return NULL;
}

/* Set the fault configuration; sync_nth arms a failed fdatasync. */
static void
st_faults(struct st_run *r, bool on, uint64_t sync_nth)
{
	struct hl_io_fault_cfg cfg = {0};

	if (on) {
		cfg.fail_rate_ppm = r->cfg.fail_ppm;
		cfg.seed = r->cfg.seed;
		cfg.fail_sync_nth = sync_nth;
	}
	if (hl_io_fault_set(r->io, &cfg) != 0) {
		hl_cli_err("stress", "hl_io_fault_set failed");
		abort();
	}
}

/* Sleep sync_ms, or less if a get kicks us or the run stops. */
static void
st_syncer_wait(struct st_run *r)
{
	struct timespec dl;

	st_deadline(&dl, r->cfg.sync_ms);
	pthread_mutex_lock(&r->kick_mtx);
	while (!r->kick && !atomic_load(&r->stop))
		if (pthread_cond_timedwait(&r->kick_cv, &r->kick_mtx, &dl) ==
		    ETIMEDOUT)
			break;
	r->kick = false;
	pthread_mutex_unlock(&r->kick_mtx);
}

static void
st_syncer_done(struct st_run *r)
{
	pthread_mutex_lock(&r->kick_mtx);
	r->sync_gen++;
	pthread_cond_broadcast(&r->done_cv);
	pthread_mutex_unlock(&r->kick_mtx);
}

/*
 * The syncing thread: every sync_ms, or sooner when a get found the pool
 * pinned.  With faults on, one sync in cfg.sync_faults arms a failed
 * fdatasync: the next one called, by this sync or by the pool's own
 * write-back in some worker, fails (either failure is allowed).
 */
static void *
st_syncer(void *arg)
{
	struct st_thread *t = arg;
	struct st_run *r = t->r;
	bool faults = r->cfg.fail_ppm != 0;
	char why[512];

	while (!atomic_load(&r->stop)) {
		bool arm;
		int error;

		st_syncer_wait(r);
		if (atomic_load(&r->stop))
			break;
		arm = faults && r->cfg.sync_faults != 0 &&
		      st_below(t, r->cfg.sync_faults) == 0;
		if (arm) {
			st_faults(r, true, 1);
			RINC(r, sync_faults);
		}
		st_phase(t, PH_SYNC);
		error = hl_mount_sync(r->m, why, sizeof(why));
		st_phase(t, PH_IDLE);
		if (arm)
			st_faults(r, true, 0);
		st_syncer_done(r);
		if (error == 0) {
			RINC(r, syncs_ok);
		} else if (faults && error == EIO) {
			RINC(r, syncs_failed);
		} else {
			FAIL(t, NULL, "hl_mount_sync: %s (%s)", strerror(error),
			    why);
		}
		INC(t, ops);
	}
	st_phase(t, PH_DONE);
	return NULL;
}

static uint64_t
st_sum(struct st_run *r, size_t field)
{
	uint64_t s = 0;
	int i;

	for (i = 0; i < r->cfg.threads; i++)
		s += LD((_Atomic uint64_t *)((char *)&r->th[i].c + field));
	return s;
}

#define SUM(r, f) st_sum(r, offsetof(struct st_counts, f))

static uint64_t
st_progress(struct st_run *r)
{
	return SUM(r, ops) + LD(&r->syncer.c.ops) + LD(&r->main_progress);
}

static void
st_progress_line(struct st_run *r, double elapsed, uint64_t dops, double dt,
    const struct hl_mount_stats *st)
{
	fprintf(stderr,
	    "%s[%5.1fs] %7.0f ops/s  pool %.2f/%.2f MiB  loads %" PRIu64
	    "  reclaims %" PRIu64 "  writebacks %" PRIu64 "  deferred %" PRIu64
	    "  errors: eio %" PRIu64 " enomem %" PRIu64 " sync %" PRIu64 "%s",
	    r->tty ? "\r" : "", elapsed, dt > 0 ? (double)dops / dt : 0.0,
	    (double)st->pool_bytes / 1048576.0,
	    (double)st->pool_limit / 1048576.0, st->buffer_loads, st->reclaims,
	    st->writebacks, st->reclaim_deferred, SUM(r, eio), SUM(r, enomem),
	    LD(&r->syncs_failed), r->tty ? "\033[K" : "\n");
}

/*
 * The monitor: the pool must stay within its budget at every look; once
 * a second, the progress line.
 */
static void *
st_monitor(void *arg)
{
	struct st_run *r = arg;
	struct hl_mount_stats st;
	double t0 = st_now(), last = t0;
	uint64_t lastops = 0;

	while (!atomic_load(&r->mon_stop)) {
		double now;

		st_sleep_ms(ST_MONITOR_MS);
		hl_mount_stats(r->m, &st);
		if (st.pool_bytes > LD(&r->pool_max))
			ST(&r->pool_max, st.pool_bytes);
		if (st.pool_bytes > st.pool_limit)
			FAIL(&r->main, NULL,
			    "pool over budget: %" PRIu64 " bytes in use, limit "
			    "%" PRIu64,
			    st.pool_bytes, st.pool_limit);
		if (st_signalled)
			atomic_store(&r->stop, true);
		now = st_now();
		if (now - last >= 1.0) {
			uint64_t ops = SUM(r, ops);

			st_progress_line(
			    r, now - t0, ops - lastops, now - last, &st);
			lastops = ops;
			last = now;
		}
	}
	if (r->tty)
		fputc('\n', stderr);
	return NULL;
}

/* Print every sleeper and what each thread holds and wants; exit 1. */
__attribute__((noreturn)) static void
st_hang(struct st_run *r, const char *what)
{
	int i;

	pthread_mutex_lock(&st_fail_mtx);
	fflush(stdout);
	fprintf(stderr,
	    "\nhammerlock stress: WATCHDOG: %s (main: %s); sleepers:\n", what,
	    LD(&r->main_phase));
	hl_dump_waiters(stderr);
	fprintf(stderr, "hammerlock stress: threads (syncer last):\n");
	for (i = 0; i < r->cfg.threads && r->th != NULL; i++)
		st_dump_thread(r, &r->th[i]);
	st_dump_thread(r, &r->syncer);
	st_replay(r);
	fprintf(stderr, "hammerlock stress: FAIL: hang\n");
	fflush(stderr);
	_exit(HL_EXIT_DAMAGED);
}

/*
 * The watchdog.  The run is hung if its progress counter (every finished
 * operation, of any outcome, and every step of the main thread) stands
 * still for cfg.watchdog seconds, or if one thread stays that long in one
 * operation while the others go on (a deadlock among a few threads).  No
 * operation legitimately takes that long: the longest wait, a throttled
 * get, is bounded by ST_THROTTLE_MS.  The syncer is exempt while it
 * sleeps between syncs.
 */
static void *
st_watchdog(void *arg)
{
	struct st_run *r = arg;
	int n = r->cfg.threads + 1, i;
	uint64_t seen = st_progress(r), *tops;
	double since = st_now(), *tsince;
	char what[128];

	tops = calloc((size_t)n, sizeof(*tops));
	tsince = calloc((size_t)n, sizeof(*tsince));
	if (tops == NULL || tsince == NULL)
		abort();
	for (i = 0; i < n; i++)
		tsince[i] = since;
	while (!atomic_load(&r->wd_stop)) {
		double now;
		uint64_t p;

		st_sleep_ms(200);
		now = st_now();
		for (i = 0; i < n; i++) {
			struct st_thread *t =
			    i < r->cfg.threads ? &r->th[i] : &r->syncer;
			uint64_t ops = LD(&t->c.ops);
			int ph = LD(&t->phase);

			if (ops != tops[i] || ph == PH_DONE ||
			    !atomic_load(&r->running) ||
			    (t == &r->syncer && ph == PH_IDLE)) {
				tops[i] = ops;
				tsince[i] = now;
			} else if (now - tsince[i] >= r->cfg.watchdog) {
				snprintf(what, sizeof(what),
				    "thread %d stuck in one operation (%s) for "
				    "%.0f s",
				    t->id, st_phase_names[ph], now - tsince[i]);
				st_hang(r, what);
			}
		}
		p = st_progress(r);
		if (p != seen) {
			seen = p;
			since = now;
		} else if (now - since >= r->cfg.watchdog) {
			snprintf(what, sizeof(what), "no progress for %.0f s",
			    now - since);
			st_hang(r, what);
		}
	}
	free(tops);
	free(tsince);
	return NULL;
}

static void
st_main_phase(struct st_run *r, const char *what)
{
	ST(&r->main_phase, what);
	atomic_fetch_add(&r->main_progress, 1);
}

/* A sync from the main thread (no faults): must succeed. */
static void
st_sync_main(struct st_run *r, const char *when)
{
	char why[512];
	int error;

	st_main_phase(r, when);
	error = hl_mount_sync(r->m, why, sizeof(why));
	if (error != 0)
		FAIL(&r->main, NULL, "%s: hl_mount_sync: %s (%s)", when,
		    strerror(error), why);
	st_main_phase(r, "main");
}

/*
 * Version 0 of every node, created with isnew (which zeroes the node but
 * still reads its buffer: hl_get_node() never creates a buffer without
 * reading it, so every buffer load of the run is a read).  Synced often
 * enough that modified buffers never fill the pool.
 */
static void
st_populate(struct st_run *r)
{
	struct st_thread *t = &r->main;
	uint64_t pool_bufs = r->cfg.pool_bytes / r->bsize;
	uint64_t every = (pool_bufs > 2 ? pool_bufs / 2 : 1) * r->per_buf;
	uint64_t i;
	uint32_t b;

	st_main_phase(r, "populate");
	for (i = 0; i < r->nnodes; i++) {
		uint64_t off = st_nodeoff(r, i);
		struct st_hold *h = &t->hold[0];
		struct hl_node *n;
		int error, tries;

		for (tries = 0;; tries++) {
			n = hl_get_node(&t->tr, off, true, &error);
			if (n != NULL || error != ENOMEM || tries == 3)
				break;
			INC(t, enomem);
			st_sync_main(r, "populate");
		}
		if (n == NULL)
			FAIL(t, NULL,
			    "populating: hl_get_node(%#" PRIx64 ", isnew): %s",
			    off, strerror(error));
		h->n = n;
		h->idx = i;
		h->data = hl_node_data(n);
		h->buf = hl_node_buffer(n);
		h->exdepth = 0;
		hl_lock_ex(hl_node_lock(n));
		for (b = 0; b < r->nsize; b++)
			if (((uint8_t *)h->data)[b] != 0)
				FAIL(t, h, "new node not zeroed (byte %u)", b);
		if ((error = hl_modify_node(n)) != 0)
			FAIL(t, h, "hl_modify_node: %s", strerror(error));
		st_image(h->data, r->nsize, off, 0);
		hl_modify_node_done(n);
		r->shadow[i].version = 0;
		hl_unlock(hl_node_lock(n));
		hl_rel_node(n);
		if ((i + 1) % every == 0)
			st_sync_main(r, "populate");
		atomic_fetch_add(&r->main_progress, 1);
	}
	st_sync_main(r, "populate");
}

static void
st_print_stats(const struct hl_mount_stats *st)
{
	static const struct {
		const char *name;
		size_t off;
	} f[] = {
#define F(x) {#x, offsetof(struct hl_mount_stats, x)}
	    F(buffers),
	    F(buffers_referenced),
	    F(buffers_resident),
	    F(buffers_modified),
	    F(buffers_ioerror),
	    F(pool_bytes),
	    F(pool_limit),
	    F(buffer_loads),
	    F(buffer_hits),
	    F(buffer_unloads),
	    F(buffer_destroys),
	    F(reclaims),
	    F(reclaim_deferred),
	    F(reclaim_failures),
	    F(writebacks),
	    F(collisions),
	    F(nodes),
	    F(nodes_referenced),
	    F(nodes_resident),
	    F(node_loads),
	    F(node_destroys),
	    F(crc_errors),
	    F(reads),
	    F(writes),
	    F(syncs),
	    F(read_errors),
	    F(write_errors),
	    F(interlock_sleeps),
	    F(lock_contended),
	    F(index_misses),
#undef F
	};
	size_t i;

	printf("  %-20s %12u\n", "volumes", st->volumes);
	printf("  %-20s %12u\n", "volumes_loaded", st->volumes_loaded);
	printf("  %-20s %12" PRIu64 "\n", "volume_loads", st->volume_loads);
	printf("  %-20s %12" PRIu64 "\n", "volume_load_errors",
	    st->volume_load_errors);
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		printf("  %-20s %12" PRIu64 "\n", f[i].name,
		    *(const uint64_t *)((const char *)st + f[i].off));
}

/* An end-of-run check: counted and printed, the run goes on. */
__attribute__((format(printf, 3, 4))) static void
st_expect(struct st_run *r, bool ok, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	if (ok)
		return;
	fprintf(stderr, "hammerlock stress: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	r->failures++;
}

/*
 * I/O accounting, valid at rest.  The backend numbers each read call;
 * no short transfer or EINTR is injected and pread of a regular file
 * within its size does not stop short, so each full read the cache
 * issues is exactly one backend call.  The cache issues one read per
 * volume header at mount (no volume is referenced afterwards, so no
 * header is read again) and one per buffer load, whether it succeeds
 * (buffer_loads: no buffer is ever created with isnew) or fails
 * (read_errors).  Hence, exactly:
 *
 *   reads == nvol + buffer_loads + read_errors == backend read calls
 *   writes == backend write calls, syncs == backend sync calls
 *   injected faults == read_errors + write_errors
 */
static void
st_check_io(struct st_run *r, struct hl_io *io, const char *when,
    const struct hl_mount_stats *st)
{
	struct hl_io_fault_stats fs;

	hl_io_fault_stats(io, &fs);
	st_expect(r, st->volume_loads == 0 && st->volume_load_errors == 0,
	    "%s: %" PRIu64 " volume loads, none expected", when,
	    st->volume_loads);
	st_expect(r,
	    st->reads == (uint64_t)r->nvol + st->buffer_loads + st->read_errors,
	    "%s: reads %" PRIu64 " != %d headers + %" PRIu64
	    " buffer loads + %" PRIu64 " failed reads",
	    when, st->reads, r->nvol, st->buffer_loads, st->read_errors);
	st_expect(r, fs.reads == st->reads,
	    "%s: the backend saw %" PRIu64 " reads, the cache counted %" PRIu64,
	    when, fs.reads, st->reads);
	st_expect(r, fs.writes == st->writes,
	    "%s: the backend saw %" PRIu64 " writes, the cache counted "
	    "%" PRIu64,
	    when, fs.writes, st->writes);
	st_expect(r, fs.syncs == st->syncs,
	    "%s: the backend saw %" PRIu64 " syncs, the cache counted %" PRIu64,
	    when, fs.syncs, st->syncs);
	st_expect(r, fs.injected_errors == st->read_errors + st->write_errors,
	    "%s: %" PRIu64 " faults injected, but %" PRIu64
	    " read errors + %" PRIu64 " write errors counted",
	    when, fs.injected_errors, st->read_errors, st->write_errors);
	st_expect(r, st->crc_errors == 0, "%s: %" PRIu64 " CRC errors", when,
	    st->crc_errors);
	st_expect(r,
	    st->buffer_loads - st->buffer_unloads == st->buffers_resident,
	    "%s: buffer_loads %" PRIu64 " - buffer_unloads %" PRIu64
	    " != buffers_resident %" PRIu64,
	    when, st->buffer_loads, st->buffer_unloads, st->buffers_resident);
	st_expect(r, st->pool_bytes == st->buffers_resident * r->bsize,
	    "%s: pool_bytes %" PRIu64 " != %" PRIu64 " resident buffers * %u",
	    when, st->pool_bytes, st->buffers_resident, r->bsize);
	st_expect(r, st->pool_bytes <= st->pool_limit,
	    "%s: pool_bytes %" PRIu64 " over the limit %" PRIu64, when,
	    st->pool_bytes, st->pool_limit);
	st_expect(r, st->nodes_referenced == 0,
	    "%s: %" PRIu64 " nodes still referenced", when,
	    st->nodes_referenced);
}

/*
 * After the workers stopped (faults still on): only failed writes may
 * hold buffer references; every error a get returned is accounted for
 * by the cache's counters, one for one.
 */
static void
st_check_rest(struct st_run *r, const struct hl_mount_stats *st)
{
	const char *w = "at rest";

	st_check_io(r, r->io, w, st);
	st_expect(r, st->buffers_referenced == st->buffers_ioerror,
	    "%s: %" PRIu64 " buffers referenced, only the %" PRIu64
	    " with a failed write may be",
	    w, st->buffers_referenced, st->buffers_ioerror);
	st_expect(r, r->cfg.fail_ppm != 0 || st->buffers_ioerror == 0,
	    "%s: %" PRIu64 " buffers with a write error, no fault injected", w,
	    st->buffers_ioerror);
	st_expect(r, SUM(r, eio) == st->read_errors,
	    "%s: gets returned EIO %" PRIu64 " times, but %" PRIu64
	    " reads failed",
	    w, SUM(r, eio), st->read_errors);
	st_expect(r,
	    SUM(r, enomem) + LD(&r->main.c.enomem) == st->reclaim_failures,
	    "%s: gets returned ENOMEM %" PRIu64 " times, but the pool "
	    "refused %" PRIu64,
	    w, SUM(r, enomem) + LD(&r->main.c.enomem), st->reclaim_failures);
}

/* After the final sync: nothing modified, referenced or failed. */
static void
st_check_final(struct st_run *r, const struct hl_mount_stats *st)
{
	const char *w = "after the final sync";

	st_check_io(r, r->io, w, st);
	st_expect(r, st->buffers_referenced == 0,
	    "%s: %" PRIu64 " buffers still referenced", w,
	    st->buffers_referenced);
	st_expect(r, st->buffers_modified == 0,
	    "%s: %" PRIu64 " buffers still modified", w, st->buffers_modified);
	st_expect(r, st->buffers_ioerror == 0,
	    "%s: %" PRIu64 " buffers still marked with a write error", w,
	    st->buffers_ioerror);
}

/* Mount the files again and read every node back. */
static void
st_remount_verify(struct st_run *r)
{
	struct st_thread *t = &r->main;
	struct hl_mount_opts o = {0};
	struct hl_mount_stats st;
	struct hl_io *io;
	char why[1024];
	uint64_t i;
	int error;

	st_main_phase(r, "remount");
	if ((error = hl_io_fault_create(NULL, NULL, &io)) != 0)
		FAIL(t, NULL, "hl_io_fault_create: %s", strerror(error));
	o.io = io;
	o.pool_bytes = r->cfg.pool_bytes;
	error = hl_mount_open(r->paths, r->nvol, &o, &r->m, why, sizeof(why));
	if (error != 0)
		FAIL(t, NULL, "remount: %s", why);
	hl_trans_init(&t->tr, r->m);
	for (i = 0; i < r->nnodes; i++) {
		struct st_hold *h = &t->hold[0];
		uint64_t off = st_nodeoff(r, i);
		char msg[256];

		h->n = hl_get_node(&t->tr, off, false, &error);
		if (h->n == NULL)
			FAIL(t, NULL, "remount: hl_get_node(%#" PRIx64 "): %s",
			    off, strerror(error));
		h->idx = i;
		h->data = hl_node_data(h->n);
		h->buf = hl_node_buffer(h->n);
		hl_lock_sh(hl_node_lock(h->n));
		if (hl_node_check(h->data, r->nsize, msg, sizeof(msg)) != 0)
			FAIL(t, h, "remount: node %#" PRIx64 ": %s", off, msg);
		st_verify(t, h, h->data, "after remount", true);
		hl_unlock(hl_node_lock(h->n));
		hl_rel_node(h->n);
		atomic_fetch_add(&r->main_progress, 1);
	}
	hl_mount_stats(r->m, &st);
	st_check_io(r, io, "after remount", &st);
	st_expect(r, st.read_errors == 0 && st.buffers_referenced == 0,
	    "after remount: %" PRIu64 " read errors, %" PRIu64
	    " buffers referenced",
	    st.read_errors, st.buffers_referenced);
	st_main_phase(r, "unmount (remount)");
	error = hl_mount_close(r->m, why, sizeof(why));
	r->m = NULL;
	st_expect(r, error == 0, "unmount after remount: %s", why);
	hl_io_destroy(io);
	printf("remount: %" PRIu64 " nodes read back, %" PRIu64
	       " buffer loads, all as the shadow says\n",
	    r->nnodes, st.buffer_loads);
}

/*
 * Options
 * -------
 */
static int
st_arg_double(
    const char *opt, const char *arg, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v >= min) ||
	    !(v <= max)) {
		hl_cli_err("stress",
		    "bad %s '%s': a number from %g to %g "
		    "expected",
		    opt, arg, min, max);
		return EINVAL;
	}
	*out = v;
	return 0;
}

static int
st_arg_u64(
    const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (arg[0] == '0' && (arg[1] == 'x' || arg[1] == 'X'))
		v = strtoull(arg + 2, &end, 16);
	else
		v = strtoull(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v < min || v > max) {
		hl_cli_err("stress",
		    "bad %s '%s': an integer from %" PRIu64 " to %" PRIu64
		    " expected",
		    opt, arg, min, max);
		return EINVAL;
	}
	*out = v;
	return 0;
}

enum {
	OPT_SEED = 256,
	OPT_SYNC_MS,
	OPT_WATCHDOG,
	OPT_INJECT,
	OPT_SYNC_FAULTS,
};

static int
st_parse(int argc, char **argv, struct st_cfg *c)
{
	static const struct option longopts[] = {
	    {"threads", required_argument, NULL, 't'},
	    {"seconds", required_argument, NULL, 's'},
	    {"pool-mb", required_argument, NULL, 'p'},
	    {"fail-rate", required_argument, NULL, 'f'},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"sync-ms", required_argument, NULL, OPT_SYNC_MS},
	    {"sync-faults", required_argument, NULL, OPT_SYNC_FAULTS},
	    {"nodes", required_argument, NULL, 'n'},
	    {"watchdog", required_argument, NULL, OPT_WATCHDOG},
	    {"keep", no_argument, NULL, 'k'},
	    {"inject-bug", required_argument, NULL, OPT_INJECT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int ch;

	c->threads = 16;
	c->seconds = 10;
	c->pool_mb = 1;
	c->sync_ms = 50;
	c->sync_faults = 8;
	c->nodes = 4096;
	c->watchdog = 10;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(
		    argc, argv, ":t:s:p:f:n:kh", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (st_arg_u64(
				"--threads", optarg, 1, ST_MAXTHREADS, &v))
				return HL_EXIT_UNUSABLE;
			c->threads = (int)v;
			break;
		case 's':
			if (st_arg_double(
				"--seconds", optarg, 0.01, 1e6, &c->seconds))
				return HL_EXIT_UNUSABLE;
			break;
		case 'p':
			if (st_arg_double("--pool-mb", optarg, 1.0 / 1024,
				1 << 20, &c->pool_mb))
				return HL_EXIT_UNUSABLE;
			break;
		case 'f':
			if (st_arg_double(
				"--fail-rate", optarg, 0, 1, &c->fail_rate))
				return HL_EXIT_UNUSABLE;
			c->fail_ppm = (uint32_t)(c->fail_rate * 1e6 + 0.5);
			if (c->fail_rate > 0 && c->fail_ppm == 0) {
				hl_cli_err("stress",
				    "--fail-rate %s is below "
				    "the backend's 1e-6 step",
				    optarg);
				return HL_EXIT_UNUSABLE;
			}
			break;
		case OPT_SEED:
			if (st_arg_u64(
				"--seed", optarg, 0, UINT64_MAX, &c->seed))
				return HL_EXIT_UNUSABLE;
			break;
		case OPT_SYNC_MS:
			if (st_arg_u64("--sync-ms", optarg, 0, 60000, &v))
				return HL_EXIT_UNUSABLE;
			c->sync_ms = (uint32_t)v;
			break;
		case OPT_SYNC_FAULTS:
			if (st_arg_u64("--sync-faults", optarg, 0, 1000000, &v))
				return HL_EXIT_UNUSABLE;
			c->sync_faults = (uint32_t)v;
			break;
		case 'n':
			if (st_arg_u64(
				"--nodes", optarg, 1, ST_MAXNODES, &c->nodes))
				return HL_EXIT_UNUSABLE;
			c->nodes_set = true;
			break;
		case OPT_WATCHDOG:
			if (st_arg_double(
				"--watchdog", optarg, 1, 1e6, &c->watchdog))
				return HL_EXIT_UNUSABLE;
			break;
		case 'k':
			c->keep = true;
			break;
		case OPT_INJECT:
			if (strcmp(optarg, "skip-modify") == 0) {
				c->inject = INJ_SKIP_MODIFY;
			} else if (strcmp(optarg, "lost-unlock") == 0) {
				c->inject = INJ_LOST_UNLOCK;
			} else {
				hl_cli_err("stress",
				    "unknown --inject-bug '%s' (known: "
				    "skip-modify, lost-unlock)",
				    optarg);
				return HL_EXIT_UNUSABLE;
			}
			break;
		case 'h':
			hl_cli_stress_usage(stdout);
			return -1;
		case ':':
			hl_cli_err("stress", "option %s needs a value",
			    argv[optind - 1]);
			return HL_EXIT_UNUSABLE;
		default:
			if (optopt != 0 && optopt < 256)
				hl_cli_err("stress",
				    "unknown option '-%c' (try 'hammerlock "
				    "stress --help')",
				    optopt);
			else
				hl_cli_err("stress",
				    "unknown option '%s' (try 'hammerlock "
				    "stress --help')",
				    argv[optind - 1]);
			return HL_EXIT_UNUSABLE;
		}
	}
	c->pool_bytes = (uint64_t)(c->pool_mb * 1048576.0);
	if (c->seed == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		c->seed = st_mix(
		    (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec,
		    (uint64_t)getpid());
	}
	return 0;
}

/*
 * Volumes
 * -------
 *
 * The nodes in play are the first K node slots of the data area past the
 * free map (format version 2 puts it in the first slots; the run never
 * touches it, nor marks its own nodes used in it), volume after volume
 * in vol_no order.
 */
static uint64_t
st_first_node(const struct hl_volume_header *vh)
{
	if (vh->freemap_size != 0 &&
	    HL_OFF_SHORT(vh->freemap_offset) == vh->buffer_size)
		return vh->buffer_size + vh->freemap_size;
	return vh->buffer_size;
}

/* The size of a one-volume mount (default geometry) holding n nodes. */
static uint64_t
st_temp_size(uint64_t n)
{
	struct hl_volume_header vh;
	uint32_t per = HL_BUFFER_SIZE_DEFAULT / HL_NODE_SIZE_DEFAULT;
	uint64_t nb = (n + per - 1) / per;

	hl_volhdr_init(&vh);
	for (;; nb++) {
		vh.vol_size = (nb + 1) * HL_BUFFER_SIZE_DEFAULT;
		hl_volhdr_set_freemap(&vh);
		if ((vh.vol_size - st_first_node(&vh)) / vh.node_size >= n)
			return vh.vol_size;
	}
}

static int
st_setup_volumes(struct st_run *r, int nfiles, char **files)
{
	struct hl_volume_header *vh;
	struct hl_newfs_opts o = {0};
	uint64_t cap = 0, i, k;
	char why[512];
	int v, error;

	if (nfiles == 0) {
		const char *tmp = getenv("TMPDIR");

		snprintf(r->tmpdir, sizeof(r->tmpdir),
		    "%s/hammerlock-stress.XXXXXX",
		    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
		if (mkdtemp(r->tmpdir) == NULL) {
			hl_cli_err("stress", "mkdtemp %s: %s", r->tmpdir,
			    strerror(errno));
			r->tmpdir[0] = '\0';
			return HL_EXIT_UNUSABLE;
		}
		snprintf(r->tmppath, sizeof(r->tmppath), "%s/vol0", r->tmpdir);
		o.vol_size = st_temp_size(r->cfg.nodes);
		r->paths = calloc(1, sizeof(*r->paths));
		if (r->paths == NULL)
			return HL_EXIT_UNUSABLE;
		r->paths[0] = r->tmppath;
		r->nvol = 1;
		error = hl_newfs(r->paths, 1, &o, why, sizeof(why));
		if (error != 0) {
			hl_cli_err("stress", "newfs: %s", why);
			return HL_EXIT_UNUSABLE;
		}
	} else {
		r->paths = calloc((size_t)nfiles, sizeof(*r->paths));
		if (r->paths == NULL)
			return HL_EXIT_UNUSABLE;
		for (v = 0; v < nfiles; v++)
			r->paths[v] = files[v];
		r->nvol = nfiles;
	}
	vh = calloc((size_t)r->nvol, sizeof(*vh));
	if (vh == NULL)
		return HL_EXIT_UNUSABLE;
	error = hl_format_probe(r->paths, r->nvol, vh, why, sizeof(why));
	if (error != 0) {
		hl_cli_err("stress", "%s", why);
		free(vh);
		return HL_EXIT_UNUSABLE;
	}
	r->bsize = vh[0].buffer_size;
	r->nsize = vh[0].node_size;
	r->per_buf = r->bsize / r->nsize;
	for (v = 0; v < r->nvol; v++) {
		unsigned no = vh[v].vol_no;

		r->vfirst[no] = st_first_node(&vh[v]);
		r->vcount[no] = (vh[v].vol_size - r->vfirst[no]) / r->nsize;
		cap += r->vcount[no];
	}
	free(vh);
	r->nnodes = r->cfg.nodes;
	if (cap < r->nnodes) {
		if (r->cfg.nodes_set) {
			hl_cli_err("stress",
			    "--nodes %" PRIu64
			    ": the volumes hold only %" PRIu64
			    " nodes (past their free maps)",
			    r->cfg.nodes, cap);
			return HL_EXIT_UNUSABLE;
		}
		r->nnodes = cap;
	}
	r->offs = calloc(r->nnodes, sizeof(*r->offs));
	r->shadow = calloc(r->nnodes, sizeof(*r->shadow));
	if (r->offs == NULL || r->shadow == NULL) {
		hl_cli_err("stress", "out of memory");
		return HL_EXIT_UNUSABLE;
	}
	for (v = 0, k = 0; v < HL_MAX_VOLUMES; v++) {
		uint64_t n = r->vcount[v];

		r->vbase[v] = k;
		if (n > r->nnodes - k)
			n = r->nnodes - k;
		r->vcount[v] = n;
		for (i = 0; i < n; i++)
			r->offs[k++] = HL_OFF_MAKE(
			    (uint64_t)v, r->vfirst[v] + i * r->nsize);
	}
	return 0;
}

/* Distinct buffers holding the nodes in play. */
static uint64_t
st_nbufs(struct st_run *r)
{
	uint64_t i, n = 0, last = 0, mask = ~(uint64_t)(r->bsize - 1);

	for (i = 0; i < r->nnodes; i++)
		if (i == 0 || (r->offs[i] & mask) != last) {
			last = r->offs[i] & mask;
			n++;
		}
	return n;
}

static void
st_cleanup_volume(struct st_run *r)
{
	if (r->tmpdir[0] == '\0')
		return;
	if (r->cfg.keep) {
		printf("volume kept: %s\n", r->tmppath);
		return;
	}
	unlink(r->tmppath);
	rmdir(r->tmpdir);
	r->tmpdir[0] = '\0';
}

static void
st_on_signal(int sig)
{
	(void)sig;
	st_signalled = 1;
}

static int
st_start(pthread_t *tid, void *(*fn)(void *), void *arg)
{
	int error = pthread_create(tid, NULL, fn, arg);

	if (error != 0)
		hl_cli_err("stress", "pthread_create: %s", strerror(error));
	return error;
}

static void
st_print_summary(
    struct st_run *r, const struct hl_mount_stats *st, double elapsed)
{
	struct hl_io_fault_stats fs;
	uint64_t ops = SUM(r, ops);

	hl_io_fault_stats(r->io, &fs);
	printf("\nsummary (%.1f s, %d threads, seed %" PRIu64 "):\n", elapsed,
	    r->cfg.threads, r->cfg.seed);
	printf("  %-20s %12" PRIu64 "  (%.0f/s)\n", "operations", ops,
	    elapsed > 0 ? (double)ops / elapsed : 0.0);
	printf("  %-20s %12" PRIu64 "\n", "single reads", SUM(r, reads));
	printf("  %-20s %12" PRIu64 "\n", "versions written", SUM(r, writes));
	printf("  %-20s %12" PRIu64 "\n", "multi-node ops", SUM(r, multi));
	printf("  %-20s %12" PRIu64 "\n", "extra references", SUM(r, refs));
	printf("  %-20s %12" PRIu64 "\n", "nodes verified", SUM(r, verifies));
	printf("  %-20s %12" PRIu64 "\n", "cache hits", SUM(r, cache_hits));
	printf("  %-20s %12" PRIu64 "\n", "cache misses", SUM(r, cache_misses));
	printf("  %-20s %12" PRIu64 "\n", "buffer checks", SUM(r, buffers));
	printf("  %-20s %12" PRIu64 "\n", "node flushes", SUM(r, flushes));
	printf("  %-20s %12" PRIu64 "\n", "gets: EIO", SUM(r, eio));
	printf("  %-20s %12" PRIu64 "\n", "gets: ENOMEM", SUM(r, enomem));
	printf("  %-20s %12" PRIu64 "\n", "syncs ok", LD(&r->syncs_ok));
	printf("  %-20s %12" PRIu64 "\n", "syncs failed", LD(&r->syncs_failed));
	printf(
	    "  %-20s %12" PRIu64 "\n", "fdatasync faults", LD(&r->sync_faults));
	printf("  %-20s %12" PRIu64 "\n", "pool max seen", LD(&r->pool_max));
	if (r->cfg.inject != INJ_NONE)
		printf("  %-20s %12" PRIu64 "\n", "planted bugs",
		    SUM(r, injected));
	printf("backend: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64
	       " syncs, %" PRIu64 " allocs, %" PRIu64 " frees, %" PRIu64
	       " faults injected\n",
	    fs.reads, fs.writes, fs.syncs, fs.allocs, fs.frees,
	    fs.injected_errors);
	printf("mount statistics after the final sync:\n");
	st_print_stats(st);
}

static int
st_run_all(struct st_run *r, int nfiles, char **files)
{
	struct hl_mount_opts o = {0};
	struct hl_mount_stats st;
	char why[2048], sf[64];
	double t0, elapsed;
	int i, error, rc;

	if ((rc = st_setup_volumes(r, nfiles, files)) != 0)
		return rc;
	if ((error = hl_io_fault_create(NULL, NULL, &r->io)) != 0) {
		hl_cli_err("stress", "hl_io_fault_create: %s", strerror(error));
		return HL_EXIT_UNUSABLE;
	}
	o.io = r->io;
	o.pool_bytes = r->cfg.pool_bytes;
	error = hl_mount_open(r->paths, r->nvol, &o, &r->m, why, sizeof(why));
	if (error != 0) {
		hl_cli_err("stress", "mount: %s", why);
		return HL_EXIT_UNUSABLE;
	}
	r->main.r = r;
	r->main.id = -1;
	r->main.rng = st_mix(r->cfg.seed, 1000000);
	r->main.expect = malloc(r->nsize);
	r->th = calloc((size_t)r->cfg.threads, sizeof(*r->th));
	if (r->main.expect == NULL || r->th == NULL) {
		hl_cli_err("stress", "out of memory");
		return HL_EXIT_UNUSABLE;
	}
	hl_trans_init(&r->main.tr, r->m);
	printf("stress: seed %" PRIu64 ", %d threads, %.1f s, pool %" PRIu64
	       " bytes (%" PRIu64 " buffers), %" PRIu64
	       " nodes of %u bytes in %" PRIu64 " buffers of %u\n",
	    r->cfg.seed, r->cfg.threads, r->cfg.seconds, r->cfg.pool_bytes,
	    r->cfg.pool_bytes / r->bsize, r->nnodes, r->nsize, st_nbufs(r),
	    r->bsize);
	if (r->cfg.fail_ppm != 0 && r->cfg.sync_faults != 0)
		snprintf(sf, sizeof(sf), "an fdatasync fault in 1 sync in %u",
		    r->cfg.sync_faults);
	else
		snprintf(sf, sizeof(sf), "no fdatasync fault");
	printf("stress: fail rate %g (%u ppm per read/write call; %s), sync "
	       "every %u ms, watchdog %.0f s, volume%s:",
	    r->cfg.fail_rate, r->cfg.fail_ppm, sf, r->cfg.sync_ms,
	    r->cfg.watchdog, r->nvol > 1 ? "s" : "");
	for (i = 0; i < r->nvol; i++)
		printf(" %s", r->paths[i]);
	printf("\n");
	if (r->cfg.inject == INJ_SKIP_MODIFY)
		printf("stress: planting bug: some writes skip "
		       "hl_modify_node()\n");
	if (r->cfg.inject == INJ_LOST_UNLOCK)
		printf("stress: planting bug: thread 0 will keep a node "
		       "locked\n");
	fflush(stdout);
	for (i = 0; i < r->cfg.threads; i++) {
		struct st_thread *t = &r->th[i];

		t->r = r;
		t->id = i;
		t->rng = st_mix(r->cfg.seed, (uint64_t)i);
		t->expect = malloc(r->nsize);
		if (t->expect == NULL) {
			hl_cli_err("stress", "out of memory");
			return HL_EXIT_UNUSABLE;
		}
		hl_trans_init(&t->tr, r->m);
	}
	r->syncer.r = r;
	r->syncer.id = r->cfg.threads;
	r->syncer.rng = st_mix(r->cfg.seed, 999999);
	if (st_start(&r->wd_tid, st_watchdog, r) != 0)
		return HL_EXIT_UNUSABLE;
	r->wd_started = true;
	st_populate(r);
	printf("stress: %" PRIu64 " nodes written (version 0) and synced\n",
	    r->nnodes);
	fflush(stdout);

	if (r->cfg.fail_ppm != 0)
		st_faults(r, true, 0);
	t0 = st_now();
	if (st_start(&r->mon_tid, st_monitor, r) != 0)
		return HL_EXIT_UNUSABLE;
	for (i = 0; i < r->cfg.threads; i++)
		if (st_start(&r->th[i].tid, st_worker, &r->th[i]) != 0)
			abort(); /* cannot unwind running threads */
	if (r->cfg.sync_ms != 0 &&
	    st_start(&r->sync_tid, st_syncer, &r->syncer) != 0)
		abort();
	st_main_phase(r, "running");
	atomic_store(&r->running, true);
	while (!atomic_load(&r->stop) && st_now() - t0 < r->cfg.seconds)
		st_sleep_ms(20);
	atomic_store(&r->running, false);
	atomic_store(&r->stop, true);
	pthread_mutex_lock(&r->kick_mtx);
	pthread_cond_broadcast(&r->kick_cv);
	pthread_cond_broadcast(&r->done_cv);
	pthread_mutex_unlock(&r->kick_mtx);
	st_main_phase(r, "joining");
	for (i = 0; i < r->cfg.threads; i++)
		pthread_join(r->th[i].tid, NULL);
	if (r->cfg.sync_ms != 0)
		pthread_join(r->sync_tid, NULL);
	elapsed = st_now() - t0;
	atomic_store(&r->mon_stop, true);
	pthread_join(r->mon_tid, NULL);
	if (st_signalled)
		printf("stress: interrupted after %.1f s\n", elapsed);

	/* At rest, faults still on. */
	hl_mount_stats(r->m, &st);
	st_check_rest(r, &st);
	printf("stress: at rest: %" PRIu64 " buffers resident, %" PRIu64
	       " modified, %" PRIu64 " with a failed write\n",
	    st.buffers_resident, st.buffers_modified, st.buffers_ioerror);

	/* The final sync, without faults, must succeed. */
	st_faults(r, false, 0);
	st_sync_main(r, "final sync");
	hl_mount_stats(r->m, &st);
	st_check_final(r, &st);
	st_print_summary(r, &st, elapsed);
	fflush(stdout);

	st_main_phase(r, "unmount");
	error = hl_mount_close(r->m, why, sizeof(why));
	r->m = NULL;
	st_expect(r, error == 0, "unmount: %s", why);
	hl_io_destroy(r->io);
	r->io = NULL;

	st_remount_verify(r);
	return r->failures != 0 ? HL_EXIT_DAMAGED : HL_EXIT_OK;
}

int
hl_cli_stress(int argc, char **argv)
{
	struct sigaction sa, oldint, oldterm;
	struct st_run *r;
	int rc, i;

	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		hl_cli_err("stress", "out of memory");
		return HL_EXIT_UNUSABLE;
	}
	rc = st_parse(argc, argv, &r->cfg);
	if (rc != 0) {
		free(r);
		return rc < 0 ? HL_EXIT_OK : rc;
	}
	r->tty = isatty(STDERR_FILENO);
	{
		pthread_condattr_t ca;

		pthread_mutex_init(&r->kick_mtx, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&r->kick_cv, &ca);
		pthread_cond_init(&r->done_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = st_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &oldint);
	sigaction(SIGTERM, &sa, &oldterm);

	rc = st_run_all(r, argc - optind, argv + optind);

	sigaction(SIGINT, &oldint, NULL);
	sigaction(SIGTERM, &oldterm, NULL);
	if (r->wd_started) {
		atomic_store(&r->wd_stop, true);
		pthread_join(r->wd_tid, NULL);
	}
	if (rc == HL_EXIT_UNUSABLE && r->m != NULL) {
		hl_mount_close(r->m, NULL, 0);
		r->m = NULL;
	}
	if (r->io != NULL)
		hl_io_destroy(r->io);
	if (rc != HL_EXIT_DAMAGED)
		st_cleanup_volume(r);
	else
		st_replay(r);
	if (rc != HL_EXIT_UNUSABLE)
		printf("%s\n", rc == HL_EXIT_OK ? "PASS" : "FAIL");
	fflush(stdout);
	if (r->th != NULL)
		for (i = 0; i < r->cfg.threads; i++)
			free(r->th[i].expect);
	free(r->th);
	free(r->main.expect);
	free(r->offs);
	free(r->shadow);
	free(r->paths);
	pthread_cond_destroy(&r->kick_cv);
	pthread_cond_destroy(&r->done_cv);
	pthread_mutex_destroy(&r->kick_mtx);
	free(r);
	return rc;
}
