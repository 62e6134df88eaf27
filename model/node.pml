/*
 * node.pml -- Promela model of the residency protocol of B-tree nodes
 * (src/cache/node.c): a loaded node is resident, the cache holds a
 * reference of its own on it, users' hits and releases are plain count
 * changes, and evictions take the cache's reference without blocking
 * (hl_try_rel_interlock), unload the node and destroy it.  Checked with
 * spin; see README.md in this directory ("node.pml: node residency") and
 * check_node.sh.
 *
 * What is modelled:
 *   - One node: its refs word w (the C layout), `loaded' (ondisk !=
 *     NULL), the RESIDENT and FLUSH flags, and `bufref', the node's
 *     reference on its buffer (taken by the load, handed to whoever
 *     unloads, who drops it).  It starts loaded and resident at word 1
 *     (the cache's reference only).  HL_NODE_F_DELETED is not modelled:
 *     FLUSH routes a release through node_try_evict() the same way.
 *   - NUSERS users, ITERS rounds each: get the node, use it, release it.
 *       get      hl_ref_live (hl__tbl_index_ref); if CHECK is set,
 *                hl_check_interlock and, holding the interlock,
 *                node_load: idempotent (ondisk set: end the interlock),
 *                else load, set RESIDENT, clear FLUSH, take the buffer
 *                and the cache's reference (hl_ref), end the interlock.
 *                A DEAD word: with -DREVIVE=1 (default) the miss path
 *                revives the node (hl_revive_interlock: 1|LOCKED|CHECK,
 *                flags 0) and loads it; if another user revived it
 *                first, the search under the mutex finds it live and
 *                takes hl_ref_live on it, then hl_check_interlock as a
 *                hit does.  With -DREVIVE=0 the get fails.  With
 *                -DLOADFAIL=1 a load may fail: FLUSH, then
 *                hl_rel_interlock(l, true) and node_dispose(n, true).
 *       use      one step reading the node.
 *       release  hl_rel_node: a plain decrement (the count is at
 *                least 2: the user's and the cache's references),
 *                then, if FLUSH is set, node_try_evict.
 *   - NFLUSHERS flushers (hl__flush_node_at), FLUSHES attempts each,
 *     each attempt with HL_FLUSH_TEARDOWN or without (the pool): an idle
 *     structure (word 0) is taken with hl_try_interlock_norefs and
 *     destroyed; a resident node whose only reference is the cache's
 *     (word 1) with hl_try_rel_interlock, unloaded (its buffer
 *     reference dropped at once) and destroyed; a node in use is marked
 *     FLUSH under HL_FLUSH_TEARDOWN.
 *   - node_try_evict (a user's release of a FLUSH node): word exactly 1
 *     -> 0|LOCKED, then RESIDENT: clear, a user's reference was taken
 *     and goes back (hl_ref, hl_put_interlock(ENODATA)); set, the cache's
 *     was taken: node_dispose(n, false).
 *   - node_dispose: idle = (count 0), read first; unload if loaded (the
 *     fix of 4814b94; -DBUG_EVICT_IDLEONLY: only if idle); then destroy
 *     if idle and FLUSH, else hl_rel_interlock_done (CHECK stays while
 *     references remain); the buffer reference is dropped last, after
 *     the interlock.
 *   - destroy (node_destroy, hl__tbl_kill): hl_kill_interlock makes the
 *     word DEAD at count 0 with nobody asleep on it; if a lookup got in,
 *     hl_put_interlock(ENODATA) keeps CHECK and the lookup loads.  A
 *     DEAD node stays DEAD unless a user revives it (no other key, no
 *     table: model/table.pml checks lookup versus recycling).
 *
 * Atomic steps (as in table.pml):
 *   - Every refs-word operation is one step, at its winning
 *     compare-and-swap; a failed attempt changes nothing.  A sleep is two
 *     steps: the compare-and-swap that publishes WANTED, then a blocking
 *     await until the word changes (the futex; refs.pml checks wakeups).
 *   - Every read of the word or of a flag whose result the code acts on
 *     later is a step of its own: node_dispose's idle test, the RESIDENT
 *     test after hl_try_rel_interlock, the FLUSH tests of a release and
 *     of node_dispose, and the failed hl_try_* attempts before a flusher
 *     marks the node.  The interlock holder's reads of ondisk (in
 *     node_load and node_dispose) are folded into the step that acts on
 *     them: nobody else changes it.
 *   - A load (ondisk, RESIDENT, FLUSH cleared, buffer reference, the
 *     cache's hl_ref and hl_ref_interlock_done) is one step: all of it
 *     happens under the interlock, and nobody acts on these before the
 *     interlock ends.  An unload (RESIDENT and ondisk cleared) is one
 *     step.  Memory is sequentially consistent.
 *
 * Ghost state, updated in the step of the operation it describes:
 *   owner     pid holding the interlock (NOBODY: none)
 *   uref      references users hold (taken by a get, not yet dropped)
 *   nhold     users that got the node and have not yet released it
 *   cacheref  the cache's reference is in the count
 *   borrowed  references that a hl_try_rel_interlock took and that were
 *             not the cache's (a user's reference, until it goes back)
 *   bufpend   buffer references unloaded and not yet dropped
 *
 * Properties (flag names in the assertions, "assertion violated !(x)"):
 *   1. a user never enters the slow path of hl_check_interlock
 *      without a reference (check_without_reference): the C's own
 *      fatal error.  A user never releases a DEAD word
 *      (released_dead_word) or one at count 1 or less
 *      (released_no_reference: the decrement would be a 1->0 without
 *      the interlock): debug builds' node_check_held, so checked
 *      with property 3.
 *   2. a user never uses a node that is not loaded (used_unloaded_node).
 *   3. a node a user holds is resident and not DEAD, and its count holds
 *      the users' references and the cache's: count >= nhold + 1, at
 *      use and at release (held_without_cache_ref; node_check_held()
 *      in debug builds); with no interlock held, a node is loaded
 *      exactly when it is resident and the cache's reference is in the
 *      count (resident_without_cache_ref, monitor).
 *   4. an eviction that finds RESIDENT set took the cache's reference,
 *      not a user's (evict_took_users_ref).
 *   5. the count is the references held (refs_count_wrong), LOCKED is
 *      set exactly while someone owns the interlock (interlock_wrong),
 *      a DEAD word is exactly DEAD with nothing loaded and nobody holding
 *      a reference (dead_word_wrong); nobody loads a loaded node or adds
 *      a second cache reference (loaded_twice), nobody destroys a
 *      loaded node (destroyed_loaded).
 *   6. the node's buffer reference: with no interlock held, bufref ==
 *      loaded, counting the unloaded references not yet dropped by their
 *      disposer (buffer_ref_wrong, monitor).
 *   7. no deadlock (spin's invalid end states), and a clean end: no
 *      reference, holder or interlock left; loaded means resident at
 *      word exactly 1 (the cache's reference); not loaded means word 0
 *      (an idle structure) or DEAD; bufref == loaded.
 *   8. a word of exactly 1 (one reference, no flags) belongs to a
 *      loaded, resident node holding the cache's reference
 *      (idle_word_not_resident, monitor, CHECKS >= 2): hl_get_node()'s
 *      1 -> 2 guess relies on it to check the key alone.
 *
 * -DCHECKS=n chooses which properties are checked:
 *   2  (default) all of them.
 *   1  without property 3 (what a release build does not check): shows
 *      where a lost cache reference leads.
 *   0  properties 1, 2 and spin's invalid end states only: what the C
 *      code itself notices in a release build.
 *
 * Injected bugs (spin -DBUG_X -a node.pml), must be rejected:
 *   BUG_EVICT_IDLEONLY  node_dispose unloads only if the count was 0 when
 *                       it looked (the code before 4814b94): a lookup
 *                       that references the node between an eviction's
 *                       hl_try_rel_interlock and that test finds it
 *                       loaded (node_load's idempotent path) without
 *                       the cache's reference.
 *   BUG_DONE_CLEARS_CHECK  hl_rel_interlock_done clears CHECK even when
 *                       references remain: a lookup that got in during
 *                       an unload holds word 1 on an unloaded node, the
 *                       word hl_get_node()'s 1 -> 2 guess takes for a
 *                       resident one (property 8).
 * -DWITNESS=n: reachability probe n fails the run when reached (PROBE):
 *   1  node_dispose unloads a node that a lookup referenced after the
 *      eviction took the cache's reference (the path of the fix)
 *   2  a user loads the node again on a hit (its hl_check_interlock
 *      returns true on an unloaded, live node)
 *   3  a user sleeps in hl_check_interlock while another holds the
 *      interlock
 *   4  a destroy's kill fails because a lookup got in; the interlock
 *      goes back with CHECK
 *   5  a user's release evicts the node (node_try_evict takes the
 *      cache's reference)
 *   6  a user revives a destroyed node (-DREVIVE=1)
 *   7  a flusher destroys an idle, unloaded structure (word 0)
 *   8  a failed load leaves the node to another user, who loads it
 *      (-DLOADFAIL=1)
 * and paths of the C code that the fixed protocol never takes (each
 * must NOT fire in the correct model; each is where a lost cache
 * reference shows):
 *   9  node_load's idempotent path (CHECK set on a loaded node)
 *   10 hl_try_rel_interlock takes the reference of a node that is not
 *      resident, and puts it back (node_try_evict, hl__flush_node_at)
 *   11 a user's release decrements a count of 1 or less (a 1->0
 *      without the interlock)
 *   12 hl_try_interlock_norefs takes a loaded node (word 0)
 * Configuration: -DNUSERS=1..3 -DITERS=n -DNFLUSHERS=0..2 -DFLUSHES=n
 * -DREVIVE=0|1 -DLOADFAIL=0|1 -DCHECKS=0..2.
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
#ifndef NUSERS
#define NUSERS 2
#endif
#ifndef ITERS
#define ITERS 2
#endif
#ifndef NFLUSHERS
#define NFLUSHERS 1
#endif
#ifndef FLUSHES
#define FLUSHES 2
#endif
#ifndef REVIVE
#define REVIVE 1
#endif
#ifndef LOADFAIL
#define LOADFAIL 0
#endif
#ifndef CHECKS
#define CHECKS 2
#endif
#ifndef WITNESS
#define WITNESS 0
#endif
#define NWORKERS (NUSERS + NFLUSHERS)
#define NOBODY   255

#if NUSERS < 1 || NUSERS > 3 || NFLUSHERS > 2
#error "NUSERS must be 1..3, NFLUSHERS 0..2"
#endif

/* ---- shared state ---------------------------------------------------- */
int  w = 1;				/* refs word: the cache's reference */
bool loaded = 1;			/* ondisk != NULL */
bool resident = 1;			/* HL_NODE_F_RESIDENT */
bool flush = 0;				/* HL_NODE_F_FLUSH */
byte bufref = 1;			/* the node's buffer reference */

