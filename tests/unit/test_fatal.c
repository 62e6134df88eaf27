/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_fatal.c - death tests: every misuse the library must report.
 *
 * Each case builds a lock in a known state from scratch, arms a capturing
 * fatal handler and commits one misuse.  The capturing handler records
 * what the library reported (function, lock, both words, message) and
 * passes it on to the harness's handler, which jumps back into
 * ht_expect_fatal().  A case passes when:
 *
 *   - the fatal error happened during the misuse itself, not its setup;
 *   - the formatted message (as the default handler prints it) names the
 *     function followed by ": ", contains the lock's address as "%p", and
 *     "refs=0x" and "lockval=0x" with the expected words;
 *   - the message contains the case's keyword;
 *   - the words were not changed by the misuse (checked after the jump).
 *
 * Two cases also run in a child with the default handler, which must
 * print the same facts and abort.
 */
#include <errno.h>
#include <string.h>

#include "unit.h"

#define RK HL_REFS_CHECK
#define RW HL_REFS_WANTED
#define RL HL_REFS_LOCKED
#define LX HL_LOCKF_EXCLUSIVE

static int npassed;
static struct hl_lock tl = HL_LOCK_INITIALIZER;

/* Must-check results go here; the misuse never returns anyway. */
static volatile int sink;

/* What the capturing handler saw. */
static struct {
	bool hit;
	const char *func;
	const struct hl_lock *l;
	uint32_t refs, lockval;
	char text[512];
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
	cap.lockval = lockval;
	hl_fatal_format(
	    cap.text, sizeof(cap.text), func, l, refs, lockval, msg);
	chained(func, l, refs, lockval, msg);
}

/* Called by a case right before its misuse. */
static void
arm(void)
{
	memset(&cap, 0, sizeof(cap));
	chained = hl_set_fatal_handler(capture_fatal);
}

/* A helper thread that holds the lock exclusively or the interlock. */
enum hold { HOLD_EX, HOLD_INTERLOCK_NOREFS, HOLD_INTERLOCK };

static struct {
	pthread_t td;
	enum hold what;
	_Atomic int ready;
	_Atomic int release;
	bool running;
} holder;

static void *
holder_main(void *arg)
{
	struct hl_lock *l = arg;
	unsigned it = 0;

	switch (holder.what) {
	case HOLD_EX:
		hl_ref(l);
		hl_lock_ex(l);
		break;
	case HOLD_INTERLOCK_NOREFS:
		if (!hl_try_interlock_norefs(l))
			abort();
		break;
	case HOLD_INTERLOCK:
		(void)!hl_get_interlock(l);
		break;
	}
	atomic_store(&holder.ready, 1);
	while (!atomic_load(&holder.release))
		ht_unit_pause(&it);
	switch (holder.what) {
	case HOLD_EX:
		hl_unlock(l);
		hl_rel(l);
		break;
	case HOLD_INTERLOCK_NOREFS:
	case HOLD_INTERLOCK:
		hl_put_interlock(l, 0);
		break;
	}
	return NULL;
}

