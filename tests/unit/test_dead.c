/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dead.c - the DEAD state of the refs word and the four functions of
 * lookup versus destruction: hl_ref_live(), hl_check_interlock(),
 * hl_kill_interlock() and hl_revive_interlock(), plus the DEAD checks of
 * the older functions.
 *
 * Single-threaded cases check the exact word (and the interlock owner)
 * after every step.  Threaded cases use a helper thread that performs one
 * blocking call; the main thread waits until the helper has published its
 * sleep (the word it must leave, and it is registered as a sleeper), then
 * acts and checks the result.  Death cases run with a capturing fatal
 * handler and check the reporting function, the keyword, the word as
 * reported and the word after the jump (the misuse must not change it).
 * The last case is a seeded race: lookups with hl_ref_live() against a
 * destroyer that kills and revives the same objects.
 *
 * Options: --seed N (or HL_SEED) for the race.
 */
#include <errno.h>
#include <string.h>

#include "unit.h"

#define RK HL_REFS_CHECK
#define RW HL_REFS_WANTED
#define RL HL_REFS_LOCKED
#define RD HL_REFS_DEAD

static int npassed;

/* Locks used by threaded and death tests: static so the watchdog dumps. */
static struct hl_lock tl1 = HL_LOCK_INITIALIZER;

/* Must-check results of misuses go here; they never return anyway. */
static volatile int sink;

static void
passed(const char *what)
{
	printf("  ok %s\n", what);
	npassed++;
}

static uintptr_t
rowner(const struct hl_lock *l)
{
	return atomic_load(&l->rowner);
}

static uintptr_t
self(void)
{
	return hl__self_id();
}

#define OWNED_BY_ME(l)                                                         \
	HT_CHECK(rowner(l) == self(), "rowner=%#lx, expected self %#lx",       \
	    (unsigned long)rowner(l), (unsigned long)self())
#define NOT_OWNED(l)                                                           \
	HT_CHECK(rowner(l) == 0, "rowner=%#lx, expected 0",                    \
	    (unsigned long)rowner(l))

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

/* A destroyed object: 0 -> 0|LOCKED -> DEAD through the API. */
static void
make_dead(struct hl_lock *l)
{
	hl_lock_init(l);
	HT_CHECK(hl_try_interlock_norefs(l), "norefs");
	HT_CHECK(hl_kill_interlock(l), "kill");
	HT_UNIT_REFS(l, RD);
	NOT_OWNED(l);
}

/*
 * The DEAD bit and the queries on a DEAD word.  Catches: DEAD overlapping
 * a flag or the count, a query that reads DEAD as a reference.
 */
static void
test_constants(void)
{
	struct hl_lock l;

	HT_CHECK(HL_REFS_DEAD == 0x80000000u, "DEAD");
	HT_CHECK((RD & (HL_REFS_FLAGS | HL_REFS_COUNT_MASK)) == 0,
	    "DEAD overlaps flags or count");
	make_dead(&l);
	HT_CHECK(hl_isactive(&l) == 0, "isactive(DEAD)");
	HT_CHECK(!hl_oneref(&l), "oneref(DEAD)");
	HT_CHECK(hl_norefs(&l), "norefs(DEAD)");
	HT_CHECK(!hl_norefsorlock(&l), "norefsorlock(DEAD)");
	HT_CHECK(hl_refsorlock(&l), "refsorlock(DEAD)");
	HT_UNIT_REFS(&l, RD);
	passed("DEAD constant and queries");
}

/*
 * hl_ref_live.  Catches: a reference taken on a DEAD word (a lookup
 * revives a destroyed object), CHECK not set on 0->1, CHECK set or
 * cleared on N->N+1, a flag lost, the interlock or an owner taken.
 */
static void
test_ref_live(void)
{
	struct hl_lock l;

	/* 0 -> 1|CHECK: a reference, no interlock. */
	hl_lock_init(&l);
	HT_CHECK(hl_ref_live(&l) == true, "0->1");
	HT_UNIT_REFS(&l, 1 | RK);
	NOT_OWNED(&l);
	/* 1|CHECK -> 2|CHECK (slow path: CHECK set). */
	HT_CHECK(hl_ref_live(&l) == true, "1|K->2|K");
	HT_UNIT_REFS(&l, 2 | RK);
	hl_rel(&l);
	hl_rel(&l);
	HT_UNIT_REFS(&l, 0);

	/* N -> N+1 with CHECK clear: no flag. */
	make_loaded(&l, 3);
	HT_CHECK(hl_ref_live(&l) == true, "3->4");
	HT_UNIT_REFS(&l, 4);
	NOT_OWNED(&l);

	/* Under LOCKED with CHECK clear (3|L -> 4|L): no wait, no CHECK. */
	make_loaded(&l, 3);
	HT_CHECK(!hl_get_interlock(&l), "CHECK clear");
	HT_UNIT_REFS(&l, 3 | RL);
	HT_CHECK(hl_ref_live(&l) == true, "3|L->4|L");
	HT_UNIT_REFS(&l, 4 | RL);
	OWNED_BY_ME(&l);
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 4);

	/* 0|LOCKED (reclaimer or destroyer holds it) -> 1|LOCKED|CHECK. */
	hl_lock_init(&l);
	HT_CHECK(hl_try_interlock_norefs(&l), "norefs");
	HT_UNIT_REFS(&l, RL);
	HT_CHECK(hl_ref_live(&l) == true, "0|L->1|L|K");
	HT_UNIT_REFS(&l, 1 | RL | RK);
	OWNED_BY_ME(&l); /* the interlock is still ours, untouched */
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 1);

	/* A stale 0|LOCKED|CHECK (hl_rel_interlock on 1|CHECK) -> 1|L|K. */
	make_invalid(&l, 1);
	HT_CHECK(hl_rel_interlock(&l, false), "1|K->0");
	HT_CHECK((atomic_load(&l.refs) & ~RK) == RL, "refs=0x%08x",
	    atomic_load(&l.refs));
	HT_CHECK(hl_ref_live(&l) == true, "0|L(|K)->1|L|K");
	HT_UNIT_REFS(&l, 1 | RL | RK);
	hl_rel_interlock_done(&l, false);
	HT_UNIT_REFS(&l, 1 | RK); /* the late reference keeps CHECK */

	/* DEAD: false, the word unchanged, however often. */
	make_dead(&l);
	for (int i = 0; i < 3; i++) {
		HT_CHECK(hl_ref_live(&l) == false, "DEAD must refuse");
		HT_UNIT_REFS(&l, RD);
		NOT_OWNED(&l);
	}

	/* Counts near the top of the field. */
	hl_lock_init(&l);
	atomic_store(&l.refs, HL_REFS_COUNT_MASK - 1);
	HT_CHECK(hl_ref_live(&l), "max-1 -> max");
	HT_UNIT_REFS(&l, HL_REFS_COUNT_MASK);
	atomic_store(&l.refs, (HL_REFS_COUNT_MASK - 1) | RK);
	HT_CHECK(hl_ref_live(&l), "max-1|K -> max|K");
	HT_UNIT_REFS(&l, HL_REFS_COUNT_MASK | RK);
	hl_lock_init(&l);
	passed("hl_ref_live");
}

