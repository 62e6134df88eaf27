/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_lock.c - every form of the shared/exclusive lock in lockval, with
 * the exact word after each step, and the blocking cases with a second
 * and third thread.
 *
 * Helper threads ("lockers") take a reference, make one lock call, record
 * its result, the word and whether they own the lock, then hold what
 * they got until the main thread tells them to release.  Blocked lockers
 * are recognized by the WANTED bit they publish and by the sleeper
 * registry, never by a fixed delay.
 */
#include <errno.h>
#include <string.h>

#include "unit.h"

#define LX HL_LOCKF_EXCLUSIVE
#define LW HL_LOCKF_WANTED

static int npassed;
static struct hl_lock tl1 = HL_LOCK_INITIALIZER;

static void
passed(const char *what)
{
	printf("  ok %s\n", what);
	npassed++;
}

/* A lock with one (loaded) reference held by the main thread. */
static void
make_ref(struct hl_lock *l)
{
	hl_lock_init(l);
	HT_CHECK(hl_ref_interlock(l), "0->1");
	hl_ref_interlock_done(l);
	HT_CHECK(atomic_load(&l->refs) == 1, "refs");
}

static void
drop_ref(struct hl_lock *l)
{
	HT_UNIT_LOCKVAL(l, 0);
	HT_CHECK(hl_rel_interlock(l, false), "1->0");
	hl_rel_interlock_done(l, false);
	HT_CHECK(atomic_load(&l->refs) == 0, "refs");
}

enum lop {
	LOP_EX,
	LOP_EX_IDENT,
	LOP_EX_TRY,
	LOP_SH,
	LOP_SH_IDENT,
	LOP_SH_TRY,
	LOP_PROBE /* no lock: record hl_lock_excl_owned() only */
};

enum { ST_INIT, ST_CALLING, ST_RETURNED, ST_DONE };

struct locker {
	struct hl_lock *l;
	enum lop op;
	_Atomic int state;
	_Atomic int release;
	int rc;
	uint32_t lockval; /* right after the call returned */
	bool owned;	  /* hl_lock_excl_owned() right after the call */
	pthread_t td;
};

static void *
locker_main(void *arg)
{
	struct locker *t = arg;

	hl_ref(t->l);
	atomic_store(&t->state, ST_CALLING);
	switch (t->op) {
	case LOP_EX:
		hl_lock_ex(t->l);
		t->rc = 0;
		break;
	case LOP_EX_IDENT:
		hl_lock_ex_ident(t->l, "unit_lock_ex");
		t->rc = 0;
		break;
	case LOP_EX_TRY:
		t->rc = hl_lock_ex_try(t->l);
		break;
	case LOP_SH:
		hl_lock_sh(t->l);
		t->rc = 0;
		break;
	case LOP_SH_IDENT:
		hl_lock_sh_ident(t->l, "unit_lock_sh");
		t->rc = 0;
		break;
	case LOP_SH_TRY:
		t->rc = hl_lock_sh_try(t->l);
		break;
	case LOP_PROBE:
		t->rc = -1;
		break;
	}
	t->lockval = atomic_load(&t->l->lockval);
	t->owned = hl_lock_excl_owned(t->l);
	atomic_store(&t->state, ST_RETURNED);
	if (t->rc == 0) {
		unsigned it = 0;

		while (!atomic_load(&t->release))
			ht_unit_pause(&it);
		hl_unlock(t->l);
	}
	hl_rel(t->l);
	atomic_store(&t->state, ST_DONE);
	return NULL;
}

static void
locker_start(struct locker *t, struct hl_lock *l, enum lop op)
{
	memset(t, 0, sizeof(*t));
	t->l = l;
	t->op = op;
	t->td = ht_unit_spawn(locker_main, t);
}

/* Run a locker until its call returned; returns its rc. */
static int
locker_run(struct locker *t, struct hl_lock *l, enum lop op)
{
	locker_start(t, l, op);
	HT_UNIT_WAIT(atomic_load(&t->state) >= ST_RETURNED,
	    "locker op %d did not return; lockval=0x%08x", (int)op,
	    atomic_load(&l->lockval));
	return t->rc;
}

