/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_refs.c - cost of a reference/release cycle in libhammerlock,
 * against a bare atomic counter, the pre-seed HAMMER scheme and a mutex.
 *
 * Every number is nanoseconds per cycle, a cycle being one reference plus
 * one release (see bench/README.md for what each case does).  The cases
 * are run in three configurations: one thread, two threads on one shared
 * object, and two threads each on its own object.  Repetitions are
 * interleaved (for each repetition, every configuration and every case
 * once), so a slow phase of the host hits all cases alike; the median,
 * minimum and maximum over the repetitions are reported, with the ratio
 * of the median to the floor's median in the same configuration.
 *
 * This is a benchmark, not a test: it prints numbers and exits 0, or 2 on
 * a usage error.  Suspicious final object states are printed as warnings.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <hammerlock.h>

#define MAX_REPS       1000
#define DEF_REPS       7
#define DEF_ITERS      10000000ull /* cycles per repetition, 1 thread */
#define DEF_ITERS2_DIV 1	   /* 2 threads: iters / this per thread */
#define DEF_MAX_MS     1000	   /* per measurement, 2 threads */
#define QUICK_ITERS    20000ull
#define CHUNK	       1024 /* cycles between stop checks (2 threads) */
#define NOINLINE       __attribute__((noinline))

/*
 * One benchmark object.  Every case uses its own fields; cases never run
 * at the same time, so they may share the object.  The alignment keeps
 * the two objects of the "own" configuration on separate cache lines
 * (and separate adjacent-line prefetch pairs).
 */
struct bench_obj {
	alignas(128) struct hl_lock lk; /* hl_* cases and the pre-seed case */
	_Atomic uint32_t counter;	/* floor */
	_Atomic int loaded;		/* pre-seed: "ondisk != NULL" */
	_Atomic int loading;		/* pre-seed: io.loading */
	uint32_t mcount;		/* mutex case, under mtx */
	pthread_mutex_t mtx;
};

static struct bench_obj objs[2];

/* ------------------------------------------------------------------ */
/* Case 1: floor, a bare atomic increment and decrement. */

static void
floor_setup(struct bench_obj *o)
{
	atomic_store(&o->counter, 0);
}

static NOINLINE void
floor_loop(struct bench_obj *o, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		atomic_fetch_add_explicit(&o->counter, 1, memory_order_acquire);
		atomic_fetch_sub_explicit(&o->counter, 1, memory_order_release);
	}
}

static const char *
floor_final(struct bench_obj *o)
{
	return atomic_load(&o->counter) == 0 ? NULL : "counter != 0";
}

/* ------------------------------------------------------------------ */
/* Shared helpers of the hl_* cases. */

/* Reset the lock and hold one loaded reference (the base reference). */
static void
base_ref_setup(struct bench_obj *o)
{
	hl_lock_init(&o->lk);
	(void)hl_ref_interlock_true(&o->lk);
	hl_ref_interlock_done(&o->lk);
}

/* Expect exactly the base reference, then drop it (unload path). */
static const char *
base_ref_final(struct bench_obj *o)
{
	uint32_t lv = atomic_load(&o->lk.refs);

	if (lv != 1)
		return "refs word is not exactly the base reference";
	if (hl_rel_interlock(&o->lk, false))
		hl_rel_interlock_done(&o->lk, false);
	return atomic_load(&o->lk.refs) == 0 ? NULL : "refs != 0 at the end";
}

static void
zero_setup(struct bench_obj *o)
{
	hl_lock_init(&o->lk);
}

