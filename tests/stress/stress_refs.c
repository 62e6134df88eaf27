/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stress_refs.c - the refs word and its client protocol under load.
 *
 * A handful of cached objects, so that threads collide, each with a
 * struct hl_lock, a `loaded' flag and a payload.  Oversubscribed worker
 * threads get objects through the documented protocol (hl_ref_interlock;
 * on true a slow, sometimes failing loader), use them, sometimes take an
 * extra plain reference or a nested get, and release them (the 1->0
 * release unloads, or keeps the data cached).  At the same time:
 *
 *   - a reclaimer drops the memory of idle objects with
 *     hl_try_interlock_norefs() + hl_put_interlock();
 *   - invalidators, holding a reference, take hl_get_interlock(), mark the
 *     object invalid and give the interlock back with an error, so CHECK
 *     stays set while references remain and the next get must reload.
 *
 * Invariants, checked where they must hold (inside the interlock, or at
 * the moment a get returns):
 *
 *   1. at most one thread is inside an interlocked section of an object
 *      (load, unload, reclaim, invalidate), and at most one is loading;
 *   2. a get that returned, true or false, sees the object loaded with a
 *      consistent payload of the latest load, unless an invalidation
 *      started since the get began (a reference held across an
 *      invalidation may legitimately see invalid data);
 *   3. nobody unloads or reclaims while another holder uses the object;
 *   4. after a failed load with references remaining, the next get
 *      returns true and retries (a get returning false then is a bug),
 *      and such retries happen;
 *   5. an invalidator's next get on the object returns true, or finds it
 *      reloaded by someone else;
 *   6. loads minus drops equals the final `loaded' state of each object,
 *      and every refs word is back to exactly 0 at the end.
 *
 * Before the run, a deterministic probe plays the reclaim race once: a
 * get that sleeps behind the reclaimer's interlock must not return false
 * on the object the reclaimer has just dropped.
 *
 * Options: --seed N (or HL_SEED), HL_THREADS (workers, default 16),
 * HL_SECONDS (default 3), --fail-pct N (injected load failures, default
 * 10), HL_RECLAIM_ERR=0|1 (see reclaim_error() below).
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOBJ	     6
#define NINVAL	     2
#define MAX_WORKERS  256
#define PAYLOAD_SALT 0x9e3779b97f4a7c15ull

/*
 * The reclaimer's hl_put_interlock() error after dropping an object: 1, as
 * the reclaim protocol in hammerlock/refs.h requires.  HL_RECLAIM_ERR=0
 * runs the broken protocol, which the test must reject (a CTest case
 * expects that failure).  See reclaim_error().
 */
#define RECLAIM_ERR_DEFAULT 1

struct obj {
	struct hl_lock lk;
	char name[16];
	_Atomic int loaded;	 /* payload present and valid */
	_Atomic int evicted;	 /* memory dropped by the reclaimer */
	_Atomic uint64_t p1, p2; /* payload: p2 == payload_mix(p1) */
	_Atomic uint64_t lgen;	 /* generation written by the last load */
	_Atomic int users;	 /* gets returned and not yet released */
	_Atomic int inside;	 /* threads in an interlocked section */
	_Atomic int loaders;	 /* threads in the loader */
	_Atomic uint64_t igen;	 /* invalidations started */
	_Atomic int iactive;	 /* invalidations in progress */
	_Atomic int must_retry;	 /* a load failed with references left */
	_Atomic uint64_t fails;	 /* failed loads */
	_Atomic uint64_t loads;	 /* real loads (loaded 0->1) */
	_Atomic uint64_t drops;	 /* loaded 1->0 by anyone */
};

/* Per-run totals, summed from the threads' local counts. */
struct counts {
	uint64_t gets, gets_true, loads, revalidations, failed, unloads;
	uint64_t cached, reclaims, evictions, invals, retries, waiter_retries;
	uint64_t nested;
	uint64_t extra_refs, inval_reget_true, inval_reget_false;
};

static struct obj objs[NOBJ];
static atomic_bool stop;
static int fail_pct = 10;
static int reclaim_err;
static pthread_mutex_t tot_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct counts tot;

/* A view of an object taken just before a get: see check_view(). */
struct view {
	uint64_t igen;
	int iactive;
	uint64_t fails; /* failed loads of the object so far */
};

static uint64_t
payload_mix(uint64_t v)
{
	return (v * PAYLOAD_SALT) ^ (v >> 7) ^ 0x5bd1e995u;
}

