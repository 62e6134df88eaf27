/*
 * refs.pml -- Promela model of hammerlock's integrated reference count and
 * interlock word (the `refs` word of struct hl_lock), checked with spin.
 * See README.md in this directory; model/check.sh runs all the checks.
 *
 * Mapping to the C functions (same semantics as the seed's hammer_*):
 *
 *   hl_ref()                    -> inline hl_ref()  (load, then fetch_add
 *                                  or the CAS loop of hl__ref_slow)
 *   hl_rel()                    -> inline hl_rel(last)  (fetch_sub, then
 *                                  the CHECK fixup of hl__rel_fixup)
 *   hl_ref_interlock()          -> inline ref_interlock()
 *   hl_ref_interlock_done()     -> inline ref_interlock_done()
 *   hl_rel_interlock(l, 1)      -> rel_slow() (hl__rel_slow, a CAS loop),
 *                                  result TRUE (done in get())
 *   hl_rel_interlock(l, 0)      -> inline rel_interlock0()
 *   hl_rel_interlock_done()     -> inline rel_interlock_done()
 *   hl_get_interlock()          -> inline get_interlock()
 *   hl_try_interlock_norefs()   -> inline try_interlock_norefs()
 *   hl_put_interlock(l, err)    -> inline put_interlock(err)
 *
 * How the C code is cut into atomic steps:
 *   - The plain load of the word at the top of each retry loop is one step.
 *     The computation of the new value and of the branch to take uses only
 *     locals, so it is folded into that step.
 *   - Every compare-and-swap is exactly one atomic step: it compares the
 *     word with the value loaded before and, if equal, stores the new one.
 *     Between the load and the CAS any other process may run.
 *   - fetch_add / fetch_sub (hl_ref, hl_rel) are one unconditional atomic
 *     step each; the load before the fetch_add, and each load and CAS of
 *     hl_rel's CHECK fixup after the fetch_sub, are steps of their own.
 *   - The futex wake that follows a successful CAS is a step of its own.
 *   - Ghost bookkeeping (who owns the interlock, who uses the data) is
 *     updated inside the step of the real operation it describes, and the
 *     locals are reset to 0 as soon as they are dead, to keep the state
 *     space small.
 *
 * Sleeping follows a Linux futex on the address of the word:
 *   futex_wait(word, val): one atomic step that compares the word with val
 *     and, only if they are equal, queues the caller (sets its bit in
 *     `sleepers`); the caller then blocks until its bit is cleared.
 *   futex_wake(word, INT_MAX): clears all bits of `sleepers`.
 * A process that stays blocked forever is reported by spin as an invalid
 * end state (it never reaches the end of its body).
 *
 * Properties (asserts, plus spin's invalid-end-state check):
 *   1. interlock mutual exclusion: a CAS that sets LOCKED finds no owner.
 *   2. no use before load: when ref_interlock decides to return FALSE the
 *      data is loaded, and a user always sees loaded data unless an
 *      invalidation has revoked its reference (hold[] == H_STALE).
 *   3. no unload while in use: whoever discards the data for an unload
 *      (last releaser, failed loader, reclaimer) sees no fresh user.
 *   4. no lost wakeup / deadlock: no process may stay blocked (checked as
 *      invalid end states; run pan without -E).
 *   5. clean end: after all workers finish, word == 0, nobody queued,
 *      nobody owns the interlock, nobody uses the data.  (The object may
 *      be left loaded at count 0: cached, unreferenced.)
 *   Also: the count never underflows; done/put are only called with LOCKED;
 *   a plain hl_ref never makes 0->1 unless the caller holds the interlock.
 *
 * Injected bugs, selected with the C preprocessor (spin -DBUG_X -a refs.pml):
 *   BUG_A  rel_interlock_done clears CHECK even while references remain.
 *   BUG_B  the sleep does not compare the word (plain "block until woken").
 *   BUG_C  ref_interlock's N->N+1 fast path ignores CHECK.
 *   BUG_D  wakers wake the queue only when WANTED was clear (inverted test).
 *   BUG_E  put_interlock ignores `error` and always clears CHECK.
 *   BUG_F  client misuse: the reclaimer unloads the object and then calls
 *          put_interlock(0), claiming it is valid.
 *   BUG_G  rel_interlock drops the last reference and takes the interlock
 *          in two separate steps instead of one CAS.
 *   BUG_H  get_interlock takes LOCKED even when it is already held.
 *   BUG_I  hl_rel leaves out the fixup: after a 1->0 fetch_sub with CHECK
 *          set, CHECK stays set at count 0 (needs -DPLAIN).
 * -DSPURIOUS lets any queued sleeper wake up at any time.
 * -DPLAIN adds the plain hl_ref/hl_rel: every client takes a nested extra
 * reference with hl_ref and drops it with hl_rel while it holds its base
 * reference, and clients and the invalidator may end their (last)
 * reference with a plain hl_rel instead of hl_rel_interlock(l, 0), which
 * leaves the object loaded at count 0.
 * -DWITNESS=n (with -DPLAIN) turns on reachability probe n (see PROBE),
 * which fails when the new code reaches a given state; check.sh expects
 * spin to reach each of them, so that the new checks are not vacuous:
 *   1  a ref_interlock load sees hl_rel's transient word (count 0, CHECK
 *      set, LOCKED clear) before the fixup has run;
 *   2  the fixup finds the count already back above 0;
 *   3  hl_ref takes the slow path (LOCKED was set);
 *   4  the fixup clears CHECK while another thread holds the interlock.
 * Configuration: -DNCLIENTS=n -DCYCLES=n -DINVAL=0|1 -DINVALS=n -DRECLAIMS=n
 * -DPLAIN.
 */

