/*
 * table.pml -- Promela model of the object table (src/cache/table.h):
 * lock-free lookup versus destruction versus recycling of type-stable
 * objects, built on the refs word.  Checked with spin; see README.md in
 * this directory ("table.pml: lookup versus destroy") and check_table.sh.
 *
 * What is modelled:
 *   - NOBJ type-stable objects.  Each has a refs word w[], a key, a
 *     `linked' flag (reachable from its chain), `data' (loaded or not)
 *     and a chain link hnext[].  Objects are never freed: a destroyed
 *     one has the word exactly DEAD and sits on the free list until it
 *     is popped, re-keyed and revived for another lookup.
 *   - NBUCKETS chains, singly linked through hnext[], each with a shard
 *     mutex taken to insert and to unlink.  Lookups walk them without it.
 *   - lookup processes: get(key), check the result, release it; ITERS
 *     times each, the key moving on by one every iteration.  With
 *     -DLOADFAIL=1 any load may fail: the loader drops its reference
 *     under the interlock and destroys the object if that was the last
 *     one (or puts the interlock back with an error), and get() fails.
 *   - a reclaimer (a pool that never blocks): try_interlock_norefs on any
 *     object, drop its data, kill it, unlink it, free it.
 *   - with -DHOME=1, the last object is the home slot of every key (one
 *     slot per bucket in C; one bucket here, so keys collide in it): it
 *     is never on the free list, a free slot has the key HOMEFREE, a new
 *     object claims it (one compare-and-swap on its key, from HOMEFREE)
 *     before trying the free list, its destroyer frees it by storing
 *     HOMEFREE after the word is DEAD and the object unlinked, and a
 *     lookup reads its key first and, if it matches, references and
 *     re-checks it as the walk does, before walking the chain.
 *
 * Atomic steps:
 *   - Every refs-word operation is one atomic step: its successful
 *     compare-and-swap.  A CAS loop whose failed attempts have no effect
 *     is equivalent to one read-modify-write at the winning CAS; the
 *     load/CAS split itself is covered by refs.pml.  An operation that
 *     sleeps is two steps: the CAS that publishes WANTED, then a blocking
 *     await until the word differs from the value published (this stands
 *     for the futex; refs.pml checks the wakeups).
 *   - Every load or store of key, linked, hnext and head by a thread that
 *     can race the others is a step of its own.  In particular the key
 *     test of the lock-free walk, the hl_ref_live that follows it, and the
 *     two loads of the identity re-check are four separate steps.
 *   - Work done under the shard mutex that lock-free readers cannot see
 *     (walking the chain, which only changes under the mutex) is folded
 *     into the step that takes the mutex or into the store that readers
 *     do see; an unlink (lock, one store, clear linked, unlock) is one
 *     step.  A loader's store to the object's data is folded into the
 *     refs operation that follows it (nobody else reads the data without
 *     the interlock or a validated reference); the reclaimer's drop is a
 *     step of its own, for its assertion.
 *   - Free-list push and pop (under the table's alloc mutex) are one step.
 *   - Memory is sequentially consistent.
 *
 * Ghost state, updated in the step of the operation it describes:
 *   owner[o]  pid holding o's interlock (NOBODY: none)
 *   nref[o]   references held on o, by the threads' own account
 *   valid[o]  threads that got o from get() and still use it
 *   onfree[o] o is on the free list
 *
 * Properties:
 *   1. get(key) returns an object with key == key, linked, data present,
 *      its word not DEAD and its count >= 1 (asserted at the return).
 *   2. never two live (not DEAD) linked objects with the same key
 *      (monitor, every state).
 *   3. no refs operation other than hl_ref_live's refusal (and
 *      hl_try_interlock_norefs' failure) ever sees a DEAD word (asserted
 *      in each operation); a DEAD object has no holder, no interlock
 *      owner and no user (monitor).
 *   4. an object is never recycled (popped and re-keyed, or revived)
 *      while anyone holds a reference to it (asserted at pop and revive).
 *   5. reclaim never drops data somebody uses: no validated user, and
 *      every reference that came in meanwhile has CHECK set, so it must
 *      revalidate (asserted at the drop).  While a user holds it, an
 *      object keeps its data and stays linked with CHECK clear (monitor).
 *   6. interlock mutual exclusion, and only the holder releases it.
 *   7. no deadlock (spin's invalid end states), and a clean end: no
 *      references, no interlock, no mutex; every object is either DEAD,
 *      unlinked and on the free list, or live, linked, loaded and at
 *      word 0; the free list holds each DEAD object once.
 *   8. nobody sleeps on a refs word while holding a shard mutex.
 *
 * Injected bugs (spin -DBUG_X -a table.pml), each must be rejected:
 *   BUG_NOLIVE         the lookups' reference ignores DEAD (increments a
 *                      DEAD word, as a plain hl_ref would).
 *   BUG_NORECHECK      the lock-free walk skips the key/linked re-check.
 *   BUG_KILLANY        kill makes the word DEAD whatever the count.
 *   BUG_REVIVE_SPLIT   the recycler stores 0 and then makes 0->1|L|K
 *                      (hl_ref_interlock_true) in a second step.
 *   BUG_PUBLISH_FIRST  the miss path links the fresh object with word 0
 *                      and only then references and interlocks it (the
 *                      seed's get_node).
 *   BUG_RECLAIM_PUT0   the reclaimer, whose kill failed, puts the
 *                      interlock back with error 0 after dropping data.
 *   BUG_NOSEARCH       the miss path trusts the lock-free miss and links
 *                      the fresh object without searching the chain
 *                      again under the shard mutex.
 *   BUG_KILLEXACT      kill succeeds only on a word of exactly LOCKED (the
 *                      first C version).  The 1->0 of hl_rel_interlock(l,
 *                      false) keeps CHECK ((lv - 1) | LOCKED, as the C
 *                      slow path does), so a stale lookup that drops the
 *                      last reference of a discarded fresh object (on
 *                      which the discarder left CHECK) gets CHECK|LOCKED,
 *                      its kill fails, and the object is left unlinked at
 *                      word 0, outside table and free list (property 7).
 *   BUG_HOMECLAIM_DEAD (with -DHOME=1) a miss takes the home slot when
 *                      its word is DEAD instead of when its key is
 *                      HOMEFREE: it can take an object killed but not yet
 *                      unlinked and freed by its destroyer.
 * -DWITNESS=n: reachability probe n fails the run when reached (PROBE):
 *   1  a late collision (the locked search finds a live object for the
 *      key after the fresh one was revived)
 *   2  the reclaimer's kill fails because a lookup referenced the object
 *   3  a lookup's identity re-check fails and it releases the object
 *   4  the kill of a release (a discarded or stale object) fails because
 *      another lookup referenced it
 *   5  hl_ref_live refuses a DEAD object found by the lock-free walk
 *   6  a lookup that is not the discarder destroys a discarded fresh
 *      object (its release dropped the last reference)
 *   7  a lookup sleeps in hl_check_interlock (another thread holds the
 *      interlock with CHECK set)
 *   8  a failed load drops the last reference of a linked object, which
 *      is then destroyed (needs -DLOADFAIL=1)
 *   9  a lookup is served by the home slot (needs -DHOME=1)
 *   10 a lookup references the home slot's object for its key and the
 *      identity re-check fails (a stale read of the slot; -DHOME=1)
 *   11 a home slot freed by a destroyer is claimed again (-DHOME=1)
 * Configuration: -DNOBJ=2|3 -DNKEYS=1|2 -DNBUCKETS=1|2 -DNLOOKUPS=1..3
 * -DITERS=n -DRECLAIMS=n -DPRELOAD=n (objects linked and loaded at the
 * start, keys 0..n-1) -DLOADFAIL=1 (a load may fail) -DHOME=1 (the last
 * object is the home slot).
 */