static void
add_counts(const struct counts *c)
{
	pthread_mutex_lock(&tot_mtx);
	tot.gets += c->gets;
	tot.gets_true += c->gets_true;
	tot.loads += c->loads;
	tot.revalidations += c->revalidations;
	tot.failed += c->failed;
	tot.unloads += c->unloads;
	tot.cached += c->cached;
	tot.reclaims += c->reclaims;
	tot.evictions += c->evictions;
	tot.invals += c->invals;
	tot.retries += c->retries;
	tot.waiter_retries += c->waiter_retries;
	tot.nested += c->nested;
	tot.extra_refs += c->extra_refs;
	tot.inval_reget_true += c->inval_reget_true;
	tot.inval_reget_false += c->inval_reget_false;
	pthread_mutex_unlock(&tot_mtx);
}

/*
 * The reclaimer's hl_put_interlock() error after it dropped the object's
 * memory.  A non-zero error, as hammerlock/refs.h requires (and the seed's
 * buffer-deallocate path does), keeps CHECK set for a thread that
 * referenced the object while it was being dropped.  HL_RECLAIM_ERR=0
 * selects the broken protocol, which the probe in main() must catch.
 */
static int
reclaim_error(void)
{
	return reclaim_err ? EIO : 0;
}

/* Enter/leave a section that only the interlock holder may be in. */
static void
ilk_enter(struct obj *o, const char *what)
{
	int n = atomic_fetch_add(&o->inside, 1);
	uint32_t lv = atomic_load(&o->lk.refs);

	HT_CHECK(n == 0, "%s %s: %d other thread(s) in an interlocked section",
	    o->name, what, n);
	HT_CHECK(lv & HL_REFS_LOCKED, "%s %s: interlock not held: refs %#x",
	    o->name, what, lv);
}

static void
ilk_exit(struct obj *o)
{
	atomic_fetch_sub(&o->inside, 1);
}

/* Set loaded to 0 (under the interlock), counting a 1->0 drop. */
static bool
mark_unloaded(struct obj *o)
{
	if (atomic_exchange(&o->loaded, 0) == 1) {
		atomic_fetch_add(&o->drops, 1);
		return true;
	}
	return false;
}

static void
view_begin(struct obj *o, struct view *v)
{
	v->igen = atomic_load(&o->igen);
	v->iactive = atomic_load(&o->iactive);
	v->fails = atomic_load(&o->fails);
}

/*
 * Check what a holder sees.  Exact unless an invalidation ran since
 * view_begin(): the fields are read first and the invalidation
 * generation after, so data written by a reload that followed an
 * invalidation is only seen together with that invalidation's bump.
 */
static void
check_view(struct obj *o, const struct view *v, const char *what, bool got_true)
{
	int lo = atomic_load(&o->loaded);
	int ev = atomic_load(&o->evicted);
	uint64_t a = atomic_load(&o->p1);
	uint64_t b = atomic_load(&o->p2);
	uint64_t lg = atomic_load(&o->lgen);

	if (v->iactive != 0 || atomic_load(&o->igen) != v->igen)
		return;
	HT_CHECK(lo == 1,
	    "%s: %s (get returned %s) sees the object unloaded "
	    "(evicted=%d refs=%#x)",
	    o->name, what, got_true ? "true" : "false", ev,
	    atomic_load(&o->lk.refs));
	HT_CHECK(ev == 0, "%s: %s sees an evicted object", o->name, what);
	HT_CHECK(a != 0 && b == payload_mix(a),
	    "%s: %s sees a torn or empty payload %#llx/%#llx", o->name, what,
	    (unsigned long long)a, (unsigned long long)b);
	HT_CHECK(a == lg, "%s: %s sees payload gen %llu, last load %llu",
	    o->name, what, (unsigned long long)a, (unsigned long long)lg);
}

/*
 * The loader, called holding the interlock after hl_ref_interlock()
 * returned true.  Idempotent: a loaded object is only revalidated.
 * Returns 0 or EIO (injected failure).
 */