/*
 * hl_check_interlock, single-threaded.  Catches: an interlock taken (or a
 * wait) with CHECK clear, no interlock with CHECK set and LOCKED free, the
 * count or CHECK changed, the owner not recorded.
 */
static void
test_check_interlock(void)
{
	struct hl_lock l;

	/* CHECK clear: false, no change. */
	make_loaded(&l, 2);
	HT_CHECK(hl_check_interlock(&l) == false, "CHECK clear");
	HT_UNIT_REFS(&l, 2);
	NOT_OWNED(&l);

	/* CHECK clear while we hold LOCKED: still false, no wait. */
	HT_CHECK(!hl_get_interlock(&l), "CHECK clear");
	HT_UNIT_REFS(&l, 2 | RL);
	HT_CHECK(hl_check_interlock(&l) == false, "CHECK clear under L");
	HT_UNIT_REFS(&l, 2 | RL);
	OWNED_BY_ME(&l);
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 2);

	/* CHECK set, LOCKED free: true, 1|K -> 1|L|K, owner recorded. */
	make_invalid(&l, 1);
	HT_CHECK(hl_check_interlock(&l) == true, "1|K must interlock");
	HT_UNIT_REFS(&l, 1 | RL | RK);
	OWNED_BY_ME(&l);
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 1);
	NOT_OWNED(&l);
	HT_CHECK(hl_check_interlock(&l) == false, "loaded now");
	HT_UNIT_REFS(&l, 1);

	/* Count > 1: 3|K -> 3|L|K. */
	make_invalid(&l, 3);
	HT_CHECK(hl_check_interlock(&l) == true, "3|K must interlock");
	HT_UNIT_REFS(&l, 3 | RL | RK);
	OWNED_BY_ME(&l);
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 3);

	/* The lookup sequence: live 0->1|K, check -> true, then done. */
	hl_lock_init(&l);
	HT_CHECK(hl_ref_live(&l), "0->1");
	HT_CHECK(hl_check_interlock(&l) == true, "first reference loads");
	HT_UNIT_REFS(&l, 1 | RL | RK);
	OWNED_BY_ME(&l);
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 1);

	/* ... and its failure path: rel_interlock(true), done -> 0. */
	hl_lock_init(&l);
	HT_CHECK(hl_ref_live(&l), "0->1");
	HT_CHECK(hl_check_interlock(&l), "loads");
	HT_CHECK(hl_rel_interlock(&l, true), "failure path");
	HT_UNIT_REFS(&l, RL);
	hl_rel_interlock_done(&l, true);
	HT_UNIT_REFS(&l, 0);
	NOT_OWNED(&l);

	/*
	 * Without a reference the inline test (one load, CHECK clear) cannot
	 * tell: on 0 and on DEAD it returns false and changes nothing.  The
	 * missing reference is only detected when CHECK is set (death cases
	 * below).
	 */
	hl_lock_init(&l);
	HT_CHECK(hl_check_interlock(&l) == false, "word 0");
	HT_UNIT_REFS(&l, 0);
	make_dead(&l);
	HT_CHECK(hl_check_interlock(&l) == false, "DEAD");
	HT_UNIT_REFS(&l, RD);
	passed("hl_check_interlock");
}

/*
 * hl_kill_interlock.  Catches: a kill that succeeds with a reference or a
 * sleeper present (a lookup's reference to a recycled object), a kill
 * that fails on exactly LOCKED, a failed kill that drops or changes the
 * interlock or loses its owner, a DEAD word that still accepts a
 * reference or the interlock.
 */
