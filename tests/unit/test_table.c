/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_table.c - the object table's index probe, hl__tbl_line_match():
 * on random index lines (free entries, repeated tags, entries whose
 * object number equals the tag searched), the probe in use (the SSE2
 * one where the build has it) must give the answer of the plain
 * definition: the first entry whose low half is the tag, or 0.
 *
 * A wrong lane choice (the high halves compared instead of the low, or
 * the entries' order lost) fails here at once: the lines are built so
 * that every tag also appears as some entry's object number.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

/* After unit.h: table.h's <stdnoreturn.h> renames noreturn. */
#include "../../src/cache/table.h"

#define LINES 200000

/* The definition, slot by slot. */
static uint64_t
ref_match(const struct hl_tbl_line *ln, uint32_t tag)
{
	for (unsigned i = 0; i < HL_TBL_LINE_SLOTS; i++) {
		uint64_t x = atomic_load(&ln->e[i]);

		if ((uint32_t)x == tag)
			return x;
	}
	return 0;
}

static uint32_t
pick_tag(uint64_t *rng, const uint32_t *pool, unsigned npool)
{
	return pool[ht_rand_below(rng, npool)] | 1u;
}

int
main(int argc, char **argv)
{
	uint64_t seed = ht_seed(argc, argv), rng = seed;
	static struct hl_tbl_line ln;
	unsigned hits = 0, misses = 0, firsts = 0;

	printf("unit_table: probe %s, seed %" PRIu64 "\n",
#ifdef HL_TBL_SIMD
	    "sse2"
#else
	    "selects"
#endif
	    ,
	    seed);
	for (unsigned n = 0; n < LINES; n++) {
		uint32_t pool[4];
		uint32_t tag;
		uint64_t got, want;

		/* Few distinct values, so that tags repeat and collide with
		 * object numbers. */
		for (unsigned i = 0; i < 4; i++)
			pool[i] = (uint32_t)ht_rand(&rng) | 1u;
		for (unsigned i = 0; i < HL_TBL_LINE_SLOTS; i++) {
			uint64_t e = 0;

			if (ht_rand_below(&rng, 4) != 0)
				e = (uint64_t)pick_tag(&rng, pool, 4) << 32 |
				    pick_tag(&rng, pool, 4);
			atomic_store(&ln.e[i], e);
		}
		tag = ht_rand_below(&rng, 8) == 0 ? (uint32_t)ht_rand(&rng) | 1u
						  : pick_tag(&rng, pool, 4);
		got = hl__tbl_line_match(&ln, tag);
		want = ref_match(&ln, tag);
		HT_CHECK(got == want,
		    "line %u, tag %#x: probe gave %#" PRIx64
		    ", the first matching entry is %#" PRIx64,
		    n, tag, got, want);
		if (want == 0) {
			misses++;
		} else {
			hits++;
			firsts += atomic_load(&ln.e[0]) == want;
		}
	}
	/* The lines above must have exercised both answers. */
	HT_CHECK(hits > LINES / 4 && misses > LINES / 10 && firsts > 0,
	    "too few cases: %u hits, %u misses", hits, misses);
	printf(
	    "unit_table: %u lines, %u hits, %u misses\n", LINES, hits, misses);
	ht_pass("unit_table", 1);
	return 0;
}
