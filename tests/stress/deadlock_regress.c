/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * deadlock_regress.c - regression test for the deadlock that HAMMER's
 * refcount retooling removed.
 *
 * The shape: thread A holds a reference on object O and O's lock shared.
 * Another thread invalidates O (CHECK is set while references remain).
 * Thread B waits for O exclusively behind A's shared hold; thread C holds
 * O shared and takes it shared again.  Now A references O again and, as
 * O must be re-validated, becomes its loader.
 *
 *   part 1  hammerlock, deterministic: every step is ordered by polling
 *           the lock words (B must be asleep with WANTED set before A
 *           re-references).  Loading uses only the refs interlock, so A
 *           loads, everyone finishes, and lockval is never touched by
 *           the load.
 *   part 2  the pre-seed loader (preseed.c), same scenario: A's re-get
 *           takes O's exclusive lock to load and waits for its own
 *           shared hold.  The get polls with a deadline, so the deadlock
 *           is reported, then broken by A dropping its hold, and every
 *           thread is joined.  If it does NOT deadlock the test fails:
 *           the scenario would have lost its power to show the bug.
 *   part 3  hammerlock, randomized: 8-16 threads mix shared, nested
 *           shared, exclusive, recursive, upgrade/downgrade, invalidation
 *           and re-validating re-references on a few objects, checking
 *           the loaded data and lock exclusion inside every section.
 *
 * Options: --seed N (or HL_SEED), HL_THREADS, HL_SECONDS (part 3).
 */
#include "harness.h"
#include "preseed.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A step that takes longer than STEP_SECS is a failure. */
#define STEP_SECS 10.0
/* Scenario threads wait longer for main's commands than main does. */
#define THREAD_SECS 40.0
/* How long the pre-seed re-get may wait for the exclusive lock. */
#define PRESEED_WAIT_MS 2000

#define NDATA	 8
#define NCONTENT 4
#define NOBJ	 3
#define POISON	 0xdeadbeefdeadbeefull

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

/* Number of threads sleeping in hammerlock now (any lock, any word). */
static int
nsleepers(void)
{
	FILE *fp = fopen("/dev/null", "w");
	int n;

	HT_CHECK(fp != NULL, "cannot open /dev/null");
	n = hl_dump_waiters(fp);
	fclose(fp);
	return n;
}

static void
spawn(pthread_t *td, void *(*fn)(void *), void *arg)
{
	HT_CHECK(pthread_create(td, NULL, fn, arg) == 0, "pthread_create");
}

/*
 * Poll until cond holds; after `secs' dump the lock and every sleeper and
 * fail with the message.
 */
