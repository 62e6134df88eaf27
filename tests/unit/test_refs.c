/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_refs.c - every function of the refs word and every transition it
 * names, checked against the exact word value after each step.
 *
 * Each test says in its comment which wrong implementation it catches.
 * Threaded cases use a helper thread that performs one blocking call;
 * the main thread waits until the helper has published its sleep (its
 * reference taken, WANTED set, and it is registered as a sleeper), checks
 * that the call has not returned, then releases and checks the result.
 */
#include <errno.h>
#include <string.h>

#include "unit.h"

#define RK HL_REFS_CHECK
#define RW HL_REFS_WANTED
#define RL HL_REFS_LOCKED

static int npassed;

/* Locks used by threaded tests: static so the watchdog can dump them. */
static struct hl_lock tl1 = HL_LOCK_INITIALIZER;

static void
passed(const char *what)
{
	printf("  ok %s\n", what);
	npassed++;
}

/* A referenced, loaded lock with `count' references and no flags. */
static void
make_loaded(struct hl_lock *l, uint32_t count)
{
	hl_lock_init(l);
	HT_CHECK(hl_ref_interlock_true(l), "ref_interlock_true");
	for (uint32_t i = 1; i < count; i++)
		hl_ref(l);
	hl_ref_interlock_done(l);
	HT_UNIT_REFS(l, count);
}

/* A lock with `count' references and CHECK set (an invalidated object). */
static void
make_invalid(struct hl_lock *l, uint32_t count)
{
	make_loaded(l, count);
	HT_CHECK(!hl_get_interlock(l), "CHECK was clear");
	hl_put_interlock(l, EIO);
	HT_UNIT_REFS(l, count | RK);
}

/*
 * Layout constants.  Catches: a changed bit assignment (the words are
 * documented ABI and stored in user structures).
 */
static void
test_constants(void)
{
	HT_CHECK(HL_REFS_CHECK == 0x10000000u, "CHECK");
	HT_CHECK(HL_REFS_WANTED == 0x20000000u, "WANTED");
	HT_CHECK(HL_REFS_LOCKED == 0x40000000u, "LOCKED");
	HT_CHECK(HL_REFS_FLAGS == 0x70000000u, "FLAGS");
	HT_CHECK(HL_REFS_COUNT_MASK == 0x0FFFFFFFu, "COUNT_MASK");
	HT_CHECK(HL_LOCKF_WANTED == 0x20000000u, "LOCKF_WANTED");
	HT_CHECK(HL_LOCKF_EXCLUSIVE == 0x40000000u, "LOCKF_EXCLUSIVE");
	HT_CHECK(HL_LOCKF_COUNT_MASK == 0x0FFFFFFFu, "LOCKF_COUNT_MASK");
	HT_CHECK((HL_REFS_FLAGS & HL_REFS_COUNT_MASK) == 0, "overlap");
	HT_CHECK(((HL_REFS_FLAGS | HL_REFS_COUNT_MASK) & 0x80000000u) == 0,
	    "bit 31 must stay reserved");
	HT_CHECK(sizeof(((struct hl_lock *)0)->refs) == 4, "refs is 32-bit");
	HT_CHECK(
	    sizeof(((struct hl_lock *)0)->lockval) == 4, "lockval is 32-bit");
	passed("constants");
}

/* Run a complete load/ref/unload cycle on a lock in its initial state. */
static void
cycle(struct hl_lock *l)
{
	HT_UNIT_REFS(l, 0);
	HT_UNIT_LOCKVAL(l, 0);
	HT_CHECK(atomic_load(&l->lowner) == 0 && atomic_load(&l->rowner) == 0,
	    "owners must start clear");
	HT_CHECK(hl_ref_interlock(l), "0->1 interlocks");
	HT_UNIT_REFS(l, 1 | RL | RK);
	hl_ref_interlock_done(l);
	hl_lock_ex(l);
	HT_UNIT_LOCKVAL(l, 1 | HL_LOCKF_EXCLUSIVE);
	hl_unlock(l);
	HT_CHECK(hl_rel_interlock(l, false), "1->0 interlocks");
	hl_rel_interlock_done(l, false);
	HT_UNIT_REFS(l, 0);
	HT_UNIT_LOCKVAL(l, 0);
}

/*
 * HL_LOCK_INITIALIZER, hl_lock_init() and a zero-filled struct are all a
 * valid unlocked, unreferenced lock.  Catches: an initializer or init
 * that leaves a flag or owner behind, or a layout that needs non-zero
 * initial values.
 */