static const char *
zero_final(struct bench_obj *o)
{
	if (atomic_load(&o->lk.refs) != 0)
		return "refs word != 0 at the end";
	if (atomic_load(&o->lk.lockval) != 0)
		return "lockval != 0 at the end";
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Case 2: hl_ref + hl_rel with a base reference held (inline paths). */

static NOINLINE void
ref_rel_loop(struct bench_obj *o, uint64_t n)
{
	struct hl_lock *l = &o->lk;

	for (uint64_t i = 0; i < n; i++) {
		hl_ref(l);
		hl_rel(l);
	}
}

/*
 * Cases 3 and 4: the get/release protocol of hammerlock/refs.h, with an
 * empty load and unload.  With a base reference held (case 3) both calls
 * take the inline N->N+1 / N+1->N paths and return false; from an
 * unreferenced object (case 4) every cycle is 0->1 (true, load, done) and
 * 1->0 (true, unload, done).  Two threads on one object mix the two.
 */
static NOINLINE void
interlock_loop(struct bench_obj *o, uint64_t n)
{
	struct hl_lock *l = &o->lk;

	for (uint64_t i = 0; i < n; i++) {
		if (hl_ref_interlock(l))
			hl_ref_interlock_done(l);
		if (hl_rel_interlock(l, false))
			hl_rel_interlock_done(l, false);
	}
}

/* ------------------------------------------------------------------ */
/*
 * Case 5: the scheme HAMMER used before the retooling, reconstructed.
 *
 * refs was a plain counter changed with atomic add/subtract; loading and
 * unloading were serialized by the object's exclusive lock (lockval, the
 * same lock users take to read or modify the object), and a `loading'
 * counter told a thread that referenced the object in the middle of an
 * unload to take the lock and look again.  Get:
 *
 *	refs++;
 *	if (!loaded || loading) {
 *		loading++; lock_ex;
 *		if (!loaded) load;
 *		loading--; unlock;
 *	}
 *
 * Release:
 *
 *	if (refs == 1) {
 *		loading++; lock_ex;
 *		if (refs == 1) unload;
 *		loading--; unlock;
 *	}
 *	refs--;
 *
 * refs is the hl_lock's refs word used as a bare counter (no flag is ever
 * set), so hl_lock_ex() finds the reference it requires.  The kernel kept
 * `loading' as a plain int under its big lock; here it is an atomic, with
 * sequentially consistent operations so that a get which increments refs
 * after the releaser re-checked it is sure to see `loading' raised.
 */
static void
preseed_setup(struct bench_obj *o)
{
	hl_lock_init(&o->lk);
	atomic_store(&o->loaded, 0);
	atomic_store(&o->loading, 0);
}

static inline void
preseed_get(struct bench_obj *o, bool use_loading)
{
	atomic_fetch_add(&o->lk.refs, 1);
	if (atomic_load(&o->loaded) &&
	    (!use_loading || atomic_load(&o->loading) == 0))
		return;
	if (use_loading)
		atomic_fetch_add(&o->loading, 1);
	hl_lock_ex(&o->lk);
	if (!atomic_load_explicit(&o->loaded, memory_order_relaxed))
		atomic_store_explicit(&o->loaded, 1, memory_order_relaxed);
	if (use_loading)
		atomic_fetch_sub(&o->loading, 1);
	hl_unlock(&o->lk);
}

static inline void
preseed_rel(struct bench_obj *o, bool use_loading)
{
	if (atomic_load(&o->lk.refs) == 1) {
		if (use_loading)
			atomic_fetch_add(&o->loading, 1);
		hl_lock_ex(&o->lk);
		if (atomic_load(&o->lk.refs) == 1)
			atomic_store_explicit(
			    &o->loaded, 0, memory_order_relaxed);
		if (use_loading)
			atomic_fetch_sub(&o->loading, 1);
		hl_unlock(&o->lk);
	}
	atomic_fetch_sub(&o->lk.refs, 1);
}

static NOINLINE void
preseed_loop(struct bench_obj *o, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		preseed_get(o, true);
		preseed_rel(o, true);
	}
}

/*
 * The same without the `loading' counter: the literal "ref++; lock_ex;
 * check; unlock ... lock_ex; recheck; unload; unlock; ref--".  Two atomics
 * cheaper per transition, but a get racing an unload can then see the
 * object still loaded while it is being unloaded, so it is only measured
 * where no two threads share an object.
 */
static NOINLINE void
preseed_nl_loop(struct bench_obj *o, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		preseed_get(o, false);
		preseed_rel(o, false);
	}
}

/*
 * `loaded' may legitimately stay set: when two releases both see refs == 2
 * and both skip the unload, the old scheme leaves the object cached with
 * no reference, and the next get simply finds it loaded.
 */
static const char *
preseed_final(struct bench_obj *o)
{
	if (atomic_load(&o->loading) != 0)
		return "loading != 0 at the end";
	return zero_final(o);
}

/* ------------------------------------------------------------------ */
/* Case 6: a counter under a pthread mutex. */

static void
mutex_setup(struct bench_obj *o)
{
	o->mcount = 0;
}