/* ---- layout of the word (decimal: spin has no hex literals) ---------- */
#define COUNT_MASK 268435455    /* 0x0fffffff: reference count, bits 0-27 */
#define CHECK      268435456    /* 0x10000000 */
#define WANTED     536870912    /* 0x20000000 */
#define LOCKED     1073741824   /* 0x40000000 */
#define CNT(v)     ((v) & COUNT_MASK)

/* ---- configuration -------------------------------------------------- */
#ifndef NCLIENTS
#define NCLIENTS 2              /* plain get/use/release clients */
#endif
#ifndef CYCLES
#define CYCLES 1                /* get/use/release rounds per plain client */
#endif
#ifndef INVAL
#define INVAL 1                 /* 1: run the invalidator process */
#endif
#ifndef INVALS
#define INVALS 1                /* invalidation rounds of the invalidator */
#endif
#ifndef RECLAIMS
#define RECLAIMS 1              /* try_interlock_norefs attempts (0: none) */
#endif
#if RECLAIMS > 0
#define NRECL 1
#else
#define NRECL 0
#endif
#ifndef PLAIN
#define PLAIN 0                 /* 1: nested hl_ref/hl_rel, plain-hl_rel ends */
#endif
#ifndef WITNESS
#define WITNESS 0               /* reachability probe number (0: none) */
#endif
#define NWORKERS (NCLIENTS + INVAL + NRECL)
#define NPROC    (NWORKERS + 2) /* + init + final checker */
#if NCLIENTS + INVAL + NRECL + 2 > 8
#error "sleepers has one bit per pid and is a byte: at most 8 processes"
#endif

/* ---- values of the local `ph` (what the pending CAS means) ------------ */
#define P_NONE   0
#define P_ACQ    1              /* CAS takes LOCKED */
#define P_FALSE  2              /* ref_interlock: CAS is the FALSE return */
#define P_ADD    3              /* ref_interlock: add our ref, then wait */
#define P_WAIT   4              /* CAS sets WANTED, then futex_wait */
#define P_DEC    5              /* plain count change, done */
#define P_WAKE   6              /* successful CAS replaced a WANTED word */
#define P_FAIL   7              /* try_interlock_norefs: word was not 0 */
#define P_SPLIT  8              /* BUG_G only: 1->0 without the interlock */
#define P_FAST   9              /* hl_ref: take the fetch_add fast path */
#define P_FIX    10             /* hl_rel: 1->0 with CHECK, run the fixup */