static void
test_init(void)
{
	struct hl_lock a = HL_LOCK_INITIALIZER;
	struct hl_lock b;
	struct hl_lock *c;

	cycle(&a);

	memset(&b, 0xa5, sizeof(b));
	hl_lock_init(&b);
	cycle(&b);

	/* Re-init a dirty lock (as after a longjmp out of a fatal error). */
	atomic_store(&b.refs, 5 | RL | RW | RK);
	atomic_store(&b.lockval, 3 | HL_LOCKF_EXCLUSIVE);
	atomic_store(&b.lowner, 1234);
	atomic_store(&b.rowner, 5678);
	hl_lock_init(&b);
	cycle(&b);

	c = calloc(1, sizeof(*c));
	HT_CHECK(c != NULL, "calloc");
	cycle(c);
	free(c);
	passed("initializer, hl_lock_init, zeroed struct");
}

/*
 * hl_ref / hl_rel.  Catches: CHECK not set on 0->1 or not cleared on
 * 1->0, hl_ref/hl_rel touching CHECK on N->N+1 / N->N-1, and hl_rel
 * touching LOCKED or WANTED.
 */
static void
test_ref_rel(void)
{
	struct hl_lock l;

	/* 0->1 under the interlock sets CHECK (legal in every build). */
	hl_lock_init(&l);
	HT_CHECK(hl_try_interlock_norefs(&l), "norefs interlock");
	HT_UNIT_REFS(&l, RL);
	hl_ref(&l);
	HT_UNIT_REFS(&l, 1 | RL | RK);
	hl_ref(&l);
	HT_UNIT_REFS(&l, 2 | RL | RK);
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 2);

	/* N->N+1 and N->N-1 touch no flag. */
	hl_ref(&l);
	HT_UNIT_REFS(&l, 3);
	hl_rel(&l);
	HT_UNIT_REFS(&l, 2);
	hl_rel(&l);
	HT_UNIT_REFS(&l, 1);
	hl_rel(&l);
	HT_UNIT_REFS(&l, 0);

	/* CHECK survives N->N+1 and N->N-1, and is cleared by 1->0. */
	make_invalid(&l, 1);
	hl_ref(&l);
	HT_UNIT_REFS(&l, 2 | RK);
	hl_rel(&l);
	HT_UNIT_REFS(&l, 1 | RK);
	hl_rel(&l);
	HT_UNIT_REFS(&l, 0);

	/* hl_ref never blocks, even when another party holds LOCKED. */
	make_invalid(&l, 1);
	HT_CHECK(hl_get_interlock(&l), "CHECK seen");
	HT_UNIT_REFS(&l, 1 | RL | RK);
	hl_ref(&l);
	HT_UNIT_REFS(&l, 2 | RL | RK);

	/* hl_rel leaves LOCKED and WANTED alone, and wakes no one. */
	atomic_store(&l.refs, 2 | RL | RW | RK);
	hl_rel(&l);
	HT_UNIT_REFS(&l, 1 | RL | RW | RK);
	hl_rel(&l);
	HT_UNIT_REFS(&l, RL | RW);
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 0);

	/*
	 * A plain 0->1 without the interlock is fatal in debug builds
	 * (unit_fatal checks that); without the checks it behaves like
	 * the seed: count 1 and CHECK set.
	 */
	if (!hl_debug_enabled()) {
		hl_lock_init(&l);
		hl_ref(&l);
		HT_UNIT_REFS(&l, 1 | RK);
		hl_rel(&l);
		HT_UNIT_REFS(&l, 0);
	}

	/* Counts near the top of the field still work. */
	hl_lock_init(&l);
	atomic_store(&l.refs, HL_REFS_COUNT_MASK - 1);
	hl_ref(&l);
	HT_UNIT_REFS(&l, HL_REFS_COUNT_MASK);
	HT_CHECK(!hl_rel_interlock(&l, false), "max->max-1");
	HT_UNIT_REFS(&l, HL_REFS_COUNT_MASK - 1);
	passed("hl_ref / hl_rel");
}

/*
 * hl_ref_interlock cases (a), (b) and (d), single-threaded.  Catches: no
 * interlock on 0->1; an interlock (or a block) on N->N+1 with CHECK
 * clear; a missed re-validation when CHECK is set and LOCKED is free;
 * the owner not recorded or not cleared.
 */
