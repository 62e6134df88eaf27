/*
 * refs.pml -- Promela model of hammerlock's integrated reference count and
 * interlock word (the `refs` word of struct hl_lock), checked with spin.
 *
 * The model follows the C functions one to one:
 *
 *   hl_ref_interlock()          -> inline ref_interlock(r)
 *   hl_ref_interlock_done()     -> inline ref_interlock_done()
 *   hl_rel()                    -> inline hl_rel()
 *   hl_rel_interlock(l, 1)      -> hl_rel(), then "returns TRUE"
 *   hl_rel_interlock(l, 0)      -> inline rel_interlock0(r)
 *   hl_rel_interlock_done()     -> inline rel_interlock_done()
 *   hl_get_interlock()          -> inline get_interlock(r)
 *   hl_try_interlock_norefs()   -> inline try_interlock_norefs(r)
 *   hl_put_interlock(l, err)    -> inline put_interlock(err)
 *
 * Atomicity rules used throughout:
 *   - Every compare-and-swap of the C code is exactly one atomic step
 *     (inlines cas / cas_acquire / cas_release / cas_false).
 *   - The plain load of the word that precedes a CAS is a separate step.
 *     The purely local computation of the new value is folded into the
 *     load step (it touches only locals, so no interleaving is lost).
 *   - The futex wake after a successful CAS is its own step, as in C
 *     where the syscall follows the CAS.
 *
 * Sleeping is modelled on a Linux futex:
 *   futex_wait(word, val): one atomic step that compares the word with val
 *   and, only if equal, puts the caller on the wait queue (sets its bit in
 *   `sleepers`); then the caller blocks until its bit is cleared.
 *   futex_wake(word, all): clears every bit of `sleepers`.
 * A process that stays blocked forever shows up as an invalid end state.
 *
 * Ghost state (not part of the C data, only there to state properties) is
 * updated inside the same atomic step as the real operation it describes.
 *
 * Injected bugs, selected with the C preprocessor (spin -DBUG_X -a refs.pml):
 *   BUG_A  rel_interlock_done clears CHECK even while references remain.
 *   BUG_B  the sleep does not compare the word (plain "block until woken").
 *   BUG_C  ref_interlock's N->N+1 fast path ignores CHECK.
 *   BUG_D  wakers wake the queue only when WANTED was clear (inverted test).
 *   BUG_E  put_interlock ignores `error` and always clears CHECK.
 *   BUG_F  client misuse: the reclaimer unloads and then calls
 *          put_interlock(0) (claims the object valid).
 * Optional: -DSPURIOUS lets any sleeper wake up spuriously at any time.
 */

/* ---- layout of the word (decimal: spin has no hex literals) ---------- */
#define COUNT_MASK 268435455    /* 0x0fffffff: reference count, bits 0-27 */
#define CHECK      268435456    /* 0x10000000 */
#define WANTED     536870912    /* 0x20000000 */
#define LOCKED     1073741824   /* 0x40000000 */
#define CNT(v)     ((v) & COUNT_MASK)

/* ---- configuration -------------------------------------------------- */
#ifndef CYCLES
#define CYCLES 2                /* get/use/release rounds per plain client */
#endif
#ifndef RECLAIMS
#define RECLAIMS 1              /* try_interlock_norefs attempts by reclaimer */
#endif
#define NWORKERS 4              /* 2 clients + invalidator + reclaimer */
#define NPROC    6              /* init + NWORKERS + final checker */

#define NOBODY   255            /* ilk_owner value: interlock free */
#define H_NONE   0              /* hold[]: no reference in use */
#define H_FRESH  1              /* holds a reference to a loaded object */
#define H_STALE  2              /* holds a reference that was invalidated */

/* ---- shared state ---------------------------------------------------- */
int  word = 0;                  /* lock->refs */
byte sleepers = 0;              /* futex wait queue on &lock->refs, 1 bit/pid */
bool loaded = 0;                /* the object's data is present and valid */

/* ---- ghost state ----------------------------------------------------- */
byte ilk_owner = NOBODY;        /* who holds LOCKED (property 1) */
byte hold[NPROC];               /* per process: H_NONE / H_FRESH / H_STALE */
byte nfresh = 0;                /* number of H_FRESH entries in hold[] */
byte finished = 0;              /* workers that have terminated */
bool inval_busy = 0;            /* invalidation in progress: from the step
                                   that discards the data until the
                                   put_interlock CAS that publishes it */