static void
test_kill_interlock(void)
{
	struct hl_lock l;
	/* Exactly LOCKED from hl_try_interlock_norefs: DEAD, owner 0. */
	hl_lock_init(&l);
	HT_CHECK(hl_try_interlock_norefs(&l), "norefs");
	OWNED_BY_ME(&l);
	HT_CHECK(hl_kill_interlock(&l) == true, "exactly LOCKED");
	HT_UNIT_REFS(&l, RD);
	NOT_OWNED(&l);
	/* A DEAD word is refused by the non-fatal entry points. */
	HT_CHECK(hl_try_interlock_norefs(&l) == false, "norefs on DEAD");
	HT_UNIT_REFS(&l, RD);
	HT_CHECK(hl_ref_live(&l) == false, "live on DEAD");
	HT_UNIT_REFS(&l, RD);

	/* Exactly LOCKED from the last release (hl_rel_interlock 1->0). */
	make_loaded(&l, 1);
	HT_CHECK(hl_rel_interlock(&l, false), "1->0");
	HT_UNIT_REFS(&l, RL);
	HT_CHECK(hl_kill_interlock(&l) == true, "after last release");
	HT_UNIT_REFS(&l, RD);
	NOT_OWNED(&l);

	/* Exactly LOCKED after a failed first load (1|L|K -> 0|L). */
	hl_lock_init(&l);
	HT_CHECK(hl_ref_interlock(&l), "0->1");
	HT_CHECK(hl_rel_interlock(&l, true), "failure path");
	HT_UNIT_REFS(&l, RL);
	HT_CHECK(hl_kill_interlock(&l) == true, "after failed load");
	HT_UNIT_REFS(&l, RD);

	/* 1|LOCKED (a reference remains): false, unchanged, still ours. */
	make_loaded(&l, 1);
	HT_CHECK(!hl_get_interlock(&l), "CHECK clear");
	HT_UNIT_REFS(&l, 1 | RL);
	HT_CHECK(hl_kill_interlock(&l) == false, "1|L must not die");
	HT_UNIT_REFS(&l, 1 | RL);
	OWNED_BY_ME(&l);
	hl_put_interlock(&l, 0);
	HT_UNIT_REFS(&l, 1);
	NOT_OWNED(&l);

	/* A lookup's reference got in under the destroyer: 1|L|K. */
	hl_lock_init(&l);
	HT_CHECK(hl_try_interlock_norefs(&l), "norefs");
	HT_CHECK(hl_ref_live(&l), "lookup");
	HT_UNIT_REFS(&l, 1 | RL | RK);
	HT_CHECK(hl_kill_interlock(&l) == false, "1|L|K must not die");
	HT_UNIT_REFS(&l, 1 | RL | RK);
	OWNED_BY_ME(&l);
	hl_put_interlock(&l, EIO); /* contents dropped: the lookup reloads */
	HT_UNIT_REFS(&l, 1 | RK);
	HT_CHECK(hl_check_interlock(&l), "lookup reloads");
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 1);

	/* Count 2 under LOCKED: false; hl_rel_interlock(true) path after. */
	make_loaded(&l, 2);
	HT_CHECK(!hl_get_interlock(&l), "CHECK clear");
	HT_CHECK(hl_kill_interlock(&l) == false, "2|L must not die");
	HT_UNIT_REFS(&l, 2 | RL);
	HT_CHECK(hl_rel_interlock(&l, true), "drop one");
	HT_CHECK(hl_rel_interlock(&l, true), "drop the other");
	HT_UNIT_REFS(&l, RL);
	HT_CHECK(hl_kill_interlock(&l) == true, "now exactly LOCKED");
	HT_UNIT_REFS(&l, RD);

	/*
	 * 0|LOCKED|CHECK: count 0 with a stale CHECK, left by
	 * hl_rel_interlock(l, false) on 1|CHECK.  Nobody references the object
	 * or sleeps on it, so it dies: CHECK means nothing at count 0.
	 */
	make_invalid(&l, 1);
	HT_CHECK(hl_rel_interlock(&l, false), "1|K->0");
	HT_UNIT_REFS(&l, RL | RK);
	HT_CHECK(hl_kill_interlock(&l) == true, "0|L|K must die");
	HT_UNIT_REFS(&l, RD);
	NOT_OWNED(&l);

	/* Forged 0|LOCKED|WANTED (a sleeper): false, unchanged, ours. */
	hl_lock_init(&l);
	HT_CHECK(hl_try_interlock_norefs(&l), "norefs");
	atomic_fetch_or(&l.refs, RW);
	HT_CHECK(hl_kill_interlock(&l) == false, "0|L|W must not die");
	HT_UNIT_REFS(&l, RL | RW);
	OWNED_BY_ME(&l);
	atomic_fetch_and(&l.refs, ~RW);
	HT_CHECK(hl_kill_interlock(&l) == true, "0|L must die");
	HT_UNIT_REFS(&l, RD);
	passed("hl_kill_interlock");
}

/*
 * hl_revive_interlock and whole lifecycles.  Catches: a revived word
 * other than 1|LOCKED|CHECK, no owner, and any transition of the
 * lifecycle that leaves a stray flag (a second kill would then fail).
 */
static void
test_revive_interlock(void)
{
	struct hl_lock l;

	/* DEAD -> 1|L|K owned; done -> 1. */
	make_dead(&l);
	hl_revive_interlock(&l);
	HT_UNIT_REFS(&l, 1 | RL | RK);
	OWNED_BY_ME(&l);
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 1);
	NOT_OWNED(&l);

	/* Full lifecycle. */
	hl_lock_init(&l);
	HT_CHECK(hl_ref_interlock(&l), "0->1");
	HT_UNIT_REFS(&l, 1 | RL | RK);
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 1);
	HT_CHECK(hl_rel_interlock(&l, false), "1->0");
	HT_UNIT_REFS(&l, RL);
	HT_CHECK(hl_kill_interlock(&l), "kill 1");
	HT_UNIT_REFS(&l, RD);
	HT_CHECK(!hl_ref_live(&l), "late lookup");
	HT_UNIT_REFS(&l, RD);
	hl_revive_interlock(&l); /* recycled for another identity */
	HT_UNIT_REFS(&l, 1 | RL | RK);
	OWNED_BY_ME(&l);
	HT_CHECK(hl_ref_live(&l), "lookup during construction");
	HT_UNIT_REFS(&l, 2 | RL | RK);
	hl_ref_interlock_done(&l);
	HT_UNIT_REFS(&l, 2);
	HT_CHECK(hl_check_interlock(&l) == false, "loaded");
	hl_rel(&l);
	HT_UNIT_REFS(&l, 1);
	HT_CHECK(hl_rel_interlock(&l, false), "1->0");
	HT_UNIT_REFS(&l, RL);
	hl_rel_interlock_done(&l, false);
	HT_UNIT_REFS(&l, 0);
	HT_CHECK(hl_try_interlock_norefs(&l), "reclaim");
	HT_UNIT_REFS(&l, RL);
	HT_CHECK(hl_kill_interlock(&l), "kill 2");
	HT_UNIT_REFS(&l, RD);
	hl_revive_interlock(&l);
	HT_UNIT_REFS(&l, 1 | RL | RK);
	/* Construction failed: drop the reference and destroy again. */
	HT_CHECK(hl_rel_interlock(&l, true), "failed construction");
	HT_UNIT_REFS(&l, RL);
	HT_CHECK(hl_kill_interlock(&l), "kill 3");
	HT_UNIT_REFS(&l, RD);
	NOT_OWNED(&l);
	/* And back to an ordinary unreferenced object. */
	hl_revive_interlock(&l);
	HT_CHECK(hl_rel_interlock(&l, true), "drop");
	hl_rel_interlock_done(&l, true);
	HT_UNIT_REFS(&l, 0);
	NOT_OWNED(&l);
	HT_CHECK(hl_ref_live(&l), "0->1");
	HT_UNIT_REFS(&l, 1 | RK);
	hl_rel(&l);
	HT_UNIT_REFS(&l, 0);
	passed("hl_revive_interlock and lifecycles");
}