static void
test_ref_interlock(void)
{
	struct hl_lock l;

	/* (a) 0->1: true, holding the interlock, CHECK set. */
	hl_lock_init(&l);
	HT_CHECK(hl_ref_interlock(&l) == true, "(a) 0->1 must be true");
	HT_UNIT_REFS(&l, 1 | RL | RK);
	HT_CHECK(atomic_load(&l.rowner) != 0, "interlock owner not set");
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 1);
	HT_CHECK(atomic_load(&l.rowner) == 0, "interlock owner not cleared");

	/* (b) N->N+1 with CHECK clear: false, no flag. */
	HT_CHECK(hl_ref_interlock(&l) == false, "(b) 1->2 must be false");
	HT_UNIT_REFS(&l, 2);
	HT_CHECK(hl_ref_interlock(&l) == false, "(b) 2->3 must be false");
	HT_UNIT_REFS(&l, 3);

	/* (b) also when LOCKED is held but CHECK is clear: no waiting. */
	HT_CHECK(!hl_get_interlock(&l), "CHECK clear");
	HT_UNIT_REFS(&l, 3 | RL);
	HT_CHECK(hl_ref_interlock(&l) == false, "(b) under LOCKED");
	HT_UNIT_REFS(&l, 4 | RL);
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 4);

	/* (d) CHECK set and LOCKED free: true, count may be > 1. */
	make_invalid(&l, 2);
	HT_CHECK(hl_ref_interlock(&l) == true, "(d) must be true");
	HT_UNIT_REFS(&l, 3 | RL | RK);
	/* A validator that re-loads is idempotent; done clears CHECK. */
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 3);
	HT_CHECK(hl_ref_interlock(&l) == false, "loaded again");
	HT_UNIT_REFS(&l, 4);

	/* (d) after a failed load that left another reference behind. */
	hl_lock_init(&l);
	HT_CHECK(hl_ref_interlock(&l), "0->1");
	hl_ref(&l); /* somebody else's reference, taken under us */
	HT_UNIT_REFS(&l, 2 | RL | RK);
	HT_CHECK(hl_rel_interlock(&l, true) == true, "failure path");
	HT_UNIT_REFS(&l, 1 | RL | RK);
	hl_rel_interlock_done(&l, true);
	HT_UNIT_REFS(&l, 1 | RK);
	HT_CHECK(hl_ref_interlock(&l) == true, "(d) retry the load");
	HT_UNIT_REFS(&l, 2 | RL | RK);
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 2);
	passed("hl_ref_interlock (a) (b) (d)");
}

/*
 * hl_ref_interlock_true.  Catches: a result other than true, or a word
 * other than 1|LOCKED|CHECK.
 */
static void
test_ref_interlock_true(void)
{
	struct hl_lock l = HL_LOCK_INITIALIZER;

	HT_CHECK(hl_ref_interlock_true(&l) == true, "must return true");
	HT_UNIT_REFS(&l, 1 | RL | RK);
	HT_CHECK(atomic_load(&l.rowner) != 0, "owner");
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 1);
	HT_CHECK(hl_rel_interlock(&l, false), "1->0");
	HT_UNIT_REFS(&l, RL);
	hl_rel_interlock_done(&l, false);
	HT_UNIT_REFS(&l, 0);
	passed("hl_ref_interlock_true");
}

/*
 * hl_ref_interlock_done.  Catches: the count changed, or one of the three
 * flags left behind; no wake call when WANTED was set.
 */
static void
test_ref_interlock_done(void)
{
	struct hl_lock l = HL_LOCK_INITIALIZER;
	struct hl_lock_stats s0, s1;

	HT_CHECK(hl_ref_interlock(&l), "0->1");
	hl_ref(&l);
	hl_ref(&l);
	HT_UNIT_REFS(&l, 3 | RL | RK);
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 3);

	/*
	 * With WANTED set (forged here: nobody sleeps) it must clear it too
	 * and make a wake call.
	 */
	make_invalid(&l, 3);
	HT_CHECK(hl_get_interlock(&l), "CHECK");
	atomic_fetch_or(&l.refs, RW);
	HT_UNIT_REFS(&l, 3 | RL | RW | RK);
	hl_lock_stats_get(&s0);
	hl_ref_interlock_done(&l);
	hl_lock_stats_get(&s1);
	HT_UNIT_REFS(&l, 3);
	HT_CHECK(s1.refs_wakeups > s0.refs_wakeups, "no wake call");

	/* Without WANTED there must be no wake call. */
	HT_CHECK(!hl_get_interlock(&l), "CHECK clear");
	hl_lock_stats_get(&s0);
	hl_ref_interlock_done(&l);
	hl_lock_stats_get(&s1);
	HT_UNIT_REFS(&l, 3);
	HT_CHECK(
	    s1.refs_wakeups == s0.refs_wakeups, "wake call without WANTED");
	passed("hl_ref_interlock_done");
}