static NOINLINE void
mutex_loop(struct bench_obj *o, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		pthread_mutex_lock(&o->mtx);
		o->mcount++;
		pthread_mutex_unlock(&o->mtx);
		pthread_mutex_lock(&o->mtx);
		o->mcount--;
		pthread_mutex_unlock(&o->mtx);
	}
}

static const char *
mutex_final(struct bench_obj *o)
{
	return o->mcount == 0 ? NULL : "mutex counter != 0";
}

/* ------------------------------------------------------------------ */
/*
 * Two references that are not schemes, to read the others against: the
 * floor done with compare-and-swap (what a CAS-based count costs on this
 * CPU), and il_full's four transitions as bare inline compare-and-swaps,
 * each after a load of the word, with no call, owner or check: the least
 * that four CAS transitions through separate calls could cost.
 */
static inline void
counter_cas(struct bench_obj *o, uint32_t add, uint32_t set, uint32_t clr,
    memory_order mo)
{
	uint32_t v = atomic_load_explicit(&o->counter, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(&o->counter, &v,
	    ((v + add) | set) & ~clr, mo, memory_order_relaxed))
		;
}

static NOINLINE void
floor_cas_loop(struct bench_obj *o, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		counter_cas(o, 1, 0, 0, memory_order_acquire);
		counter_cas(o, (uint32_t)-1, 0, 0, memory_order_release);
	}
}

static NOINLINE void
cas4_loop(struct bench_obj *o, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		counter_cas(o, 1, HL_REFS_LOCKED | HL_REFS_CHECK, 0,
		    memory_order_acquire);
		counter_cas(o, 0, 0, HL_REFS_FLAGS, memory_order_release);
		counter_cas(
		    o, (uint32_t)-1, HL_REFS_LOCKED, 0, memory_order_acq_rel);
		counter_cas(o, 0, 0, HL_REFS_FLAGS, memory_order_release);
	}
}

/* ------------------------------------------------------------------ */

struct bcase {
	const char *name;
	const char *desc;
	void (*setup)(struct bench_obj *);
	void (*loop)(struct bench_obj *, uint64_t);
	const char *(*final)(struct bench_obj *);
	bool shared_ok; /* correct on an object shared by two threads */
};

static const struct bcase cases[] = {
    {"floor", "atomic fetch_add(acq)+fetch_sub(rel) on a uint32", floor_setup,
	floor_loop, floor_final, true},
    {"hl_ref_rel", "hl_ref+hl_rel, base ref held (inline fast path)",
	base_ref_setup, ref_rel_loop, base_ref_final, true},
    {"il_hot", "hl_ref_interlock(F)+hl_rel_interlock(F), base ref held",
	base_ref_setup, interlock_loop, base_ref_final, true},
    {"il_full", "0->1 ref_interlock+done, 1->0 rel_interlock+done", zero_setup,
	interlock_loop, zero_final, true},
    {"preseed", "pre-seed: refs++, lock_ex load / lock_ex unload, refs--",
	preseed_setup, preseed_loop, preseed_final, true},
    {"preseed_nl", "pre-seed without the loading counter (racy shared)",
	preseed_setup, preseed_nl_loop, preseed_final, false},
    {"mutex", "pthread_mutex: lock,++,unlock; lock,--,unlock", mutex_setup,
	mutex_loop, mutex_final, true},
    {"floor_cas", "reference: the floor with load+CAS instead of add/sub",
	floor_setup, floor_cas_loop, floor_final, true},
    {"cas4_bound", "reference: il_full's 4 transitions as bare inline CAS",
	floor_setup, cas4_loop, floor_final, false},
};
#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

struct bconfig {
	const char *name;
	int threads;
	bool shared;
};

static const struct bconfig configs[] = {
    {"1 thread", 1, false},
    {"2 threads, one shared object", 2, true},
    {"2 threads, own objects", 2, false},
};
#define NCONFIGS ((int)(sizeof(configs) / sizeof(configs[0])))

/* ------------------------------------------------------------------ */
/* Timing. */

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* State shared by the threads of one measurement. */
struct run {
	_Atomic int ready;
	_Atomic bool stop;
	uint64_t deadline; /* CLOCK_MONOTONIC ns; 0: none */
	int nthreads;
};