/* ---- layout of the refs word (decimal: spin has no hex literals) ---- */
#define COUNT_MASK 268435455		/* 0x0fffffff */
#define CHECK      268435456		/* 0x10000000 */
#define WANTED     536870912		/* 0x20000000 */
#define LOCKED     1073741824		/* 0x40000000 */
#define DEAD       (-2147483647 - 1)	/* 0x80000000, bit 31 */
#define CNT(v)     ((v) & COUNT_MASK)
#define ISDEAD(v)  (((v) & DEAD) != 0)

/* ---- configuration -------------------------------------------------- */
#ifndef NOBJ
#define NOBJ 3
#endif
#ifndef NKEYS
#define NKEYS 2
#endif
#ifndef NBUCKETS
#define NBUCKETS 1
#endif
#ifndef NLOOKUPS
#define NLOOKUPS 2
#endif
#ifndef ITERS
#define ITERS 1
#endif
#ifndef RECLAIMS
#define RECLAIMS 1
#endif
#ifndef PRELOAD
#define PRELOAD 1
#endif
#ifndef LOADFAIL
#define LOADFAIL 0
#endif
#ifndef WITNESS
#define WITNESS 0
#endif
#ifndef HOME
#define HOME 0
#endif
#if RECLAIMS > 0
#define NRECL 1
#else
#define NRECL 0
#endif
#define NWORKERS   (NLOOKUPS + NRECL)
#define WALK_LIMIT (NOBJ + 1)		/* lock-free hops before giving up */
#define B(k)       ((k) % NBUCKETS)	/* bucket (and shard) of a key */