/* Threaded cases */

enum op { OP_LIVE_CHECK, OP_GET_INTERLOCK };

struct op_thread {
	struct hl_lock *l;
	enum op op;
	_Atomic int returned;
	bool result;
	uint32_t word;	/* refs right after the call returned */
	uintptr_t own;	/* rowner right after the call returned */
	uintptr_t self; /* the thread's identity */
	uint32_t final; /* refs after the thread finished its protocol */
};

static void *
op_main(void *arg)
{
	struct op_thread *t = arg;

	t->self = self();
	switch (t->op) {
	case OP_LIVE_CHECK:
		HT_CHECK(hl_ref_live(t->l), "helper's hl_ref_live");
		t->result = hl_check_interlock(t->l);
		break;
	case OP_GET_INTERLOCK:
		t->result = hl_get_interlock(t->l);
		break;
	}
	t->word = atomic_load(&t->l->refs);
	t->own = rowner(t->l);
	atomic_store(&t->returned, 1);

	switch (t->op) {
	case OP_LIVE_CHECK:
		if (t->result)
			hl_ref_interlock_done(t->l);
		break;
	case OP_GET_INTERLOCK:
		hl_put_interlock(t->l, 0);
		break;
	}
	t->final = atomic_load(&t->l->refs);
	return NULL;
}

/* Start a thread doing `op' on l; wait until it sleeps with `sleeping'. */
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
 * hl_check_interlock sleeps while another thread loads; that thread's
 * hl_ref_interlock_done makes it return false.  Catches: returning while
 * the load is in progress, true after a good load (a second loader), a
 * lost wakeup (the watchdog fires).
 */
static void
test_check_sleeps_done(void)
{
	struct hl_lock *l = &tl1;
	struct hl_lock_stats s0, s1;
	struct op_thread t;
	pthread_t td;

	hl_lock_init(l);
	hl_lock_stats_get(&s0);
	HT_CHECK(hl_ref_live(l), "0->1");
	HT_CHECK(hl_check_interlock(l), "we load");
	HT_UNIT_REFS(l, 1 | RL | RK);
	td = start_sleeper(&t, l, OP_LIVE_CHECK, 2 | RL | RW | RK);
	hl_ref_interlock_done(l);
	ht_unit_join(td);
	HT_CHECK(t.result == false, "loaded by us: must be false");
	HT_CHECK(t.word == 2, "refs=0x%08x after return, expected 2", t.word);
	HT_CHECK(t.own == 0, "owner %#lx after false", (unsigned long)t.own);
	HT_UNIT_REFS(l, 2);
	hl_lock_stats_get(&s1);
	HT_CHECK(s1.refs_sleeps > s0.refs_sleeps, "no sleep counted");
	HT_CHECK(s1.refs_wakeups > s0.refs_wakeups, "no wakeup counted");
	passed("hl_check_interlock sleeps, then false after done");
}

/*
 * The holder gives the interlock back with hl_put_interlock(l, EIO),
 * leaving CHECK: the sleeper must take over (true, owning LOCKED).  The
 * same with the failure path (hl_rel_interlock(true) + done).  Catches:
 * false after an invalidation or a failed load (use of a bad object).
 */
static void
test_check_sleeps_put_error(void)
{
	struct hl_lock *l = &tl1;
	struct op_thread t;
	pthread_t td;

	hl_lock_init(l);
	HT_CHECK(hl_ref_live(l), "0->1");
	HT_CHECK(hl_check_interlock(l), "we load");
	td = start_sleeper(&t, l, OP_LIVE_CHECK, 2 | RL | RW | RK);
	hl_put_interlock(l, EIO);
	ht_unit_join(td);
	HT_CHECK(t.result == true, "put(EIO) must hand over the load");
	HT_CHECK(
	    t.word == (2 | RL | RK), "refs=0x%08x, expected 2|L|K", t.word);
	HT_CHECK(t.own == t.self, "owner %#lx, expected the helper %#lx",
	    (unsigned long)t.own, (unsigned long)t.self);
	HT_CHECK(t.final == 2, "refs=0x%08x after its load", t.final);
	HT_UNIT_REFS(l, 2);

	/* The load fails: our reference goes, the sleeper takes over. */
	hl_lock_init(l);
	HT_CHECK(hl_ref_live(l), "0->1");
	HT_CHECK(hl_check_interlock(l), "we load");
	td = start_sleeper(&t, l, OP_LIVE_CHECK, 2 | RL | RW | RK);
	HT_CHECK(hl_rel_interlock(l, true), "failure path");
	HT_UNIT_REFS(l, 1 | RL | RW | RK);
	HT_CHECK(atomic_load(&t.returned) == 0, "woke while still LOCKED");
	hl_rel_interlock_done(l, true);
	ht_unit_join(td);
	HT_CHECK(t.result == true, "after a failed load must be true");
	HT_CHECK(t.word == (1 | RL | RK), "refs=0x%08x", t.word);
	HT_CHECK(t.final == 1, "refs=0x%08x", t.final);
	HT_UNIT_REFS(l, 1);
	passed("hl_check_interlock sleeps, then true after put(EIO)/failure");
}

/*
 * A destroyer holds the interlock at count 0 when a lookup references
 * the object and sleeps in hl_check_interlock: the kill must fail,
 * leaving the word and the owner as they were; the destroyer's
 * hl_put_interlock(l, EIO) hands the load to the lookup.  Then a kill
 * with a thread asleep in hl_get_interlock (0|LOCKED|WANTED) must fail
 * too.  Catches: a kill that destroys a referenced object or strands a
 * sleeper on a DEAD word (it would never be woken: hang).
 */
