/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stress_lock.c - the shared/exclusive lock in lockval under load.
 *
 * Oversubscribed threads hammer a few locks with a random mix of
 * operations: recursive exclusive and shared locks, the try forms, the
 * exclusive owner asking for a shared lock, upgrades of one or two shared
 * holds (EDEADLK: release and sometimes retry exclusively) and
 * downgrades.  Every thread references the object around its locking, as
 * the API requires; main keeps one reference per object for the whole
 * run so that a plain hl_ref() is always legal.
 *
 * Checked inside every critical section:
 *
 *   - exclusive: no other holder at all (atomic counters of exclusive and
 *     shared holders, Dekker style: each side announces itself and then
 *     looks at the other), hl_lock_status() == 1, hl_lock_excl_owned(),
 *     and the word shows EXCLUSIVE with the caller's depth;
 *   - shared: no exclusive holder, hl_lock_status() == -1, not owned, and
 *     the word's count covers the caller's holds;
 *   - a payload of two plain fields, written together by writers with a
 *     pause in between, is never seen torn, and a sequence number that
 *     only writers bump loses no update.
 *
 * At the end every lockval is 0 with no owner, the only reference left is
 * main's, the counters are back to 0, and the sequence numbers add up.
 *
 * Options: --seed N (or HL_SEED), HL_THREADS (default 16), HL_SECONDS
 * (default 3).
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NLOCKS	    3
#define MAX_THREADS 256

struct lobj {
	struct hl_lock lk;
	char name[16];
	_Atomic int ex_in;   /* threads inside exclusively */
	_Atomic int sh_in;   /* threads inside shared */
	_Atomic int sh_peak; /* most shared holders seen at once */
	uint64_t a, b;	     /* payload: b == mix(a); under the lock */
	uint64_t seq;	     /* writes so far; under the lock */
};

struct counts {
	uint64_t ex, ex_depth2, sh, sh_depth2, ex_try_ok, ex_try_busy;
	uint64_t sh_try_ok, sh_try_busy, owner_sh, upgrades, upgrade_fail;
	uint64_t downgrades, writes, reads;
};

static struct lobj objs[NLOCKS];
static atomic_bool stop;
static pthread_mutex_t tot_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct counts tot;

static uint64_t
mix(uint64_t v)
{
	return ~(v * 0xff51afd7ed558ccdull) ^ (v << 17);
}

static void
add_counts(const struct counts *c)
{
	pthread_mutex_lock(&tot_mtx);
	tot.ex += c->ex;
	tot.ex_depth2 += c->ex_depth2;
	tot.sh += c->sh;
	tot.sh_depth2 += c->sh_depth2;
	tot.ex_try_ok += c->ex_try_ok;
	tot.ex_try_busy += c->ex_try_busy;
	tot.sh_try_ok += c->sh_try_ok;
	tot.sh_try_busy += c->sh_try_busy;
	tot.owner_sh += c->owner_sh;
	tot.upgrades += c->upgrades;
	tot.upgrade_fail += c->upgrade_fail;
	tot.downgrades += c->downgrades;
	tot.writes += c->writes;
	tot.reads += c->reads;
	pthread_mutex_unlock(&tot_mtx);
}

/* The caller holds the lock exclusively, `depth' times. */
static void
check_ex_word(struct lobj *o, int depth, const char *what)
{
	uint32_t lv = atomic_load(&o->lk.lockval);

	HT_CHECK(hl_lock_status(&o->lk) == 1, "%s %s: status not exclusive",
	    o->name, what);
	HT_CHECK(hl_lock_excl_owned(&o->lk), "%s %s: not owned by me", o->name,
	    what);
	HT_CHECK((lv & HL_LOCKF_EXCLUSIVE) &&
		     (lv & HL_LOCKF_COUNT_MASK) == (uint32_t)depth,
	    "%s %s: lockval %#x, expected exclusive depth %d", o->name, what,
	    lv, depth);
}

/* The caller holds the lock shared, `depth' times. */
static void
check_sh_word(struct lobj *o, int depth, const char *what)
{
	uint32_t lv = atomic_load(&o->lk.lockval);

	HT_CHECK(hl_lock_status(&o->lk) == -1, "%s %s: status not shared",
	    o->name, what);
	HT_CHECK(!hl_lock_excl_owned(&o->lk), "%s %s: owned while shared",
	    o->name, what);
	HT_CHECK((lv & HL_LOCKF_EXCLUSIVE) == 0 &&
		     (lv & HL_LOCKF_COUNT_MASK) >= (uint32_t)depth,
	    "%s %s: lockval %#x with %d shared hold(s) of mine", o->name, what,
	    lv, depth);
}