struct worker {
	pthread_t tid;
	struct run *run;
	const struct bcase *bc;
	struct bench_obj *obj;
	uint64_t iters;
	uint64_t done;	 /* cycles performed */
	uint64_t t0, t1; /* wall clock, ns */
	uint64_t cpu;	 /* thread CPU time, ns */
	long vcsw, ivcsw;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	struct rusage ru0, ru1;
	uint64_t c0;
	unsigned spins = 0;

	getrusage(RUSAGE_THREAD, &ru0);
	/* Start together; yield if the other vCPU is not running. */
	atomic_fetch_add(&r->ready, 1);
	while (atomic_load(&r->ready) < r->nthreads)
		if (++spins > 1000)
			sched_yield();
	c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	w->t0 = clock_ns(CLOCK_MONOTONIC);
	if (r->nthreads == 1) {
		w->bc->loop(w->obj, w->iters);
		w->done = w->iters;
	} else {
		/*
		 * Stop when either thread is done (or at the deadline):
		 * only the time both threads run together is measured.
		 */
		w->done = 0;
		while (w->done < w->iters &&
		       !atomic_load_explicit(&r->stop, memory_order_relaxed)) {
			uint64_t n = w->iters - w->done;

			if (n > CHUNK)
				n = CHUNK;
			w->bc->loop(w->obj, n);
			w->done += n;
			if (r->deadline != 0 &&
			    clock_ns(CLOCK_MONOTONIC) > r->deadline)
				break;
		}
		atomic_store(&r->stop, true);
	}
	w->t1 = clock_ns(CLOCK_MONOTONIC);
	w->cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	getrusage(RUSAGE_THREAD, &ru1);
	w->vcsw = ru1.ru_nvcsw - ru0.ru_nvcsw;
	w->ivcsw = ru1.ru_nivcsw - ru0.ru_nivcsw;
	return NULL;
}

/* One measurement's result. */
struct sample {
	double ns;  /* wall ns per cycle (per thread) */
	double cpu; /* thread CPU ns per cycle */
	double par; /* CPU time of all threads / elapsed time */
	uint64_t cycles;
	uint64_t sleeps, wakes;
	long vcsw, ivcsw;
	bool valid;
};

static struct sample
measure(const struct bcase *bc, const struct bconfig *cf, uint64_t iters,
    unsigned max_ms)
{
	struct worker w[2];
	struct run r;
	struct hl_lock_stats s0, s1;
	struct sample sm;
	int nobj = cf->threads > 1 && !cf->shared ? 2 : 1;
	uint64_t tmin, tmax, cyc = 0, cpu = 0;
	const char *bad;

	memset(&sm, 0, sizeof(sm));
	memset(w, 0, sizeof(w));
	for (int i = 0; i < nobj; i++)
		bc->setup(&objs[i]);
	atomic_init(&r.ready, 0);
	atomic_init(&r.stop, false);
	r.nthreads = cf->threads;
	r.deadline =
	    cf->threads > 1 && max_ms > 0
		? clock_ns(CLOCK_MONOTONIC) + (uint64_t)max_ms * 1000000ull
		: 0;
	for (int i = 0; i < cf->threads; i++) {
		w[i].run = &r;
		w[i].bc = bc;
		w[i].obj = &objs[nobj > 1 ? i : 0];
		w[i].iters = iters;
	}

	hl_lock_stats_get(&s0);
	for (int i = 1; i < cf->threads; i++) {
		int e = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);

		if (e != 0) {
			fprintf(stderr, "bench_refs: pthread_create: %s\n",
			    strerror(e));
			exit(1);
		}
	}
	worker_main(&w[0]);
	for (int i = 1; i < cf->threads; i++)
		pthread_join(w[i].tid, NULL);
	hl_lock_stats_get(&s1);

	tmin = w[0].t0;
	tmax = w[0].t1;
	for (int i = 0; i < cf->threads; i++) {
		if (w[i].t0 < tmin)
			tmin = w[i].t0;
		if (w[i].t1 > tmax)
			tmax = w[i].t1;
		cyc += w[i].done;
		cpu += w[i].cpu;
		sm.vcsw += w[i].vcsw;
		sm.ivcsw += w[i].ivcsw;
	}
	sm.cycles = cyc;
	if (cyc > 0) {
		/* Wall time over the mean number of cycles per thread. */
		sm.ns = (double)(tmax - tmin) * cf->threads / (double)cyc;
		sm.cpu = (double)cpu / (double)cyc;
		sm.valid = true;
	}
	if (tmax > tmin) {
		sm.par = (double)cpu / (double)(tmax - tmin);
	}
	sm.sleeps = (s1.refs_sleeps - s0.refs_sleeps) +
		    (s1.lock_sleeps - s0.lock_sleeps);
	sm.wakes = (s1.refs_wakeups - s0.refs_wakeups) +
		   (s1.lock_wakeups - s0.lock_wakeups);

	for (int i = 0; i < nobj; i++)
		if ((bad = bc->final(&objs[i])) != NULL)
			printf("BENCH-WARNING case=%s threads=%d shared=%d: "
			       "%s\n",
			    bc->name, cf->threads, cf->shared ? 1 : 0, bad);
	return sm;
}