static void
test_kill_vs_lookup(void)
{
	struct hl_lock *l = &tl1;
	struct op_thread t;
	pthread_t td;

	hl_lock_init(l);
	HT_CHECK(hl_try_interlock_norefs(l), "norefs");
	td = start_sleeper(&t, l, OP_LIVE_CHECK, 1 | RL | RW | RK);
	HT_CHECK(hl_kill_interlock(l) == false, "referenced: must not die");
	HT_UNIT_REFS(l, 1 | RL | RW | RK);
	OWNED_BY_ME(l);
	HT_CHECK(atomic_load(&t.returned) == 0, "woke by a failed kill");
	hl_put_interlock(l, EIO);
	ht_unit_join(td);
	HT_CHECK(t.result == true, "the lookup must load");
	HT_CHECK(t.word == (1 | RL | RK), "refs=0x%08x", t.word);
	HT_CHECK(t.own == t.self, "owner");
	HT_CHECK(t.final == 1, "refs=0x%08x", t.final);
	HT_UNIT_REFS(l, 1);

	/* 0|LOCKED|WANTED: a sleeper in hl_get_interlock. */
	hl_lock_init(l);
	HT_CHECK(hl_try_interlock_norefs(l), "norefs");
	td = start_sleeper(&t, l, OP_GET_INTERLOCK, RL | RW);
	HT_CHECK(hl_kill_interlock(l) == false, "sleeper: must not die");
	HT_UNIT_REFS(l, RL | RW);
	OWNED_BY_ME(l);
	hl_put_interlock(l, 0);
	ht_unit_join(td);
	HT_CHECK(t.result == false, "no CHECK");
	HT_CHECK(t.word == RL, "refs=0x%08x", t.word);
	HT_CHECK(t.final == 0, "refs=0x%08x", t.final);
	HT_UNIT_REFS(l, 0);
	passed("hl_kill_interlock fails for a lookup or a sleeper");
}

/* Death cases */

static struct {
	bool hit;
	const char *func;
	const struct hl_lock *l;
	uint32_t refs;
} cap;
static hl_fatal_fn chained;

static void
capture_fatal(const char *func, const struct hl_lock *l, uint32_t refs,
    uint32_t lockval, const char *msg)
{
	cap.hit = true;
	cap.func = func;
	cap.l = l;
	cap.refs = refs;
	chained(func, l, refs, lockval, msg);
}

/* Called by a case right before its misuse. */
static void
arm(void)
{
	memset(&cap, 0, sizeof(cap));
	chained = hl_set_fatal_handler(capture_fatal);
}

/* A helper thread that holds the interlock (for "another thread"). */
static struct {
	pthread_t td;
	_Atomic int ready;
	_Atomic int release;
	bool running;
} holder;

static void *
holder_main(void *arg)
{
	struct hl_lock *l = arg;
	unsigned it = 0;

	if (!hl_try_interlock_norefs(l))
		abort();
	atomic_store(&holder.ready, 1);
	while (!atomic_load(&holder.release))
		ht_unit_pause(&it);
	hl_put_interlock(l, 0);
	return NULL;
}

static void
holder_start(struct hl_lock *l)
{
	atomic_store(&holder.ready, 0);
	atomic_store(&holder.release, 0);
	holder.td = ht_unit_spawn(holder_main, l);
	holder.running = true;
	HT_UNIT_WAIT(atomic_load(&holder.ready), "holder not ready");
}

static void
holder_stop(void)
{
	if (!holder.running)
		return;
	atomic_store(&holder.release, 1);
	ht_unit_join(holder.td);
	holder.running = false;
}

static void
c_ref_dead(void *arg)
{
	make_dead(arg);
	arm();
	hl_ref(arg);
}

static void
c_ref_interlock_dead(void *arg)
{
	make_dead(arg);
	arm();
	sink = hl_ref_interlock(arg);
}

static void
c_get_interlock_dead(void *arg)
{
	make_dead(arg);
	arm();
	sink = hl_get_interlock(arg);
}

static void
c_rel_dead(void *arg)
{
	make_dead(arg);
	arm();
	hl_rel(arg);
}

static void
c_rel_interlock_dead(void *arg)
{
	make_dead(arg);
	arm();
	sink = hl_rel_interlock(arg, false);
}

static void
c_rel_interlock_locked_dead(void *arg)
{
	make_dead(arg);
	arm();
	sink = hl_rel_interlock(arg, true);
}

static void
c_put_interlock_dead(void *arg)
{
	make_dead(arg);
	arm();
	hl_put_interlock(arg, 0);
}

static void
c_ref_interlock_done_dead(void *arg)
{
	make_dead(arg);
	arm();
	hl_ref_interlock_done(arg);
}

static void
c_rel_interlock_done_dead(void *arg)
{
	make_dead(arg);
	arm();
	hl_rel_interlock_done(arg, false);
}

static void
c_ref_interlock_true_dead(void *arg)
{
	make_dead(arg);
	arm();
	sink = hl_ref_interlock_true(arg);
}

static void
c_revive_zero(void *arg)
{
	hl_lock_init(arg);
	arm();
	hl_revive_interlock(arg);
}

static void
c_revive_referenced(void *arg)
{
	make_loaded(arg, 1);
	arm();
	hl_revive_interlock(arg);
}

static void
c_revive_locked(void *arg)
{
	hl_lock_init(arg);
	HT_CHECK(hl_try_interlock_norefs(arg), "norefs");
	arm();
	hl_revive_interlock(arg);
}

static void
c_revive_twice(void *arg)
{
	make_dead(arg);
	hl_revive_interlock(arg);
	arm();
	hl_revive_interlock(arg);
}

static void
c_kill_zero(void *arg)
{
	hl_lock_init(arg);
	arm();
	sink = hl_kill_interlock(arg);
}

static void
c_kill_referenced(void *arg)
{
	make_loaded(arg, 1);
	arm();
	sink = hl_kill_interlock(arg);
}

static void
c_kill_dead(void *arg)
{
	make_dead(arg);
	arm();
	sink = hl_kill_interlock(arg);
}

static void
c_kill_other(void *arg)
{
	hl_lock_init(arg);
	holder_start(arg);
	arm();
	sink = hl_kill_interlock(arg);
}