/* ---- ghost state ----------------------------------------------------- */
byte owner = NOBODY;
byte uref = 0;
byte nhold = 0;
bool cacheref = 1;
byte borrowed = 0;
byte bufpend = 0;
byte finished = 0;

/* Set only when the property of that name fails (see the header). */
bool released_dead_word, released_no_reference, check_without_reference;
bool used_unloaded_node, held_without_cache_ref, evict_took_users_ref;
bool loaded_twice, destroyed_loaded;
#if WITNESS
bool reached = 0;
#endif

/*
 * CLAIM_C: checked in every mode (the C's own errors and what the user
 * reads); CLAIM_GHOST: CHECKS >= 1; CLAIM_HELD: CHECKS >= 2.  Each sets
 * its flag when c is false and fails with "assertion violated !(flag)".
 * Use inside an atomic block: the flag stays 0 in a correct run, so it
 * adds no states.
 */
#define CLAIM(c, flag)	flag = !(c); assert(!flag)
#define CLAIM_C(c, flag) CLAIM(c, flag)
#if CHECKS >= 1
#define CLAIM_GHOST(c, flag) CLAIM(c, flag)
#else
#define CLAIM_GHOST(c, flag) skip
#endif
#if CHECKS >= 2
#define CLAIM_HELD(c, flag) CLAIM(c, flag)
#else
#define CLAIM_HELD(c, flag) skip
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