static int
load(struct obj *o, uint64_t *rng, struct counts *c)
{
	int n = atomic_fetch_add(&o->loaders, 1);
	uint64_t g;
	int error = 0;

	HT_CHECK(n == 0, "%s: %d other loader(s) in progress", o->name, n);
	if (atomic_load(&o->loaded)) {
		uint64_t a = atomic_load(&o->p1);

		HT_CHECK(a != 0 && atomic_load(&o->p2) == payload_mix(a),
		    "%s: revalidation finds a bad payload", o->name);
		c->revalidations++;
		goto out;
	}
	ht_spin_pause(rng, 2000, 8);
	g = atomic_load(&o->lgen) + 1;
	atomic_store(&o->p1, g); /* half-written until p2 */
	if ((int)ht_rand_below(rng, 100) < fail_pct) {
		error = EIO;
		goto out;
	}
	ht_spin_pause(rng, 500, 8);
	atomic_store(&o->p2, payload_mix(g));
	atomic_store(&o->lgen, g);
	atomic_store(&o->evicted, 0);
	atomic_store(&o->loaded, 1);
	atomic_fetch_add(&o->loads, 1);
	c->loads++;
out:
	atomic_fetch_sub(&o->loaders, 1);
	return error;
}

/* Undo a partial load or unload: clear the payload and `loaded'. */
static void
unload(struct obj *o)
{
	mark_unloaded(o);
	atomic_store(&o->p1, 0);
	atomic_store(&o->p2, 0);
}

/* Results of get(). */
#define GET_FAILED (-1) /* the load failed: no reference is held */
#define GET_FALSE  0	/* hl_ref_interlock() returned false */
#define GET_TRUE   1	/* it returned true and this thread loaded */

/*
 * Get a reference with the client protocol, recording in *v the view
 * taken before it (for later checks while the reference is held).
 */
static int
get(struct obj *o, uint64_t *rng, struct counts *c, const char *what,
    struct view *v)
{
	bool r;

	view_begin(o, v);
	c->gets++;
	r = hl_ref_interlock(&o->lk);
	if (r) {
		c->gets_true++;
		ilk_enter(o, "load");
		HT_CHECK(atomic_load(&o->lk.refs) & HL_REFS_CHECK,
		    "%s: true without CHECK: refs %#x", o->name,
		    atomic_load(&o->lk.refs));
		if (atomic_exchange(&o->must_retry, 0)) {
			c->retries++;
			/* Was this thread already in its get when it failed? */
			if (atomic_load(&o->fails) != v->fails)
				c->waiter_retries++;
		}
		if (load(o, rng, c) != 0) {
			c->failed++;
			atomic_fetch_add(&o->fails, 1);
			HT_CHECK(hl_rel_interlock(&o->lk, true),
			    "%s: hl_rel_interlock(locked) returned false",
			    o->name);
			unload(o);
			/* Whoever referenced it meanwhile must retry. */
			if (hl_isactive(&o->lk) != 0)
				atomic_store(&o->must_retry, 1);
			ilk_exit(o);
			hl_rel_interlock_done(&o->lk, true);
			return GET_FAILED;
		}
		ilk_exit(o);
		hl_ref_interlock_done(&o->lk);
	} else if (atomic_load(&o->must_retry) && v->iactive == 0 &&
		   atomic_load(&o->igen) == v->igen) {
		HT_CHECK(false,
		    "%s: %s: get returned false while a failed load "
		    "awaits a retry (refs %#x)",
		    o->name, what, atomic_load(&o->lk.refs));
	}
	atomic_fetch_add(&o->users, 1);
	check_view(o, v, what, r);
	return r ? GET_TRUE : GET_FALSE;
}

/* Release with the protocol; the 1->0 release unloads or keeps a cache. */
static void
release(struct obj *o, uint64_t *rng, struct counts *c)
{
	int u = atomic_fetch_sub(&o->users, 1);

	HT_CHECK(u > 0, "%s: users underflow", o->name);
	if (!hl_rel_interlock(&o->lk, false))
		return;
	ilk_enter(o, "unload");
	u = atomic_load(&o->users);
	HT_CHECK(u == 0, "%s: unload with %d user(s) holding it", o->name, u);
	atomic_store(&o->must_retry, 0);
	if (ht_rand_below(rng, 2) == 0) {
		unload(o);
		c->unloads++;
	} else {
		c->cached++;
	}
	ilk_exit(o);
	hl_rel_interlock_done(&o->lk, false);
}