/* ---- ghost values ---------------------------------------------------- */
#define NOBODY   255            /* ilk_owner: interlock free */
#define H_NONE   0              /* hold[]: no reference in use */
#define H_FRESH  1              /* uses a reference to valid data */
#define H_STALE  2              /* uses a reference that was invalidated */

/* ---- shared state ---------------------------------------------------- */
int  word = 0;                  /* lock->refs */
byte sleepers = 0;              /* futex queue of &lock->refs, 1 bit/pid */
bool loaded = 0;                /* the object's data is present and valid */

/* ---- ghost state ----------------------------------------------------- */
byte ilk_owner = NOBODY;        /* pid holding LOCKED (property 1) */
byte hold[NPROC];               /* per pid: H_NONE / H_FRESH / H_STALE */
byte nfresh = 0;                /* how many hold[] entries are H_FRESH */
byte finished = 0;              /* workers that have terminated */
bool inval_busy = 0;            /* an invalidation is in progress: set when
                                   the invalidator discards the data,
                                   cleared by the CAS that publishes it */
#if WITNESS
bool reached = 0;               /* the selected probe has fired */
#endif

/* ---- ghost helpers (only used inside atomic steps) ------------------- */
inline become_fresh()
{
	if
	:: hold[_pid] != H_FRESH -> hold[_pid] = H_FRESH; nfresh++
	:: else -> skip
	fi
}

inline drop_hold()
{
	if
	:: hold[_pid] == H_FRESH -> nfresh--
	:: else -> skip
	fi;
	hold[_pid] = H_NONE
}

/*
 * ref_interlock has decided to return FALSE: the caller will use the data
 * right away.  It must be loaded (property 2), except while an invalidation
 * is in progress: a reference obtained before the invalidation is
 * published is simply one more stale reference.
 */
inline returned_false()
{
	if
	:: inval_busy ->
		if
		:: hold[_pid] == H_FRESH -> nfresh--
		:: else -> skip
		fi;
		hold[_pid] = H_STALE
	:: else ->
		assert(loaded);				/* property 2 */
		become_fresh()
	fi
}

/*
 * Reachability probe n (only with -DWITNESS=n): fails the run, with the
 * message "assertion violated !(reached)", when condition c holds.  Used
 * inside atomic steps.  PROBE(n, c) supplies its own ';' and expands to
 * nothing without -DWITNESS, so the other runs are not changed at all.
 */
#if WITNESS
inline probe(n, c)
{
	if
	:: WITNESS == n && (c) -> reached = 1
	:: else -> skip
	fi;
	assert(!reached)
}
#define PROBE(n, c) probe(n, c);
#else
#define PROBE(n, c)
#endif

inline ghost_acquire()
{
	assert(ilk_owner == NOBODY);			/* property 1 */
	ilk_owner = _pid
}

inline ghost_release()
{
	assert(ilk_owner == _pid);
	ilk_owner = NOBODY;
	inval_busy = 0	/* only the invalidator can release while it is set */
}

/* After a successful CAS that released the interlock: wake or not. */
inline note_wake()
{
#ifdef BUG_D
	if
	:: (lv & WANTED) == 0 -> ph = P_WAKE
	:: else -> ph = P_NONE
	fi
#else
	if
	:: (lv & WANTED) != 0 -> ph = P_WAKE
	:: else -> ph = P_NONE
	fi
#endif
}

/* futex_wake(&word, all), issued after the CAS if note_wake asked for it */
inline wake_step()
{
	atomic {
		if
		:: ph == P_WAKE -> sleepers = 0
		:: else -> skip
		fi;
		ph = P_NONE
	}
}

/*
 * Second half of a sleep: if the CAS just made set WANTED (ph == P_WAIT),
 * futex_wait(&word, nlv).  Otherwise nothing happens.
 */