static void
ex_enter(struct lobj *o, const char *what)
{
	int e = atomic_fetch_add(&o->ex_in, 1);
	int s = atomic_load(&o->sh_in);

	HT_CHECK(e == 0 && s == 0,
	    "%s %s: exclusive holder finds %d exclusive and %d shared "
	    "holder(s) (lockval %#x)",
	    o->name, what, e, s, atomic_load(&o->lk.lockval));
}

static void
ex_exit(struct lobj *o)
{
	atomic_fetch_sub(&o->ex_in, 1);
}

static void
sh_enter(struct lobj *o, const char *what)
{
	int s = atomic_fetch_add(&o->sh_in, 1) + 1;
	int e = atomic_load(&o->ex_in);
	int peak = atomic_load(&o->sh_peak);

	HT_CHECK(e == 0,
	    "%s %s: shared holder finds %d exclusive holder(s) "
	    "(lockval %#x)",
	    o->name, what, e, atomic_load(&o->lk.lockval));
	while (s > peak && !atomic_compare_exchange_weak(&o->sh_peak, &peak, s))
		;
}

static void
sh_exit(struct lobj *o)
{
	atomic_fetch_sub(&o->sh_in, 1);
}

/* Readers and writers of the plain payload. */
static void
read_payload(struct lobj *o, uint64_t *rng, struct counts *c, const char *what)
{
	uint64_t a = o->a;

	ht_spin_pause(rng, 100, 16);
	HT_CHECK(o->b == mix(a) && o->a == a,
	    "%s %s: torn payload a=%#llx b=%#llx", o->name, what,
	    (unsigned long long)a, (unsigned long long)o->b);
	c->reads++;
}

static void
write_payload(struct lobj *o, uint64_t *rng, struct counts *c, const char *what)
{
	uint64_t v;

	read_payload(o, rng, c, what);
	v = ++o->seq;
	o->a = v;
	ht_spin_pause(rng, 200, 16);
	o->b = mix(v);
	c->writes++;
}

/* Exclusive, recursive to depth 1-3, sometimes starting with the try. */
static void
op_ex(struct lobj *o, uint64_t *rng, struct counts *c)
{
	int depth = 1 + (int)ht_rand_below(rng, 3);

	if (ht_rand_below(rng, 4) == 0) {
		int error = hl_lock_ex_try(&o->lk);

		HT_CHECK(error == 0 || error == EAGAIN, "ex_try: %d", error);
		if (error != 0) {
			c->ex_try_busy++;
			hl_lock_ex(&o->lk);
		} else {
			c->ex_try_ok++;
		}
	} else {
		hl_lock_ex_ident(&o->lk, "stress ex");
	}
	ex_enter(o, "ex");
	check_ex_word(o, 1, "ex");
	write_payload(o, rng, c, "ex");
	for (int d = 2; d <= depth; d++) {
		if (ht_rand_below(rng, 2) == 0) {
			hl_lock_ex(&o->lk);
		} else {
			/* The owner's try always succeeds. */
			HT_CHECK(hl_lock_ex_try(&o->lk) == 0,
			    "%s: owner's recursive try failed", o->name);
		}
		check_ex_word(o, d, "ex recursion");
		c->ex_depth2++;
	}
	if (ht_rand_below(rng, 4) == 0) {
		/* The owner asking for shared gets one more exclusive hold. */
		hl_lock_sh(&o->lk);
		check_ex_word(o, depth + 1, "owner's shared request");
		write_payload(o, rng, c, "owner sh");
		hl_unlock(&o->lk);
		c->owner_sh++;
	}
	if (ht_rand_below(rng, 3) == 0) {
		/* Downgrade all holds to shared, then read. */
		ex_exit(o);
		sh_enter(o, "downgrade");
		hl_lock_downgrade(&o->lk, depth);
		check_sh_word(o, depth, "after downgrade");
		read_payload(o, rng, c, "after downgrade");
		c->downgrades++;
		for (int d = depth; d > 0; d--) {
			if (d == 1)
				sh_exit(o);
			hl_unlock(&o->lk);
		}
		c->ex++;
		return;
	}
	for (int d = depth; d > 0; d--) {
		check_ex_word(o, d, "ex unwind");
		if (d == 1)
			ex_exit(o);
		hl_unlock(&o->lk);
	}
	c->ex++;
}