static void *
worker(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg;
	struct counts c = {0};

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct obj *o = &objs[ht_rand_below(&rng, NOBJ)];
		struct view v, nv;

		if (get(o, &rng, &c, "worker get", &v) == GET_FAILED)
			continue;
		ht_spin_pause(&rng, 300, 8);
		switch (ht_rand_below(&rng, 4)) {
		case 0: /* extra plain reference while holding one */
			hl_ref(&o->lk);
			c.extra_refs++;
			ht_spin_pause(&rng, 200, 8);
			hl_rel(&o->lk);
			break;
		case 1: /* nested get: re-validates after an invalidation */
			if (get(o, &rng, &c, "nested get", &nv) != GET_FAILED) {
				c.nested++;
				ht_spin_pause(&rng, 200, 8);
				release(o, &rng, &c);
			}
			break;
		default:
			break;
		}
		/* Still held: good unless invalidated since the get began. */
		check_view(o, &v, "worker use", false);
		release(o, &rng, &c);
	}
	add_counts(&c);
	return NULL;
}

static void *
invalidator(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg;
	struct counts c = {0};

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct obj *o = &objs[ht_rand_below(&rng, NOBJ)];
		struct view v;
		uint64_t lg0;
		int r;

		if (get(o, &rng, &c, "invalidator get", &v) == GET_FAILED)
			continue;
		ht_spin_pause(&rng, 300, 8);
		(void)hl_get_interlock(&o->lk);
		ilk_enter(o, "invalidate");
		atomic_fetch_add(&o->iactive, 1);
		atomic_fetch_add(&o->igen, 1);
		mark_unloaded(o);
		lg0 = atomic_load(&o->lgen);
		c.invals++;
		ilk_exit(o);
		hl_put_interlock(&o->lk, EIO);
		atomic_fetch_sub(&o->iactive, 1);

		/*
		 * We still hold a reference and CHECK is set: our next get
		 * must load, unless another holder reloaded it first.
		 */
		r = get(o, &rng, &c, "get after invalidation", &v);
		if (r == GET_FALSE) {
			uint64_t lg = atomic_load(&o->lgen);

			c.inval_reget_false++;
			HT_CHECK(lg > lg0,
			    "%s: get after an invalidation returned false "
			    "but nobody reloaded (gen %llu)",
			    o->name, (unsigned long long)lg);
		} else {
			c.inval_reget_true++;
		}
		if (r != GET_FAILED)
			release(o, &rng, &c);
		release(o, &rng, &c);
		if (ht_rand_below(&rng, 4) == 0)
			sched_yield();
	}
	add_counts(&c);
	return NULL;
}

static void *
reclaimer(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg;
	struct counts c = {0};

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct obj *o = &objs[ht_rand_below(&rng, NOBJ)];
		int u;

		if (!hl_try_interlock_norefs(&o->lk)) {
			if (ht_rand_below(&rng, 4) == 0)
				sched_yield();
			continue;
		}
		ilk_enter(o, "reclaim");
		u = atomic_load(&o->users);
		HT_CHECK(u == 0, "%s: reclaim with %d user(s)", o->name, u);
		HT_CHECK(atomic_load(&o->must_retry) == 0,
		    "%s: idle object still owes a retry", o->name);
		if (mark_unloaded(o))
			c.evictions++;
		atomic_store(&o->evicted, 1);
		atomic_store(&o->p1, 0);
		atomic_store(&o->p2, 0);
		c.reclaims++;
		/* Let getters pile up behind the interlock now and then. */
		ht_spin_pause(&rng, 1000, 8);
		ilk_exit(o);
		hl_put_interlock(&o->lk, reclaim_error());
	}
	add_counts(&c);
	return NULL;
}

static void
dump_objs(void)
{
	for (int i = 0; i < NOBJ; i++) {
		struct obj *o = &objs[i];

		fprintf(stderr,
		    "  %s: refs=%#x loaded=%d evicted=%d users=%d inside=%d "
		    "loaders=%d igen=%llu iactive=%d must_retry=%d "
		    "lgen=%llu\n",
		    o->name, atomic_load(&o->lk.refs), atomic_load(&o->loaded),
		    atomic_load(&o->evicted), atomic_load(&o->users),
		    atomic_load(&o->inside), atomic_load(&o->loaders),
		    (unsigned long long)atomic_load(&o->igen),
		    atomic_load(&o->iactive), atomic_load(&o->must_retry),
		    (unsigned long long)atomic_load(&o->lgen));
	}
}

static void
obj_init(struct obj *o, int i)
{
	memset(o, 0, sizeof(*o));
	hl_lock_init(&o->lk);
	snprintf(o->name, sizeof(o->name), "obj%d", i);
}

