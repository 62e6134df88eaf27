/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_table.c - the object table's index probe, hl__tbl_line_match():
 * on random index lines (free entries, repeated tags, entries whose
 * object number equals the tag searched), the probe in use (the SSE2
 * one where the build has it) must give the answer of the plain
 * definition: the first entry whose tag is the one searched, with its
 * object number, or 0; and hl__tbl_line_obj(), the hit path's form, the
 * object that entry names (the sentinel for a number 0), or NULL.
 *
 * A wrong lane choice (the numbers compared instead of the tags, or the
 * entries' order lost) fails here at once: the lines are built so that
 * every tag also appears as some entry's object number, and free
 * entries keep numbers.
 *
 * Also the line a hit reads, hl__tbl_key_line(), taken from the hash
 * without the bucket's number: for random keys and every table size, it
 * must be the line of the key's bucket.  A wrong one gives no wrong
 * answer (the chain walk answers every index miss), only slow hits, so
 * no other test would notice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

/* After unit.h: table.h's <stdnoreturn.h> renames noreturn. */
#include "../../src/cache/table.h"

#define LINES 200000

/* The definition, slot by slot: number << 32 | tag, or 0. */
static uint64_t
ref_match(const struct hl_tbl_line *ln, uint32_t tag)
{
	for (unsigned i = 0; i < HL_TBL_LINE_SLOTS; i++)
		if (atomic_load(&ln->tag[i]) == tag)
			return (uint64_t)atomic_load(&ln->onum[i]) << 32 | tag;
	return 0;
}

static uint32_t
pick_tag(uint64_t *rng, const uint32_t *pool, unsigned npool)
{
	return pool[ht_rand_below(rng, npool)] | 1u;
}

/* hl__tbl_key_line() is the line of the key's bucket, at every size. */
static void
test_key_line(uint64_t *rng)
{
	static struct hl_tbl_line lines[8];
	struct hl_table t;
	unsigned checked = 0;

	memset(&t, 0, sizeof(t));
	/* Not read: only addresses are compared. */
	t.lines = lines;
	for (unsigned lg = 0; lg <= 30; lg++) {
		t.mask = (uint32_t)((1ull << lg) - 1);
		t.lmask = hl__tbl_lmask(t.mask);
		for (unsigned i = 0; i < 20000; i++) {
			/* Offsets as the cache has them: zone, volume, and
			 * aligned to the smallest node size. */
			uint64_t key = HL_OFF_MAKE(ht_rand_below(rng, 256),
			    ht_rand(rng) & HL_OFF_SHORT_MASK & ~(uint64_t)127);
			const struct hl_tbl_line *want =
			    &t.lines[hl__tbl_bucket(&t, key) /
				     HL_TBL_LINE_BUCKETS];

			HT_CHECK(hl__tbl_key_line(&t, key) == want,
			    "%u buckets, key %#" PRIx64 ": line %td, the "
			    "bucket's is %td",
			    t.mask + 1, key, hl__tbl_key_line(&t, key) - lines,
			    want - lines);
			checked++;
		}
	}
	printf("unit_table: key lines: %u keys, 1 to 2^30 buckets\n", checked);
}

int
main(int argc, char **argv)
{
	uint64_t seed = ht_seed(argc, argv), rng = seed;
	static struct hl_tbl_line ln;
	struct hl_table t;
	unsigned hits = 0, misses = 0, firsts = 0, sentinels = 0;

	printf("unit_table: probe %s, seed %" PRIu64 "\n",
#ifdef HL_TBL_SIMD
	    "sse2"
#else
	    "selects"
#endif
	    ,
	    seed);
	/* For hl__tbl_line_obj(): only addresses are compared. */
	memset(&t, 0, sizeof(t));
	t.ebase = (uintptr_t)1 << 40;
	for (unsigned n = 0; n < LINES; n++) {
		uint32_t pool[4];
		uint32_t tag;
		uint64_t got, want;

		/* Few distinct values, so that tags repeat and collide with
		 * object numbers. */
		for (unsigned i = 0; i < 4; i++)
			pool[i] = (uint32_t)ht_rand(&rng) | 1u;
		/* A free entry (tag 0) may keep a stale number; an
		 * entry's number may be 0 (freed under a reader). */
		for (unsigned i = 0; i < HL_TBL_LINE_SLOTS; i++) {
			bool used = ht_rand_below(&rng, 4) != 0;

			atomic_store(
			    &ln.tag[i], used ? pick_tag(&rng, pool, 4) : 0);
			atomic_store(
			    &ln.onum[i], ht_rand_below(&rng, 16) == 0
					     ? 0
					     : pick_tag(&rng, pool, 4));
		}
		tag = ht_rand_below(&rng, 8) == 0 ? (uint32_t)ht_rand(&rng) | 1u
						  : pick_tag(&rng, pool, 4);
		got = hl__tbl_line_match(&ln, tag);
		want = ref_match(&ln, tag);
		HT_CHECK(got == want,
		    "line %u, tag %#x: probe gave %#" PRIx64
		    ", the first matching entry is %#" PRIx64,
		    n, tag, got, want);
		/* The hit path's form: the object, the sentinel for a
		 * number 0, NULL for no match. */
		HT_CHECK(hl__tbl_line_obj(&t, &ln, tag) ==
			     (want == 0 ? NULL : hl__tbl_eobj(&t, want)),
		    "line %u, tag %#x: hl__tbl_line_obj gave %p, the "
		    "first matching entry is %#" PRIx64,
		    n, tag, (void *)hl__tbl_line_obj(&t, &ln, tag), want);
		if (want == 0) {
			misses++;
		} else {
			hits++;
			firsts += atomic_load(&ln.tag[0]) == tag;
			sentinels += (want >> 32) == 0;
		}
	}
	/* The lines above must have exercised both answers. */
	HT_CHECK(hits > LINES / 4 && misses > LINES / 10 && firsts > 0 &&
		     sentinels > 0,
	    "too few cases: %u hits (%u to the sentinel), %u misses", hits,
	    sentinels, misses);
	printf("unit_table: %u lines, %u hits (%u to the sentinel), %u "
	       "misses\n",
	    LINES, hits, sentinels, misses);
	test_key_line(&rng);
	ht_pass("unit_table", 1);
	return 0;
}