inline ghost_acquire()
{
	assert(owner == NOBODY);
	owner = _pid
}

inline ghost_release()
{
	assert(owner == _pid);
	owner = NOBODY
}

/* The caller holds the interlock, on a live word. */
#define HOLDS_IL (owner == _pid && (w & LOCKED) != 0 && !ISDEAD(w))

/* ---- the refs-word operations ----------------------------------------
 * Locals of a process using them: int lv; bool r, took.  r is the result.
 */

/* count+1, setting CHECK on 0->1 (hl_ref_live's and hl_ref's step) */
#define COUNT_UP   if \
		   :: CNT(w) == 0 -> w = (w + 1) | CHECK \
		   :: else -> w = w + 1 \
		   fi

/*
 * hl_ref_live (the hit's reference, hl__tbl_index_ref): count+1 unless
 * the word is DEAD, then r = false and nothing changes.
 */
inline ref_live()
{
	atomic {
		if
		:: ISDEAD(w) -> r = false
		:: else -> COUNT_UP; uref++; r = true
		fi
	}
}

/*
 * hl_check_interlock (caller holds a reference): CHECK clear -> r =
 * false (the inline test, which looks at nothing else).  CHECK set and
 * LOCKED free -> take LOCKED, r = true (caller loads).  CHECK set and
 * LOCKED held -> publish WANTED, sleep until the word changes, look
 * again.
 */