/* Deterministic probe of the reclaim race. */
static struct obj probe_obj;
static atomic_int probe_true = -1;
static atomic_int probe_loaded = -1;

static void *
probe_getter(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg;
	struct counts c = {0};
	struct obj *o = &probe_obj;
	bool r;

	/* The reclaimer holds the interlock: this sleeps, then returns. */
	r = hl_ref_interlock(&o->lk);
	atomic_store(&probe_loaded, atomic_load(&o->loaded));
	atomic_store(&probe_true, r);
	if (r) {
		ilk_enter(o, "probe load");
		HT_CHECK(load(o, &rng, &c) == 0, "probe: load failed");
		ilk_exit(o);
		hl_ref_interlock_done(&o->lk);
	}
	atomic_fetch_add(&o->users, 1);
	release(o, &rng, &c);
	return NULL;
}

static void
probe_reclaim_race(uint64_t seed)
{
	struct obj *o = &probe_obj;
	struct counts c = {0};
	uint64_t rng = ht_rng_stream(seed, 1000);
	int saved_fail = fail_pct;
	struct view v;
	pthread_t t;

	obj_init(o, 99);
	snprintf(o->name, sizeof(o->name), "probe");
	ht_watch_lock("probe", &o->lk);
	fail_pct = 0;

	/* Load it once and release it cached: idle, loaded. */
	HT_CHECK(get(o, &rng, &c, "probe get", &v) == GET_TRUE,
	    "probe: first get must load");
	atomic_fetch_sub(&o->users, 1);
	HT_CHECK(hl_rel_interlock(&o->lk, false), "probe 1->0");
	hl_rel_interlock_done(&o->lk, false);

	/* The reclaimer takes it and drops the memory... */
	HT_CHECK(hl_try_interlock_norefs(&o->lk), "probe: norefs failed");
	mark_unloaded(o);
	atomic_store(&o->evicted, 1);
	atomic_store(&o->p1, 0);
	atomic_store(&o->p2, 0);

	/* ...while a getter references it and sleeps behind the interlock. */
	if (pthread_create(&t, NULL, probe_getter,
		(void *)(uintptr_t)ht_rng_stream(seed, 1001)) != 0)
		HT_CHECK(false, "pthread_create");
	while (
	    (atomic_load(&o->lk.refs) &
		(HL_REFS_COUNT_MASK | HL_REFS_WANTED)) != (1 | HL_REFS_WANTED))
		sched_yield();
	hl_put_interlock(&o->lk, reclaim_error());
	pthread_join(t, NULL);
	HT_CHECK(atomic_load(&probe_true) == 1 || atomic_load(&probe_loaded),
	    "reclaim race: a get that slept behind the reclaimer's "
	    "interlock returned false on the object the reclaimer had just "
	    "dropped (hl_put_interlock(l, %d) after drop_memory; the "
	    "reclaim protocol requires a non-zero error); its caller would "
	    "use unloaded data",
	    reclaim_error());
	HT_CHECK(atomic_load(&o->lk.refs) == 0, "probe refs %#x",
	    atomic_load(&o->lk.refs));
	fail_pct = saved_fail;
	printf("probe: a get racing a reclaim reloads the dropped object\n");
}