#if NOBJ < 2 || NOBJ > 3
#error "NOBJ must be 2 or 3"
#endif
#if PRELOAD > NKEYS || PRELOAD > NOBJ
#error "PRELOAD: at most one preloaded object per key"
#endif
#if HOME && PRELOAD >= NOBJ
#error "HOME: the home slot (the last object) starts free"
#endif

#define NIL     255			/* no object */
#define NOKEY   255			/* key of a discarded fresh object */
#define NOBODY  255			/* no owner */
#define HOMEFREE 254			/* key of a free home slot */
#define HOMEOBJ (NOBJ - 1)		/* the home slot (with -DHOME=1) */
#define ISHOME(x) (HOME && (x) == HOMEOBJ)

/* ---- shared state ---------------------------------------------------- */
int  w[NOBJ];				/* refs words */
byte key[NOBJ];
bool linked[NOBJ];
bool data[NOBJ];
byte hnext[NOBJ];
byte head[NBUCKETS];
byte shard[NBUCKETS];			/* shard mutex: owner pid or NOBODY */
byte fl[NOBJ];				/* free list, a stack */
byte nfl = 0;

/* ---- ghost state ----------------------------------------------------- */
byte owner[NOBJ];
byte nref[NOBJ];
byte valid[NOBJ];
bool onfree[NOBJ];
bool homefreed = 0;			/* the home slot was freed once */
byte finished = 0;
#if WITNESS
bool reached = 0;
#endif

/*
 * Probe n (only with -DWITNESS=n): "assertion violated !(reached)" when
 * condition c holds.  Without -DWITNESS it expands to nothing.
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

inline ghost_acquire(x)
{
	assert(owner[x] == NOBODY);		/* property 6 */
	owner[x] = _pid
}

inline ghost_release(x)
{
	assert(owner[x] == _pid);		/* property 6 */
	owner[x] = NOBODY
}

/* The caller holds no shard mutex (it may sleep). */
#if NBUCKETS > 1
#define NOSHARD (shard[0] != _pid && shard[1] != _pid)
#else
#define NOSHARD (shard[0] != _pid)
#endif

/*
 * Caller holds x's interlock, on a live word (done/put/kill and the
 * locked release).
 */
#define HOLDS_IL(x) (owner[x] == _pid && (w[x] & LOCKED) != 0 && \
		     !ISDEAD(w[x]))

/* ---- the refs-word operations ----------------------------------------
 * Locals of a process using them: int lv; bool r.  r is the result.
 */

/*
 * hl_ref_live: count+1 (setting CHECK on 0->1) unless the word is DEAD,
 * then r = false and nothing changes.
 */
inline ref_live(x)
{
	atomic {
#ifdef BUG_NOLIVE
		/* a plain reference: DEAD is not looked at */
		if
		:: CNT(w[x]) == 0 -> w[x] = (w[x] + 1) | CHECK
		:: else -> w[x] = w[x] + 1
		fi;
		nref[x]++; r = true
#else
		if
		:: ISDEAD(w[x]) -> r = false
		:: else ->
			if
			:: CNT(w[x]) == 0 -> w[x] = (w[x] + 1) | CHECK
			:: else -> w[x] = w[x] + 1
			fi;
			nref[x]++; r = true
		fi
#endif
	}
}

/*
 * hl_check_interlock (caller holds a reference): CHECK clear -> r =
 * false.  CHECK set and LOCKED free -> take LOCKED, r = true (caller
 * loads).  CHECK set and LOCKED held -> publish WANTED, sleep until the
 * word changes, look again.
 */