static void
holder_start(struct hl_lock *l, enum hold what)
{
	holder.what = what;
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

/* A lock with one loaded reference. */
static void
referenced(struct hl_lock *l)
{
	hl_lock_init(l);
	HT_CHECK(hl_ref_interlock(l), "0->1");
	hl_ref_interlock_done(l);
}

/* The cases.  Each starts from an arbitrary lock state. */

static void
c_rel_zero(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	arm();
	hl_rel(l);
}

static void
c_rel_zero_locked(void *arg)
{
	struct hl_lock *l = arg;

	/* Count 0 with LOCKED: the seed turned this into garbage. */
	hl_lock_init(l);
	HT_CHECK(hl_try_interlock_norefs(l), "norefs");
	arm();
	hl_rel(l);
}

static void
c_rel_interlock_zero(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	arm();
	(void)hl_rel_interlock(l, false);
}

static void
c_rel_interlock_zero_locked(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	HT_CHECK(hl_try_interlock_norefs(l), "norefs");
	arm();
	(void)hl_rel_interlock(l, false);
}

static void
c_rel_interlock_locked_zero(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	HT_CHECK(hl_try_interlock_norefs(l), "norefs");
	arm();
	(void)hl_rel_interlock(l, true);
}

static void
c_ref_overflow(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	atomic_store(&l->refs, HL_REFS_COUNT_MASK);
	arm();
	hl_ref(l);
}

static void
c_ref_overflow_check(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	atomic_store(&l->refs, HL_REFS_COUNT_MASK | RK);
	arm();
	hl_ref(l);
}

static void
c_ref_interlock_overflow(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	atomic_store(&l->refs, HL_REFS_COUNT_MASK);
	arm();
	sink = hl_ref_interlock(l);
}

static void
c_ref_interlock_overflow_check(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	atomic_store(&l->refs, HL_REFS_COUNT_MASK | RK);
	arm();
	sink = hl_ref_interlock(l);
}

static void
c_lock_count_overflow(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	atomic_store(&l->lockval, HL_LOCKF_COUNT_MASK);
	arm();
	sink = hl_lock_sh_try(l);
}

static void
c_unlock_unheld(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	arm();
	hl_unlock(l);
}

static void
c_unlock_other(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	holder_start(l, HOLD_EX);
	arm();
	hl_unlock(l);
}

static void
c_ref_interlock_done_noil(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	arm();
	hl_ref_interlock_done(l);
}

static void
c_rel_interlock_done_noil(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	arm();
	hl_rel_interlock_done(l, false);
}

static void
c_put_interlock_noil(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	arm();
	hl_put_interlock(l, 0);
}

static void
c_rel_interlock_locked_noil(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	arm();
	(void)hl_rel_interlock(l, true);
}

static void
c_lock_ex_noref(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	arm();
	hl_lock_ex(l);
}

static void
c_lock_ex_ident_noref(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	arm();
	hl_lock_ex_ident(l, "noref");
}

static void
c_lock_ex_try_noref(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	arm();
	sink = hl_lock_ex_try(l);
}

static void
c_lock_sh_noref(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	arm();
	hl_lock_sh(l);
}

static void
c_lock_sh_ident_noref(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	arm();
	hl_lock_sh_ident(l, "noref");
}

static void
c_lock_sh_try_noref(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	arm();
	sink = hl_lock_sh_try(l);
}

static void
c_upgrade_unheld(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	arm();
	sink = hl_lock_upgrade(l, 1);
}

static void
c_upgrade_shcount0(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	hl_lock_sh(l);
	arm();
	sink = hl_lock_upgrade(l, 0);
}

static void
c_downgrade_unheld(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	arm();
	hl_lock_downgrade(l, 1);
}

static void
c_downgrade_shared(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	hl_lock_sh(l);
	arm();
	hl_lock_downgrade(l, 1);
}

static void
c_downgrade_depth(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	hl_lock_ex(l);
	arm();
	hl_lock_downgrade(l, 2);
}

static void
c_downgrade_other(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	holder_start(l, HOLD_EX);
	arm();
	hl_lock_downgrade(l, 1);
}

static void
c_status_unheld(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	arm();
	sink = hl_lock_status(l);
}

static void
c_ref_interlock_true_ref(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	arm();
	sink = hl_ref_interlock_true(l);
}

static void
c_ref_interlock_true_locked(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	HT_CHECK(hl_try_interlock_norefs(l), "norefs");
	arm();
	sink = hl_ref_interlock_true(l);
}

static void
c_get_interlock_twice(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	HT_CHECK(!hl_get_interlock(l), "first");
	arm();
	sink = hl_get_interlock(l);
}

static void
c_get_interlock_twice_ref(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	HT_CHECK(!hl_get_interlock(l), "first");
	arm();
	sink = hl_get_interlock(l);
}

static void
c_ref_interlock_self_wait(void *arg)
{
	struct hl_lock *l = arg;

	/* The loader references its own object again before "done". */
	hl_lock_init(l);
	HT_CHECK(hl_ref_interlock(l), "0->1");
	arm();
	sink = hl_ref_interlock(l);
}

static void
c_rel_interlock_self_wait(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	HT_CHECK(!hl_get_interlock(l), "interlock");
	arm();
	(void)hl_rel_interlock(l, false);
}

/* Debug builds only. */

static void
c_ref_zero_noil(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	arm();
	hl_ref(l);
}

static void
c_ref_zero_other_il(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	holder_start(l, HOLD_INTERLOCK_NOREFS);
	arm();
	hl_ref(l);
}

static void
c_put_interlock_other(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	holder_start(l, HOLD_INTERLOCK);
	arm();
	hl_put_interlock(l, 0);
}

static void
c_ref_interlock_done_other(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	holder_start(l, HOLD_INTERLOCK);
	arm();
	hl_ref_interlock_done(l);
}

static void
c_rel_interlock_done_other(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	holder_start(l, HOLD_INTERLOCK);
	arm();
	hl_rel_interlock_done(l, false);
}

static void
c_rel_interlock_locked_other(void *arg)
{
	struct hl_lock *l = arg;

	referenced(l);
	holder_start(l, HOLD_INTERLOCK);
	arm();
	(void)hl_rel_interlock(l, true);
}

struct fcase {
	const char *name;
	void (*fn)(void *);
	const char *func;    /* function the report must name; a trailing
				'*' accepts any name starting with it */
	const char *keyword; /* in the message */
	uint32_t refs;	     /* words as seen at the misuse */
	uint32_t lockval;
	bool debug_only;
};

static const struct fcase cases[] = {
    {"hl_rel count 0", c_rel_zero, "hl_rel", "no reference", 0, 0},
    {"hl_rel count 0 + LOCKED", c_rel_zero_locked, "hl_rel", "no reference", RL,
	0},
    {"hl_rel_interlock(false) count 0", c_rel_interlock_zero,
	"hl_rel_interlock", "no reference", 0, 0},
    {"hl_rel_interlock(false) count 0 + own LOCKED",
	c_rel_interlock_zero_locked, "hl_rel_interlock", "no reference", RL, 0},
    /* Reported under hl_rel's name today: "hl_rel*" accepts both. */
    {"hl_rel_interlock(true) count 0", c_rel_interlock_locked_zero, "hl_rel*",
	"no reference", RL, 0},
    {"hl_ref overflow", c_ref_overflow, "hl_ref", "overflow",
	HL_REFS_COUNT_MASK, 0},
    {"hl_ref overflow + CHECK", c_ref_overflow_check, "hl_ref", "overflow",
	HL_REFS_COUNT_MASK | RK, 0},
    {"hl_ref_interlock overflow", c_ref_interlock_overflow, "hl_ref_interlock",
	"overflow", HL_REFS_COUNT_MASK, 0},
    {"hl_ref_interlock overflow + CHECK", c_ref_interlock_overflow_check,
	"hl_ref_interlock", "overflow", HL_REFS_COUNT_MASK | RK, 0},
    {"lockval count overflow", c_lock_count_overflow, "hl_lock_sh_try",
	"overflow", 1, HL_LOCKF_COUNT_MASK},
    {"hl_unlock not held", c_unlock_unheld, "hl_unlock", "not held", 1, 0},
    {"hl_unlock of another's exclusive lock", c_unlock_other, "hl_unlock",
	"another thread", 2, 1 | LX},
    {"hl_ref_interlock_done without interlock", c_ref_interlock_done_noil,
	"hl_ref_interlock_done", "not held", 1, 0},
    {"hl_rel_interlock_done without interlock", c_rel_interlock_done_noil,
	"hl_rel_interlock_done", "not held", 1, 0},
    {"hl_put_interlock without interlock", c_put_interlock_noil,
	"hl_put_interlock", "not held", 1, 0},
    {"hl_rel_interlock(true) without interlock", c_rel_interlock_locked_noil,
	"hl_rel_interlock", "not held", 1, 0},
    {"hl_lock_ex without reference", c_lock_ex_noref, "hl_lock_ex",
	"without a reference", 0, 0},
    {"hl_lock_ex_ident without reference", c_lock_ex_ident_noref, "hl_lock_ex",
	"without a reference", 0, 0},
    {"hl_lock_ex_try without reference", c_lock_ex_try_noref, "hl_lock_ex_try",
	"without a reference", 0, 0},
    {"hl_lock_sh without reference", c_lock_sh_noref, "hl_lock_sh",
	"without a reference", 0, 0},
    {"hl_lock_sh_ident without reference", c_lock_sh_ident_noref, "hl_lock_sh",
	"without a reference", 0, 0},
    {"hl_lock_sh_try without reference", c_lock_sh_try_noref, "hl_lock_sh_try",
	"without a reference", 0, 0},
    {"hl_lock_upgrade not held", c_upgrade_unheld, "hl_lock_upgrade",
	"not held", 1, 0},
    {"hl_lock_upgrade shcount 0", c_upgrade_shcount0, "hl_lock_upgrade",
	"shcount", 1, 1},
    {"hl_lock_downgrade not held", c_downgrade_unheld, "hl_lock_downgrade",
	"not held", 1, 0},
    {"hl_lock_downgrade of a shared lock", c_downgrade_shared,
	"hl_lock_downgrade", "not held exclusively", 1, 1},
    {"hl_lock_downgrade wrong depth", c_downgrade_depth, "hl_lock_downgrade",
	"depth", 1, 1 | LX},
    {"hl_lock_downgrade by a non-owner", c_downgrade_other, "hl_lock_downgrade",
	"another thread", 2, 1 | LX},
    {"hl_lock_status not held", c_status_unheld, "hl_lock_status", "not held",
	1, 0},
    {"hl_ref_interlock_true on a referenced word", c_ref_interlock_true_ref,
	"hl_ref_interlock_true", "not 0", 1, 0},
    {"hl_ref_interlock_true on an interlocked word",
	c_ref_interlock_true_locked, "hl_ref_interlock_true", "not 0", RL, 0},
    {"hl_get_interlock twice", c_get_interlock_twice, "hl_get_interlock",
	"interlock it holds", RL, 0},
    {"hl_get_interlock twice, referenced", c_get_interlock_twice_ref,
	"hl_get_interlock", "interlock it holds", 1 | RL, 0},
    {"hl_ref_interlock by the loader", c_ref_interlock_self_wait,
	"hl_ref_interlock", "interlock it holds", 2 | RL | RK, 0},
    {"hl_rel_interlock by the interlock holder", c_rel_interlock_self_wait,
	"hl_rel_interlock", "interlock it holds", 1 | RL, 0},
    {"hl_ref 0->1 without the interlock", c_ref_zero_noil, "hl_ref",
	"without the interlock", 0, 0, true},
    {"hl_ref 0->1 under another's interlock", c_ref_zero_other_il, "hl_ref",
	"without the interlock", RL, 0, true},
    {"hl_put_interlock of another's interlock", c_put_interlock_other,
	"hl_put_interlock", "another thread", 1 | RL, 0, true},
    {"hl_ref_interlock_done of another's interlock", c_ref_interlock_done_other,
	"hl_ref_interlock_done", "another thread", 1 | RL, 0, true},
    {"hl_rel_interlock_done of another's interlock", c_rel_interlock_done_other,
	"hl_rel_interlock_done", "another thread", 1 | RL, 0, true},
    {"hl_rel_interlock(true) under another's interlock",
	c_rel_interlock_locked_other, "hl_rel_interlock", "another thread",
	1 | RL, 0, true},
};

static bool
contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		return true;
	fprintf(stderr, "message lacks \"%s\": %s\n", needle, hay);
	return false;
}

