/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * table.h - the object table shared by buffers and nodes: a hash table of
 * type-stable objects with lock-free hits (doc/design.md section 10).
 *
 * Every object starts with a struct hl_obj.  Object memory comes from
 * the table's arena, a chunk at a time, and is never freed before the
 * table is: a destroyed object has the refs word DEAD and waits on a
 * free list for another key.  So a stale pointer, read by a lookup that
 * raced a destruction, always points at a valid lock word, and
 * hl_ref_live() refuses the DEAD one.
 *
 * Chains are singly linked through atomic `hnext' pointers.  Readers walk
 * them without a lock; insertion and removal take the chain's shard
 * mutex.  A reader on an object that was removed (or recycled into
 * another chain) may end its walk early: a lock-free miss is only a hint,
 * and the caller retries under the shard mutex, where a miss is the
 * truth.
 *
 * An object is the object for `key' only while it is linked and its key
 * matches; a lookup re-checks both after its reference makes them stable
 * (neither changes while a reference is held: an object is unlinked and
 * re-keyed only once it is DEAD).
 */
#ifndef HL_CACHE_TABLE_H
#define HL_CACHE_TABLE_H

#include <pthread.h>
#include <stdalign.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdnoreturn.h>

#include <hammerlock.h>

#include "../core/debug.h"
#include "../core/stripe.h"
#include "freelist.h"

#define HL_HIDDEN __attribute__((visibility("hidden")))

/* The core's misuse report (src/core/diag.c); never returns. */
HL_HIDDEN noreturn void hl__fatal(
    const char *func, const struct hl_lock *l, const char *msg);