/*
 * hl_rel_interlock, single-threaded.  Catches: no interlock on 1->0, an
 * interlock or a wrong result on N->N-1, locked=true not returning true
 * or dropping LOCKED, CHECK wrongly cleared under the interlock.
 */
static void
test_rel_interlock(void)
{
	struct hl_lock l;
	uint32_t w;

	/* N->N-1: false, flags untouched. */
	make_loaded(&l, 3);
	HT_CHECK(hl_rel_interlock(&l, false) == false, "3->2");
	HT_UNIT_REFS(&l, 2);
	HT_CHECK(hl_rel_interlock(&l, false) == false, "2->1");
	HT_UNIT_REFS(&l, 1);

	/* 1->0 with locked=false: true, 0|LOCKED. */
	HT_CHECK(hl_rel_interlock(&l, false) == true, "1->0");
	HT_UNIT_REFS(&l, RL);
	HT_CHECK(atomic_load(&l.rowner) != 0, "owner");
	hl_rel_interlock_done(&l, false);
	HT_UNIT_REFS(&l, 0);
	HT_CHECK(atomic_load(&l.rowner) == 0, "owner cleared");

	/* 1->0 on an invalidated object: interlocked; done leaves 0. */
	make_invalid(&l, 1);
	HT_CHECK(hl_rel_interlock(&l, false) == true, "1|CHECK->0");
	w = atomic_load(&l.refs);
	HT_CHECK((w & ~RK) == RL, "refs=0x%08x, expected 0|LOCKED", w);
	hl_rel_interlock_done(&l, false);
	HT_UNIT_REFS(&l, 0);

	/* N->N-1 with CHECK set: false, CHECK kept. */
	make_invalid(&l, 2);
	HT_CHECK(hl_rel_interlock(&l, false) == false, "2|CHECK->1");
	HT_UNIT_REFS(&l, 1 | RK);

	/* locked=true: plain release, true, LOCKED kept. */
	hl_lock_init(&l);
	HT_CHECK(hl_ref_interlock(&l), "0->1");
	hl_ref(&l);
	hl_ref(&l);
	HT_UNIT_REFS(&l, 3 | RL | RK);
	HT_CHECK(hl_rel_interlock(&l, true) == true, "locked 3->2");
	HT_UNIT_REFS(&l, 2 | RL | RK);
	HT_CHECK(hl_rel_interlock(&l, true) == true, "locked 2->1");
	HT_UNIT_REFS(&l, 1 | RL | RK);
	HT_CHECK(hl_rel_interlock(&l, true) == true, "locked 1->0");
	HT_UNIT_REFS(&l, RL);
	hl_rel_interlock_done(&l, true);
	HT_UNIT_REFS(&l, 0);
	passed("hl_rel_interlock");
}

/*
 * hl_rel_interlock_done.  Catches: CHECK cleared while references remain
 * (a thread that referenced the object during the unload would then use
 * it unloaded), CHECK kept at count 0, LOCKED or WANTED left set.
 */
static void
test_rel_interlock_done(void)
{
	struct hl_lock l;

	/* Count 0: everything cleared. */
	make_loaded(&l, 1);
	HT_CHECK(hl_rel_interlock(&l, false), "1->0");
	atomic_fetch_or(&l.refs, RW); /* forged: nobody sleeps */
	HT_UNIT_REFS(&l, RL | RW);
	hl_rel_interlock_done(&l, false);
	HT_UNIT_REFS(&l, 0);

	/* A reference taken during the unload: CHECK stays. */
	make_loaded(&l, 1);
	HT_CHECK(hl_rel_interlock(&l, false), "1->0");
	hl_ref(&l); /* as the interlock holder: legal */
	HT_UNIT_REFS(&l, 1 | RL | RK);
	hl_rel_interlock_done(&l, false);
	HT_UNIT_REFS(&l, 1 | RK);
	/* The next reference must re-load. */
	HT_CHECK(hl_ref_interlock(&l) == true, "must re-validate");
	HT_UNIT_REFS(&l, 2 | RL | RK);
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 2);

	/* orig_locked = true follows the same rule. */
	make_invalid(&l, 2);
	HT_CHECK(hl_get_interlock(&l), "CHECK");
	HT_CHECK(hl_rel_interlock(&l, true), "locked 2->1");
	hl_rel_interlock_done(&l, true);
	HT_UNIT_REFS(&l, 1 | RK);
	passed("hl_rel_interlock_done");
}