/* Start a locker and wait until it sleeps with lockval == sleeping. */
static void
locker_block(
    struct locker *t, struct hl_lock *l, enum lop op, uint32_t sleeping)
{
	locker_start(t, l, op);
	HT_UNIT_WAIT(atomic_load(&l->lockval) == sleeping,
	    "locker never published lockval 0x%08x; lockval=0x%08x", sleeping,
	    atomic_load(&l->lockval));
	ht_unit_wait_sleepers(1);
	HT_CHECK(atomic_load(&t->state) == ST_CALLING,
	    "locker returned although the lock was unavailable");
	HT_UNIT_LOCKVAL(l, sleeping);
}

static void
locker_finish(struct locker *t)
{
	atomic_store(&t->release, 1);
	ht_unit_join(t->td);
	HT_CHECK(atomic_load(&t->state) == ST_DONE, "locker state");
}

/*
 * Exclusive lock and the owner's recursion.  Catches: wrong word values,
 * a recursive take that blocks (watchdog) or loses EXCLUSIVE, a shared
 * request of the owner that counts as shared (its unlock would then see
 * the wrong mode), the owner not set or not cleared.
 */
static void
test_ex_recursion(void)
{
	struct hl_lock *l = &tl1;

	make_ref(l);
	HT_CHECK(hl_notlocked(l) && !hl_islocked(l), "unlocked");
	HT_CHECK(!hl_lock_excl_owned(l), "not owned yet");
	hl_lock_ex(l);
	HT_UNIT_LOCKVAL(l, 1 | LX);
	HT_CHECK(atomic_load(&l->lowner) != 0, "owner not set");
	HT_CHECK(hl_lock_excl_owned(l), "owned");
	HT_CHECK(hl_islocked(l) && !hl_notlocked(l), "locked");
	HT_CHECK(hl_lock_status(l) == 1, "status");
	hl_lock_ex(l);
	HT_UNIT_LOCKVAL(l, 2 | LX);
	hl_lock_ex_ident(l, "again");
	HT_UNIT_LOCKVAL(l, 3 | LX);
	hl_lock_sh(l); /* the owner's shared request: one more ex hold */
	HT_UNIT_LOCKVAL(l, 4 | LX);
	hl_lock_sh_ident(l, "again_sh");
	HT_UNIT_LOCKVAL(l, 5 | LX);
	HT_CHECK(hl_lock_sh_try(l) == 0, "sh_try by the owner");
	HT_UNIT_LOCKVAL(l, 6 | LX);
	HT_CHECK(hl_lock_ex_try(l) == 0, "ex_try by the owner");
	HT_UNIT_LOCKVAL(l, 7 | LX);
	HT_CHECK(hl_lock_status(l) == 1, "status");
	for (uint32_t n = 7; n > 1; n--) {
		hl_unlock(l);
		HT_UNIT_LOCKVAL(l, (n - 1) | LX);
		HT_CHECK(hl_lock_excl_owned(l), "still owned at %u", n - 1);
	}
	hl_unlock(l);
	HT_UNIT_LOCKVAL(l, 0);
	HT_CHECK(atomic_load(&l->lowner) == 0, "owner not cleared");
	HT_CHECK(!hl_lock_excl_owned(l), "owned after the last unlock");
	HT_CHECK(hl_notlocked(l), "notlocked");

	hl_lock_ex_ident(l, "ident");
	HT_UNIT_LOCKVAL(l, 1 | LX);
	hl_unlock(l);
	HT_UNIT_LOCKVAL(l, 0);
	drop_ref(l);
	passed("hl_lock_ex recursion, sh inside ex");
}

/*
 * Shared lock by one thread, several times.  Catches: EXCLUSIVE set by a
 * shared take, wrong counts, status, or ex_try succeeding on a shared
 * lock (even the caller's own).
 */