inline check_interlock(x)
{
	do
	:: atomic {
		assert(!ISDEAD(w[x]) && CNT(w[x]) > 0);	/* property 3 */
		if
		:: (w[x] & CHECK) == 0 -> r = false; break
		:: (w[x] & CHECK) != 0 && (w[x] & LOCKED) == 0 ->
			w[x] = w[x] | LOCKED; ghost_acquire(x); r = true;
			break
		:: (w[x] & CHECK) != 0 && (w[x] & LOCKED) != 0 ->
			PROBE(7, true)
			assert(NOSHARD);			/* property 8 */
			w[x] = w[x] | WANTED; lv = w[x]
		fi
	   };
	   atomic { w[x] != lv -> lv = 0 }		/* sleep */
	od
}

/* hl_ref_interlock_done, after a successful load: keep only the count. */
inline ref_interlock_done(x)
{
	atomic {
		assert(HOLDS_IL(x));
		w[x] = CNT(w[x]);
		ghost_release(x)
	}
}

/*
 * hl_rel_interlock(x, false):
 *   count > 1             : count-1, r = false
 *   count 1, LOCKED free  : 1->0 leaving exactly LOCKED (taken), r = true
 *   count 1, LOCKED held  : publish WANTED, sleep, retry
 * `v': the caller was a validated user (ghost valid[] ends here).
 * On r = true, `keep' says whether the object is worth caching (loaded,
 * a real key, linked); these are stable under the interlock.
 */
inline rel0(x, v)
{
	do
	:: atomic {
		assert(!ISDEAD(w[x]) && CNT(w[x]) > 0);	/* property 3 */
		if
		:: CNT(w[x]) > 1 ->
			w[x] = w[x] - 1; nref[x]--;
			if
			:: v -> valid[x]--
			:: else -> skip
			fi;
			r = false; break
		:: CNT(w[x]) == 1 && (w[x] & LOCKED) == 0 ->
			/* As the C slow path: CHECK may stay (it means
			 * nothing at count 0; kill ignores it). */
			w[x] = (w[x] - 1) | LOCKED;
			nref[x]--;
			if
			:: v -> valid[x]--
			:: else -> skip
			fi;
			ghost_acquire(x); r = true;
			keep = (data[x] && key[x] != NOKEY && linked[x]);
			break
		:: CNT(w[x]) == 1 && (w[x] & LOCKED) != 0 ->
			assert(NOSHARD);			/* property 8 */
			w[x] = w[x] | WANTED; lv = w[x]
		fi
	   };
	   atomic { w[x] != lv -> lv = 0 }		/* sleep */
	od
}

/* hl_rel_interlock(x, true): count-1, CHECK cleared at 0, LOCKED kept. */
inline rel_locked(x)
{
	atomic {
		assert(HOLDS_IL(x) && CNT(w[x]) > 0);
		if
		:: CNT(w[x]) == 1 -> w[x] = (w[x] - 1) & ~CHECK
		:: else -> w[x] = w[x] - 1
		fi;
		nref[x]--
	}
}

/* hl_rel_interlock_done: clear LOCKED/WANTED; CHECK only at count 0. */
inline rel_interlock_done(x)
{
	atomic {
		assert(HOLDS_IL(x));
		if
		:: CNT(w[x]) == 0 -> w[x] = w[x] & ~(LOCKED | WANTED | CHECK)
		:: else -> w[x] = w[x] & ~(LOCKED | WANTED)
		fi;
		ghost_release(x)
	}
}

/* hl_put_interlock(x, err): clear LOCKED/WANTED; CHECK = err && count. */
inline put_interlock(x, err)
{
	atomic {
		assert(HOLDS_IL(x));
		if
		:: (err) && CNT(w[x]) > 0 ->
			w[x] = (w[x] & ~(LOCKED | WANTED)) | CHECK
		:: else -> w[x] = w[x] & ~(LOCKED | WANTED | CHECK)
		fi;
		ghost_release(x)
	}
}

/* hl_try_interlock_norefs: one CAS, exactly 0 -> LOCKED. */
inline try_interlock_norefs(x)
{
	atomic {
		if
		:: w[x] == 0 -> w[x] = LOCKED; ghost_acquire(x); r = true
		:: else -> r = false
		fi
	}
}

/*
 * hl_kill_interlock: count 0 and no sleeper (CHECK ignored) -> DEAD,
 * r = true (the interlock goes with it); else r = false, interlock still
 * held.
 */