/*
 * hl_get_interlock returns the CHECK bit.  Catches: a wrong result, or
 * the count or CHECK changed by taking the interlock.
 */
static void
test_get_interlock(void)
{
	struct hl_lock l = HL_LOCK_INITIALIZER;

	HT_CHECK(hl_get_interlock(&l) == false, "count 0: CHECK clear");
	HT_UNIT_REFS(&l, RL);
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 0);

	make_loaded(&l, 2);
	HT_CHECK(hl_get_interlock(&l) == false, "loaded: CHECK clear");
	HT_UNIT_REFS(&l, 2 | RL);
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 2);

	make_invalid(&l, 2);
	HT_CHECK(hl_get_interlock(&l) == true, "invalid: CHECK set");
	HT_UNIT_REFS(&l, 2 | RL | RK);
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 2);
	passed("hl_get_interlock");
}

/*
 * hl_try_interlock_norefs.  Catches: success on a word that has a count,
 * a flag or the interlock, or a word other than 0|LOCKED on success.
 */
static void
test_try_interlock_norefs(void)
{
	struct hl_lock l = HL_LOCK_INITIALIZER;

	HT_CHECK(hl_try_interlock_norefs(&l) == true, "word 0");
	HT_UNIT_REFS(&l, RL);
	HT_CHECK(hl_try_interlock_norefs(&l) == false, "already LOCKED");
	HT_UNIT_REFS(&l, RL);
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 0);

	make_loaded(&l, 1);
	HT_CHECK(hl_try_interlock_norefs(&l) == false, "count 1");
	HT_UNIT_REFS(&l, 1);

	make_invalid(&l, 1);
	HT_CHECK(hl_try_interlock_norefs(&l) == false, "count 1|CHECK");
	HT_UNIT_REFS(&l, 1 | RK);

	/* 0|LOCKED (an unload in progress): must fail. */
	make_loaded(&l, 1);
	HT_CHECK(hl_rel_interlock(&l, false), "1->0");
	HT_CHECK(hl_try_interlock_norefs(&l) == false, "0|LOCKED");
	HT_UNIT_REFS(&l, RL);
	hl_rel_interlock_done(&l, false);

	/* Forged flag-only words: the whole word must be 0. */
	atomic_store(&l.refs, RK);
	HT_CHECK(hl_try_interlock_norefs(&l) == false, "0|CHECK");
	HT_UNIT_REFS(&l, RK);
	atomic_store(&l.refs, RW);
	HT_CHECK(hl_try_interlock_norefs(&l) == false, "0|WANTED");
	HT_UNIT_REFS(&l, RW);
	atomic_store(&l.refs, 0);
	HT_CHECK(hl_try_interlock_norefs(&l) == true, "0 again");
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 0);
	passed("hl_try_interlock_norefs");
}

/*
 * hl_put_interlock(error).  Catches: CHECK set with no references left
 * (the next 0->1 would be wrong only by luck), CHECK not set on error
 * while references remain (holders would keep using a bad object), CHECK
 * not cleared on success, LOCKED/WANTED left set.
 */
static void
test_put_interlock(void)
{
	struct hl_lock l = HL_LOCK_INITIALIZER;

	/* No references, error=0 and error!=0: the word returns to 0. */
	HT_CHECK(hl_try_interlock_norefs(&l), "norefs");
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 0);
	HT_CHECK(hl_try_interlock_norefs(&l), "norefs");
	hl_put_interlock(&l, EIO);
	HT_UNIT_REFS(&l, 0);

	/* References, error=0: CHECK cleared (validated). */
	make_invalid(&l, 2);
	HT_CHECK(hl_get_interlock(&l), "CHECK");
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 2);

	/* References, error!=0: CHECK set. */
	HT_CHECK(!hl_get_interlock(&l), "no CHECK");
	hl_put_interlock(&l, EIO);
	HT_UNIT_REFS(&l, 2 | RK);
	HT_CHECK(hl_get_interlock(&l) == true, "CHECK now");
	hl_put_interlock(&l, -1); /* any non-zero value is an error */
	HT_UNIT_REFS(&l, 2 | RK);

	/* WANTED cleared (forged: nobody sleeps). */
	HT_CHECK(hl_get_interlock(&l), "CHECK");
	atomic_fetch_or(&l.refs, RW);
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 2);
	passed("hl_put_interlock");
}