inline futex_step()
{
	atomic {
#ifdef BUG_B
		if
		:: ph == P_WAIT -> sleepers = sleepers | (1 << _pid)
		:: else -> skip
		fi;
#else
		if
		:: ph == P_WAIT && word == nlv ->
			sleepers = sleepers | (1 << _pid)
		:: else -> skip		/* word moved on: EAGAIN, no sleep */
		fi;
#endif
		nlv = 0; ph = P_NONE
	};
#ifdef SPURIOUS
	if
	:: (sleepers & (1 << _pid)) == 0
	:: (sleepers & (1 << _pid)) != 0 ->
		sleepers = sleepers & ~(1 << _pid)	/* spurious wakeup */
	fi
#else
	(sleepers & (1 << _pid)) == 0			/* blocked until woken */
#endif
}

/* ---- the refs-word operations ----------------------------------------
 * Locals of every proctype:  int lv, nlv;  byte ph;  bool r;
 * On return of an operation lv, nlv and ph are 0 again; r is the result.
 */

/*
 * hl_ref_interlock: count+1.
 *   0 -> 1                    : take LOCKED, set CHECK, r = TRUE
 *   N -> N+1, CHECK clear     : r = FALSE
 *   CHECK set, LOCKED free    : take LOCKED, r = TRUE
 *   CHECK set, LOCKED held    : add the ref, then loop: CHECK clear ->
 *                               r = FALSE; LOCKED free -> take it, r = TRUE;
 *                               else set WANTED and sleep.
 */
inline ref_interlock()
{
	do
	:: atomic {
		lv = word;
		/* hl_rel's transient state (count 0, CHECK set, LOCKED clear,
		   before the fixup) is seen by a new reference */
		PROBE(1, CNT(lv) == 0 && (lv & CHECK) != 0 && (lv & LOCKED) == 0)
		if
		:: lv == 0 ->
			nlv = 1 | LOCKED | CHECK; ph = P_ACQ
		:: else ->
			nlv = lv + 1;
			if
			:: CNT(lv) == 0 -> nlv = nlv | CHECK
			:: else -> skip
			fi;
#ifdef BUG_C
			if
			:: CNT(lv) != 0 -> ph = P_FALSE	/* CHECK not looked at */
#else
			if
			:: (nlv & CHECK) == 0 -> ph = P_FALSE
#endif
			:: else ->
				if
				:: (lv & LOCKED) != 0 -> ph = P_ADD
				:: else -> nlv = nlv | LOCKED; ph = P_ACQ
				fi
			fi
		fi
	   };
	   atomic {				/* the CAS */
		if
		:: word == lv ->
			word = nlv;
			if
			:: ph == P_ACQ -> ghost_acquire(); r = true; ph = P_NONE
			:: ph == P_FALSE -> returned_false(); r = false; ph = P_NONE
			:: ph == P_ADD -> skip
			fi;
			lv = 0; nlv = 0;
			break
		:: else -> lv = 0; nlv = 0; ph = P_NONE
		fi
	   }
	od;
	if
	:: ph == P_ADD ->
		/* Our ref is counted; CHECK is set and the interlock is held. */
		ph = P_NONE;
		do
		:: atomic {
			lv = word;
			if
			:: (lv & CHECK) == 0 ->
				/* someone else loaded it */
				returned_false(); r = false; lv = 0;
				break
			:: (lv & CHECK) != 0 && (lv & LOCKED) != 0 ->
				nlv = lv | WANTED; ph = P_WAIT
			:: (lv & CHECK) != 0 && (lv & LOCKED) == 0 ->
				nlv = lv | LOCKED; ph = P_ACQ
			fi
		   };
		   atomic {			/* the CAS */
			if
			:: word == lv ->
				word = nlv;
				if
				:: ph == P_ACQ ->
					ghost_acquire(); r = true;
					lv = 0; nlv = 0; ph = P_NONE;
					break
				:: else -> lv = 0	/* P_WAIT: keep nlv */
				fi
			:: else -> lv = 0; nlv = 0; ph = P_NONE
			fi
		   };
		   futex_step()
		od
	:: else -> skip
	fi
}