static void
test_sh(void)
{
	struct hl_lock *l = &tl1;

	make_ref(l);
	hl_lock_sh(l);
	HT_UNIT_LOCKVAL(l, 1);
	HT_CHECK(atomic_load(&l->lowner) == 0, "shared has no owner");
	HT_CHECK(!hl_lock_excl_owned(l), "shared is not owned");
	HT_CHECK(hl_lock_status(l) == -1, "status");
	HT_CHECK(hl_islocked(l), "islocked");
	hl_lock_sh(l);
	HT_UNIT_LOCKVAL(l, 2);
	HT_CHECK(hl_lock_sh_try(l) == 0, "sh_try");
	HT_UNIT_LOCKVAL(l, 3);
	hl_lock_sh_ident(l, "ident");
	HT_UNIT_LOCKVAL(l, 4);
	HT_CHECK(hl_lock_ex_try(l) == EAGAIN, "ex_try on shared");
	HT_UNIT_LOCKVAL(l, 4);
	for (uint32_t n = 4; n > 0; n--) {
		hl_unlock(l);
		HT_UNIT_LOCKVAL(l, n - 1);
	}
	HT_CHECK(hl_lock_ex_try(l) == 0, "ex_try on a free lock");
	HT_UNIT_LOCKVAL(l, 1 | LX);
	hl_unlock(l);
	drop_ref(l);
	passed("hl_lock_sh, hl_lock_sh_try, hl_lock_status -1");
}

/*
 * The try forms against another thread.  Catches: a try that blocks
 * (watchdog), that succeeds against another thread's exclusive hold, or
 * that changes the word when it fails; hl_lock_excl_owned true in a
 * thread that is not the owner.
 */
static void
test_try_other_thread(void)
{
	struct hl_lock *l = &tl1;
	struct locker a, b;

	make_ref(l);

	/* Main holds it exclusively. */
	HT_CHECK(hl_lock_ex_try(l) == 0, "ex_try");
	HT_UNIT_LOCKVAL(l, 1 | LX);
	HT_CHECK(locker_run(&a, l, LOP_EX_TRY) == EAGAIN, "other ex_try");
	HT_CHECK(a.lockval == (1 | LX), "lockval=0x%08x", a.lockval);
	HT_CHECK(!a.owned, "non-owner thinks it owns the lock");
	locker_finish(&a);
	HT_CHECK(locker_run(&a, l, LOP_SH_TRY) == EAGAIN, "other sh_try");
	locker_finish(&a);
	HT_CHECK(locker_run(&a, l, LOP_PROBE) == -1, "probe");
	HT_CHECK(!a.owned, "probe: non-owner owns");
	locker_finish(&a);
	HT_UNIT_LOCKVAL(l, 1 | LX);
	HT_CHECK(hl_lock_excl_owned(l), "main owns");
	hl_unlock(l);

	/* Another thread holds it exclusively. */
	HT_CHECK(locker_run(&a, l, LOP_EX_TRY) == 0, "other ex_try");
	HT_CHECK(a.lockval == (1 | LX) && a.owned, "lockval=0x%08x owned=%d",
	    a.lockval, a.owned);
	HT_CHECK(!hl_lock_excl_owned(l), "main does not own");
	HT_CHECK(hl_lock_status(l) == 1, "status of another's lock");
	HT_CHECK(hl_lock_ex_try(l) == EAGAIN, "main ex_try");
	HT_CHECK(hl_lock_sh_try(l) == EAGAIN, "main sh_try");
	HT_UNIT_LOCKVAL(l, 1 | LX);
	locker_finish(&a);
	HT_UNIT_LOCKVAL(l, 0);
	HT_CHECK(atomic_load(&l->lowner) == 0, "owner left behind");

	/* Another thread holds it shared: sh_try succeeds, ex_try fails. */
	HT_CHECK(locker_run(&a, l, LOP_SH_TRY) == 0, "other sh_try");
	HT_CHECK(a.lockval == 1 && !a.owned, "lockval=0x%08x", a.lockval);
	HT_CHECK(hl_lock_ex_try(l) == EAGAIN, "main ex_try vs shared");
	HT_CHECK(hl_lock_sh_try(l) == 0, "main sh_try vs shared");
	HT_UNIT_LOCKVAL(l, 2);
	HT_CHECK(locker_run(&b, l, LOP_SH) == 0, "third sharer");
	HT_UNIT_LOCKVAL(l, 3);
	HT_CHECK(hl_lock_status(l) == -1, "status");
	locker_finish(&a);
	locker_finish(&b);
	HT_UNIT_LOCKVAL(l, 1);
	hl_unlock(l);
	drop_ref(l);
	passed("try forms against another thread, hl_lock_excl_owned");
}