static void
c_check_zero_check(void *arg)
{
	/* Count 0 with CHECK (forged; also seen transiently in hl_rel). */
	hl_lock_init(arg);
	atomic_store(&((struct hl_lock *)arg)->refs, RK);
	arm();
	sink = hl_check_interlock(arg);
}

static void
c_check_zero_locked_check(void *arg)
{
	/* 0|LOCKED|CHECK reached through the API, held by the caller. */
	make_invalid(arg, 1);
	HT_CHECK(hl_rel_interlock(arg, false), "1|K->0");
	HT_CHECK(atomic_load(&((struct hl_lock *)arg)->refs) == (RL | RK),
	    "refs=0x%08x, expected 0|L|K (case setup)",
	    atomic_load(&((struct hl_lock *)arg)->refs));
	arm();
	sink = hl_check_interlock(arg);
}

static void
c_check_self_wait(void *arg)
{
	/* The loader checks again before its hl_ref_interlock_done. */
	hl_lock_init(arg);
	HT_CHECK(hl_ref_live(arg), "0->1");
	HT_CHECK(hl_check_interlock(arg), "loads");
	arm();
	sink = hl_check_interlock(arg);
}

static void
c_ref_live_overflow(void *arg)
{
	hl_lock_init(arg);
	atomic_store(&((struct hl_lock *)arg)->refs, HL_REFS_COUNT_MASK);
	arm();
	sink = hl_ref_live(arg);
}

static void
c_ref_live_overflow_check(void *arg)
{
	hl_lock_init(arg);
	atomic_store(&((struct hl_lock *)arg)->refs, HL_REFS_COUNT_MASK | RK);
	arm();
	sink = hl_ref_live(arg);
}

struct fcase {
	const char *name;
	void (*fn)(void *);
	const char *func;    /* reporting function; "a|b" accepts either */
	const char *keyword; /* in the message */
	uint32_t refs;	     /* word at the misuse, and after it */
	bool debug_only;
};

static const struct fcase cases[] = {
    {"hl_ref on DEAD", c_ref_dead, "hl_ref", "DEAD", RD, false},
    {"hl_ref_interlock on DEAD", c_ref_interlock_dead, "hl_ref_interlock",
	"DEAD", RD, false},
    {"hl_get_interlock on DEAD", c_get_interlock_dead, "hl_get_interlock",
	"DEAD", RD, false},
    {"hl_rel on DEAD", c_rel_dead, "hl_rel", "no reference", RD, false},
    {"hl_rel_interlock(false) on DEAD", c_rel_interlock_dead,
	"hl_rel_interlock", "no reference", RD, false},
    {"hl_rel_interlock(true) on DEAD", c_rel_interlock_locked_dead,
	"hl_rel_interlock", "not held", RD, false},
    {"hl_put_interlock on DEAD", c_put_interlock_dead, "hl_put_interlock",
	"not held", RD, false},
    {"hl_ref_interlock_done on DEAD", c_ref_interlock_done_dead,
	"hl_ref_interlock_done", "not held", RD, false},
    {"hl_rel_interlock_done on DEAD", c_rel_interlock_done_dead,
	"hl_rel_interlock_done", "not held", RD, false},
    {"hl_ref_interlock_true on DEAD", c_ref_interlock_true_dead,
	"hl_ref_interlock_true", "not 0", RD, false},
    {"hl_revive_interlock on 0", c_revive_zero, "hl_revive_interlock",
	"not DEAD", 0, false},
    {"hl_revive_interlock on a referenced word", c_revive_referenced,
	"hl_revive_interlock", "not DEAD", 1, false},
    {"hl_revive_interlock on 0|LOCKED", c_revive_locked, "hl_revive_interlock",
	"not DEAD", RL, false},
    {"hl_revive_interlock twice", c_revive_twice, "hl_revive_interlock",
	"not DEAD", 1 | RL | RK, false},
    {"hl_kill_interlock on 0", c_kill_zero, "hl_kill_interlock", "not held", 0,
	false},
    {"hl_kill_interlock on a referenced word", c_kill_referenced,
	"hl_kill_interlock", "not held", 1, false},
    {"hl_kill_interlock on DEAD", c_kill_dead, "hl_kill_interlock", "not held",
	RD, false},
    {"hl_check_interlock on 0|CHECK", c_check_zero_check, "hl_check_interlock",
	"no reference", RK, false},
    {"hl_check_interlock on own 0|LOCKED|CHECK", c_check_zero_locked_check,
	"hl_check_interlock", "no reference", RL | RK, false},
    {"hl_check_interlock by the loader", c_check_self_wait,
	"hl_check_interlock|hl_ref_interlock", "interlock it holds",
	1 | RL | RK, false},
    {"hl_ref_live overflow", c_ref_live_overflow, "hl_ref_live", "overflow",
	HL_REFS_COUNT_MASK, false},
    {"hl_ref_live overflow + CHECK", c_ref_live_overflow_check, "hl_ref_live",
	"overflow", HL_REFS_COUNT_MASK | RK, false},
    {"hl_kill_interlock of another's interlock", c_kill_other,
	"hl_kill_interlock", "another thread", RL, true},
};

static bool
func_ok(const char *reported, const char *want)
{
	size_t n = strlen(reported);

	for (const char *p = want; *p != '\0';) {
		const char *e = strchr(p, '|');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && strncmp(reported, p, n) == 0)
			return true;
		p += len + (e ? 1 : 0);
	}
	return false;
}

static void
run_case(const struct fcase *c)
{
	struct hl_lock *l = &tl1;
	bool hit;

	if (c->debug_only && !hl_debug_enabled()) {
		printf("  skip (no debug checks): %s\n", c->name);
		return;
	}
	printf("case: %s\n", c->name);
	memset(&cap, 0, sizeof(cap));
	hit = ht_expect_fatal(c->fn, l, c->keyword);
	HT_CHECK(cap.hit, "%s: no fatal error from the misuse itself", c->name);
	HT_CHECK(hit, "%s: fatal error missing or without \"%s\"", c->name,
	    c->keyword);
	HT_CHECK(func_ok(cap.func, c->func), "%s: reported by %s, expected %s",
	    c->name, cap.func, c->func);
	HT_CHECK(cap.l == l, "%s: reported lock %p, expected %p", c->name,
	    (const void *)cap.l, (void *)l);
	HT_CHECK(cap.refs == c->refs,
	    "%s: reported refs=0x%08x, expected 0x%08x", c->name, cap.refs,
	    c->refs);
	/* The misuse must not have changed the word. */
	HT_UNIT_REFS(l, c->refs);
	holder_stop();
	hl_lock_init(l);
	npassed++;
}