/* hl_ref_interlock_done: keep the count, clear every flag, wake if WANTED. */
inline ref_interlock_done()
{
	do
	:: atomic {
		lv = word;
		assert((lv & LOCKED) != 0);
		nlv = CNT(lv)
	   };
	   atomic {				/* the CAS */
		if
		:: word == lv ->
			word = nlv; ghost_release(); note_wake();
			lv = 0; nlv = 0;
			break
		:: else -> lv = 0; nlv = 0
		fi
	   }
	od;
	wake_step()
}

/*
 * hl__rel_slow (the count-1 of hl_rel_interlock(l, 1)): a CAS loop,
 * count-1, CHECK cleared on 1->0 in the same CAS.  Never sleeps or wakes.
 */
inline rel_slow()
{
	do
	:: atomic {
		lv = word;
		assert(CNT(lv) > 0);			/* no underflow */
		if
		:: CNT(lv) == 1 -> nlv = (lv - 1) & ~CHECK
		:: else -> nlv = lv - 1
		fi
	   };
	   atomic {				/* the CAS */
		if
		:: word == lv -> word = nlv; lv = 0; nlv = 0; break
		:: else -> lv = 0; nlv = 0
		fi
	   }
	od
}

/*
 * hl_ref (plain): count+1.  The caller already holds a reference, or
 * holds the interlock.
 *   load; LOCKED clear and 1 <= count <= COUNT_MASK/2 -> fetch_add(1)
 *   (one unconditional step, any number of steps after the load);
 *   otherwise hl__ref_slow: CAS loop count+1, setting CHECK on 0->1.
 * The fast path is exact only because, with LOCKED clear, the caller is
 * not the interlock holder, so it holds a reference and the count cannot
 * reach 0 before the fetch_add.  The asserts check exactly that.
 */
inline hl_ref()
{
	atomic {
		lv = word;
		if
		:: (lv & LOCKED) == 0 && CNT(lv) >= 1 &&
		   CNT(lv) - 1 < COUNT_MASK / 2 -> ph = P_FAST
		:: else -> ph = P_NONE
		fi;
		PROBE(3, ph != P_FAST)	/* the slow path is taken */
		lv = 0
	};
	if
	:: ph == P_FAST ->
		atomic {			/* fetch_add(1) */
			assert(CNT(word) >= 1);	/* never 0->1 without CHECK */
			word = word + 1;
			ph = P_NONE
		}
	:: else ->
		do
		:: atomic {
			lv = word;
			/* 0->1 is legal only for the interlock holder */
			assert(CNT(lv) >= 1 || ilk_owner == _pid);
			nlv = lv + 1;
			if
			:: CNT(lv) == 0 -> nlv = nlv | CHECK
			:: else -> skip
			fi
		   };
		   atomic {			/* the CAS */
			if
			:: word == lv -> word = nlv; lv = 0; nlv = 0; break
			:: else -> lv = 0; nlv = 0
			fi
		   }
		od
	fi
}

/*
 * hl_rel (plain): old = fetch_sub(1), one unconditional step.  If the old
 * count was 1 and CHECK was set, the word is left at count 0 with CHECK
 * set, and every other process can see that until the fixup
 * (hl__rel_fixup) clears CHECK: loop { load; stop if the count is not 0
 * or CHECK is clear; CAS lv -> lv & ~CHECK }.  A new 0->1 sets CHECK
 * itself and owns it.  LOCKED is usually clear then, but need not be: a
 * failed loader that has already dropped its own reference (rel_slow)
 * still holds the interlock when the last other holder calls hl_rel, and
 * the fixup then clears CHECK under that interlock.  Never sleeps, never
 * wakes.
 * `last`: the caller's use of the data ends with this release (ghost).
 */