/*
 * unlock wakes a sleeper; the stats count the sleep, the wake and the
 * contention.  Catches: a lost wakeup (watchdog), WANTED not published
 * (the unlock would not wake), the new owner not recorded, counters that
 * do not move.
 */
static void
test_unlock_wakes(void)
{
	struct hl_lock *l = &tl1;
	struct hl_lock_stats s0, s1;
	struct locker a;

	make_ref(l);
	hl_lock_stats_get(&s0);

	/* Exclusive vs exclusive. */
	hl_lock_ex(l);
	locker_block(&a, l, LOP_EX_IDENT, 1 | LX | LW);
	hl_unlock(l);
	HT_UNIT_WAIT(atomic_load(&a.state) >= ST_RETURNED, "not woken");
	HT_CHECK(a.lockval == (1 | LX) && a.owned, "lockval=0x%08x owned=%d",
	    a.lockval, a.owned);
	HT_CHECK(!hl_lock_excl_owned(l), "old owner still owns");
	locker_finish(&a);
	HT_UNIT_LOCKVAL(l, 0);

	/* Shared vs exclusive. */
	hl_lock_sh(l);
	locker_block(&a, l, LOP_EX, 1 | LW);
	hl_unlock(l);
	HT_UNIT_WAIT(atomic_load(&a.state) >= ST_RETURNED, "not woken");
	HT_CHECK(a.lockval == (1 | LX) && a.owned, "lockval=0x%08x", a.lockval);
	locker_finish(&a);

	/* Exclusive vs shared. */
	hl_lock_ex(l);
	locker_block(&a, l, LOP_SH_IDENT, 1 | LX | LW);
	hl_unlock(l);
	HT_UNIT_WAIT(atomic_load(&a.state) >= ST_RETURNED, "not woken");
	HT_CHECK(a.lockval == 1 && !a.owned, "lockval=0x%08x", a.lockval);
	locker_finish(&a);
	HT_UNIT_LOCKVAL(l, 0);

	hl_lock_stats_get(&s1);
	HT_CHECK(s1.lock_sleeps >= s0.lock_sleeps + 3, "lock_sleeps %llu->%llu",
	    (unsigned long long)s0.lock_sleeps,
	    (unsigned long long)s1.lock_sleeps);
	HT_CHECK(s1.lock_wakeups >= s0.lock_wakeups + 3, "lock_wakeups");
	HT_CHECK(s1.lock_contended >= s0.lock_contended + 3, "contended");
	drop_ref(l);
	passed("hl_unlock wakes sleepers; stats");
}

/*
 * Shared requests are granted while an exclusive waiter is queued.
 * Catches: writer priority, which deadlocks a reader that re-enters (the
 * main thread's second hl_lock_sh here would hang: watchdog), and a
 * shared grant that drops the waiter's WANTED bit (lost wakeup).
 */
static void
test_sh_with_ex_waiter(void)
{
	struct hl_lock *l = &tl1;
	struct locker w, r;

	make_ref(l);
	hl_lock_sh(l);
	locker_block(&w, l, LOP_EX, 1 | LW);

	/* Another thread's shared request: granted at once. */
	HT_CHECK(locker_run(&r, l, LOP_SH) == 0, "reader");
	HT_CHECK(r.lockval == (2 | LW), "lockval=0x%08x", r.lockval);
	/* The first reader re-enters: must not wait for the writer. */
	hl_lock_sh(l);
	HT_UNIT_LOCKVAL(l, 3 | LW);
	HT_CHECK(hl_lock_sh_try(l) == 0, "sh_try with a queued writer");
	HT_UNIT_LOCKVAL(l, 4 | LW);
	HT_CHECK(atomic_load(&w.state) == ST_CALLING, "writer got in");

	hl_unlock(l);
	hl_unlock(l);
	hl_unlock(l);
	HT_UNIT_LOCKVAL(l, 1 | LW);
	HT_CHECK(atomic_load(&w.state) == ST_CALLING, "writer got in");
	locker_finish(&r); /* the last shared hold wakes the writer */
	HT_UNIT_WAIT(atomic_load(&w.state) >= ST_RETURNED, "writer not woken");
	HT_CHECK(w.lockval == (1 | LX) && w.owned, "lockval=0x%08x", w.lockval);
	locker_finish(&w);
	drop_ref(l);
	passed("shared granted while an exclusive waiter is queued");
}