/* The race */

#define RACE_NOBJ    4
#define RACE_NLOOKUP 8
#define RACE_SECONDS 1.0

/*
 * A type-stable object.  `gen' is its identity: the destroyer changes it
 * only while the word is DEAD, so a thread that holds a reference must
 * never see it change.  `payload' is 0 when unloaded and gen * 2 + 1 when
 * loaded; it is written only under the interlock with no validated
 * reference outstanding, and a validated reference must see it loaded.
 * Both are plain ints: ThreadSanitizer checks the ordering the refs word
 * is supposed to provide.
 */
struct robj {
	struct hl_lock lk;
	unsigned gen;
	unsigned payload;
	unsigned revives; /* destroyer only */
	char name[16];
};

static struct robj robjs[RACE_NOBJ];
static _Atomic bool race_stop;
static _Atomic uint64_t st_live, st_refused, st_loads, st_unloads, st_kills,
    st_kill_fail, st_norefs_fail, st_mismatch;

/*
 * The race's own looks at the words are relaxed, so that the test adds no
 * synchronization of its own: the ordering TSan sees is the library's.
 */
static uint32_t
peek(struct robj *o)
{
	return atomic_load_explicit(&o->lk.refs, memory_order_relaxed);
}

static uintptr_t
peek_owner(struct robj *o)
{
	return atomic_load_explicit(&o->lk.rowner, memory_order_relaxed);
}