/* ---- ghost helpers (used only inside atomic steps) ------------------- */
inline become_fresh()
{
	if
	:: hold[_pid] != H_FRESH -> hold[_pid] = H_FRESH; nfresh++
	:: else -> skip
	fi
}

/*
 * ref_interlock decided to return FALSE: the caller may use the data now.
 * It must be loaded (property 2), unless an invalidation is in progress:
 * a reference taken before the invalidation is published is stale.
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

inline drop_hold()
{
	if
	:: hold[_pid] == H_FRESH -> nfresh--
	:: else -> skip
	fi;
	hold[_pid] = H_NONE
}

/* ---- compare-and-swap: each one is a single indivisible step ---------- */

/* Plain CAS. */
inline cas(o, n)
{
	atomic {
		if
		:: word == o -> word = n; ok = true
		:: else -> ok = false
		fi
	}
}

/* CAS that sets LOCKED: the caller now owns the interlock. */
inline cas_acquire(o, n)
{
	atomic {
		if
		:: word == o ->
			word = n; ok = true;
			assert(ilk_owner == NOBODY);	/* property 1 */
			ilk_owner = _pid
		:: else -> ok = false
		fi
	}
}

/* CAS that clears LOCKED: the caller gives the interlock up. */
inline cas_release(o, n)
{
	atomic {
		if
		:: word == o ->
			assert(ilk_owner == _pid);
			ilk_owner = NOBODY;
			inval_busy = 0;	/* only the invalidator can
					   release while it is set */
			word = n; ok = true
		:: else -> ok = false
		fi
	}
}

/*
 * CAS by which ref_interlock returns FALSE on its fast path.  This is the
 * point at which the caller learns "the object is loaded, use it": check
 * that it really is (property 2) and count the caller as a user.
 */
inline cas_false(o, n)
{
	atomic {
		if
		:: word == o ->
			word = n; ok = true;
			returned_false()
		:: else -> ok = false
		fi
	}
}

/* ---- futex ----------------------------------------------------------- */
inline futex_wait(val)
{
#ifdef BUG_B
	/* No value compare: a wake between our CAS and here is lost. */
	sleepers = sleepers | (1 << _pid);
#else
	atomic {
		if
		:: word == val -> sleepers = sleepers | (1 << _pid)
		:: else -> skip		/* word moved on: EAGAIN, no sleep */
		fi
	}
#endif
#ifdef SPURIOUS
	if
	:: (sleepers & (1 << _pid)) == 0
	:: sleepers = sleepers & ~(1 << _pid)	/* spurious wakeup */
	fi
#else
	(sleepers & (1 << _pid)) == 0		/* blocked until woken */
#endif
}

/* Wake everyone if the word we replaced (lv) had WANTED set. */
inline wake_if_wanted()
{
#ifdef BUG_D
	if
	:: (lv & WANTED) == 0 -> sleepers = 0
	:: else -> skip
	fi
#else
	if
	:: (lv & WANTED) != 0 -> sleepers = 0
	:: else -> skip
	fi
#endif
}

/* ---- the refs-word operations ----------------------------------------
 * Locals used by all of them (declared in each proctype):
 *   int lv, nlv;  bool ok;  byte ph;
 */

/*
 * hl_ref_interlock: count+1.  r = TRUE with LOCKED held and CHECK set on
 * 0->1 or when CHECK is set and LOCKED is free; r = FALSE on N->N+1 with
 * CHECK clear.  With CHECK set and LOCKED held elsewhere the ref is added
 * and the caller sleeps until CHECK clears (FALSE) or it can take LOCKED
 * (TRUE).
 * ph: 1 = try to take LOCKED, 2 = plain increment / return FALSE,
 *     3 = add the ref and go to the wait loop.
 */