inline check_interlock()
{
	do
	:: atomic {
		if
		:: (w & CHECK) == 0 -> r = false; break
		:: else ->
			/* the slow path's fatal check (a DEAD word has
			 * CHECK clear: the inline test lets it through) */
			CLAIM_C(CNT(w) > 0, check_without_reference);
			if
			:: (w & LOCKED) == 0 ->
				w = w | LOCKED; ghost_acquire(); r = true;
				break
			:: else ->
				PROBE(3, true)
				w = w | WANTED; lv = w
			fi
		fi
	   };
	   atomic { w != lv -> lv = 0 }		/* sleep */
	od
}

/* hl_rel_interlock(l, true): count-1, CHECK cleared at 0, LOCKED kept. */
inline rel_locked()
{
	atomic {
		assert(HOLDS_IL && CNT(w) > 0);
		if
		:: CNT(w) == 1 -> w = (w - 1) & ~CHECK
		:: else -> w = w - 1
		fi;
		uref--
	}
}

/* hl_rel_interlock_done: clear LOCKED/WANTED; CHECK only at count 0. */
inline rel_interlock_done()
{
	atomic {
		assert(HOLDS_IL);
#ifdef BUG_DONE_CLEARS_CHECK
		w = w & ~(LOCKED | WANTED | CHECK);
#else
		if
		:: CNT(w) == 0 -> w = w & ~(LOCKED | WANTED | CHECK)
		:: else -> w = w & ~(LOCKED | WANTED)
		fi;
#endif
		ghost_release()
	}
}

/* hl_put_interlock(l, err): clear LOCKED/WANTED; CHECK = err && count. */
inline put_interlock(err)
{
	atomic {
		assert(HOLDS_IL);
		if
		:: (err) && CNT(w) > 0 ->
			w = (w & ~(LOCKED | WANTED)) | CHECK
		:: else -> w = w & ~(LOCKED | WANTED | CHECK)
		fi;
		ghost_release()
	}
}