/*
 * The query helpers.  Catches: a query that reads flags as count or the
 * count as flags.
 */
static void
test_queries(void)
{
	static const struct {
		uint32_t w;
		uint32_t active;
	} t[] = {
	    {0, 0},
	    {1, 1},
	    {2, 2},
	    {RL, 0},
	    {RK, 0},
	    {RW, 0},
	    {1 | RL | RK, 1},
	    {1 | RK, 1},
	    {7 | RL | RW | RK, 7},
	    {HL_REFS_COUNT_MASK, HL_REFS_COUNT_MASK},
	    {HL_REFS_COUNT_MASK | HL_REFS_FLAGS, HL_REFS_COUNT_MASK},
	};
	struct hl_lock l = HL_LOCK_INITIALIZER;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		atomic_store(&l.refs, t[i].w);
		HT_CHECK(
		    hl_isactive(&l) == t[i].active, "isactive(0x%08x)", t[i].w);
		HT_CHECK(hl_oneref(&l) == (t[i].active == 1), "oneref(0x%08x)",
		    t[i].w);
		HT_CHECK(hl_norefs(&l) == (t[i].active == 0), "norefs(0x%08x)",
		    t[i].w);
		HT_CHECK(hl_norefsorlock(&l) == (t[i].w == 0),
		    "norefsorlock(0x%08x)", t[i].w);
		HT_CHECK(hl_refsorlock(&l) == (t[i].w != 0),
		    "refsorlock(0x%08x)", t[i].w);
	}
	passed("queries");
}

/* Threaded cases */

enum op { OP_REF_INTERLOCK, OP_REL_INTERLOCK, OP_GET_INTERLOCK };

struct op_thread {
	struct hl_lock *l;
	enum op op;
	_Atomic int returned;
	bool result;
	uint32_t word;	  /* refs right after the call returned */
	uint32_t final;	  /* refs after the thread finished its protocol */
	bool reload_fail; /* on a true ref_interlock, fail the load */
};

static void *
op_main(void *arg)
{
	struct op_thread *t = arg;

	switch (t->op) {
	case OP_REF_INTERLOCK:
		t->result = hl_ref_interlock(t->l);
		break;
	case OP_REL_INTERLOCK:
		t->result = hl_rel_interlock(t->l, false);
		break;
	case OP_GET_INTERLOCK:
		t->result = hl_get_interlock(t->l);
		break;
	}
	t->word = atomic_load(&t->l->refs);
	atomic_store(&t->returned, 1);

	/* Finish whatever protocol the result left us in. */
	switch (t->op) {
	case OP_REF_INTERLOCK:
		if (t->result)
			hl_ref_interlock_done(t->l);
		break;
	case OP_REL_INTERLOCK:
		if (t->result)
			hl_rel_interlock_done(t->l, false);
		break;
	case OP_GET_INTERLOCK:
		hl_put_interlock(t->l, 0);
		break;
	}
	t->final = atomic_load(&t->l->refs);
	return NULL;
}

/*
 * Start a thread doing `op' on l and wait until it sleeps with the refs
 * word equal to `sleeping'.
 */
static pthread_t
start_sleeper(
    struct op_thread *t, struct hl_lock *l, enum op op, uint32_t sleeping)
{
	pthread_t td;

	memset(t, 0, sizeof(*t));
	t->l = l;
	t->op = op;
	td = ht_unit_spawn(op_main, t);
	HT_UNIT_WAIT(atomic_load(&l->refs) == sleeping,
	    "sleeper never published 0x%08x; refs=0x%08x", sleeping,
	    atomic_load(&l->refs));
	ht_unit_wait_sleepers(1);
	HT_CHECK(atomic_load(&t->returned) == 0,
	    "the call returned while the interlock was held");
	HT_UNIT_REFS(l, sleeping);
	return td;
}

/*
 * (c) CHECK set and LOCKED held elsewhere: the caller keeps its reference
 * and sleeps; the holder's successful load makes it return false.
 * Catches: returning at once (true or false) while the load is still in
 * progress, a lost wakeup (hang: the watchdog fires), a count not taken
 * before sleeping, no sleep counted.
 */