inline ref_interlock(r)
{
	do
	:: atomic {
		lv = word;
		if
		:: lv == 0 ->
			nlv = 1 | LOCKED | CHECK; ph = 1
		:: else ->
			nlv = lv + 1;
			if
			:: CNT(lv) == 0 -> nlv = nlv | CHECK
			:: else -> skip
			fi;
#ifdef BUG_C
			if
			:: CNT(lv) != 0 -> ph = 2	/* CHECK not looked at */
#else
			if
			:: (nlv & CHECK) == 0 -> ph = 2
#endif
			:: else ->
				if
				:: (lv & LOCKED) != 0 -> ph = 3
				:: else -> nlv = nlv | LOCKED; ph = 1
				fi
			fi
		fi
	   };
	   if
	   :: ph == 1 ->
		cas_acquire(lv, nlv);
		if
		:: ok -> r = true; break
		:: else -> skip
		fi
	   :: ph == 2 ->
		cas_false(lv, nlv);
		if
		:: ok -> r = false; break
		:: else -> skip
		fi
	   :: ph == 3 ->
		cas(lv, nlv);
		if
		:: ok -> break
		:: else -> skip
		fi
	   fi
	od;
	if
	:: ph == 3 ->
		/* Our ref is counted; CHECK is set and someone holds LOCKED. */
		do
		:: atomic {
			lv = word;
			if
			:: (lv & CHECK) == 0 ->
				/* Someone else loaded it: return FALSE. */
				ph = 2;
				returned_false()
			:: else ->
				if
				:: (lv & LOCKED) != 0 -> nlv = lv | WANTED; ph = 3
				:: else -> nlv = lv | LOCKED; ph = 1
				fi
			fi
		   };
		   if
		   :: ph == 2 -> r = false; break
		   :: ph == 3 ->
			cas(lv, nlv);
			if
			:: ok -> futex_wait(nlv)
			:: else -> skip
			fi
		   :: ph == 1 ->
			cas_acquire(lv, nlv);
			if
			:: ok -> r = true; break
			:: else -> skip
			fi
		   fi
		od
	:: else -> skip
	fi
}

/* hl_ref_interlock_done: keep the count, clear all flags, wake if WANTED. */
inline ref_interlock_done()
{
	do
	:: atomic {
		lv = word;
		assert((lv & LOCKED) != 0);
		nlv = CNT(lv)
	   };
	   cas_release(lv, nlv);
	   if
	   :: ok -> wake_if_wanted(); break
	   :: else -> skip
	   fi
	od
}

/* hl_rel: count-1, CHECK cleared on 1->0.  Never sleeps or wakes. */
inline hl_rel()
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
	   cas(lv, nlv);
	   if
	   :: ok -> break
	   :: else -> skip
	   fi
	od
}

/*
 * hl_rel_interlock(lock, 0): on 1->0 take LOCKED in the same CAS and
 * return TRUE; count 1 with LOCKED held elsewhere: sleep and retry;
 * N>1: count-1 and return FALSE.
 */
inline rel_interlock0(r)
{
	do
	:: atomic {
		lv = word;
		assert(CNT(lv) > 0);			/* no underflow */
		if
		:: CNT(lv) == 1 && (lv & LOCKED) == 0 ->
			nlv = (lv - 1) | LOCKED; ph = 1
		:: CNT(lv) == 1 && (lv & LOCKED) != 0 ->
			nlv = lv | WANTED; ph = 3
		:: CNT(lv) > 1 ->
			nlv = lv - 1; ph = 2
		fi
	   };
	   if
	   :: ph == 1 ->
		cas_acquire(lv, nlv);
		if
		:: ok -> r = true; break
		:: else -> skip
		fi
	   :: ph == 2 ->
		cas(lv, nlv);
		if
		:: ok -> r = false; break
		:: else -> skip
		fi
	   :: ph == 3 ->
		cas(lv, nlv);
		if
		:: ok -> futex_wait(nlv)
		:: else -> skip
		fi
	   fi
	od
}

/*
 * hl_rel_interlock_done: clear LOCKED and WANTED; clear CHECK only when
 * the count is 0, so that a thread that referenced the object meanwhile
 * gets TRUE from ref_interlock and re-validates.  Wake if WANTED.
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
	   cas_release(lv, nlv);
	   if
	   :: ok -> wake_if_wanted(); break
	   :: else -> skip
	   fi
	od
}

/* hl_get_interlock: take LOCKED whatever the count; r = CHECK seen. */
inline get_interlock(r)
{
	do
	:: atomic {
		lv = word;
		if
		:: (lv & LOCKED) != 0 -> nlv = lv | WANTED; ph = 3
		:: else -> nlv = lv | LOCKED; ph = 1
		fi
	   };
	   if
	   :: ph == 3 ->
		cas(lv, nlv);
		if
		:: ok -> futex_wait(nlv)
		:: else -> skip
		fi
	   :: ph == 1 ->
		cas_acquire(lv, nlv);
		if
		:: ok -> r = ((lv & CHECK) != 0); break
		:: else -> skip
		fi
	   fi
	od
}