/* Shared, recursive to depth 1-3, sometimes with the try form. */
static void
op_sh(struct lobj *o, uint64_t *rng, struct counts *c)
{
	int depth = 1 + (int)ht_rand_below(rng, 3);
	int held = 0;

	for (int d = 1; d <= depth; d++) {
		if (ht_rand_below(rng, 3) == 0) {
			int error = hl_lock_sh_try(&o->lk);

			HT_CHECK(
			    error == 0 || error == EAGAIN, "sh_try: %d", error);
			/* Holding it shared, another shared hold is free. */
			HT_CHECK(held == 0 || error == 0,
			    "%s: sh_try failed while I hold it shared "
			    "(lockval %#x)",
			    o->name, atomic_load(&o->lk.lockval));
			if (error != 0) {
				c->sh_try_busy++;
				break;
			}
			c->sh_try_ok++;
		} else {
			hl_lock_sh_ident(&o->lk, "stress sh");
		}
		if (++held == 1)
			sh_enter(o, "sh");
		else
			c->sh_depth2++;
		check_sh_word(o, held, "sh");
		read_payload(o, rng, c, "sh");
	}
	for (int d = held; d > 0; d--) {
		check_sh_word(o, d, "sh unwind");
		if (d == 1)
			sh_exit(o);
		hl_unlock(&o->lk);
	}
	if (held > 0)
		c->sh++;
}

/*
 * One or two shared holds, then an upgrade of all of them.  On EDEADLK
 * release and sometimes retry with a plain exclusive lock.  On success
 * write, then unlock or downgrade back.
 */
static void
op_upgrade(struct lobj *o, uint64_t *rng, struct counts *c)
{
	int k = 1 + (int)ht_rand_below(rng, 2);
	int error;

	for (int d = 1; d <= k; d++)
		hl_lock_sh(&o->lk);
	sh_enter(o, "pre-upgrade");
	check_sh_word(o, k, "pre-upgrade");
	read_payload(o, rng, c, "pre-upgrade");
	error = hl_lock_upgrade(&o->lk, k);
	HT_CHECK(error == 0 || error == EDEADLK, "upgrade: %d", error);
	if (error != 0) {
		c->upgrade_fail++;
		check_sh_word(o, k, "failed upgrade");
		for (int d = k; d > 0; d--) {
			if (d == 1)
				sh_exit(o);
			hl_unlock(&o->lk);
		}
		if (ht_rand_below(rng, 2) == 0)
			op_ex(o, rng, c);
		return;
	}
	c->upgrades++;
	sh_exit(o);
	ex_enter(o, "upgrade");
	check_ex_word(o, k, "upgrade");
	/* An upgrade of an exclusive lock is a no-op. */
	HT_CHECK(hl_lock_upgrade(&o->lk, k) == 0, "re-upgrade");
	check_ex_word(o, k, "re-upgrade");
	write_payload(o, rng, c, "upgrade");
	if (ht_rand_below(rng, 2) == 0) {
		ex_exit(o);
		sh_enter(o, "downgrade after upgrade");
		hl_lock_downgrade(&o->lk, k);
		c->downgrades++;
		check_sh_word(o, k, "downgrade after upgrade");
		read_payload(o, rng, c, "downgrade after upgrade");
		for (int d = k; d > 0; d--) {
			if (d == 1)
				sh_exit(o);
			hl_unlock(&o->lk);
		}
		return;
	}
	for (int d = k; d > 0; d--) {
		if (d == 1)
			ex_exit(o);
		hl_unlock(&o->lk);
	}
}

static void *
worker(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg;
	struct counts c = {0};

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct lobj *o = &objs[ht_rand_below(&rng, NLOCKS)];
		unsigned op = ht_rand_below(&rng, 10);

		hl_ref(&o->lk);
		if (op < 3)
			op_ex(o, &rng, &c);
		else if (op < 7)
			op_sh(o, &rng, &c);
		else
			op_upgrade(o, &rng, &c);
		HT_CHECK(!hl_lock_excl_owned(&o->lk),
		    "%s: still owned after the section", o->name);
		hl_rel(&o->lk);
		if (ht_rand_below(&rng, 8) == 0)
			sched_yield();
	}
	add_counts(&c);
	return NULL;
}

static void
dump_objs(void)
{
	for (int i = 0; i < NLOCKS; i++)
		fprintf(stderr,
		    "  %s: ex_in=%d sh_in=%d sh_peak=%d lockval=%#x refs=%#x\n",
		    objs[i].name, atomic_load(&objs[i].ex_in),
		    atomic_load(&objs[i].sh_in), atomic_load(&objs[i].sh_peak),
		    atomic_load(&objs[i].lk.lockval),
		    atomic_load(&objs[i].lk.refs));
}