/*
 * hl_lock_upgrade.  Catches: an upgrade that blocks or succeeds while
 * other threads hold shared (EDEADLK expected, word unchanged), one that
 * fails when the caller's holds are the only ones (also with WANTED set
 * by a queued writer), an owner not recorded, an already-exclusive
 * caller not getting 0.
 */
static void
test_upgrade(void)
{
	struct hl_lock *l = &tl1;
	struct locker a;

	make_ref(l);

	hl_lock_sh(l);
	HT_CHECK(hl_lock_upgrade(l, 1) == 0, "sole sharer");
	HT_UNIT_LOCKVAL(l, 1 | LX);
	HT_CHECK(hl_lock_excl_owned(l) && hl_lock_status(l) == 1, "owned");
	hl_unlock(l);
	HT_UNIT_LOCKVAL(l, 0);
	HT_CHECK(atomic_load(&l->lowner) == 0, "owner left behind");

	hl_lock_sh(l);
	hl_lock_sh(l);
	HT_CHECK(hl_lock_upgrade(l, 2) == 0, "two own shared holds");
	HT_UNIT_LOCKVAL(l, 2 | LX);
	hl_unlock(l);
	HT_UNIT_LOCKVAL(l, 1 | LX);
	hl_unlock(l);
	HT_UNIT_LOCKVAL(l, 0);

	/* Already exclusive: 0, nothing changes. */
	hl_lock_ex(l);
	HT_CHECK(hl_lock_upgrade(l, 1) == 0, "already exclusive");
	HT_UNIT_LOCKVAL(l, 1 | LX);
	hl_lock_ex(l);
	HT_CHECK(hl_lock_upgrade(l, 2) == 0, "already exclusive x2");
	HT_UNIT_LOCKVAL(l, 2 | LX);
	hl_unlock(l);
	hl_unlock(l);

	/* Another sharer: EDEADLK at once, word unchanged. */
	hl_lock_sh(l);
	HT_CHECK(locker_run(&a, l, LOP_SH) == 0, "other sharer");
	HT_UNIT_LOCKVAL(l, 2);
	HT_CHECK(hl_lock_upgrade(l, 1) == EDEADLK, "must be EDEADLK");
	HT_UNIT_LOCKVAL(l, 2);
	HT_CHECK(!hl_lock_excl_owned(l), "owner set by a failed upgrade");
	HT_CHECK(atomic_load(&l->lowner) == 0, "lowner set");
	locker_finish(&a);
	HT_UNIT_LOCKVAL(l, 1);
	HT_CHECK(hl_lock_upgrade(l, 1) == 0, "now alone");
	HT_UNIT_LOCKVAL(l, 1 | LX);
	hl_unlock(l);

	/* Sole sharer with a queued writer: succeeds, WANTED kept. */
	hl_lock_sh(l);
	locker_block(&a, l, LOP_EX, 1 | LW);
	HT_CHECK(hl_lock_upgrade(l, 1) == 0, "upgrade with a queued writer");
	HT_UNIT_LOCKVAL(l, 1 | LX | LW);
	HT_CHECK(hl_lock_excl_owned(l), "owned");
	HT_CHECK(atomic_load(&a.state) == ST_CALLING, "writer got in");
	hl_unlock(l); /* must wake the writer */
	HT_UNIT_WAIT(atomic_load(&a.state) >= ST_RETURNED, "writer not woken");
	HT_CHECK(a.lockval == (1 | LX) && a.owned, "lockval=0x%08x", a.lockval);
	locker_finish(&a);
	drop_ref(l);
	passed("hl_lock_upgrade");
}