int
main(int argc, char **argv)
{
	uint64_t seed = ht_seed(argc, argv);
	int nworkers = ht_threads_from_env(16);
	double secs = ht_seconds_from_env(3.0);
	const char *e = getenv("HL_RECLAIM_ERR");
	pthread_t th[MAX_WORKERS + NINVAL + 1];
	struct hl_lock_stats st;
	struct timespec ts;
	int nth = 0;

	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--fail-pct") == 0)
			fail_pct = atoi(argv[i + 1]);
	if (nworkers < 1)
		nworkers = 1;
	if (nworkers > MAX_WORKERS)
		nworkers = MAX_WORKERS;
	reclaim_err = e != NULL ? atoi(e) != 0 : RECLAIM_ERR_DEFAULT;
	printf("stress_refs: %d workers, %d invalidators, 1 reclaimer, %d "
	       "objects, %.1f s, fail %d%%, backend %s%s, reclaim put "
	       "error %d\n",
	    nworkers, NINVAL, NOBJ, secs, fail_pct, hl_sleep_backend(),
	    hl_debug_enabled() ? " (debug)" : "", reclaim_error());
	fflush(stdout);

	for (int i = 0; i < NOBJ; i++) {
		obj_init(&objs[i], i);
		ht_watch_lock(objs[i].name, &objs[i].lk);
	}
	ht_watchdog_start(secs * 2 + 30, dump_objs);

	probe_reclaim_race(seed);

	for (int i = 0; i < nworkers; i++)
		if (pthread_create(&th[nth++], NULL, worker,
			(void *)(uintptr_t)ht_rng_stream(seed, (uint64_t)i)) !=
		    0)
			HT_CHECK(false, "pthread_create worker %d", i);
	for (int i = 0; i < NINVAL; i++)
		if (pthread_create(&th[nth++], NULL, invalidator,
			(void *)(uintptr_t)ht_rng_stream(
			    seed, 500 + (uint64_t)i)) != 0)
			HT_CHECK(false, "pthread_create invalidator");
	if (pthread_create(&th[nth++], NULL, reclaimer,
		(void *)(uintptr_t)ht_rng_stream(seed, 900)) != 0)
		HT_CHECK(false, "pthread_create reclaimer");

	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	ht_watchdog_stop();

	for (int i = 0; i < NOBJ; i++) {
		struct obj *o = &objs[i];
		uint64_t loads = atomic_load(&o->loads);
		uint64_t drops = atomic_load(&o->drops);
		int lo = atomic_load(&o->loaded);

		HT_CHECK(atomic_load(&o->lk.refs) == 0, "%s: final refs %#x",
		    o->name, atomic_load(&o->lk.refs));
		HT_CHECK(atomic_load(&o->lk.lockval) == 0 &&
			     atomic_load(&o->lk.rowner) == 0,
		    "%s: lockval %#x rowner %#lx", o->name,
		    atomic_load(&o->lk.lockval),
		    (unsigned long)atomic_load(&o->lk.rowner));
		HT_CHECK(atomic_load(&o->users) == 0 &&
			     atomic_load(&o->inside) == 0 &&
			     atomic_load(&o->loaders) == 0 &&
			     atomic_load(&o->iactive) == 0,
		    "%s: bookkeeping not back to 0", o->name);
		HT_CHECK(atomic_load(&o->must_retry) == 0,
		    "%s: a failed load was never retried", o->name);
		HT_CHECK(loads - drops == (uint64_t)lo,
		    "%s: %llu loads, %llu drops, loaded=%d", o->name,
		    (unsigned long long)loads, (unsigned long long)drops, lo);
	}

	hl_lock_stats_get(&st);
	printf("gets %llu (true %llu), loads %llu, revalidations %llu, "
	       "failed loads %llu, unloads %llu, cached releases %llu\n",
	    (unsigned long long)tot.gets, (unsigned long long)tot.gets_true,
	    (unsigned long long)tot.loads,
	    (unsigned long long)tot.revalidations,
	    (unsigned long long)tot.failed, (unsigned long long)tot.unloads,
	    (unsigned long long)tot.cached);
	printf("reclaims %llu (evictions %llu), invalidations %llu "
	       "(re-get true %llu, false %llu), retries after failure %llu "
	       "(%llu by threads already waiting), "
	       "nested gets %llu, extra refs %llu\n",
	    (unsigned long long)tot.reclaims, (unsigned long long)tot.evictions,
	    (unsigned long long)tot.invals,
	    (unsigned long long)tot.inval_reget_true,
	    (unsigned long long)tot.inval_reget_false,
	    (unsigned long long)tot.retries,
	    (unsigned long long)tot.waiter_retries,
	    (unsigned long long)tot.nested, (unsigned long long)tot.extra_refs);
	printf("refs sleeps %llu, refs wakeups %llu\n",
	    (unsigned long long)st.refs_sleeps,
	    (unsigned long long)st.refs_wakeups);

	/* The run must have exercised what it claims to check. */
	HT_CHECK(
	    tot.loads > 0 && tot.invals > 0, "nothing loaded or invalidated");
	/* With very many workers, objects are hardly ever idle. */
	HT_CHECK(tot.reclaims > 0 || nworkers > 32, "nothing reclaimed");
	if (fail_pct > 0) {
		HT_CHECK(tot.failed > 0, "no load failed at %d%%", fail_pct);
		HT_CHECK(tot.waiter_retries > 0,
		    "no waiting get retried a failed load (%llu failures, "
		    "%llu retries)",
		    (unsigned long long)tot.failed,
		    (unsigned long long)tot.retries);
	}
	ht_pass("stress_refs", 2);
	return 0;
}