inline hl_rel(last)
{
	atomic {				/* fetch_sub(1) */
		lv = word;
		assert(CNT(lv) > 0);			/* no underflow */
		word = lv - 1;
		if
		:: last -> drop_hold()
		:: else -> skip
		fi;
		if
#ifdef BUG_I
		:: true -> ph = P_NONE		/* fixup left out */
#else
		:: CNT(lv) == 1 && (lv & CHECK) != 0 -> ph = P_FIX
		:: else -> ph = P_NONE
#endif
		fi;
		lv = 0
	};
	if
	:: ph == P_FIX ->
		do
		:: atomic {
			lv = word;
			if
			:: CNT(lv) != 0 || (lv & CHECK) == 0 ->
				/* someone re-referenced it meanwhile */
				PROBE(2, CNT(lv) != 0)
				lv = 0; ph = P_NONE;
				break
			:: else -> nlv = lv & ~CHECK
			fi
		   };
		   atomic {			/* the CAS */
			if
			:: word == lv ->
				/* clears CHECK under someone's interlock */
				PROBE(4, (lv & LOCKED) != 0)
				word = nlv; lv = 0; nlv = 0; ph = P_NONE;
				break
			:: else -> lv = 0; nlv = 0
			fi
		   }
		od
	:: else -> skip
	fi
}

/*
 * hl_rel_interlock(lock, 0):
 *   count 1, LOCKED free : 1->0 and take LOCKED in the same CAS, r = TRUE
 *   count 1, LOCKED held : set WANTED, sleep, retry
 *   count N > 1          : N->N-1, r = FALSE
 */
inline rel_interlock0()
{
	do
	:: atomic {
		lv = word;
		assert(CNT(lv) > 0);			/* no underflow */
		if
#ifdef BUG_G
		:: CNT(lv) == 1 && (lv & LOCKED) == 0 ->
			nlv = (lv - 1) & ~CHECK; ph = P_SPLIT
#else
		:: CNT(lv) == 1 && (lv & LOCKED) == 0 ->
			nlv = (lv - 1) | LOCKED; ph = P_ACQ
#endif
		:: CNT(lv) == 1 && (lv & LOCKED) != 0 ->
			nlv = lv | WANTED; ph = P_WAIT
		:: CNT(lv) > 1 ->
			nlv = lv - 1; ph = P_DEC
		fi
	   };
	   atomic {				/* the CAS */
		if
		:: word == lv ->
			word = nlv;
			if
			:: ph == P_ACQ ->
				ghost_acquire(); r = true;
				lv = 0; nlv = 0; ph = P_NONE;
				break
			:: ph == P_DEC ->
				r = false;
				lv = 0; nlv = 0; ph = P_NONE;
				break
			:: ph == P_WAIT -> lv = 0	/* keep nlv */
#ifdef BUG_G
			:: ph == P_SPLIT -> lv = 0; nlv = 0; break
#endif
			fi
		:: else -> lv = 0; nlv = 0; ph = P_NONE
		fi
	   };
	   futex_step()
	od;
#ifdef BUG_G
	if
	:: ph == P_SPLIT ->
		/* dropped the last ref, now take the interlock separately */
		ph = P_NONE;
		get_interlock();
		r = true
	:: else -> skip
	fi
#else
	skip
#endif
}

/*
 * hl_rel_interlock_done: clear LOCKED and WANTED; clear CHECK only if the
 * count is 0, so that anyone who referenced the object in the meantime
 * gets TRUE from ref_interlock and validates it again.  Wake if WANTED.
 */
inline rel_interlock_done()
{
	do
	:: atomic {
		lv = word;
		assert((lv & LOCKED) != 0);
		nlv = lv & ~(LOCKED | WANTED);
#ifdef BUG_A
		nlv = nlv & ~CHECK
#else
		if
		:: CNT(lv) == 0 -> nlv = nlv & ~CHECK
		:: else -> skip
		fi
#endif
	   };
	   atomic {				/* the CAS */
		if
		:: word == lv ->
			word = nlv; ghost_release(); note_wake();
			lv = 0; nlv = 0;
			break
		:: else -> lv = 0; nlv = 0
		fi
	   }
	od;
	wake_step()
}