/* Does the reported function name match the case's? */
static bool
func_ok(const char *reported, const char *want)
{
	size_t n = strlen(want);

	if (n > 0 && want[n - 1] == '*')
		return strncmp(reported, want, n - 1) == 0;
	return strcmp(reported, want) == 0;
}

/*
 * The facts every report must carry, as text: the function that
 * reported (followed by ": "), the lock address, both words, the keyword.
 */
static bool
report_ok(const char *text, const char *func, const struct fcase *c,
    const struct hl_lock *l)
{
	char want[64];
	bool ok = true;

	snprintf(want, sizeof(want), "%s: ", func);
	ok &= contains(text, want);
	snprintf(want, sizeof(want), "%p", (const void *)l);
	ok &= contains(text, want);
	snprintf(want, sizeof(want), "refs=0x%08x", c->refs);
	ok &= contains(text, want);
	snprintf(want, sizeof(want), "lockval=0x%08x", c->lockval);
	ok &= contains(text, want);
	ok &= contains(text, c->keyword);
	return ok;
}

static void
run_case(const struct fcase *c)
{
	struct hl_lock *l = &tl;
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
	HT_CHECK(cap.refs == c->refs && cap.lockval == c->lockval,
	    "%s: reported refs=0x%08x lockval=0x%08x, expected 0x%08x 0x%08x",
	    c->name, cap.refs, cap.lockval, c->refs, c->lockval);
	HT_CHECK(report_ok(cap.text, cap.func, c, l), "%s: report", c->name);
	/* The words after the jump: the misuse must not have changed them. */
	HT_UNIT_REFS(l, c->refs);
	HT_UNIT_LOCKVAL(l, c->lockval);
	holder_stop();
	hl_lock_init(l);
	npassed++;
}