inline kill(x)
{
	atomic {
		assert(HOLDS_IL(x));
#ifdef BUG_KILLANY
		w[x] = DEAD; ghost_release(x); r = true	/* count ignored */
#else
		if
#ifdef BUG_KILLEXACT
		:: w[x] == LOCKED ->
#else
		:: CNT(w[x]) == 0 && (w[x] & WANTED) == 0 ->
#endif
			w[x] = DEAD; ghost_release(x); r = true
		:: else -> r = false
		fi
#endif
	}
}

/* hl_revive_interlock: DEAD -> 1|LOCKED|CHECK, owned by the recycler. */
inline revive(x)
{
#ifdef BUG_REVIVE_SPLIT
	atomic {
		assert(w[x] == DEAD);
		w[x] = 0			/* "constructed": word 0 */
	};
	atomic {
		/* hl_ref_interlock_true: 0 -> 1|LOCKED|CHECK */
		assert(nref[x] == 0);			/* property 4 */
		assert(w[x] == 0);		/* fatal in C otherwise */
		w[x] = 1 | LOCKED | CHECK; nref[x] = 1; ghost_acquire(x)
	}
#else
	atomic {
		assert(nref[x] == 0);			/* property 4 */
		assert(w[x] == DEAD);		/* fatal in C otherwise */
		w[x] = 1 | LOCKED | CHECK; nref[x] = 1; ghost_acquire(x)
	}
#endif
}

/* ---- table operations ------------------------------------------------
 * Extra locals: byte q, i.
 */

/*
 * Push a DEAD, unlinked object on the free list (alloc mutex); the home
 * slot is freed in place instead (a release store of its key).
 */
inline push_free(x)
{
	atomic {
		assert(w[x] == DEAD && !linked[x]);
		assert(!onfree[x]);			/* freed twice */
		if
		:: ISHOME(x) ->
			assert(key[x] != HOMEFREE);	/* freed twice */
			key[x] = HOMEFREE; homefreed = 1
		:: else ->
			fl[nfl] = x; nfl++; onfree[x] = 1
		fi
	}
}

/*
 * Unlink x from its chain: take the shard mutex, store the
 * predecessor's link (the one store readers see), clear linked, unlock.
 * x's own hnext is left alone, so a reader standing on x walks on.
 */
inline unlink(x)
{
	atomic {
		shard[B(key[x])] == NOBODY ->
		assert(linked[x]);
		if
		:: head[B(key[x])] == x -> head[B(key[x])] = hnext[x]
		:: else ->
			q = head[B(key[x])]; i = 0;
			do
			:: q != NIL && hnext[q] == x ->
				hnext[q] = hnext[x]; break
			:: q != NIL && hnext[q] != x && i < NOBJ ->
				q = hnext[q]; i++
			:: else -> assert(false)	/* not in its chain */
			od
		fi;
		linked[x] = 0; q = 0; i = 0
	}
}

/*
 * Destroy: the caller holds x's interlock at count 0, and x has no data
 * (or is not the object for any key).  Kill; on success unlink if
 * linked and free.  If a lookup referenced x meanwhile the kill fails:
 * put the interlock back with an error, so that the newcomer reloads
 * (or, if x is not linked under its key, destroys it on release).
 */
inline destroy(x)
{
	kill(x);
	if
	:: r ->
		r = false;
		if
		:: atomic { linked[x] -> skip }; unlink(x)
		:: atomic { !linked[x] -> skip }
		fi;
		push_free(x)
	:: else ->
		PROBE(4, true)
		put_interlock(x, 1)
	fi
}

/*
 * Release: hl_rel_interlock(x, false); on 1->0 keep a loaded, linked
 * object cached, destroy anything else.
 */
inline rel(x, v)
{
	rel0(x, v);
	if
	:: r && keep -> r = false; keep = false; rel_interlock_done(x)
	:: r && !keep ->
		r = false;
		PROBE(6, key[x] == NOKEY && !mine)
		destroy(x)
	:: else -> skip
	fi
}

/* ---- lookup ----------------------------------------------------------
 * get(k): o = the object for key k, referenced, validated and loaded, or
 * NIL if the free list was empty (the table is full).
 */