int
main(int argc, char **argv)
{
	uint64_t seed = ht_seed(argc, argv);
	int nthreads = ht_threads_from_env(16);
	double secs = ht_seconds_from_env(3.0);
	pthread_t th[MAX_THREADS];
	struct hl_lock_stats st;
	struct timespec ts;
	uint64_t seqs = 0;

	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > MAX_THREADS)
		nthreads = MAX_THREADS;
	printf("stress_lock: %d threads, %d locks, %.1f s, backend %s%s\n",
	    nthreads, NLOCKS, secs, hl_sleep_backend(),
	    hl_debug_enabled() ? " (debug)" : "");
	fflush(stdout);

	for (int i = 0; i < NLOCKS; i++) {
		struct lobj *o = &objs[i];

		memset(o, 0, sizeof(*o));
		hl_lock_init(&o->lk);
		snprintf(o->name, sizeof(o->name), "lock%d", i);
		o->b = mix(0);
		ht_watch_lock(o->name, &o->lk);
		/* main's reference for the whole run */
		HT_CHECK(hl_ref_interlock(&o->lk), "first reference");
		hl_ref_interlock_done(&o->lk);
	}
	ht_watchdog_start(secs * 2 + 30, dump_objs);

	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, worker,
			(void *)(uintptr_t)ht_rng_stream(seed, (uint64_t)i)) !=
		    0)
			HT_CHECK(false, "pthread_create %d", i);
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	ht_watchdog_stop();

	for (int i = 0; i < NLOCKS; i++) {
		struct lobj *o = &objs[i];

		HT_CHECK(atomic_load(&o->lk.lockval) == 0 &&
			     atomic_load(&o->lk.lowner) == 0,
		    "%s: final lockval %#x lowner %#lx", o->name,
		    atomic_load(&o->lk.lockval),
		    (unsigned long)atomic_load(&o->lk.lowner));
		HT_CHECK(atomic_load(&o->lk.refs) == 1,
		    "%s: final refs %#x, expected main's 1", o->name,
		    atomic_load(&o->lk.refs));
		HT_CHECK(
		    atomic_load(&o->ex_in) == 0 && atomic_load(&o->sh_in) == 0,
		    "%s: holders left: ex %d sh %d", o->name,
		    atomic_load(&o->ex_in), atomic_load(&o->sh_in));
		HT_CHECK(o->b == mix(o->a) && o->a == o->seq,
		    "%s: final payload a=%llu seq=%llu", o->name,
		    (unsigned long long)o->a, (unsigned long long)o->seq);
		seqs += o->seq;
		HT_CHECK(hl_rel_interlock(&o->lk, false), "%s: last release",
		    o->name);
		hl_rel_interlock_done(&o->lk, false);
		HT_CHECK(atomic_load(&o->lk.refs) == 0, "%s: refs %#x", o->name,
		    atomic_load(&o->lk.refs));
	}
	HT_CHECK(seqs == tot.writes, "lost updates: %llu writes, seq sum %llu",
	    (unsigned long long)tot.writes, (unsigned long long)seqs);

	hl_lock_stats_get(&st);
	printf("ex %llu (recursive holds %llu, try ok %llu busy %llu, "
	       "owner shared %llu), sh %llu (recursive %llu, try ok %llu "
	       "busy %llu)\n",
	    (unsigned long long)tot.ex, (unsigned long long)tot.ex_depth2,
	    (unsigned long long)tot.ex_try_ok,
	    (unsigned long long)tot.ex_try_busy,
	    (unsigned long long)tot.owner_sh, (unsigned long long)tot.sh,
	    (unsigned long long)tot.sh_depth2,
	    (unsigned long long)tot.sh_try_ok,
	    (unsigned long long)tot.sh_try_busy);
	printf("upgrades %llu (EDEADLK %llu), downgrades %llu, writes %llu, "
	       "reads %llu\n",
	    (unsigned long long)tot.upgrades,
	    (unsigned long long)tot.upgrade_fail,
	    (unsigned long long)tot.downgrades, (unsigned long long)tot.writes,
	    (unsigned long long)tot.reads);
	printf("shared peak");
	for (int i = 0; i < NLOCKS; i++)
		printf(" %d", atomic_load(&objs[i].sh_peak));
	printf(", lock sleeps %llu, wakeups %llu, contended %llu\n",
	    (unsigned long long)st.lock_sleeps,
	    (unsigned long long)st.lock_wakeups,
	    (unsigned long long)st.lock_contended);
	HT_CHECK(
	    tot.ex > 0 && tot.sh > 0 && tot.upgrades > 0 && tot.downgrades > 0,
	    "the run did not exercise every operation");
	ht_pass("stress_lock", 1);
	return 0;
}