/* hl_try_interlock_norefs: never sleeps; succeeds only on word == 0. */
inline try_interlock_norefs(r)
{
	do
	:: lv = word;
	   if
	   :: lv == 0 ->
		cas_acquire(0, LOCKED);
		if
		:: ok -> r = true; break
		:: else -> skip
		fi
	   :: else -> r = false; break
	   fi
	od
}

/*
 * hl_put_interlock(lock, err): clear LOCKED and WANTED; set CHECK if err
 * and the count is not 0, else clear it.  Wake if WANTED.
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
	   cas_release(lv, nlv);
	   if
	   :: ok -> wake_if_wanted(); break
	   :: else -> skip
	   fi
	od
}

/* ---- client protocol ------------------------------------------------- */

/*
 * get: reference the object and make sure it is loaded.  got = TRUE if the
 * caller now holds a usable reference, FALSE if the load failed (the
 * reference has then been dropped again).
 */
inline get(got)
{
	ref_interlock(r);
	if
	:: r ->
		/* Loader: we hold LOCKED, CHECK is set, our ref is counted. */
		if
		:: atomic { loaded = 1; become_fresh() };	/* idempotent load */
		   ref_interlock_done();
		   got = true
		:: /* load failed: hl_rel_interlock(lock, 1) == hl_rel, TRUE */
		   hl_rel();
		   atomic {
			assert(nfresh == 0);		/* property 3 */
			loaded = 0			/* undo the partial load */
		   };
		   rel_interlock_done();
		   got = false
		fi
	:: else ->
		got = true	/* loaded was asserted when FALSE was decided */
	fi
}

/* use: the data must be there, unless an invalidator revoked it. */
inline use()
{
	assert(loaded || hold[_pid] == H_STALE)		/* property 2 */
}

/* release: drop a reference; the last one may unload the object. */
inline release(last)
{
	if
	:: last -> atomic { drop_hold() }
	:: else -> skip
	fi;
	rel_interlock0(r);
	if
	:: r ->
		/* Unloader: count went 1->0 and we hold LOCKED. */
		if
		:: atomic {
			assert(nfresh == 0);		/* property 3 */
			loaded = 0
		   }
		:: skip				/* keep it cached */
		fi;
		rel_interlock_done()
	:: else -> skip
	fi
}

/* ---- processes ------------------------------------------------------- */

proctype client(byte n)
{
	int lv, nlv;
	bool ok, r, got;
	byte ph;

	do
	:: n > 0 ->
		get(got);
		if
		:: got -> use(); release(true)
		:: else -> skip
		fi;
		n--
	:: else -> break
	od;
	finished++
}

/*
 * A holder that invalidates the object (the seed's deadlock scenario):
 * with its reference held it takes the interlock, throws the data away,
 * and puts the interlock back with error=1, which leaves CHECK set since
 * refs remain.  Every current holder becomes stale.  It then references
 * the object again: ref_interlock must now give TRUE (reload) unless
 * someone else has already reloaded it, and it must not deadlock.
 */
proctype invalidator()
{
	int lv, nlv;
	bool ok, r, got, got2;
	byte ph, i;

	get(got);
	if
	:: got ->
		use();
		get_interlock(r);
		atomic {
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
		:: got2 -> release(false)
		:: else -> skip
		fi;
		release(true)
	:: else -> skip
	fi;
	finished++
}

/*
 * Reclaim side (buffer-cache callback): only the non-blocking
 * try_interlock_norefs + put_interlock.  It either unloads the object and
 * reports it invalid (error=1), or, if the object is loaded, leaves it
 * alone and reports it valid (error=0).
 */
proctype reclaimer(byte n)
{
	int lv, nlv;
	bool ok, r;

	do
	:: n > 0 ->
		try_interlock_norefs(r);
		if
		:: r ->
			if
			:: atomic {
				assert(nfresh == 0);	/* property 3 */
				loaded = 0
			   };
#ifdef BUG_F
			   put_interlock(0)		/* misuse: claims valid */
#else
			   put_interlock(1)
#endif
			:: loaded -> put_interlock(0)
			fi
		:: else -> skip
		fi;
		n--
	:: else -> break
	od;
	finished++
}

/* Property 5: once every worker is done the word is back to 0. */
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
	atomic {
		run client(CYCLES);
		run client(CYCLES);
		run invalidator();
		run reclaimer(RECLAIMS);
		run final()
	}
}