inline get(k)
{
#if HOME
	/* 0. the home slot: its key, then the walk's reference and re-check */
	if
	:: atomic { key[HOMEOBJ] != k -> skip }
	:: atomic { key[HOMEOBJ] == k -> skip };
	   ref_live(HOMEOBJ);
	   if
	   :: r ->
		r = false;
		ok = (key[HOMEOBJ] == k);
		ok = (ok && linked[HOMEOBJ]);
		if
		:: ok ->
			ok = false; o = HOMEOBJ;
			PROBE(9, true)
			skip
		:: else ->
			PROBE(10, true)
			rel(HOMEOBJ, false)
		fi
	   :: else -> skip
	   fi
	fi;
	/* 1. lock-free walk, unless the home slot served */
	if
	:: o != NIL -> p = NIL
	:: else -> p = head[B(k)]
	fi;
#else
	/* 1. lock-free walk */
	p = head[B(k)];
#endif
	do
	:: p == NIL || hops >= WALK_LIMIT -> break
	:: else ->
		if
		:: atomic { key[p] != k -> skip }
		:: atomic { key[p] == k -> skip };
		   ref_live(p);
		   if
		   :: r ->
			r = false;
#ifdef BUG_NORECHECK
			ok = true;
#else
			/* identity: both stable now, unless p is dying */
			ok = (key[p] == k);
			ok = (ok && linked[p]);
#endif
			if
			:: ok -> ok = false; o = p; break
			:: else ->
				PROBE(3, true)
				rel(p, false)
			fi
		   :: else ->
			PROBE(5, true)
			skip
		   fi
		fi;
		atomic { p = hnext[p]; hops++ }
	od;
	atomic { p = NIL; hops = 0 };

	if
	:: o != NIL ->
		check_interlock(o)		/* 2a. hit */
	:: else ->
		miss(k)				/* 2b. miss */
	fi;

	/* 3. load if we hold the interlock with CHECK set */
	if
	:: o != NIL && r ->
		if
		:: atomic {
			r = false;
			data[o] = 1;		/* idempotent load */
			ref_interlock_done(o)
		   }
#if LOADFAIL
		:: r = false;
		   /*
		    * The load failed: discard what there was, drop our
		    * reference keeping the interlock; destroy if it was the
		    * last one, else put it back with an error so that the
		    * others retry.
		    */
		   atomic { data[o] = 0; rel_locked(o) };
		   PROBE(8, linked[o] && CNT(w[o]) == 0)
		   destroy(o);
		   o = NIL			/* get() fails */
#endif
		fi
	:: else -> r = false
	fi;
	if
	:: o != NIL ->
		atomic {			/* property 1 */
			assert(key[o] == k);
			assert(linked[o]);
			assert(data[o]);
			assert(!ISDEAD(w[o]) && CNT(w[o]) >= 1);
			valid[o]++
		}
	:: else -> skip
	fi
}

/*
 * The miss path: a fresh object from the free list, keyed and revived
 * (we hold 1|LOCKED|CHECK), then under the shard mutex search again
 * with hl_ref_live.  Found: a late collision -- discard the fresh object
 * and go on with the found one as a hit.  Not found: publish the fresh
 * one (r = true: we hold its interlock and must load it).
 */