struct hl_obj;
/* hl__fatal() on object o's lock, the message formatted (printf). */
HL_HIDDEN noreturn void hl__obj_fatal(const char *func, struct hl_obj *o,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define HL_TBL_SHARDS	    256u  /* shard mutexes, by bucket */
#define HL_TBL_CHUNK	    1024u /* objects per allocation chunk */
#define HL_TBL_MAXCHUNKS    8192u /* so at most 8M objects per table */
#define HL_TBL_ARENA_STEP   ((size_t)2 << 20) /* a huge page */
#define HL_TBL_HUGE_BUCKETS (1u << 16)	      /* huge pages from here */
#define HL_TBL_WALK_LIMIT   64u	       /* lock-free hops before falling back */
#define HL_TBL_NOKEY	    UINT64_MAX /* key of an object being discarded */
#define HL_TBL_HOMEFREE	    (UINT64_MAX - 1) /* key of a free home slot */
#define HL_TBL_LINE_SLOTS   8u /* index entries per 64-byte line */
#define HL_TBL_LINE_BUCKETS 8u /* buckets sharing an index line */
/* Tables with this many buckets or more: the index probe speculates. */
#define HL_TBL_SPEC_BUCKETS (1u << 20)
/* ... and tables asking for home slots have them (hl__tbl_home). */
#define HL_TBL_HOME_BUCKETS (1u << 20)

struct hl_obj {
	struct hl_lock lock;	      /* refs: DEAD when destroyed */
	_Atomic uint64_t key;	      /* which offset this object is */
	struct hl_obj *_Atomic hnext; /* chain link */
	_Atomic bool linked;	      /* reachable from its chain */
	_Atomic uint8_t used;	      /* hit since the pool looked (CLOCK) */
	_Atomic uint32_t flags;	      /* the object type's flags */
	struct hl_obj *fnext;	      /* free list (its stripe's mutex) */
	void *ext; /* the type's cold part (hl__tbl_init), or NULL; fixed */
};

/*
 * The index: one 64-byte line per eight buckets, holding up to eight
 * entries for the objects linked on those buckets' chains, so that a hit
 * reads one index line and the object's own line, as an open-address
 * table would, instead of walking a chain through other objects' lines.
 * An entry is two 32-bit words, the key's tag (hl__tbl_tag; 0: a free
 * entry) among the line's eight tags, and the object's place in the
 * table's arena, in 64-byte units, plus one, among its eight numbers:
 * half the size of (key, pointer) pairs, so that more of a big table's
 * index stays in the CPU caches, and the tags side by side, so that the
 * probe compares them as they lie (hl__tbl_line_mask).  As a value (what
 * hl__tbl_line_match() returns) an entry is the number in the high half
 * of a 64-bit word and the tag in the low.
 *
 * The index is only a cache in front of the chains: written under the
 * buckets' shard mutex (the buckets of a line share one), read without a
 * lock.  An entry may be stale or name another key with the same tag,
 * and a reader may pair a slot's tag with the number of another entry
 * that held the slot; any number names some object of the table (0: the
 * sentinel, hl__tbl_nobj), and every answer is validated exactly as a
 * chain walk's is (a reference by hl_ref_live, then the object's own
 * key and linked flag).  An object that finds no free entry in a full
 * line lives on its chain only and is found there.
 */
struct hl_tbl_line {
	alignas(64) _Atomic uint32_t tag[HL_TBL_LINE_SLOTS];
	_Atomic uint32_t onum[HL_TBL_LINE_SLOTS];
};

/*
 * Slot i's object number.  Acquire, pairing with the release that stores
 * it (tbl_index_add): the number a reader gets may be newer than the tag
 * it matched, so the tag's acquire does not cover it, and the object it
 * names must be seen as its allocator made it (a DEAD word, never the
 * zeroes of a chunk not yet set up).  A plain load on x86.
 */
static inline uint32_t
hl__tbl_slot_num(const struct hl_tbl_line *ln, unsigned i)
{
	return atomic_load_explicit(&ln->onum[i], memory_order_acquire);
}

struct hl_table_shard {
	pthread_mutex_t mtx;
	char pad[64 - sizeof(pthread_mutex_t) % 64];
};

struct hl_table {
	const char *name; /* "buffer", "node": for messages */
	size_t objsize;
	size_t xsize;	/* each object's cold part, or 0 */
	uint32_t mask;	/* buckets - 1 */
	uint64_t lmask; /* mask / LINE_BUCKETS, in bytes of lines */
	bool spec;	/* index probe: speculate (hl__tbl_index_find) */
	bool plain;	/* !spec and no home slots */
	uint32_t nhome; /* home slots (mask + 1), or 0: see hl__tbl_home */
	struct hl_obj *_Atomic *buckets;
	struct hl_tbl_line *lines; /* the index: lines[b / LINE_BUCKETS] */
	size_t lines_size;	   /* bytes mapped for it */
	struct hl_table_shard *shards;

	char *arena;	   /* the home slots, then the chunks' objects */
	char *chunks;	   /* object nhome + i at chunks + i * objsize */
	size_t hstride;	   /* bytes per home slot: object and cold part */
	uintptr_t ebase;   /* arena - 64: an entry's object, hl__tbl_eobj */
	size_t arena_size; /* reserved */

	/*
	 * Written on loads and unloads: lines of their own, away from the
	 * read-mostly fields above that every hit reads.  Free objects are
	 * on per-thread stripes (a thread frees what it reclaims and
	 * allocates what it loads, mostly the same count).
	 */
	alignas(64) pthread_mutex_t alloc_mtx; /* chunk growth */
	size_t committed; /* bytes of the arena usable (ARENA_STEP steps) */
	_Atomic uint32_t nobjs;	 /* objects made (whole chunks): release */
	struct hl_freelist free; /* DEAD objects, linked through fnext */
	/* Written on misses: per-thread stripes, summed when read. */
	struct {
		alignas(64) _Atomic uint64_t n;
	} index_misses[HL_FL_STRIPES];
};

/*
 * Object i of the table, for scans: i below a hl__tbl_nobjs() the caller
 * read (its acquire orders the object's construction before our reads).
 * The home slots come first; a scan skips hl__tbl_unused() objects.
 */
static inline struct hl_obj *
hl__tbl_obj(struct hl_table *t, uint32_t i)
{
	if (i < t->nhome)
		return (struct hl_obj *)(t->arena + (size_t)i * t->hstride);
	return (
	    struct hl_obj *)(t->chunks + (size_t)(i - t->nhome) * t->objsize);
}

static inline uint32_t
hl__tbl_nobjs(struct hl_table *t)
{
	return atomic_load_explicit(&t->nobjs, memory_order_acquire);
}

static inline uint64_t
hl__obj_key(const struct hl_obj *o)
{
	return atomic_load_explicit(&o->key, memory_order_relaxed);
}

/*
 * A key's hash, for its bucket and its index tag (hl__tbl_tag): the key
 * times 2^64/phi (Fibonacci hashing: offsets are aligned, and the
 * product's upper half mixes their high bits down).  The bucket is taken
 * from bits 32-63 of the product.
 */
#define HL_TBL_HASH_MUL 0x9E3779B97F4A7C15ULL

static inline uint32_t
hl__tbl_bucket(const struct hl_table *t, uint64_t key)
{
	return (uint32_t)((key * HL_TBL_HASH_MUL) >> 32) & t->mask;
}

/*
 * The home slot of bucket b: object b of the arena, in a table that has
 * home slots (t->nhome != 0).  An object is placed there, when the slot
 * is free, by hl__tbl_alloc(); it is then found by reading that one line,
 * with no index line before it, so a hit in a table too big for the CPU
 * caches costs one cache miss instead of two.  Objects that found their
 * home taken live elsewhere in the arena and are found through the
 * index.  A home slot's key word tells its state: 0, never used (the
 * page may still be the kernel's zero page); HL_TBL_HOMEFREE, a DEAD
 * object free for the next key of its bucket; anything else, an object
 * with the usual life (its refs word says whether it is DEAD).  Like any
 * object, one read through a home slot may be stale: it is validated as
 * an index entry's is.  A slot is the object's line and, on the next
 * line, its cold part (no allocation per slot; 128 bytes a bucket).
 */
static inline struct hl_obj *
hl__tbl_home(const struct hl_table *t, uint32_t b)
{
	return (struct hl_obj *)(t->arena + (size_t)b * t->hstride);
}

/*
 * The object in bucket b's home slot if its key is key, else NULL (also
 * in a table without home slots).  Key 0, no valid offset, is a
 * never-used slot's.
 */
static inline struct hl_obj *
hl__tbl_home_find(const struct hl_table *t, uint32_t b, uint64_t key)
{
	struct hl_obj *o;

	if (t->nhome == 0 || key == 0)
		return NULL;
	o = hl__tbl_home(t, b);
	return hl__obj_key(o) == key ? o : NULL;
}

/* For scans over hl__tbl_obj(): a DEAD object or a never-used home slot. */
static inline bool
hl__tbl_unused(struct hl_obj *o)
{
	return atomic_load_explicit(&o->lock.refs, memory_order_relaxed) ==
		   HL_REFS_DEAD ||
	       hl__obj_key(o) == 0;
}

/*
 * The index line of key's bucket (lines[bucket / LINE_BUCKETS]) straight
 * from the hash: bits 35 and up of the product, times the line size, are
 * (hash >> 29) masked to the lines (t->lmask, hl__tbl_lmask(t->mask)).
 * Two instructions fewer between a key and the load of its line than by
 * way of the bucket's number.  A wrong line would not give wrong answers
 * (the chain walk answers every index miss) but every hit would be slow:
 * unit_table checks it against the bucket's line.
 */
static inline uint64_t
hl__tbl_lmask(uint32_t mask)
{
	return (uint64_t)(mask / HL_TBL_LINE_BUCKETS) *
	       sizeof(struct hl_tbl_line);
}

static inline const struct hl_tbl_line *
hl__tbl_key_line(const struct hl_table *t, uint64_t key)
{
	return (const struct hl_tbl_line *)((const char *)t->lines +
					    (((key * HL_TBL_HASH_MUL) >> 29) &
						t->lmask));
}

/*
 * A key's tag in the index: bits 0-31 of the hash that the bucket comes
 * from (hl__tbl_bucket), so that one multiply gives both; the low bit is
 * set so that a tag is never 0 (a free entry's).  The multiplier is
 * odd, so two keys that differ in their low 32 bits have different
 * tags: only keys a multiple of 4 GiB apart (on a big volume, or at one
 * offset of two volumes) can share one, and then only if they also share
 * an index line.  A shared tag costs a lookup the chain walk,
 * never a wrong answer (see hl__tbl_index_probe).
 */
static inline uint32_t
hl__tbl_tag(uint64_t key)
{
	return (uint32_t)(key * HL_TBL_HASH_MUL) | 1u;
}

/*
 * x if x is an entry with tag, else e; a conditional move, never a branch
 * (GCC turns some selects into branches: the exact probe must not).
 */
static inline uint64_t
hl__tbl_select(uint64_t e, uint64_t x, uint32_t tag)
{
#if defined(__x86_64__) && defined(__GNUC__)
	__asm__("cmpl %k[x], %[tag]\n\tcmove %[x], %[e]"
		: [e] "+r"(e)
		: [x] "r"(x), [tag] "r"(tag)
		: "cc");
	return e;
#else
	return (uint32_t)x == tag ? x : e;
#endif
}

/*
 * The first entry of line ln with tag (number << 32 | tag), or 0: the
 * exact probe, which never branches on which entry matched (see
 * hl__tbl_index_ref).  With SSE2, the eight tags are compared at once
 * and the match's position taken from the compare mask; that entry's
 * number is then read, on its own, by an atomic load, whatever it now
 * holds: the vector read is only a hint.  A number that changed in
 * between is 0 (the sentinel: the caller walks the chain, where a miss
 * is the truth) or names some object of the table, which the caller's
 * identity check turns away, as it does any stale entry.  13
 * instructions from the line to the object, which matters more than it
 * seems: the shorter a hit, the more of the next hits fit in the CPU's
 * reorder window with their cache misses in flight.  ThreadSanitizer
 * builds use the selects: the vector read of the atomic tags would be,
 * to it, a plain read racing their writers.
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HL_TBL_TSAN 1
#endif
#endif
#if defined(__SSE2__) && !defined(__SANITIZE_THREAD__) && !defined(HL_TBL_TSAN)
#define HL_TBL_SIMD 1
#endif

#ifdef HL_TBL_SIMD
/*
 * The number of the entry at the lowest set bit of a hl__tbl_line_mask()
 * mask: that bit is twice the slot, so twice the bit is the number's
 * byte offset (one addressing mode, no shift).
 */
static inline uint32_t
hl__tbl_mask_onum(const struct hl_tbl_line *ln, unsigned m)
{
	const char *p =
	    (const char *)ln->onum + 2 * (size_t)(unsigned)__builtin_ctz(m);

	/* Acquire: see hl__tbl_slot_num. */
	return atomic_load_explicit(
	    (const _Atomic uint32_t *)(const void *)p, memory_order_acquire);
}

/* The SSE2 compare: two mask bits per entry whose tag is tag, in order. */
static inline unsigned
hl__tbl_line_mask(const struct hl_tbl_line *ln, uint32_t tag)
{
	const __m128i *v = (const __m128i *)(const void *)ln->tag;
	__m128i tv = _mm_set1_epi32((int)tag);

	return (unsigned)_mm_movemask_epi8(
	    _mm_packs_epi32(_mm_cmpeq_epi32(_mm_load_si128(v + 0), tv),
		_mm_cmpeq_epi32(_mm_load_si128(v + 1), tv)));
}
#endif

static inline uint64_t
hl__tbl_line_match(const struct hl_tbl_line *ln, uint32_t tag)
{
#ifdef HL_TBL_SIMD
	unsigned m = hl__tbl_line_mask(ln, tag);

	if (HL_UNLIKELY(m == 0))
		return 0;
	return (uint64_t)hl__tbl_mask_onum(ln, m) << 32 | tag;
#else
	uint64_t e = 0;
	unsigned i;

	/* Select, not branch: a conditional move per entry. */
#pragma GCC unroll 8
	for (i = HL_TBL_LINE_SLOTS; i-- > 0;) {
		uint32_t tg =
		    atomic_load_explicit(&ln->tag[i], memory_order_acquire);
		uint64_t x = (uint64_t)hl__tbl_slot_num(ln, i) << 32 | tg;

		e = hl__tbl_select(e, x, tag);
	}
	return e;
#endif
}

/*
 * The object an index entry's number names: for 0 (a freed entry), the
 * table's sentinel, a DEAD object that no reference takes
 * (tbl_arena_map).  Never NULL.
 */
static inline struct hl_obj *
hl__tbl_nobj(const struct hl_table *t, uint32_t num)
{
	struct hl_obj *o = (struct hl_obj *)(t->ebase + ((uintptr_t)num << 6));

	if (o == NULL) /* spares the callers a second test */
		__builtin_unreachable();
	return o;
}

/* The same, from an entry as a value (hl__tbl_line_match). */
static inline struct hl_obj *
hl__tbl_eobj(const struct hl_table *t, uint64_t e)
{
	return hl__tbl_nobj(t, (uint32_t)(e >> 32));
}

/*
 * The object of the first entry of ln with tag (hl__tbl_line_match), or
 * NULL when no entry has it.  With SSE2, an entry that was freed between
 * the compare and its second read is 0: it names the sentinel, which
 * every reference refuses as it does any DEAD object (so the caller walks
 * the chain), and the hit path needs no test of its own for it.
 */
static inline struct hl_obj *
hl__tbl_line_obj(
    const struct hl_table *t, const struct hl_tbl_line *ln, uint32_t tag)
{
	/* tag != 0, so a match is never 0, whatever its number (inlined,
	 * the compiler sees it and tests only the SSE2 mask). */
	uint64_t e = hl__tbl_line_match(ln, tag);

	return e != 0 ? hl__tbl_eobj(t, e) : NULL;
}

/*
 * We hold a reference on o (hl_ref_live succeeded): is it the object for
 * key?  Its key and linked flag cannot change any more (it cannot die
 * while referenced), and the acquire of our reference ordered these
 * loads after the writes its constructor made before reviving it.
 */
static inline bool
hl__tbl_is(struct hl_obj *o, uint64_t key)
{
	return hl__obj_key(o) == key &&
	       atomic_load_explicit(&o->linked, memory_order_relaxed);
}

/*
 * hl__tbl_ref() in two steps, for a caller that acts on which one took
 * the reference.  hl__tbl_ref_idle(): hl_ref_live(), guessing the word
 * of a resident object that nobody else holds (1: the cache's
 * reference), 1 -> 2.  A compare-and-swap with no load before it asks
 * for the line once, for writing; measured at 1M nodes, loading it first
 * cost about 25 ns more per hit.  A wrong guess costs one failed
 * compare-and-swap and leaves the word it found in *lvp, for
 * hl__tbl_ref_seen(): hl_ref_live() itself (full), or, without full, only
 * its inline fast path (N -> N+1 with CHECK clear).
 */
static inline bool
hl__tbl_ref_idle(struct hl_obj *o, uint32_t *lvp)
{
	*lvp = 1;
	return atomic_compare_exchange_strong_explicit(
	    &o->lock.refs, lvp, 2, memory_order_acquire, memory_order_relaxed);
}

static inline bool
hl__tbl_ref_seen(struct hl_obj *o, uint32_t lv, bool full)
{
	if (full)
		return hl_ref_live(&o->lock);
	return hl__refs_plain(lv) &&
	       atomic_compare_exchange_strong_explicit(&o->lock.refs, &lv,
		   lv + 1, memory_order_acquire, memory_order_relaxed);
}

/*
 * Reference a hit (see hl__tbl_index_ref), or false.  With !full, only
 * the inline attempts, no call (a caller's fast path that goes on to the
 * full lookup when this fails).
 */
static inline bool
hl__tbl_ref(struct hl_obj *o, bool full)
{
	uint32_t lv;

	return hl__tbl_ref_idle(o, &lv) || hl__tbl_ref_seen(o, lv, full);
}

/*
 * The lock-free hit through the index, inline for the callers' hit
 * paths, in two steps.  hl__tbl_index_probe(): the object that key's home
 * slot or an index entry with key's tag names, not referenced, or NULL
 * when neither has one (then hl__tbl_find(), which walks the chain).
 * hl__tbl_index_ref(): that object, referenced by hl_ref_live() (so
 * CHECK may be set: go on with hl_check_interlock()), or NULL.  The
 * entry may be stale or another key's with the same tag: the caller must
 * check the object's identity (hl__tbl_is()) once it holds the reference
 * and release it if it is not key's, as hl__tbl_index_find() does.  With
 * !full, NULL also when the reference needs more than the inline
 * compare-and-swaps (see hl__tbl_ref): for a fast path that makes no
 * call.  Never sleeps.
 *
 * Two probes, the same answer.  A table too big for the CPU caches
 * (t->spec) branches on each slot: slots fill from the first, the
 * predicted path fetches the object as soon as the index line arrives,
 * and the CPU runs ahead into the caller's next lookup (measured at 1M
 * nodes: 1.7x the floor's time per hit, against 3.0x without).  A
 * smaller table finds the matching slot without a branch on which one
 * (hl__tbl_line_match): a mispredicted branch would touch, speculatively,
 * the object of another key, and when other threads hold those lines in
 * their caches, taking them away costs more than any run-ahead wins
 * (measured at 1K nodes, two threads on disjoint halves: 1.9x one
 * thread's throughput exact, 1.2x speculating).
 */
static inline struct hl_obj *
hl__tbl_index_probe(struct hl_table *t, uint64_t key)
{
	const struct hl_tbl_line *ln = hl__tbl_key_line(t, key);
	uint32_t tag = hl__tbl_tag(key);
	uint32_t b;
	struct hl_obj *o;
	unsigned i;

	/* Most tables: no home slots, the exact probe; one test. */
	if (HL_LIKELY(t->plain))
		return hl__tbl_line_obj(t, ln, tag);
	/* The key's home slot first: one line, the object's own. */
	b = hl__tbl_bucket(t, key);
	if ((o = hl__tbl_home_find(t, b, key)) != NULL)
		return o;

	/*
	 * The first entry with key's tag only: a line holds one entry per
	 * linked object, and a second match is another key's (the same
	 * tag) or a stale entry, for the chain (the caller's next step on
	 * NULL) to answer.
	 */
	if (!t->spec)
		return hl__tbl_line_obj(t, ln, tag);
#pragma GCC unroll 8
	for (i = 0; i < HL_TBL_LINE_SLOTS; i++)
		if (atomic_load_explicit(&ln->tag[i], memory_order_acquire) ==
		    tag)
			return hl__tbl_nobj(t, hl__tbl_slot_num(ln, i));
	return NULL;
}

static inline struct hl_obj *
hl__tbl_index_ref(struct hl_table *t, uint64_t key, bool full)
{
	struct hl_obj *o = hl__tbl_index_probe(t, key);

	return o != NULL && hl__tbl_ref(o, full) ? o : NULL;
}

/* hl__tbl_index_ref() and the identity check (hl__tbl_is()). */
static inline struct hl_obj *
hl__tbl_index_find(
    struct hl_table *t, uint64_t key, void (*release)(struct hl_obj *))
{
	struct hl_obj *o = hl__tbl_index_ref(t, key, true);

	if (o == NULL || HL_LIKELY(hl__tbl_is(o, key)))
		return o;
	release(o); /* a stale entry, or another key's tag */
	return NULL;
}

/*
 * nbuckets is rounded up to a power of two.  objsize >= sizeof(struct
 * hl_obj), the object type's own fields following the header.  xsize:
 * the size of a cold part kept apart from the objects (o->ext), so that
 * a type whose hits touch only the header has objects of one cache line
 * packed together (fewer pages and lines per hit); 0 for none.  home: a
 * home slot per bucket (hl__tbl_home) if the table has at least
 * HL_TBL_HOME_BUCKETS, for a table whose hits are the hot path (nbuckets
 * slots of address space more, touched as used).
 */
HL_HIDDEN int hl__tbl_init(struct hl_table *t, const char *name, size_t objsize,
    size_t xsize, size_t nbuckets, bool home);
HL_HIDDEN void hl__tbl_destroy(struct hl_table *t);

/*
 * Lookup.  Returns the linked, live object for key with a reference
 * taken by hl_ref_live() (so CHECK may be set: the caller goes on with
 * hl_check_interlock()), or NULL when there is none.  `release' drops a
 * reference taken on an object that turned out not to be the one (see
 * the header comment); it must be the object type's normal release.
 * locked: walk under the shard mutex (authoritative); otherwise without.
 * Never sleeps (the shard mutex aside).
 */
HL_HIDDEN struct hl_obj *hl__tbl_find(struct hl_table *t, uint64_t key,
    bool locked, void (*release)(struct hl_obj *));

/*
 * The linked object for key, not DEAD when seen, without taking a
 * reference (found under the shard mutex): for non-blocking callers,
 * which go on with hl_try_interlock_norefs() and, holding the interlock,
 * re-check that the key still matches and the object is linked.
 */
HL_HIDDEN struct hl_obj *hl__tbl_peek(struct hl_table *t, uint64_t key);
/*
 * hl__tbl_peek() without the shard mutex: the index, then the chain for a
 * bounded number of hops.  It may miss an object (a chain link recycled
 * under the walk, or a DEAD twin met first); for callers to whom a miss
 * is harmless.
 */
HL_HIDDEN struct hl_obj *hl__tbl_peek_fast(struct hl_table *t, uint64_t key);

/*
 * Lock-free and reference-free: an object whose key was `key' when the
 * walk passed it, or NULL (a hint only, like every lock-free miss).  The
 * object may die or change identity at any moment: the caller needs its
 * own validation (hl_peek_node: the node's version word).
 */
HL_HIDDEN struct hl_obj *hl__tbl_lookup(struct hl_table *t, uint64_t key);
/* Lookups the index did not answer (the sum of the stripes). */
HL_HIDDEN uint64_t hl__tbl_index_misses(struct hl_table *t);

/*
 * A DEAD object for a new key: from the free list or a new chunk, with
 * its key set, unlinked, hnext cleared.  Revive it (hl_revive_interlock)
 * before hl__tbl_insert.  NULL if the table is full or out of memory.
 */
HL_HIDDEN struct hl_obj *hl__tbl_alloc(struct hl_table *t, uint64_t key);

/*
 * Publish `fresh' (revived: the caller holds its interlock) unless a
 * live object for its key is already linked: then return that one,
 * referenced with hl_ref_live(), and leave fresh unpublished (the caller
 * discards it: hl__tbl_discard).  Returns fresh when it was published.
 */
HL_HIDDEN struct hl_obj *hl__tbl_insert(
    struct hl_table *t, struct hl_obj *fresh, void (*release)(struct hl_obj *));

/*
 * The caller holds o's interlock with no reference and has dropped its
 * contents.  Make it DEAD, unlink it and free it: true.  If a lookup
 * referenced it meanwhile, false: the interlock is still held and the
 * caller must release it with a non-zero error (so that the newcomer
 * loads the object again).
 */
HL_HIDDEN bool hl__tbl_kill(struct hl_table *t, struct hl_obj *o);

/*
 * A late collision: the caller revived `fresh' (holding its interlock
 * and one reference) but never published it.  Drop both; the object is
 * freed now, or by the release of a stale lookup that referenced it.
 * fresh's type must treat an unlinked object without contents as one to
 * destroy on its 1->0 release.
 */
HL_HIDDEN void hl__tbl_discard(struct hl_table *t, struct hl_obj *fresh);

#endif /* HL_CACHE_TABLE_H */