static const struct fcase *
find_case(const char *name)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(cases[i].name, name) == 0)
			return &cases[i];
	ht_fail(__FILE__, __LINE__, name, "no such case");
}

/*
 * The default handler: in a child, the misuse must abort and print the
 * function, the lock address and both words.
 */
static void
run_abort_case(const struct fcase *c)
{
	char want[5][64];

	printf("abort case: %s\n", c->name);
	snprintf(want[0], sizeof(want[0]), "%s: ", c->func);
	snprintf(want[1], sizeof(want[1]), "%p", (void *)&tl);
	snprintf(want[2], sizeof(want[2]), "refs=0x%08x", c->refs);
	snprintf(want[3], sizeof(want[3]), "lockval=0x%08x", c->lockval);
	snprintf(want[4], sizeof(want[4]), "%s", c->keyword);
	for (int i = 0; i < 5; i++)
		HT_CHECK(ht_expect_abort(c->fn, &tl, want[i]),
		    "%s: default handler output lacks \"%s\"", c->name,
		    want[i]);
	hl_lock_init(&tl);
	npassed++;
}

/*
 * A handler that returns must not let the misuse continue: the library
 * aborts.  Checked in a child.
 */
static void
returning_handler(const char *func, const struct hl_lock *l, uint32_t refs,
    uint32_t lockval, const char *msg)
{
	char buf[512];

	hl_fatal_format(buf, sizeof(buf), func, l, refs, lockval, msg);
	fprintf(stderr, "returning handler: %s\n", buf);
}

static void
rel_zero_returning(void *arg)
{
	struct hl_lock *l = arg;

	hl_lock_init(l);
	hl_set_fatal_handler(returning_handler);
	hl_rel(l);
	fprintf(stderr, "hl_rel returned after a fatal error\n");
}

int
main(void)
{
	printf("unit_fatal: debug checks %s, sleep backend %s\n",
	    hl_debug_enabled() ? "on" : "off", hl_sleep_backend());

	/* Forking cases first, while the process has one thread. */
	run_abort_case(find_case("hl_rel count 0"));
	run_abort_case(find_case("hl_unlock not held"));
	HT_CHECK(ht_expect_abort(rel_zero_returning, &tl, "returning handler"),
	    "a returning fatal handler must lead to abort");
	npassed++;

	ht_watch_lock("tl", &tl);
	ht_watchdog_start(30, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	ht_watchdog_stop();
	(void)sink;
	ht_pass("unit_fatal", npassed);
	return 0;
}