/* hl_get_interlock: take LOCKED whatever the count; r = CHECK was set. */
inline get_interlock()
{
	do
	:: atomic {
		lv = word;
		if
#ifdef BUG_H
		:: true -> nlv = lv | LOCKED; ph = P_ACQ	/* never waits */
#else
		:: (lv & LOCKED) != 0 -> nlv = lv | WANTED; ph = P_WAIT
		:: else -> nlv = lv | LOCKED; ph = P_ACQ
#endif
		fi
	   };
	   atomic {				/* the CAS */
		if
		:: word == lv ->
			word = nlv;
			if
			:: ph == P_ACQ ->
				ghost_acquire(); r = ((lv & CHECK) != 0);
				lv = 0; nlv = 0; ph = P_NONE;
				break
			:: else -> lv = 0	/* P_WAIT: keep nlv */
			fi
		:: else -> lv = 0; nlv = 0; ph = P_NONE
		fi
	   };
	   futex_step()
	od
}

/*
 * hl_try_interlock_norefs: never sleeps; succeeds only if the word is 0.
 * Like the C code it makes one attempt: a lost CAS is a failure too.
 */
inline try_interlock_norefs()
{
	atomic {
		lv = word;
		if
		:: lv == 0 -> ph = P_ACQ
		:: else -> ph = P_FAIL
		fi
	};
	if
	:: ph == P_FAIL -> atomic { r = false; lv = 0; ph = P_NONE }
	:: ph == P_ACQ ->
		atomic {			/* the CAS */
			if
			:: word == 0 -> word = LOCKED; ghost_acquire(); r = true
			:: else -> r = false
			fi;
			lv = 0; ph = P_NONE
		}
	fi
}

/*
 * hl_put_interlock(lock, err): clear LOCKED and WANTED; CHECK ends up set
 * if err != 0 and the count is not 0, clear otherwise.  Wake if WANTED.
 */
inline put_interlock(err)
{
	do
	:: atomic {
		lv = word;
		assert((lv & LOCKED) != 0);
		nlv = lv & ~(LOCKED | WANTED);
#ifdef BUG_E
		nlv = nlv & ~CHECK
#else
		if
		:: CNT(nlv) == 0 || !(err) -> nlv = nlv & ~CHECK
		:: else -> nlv = nlv | CHECK
		fi
#endif
	   };
	   atomic {				/* the CAS */
		if
		:: word == lv ->
			word = nlv; ghost_release(); note_wake();
			lv = 0; nlv = 0;
			break
		:: else -> lv = 0; nlv = 0
		fi
	   }
	od;
	wake_step()
}

/* ---- client protocol ------------------------------------------------- */

/*
 * get: reference the object and make sure it is loaded.  Afterwards
 * got = TRUE if the caller holds a usable reference, FALSE if the load
 * failed (its reference has been dropped again).
 */
inline get(got)
{
	ref_interlock();
	if
	:: r ->
		/* Loader: LOCKED held, CHECK set, our ref counted. */
		if
		:: atomic {
			r = false;
			loaded = 1;		/* idempotent: may be loaded */
			become_fresh()
		   };
		   ref_interlock_done();
		   got = true
		:: r = false;
		   /* load failed: hl_rel_interlock(lock, 1) is
		      hl__rel_slow + TRUE */
		   rel_slow();
		   atomic {
			assert(nfresh == 0);		/* property 3 */
			loaded = 0			/* tear down the partial load */
		   };
		   rel_interlock_done();
		   got = false
		fi
	:: else ->
		got = true	/* returned_false() already checked the data */
	fi
}

/* use: the data is there, unless an invalidation revoked this reference. */
inline use()
{
	assert(loaded || hold[_pid] == H_STALE)		/* property 2 */
}

/* release: drop a reference; whoever drops the last one may unload. */
inline release(last)
{
	if
	:: last -> atomic { drop_hold() }
	:: else -> skip
	fi;
	rel_interlock0();
	if
	:: r ->
		/* Unloader: the count went 1->0 and we hold LOCKED. */
		if
		:: atomic {
			r = false;
			assert(nfresh == 0);		/* property 3 */
			loaded = 0
		   }
		:: r = false			/* keep it cached */
		fi;
		rel_interlock_done()
	:: else -> skip
	fi
}