inline miss(k)
{
	atomic {
		f = NIL;
#if HOME
		/* the home slot first: one compare-and-swap on its key */
		if
#ifdef BUG_HOMECLAIM_DEAD
		:: w[HOMEOBJ] == DEAD ->
#else
		:: key[HOMEOBJ] == HOMEFREE ->
#endif
			f = HOMEOBJ; key[f] = k;
			assert(w[f] == DEAD && !linked[f]);
			assert(nref[f] == 0);		/* property 4 */
			assert(!data[f]);
			PROBE(11, homefreed)
			hnext[f] = NIL
		:: else -> skip
		fi;
#endif
		if
		:: f == NIL && nfl > 0 ->
			nfl--; f = fl[nfl]; fl[nfl] = 0;
			assert(onfree[f]); onfree[f] = 0;
			assert(w[f] == DEAD && !linked[f]);
			assert(nref[f] == 0);		/* property 4 */
			assert(!data[f]);
			hnext[f] = NIL
		:: else -> skip			/* f == NIL: table full */
		fi
	};
	if
	:: f != NIL ->
		key[f] = k;
#ifdef BUG_PUBLISH_FIRST
		atomic { w[f] = 0 };		/* constructed, not interlocked */
#else
		revive(f);
#endif
		/* under the shard mutex: the chain is stable, only words move */
		atomic {
			shard[B(k)] == NOBODY -> shard[B(k)] = _pid;
#ifdef BUG_NOSEARCH
			p = NIL;		/* trusts the lock-free miss */
#else
			p = head[B(k)];
#endif
			do
			:: p != NIL && key[p] != k && hops <= NOBJ ->
				p = hnext[p]; hops++
			:: else -> break
			od;
			assert(hops <= NOBJ)		/* no cycle */
		};
		do
		:: p == NIL -> break
		:: p != NIL ->
			ref_live(p);
			if
			:: r -> r = false; break
			:: else ->
				atomic {
					p = hnext[p];
					do
					:: p != NIL && key[p] != k &&
					   hops <= NOBJ -> p = hnext[p]; hops++
					:: else -> break
					od;
					assert(hops <= NOBJ)
				}
			fi
		od;
		hops = 0;
		if
		:: p != NIL ->
			/* late collision: p is live and referenced */
			PROBE(1, true)
			shard[B(k)] = NOBODY;
			key[f] = NOKEY;
#ifdef BUG_PUBLISH_FIRST
			try_interlock_norefs(f);
			if
			:: r -> r = false; destroy(f)
			:: else -> skip		/* a stale referencer frees it */
			fi;
#else
			rel_locked(f);
#if WITNESS
			mine = true;			/* for probe 6 only */
#endif
			destroy(f);
#if WITNESS
			mine = false;
#endif
#endif
			f = NIL; o = p; p = NIL;
			check_interlock(o)
		:: else ->
			hnext[f] = head[B(k)];
			head[B(k)] = f;			/* published */
			atomic { linked[f] = 1; shard[B(k)] = NOBODY };
#ifdef BUG_PUBLISH_FIRST
			/* now hl_ref_interlock: a reference, then the check */
			atomic {
				assert(!ISDEAD(w[f]));		/* property 3 */
				if
				:: CNT(w[f]) == 0 -> w[f] = (w[f] + 1) | CHECK
				:: else -> w[f] = w[f] + 1
				fi;
				nref[f]++
			};
			o = f; f = NIL;
			check_interlock(o)
#else
			o = f; f = NIL; r = true
#endif
		fi
	:: else -> skip
	fi
}

proctype lookup(byte n; byte k)
{
	int lv;
	byte o = NIL, p, f, q, i, hops;
	bool r, ok, keep, mine;

	do
	:: n > 0 ->
		get(k);
		if
		:: o != NIL -> rel(o, true); o = NIL
		:: else -> skip
		fi;
		k = (k + 1) % NKEYS;
		n--
	:: else -> break
	od;
	finished++
}

/*
 * The pool's reclaimer: never blocks (the shard mutex aside).  Picks any
 * object; if its word is 0 takes the interlock, drops the data and
 * kills it.  A lookup that referenced it in between makes the kill fail:
 * then the interlock goes back with an error, so that the lookup reloads.
 */
proctype reclaimer(byte n)
{
	byte x, q, i;
	bool r;

	do
	:: n > 0 ->
		if
		:: x = 0
		:: x = 1
#if NOBJ > 2
		:: x = 2
#endif
		fi;
		try_interlock_norefs(x);
		if
		:: r ->
			r = false;
			atomic {			/* property 5 */
				assert(valid[x] == 0);
				assert(CNT(w[x]) == 0 || (w[x] & CHECK) != 0);
				data[x] = 0
			};
			kill(x);
			if
			:: r ->
				r = false;
				if
				:: atomic { linked[x] -> skip }; unlink(x)
				:: atomic { !linked[x] -> skip }
				fi;
				push_free(x)
			:: else ->
				PROBE(2, true)
#ifdef BUG_RECLAIM_PUT0
				put_interlock(x, 0)	/* claims it is valid */
#else
				put_interlock(x, 1)
#endif
			fi
		:: else -> skip
		fi;
		x = 0;
		n--
	:: else -> break
	od;
	finished++
}

/* ---- global invariants (checked in every state) ---------------------- */
#define LIVELINK(j) (linked[j] && !ISDEAD(w[j]))
/* property 2: one live linked object per key */
#define NODUP(a, b) (!(LIVELINK(a) && LIVELINK(b) && key[a] == key[b]))
/* property 3: a DEAD word is exactly DEAD; nobody holds, owns or uses
   the object, and it has no data */