/* hl_try_interlock_norefs: one compare-and-swap, exactly 0 -> LOCKED. */
inline try_interlock_norefs()
{
	atomic {
		if
		:: w == 0 -> w = LOCKED; ghost_acquire(); r = true
		:: else -> r = false
		fi
	}
}

/*
 * hl_try_rel_interlock: one compare-and-swap, exactly 1 -> LOCKED.  The
 * reference it takes is the cache's if the cache's is in the count
 * (took), else a user's (borrowed).
 */
inline try_rel_interlock()
{
	atomic {
		if
		:: w == 1 ->
			w = LOCKED; ghost_acquire(); r = true;
			if
			:: cacheref -> cacheref = 0; took = true
			:: else -> borrowed++; took = false
			fi
		:: else -> r = false
		fi
	}
}

/*
 * hl_kill_interlock: count 0 and no sleeper (CHECK ignored) -> DEAD,
 * r = true (the interlock goes with it); else r = false, interlock still
 * held.
 */
inline kill()
{
	atomic {
		assert(HOLDS_IL);
		if
		:: CNT(w) == 0 && (w & WANTED) == 0 ->
			CLAIM_GHOST(!loaded, destroyed_loaded);
			w = DEAD; ghost_release(); r = true
		:: else -> r = false
		fi
	}
}

/* ---- node operations -------------------------------------------------
 * Extra locals: bool idle, pend, d, res.
 */

/*
 * node_destroy: kill; if a lookup got in, put the interlock back with
 * ENODATA, so that it loads.
 */
inline destroy()
{
	kill();
	if
	:: r -> r = false
	:: else ->
		PROBE(4, true)
		put_interlock(1)
	fi
}

/*
 * node_dispose (interlock held, after a 1->0): unload if loaded (with
 * -DBUG_EVICT_IDLEONLY only if the count was 0 at the idle test), then
 * destroy if idle and FLUSH, else end the interlock; drop the buffer
 * reference last.
 */
#ifdef BUG_EVICT_IDLEONLY
#define UNLOAD_IF (loaded && idle)
#else
#define UNLOAD_IF (loaded)
#endif

inline dispose()
{
	atomic { idle = (CNT(w) == 0) };		/* hl_norefs */
	atomic {
		if
		:: UNLOAD_IF ->
			PROBE(1, CNT(w) > 0)
			loaded = 0; resident = 0; bufpend++; pend = true
		:: else -> skip
		fi
	};
	atomic { d = (idle && flush) };
	if
	:: d -> d = false; destroy()
	:: else -> rel_interlock_done()
	fi;
	if
	:: pend -> atomic { bufref--; bufpend--; pend = false }	/* hl_rel_buffer */
	:: else -> skip
	fi;
	idle = false
}

/*
 * The put-back of a reference that hl_try_rel_interlock took from a node
 * that is not resident (a user's): hl_ref (0->1 sets CHECK), then
 * hl_put_interlock(ENODATA), so that a lookup that came in loads.
 */
inline put_back()
{
	atomic {
		PROBE(10, true)
		COUNT_UP;
		if
		:: took -> cacheref = 1; took = false
		:: else -> borrowed--
		fi
	};
	put_interlock(1)
}

/*
 * node_try_evict: take the cache's reference if it is the only one,
 * check RESIDENT, dispose.
 */
inline try_evict()
{
	try_rel_interlock();
	if
	:: r ->
		r = false;
		atomic {
			res = resident;		/* the race window of 4814b94 */
			if
			:: res ->
				CLAIM_GHOST(took, evict_took_users_ref);
				PROBE(5, true)
				took = false
			:: else -> skip
			fi
		};
		if
		:: res -> res = false; dispose()
		:: else -> put_back()
		fi
	:: else -> skip
	fi
}

/*
 * node_load, holding the interlock: idempotent if loaded; else load and
 * become resident with the cache's reference.  With -DLOADFAIL=1 the
 * load may fail (failed = true): FLUSH, drop our reference keeping the
 * interlock, dispose.
 */