static void
test_ref_interlock_c_done(void)
{
	struct hl_lock *l = &tl1;
	struct hl_lock_stats s0, s1;
	struct op_thread t;
	pthread_t td;

	hl_lock_init(l);
	hl_lock_stats_get(&s0);
	HT_CHECK(hl_ref_interlock(l), "0->1");
	HT_UNIT_REFS(l, 1 | RL | RK);
	td = start_sleeper(&t, l, OP_REF_INTERLOCK, 2 | RL | RW | RK);
	hl_ref_interlock_done(l); /* load succeeded */
	ht_unit_join(td);
	HT_CHECK(t.result == false, "(c) after a good load must be false");
	HT_CHECK(t.word == 2, "refs=0x%08x after return, expected 2", t.word);
	HT_UNIT_REFS(l, 2);
	hl_lock_stats_get(&s1);
	HT_CHECK(s1.refs_sleeps > s0.refs_sleeps, "no sleep counted");
	HT_CHECK(s1.refs_wakeups > s0.refs_wakeups, "no wakeup counted");
	passed("hl_ref_interlock (c) sleeps, then false after done");
}

/*
 * (c), the load fails: the holder drops its reference with locked=true
 * and ends with hl_rel_interlock_done; CHECK stays because the sleeper's
 * reference remains, and the sleeper must take over the load (true,
 * holding LOCKED).  Catches: false returned after a failed load (the
 * sleeper would use an unloaded object), CHECK cleared by
 * rel_interlock_done with references left.
 */
static void
test_ref_interlock_c_fail(void)
{
	struct hl_lock *l = &tl1;
	struct op_thread t;
	pthread_t td;

	hl_lock_init(l);
	HT_CHECK(hl_ref_interlock(l), "0->1");
	td = start_sleeper(&t, l, OP_REF_INTERLOCK, 2 | RL | RW | RK);
	HT_CHECK(hl_rel_interlock(l, true), "failure path");
	HT_UNIT_REFS(l, 1 | RL | RW | RK);
	HT_CHECK(atomic_load(&t.returned) == 0, "woke while still LOCKED");
	hl_rel_interlock_done(l, true);
	ht_unit_join(td);
	HT_CHECK(t.result == true, "(c) after a failed load must be true");
	HT_CHECK(t.word == (1 | RL | RK),
	    "refs=0x%08x after return, expected 1|LOCKED|CHECK", t.word);
	HT_CHECK(t.final == 1, "refs=0x%08x after its load", t.final);
	HT_UNIT_REFS(l, 1);
	passed("hl_ref_interlock (c) sleeps, then true after failure");
}

/*
 * (c) with an invalidation: the holder of hl_get_interlock ends with
 * hl_put_interlock(error) while the sleeper's reference exists; the
 * sleeper must get true.  Then the same with error 0: false.
 */
static void
test_ref_interlock_c_put(void)
{
	struct hl_lock *l = &tl1;
	struct op_thread t;
	pthread_t td;

	make_invalid(l, 1);
	HT_CHECK(hl_get_interlock(l), "CHECK");
	td = start_sleeper(&t, l, OP_REF_INTERLOCK, 2 | RL | RW | RK);
	hl_put_interlock(l, EIO);
	ht_unit_join(td);
	HT_CHECK(t.result == true, "put(error) must hand over the load");
	HT_CHECK(t.word == (2 | RL | RK), "refs=0x%08x", t.word);
	HT_UNIT_REFS(l, 2);

	make_invalid(l, 1);
	HT_CHECK(hl_get_interlock(l), "CHECK");
	td = start_sleeper(&t, l, OP_REF_INTERLOCK, 2 | RL | RW | RK);
	hl_put_interlock(l, 0);
	ht_unit_join(td);
	HT_CHECK(t.result == false, "put(0) validated: must be false");
	HT_CHECK(t.word == 2, "refs=0x%08x", t.word);
	HT_UNIT_REFS(l, 2);
	passed("hl_ref_interlock (c) vs hl_put_interlock");
}

/*
 * A reference taken while the last holder unloads (0|LOCKED): the
 * referencing thread sleeps with 1|LOCKED|WANTED|CHECK; the unloader's
 * hl_rel_interlock_done keeps CHECK (count 1) and the thread gets true.
 * Catches: CHECK cleared at rel_interlock_done with a reference left
 * (the thread would get false and use an unloaded object).
 */