#define DEADOK(j)   (!ISDEAD(w[j]) || (w[j] == DEAD && nref[j] == 0 && \
		     owner[j] == NOBODY && valid[j] == 0 && !data[j]))
/* a live word counts exactly the references held */
#define REFOK(j)    (ISDEAD(w[j]) || CNT(w[j]) == nref[j])
/* property 5: while used, loaded, linked and valid (CHECK clear) */
#define USEOK(j)    (valid[j] == 0 || (data[j] && linked[j] && \
		     !ISDEAD(w[j]) && (w[j] & CHECK) == 0))
/* on a violation, set the named flag and fail: "assertion violated !(flag)" */
#define CHECKED(c, flag)  :: atomic { !(c) -> flag = 1; assert(!flag) }

/*
 * Blocked unless an invariant fails in the current state, so it adds no
 * states; the end label makes it a valid end state.
 */
proctype monitor()
{
	bool dead_object_in_use, refs_count_wrong, used_object_invalid,
	    two_live_for_one_key;

end:	if
	CHECKED(DEADOK(0), dead_object_in_use)
	CHECKED(DEADOK(1), dead_object_in_use)
	CHECKED(REFOK(0), refs_count_wrong)
	CHECKED(REFOK(1), refs_count_wrong)
	CHECKED(USEOK(0), used_object_invalid)
	CHECKED(USEOK(1), used_object_invalid)
	CHECKED(NODUP(0, 1), two_live_for_one_key)
#if NOBJ > 2
	CHECKED(DEADOK(2), dead_object_in_use)
	CHECKED(REFOK(2), refs_count_wrong)
	CHECKED(USEOK(2), used_object_invalid)
	CHECKED(NODUP(0, 2), two_live_for_one_key)
	CHECKED(NODUP(1, 2), two_live_for_one_key)
#endif
	fi
}

/*
 * Property 7: the state once every worker has finished.  Also the chains:
 * they hold exactly the linked objects, each in its key's bucket.
 */
proctype final()
{
	byte j, nd, nh, nl, q, hops;

	finished == NWORKERS;
	atomic {
		j = 0;
		do
		:: j < NOBJ ->
			assert(owner[j] == NOBODY && nref[j] == 0 &&
			       valid[j] == 0);
			if
			:: w[j] == DEAD && ISHOME(j) ->
				assert(!linked[j] && key[j] == HOMEFREE);
				nh++
			:: w[j] == DEAD && !ISHOME(j) ->
				assert(!linked[j] && onfree[j]); nd++
			:: else ->
				assert(w[j] == 0 && linked[j] && data[j] &&
				       !onfree[j])
			fi;
			j++
		:: else -> break
		od;
		assert(nfl == nd);
		j = 0;
		do
		:: j < NBUCKETS ->
			assert(shard[j] == NOBODY);
			q = head[j]; hops = 0;
			do
			:: q != NIL && hops <= NOBJ ->
				assert(linked[q] && B(key[q]) == j);
				nl++; hops++; q = hnext[q]
			:: else -> break
			od;
			assert(q == NIL);		/* no cycle */
			j++
		:: else -> break
		od;
		assert(nl + nd + nh == NOBJ)
	}
}

init
{
	byte j;

	atomic {
		/* objects 0..PRELOAD-1: linked for keys 0.., loaded, word 0 */
		j = 0;
		do
		:: j < NBUCKETS -> head[j] = NIL; shard[j] = NOBODY; j++
		:: else -> break
		od;
		j = 0;
		do
		:: j < NOBJ ->
			owner[j] = NOBODY;
			if
			:: j < PRELOAD ->
				key[j] = j; linked[j] = 1; data[j] = 1;
				w[j] = 0;
				hnext[j] = head[B(j)]; head[B(j)] = j
			:: j >= PRELOAD && ISHOME(j) ->
				key[j] = HOMEFREE; hnext[j] = NIL; w[j] = DEAD
			:: j >= PRELOAD && !ISHOME(j) ->
				key[j] = NOKEY; hnext[j] = NIL; w[j] = DEAD;
				fl[nfl] = j; nfl++; onfree[j] = 1
			fi;
			j++
		:: else -> break
		od;
		j = 0;
		do
		:: j < NLOOKUPS -> run lookup(ITERS, j % NKEYS); j++
		:: else -> break
		od;
#if RECLAIMS > 0
		run reclaimer(RECLAIMS);
#endif
		run final();
		run monitor();
		j = 0
	}
}
