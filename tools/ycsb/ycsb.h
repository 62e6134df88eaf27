/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ycsb.h - a small YCSB-style workload generator: key choosers (uniform,
 * Zipfian, scrambled Zipfian), operation mixes and keys, with no shared
 * state, for any key-value store benchmark.  It does not depend on
 * hammerlock (C11 and libm only).
 *
 * Threads.  A struct ycsb_gen holds the chooser's parameters, fixed by
 * ycsb_init(), and a random number generator that every draw advances.
 * Give each thread its own generator: ycsb_init() one, then
 * ycsb_fork() a copy per thread (same parameters, another random
 * stream, no zeta recomputation).  Nothing is shared, so no function here
 * takes a lock and all of them are thread-safe on distinct generators.
 *
 * The choosers follow YCSB 0.17 (core/generator/):
 *
 *   YCSB_DIST_ZIPFIAN    ZipfianGenerator, theta 0.99 (YCSB's
 *                        ZIPFIAN_CONSTANT), over [0, nitems): the
 *                        algorithm of Gray et al., "Quickly generating
 *                        billion-record synthetic databases" (SIGMOD
 *                        1994), with zeta(nitems) precomputed by
 *                        ycsb_init() (O(nitems) pow() calls).  Item 0 is
 *                        the most popular, then 1, 2...
 *   YCSB_DIST_SCRAMBLED  ScrambledZipfianGenerator, YCSB's default
 *                        request distribution: a Zipfian draw r, then
 *                        fnvhash64(r) % nitems, which scatters the
 *                        popular items over the item space.  As in YCSB,
 *                        r comes from a Zipfian over 10^10 items whose
 *                        zeta is the constant 26.46902820178302
 *                        (ScrambledZipfianGenerator.ZETAN), not over
 *                        nitems: nothing is precomputed, and the
 *                        popularity of the hottest items does not depend
 *                        on nitems.
 *   YCSB_DIST_UNIFORM    uniform over [0, nitems).
 *
 * Items and keys.  An item is a record number, 0..n-1, in insertion
 * order.  ycsb_key() turns it into the 64-bit key a store sees, by a
 * bijective hash, so that insertion order is not key order (YCSB's
 * "user" + fnvhash64(item) keys serve the same end; fnvhash64 is not
 * one-to-one, which a benchmark that checks its results cannot afford),
 * and ycsb_key_item() turns a key back into its item.
 *
 * Mixes (the core workloads of YCSB; proportions of operations):
 *
 *   A  update heavy   50% read, 50% update
 *   B  read mostly    95% read, 5% update
 *   C  read only      100% read
 *   E  short ranges   95% scan, 5% insert; scan length uniform in
 *                     1..100 (YCSB's maxscanlength, uniform)
 *   F  read-modify-write  50% read, 50% read-modify-write
 *   X  not YCSB: everything, deletes included, for stress runs: 40%
 *      read, 15% update, 10% scan, 25% insert, 9.5% delete, 0.5%
 *      range delete (the keys a scan from a chosen item finds, 1..100
 *      of them, so that whole leaves empty)
 *
 * Workload D (read latest) needs a chooser that follows the inserts
 * (YCSB's SkewedLatestGenerator, shared state) and is not provided.
 *
 * Inserts add new items at the end of the item space; YCSB then lets
 * the chooser draw only items already inserted.  ycsb_next_item_below()
 * does the same: initialise the chooser for the items the run may reach
 * (the loaded ones plus the inserts it expects) and draw below the
 * count of items inserted so far.
 */
#ifndef YCSB_H
#define YCSB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define YCSB_ZIPFIAN_CONSTANT	 0.99
#define YCSB_SCRAMBLED_ITEMS	 10000000000ULL /* 10^10 */
#define YCSB_SCRAMBLED_ZETAN	 26.46902820178302
#define YCSB_SCAN_LENGTH_DEFAULT 100

enum ycsb_dist {
	YCSB_DIST_UNIFORM,
	YCSB_DIST_ZIPFIAN,
	YCSB_DIST_SCRAMBLED,
};

enum ycsb_op {
	YCSB_OP_READ,
	YCSB_OP_UPDATE,
	YCSB_OP_INSERT,
	YCSB_OP_SCAN,
	YCSB_OP_RMW, /* read, then update the same item */
	YCSB_OP_DELETE,
	YCSB_OP_DELRANGE, /* not YCSB: delete what a scan finds */
	YCSB_NOPS
};

/* A random number generator: xoshiro256**, seeded through splitmix64. */
struct ycsb_rng {
	uint64_t s[4];
};

/* Seed: the same (seed, stream) always gives the same sequence. */
void ycsb_rng_init(struct ycsb_rng *r, uint64_t seed, uint64_t stream);
uint64_t ycsb_rng_next(struct ycsb_rng *r);
/* Uniform in [0, 1), 53 bits. */
double ycsb_rng_double(struct ycsb_rng *r);
/* Uniform in [0, n) without bias; 0 if n is 0. */
uint64_t ycsb_rng_below(struct ycsb_rng *r, uint64_t n);

/* One thread's chooser (see the top of the file). */
struct ycsb_gen {
	enum ycsb_dist dist;
	uint64_t items; /* draws are in [0, items) */
	/* The Zipfian's own parameters (zipfian and scrambled). */
	uint64_t zipf_items;
	double theta, alpha, zetan, eta, half_pow_theta;
	struct ycsb_rng rng;
};

/*
 * Set up a chooser over nitems items (>= 1), its random stream seeded
 * with seed.  Returns 0, or -1 for nitems 0 or an unknown dist.
 */
int ycsb_init(
    struct ycsb_gen *g, uint64_t nitems, enum ycsb_dist dist, uint64_t seed);

/* A copy of src with its own random stream (seed, stream). */
void ycsb_fork(struct ycsb_gen *dst, const struct ycsb_gen *src, uint64_t seed,
    uint64_t stream);

/* The next item, in [0, g->items). */
uint64_t ycsb_next_item(struct ycsb_gen *g);

/*
 * The next item below limit (1 <= limit <= g->items): draws again while
 * the item is >= limit, as YCSB does for items not yet inserted.  When
 * the draws keep missing (limit tiny next to the item count), it falls
 * back to a uniform draw below limit.  Returns 0 if limit is 0.
 */
uint64_t ycsb_next_item_below(struct ycsb_gen *g, uint64_t limit);

/* Zeta(n, theta) = sum over i = 1..n of 1 / i^theta, as YCSB computes it. */
double ycsb_zeta(uint64_t n, double theta);

/* YCSB's Utils.fnvhash64(): FNV-1a over the 8 bytes, low byte first,
 * then the absolute value as a Java long. */
uint64_t ycsb_fnvhash64(uint64_t v);

/* The key of an item (bijective), and the item of a key. */
uint64_t ycsb_key(uint64_t item);
uint64_t ycsb_key_item(uint64_t key);

/* An operation mix. */
struct ycsb_mix {
	const char *name; /* "A" */
	const char *descr;
	double p[YCSB_NOPS]; /* proportions, summing to 1 */
	uint32_t scan_max;   /* scan lengths are uniform in 1..scan_max */
};

/* The mixes above, in order, and their count. */
extern const struct ycsb_mix ycsb_mixes[];
extern const size_t ycsb_nmixes;

/* The mix named name (one letter, either case), or NULL. */
const struct ycsb_mix *ycsb_mix_find(const char *name);

/* The next operation of a mix (YCSB's DiscreteGenerator). */
enum ycsb_op ycsb_next_op(const struct ycsb_mix *mix, struct ycsb_rng *r);

/* The length of the next scan (or range delete): uniform in
 * 1..mix->scan_max. */
uint32_t ycsb_scan_len(const struct ycsb_mix *mix, struct ycsb_rng *r);

/* "read", "update", "insert", "scan", "rmw", "delete", "delrange". */
const char *ycsb_op_name(enum ycsb_op op);

#ifdef __cplusplus
}
#endif

#endif /* YCSB_H */