/* ------------------------------------------------------------------ */
/*
 * Check once, single-threaded, that every case takes the path it claims
 * to measure (the results of the interlock calls are discarded in the
 * timed loops).
 */
static void
verify_paths(void)
{
	struct hl_lock l;
	bool ok = true;

	hl_lock_init(&l);
	(void)hl_ref_interlock_true(&l);
	hl_ref_interlock_done(&l);
	ok &= !hl_ref_interlock(&l);	    /* il_hot: N->N+1 is false */
	ok &= !hl_rel_interlock(&l, false); /* N+1->N is false */
	ok &= hl_rel_interlock(&l, false);  /* drop the base reference */
	hl_rel_interlock_done(&l, false);
	ok &= atomic_load(&l.refs) == 0;
	ok &= hl_ref_interlock(&l); /* il_full: 0->1 is true */
	ok &= atomic_load(&l.refs) == (1 | HL_REFS_LOCKED | HL_REFS_CHECK);
	hl_ref_interlock_done(&l);
	ok &= atomic_load(&l.refs) == 1;
	ok &= hl_rel_interlock(&l, false); /* 1->0 is true */
	ok &= atomic_load(&l.refs) == HL_REFS_LOCKED;
	hl_rel_interlock_done(&l, false);
	ok &= atomic_load(&l.refs) == 0;
	if (!ok)
		printf("BENCH-WARNING the interlock calls do not take the "
		       "paths this benchmark assumes\n");
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct result {
	double med, min, max, cpu, par;
	uint64_t cycles, sleeps, wakes;
	long vcsw, ivcsw;
	int n;
	bool run;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bench_refs [--reps N] [--iters N] [--iters2 N] "
	    "[--case NAME]\n"
	    "                  [--threads 1|2] [--max-ms N] [--quick] "
	    "[--no-warmup] [--help]\n"
	    "  --reps N      repetitions per case and configuration "
	    "(default %d, >= 1)\n"
	    "  --iters N     cycles per repetition with 1 thread "
	    "(default %llu; 0 allowed)\n"
	    "  --iters2 N    cycles per thread and repetition with 2 threads "
	    "(default iters/%d)\n"
	    "  --case NAME   run one case only\n"
	    "  --threads N   run only the configurations with N threads\n"
	    "  --max-ms N    stop a 2-thread measurement after N ms "
	    "(default %d; 0: never)\n"
	    "  --quick       smoke run: %llu cycles, %d repetitions\n"
	    "  --no-warmup   skip the untimed warm-up pass\n"
	    "cases:\n",
	    DEF_REPS, (unsigned long long)DEF_ITERS, DEF_ITERS2_DIV, DEF_MAX_MS,
	    (unsigned long long)QUICK_ITERS, 5);
	for (int i = 0; i < NCASES; i++)
		fprintf(fp, "  %-12s %s\n", cases[i].name, cases[i].desc);
}

static bool
parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0') {
		/* Allow 1e6-style counts. */
		double d = strtod(s, &end);

		if (*end != '\0' || d < 0 || d > 1e15)
			return false;
		x = (unsigned long long)d;
	}
	*v = x;
	return true;
}

static bool
want_config(const struct bconfig *cf, const struct bcase *bc, int threads)
{
	if (threads != 0 && cf->threads != threads)
		return false;
	if (cf->shared && !bc->shared_ok)
		return false;
	return true;
}