static void
bump(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* The word while the caller holds a reference it got from hl_ref_live. */
static void
check_held(struct robj *o, const char *where)
{
	uint32_t w = peek(o);

	HT_CHECK((w & RD) == 0 && (w & HL_REFS_COUNT_MASK) >= 1,
	    "%s %s: refs=0x%08x while holding a live reference", o->name, where,
	    w);
}

static void *
race_lookup(void *arg)
{
	uint64_t rs = (uint64_t)(uintptr_t)arg;

	while (!atomic_load_explicit(&race_stop, memory_order_relaxed)) {
		struct robj *o = &robjs[ht_rand_below(&rs, RACE_NOBJ)];
		unsigned g;

		if (!hl_ref_live(&o->lk)) {
			bump(&st_refused);
			ht_spin_pause(&rs, 64, 4);
			continue;
		}
		bump(&st_live);
		check_held(o, "after hl_ref_live");
		g = o->gen;
		if (ht_rand_below(&rs, 4) == 0) {
			/*
			 * As if the identity did not match: release without
			 * hl_check_interlock, maybe under the destroyer's
			 * interlock (its kill must then order our reads).
			 */
			ht_spin_pause(&rs, 16, 8);
			check_held(o, "unvalidated");
			HT_CHECK(o->gen == g,
			    "%s: gen changed %u -> %u under a "
			    "reference",
			    o->name, g, o->gen);
			bump(&st_mismatch);
			if (ht_rand_below(&rs, 2) == 0) {
				hl_rel(&o->lk);
			} else if (hl_rel_interlock(&o->lk, false)) {
				o->payload = 0;
				hl_rel_interlock_done(&o->lk, false);
			}
			ht_spin_pause(&rs, 256, 8);
			continue;
		}
		if (hl_check_interlock(&o->lk)) {
			uint32_t w = peek(o);

			HT_CHECK((w & (RD | RL | RK)) == (RL | RK) &&
				     (w & HL_REFS_COUNT_MASK) >= 1,
			    "%s: refs=0x%08x after hl_check_interlock true",
			    o->name, w);
			HT_CHECK(peek_owner(o) == self(), "%s: owner", o->name);
			o->payload = g * 2 + 1; /* load (idempotent) */
			bump(&st_loads);
			hl_ref_interlock_done(&o->lk);
		}
		check_held(o, "after hl_check_interlock");
		HT_CHECK(o->payload == g * 2 + 1,
		    "%s: payload %u, expected %u (gen %u)", o->name, o->payload,
		    g * 2 + 1, g);
		ht_spin_pause(&rs, 32, 8); /* use it */
		check_held(o, "before release");
		HT_CHECK(o->gen == g,
		    "%s: gen changed %u -> %u under a "
		    "reference",
		    o->name, g, o->gen);
		HT_CHECK(o->payload == g * 2 + 1, "%s: payload %u, expected %u",
		    o->name, o->payload, g * 2 + 1);
		if (ht_rand_below(&rs, 3) == 0) {
			hl_rel(&o->lk);
		} else if (hl_rel_interlock(&o->lk, false)) {
			if (ht_rand_below(&rs, 2)) {
				o->payload = 0; /* unload */
				bump(&st_unloads);
			}
			hl_rel_interlock_done(&o->lk, false);
		}
		ht_spin_pause(&rs, 256, 8);
	}
	return NULL;
}

static void *
race_destroyer(void *arg)
{
	uint64_t rs = (uint64_t)(uintptr_t)arg;

	while (!atomic_load_explicit(&race_stop, memory_order_relaxed)) {
		struct robj *o = &robjs[ht_rand_below(&rs, RACE_NOBJ)];
		uint64_t r0;
		uint32_t w;

		if (!hl_try_interlock_norefs(&o->lk)) {
			bump(&st_norefs_fail);
			ht_spin_pause(&rs, 16, 4);
			continue;
		}
		HT_CHECK(peek_owner(o) == self(), "%s: owner", o->name);
		o->payload = 0; /* drop the contents: no reference exists */
		ht_spin_pause(&rs, 64, 4); /* a window for lookups */
		if (!hl_kill_interlock(&o->lk)) {
			/*
			 * A lookup's reference got in (it may be gone again
			 * by now: an unvalidated lookup drops it at once):
			 * the interlock must still be ours.
			 */
			w = peek(o);
			HT_CHECK((w & (RD | RL)) == RL,
			    "%s: failed kill left refs=0x%08x", o->name, w);
			HT_CHECK(peek_owner(o) == self(),
			    "%s: failed kill lost the owner", o->name);
			bump(&st_kill_fail);
			hl_put_interlock(&o->lk, EIO); /* lookups reload */
			continue;
		}
		w = peek(o);
		HT_CHECK(w == RD, "%s: refs=0x%08x after kill", o->name, w);
		HT_CHECK(peek_owner(o) == 0, "%s: owner after kill", o->name);
		bump(&st_kills);
		HT_CHECK(!hl_try_interlock_norefs(&o->lk), "norefs on DEAD");
		HT_CHECK(!hl_ref_live(&o->lk), "live on DEAD");
		o->gen++; /* recycled: a new identity */
		/* Give the lookups a moment to bounce off the DEAD word. */
		r0 = atomic_load_explicit(&st_refused, memory_order_relaxed);
		for (int i = 0; i < 100 && atomic_load_explicit(&st_refused,
					       memory_order_relaxed) == r0;
		     i++)
			sched_yield();
		HT_CHECK(peek(o) == RD, "%s: refs=0x%08x before revive",
		    o->name, peek(o));
		hl_revive_interlock(&o->lk);
		o->revives++;
		w = peek(o);
		HT_CHECK((w & (RD | RL | RK)) == (RL | RK) &&
			     (w & HL_REFS_COUNT_MASK) >= 1,
		    "%s: refs=0x%08x after revive", o->name, w);
		HT_CHECK(peek_owner(o) == self(), "%s: revive owner", o->name);
		o->payload = o->gen * 2 + 1; /* construct */
		hl_ref_interlock_done(&o->lk);
		if (hl_rel_interlock(&o->lk, false)) {
			if (ht_rand_below(&rs, 2))
				o->payload = 0;
			hl_rel_interlock_done(&o->lk, false);
		}
	}
	return NULL;
}

static void
race_dump(void)
{
	for (int i = 0; i < RACE_NOBJ; i++)
		fprintf(stderr, "  %s: gen %u payload %u revives %u\n",
		    robjs[i].name, robjs[i].gen, robjs[i].payload,
		    robjs[i].revives);
}

/*
 * Lookups against kill/revive.  A quarter of the lookups release their
 * reference without hl_check_interlock (as after an identity mismatch),
 * possibly while the destroyer holds the interlock, which is the case
 * where hl_kill_interlock itself must order the lookup's reads before the
 * recycling.  Invariants (checked in the threads):
 * a thread whose hl_ref_live succeeded never sees the word DEAD or at
 * count 0 while it holds its reference, nor the object's identity
 * change; a validated reference sees the payload of the current
 * identity; a failed kill keeps the interlock and its owner; a
 * successful kill leaves exactly DEAD, which refuses hl_ref_live and
 * hl_try_interlock_norefs.  At the end every word is 0 and each object's
 * identity changed once per revive.
 */
static void
test_race(uint64_t seed)
{
	pthread_t td[RACE_NLOOKUP + 1];
	struct timespec ts = {(time_t)RACE_SECONDS,
	    (long)((RACE_SECONDS - (double)(time_t)RACE_SECONDS) * 1e9)};

	for (int i = 0; i < RACE_NOBJ; i++) {
		hl_lock_init(&robjs[i].lk);
		robjs[i].gen = 1;
		robjs[i].payload = 0;
		robjs[i].revives = 0;
	}
	atomic_store(&race_stop, false);
	for (int i = 0; i < RACE_NLOOKUP; i++)
		td[i] = ht_unit_spawn(race_lookup,
		    (void *)(uintptr_t)ht_rng_stream(seed, (uint64_t)i));
	td[RACE_NLOOKUP] = ht_unit_spawn(
	    race_destroyer, (void *)(uintptr_t)ht_rng_stream(seed, 100));
	nanosleep(&ts, NULL);
	atomic_store(&race_stop, true);
	for (int i = 0; i <= RACE_NLOOKUP; i++)
		ht_unit_join(td[i]);

	printf("  race: %llu live refs (%llu unvalidated), %llu refused "
	       "(DEAD), %llu loads, %llu unloads, %llu kills, %llu failed "
	       "kills, %llu busy\n",
	    (unsigned long long)st_live, (unsigned long long)st_mismatch,
	    (unsigned long long)st_refused, (unsigned long long)st_loads,
	    (unsigned long long)st_unloads, (unsigned long long)st_kills,
	    (unsigned long long)st_kill_fail,
	    (unsigned long long)st_norefs_fail);
	for (int i = 0; i < RACE_NOBJ; i++) {
		struct robj *o = &robjs[i];

		HT_UNIT_REFS(&o->lk, 0);
		HT_CHECK(o->gen == 1 + o->revives, "%s: gen %u, revives %u",
		    o->name, o->gen, o->revives);
	}
	HT_CHECK(st_kills > 0, "the destroyer never killed an object");
	HT_CHECK(st_live > 0, "no lookup succeeded");
	HT_CHECK(st_refused > 0, "no lookup was refused by a DEAD word");
	HT_CHECK(st_kill_fail > 0, "no kill ever lost to a lookup");
	passed("race: hl_ref_live against kill/revive");
}

int
main(int argc, char **argv)
{
	uint64_t seed = ht_seed(argc, argv);

	printf("unit_dead: debug checks %s, sleep backend %s\n",
	    hl_debug_enabled() ? "on" : "off", hl_sleep_backend());
	ht_watch_lock("tl1", &tl1);
	for (int i = 0; i < RACE_NOBJ; i++) {
		snprintf(robjs[i].name, sizeof(robjs[i].name), "robj%d", i);
		ht_watch_lock(robjs[i].name, &robjs[i].lk);
	}
	ht_watchdog_start(30, race_dump);

	test_constants();
	test_ref_live();
	test_check_interlock();
	test_kill_interlock();
	test_revive_interlock();
	test_check_sleeps_done();
	test_check_sleeps_put_error();
	test_kill_vs_lookup();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_race(seed);

	ht_watchdog_stop();
	(void)sink;
	ht_pass("unit_dead", npassed);
	return 0;
}