#define WAIT_FOR(l, secs, cond, ...)                                           \
	do {                                                                   \
		double wf_deadline = ht_now() + (secs);                        \
		while (!(cond)) {                                              \
			if (ht_now() > wf_deadline) {                          \
				hl_lock_dump(stderr, "O", (l));                \
				hl_dump_waiters(stderr);                       \
				ht_fail(                                       \
				    __FILE__, __LINE__, #cond, __VA_ARGS__);   \
			}                                                      \
			ht_nap_us(200);                                        \
		}                                                              \
	} while (0)

/*
 * The object of parts 1 and 3.
 *
 * Load state (loaded, stale, gen, data) is written only by the holder of
 * the refs interlock: the loader fills data on a real load, the unloader
 * poisons it on the last release.  Anyone holding a reference obtained
 * through hl_ref_interlock() may read gen and data without a lock: that
 * is what the interlock's orderings promise.  content[] is protected by
 * lockval: shared holders read it, exclusive holders rewrite it.  The
 * in_* counters check mutual exclusion from inside the sections.
 */
struct obj {
	struct hl_lock lk;
	int id;
	bool loaded;
	bool stale;
	uint32_t gen;
	uint64_t data[NDATA];
	uint64_t content[NCONTENT];
	atomic_int in_il, in_sh, in_ex;
	atomic_ulong loads, revalidations, unloads, invalidations, failures;
};

enum get_result { GOT_CACHED, GOT_LOADED, GOT_FAILED };

static uint64_t
data_word(int id, uint32_t gen, int i)
{
	return ((uint64_t)gen << 32 | (uint64_t)id << 24) ^
	       (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
}

static void
obj_init(struct obj *o, int id)
{
	memset(o, 0, sizeof(*o));
	hl_lock_init(&o->lk);
	o->id = id;
}

static void
il_enter(struct obj *o)
{
	HT_CHECK(atomic_fetch_add(&o->in_il, 1) == 0,
	    "obj %d: two threads inside the refs interlock", o->id);
}

static void
il_exit(struct obj *o)
{
	atomic_fetch_sub(&o->in_il, 1);
}

static void
sh_enter(struct obj *o)
{
	atomic_fetch_add(&o->in_sh, 1);
	HT_CHECK(atomic_load(&o->in_ex) == 0,
	    "obj %d: shared section overlaps an exclusive one", o->id);
}

static void
sh_exit(struct obj *o)
{
	atomic_fetch_sub(&o->in_sh, 1);
}

static void
ex_enter(struct obj *o)
{
	HT_CHECK(atomic_fetch_add(&o->in_ex, 1) == 0,
	    "obj %d: two exclusive sections", o->id);
	HT_CHECK(atomic_load(&o->in_sh) == 0,
	    "obj %d: exclusive section overlaps a shared one", o->id);
}

static void
ex_exit(struct obj *o)
{
	atomic_fetch_sub(&o->in_ex, 1);
}

static void
verify_data(struct obj *o, const char *where)
{
	uint32_t gen = o->gen;

	HT_CHECK(gen != 0, "%s: obj %d never loaded", where, o->id);
	for (int i = 0; i < NDATA; i++)
		HT_CHECK(o->data[i] == data_word(o->id, gen, i),
		    "%s: obj %d data[%d]=%#llx, want %#llx (gen %u)", where,
		    o->id, i, (unsigned long long)o->data[i],
		    (unsigned long long)data_word(o->id, gen, i), gen);
}

/* A referenced, successfully gotten object: its data must be loaded. */
static void
check_data(struct obj *o, const char *where)
{
	HT_CHECK(
	    o->loaded, "%s: obj %d referenced but not loaded", where, o->id);
	verify_data(o, where);
}

static void
check_content(struct obj *o)
{
	for (int i = 1; i < NCONTENT; i++)
		HT_CHECK(o->content[i] == o->content[0],
		    "obj %d: content torn (%llu vs %llu)", o->id,
		    (unsigned long long)o->content[i],
		    (unsigned long long)o->content[0]);
}

static void
modify_content(struct obj *o)
{
	uint64_t v;

	check_content(o);
	v = o->content[0] + 1;
	for (int i = 0; i < NCONTENT; i++)
		o->content[i] = v;
}

/*
 * Load or re-validate; the caller holds the interlock.  Idempotent: a
 * loaded object is only checked (CHECK may be left over from an
 * invalidation, or from a failed load of another thread).
 */
static void
obj_load(struct obj *o)
{
	il_enter(o);
	if (!o->loaded) {
		o->gen++;
		for (int i = 0; i < NDATA; i++)
			o->data[i] = data_word(o->id, o->gen, i);
		o->loaded = true;
		atomic_fetch_add(&o->loads, 1);
	} else {
		verify_data(o, "re-validation");
		atomic_fetch_add(&o->revalidations, 1);
	}
	o->stale = false;
	il_exit(o);
}

/* Unload; the caller holds the interlock and saw the count at 0. */
static void
obj_unload(struct obj *o)
{
	HT_CHECK(hl_notlocked(&o->lk), "obj %d: unloading while lockval=0x%08x",
	    o->id, lockval_of(&o->lk));
	if (o->loaded) {
		verify_data(o, "unload");
		for (int i = 0; i < NDATA; i++)
			o->data[i] = POISON;
		o->loaded = false;
		atomic_fetch_add(&o->unloads, 1);
	}
	o->stale = false;
}

/*
 * Reference o, loading it if needed.  With rng, one load in 32 fails: the
 * reference is dropped as refs.h prescribes and GOT_FAILED returned.
 */
static enum get_result
obj_get(struct obj *o, uint64_t *rng)
{
	if (!hl_ref_interlock(&o->lk))
		return GOT_CACHED;
	if (rng != NULL && ht_rand(rng) % 32 == 0) {
		il_enter(o);
		atomic_fetch_add(&o->failures, 1);
		HT_CHECK(hl_rel_interlock(&o->lk, true),
		    "hl_rel_interlock(locked) must return true");
		/* Nobody else uses the data: drop it, as a failed load may. */
		if (hl_norefs(&o->lk))
			obj_unload(o);
		il_exit(o);
		hl_rel_interlock_done(&o->lk, true);
		return GOT_FAILED;
	}
	obj_load(o);
	hl_ref_interlock_done(&o->lk);
	return GOT_LOADED;
}

static void
obj_put(struct obj *o)
{
	if (hl_rel_interlock(&o->lk, false)) {
		il_enter(o);
		obj_unload(o);
		il_exit(o);
		hl_rel_interlock_done(&o->lk, false);
	}
}

/* Invalidate with references held; returns the CHECK bit seen. */
static bool
obj_invalidate(struct obj *o)
{
	bool check = hl_get_interlock(&o->lk);

	il_enter(o);
	o->stale = true;
	atomic_fetch_add(&o->invalidations, 1);
	il_exit(o);
	hl_put_interlock(&o->lk, EIO);
	return check;
}

/* ------------------------------------------------------------------ */
/* Part 1: hammerlock, deterministic                                   */
/* ------------------------------------------------------------------ */

enum {
	H_INIT,
	H_B_GO,	     /* B: ask for the exclusive lock */
	H_C_RESHARE, /* C: take the shared lock a second time */
	H_A_REREF,   /* A: reference O again (becomes the loader) */
	H_C_REF,     /* C: reference O again (sleeps on the interlock) */
	H_A_FINISH,  /* A: re-validate and give the interlock back */
	H_A_RELEASE, /* A: drop the shared hold and both references */
};

static struct {
	struct obj o;
	atomic_int step;
	atomic_int a, b, c; /* progress of each thread */
	enum get_result a_first, b_first, c_first, c_again;
	bool a_loader;
	uint32_t a_lv_before, a_lv_loading, a_refs_loading;
} H;

static void
h_wait_step(int s)
{
	WAIT_FOR(&H.o.lk, THREAD_SECS, atomic_load(&H.step) >= s,
	    "step %d never came", s);
}

static void *
h_thread_a(void *arg)
{
	struct obj *o = &H.o;

	(void)arg;
	H.a_first = obj_get(o, NULL);
	hl_lock_sh_ident(&o->lk, "A shared");
	check_data(o, "A first get");
	atomic_store(&H.a, 1);

	h_wait_step(H_A_REREF);
	H.a_lv_before = lockval_of(&o->lk);
	H.a_loader = hl_ref_interlock(&o->lk);
	atomic_store(&H.a, 2);
	if (!H.a_loader)
		return NULL; /* main reports it and exits */

	h_wait_step(H_A_FINISH);
	obj_load(o);
	H.a_lv_loading = lockval_of(&o->lk);
	H.a_refs_loading = refs_of(&o->lk);
	hl_ref_interlock_done(&o->lk);
	check_data(o, "A after re-validation");
	sh_enter(o);
	check_content(o);
	sh_exit(o);
	atomic_store(&H.a, 3);

	h_wait_step(H_A_RELEASE);
	hl_unlock(&o->lk);
	obj_put(o);
	obj_put(o);
	atomic_store(&H.a, 4);
	return NULL;
}

static void *
h_thread_b(void *arg)
{
	struct obj *o = &H.o;

	(void)arg;
	H.b_first = obj_get(o, NULL);
	atomic_store(&H.b, 1);
	h_wait_step(H_B_GO);
	hl_lock_ex_ident(&o->lk, "B exclusive");
	ex_enter(o);
	check_data(o, "B exclusive");
	/* A's re-validation happened before A's unlock let B in. */
	HT_CHECK(!o->stale, "B: O still marked stale after A's reload");
	modify_content(o);
	ex_exit(o);
	hl_unlock(&o->lk);
	obj_put(o);
	atomic_store(&H.b, 2);
	return NULL;
}

static void *
h_thread_c(void *arg)
{
	struct obj *o = &H.o;

	(void)arg;
	H.c_first = obj_get(o, NULL);
	hl_lock_sh_ident(&o->lk, "C shared");
	atomic_store(&H.c, 1);
	h_wait_step(H_C_RESHARE);
	hl_lock_sh_ident(&o->lk, "C shared again");
	atomic_store(&H.c, 2);
	h_wait_step(H_C_REF);
	H.c_again = obj_get(o, NULL);
	check_data(o, "C re-reference");
	sh_enter(o);
	check_content(o);
	sh_exit(o);
	hl_unlock(&o->lk);
	hl_unlock(&o->lk);
	obj_put(o);
	obj_put(o);
	atomic_store(&H.c, 3);
	return NULL;
}

static void
part_hammerlock(void)
{
	struct obj *o = &H.o;
	struct hl_lock_stats st0, st1;
	pthread_t ta, tb, tc;
	uint32_t w = HL_LOCKF_WANTED;
	double t0 = ht_now();

	obj_init(o, 100);
	ht_watch_lock("part1 O", &o->lk);
	ht_watchdog_start(60, NULL);

	/* A: first reference loads O (0->1); then A holds O shared. */
	spawn(&ta, h_thread_a, NULL);
	WAIT_FOR(&o->lk, STEP_SECS, atomic_load(&H.a) == 1, "A setup");
	HT_CHECK(H.a_first == GOT_LOADED, "A's 0->1 get must load");
	spawn(&tc, h_thread_c, NULL);
	spawn(&tb, h_thread_b, NULL);
	WAIT_FOR(&o->lk, STEP_SECS,
	    atomic_load(&H.c) == 1 && atomic_load(&H.b) == 1, "B/C setup");
	HT_CHECK(H.b_first == GOT_CACHED && H.c_first == GOT_CACHED,
	    "B and C must find O loaded");
	HT_CHECK(refs_of(&o->lk) == 3, "refs=0x%08x, want 3", refs_of(&o->lk));
	HT_CHECK(lockval_of(&o->lk) == 2, "lockval=0x%08x, want 2 shared",
	    lockval_of(&o->lk));

	/* Invalidate: CHECK set while three references remain. */
	HT_CHECK(!obj_invalidate(o), "CHECK was already set");
	HT_CHECK(refs_of(&o->lk) == (3 | HL_REFS_CHECK),
	    "after invalidation refs=0x%08x", refs_of(&o->lk));

	/* B queues for the exclusive lock behind A's and C's holds. */
	hl_lock_stats_get(&st0);
	atomic_store(&H.step, H_B_GO);
	WAIT_FOR(&o->lk, STEP_SECS,
	    lockval_of(&o->lk) == (2 | w) && nsleepers() >= 1 &&
		(hl_lock_stats_get(&st1), st1.lock_sleeps > st0.lock_sleeps),
	    "B never went to sleep on lockval");
	HT_CHECK(atomic_load(&H.b) == 1, "B got the lock past shared holds");

	/* C takes O shared again although B is queued: no writer priority. */
	atomic_store(&H.step, H_C_RESHARE);
	WAIT_FOR(&o->lk, STEP_SECS, atomic_load(&H.c) == 2,
	    "C's second shared hold blocked behind the queued exclusive "
	    "waiter");
	HT_CHECK(lockval_of(&o->lk) == (3 | w), "lockval=0x%08x, want 3|WANTED",
	    lockval_of(&o->lk));

	/* The seed's case: A, holding O shared, references O again. */
	atomic_store(&H.step, H_A_REREF);
	WAIT_FOR(&o->lk, STEP_SECS, atomic_load(&H.a) == 2,
	    "DEADLOCK REGRESSION: A's re-reference of O did not return while "
	    "A holds O shared and B waits for it exclusively");
	HT_CHECK(H.a_loader,
	    "A's re-reference must make it the loader (CHECK was set)");
	HT_CHECK(
	    H.a_lv_before == (3 | w), "lockval before=0x%08x", H.a_lv_before);
	HT_CHECK(refs_of(&o->lk) == (4 | HL_REFS_LOCKED | HL_REFS_CHECK),
	    "A loading: refs=0x%08x", refs_of(&o->lk));
	HT_CHECK(lockval_of(&o->lk) == (3 | w),
	    "taking the interlock changed lockval to 0x%08x",
	    lockval_of(&o->lk));

	/* C, holding O shared twice, references O: sleeps on the interlock. */
	hl_lock_stats_get(&st0);
	atomic_store(&H.step, H_C_REF);
	WAIT_FOR(&o->lk, STEP_SECS,
	    (refs_of(&o->lk) & HL_REFS_WANTED) && nsleepers() >= 2 &&
		(hl_lock_stats_get(&st1), st1.refs_sleeps > st0.refs_sleeps),
	    "C never went to sleep on the refs interlock");
	HT_CHECK(atomic_load(&H.c) == 2, "C passed the interlock early");

	/* A re-validates and gives the interlock back; C wakes. */
	atomic_store(&H.step, H_A_FINISH);
	WAIT_FOR(&o->lk, STEP_SECS,
	    atomic_load(&H.a) == 3 && atomic_load(&H.c) == 3,
	    "A's load or C's wakeup did not complete");
	HT_CHECK(H.a_lv_loading == (3 | w),
	    "lockval changed during the load: 0x%08x", H.a_lv_loading);
	HT_CHECK((H.a_refs_loading & HL_REFS_COUNT_MASK) == 5 &&
		     (H.a_refs_loading & HL_REFS_LOCKED),
	    "refs during the load=0x%08x", H.a_refs_loading);
	HT_CHECK(H.c_again == GOT_CACHED,
	    "C must find O re-validated by A, got %d", H.c_again);
	HT_CHECK(atomic_load(&o->revalidations) == 1,
	    "want 1 re-validation, got %lu", atomic_load(&o->revalidations));
	HT_CHECK(atomic_load(&H.b) == 1, "B got the lock while A holds it");
	HT_CHECK(lockval_of(&o->lk) == (1 | w),
	    "lockval=0x%08x, want A's hold + WANTED", lockval_of(&o->lk));

	/* A lets go; B gets the lock, checks the data and releases. */
	atomic_store(&H.step, H_A_RELEASE);
	WAIT_FOR(&o->lk, STEP_SECS,
	    atomic_load(&H.a) == 4 && atomic_load(&H.b) == 2,
	    "B never got the lock after A released");
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_join(tc, NULL);
	ht_watchdog_stop();

	HT_CHECK(refs_of(&o->lk) == 0 && lockval_of(&o->lk) == 0,
	    "end: refs=0x%08x lockval=0x%08x", refs_of(&o->lk),
	    lockval_of(&o->lk));
	HT_CHECK(!o->loaded && atomic_load(&o->loads) == 1 &&
		     atomic_load(&o->unloads) == 1 && o->content[0] == 1,
	    "end: loaded=%d loads=%lu unloads=%lu content=%llu", o->loaded,
	    atomic_load(&o->loads), atomic_load(&o->unloads),
	    (unsigned long long)o->content[0]);
	printf("part 1 hammerlock: A, holding O shared with B queued for "
	       "exclusive, re-referenced O, loaded it under the refs "
	       "interlock (lockval stayed 0x%08x) and everyone finished "
	       "(%.3f s)\n",
	    H.a_lv_loading, ht_now() - t0);
}

/* ------------------------------------------------------------------ */
/* Part 2: the pre-seed loader, deterministic                          */
/* ------------------------------------------------------------------ */

enum {
	P_INIT,
	P_B_GO,	     /* B: get O, which needs loading (blocks) */
	P_C_RESHARE, /* C: take the shared lock a second time */
	P_C_DONE,    /* C: release everything */
	P_A_REGET,   /* A: get O again while holding it shared */
	P_A_RELEASE, /* A: drop its hold (breaks the deadlock) */
};

static struct {
	struct ps_obj o;
	atomic_int step;
	atomic_int a, b, c;
	int a_err, b_err;
	uint32_t a_seen;
	double a_waited;
	bool a_ok, b_ok;
} P;

static void
p_wait_step(int s)
{
	WAIT_FOR(&P.o.lk, THREAD_SECS, atomic_load(&P.step) >= s,
	    "step %d never came", s);
}

static void *
p_thread_a(void *arg)
{
	struct ps_obj *o = &P.o;
	double t0;

	(void)arg;
	HT_CHECK(ps_get(o, -1, NULL) == 0, "pre-seed A: first get");
	hl_lock_sh_ident(&o->lk, "pre-seed A shared");
	P.a_ok = ps_data_ok(o);
	atomic_store(&P.a, 1);

	p_wait_step(P_A_REGET);
	t0 = ht_now();
	P.a_err = ps_get(o, PRESEED_WAIT_MS, &P.a_seen);
	P.a_waited = ht_now() - t0;
	atomic_store(&P.a, 2);

	p_wait_step(P_A_RELEASE);
	hl_unlock(&o->lk);
	if (P.a_err == 0)
		ps_put(o);
	ps_put(o);
	atomic_store(&P.a, 3);
	return NULL;
}

static void *
p_thread_b(void *arg)
{
	struct ps_obj *o = &P.o;

	(void)arg;
	p_wait_step(P_B_GO);
	atomic_store(&P.b, 1);
	P.b_err = ps_get(o, -1, NULL); /* the old code: blocks */
	hl_lock_sh_ident(&o->lk, "pre-seed B shared");
	P.b_ok = ps_data_ok(o);
	hl_unlock(&o->lk);
	ps_put(o);
	atomic_store(&P.b, 2);
	return NULL;
}

static void *
p_thread_c(void *arg)
{
	struct ps_obj *o = &P.o;

	(void)arg;
	HT_CHECK(ps_get(o, -1, NULL) == 0, "pre-seed C: first get");
	hl_lock_sh_ident(&o->lk, "pre-seed C shared");
	atomic_store(&P.c, 1);
	p_wait_step(P_C_RESHARE);
	hl_lock_sh_ident(&o->lk, "pre-seed C shared again");
	atomic_store(&P.c, 2);
	p_wait_step(P_C_DONE);
	hl_unlock(&o->lk);
	hl_unlock(&o->lk);
	ps_put(o);
	atomic_store(&P.c, 3);
	return NULL;
}

static void
part_preseed(void)
{
	struct ps_obj *o = &P.o;
	struct hl_lock_stats st0, st1;
	pthread_t ta, tb, tc;
	uint32_t w = HL_LOCKF_WANTED;

	ps_obj_init(o);
	ht_watch_lock("part2 O", &o->lk);
	ht_watchdog_start(60, NULL);

	spawn(&ta, p_thread_a, NULL);
	WAIT_FOR(&o->lk, STEP_SECS, atomic_load(&P.a) == 1, "A setup");
	HT_CHECK(P.a_ok, "pre-seed: A's data not loaded");
	spawn(&tc, p_thread_c, NULL);
	WAIT_FOR(&o->lk, STEP_SECS, atomic_load(&P.c) == 1, "C setup");

	/* Drop O's data while A and C hold references and shared locks. */
	ps_invalidate(o);

	/* B's get must load: it takes O exclusively and queues behind A/C. */
	hl_lock_stats_get(&st0);
	spawn(&tb, p_thread_b, NULL);
	atomic_store(&P.step, P_B_GO);
	WAIT_FOR(&o->lk, STEP_SECS,
	    lockval_of(&o->lk) == (2 | w) && atomic_load(&o->loading) == 1 &&
		nsleepers() >= 1 &&
		(hl_lock_stats_get(&st1), st1.lock_sleeps > st0.lock_sleeps),
	    "pre-seed: B never went to sleep on lockval");

	/* C re-takes shared (allowed), then leaves: only A's hold remains. */
	atomic_store(&P.step, P_C_RESHARE);
	WAIT_FOR(&o->lk, STEP_SECS, atomic_load(&P.c) == 2,
	    "pre-seed: C's second shared hold blocked");
	atomic_store(&P.step, P_C_DONE);
	WAIT_FOR(&o->lk, STEP_SECS, atomic_load(&P.c) == 3,
	    "pre-seed: C could not release");
	HT_CHECK(lockval_of(&o->lk) == (1 | w),
	    "pre-seed: lockval=0x%08x, want A's shared hold + WANTED",
	    lockval_of(&o->lk));

	/* A, holding O shared, gets O again: the get wants to load. */
	atomic_store(&P.step, P_A_REGET);
	WAIT_FOR(&o->lk, STEP_SECS + PRESEED_WAIT_MS / 1000.0,
	    atomic_load(&P.a) == 2, "pre-seed: A's re-get never returned");
	HT_CHECK(P.a_err != 0,
	    "pre-seed variant did NOT deadlock: A's re-get returned %d "
	    "after %.3f s; the scenario lost its power to show the bug",
	    P.a_err, P.a_waited);
	HT_CHECK(
	    P.a_err == ETIMEDOUT, "pre-seed: A's re-get returned %d", P.a_err);
	HT_CHECK(P.a_seen == (1 | w),
	    "pre-seed: A's exclusive request was blocked by lockval=0x%08x, "
	    "want only A's own shared hold (0x%08x)",
	    P.a_seen, 1 | w);
	HT_CHECK(atomic_load(&P.b) == 1, "pre-seed: B is not blocked");
	printf("pre-seed variant: deadlocked as expected (A waits for its own "
	       "shared hold): lockval=0x%08x, B queued for exclusive, "
	       "no progress in %.1f s\n",
	    P.a_seen, P.a_waited);

	/* Break it: A drops its shared hold; B loads and finishes. */
	atomic_store(&P.step, P_A_RELEASE);
	WAIT_FOR(&o->lk, STEP_SECS,
	    atomic_load(&P.a) == 3 && atomic_load(&P.b) == 2,
	    "pre-seed: B did not finish after A let go");
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_join(tc, NULL);
	ht_watchdog_stop();

	HT_CHECK(P.b_err == 0 && P.b_ok, "pre-seed: B's load failed");
	HT_CHECK(atomic_load(&o->loads) == 2 && atomic_load(&o->unloads) == 1,
	    "pre-seed: loads=%u unloads=%u", atomic_load(&o->loads),
	    atomic_load(&o->unloads));
	HT_CHECK(refs_of(&o->lk) == 0 && lockval_of(&o->lk) == 0 &&
		     atomic_load(&o->loading) == 0,
	    "pre-seed end: refs=0x%08x lockval=0x%08x", refs_of(&o->lk),
	    lockval_of(&o->lk));
	printf("part 2 pre-seed: deadlock broken after detection, all "
	       "threads joined\n");
}

/* ------------------------------------------------------------------ */
/* Part 3: hammerlock, randomized                                      */
/* ------------------------------------------------------------------ */

struct worker {
	pthread_t td;
	uint64_t rng;
	unsigned long ops, invals, fails, loader_sh, loader_ex, upgrades;
};

static struct obj R[NOBJ];
static atomic_bool r_stop;
static atomic_ulong r_loader_sh; /* the seed's case, all threads */
static atomic_ulong r_loader_sh_queued;

enum held { HELD_NONE, HELD_SH, HELD_EX };

/*
 * Reference o again while holding `held' on it, after an optional
 * invalidation, so that the re-reference often has to re-validate.
 */
static void
rereference(struct obj *o, struct worker *w, enum held held)
{
	enum get_result r;

	if (ht_rand(&w->rng) % 3 == 0) {
		(void)obj_invalidate(o);
		w->invals++;
	}
	r = obj_get(o, &w->rng);
	if (r == GOT_FAILED) {
		w->fails++;
		return;
	}
	if (r == GOT_LOADED && held == HELD_SH) {
		w->loader_sh++;
		atomic_fetch_add(&r_loader_sh, 1);
		if (lockval_of(&o->lk) & HL_LOCKF_WANTED)
			atomic_fetch_add(&r_loader_sh_queued, 1);
	} else if (r == GOT_LOADED && held == HELD_EX) {
		w->loader_ex++;
	}
	check_data(o, "re-reference");
	obj_put(o);
}

/* Use another object on the side; its lock only through try forms. */
static void
other_object(struct obj *o, struct worker *w)
{
	struct obj *o2 = &R[(o->id + 1 + ht_rand(&w->rng) % (NOBJ - 1)) % NOBJ];
	uint64_t r = ht_rand(&w->rng);

	if (obj_get(o2, &w->rng) == GOT_FAILED) {
		w->fails++;
		return;
	}
	check_data(o2, "other object");
	if ((r & 3) == 0 && hl_lock_sh_try(&o2->lk) == 0) {
		sh_enter(o2);
		check_content(o2);
		sh_exit(o2);
		hl_unlock(&o2->lk);
	} else if ((r & 3) == 1 && hl_lock_ex_try(&o2->lk) == 0) {
		ex_enter(o2);
		modify_content(o2);
		ex_exit(o2);
		hl_unlock(&o2->lk);
	}
	obj_put(o2);
}

static void
try_upgrade(struct obj *o, struct worker *w, int nsh)
{
	if (hl_lock_upgrade(&o->lk, nsh) != 0)
		return;
	sh_exit(o);
	ex_enter(o);
	HT_CHECK(hl_lock_excl_owned(&o->lk), "upgrade: not the owner");
	modify_content(o);
	if (ht_rand(&w->rng) & 1)
		rereference(o, w, HELD_EX);
	ex_exit(o);
	hl_lock_downgrade(&o->lk, nsh);
	sh_enter(o);
	w->upgrades++;
}

static void
shared_section(struct obj *o, struct worker *w)
{
	uint64_t r = ht_rand(&w->rng);
	int nsh = 1;

	hl_lock_sh_ident(&o->lk, "random shared");
	sh_enter(o);
	check_content(o);
	if (r & 1) { /* granted even with an exclusive waiter queued */
		hl_lock_sh_ident(&o->lk, "random shared again");
		nsh++;
	}
	if (r & 2)
		rereference(o, w, HELD_SH);
	if (r & 4)
		other_object(o, w);
	if ((r & 0x18) == 0)
		try_upgrade(o, w, nsh);
	if ((r & 0x60) == 0)
		sched_yield(); /* let exclusive requests queue up */
	check_content(o);
	HT_CHECK(hl_lock_status(&o->lk) == -1, "shared hold not shared");
	sh_exit(o);
	while (nsh-- > 0)
		hl_unlock(&o->lk);
}

static void
exclusive_section(struct obj *o, struct worker *w)
{
	uint64_t r = ht_rand(&w->rng);
	int nex = 1;

	hl_lock_ex_ident(&o->lk, "random exclusive");
	ex_enter(o);
	HT_CHECK(hl_lock_excl_owned(&o->lk) && hl_lock_status(&o->lk) == 1,
	    "exclusive hold not owned");
	modify_content(o);
	if (r & 1) { /* recursion; a shared request counts as exclusive */
		if (r & 8)
			hl_lock_sh(&o->lk);
		else
			hl_lock_ex(&o->lk);
		nex++;
	}
	if (r & 2)
		rereference(o, w, HELD_EX);
	if (r & 4)
		other_object(o, w);
	if ((r & 0x60) == 0)
		sched_yield();
	check_content(o);
	ex_exit(o);
	while (nex-- > 0)
		hl_unlock(&o->lk);
}

static void *
r_worker(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load_explicit(&r_stop, memory_order_relaxed)) {
		struct obj *o = &R[ht_rand(&w->rng) % NOBJ];
		unsigned op = (unsigned)(ht_rand(&w->rng) % 100);

		w->ops++;
		if (op < 6) { /* invalidate, without a reference */
			(void)obj_invalidate(o);
			w->invals++;
			continue;
		}
		if (obj_get(o, &w->rng) == GOT_FAILED) {
			w->fails++;
			continue;
		}
		check_data(o, "get");
		if (op < 55)
			shared_section(o, w);
		else if (op < 85)
			exclusive_section(o, w);
		else if (op < 95)
			rereference(o, w, HELD_NONE);
		else
			other_object(o, w);
		obj_put(o);
	}
	return NULL;
}

static void
part_random(uint64_t seed, int nthreads, double secs)
{
	static const char *names[NOBJ] = {"part3 R0", "part3 R1", "part3 R2"};
	struct worker *w = calloc((size_t)nthreads, sizeof(*w));
	struct worker sum = {0};
	unsigned long loads = 0, reval = 0, unloads = 0, inv = 0, fails = 0;
	double t0 = ht_now(), t;

	HT_CHECK(w != NULL, "calloc");
	for (int i = 0; i < NOBJ; i++) {
		obj_init(&R[i], i);
		ht_watch_lock(names[i], &R[i].lk);
	}
	ht_watchdog_start(secs + 60, NULL);
	for (int i = 0; i < nthreads; i++) {
		w[i].rng = seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
		if (w[i].rng == 0)
			w[i].rng = 1;
		spawn(&w[i].td, r_worker, &w[i]);
	}
	/* Run for secs, longer (bounded) until the seed's case was hit. */
	do {
		ht_nap_us(20000);
		t = ht_now() - t0;
	} while (t < secs || (atomic_load(&r_loader_sh) == 0 && t < secs + 10));
	atomic_store(&r_stop, true);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[i].td, NULL);
		sum.ops += w[i].ops;
		sum.invals += w[i].invals;
		sum.fails += w[i].fails;
		sum.loader_sh += w[i].loader_sh;
		sum.loader_ex += w[i].loader_ex;
		sum.upgrades += w[i].upgrades;
	}
	ht_watchdog_stop();
	free(w);

	for (int i = 0; i < NOBJ; i++) {
		struct obj *o = &R[i];

		HT_CHECK(refs_of(&o->lk) == 0 && lockval_of(&o->lk) == 0,
		    "obj %d end: refs=0x%08x lockval=0x%08x", i,
		    refs_of(&o->lk), lockval_of(&o->lk));
		HT_CHECK(
		    !o->loaded, "obj %d still loaded with no reference", i);
		check_content(o);
		loads += atomic_load(&o->loads);
		reval += atomic_load(&o->revalidations);
		unloads += atomic_load(&o->unloads);
		inv += atomic_load(&o->invalidations);
		fails += atomic_load(&o->failures);
	}
	HT_CHECK(loads == unloads, "loads %lu != unloads %lu", loads, unloads);
	HT_CHECK(
	    inv == sum.invals, "invalidations %lu != %lu", inv, sum.invals);
	HT_CHECK(fails == sum.fails, "failures %lu != %lu", fails, sum.fails);
	HT_CHECK(sum.loader_sh > 0,
	    "the randomized run never made a shared holder the loader");
	printf("part 3 random: %d threads, %.2f s, %lu ops: %lu loads, %lu "
	       "re-validations, %lu invalidations, %lu failed "
	       "loads, %lu upgrades; loader while holding shared %lu (%lu "
	       "with an exclusive waiter queued), while exclusive %lu\n",
	    nthreads, ht_now() - t0, sum.ops, loads, reval, inv, fails,
	    sum.upgrades, sum.loader_sh, atomic_load(&r_loader_sh_queued),
	    sum.loader_ex);
}

int
main(int argc, char **argv)
{
	uint64_t seed;
	int nthreads = ht_threads_from_env(12);
	double secs = ht_seconds_from_env(1.5);

	setvbuf(stdout, NULL, _IOLBF, 0);
	seed = ht_seed(argc, argv);
	if (nthreads < 2)
		nthreads = 2;
	if (nthreads > 64)
		nthreads = 64;
	printf("deadlock_regress: sleep backend %s, debug checks %s\n",
	    hl_sleep_backend(), hl_debug_enabled() ? "on" : "off");

	part_hammerlock();
	part_preseed();
	part_random(seed, nthreads, secs);
	ht_pass("deadlock_regress", 3);
	return 0;
}