int
main(int argc, char **argv)
{
	static struct result res[NCONFIGS][NCASES];
	static double ns[NCONFIGS][NCASES][MAX_REPS];
	static double cpu[NCONFIGS][NCASES][MAX_REPS];
	static double par[NCONFIGS][NCASES][MAX_REPS];
	uint64_t reps = DEF_REPS, iters = DEF_ITERS, iters2 = 0;
	uint64_t max_ms = DEF_MAX_MS, threads = 0;
	bool warmup = true, quick = false, have_iters = false;
	int only = -1;
	time_t now;
	char when[64];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--quick") == 0) {
			quick = true;
		} else if (strcmp(a, "--no-warmup") == 0) {
			warmup = false;
		} else if (strcmp(a, "--reps") == 0) {
			ok = parse_u64(v, &reps) && reps >= 1 &&
			     reps <= MAX_REPS;
			i++;
		} else if (strcmp(a, "--iters") == 0) {
			ok = parse_u64(v, &iters);
			have_iters = true;
			i++;
		} else if (strcmp(a, "--iters2") == 0) {
			ok = parse_u64(v, &iters2) && iters2 >= 1;
			i++;
		} else if (strcmp(a, "--max-ms") == 0) {
			ok = parse_u64(v, &max_ms) && max_ms <= 3600000;
			i++;
		} else if (strcmp(a, "--threads") == 0) {
			ok = parse_u64(v, &threads) &&
			     (threads == 1 || threads == 2);
			i++;
		} else if (strcmp(a, "--case") == 0) {
			ok = false;
			for (int c = 0; v != NULL && c < NCASES; c++)
				if (strcmp(v, cases[c].name) == 0) {
					only = c;
					ok = true;
				}
			i++;
		} else {
			ok = false;
		}
		if (!ok) {
			fprintf(stderr,
			    "bench_refs: bad option or value: %s%s%s\n", a,
			    v ? " " : "", v ? v : "");
			usage(stderr);
			return 2;
		}
	}
	if (quick) {
		if (!have_iters)
			iters = QUICK_ITERS;
		if (reps > 5)
			reps = 5;
	}
	if (iters2 == 0)
		iters2 = iters / DEF_ITERS2_DIV > 0 ? iters / DEF_ITERS2_DIV
						    : (iters > 0 ? 1 : 0);

	now = time(NULL);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	printf("# bench_refs: libhammerlock %s, sleep backend %s%s, %s\n",
	    HL_VERSION_STRING, hl_sleep_backend(),
	    hl_debug_enabled() ? " (HL_DEBUG)" : "", when);
	printf("# reps=%" PRIu64 " iters=%" PRIu64 " (1 thread) iters2=%" PRIu64
	       " (per thread, 2 threads) max_ms=%" PRIu64 " warmup=%d\n",
	    reps, iters, iters2, max_ms, warmup ? 1 : 0);
	printf("# ns = wall ns per ref+release cycle (2 threads: elapsed time "
	       "/ cycles per thread);\n"
	       "# cpu = thread CPU ns per cycle; ratio = median / floor median "
	       "in the same configuration\n");

	for (int i = 0; i < 2; i++)
		pthread_mutex_init(&objs[i].mtx, NULL);
	verify_paths();

	if (warmup)
		for (int f = 0; f < NCONFIGS; f++)
			for (int c = 0; c < NCASES; c++) {
				const struct bconfig *cf = &configs[f];

				if ((only >= 0 && c != only) ||
				    !want_config(cf, &cases[c], (int)threads))
					continue;
				(void)measure(&cases[c], cf,
				    (cf->threads > 1 ? iters2 : iters) / 10,
				    (unsigned)max_ms);
			}

	/* Rep-major: every configuration and case once per repetition. */
	for (uint64_t rep = 0; rep < reps; rep++)
		for (int f = 0; f < NCONFIGS; f++)
			for (int c = 0; c < NCASES; c++) {
				const struct bconfig *cf = &configs[f];
				struct result *rs = &res[f][c];
				struct sample sm;

				if ((only >= 0 && c != only) ||
				    !want_config(cf, &cases[c], (int)threads))
					continue;
				sm = measure(&cases[c], cf,
				    cf->threads > 1 ? iters2 : iters,
				    (unsigned)max_ms);
				rs->run = true;
				rs->cycles += sm.cycles;
				rs->sleeps += sm.sleeps;
				rs->wakes += sm.wakes;
				rs->vcsw += sm.vcsw;
				rs->ivcsw += sm.ivcsw;
				if (sm.valid) {
					ns[f][c][rs->n] = sm.ns;
					cpu[f][c][rs->n] = sm.cpu;
					par[f][c][rs->n] = sm.par;
					rs->n++;
				}
			}

	for (int f = 0; f < NCONFIGS; f++)
		for (int c = 0; c < NCASES; c++) {
			struct result *rs = &res[f][c];

			if (rs->n == 0)
				continue;
			rs->cpu = median(cpu[f][c], rs->n);
			rs->par = median(par[f][c], rs->n);
			rs->med = median(ns[f][c], rs->n); /* sorts */
			rs->min = ns[f][c][0];
			rs->max = ns[f][c][rs->n - 1];
		}

	/* Parseable lines. */
	for (int f = 0; f < NCONFIGS; f++)
		for (int c = 0; c < NCASES; c++) {
			const struct bconfig *cf = &configs[f];
			struct result *rs = &res[f][c], *fl = &res[f][0];
			char ratio[32] = "NA", cratio[32] = "NA";

			if (!rs->run)
				continue;
			if (rs->n == 0) {
				printf("BENCH case=%s threads=%d shared=%d "
				       "reps=0 cycles=0 median_ns=NA\n",
				    cases[c].name, cf->threads,
				    cf->shared ? 1 : 0);
				continue;
			}
			if (fl->n > 0 && fl->med > 0 && fl->cpu > 0) {
				snprintf(ratio, sizeof(ratio), "%.3f",
				    rs->med / fl->med);
				snprintf(cratio, sizeof(cratio), "%.3f",
				    rs->cpu / fl->cpu);
			}
			printf("BENCH case=%s threads=%d shared=%d reps=%d "
			       "cycles=%" PRIu64 " median_ns=%.2f min_ns=%.2f "
			       "max_ns=%.2f ratio=%s cpu_ns=%.2f cpu_ratio=%s "
			       "par=%.2f sleeps=%" PRIu64 " wakes=%" PRIu64
			       " vcsw=%ld ivcsw=%ld\n",
			    cases[c].name, cf->threads, cf->shared ? 1 : 0,
			    rs->n, rs->cycles, rs->med, rs->min, rs->max, ratio,
			    rs->cpu, cratio, rs->par, rs->sleeps, rs->wakes,
			    rs->vcsw, rs->ivcsw);
		}

	/* The same, for people. */
	for (int f = 0; f < NCONFIGS; f++) {
		bool any = false;

		for (int c = 0; c < NCASES; c++)
			any |= res[f][c].n > 0;
		if (!any)
			continue;
		printf("\n%s (ns per ref+release cycle)\n", configs[f].name);
		printf("  %-12s %8s %8s %8s %7s %8s %7s %5s %8s %6s\n", "case",
		    "median", "min", "max", "ratio", "cpu", "cpu-r", "par",
		    "sleeps", "vcsw");
		for (int c = 0; c < NCASES; c++) {
			struct result *rs = &res[f][c], *fl = &res[f][0];
			char ratio[16] = "-", cratio[16] = "-";

			if (rs->n == 0)
				continue;
			if (fl->n > 0 && fl->med > 0 && fl->cpu > 0) {
				snprintf(ratio, sizeof(ratio), "%.2fx",
				    rs->med / fl->med);
				snprintf(cratio, sizeof(cratio), "%.2fx",
				    rs->cpu / fl->cpu);
			}
			printf("  %-12s %8.2f %8.2f %8.2f %7s %8.2f %7s %5.2f "
			       "%8" PRIu64 " %6ld\n",
			    cases[c].name, rs->med, rs->min, rs->max, ratio,
			    rs->cpu, cratio, rs->par, rs->sleeps, rs->vcsw);
		}
	}
	printf("\n# median/min/max: wall ns per cycle over the repetitions; "
	       "ratio: to floor;\n"
	       "# cpu: median thread CPU ns per cycle, cpu-r: its ratio to "
	       "floor's;\n"
	       "# par: CPU time of the threads / elapsed (2.00 = both ran "
	       "all the time);\n"
	       "# sleeps: calls to the hammerlock sleep (refs+lockval, may "
	       "return at once);\n"
	       "# vcsw: voluntary context switches (real blocking, mutex "
	       "included);\n"
	       "# both summed over all repetitions.\n");
	return 0;
}