static void
test_ref_during_unload(void)
{
	struct hl_lock *l = &tl1;
	struct op_thread t;
	pthread_t td;

	make_loaded(l, 1);
	HT_CHECK(hl_rel_interlock(l, false), "1->0");
	HT_UNIT_REFS(l, RL);
	td = start_sleeper(&t, l, OP_REF_INTERLOCK, 1 | RL | RW | RK);
	hl_rel_interlock_done(l, false);
	ht_unit_join(td);
	HT_CHECK(t.result == true, "must reload after the unload");
	HT_CHECK(t.word == (1 | RL | RK), "refs=0x%08x", t.word);
	HT_CHECK(t.final == 1, "refs=0x%08x", t.final);
	HT_UNIT_REFS(l, 1);
	passed("hl_rel_interlock_done keeps CHECK for a late reference");
}

/*
 * hl_rel_interlock with count 1 while another thread holds the interlock
 * must sleep, then take the interlock on 1->0.  Catches: a 1->0 that
 * returns true without LOCKED (two unloaders), or false (nobody unloads),
 * or a lost wakeup.
 */
static void
test_rel_interlock_sleeps(void)
{
	struct hl_lock *l = &tl1;
	struct op_thread t;
	pthread_t td;

	make_loaded(l, 1);
	HT_CHECK(!hl_get_interlock(l), "no CHECK");
	HT_UNIT_REFS(l, 1 | RL);
	td = start_sleeper(&t, l, OP_REL_INTERLOCK, 1 | RL | RW);
	hl_put_interlock(l, 0);
	ht_unit_join(td);
	HT_CHECK(t.result == true, "1->0 must be true");
	HT_CHECK(t.word == RL, "refs=0x%08x, expected 0|LOCKED", t.word);
	HT_CHECK(t.final == 0, "refs=0x%08x", t.final);
	HT_UNIT_REFS(l, 0);
	passed("hl_rel_interlock sleeps on count 1 + LOCKED");
}

/*
 * hl_get_interlock sleeps while LOCKED is held (here by a reclaimer with
 * no references), and returns the CHECK bit once it gets it.  Catches: a
 * second holder, a lost wakeup.
 */
static void
test_get_interlock_sleeps(void)
{
	struct hl_lock *l = &tl1;
	struct op_thread t;
	pthread_t td;

	hl_lock_init(l);
	HT_CHECK(hl_try_interlock_norefs(l), "norefs");
	td = start_sleeper(&t, l, OP_GET_INTERLOCK, RL | RW);
	hl_put_interlock(l, 0);
	ht_unit_join(td);
	HT_CHECK(t.result == false, "no CHECK");
	HT_CHECK(t.word == RL, "refs=0x%08x", t.word);
	HT_UNIT_REFS(l, 0);

	/* Holder invalidates while references remain: CHECK reported. */
	make_loaded(l, 1);
	HT_CHECK(!hl_get_interlock(l), "no CHECK");
	td = start_sleeper(&t, l, OP_GET_INTERLOCK, 1 | RL | RW);
	hl_put_interlock(l, EIO);
	ht_unit_join(td);
	HT_CHECK(t.result == true, "CHECK must be reported");
	HT_CHECK(t.word == (1 | RL | RK), "refs=0x%08x", t.word);
	HT_UNIT_REFS(l, 1); /* the thread's put(0) validated it */
	passed("hl_get_interlock sleeps while LOCKED");
}

int
main(void)
{
	printf("unit_refs: debug checks %s, sleep backend %s\n",
	    hl_debug_enabled() ? "on" : "off", hl_sleep_backend());
	ht_watch_lock("tl1", &tl1);
	ht_watchdog_start(30, NULL);

	test_constants();
	test_init();
	test_ref_rel();
	test_ref_interlock();
	test_ref_interlock_true();
	test_ref_interlock_done();
	test_rel_interlock();
	test_rel_interlock_done();
	test_get_interlock();
	test_try_interlock_norefs();
	test_put_interlock();
	test_queries();
	test_ref_interlock_c_done();
	test_ref_interlock_c_fail();
	test_ref_interlock_c_put();
	test_ref_during_unload();
	test_rel_interlock_sleeps();
	test_get_interlock_sleeps();

	ht_watchdog_stop();
	ht_pass("unit_refs", npassed);
	return 0;
}