inline node_load()
{
	atomic {
		assert(HOLDS_IL);
		if
		:: loaded ->
			PROBE(9, true)
			w = CNT(w); ghost_release()	/* hl_ref_interlock_done */
		:: !loaded ->
			CLAIM_GHOST(!cacheref && bufref == bufpend,
			    loaded_twice);
			PROBE(2, !fresh)
			loaded = 1; resident = 1; flush = 0;
			bufref++; cacheref = 1;
			w = CNT(w) + 1;		/* hl_ref, hl_ref_interlock_done */
			ghost_release()
#if LOADFAIL
		:: !loaded -> flush = 1; failed = true
#endif
		fi
	};
#if LOADFAIL
	if
	:: failed ->
		rel_locked();
		PROBE(8, CNT(w) > 0)
		dispose();
		got = false
	:: else -> skip
	fi;
	failed = false;
#endif
	fresh = false
}

/*
 * The miss path on a DEAD word: revive the node (a fresh object for the
 * key, flags 0) holding 1|LOCKED|CHECK, r = true.  If another user
 * revived it first, the search under the shard mutex finds it live: a
 * hit (hl_ref_live, then hl_check_interlock).
 */
inline miss()
{
	atomic {
		if
		:: w == DEAD ->
			assert(!loaded && !cacheref);
			PROBE(6, true)
			w = 1 | LOCKED | CHECK; ghost_acquire();
			resident = 0; flush = 0; uref++; r = true; fresh = true
		:: else ->
			COUNT_UP; uref++; r = false
		fi
	};
	if
	:: !r -> check_interlock()
	:: else -> skip
	fi
}

/*
 * hl_get_node: got = true if the node is ours, referenced and loaded.
 */
inline get()
{
	ref_live();
	if
	:: r -> r = false; got = true; check_interlock()
	:: else ->
#if REVIVE
		got = true; miss()
#else
		skip
#endif
	fi;
	if
	:: r -> r = false; node_load()
	:: else -> skip
	fi
}

/*
 * hl_rel_node: node_check_held (debug builds), then a plain decrement,
 * whatever the word holds: the caller's node is resident and held, so
 * the cache's reference is in the count too and this is never 1->0
 * (probe 11 watches for it).  A release build checks nothing here; a
 * debug build's node_check_held is property 3's claim.  Then, with our
 * reference gone, the flags: FLUSH set -> node_try_evict.
 */
inline release()
{
	atomic {
		CLAIM_HELD(loaded && resident && !ISDEAD(w) &&
		    CNT(w) >= nhold + 1, held_without_cache_ref);
		CLAIM_HELD(!ISDEAD(w), released_dead_word);
		CLAIM_HELD(CNT(w) > 1, released_no_reference);
		PROBE(11, CNT(w) <= 1)
		w = w - 1; uref--; nhold--
	};
	atomic { f = flush };
	if
	:: f -> f = false; try_evict()
	:: else -> skip
	fi
}

proctype user(byte n)
{
	int lv;
	bool r, took, idle, pend, d, res, got, fresh, f, failed;

	do
	:: n > 0 ->
		get();
		if
		:: got ->
			atomic {		/* use */
				CLAIM_C(loaded, used_unloaded_node);
				nhold++;
				CLAIM_HELD(resident && !ISDEAD(w) &&
				    CNT(w) >= nhold + 1,
				    held_without_cache_ref)
			};
			release();
			got = false
		:: else -> skip
		fi;
		n--
	:: else -> break
	od;
	finished++
}

/*
 * hl__flush_node_at, FLUSHES attempts, each with HL_FLUSH_TEARDOWN (mark
 * a node in use) or without (the pool).  Never sleeps.
 */