/* ---- processes ------------------------------------------------------- */

/*
 * With -DPLAIN a client takes a nested extra reference with hl_ref and
 * drops it with hl_rel while it holds its base reference, and then ends
 * the base reference either with hl_rel_interlock(l, 0) or with a plain
 * hl_rel, which leaves the object loaded (cached) at count 0; the next
 * 0->1 reference gets TRUE and the idempotent load finds it loaded.
 */
proctype client(byte n)
{
	int lv, nlv;
	byte ph;
	bool r, got;

	do
	:: n > 0 ->
		get(got);
		if
		:: got ->
#if PLAIN
			hl_ref();		/* nested extra reference */
			use();
			hl_rel(false);		/* never the last: base ref held */
			got = false;
			if
			:: true -> release(true)
			:: true -> hl_rel(true)	/* may leave it cached at 0 */
			fi
#else
			use(); got = false; release(true)
#endif
		:: else -> skip
		fi;
		n--
	:: else -> break
	od;
	finished++
}

/*
 * A holder that invalidates the object (the scenario of the seed's
 * deadlock): holding its reference it takes the interlock, discards the
 * data, and puts the interlock back with error=1, which leaves CHECK set
 * because references remain.  Every current user becomes stale.  Then it
 * references the object again: ref_interlock must give TRUE (reload)
 * unless someone else has reloaded it already, and must not deadlock.
 */
proctype invalidator(byte n)
{
	int lv, nlv;
	byte ph, i;
	bool r, got, got2;

	get(got);
	if
	:: got ->
		use();
		do
		:: n > 0 ->
			get_interlock();
			atomic {
				r = false;
				loaded = 0;
				inval_busy = 1;
				i = 0;
				do
				:: i < NPROC ->
					if
					:: hold[i] == H_FRESH -> hold[i] = H_STALE
					:: else -> skip
					fi;
					i++
				:: else -> break
				od;
				nfresh = 0;
				i = 0
			};
			put_interlock(1);
			get(got2);		/* nested reference */
			use();
			if
			:: got2 -> got2 = false; release(false)
			:: else -> skip
			fi;
			n--
		:: else -> break
		od;
		got = false;
#if PLAIN
		if
		:: true -> release(true)
		:: true -> hl_rel(true)		/* may leave it cached at 0 */
		fi
#else
		release(true)
#endif
	:: else -> skip
	fi;
	finished++
}

/*
 * Reclaim side (e.g. a cache-eviction callback): only the non-blocking
 * try_interlock_norefs + put_interlock.  It either unloads the object and
 * reports it invalid (error=1), or, if it is loaded, leaves it and reports
 * it valid (error=0).
 */
proctype reclaimer(byte n)
{
	int lv, nlv;
	byte ph;
	bool r;

	do
	:: n > 0 ->
		try_interlock_norefs();
		if
		:: r ->
			if
			:: atomic {
				r = false;
				assert(nfresh == 0);	/* property 3 */
				loaded = 0
			   };
#ifdef BUG_F
			   put_interlock(0)		/* misuse: claims valid */
#else
			   put_interlock(1)
#endif
			:: atomic { loaded -> r = false };
			   put_interlock(0)
			fi
		:: else -> skip
		fi;
		n--
	:: else -> break
	od;
	finished++
}

/* Property 5: when every worker is done the word is back to 0. */
proctype final()
{
	finished == NWORKERS;
	assert(word == 0);
	assert(sleepers == 0);
	assert(ilk_owner == NOBODY);
	assert(nfresh == 0)
}

init
{
	byte k = 0;

	atomic {
		do
		:: k < NCLIENTS -> run client(CYCLES); k++
		:: else -> break
		od;
#if INVAL
		run invalidator(INVALS);
#endif
#if RECLAIMS > 0
		run reclaimer(RECLAIMS);
#endif
		run final();
		k = 0
	}
}