/*
 * hl_lock_downgrade.  Catches: the owner left set (a later recursion
 * check would let the old owner in as exclusive), EXCLUSIVE or the count
 * wrong, WANTED kept without a wake (lost wakeup: watchdog).
 */
static void
test_downgrade(void)
{
	struct hl_lock *l = &tl1;
	struct locker a, b;

	make_ref(l);

	hl_lock_ex(l);
	hl_lock_ex(l);
	HT_UNIT_LOCKVAL(l, 2 | LX);
	hl_lock_downgrade(l, 2);
	HT_UNIT_LOCKVAL(l, 2);
	HT_CHECK(atomic_load(&l->lowner) == 0, "owner left behind");
	HT_CHECK(!hl_lock_excl_owned(l), "still owned");
	HT_CHECK(hl_lock_status(l) == -1, "status");
	HT_CHECK(locker_run(&a, l, LOP_SH_TRY) == 0, "other sh_try");
	HT_UNIT_LOCKVAL(l, 3);
	HT_CHECK(locker_run(&b, l, LOP_EX_TRY) == EAGAIN, "other ex_try");
	locker_finish(&b);
	/* The old owner's shared request is a plain shared one now. */
	hl_lock_sh(l);
	HT_UNIT_LOCKVAL(l, 4);
	locker_finish(&a);
	hl_unlock(l);
	hl_unlock(l);
	hl_unlock(l);
	HT_UNIT_LOCKVAL(l, 0);

	/* Downgrade wakes a blocked sharer. */
	hl_lock_ex(l);
	locker_block(&a, l, LOP_SH, 1 | LX | LW);
	hl_lock_downgrade(l, 1);
	HT_UNIT_WAIT(atomic_load(&a.state) >= ST_RETURNED, "sharer not woken");
	HT_CHECK(a.lockval == 2, "lockval=0x%08x", a.lockval);
	HT_UNIT_LOCKVAL(l, 2);
	locker_finish(&a);
	hl_unlock(l);
	drop_ref(l);
	passed("hl_lock_downgrade");
}

/*
 * The deadlock the retooling removed: a thread holding the object's
 * lockval shared references the object again and becomes its loader
 * (CHECK set) while a writer is queued on lockval.  Loading uses only the
 * refs interlock, so nothing here may wait.  Catches: any load path that
 * takes lockval (hang: watchdog).
 */
static void
test_no_load_deadlock(void)
{
	struct hl_lock *l = &tl1;
	struct locker w;

	make_ref(l);
	hl_lock_sh(l);
	locker_block(&w, l, LOP_EX, 1 | LW);
	/* Invalidate, then re-reference: we must load, and not wait. */
	HT_CHECK(!hl_get_interlock(l), "no CHECK");
	hl_put_interlock(l, EIO);
	/* The writer's reference is the second one. */
	HT_UNIT_REFS(l, 2 | HL_REFS_CHECK);
	HT_CHECK(hl_ref_interlock(l), "re-reference must load");
	hl_lock_sh(l); /* re-entry as a reader while loading */
	hl_ref_interlock_done(l);
	hl_unlock(l);
	HT_UNIT_REFS(l, 3);
	hl_rel(l);
	hl_unlock(l);
	HT_UNIT_WAIT(atomic_load(&w.state) >= ST_RETURNED, "writer not woken");
	locker_finish(&w);
	drop_ref(l);
	passed("loading under a shared lock does not wait on lockval");
}

int
main(void)
{
	printf("unit_lock: debug checks %s, sleep backend %s\n",
	    hl_debug_enabled() ? "on" : "off", hl_sleep_backend());
	ht_watch_lock("tl1", &tl1);
	ht_watchdog_start(30, NULL);

	test_ex_recursion();
	test_sh();
	test_try_other_thread();
	test_unlock_wakes();
	test_sh_with_ex_waiter();
	test_upgrade();
	test_downgrade();
	test_no_load_deadlock();

	ht_watchdog_stop();
	ht_pass("unit_lock", npassed);
	return 0;
}