proctype flusher(byte n)
{
	int lv;
	bool r, took, idle, pend, d, res, tear;

	do
	:: n > 0 ->
		if
		:: tear = true
		:: tear = false
		fi;
		try_interlock_norefs();
		if
		:: r ->
			/* an idle structure: destroy it unless loaded */
			r = false;
			if
			:: atomic { loaded -> PROBE(12, true) skip };
			   put_interlock(0)
			:: atomic { !loaded -> skip };
			   PROBE(7, true)
			   destroy()
			fi
		:: else ->
			try_rel_interlock();
			if
			:: r ->
				r = false;
				atomic {
					res = resident;
					if
					:: res ->
						CLAIM_GHOST(took,
						    evict_took_users_ref);
						took = false
					:: else -> skip
					fi
				};
				if
				:: res ->
					/* node_unload, hl_rel of the buffer */
					res = false;
					atomic {
						loaded = 0; resident = 0;
						bufref--
					};
					destroy()
				:: else -> put_back()
				fi
			:: else ->
				if
				:: tear -> atomic { flush = 1 }
				:: else -> skip
				fi
			fi
		fi;
		tear = false;
		n--
	:: else -> break
	od;
	finished++
}

/* ---- global invariants (checked in every state) ---------------------- */
/* property 5: the count is the references held; LOCKED iff owned */
#define REFOK	(ISDEAD(w) || CNT(w) + borrowed == uref + cacheref)
#define ILOK	(ISDEAD(w) || ((w & LOCKED) != 0) == (owner != NOBODY))
#define DEADOK	(!ISDEAD(w) || (w == DEAD && owner == NOBODY && !loaded && \
		 !resident && !cacheref && uref == 0 && nhold == 0))
/* property 3: no interlock, so loaded == resident == the cache's ref */
#define RESOK	(owner != NOBODY || (loaded == resident && \
		 loaded == cacheref))
/*
 * property 8: a word of exactly 1 (one reference, no flags) is a
 * resident, loaded node's: what hl_get_node() relies on when its 1 -> 2
 * guess succeeds (it then checks the key only: resident means linked)
 */
#define IDLEOK	(w != 1 || (loaded && resident && cacheref))
/* property 6: the buffer reference follows loaded */
#define BUFOK	(bufref <= bufpend + 1 && \
		 (owner != NOBODY || bufref == bufpend + loaded))
/* on a violation, set the named flag and fail: "assertion violated !(flag)" */
#define CHECKED(c, flag)  :: atomic { !(c) -> flag = 1; assert(!flag) }

/*
 * Blocked unless an invariant fails in the current state, so it adds no
 * states; the end label makes it a valid end state.
 */
proctype monitor()
{
	bool refs_count_wrong, interlock_wrong, dead_word_wrong,
	    resident_without_cache_ref, buffer_ref_wrong,
	    idle_word_not_resident;

end:	if
#if CHECKS >= 1
	CHECKED(REFOK, refs_count_wrong)
	CHECKED(ILOK, interlock_wrong)
	CHECKED(DEADOK, dead_word_wrong)
	CHECKED(BUFOK, buffer_ref_wrong)
#endif
#if CHECKS >= 2
	CHECKED(RESOK, resident_without_cache_ref)
	CHECKED(IDLEOK, idle_word_not_resident)
#endif
	:: false
	fi
}

/* Property 7: the state once every worker has finished. */
proctype final()
{
	finished == NWORKERS;
#if CHECKS >= 1
	atomic {
		assert(owner == NOBODY && uref == 0 && nhold == 0 &&
		       borrowed == 0 && bufpend == 0);
		assert(bufref == loaded);
		if
		:: loaded -> assert(resident && cacheref && w == 1)
		:: else -> assert(!resident && !cacheref &&
				  (w == 0 || w == DEAD))
		fi
	}
#endif
}

init
{
	byte j;

	atomic {
		j = 0;
		do
		:: j < NUSERS -> run user(ITERS); j++
		:: else -> break
		od;
		j = 0;
		do
		:: j < NFLUSHERS -> run flusher(FLUSHES); j++
		:: else -> break
		od;
		run final();
		run monitor();
		j = 0
	}
}
