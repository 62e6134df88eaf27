/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ycsb.c - the YCSB-style workload generator (see ycsb.h).
 */
#include <ctype.h>
#include <math.h>

#include "ycsb.h"

/* Draws ycsb_next_item_below() tries before falling back to uniform. */
#define YCSB_BELOW_TRIES 64

/* --- random numbers ------------------------------------------------------- */

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void
ycsb_rng_init(struct ycsb_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ splitmix64(&stream);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	/* All-zero is xoshiro's one bad state; splitmix64 makes it moot. */
	if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
		r->s[0] = 1;
}

uint64_t
ycsb_rng_next(struct ycsb_rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

double
ycsb_rng_double(struct ycsb_rng *r)
{
	return (double)(ycsb_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t
ycsb_rng_below(struct ycsb_rng *r, uint64_t n)
{
	uint64_t x, lim;

	if (n == 0)
		return 0;
	/* Reject the top partial range so that every residue is even. */
	lim = UINT64_MAX - UINT64_MAX % n;
	do
		x = ycsb_rng_next(r);
	while (x >= lim);
	return x % n;
}

/* --- choosers ------------------------------------------------------------- */

double
ycsb_zeta(uint64_t n, double theta)
{
	double sum = 0;

	for (uint64_t i = 0; i < n; i++)
		sum += 1 / pow((double)(i + 1), theta);
	return sum;
}

uint64_t
ycsb_fnvhash64(uint64_t v)
{
	uint64_t h = 0xCBF29CE484222325ULL;
	int64_t s;

	for (int i = 0; i < 8; i++) {
		h ^= v & 0xff;
		v >>= 8;
		h *= 1099511628211ULL;
	}
	/* Math.abs() of a Java long; Long.MIN_VALUE stays itself. */
	s = (int64_t)h;
	return s < 0 ? 0 - h : h;
}

/*
 * ZipfianGenerator(min 0, max items - 1, theta, zetan): items is the
 * count of the generator, zetan its zeta (given, not computed).
 */
static void
zipf_setup(struct ycsb_gen *g, uint64_t items, double zetan)
{
	double zeta2theta;

	g->zipf_items = items;
	g->theta = YCSB_ZIPFIAN_CONSTANT;
	zeta2theta = ycsb_zeta(2, g->theta);
	g->alpha = 1.0 / (1.0 - g->theta);
	g->zetan = zetan;
	g->eta = (1 - pow(2.0 / (double)items, 1 - g->theta)) /
		 (1 - zeta2theta / zetan);
	g->half_pow_theta = 1.0 + pow(0.5, g->theta);
}

/* ZipfianGenerator.nextLong(items) with the count fixed at setup. */
static uint64_t
zipf_next(struct ycsb_gen *g)
{
	double u = ycsb_rng_double(&g->rng), uz = u * g->zetan;
	uint64_t ret;

	if (uz < 1.0)
		return 0;
	if (uz < g->half_pow_theta)
		return 1;
	ret = (uint64_t)((double)g->zipf_items *
			 pow(g->eta * u - g->eta + 1, g->alpha));
	/* u < 1 keeps it below the count; rounding might not. */
	return ret < g->zipf_items ? ret : g->zipf_items - 1;
}

int
ycsb_init(
    struct ycsb_gen *g, uint64_t nitems, enum ycsb_dist dist, uint64_t seed)
{
	if (nitems == 0)
		return -1;
	*g = (struct ycsb_gen){.dist = dist, .items = nitems};
	switch (dist) {
	case YCSB_DIST_UNIFORM:
		break;
	case YCSB_DIST_ZIPFIAN:
		zipf_setup(g, nitems, ycsb_zeta(nitems, YCSB_ZIPFIAN_CONSTANT));
		break;
	case YCSB_DIST_SCRAMBLED:
		/* new ZipfianGenerator(0, ITEM_COUNT, 0.99, ZETAN): the
		 * count is max - min + 1. */
		zipf_setup(g, YCSB_SCRAMBLED_ITEMS + 1, YCSB_SCRAMBLED_ZETAN);
		break;
	default:
		return -1;
	}
	ycsb_rng_init(&g->rng, seed, 0);
	return 0;
}

void
ycsb_fork(struct ycsb_gen *dst, const struct ycsb_gen *src, uint64_t seed,
    uint64_t stream)
{
	*dst = *src;
	ycsb_rng_init(&dst->rng, seed, stream);
}

uint64_t
ycsb_next_item(struct ycsb_gen *g)
{
	uint64_t h;

	switch (g->dist) {
	case YCSB_DIST_ZIPFIAN:
		return zipf_next(g);
	case YCSB_DIST_SCRAMBLED:
		h = ycsb_fnvhash64(zipf_next(g));
		/* Only fnvhash64(x) == Long.MIN_VALUE is still "negative",
		 * where Java's % would give a negative item: keep it in range
		 * instead. */
		return h % g->items;
	case YCSB_DIST_UNIFORM:
	default:
		return ycsb_rng_below(&g->rng, g->items);
	}
}

uint64_t
ycsb_next_item_below(struct ycsb_gen *g, uint64_t limit)
{
	if (limit == 0)
		return 0;
	if (limit >= g->items)
		return ycsb_next_item(g);
	for (int i = 0; i < YCSB_BELOW_TRIES; i++) {
		uint64_t it = ycsb_next_item(g);

		if (it < limit)
			return it;
	}
	return ycsb_rng_below(&g->rng, limit);
}

/* --- keys ----------------------------------------------------------------- */

#define KEY_SALT 0x9e3779b97f4a7c15ULL /* so that item 0 is not key 0 */
#define FMIX_C1	 0xff51afd7ed558ccdULL
#define FMIX_C2	 0xc4ceb9fe1a85ec53ULL

/* The inverse of an odd number modulo 2^64 (Newton's iteration). */
static uint64_t
inv64(uint64_t a)
{
	uint64_t x = a; /* right to 3 bits; each step doubles that */

	for (int i = 0; i < 5; i++)
		x *= 2 - a * x;
	return x;
}

/* MurmurHash3's fmix64: each step is invertible. */
uint64_t
ycsb_key(uint64_t item)
{
	uint64_t k = item + KEY_SALT;

	k ^= k >> 33;
	k *= FMIX_C1;
	k ^= k >> 33;
	k *= FMIX_C2;
	k ^= k >> 33;
	return k;
}

uint64_t
ycsb_key_item(uint64_t key)
{
	uint64_t k = key;

	/* x ^= x >> 33 is its own inverse (33 > 64 / 2). */
	k ^= k >> 33;
	k *= inv64(FMIX_C2);
	k ^= k >> 33;
	k *= inv64(FMIX_C1);
	k ^= k >> 33;
	return k - KEY_SALT;
}

/* --- mixes ---------------------------------------------------------------- */

/* Proportions: read, update, insert, scan, rmw, delete, delrange. */
const struct ycsb_mix ycsb_mixes[] = {
    {"A", "update heavy: 50% read, 50% update", {0.50, 0.50, 0, 0, 0, 0, 0},
	YCSB_SCAN_LENGTH_DEFAULT},
    {"B", "read mostly: 95% read, 5% update", {0.95, 0.05, 0, 0, 0, 0, 0},
	YCSB_SCAN_LENGTH_DEFAULT},
    {"C", "read only: 100% read", {1.00, 0, 0, 0, 0, 0, 0},
	YCSB_SCAN_LENGTH_DEFAULT},
    {"E", "short ranges: 95% scan (1..100 keys), 5% insert",
	{0, 0, 0.05, 0.95, 0, 0, 0}, YCSB_SCAN_LENGTH_DEFAULT},
    {"F", "read-modify-write: 50% read, 50% read-modify-write",
	{0.50, 0, 0, 0, 0.50, 0, 0}, YCSB_SCAN_LENGTH_DEFAULT},
    {"X",
	"not YCSB: 40% read, 15% update, 10% scan, 25% insert, "
	"9.5% delete, 0.5% range delete (1..100 keys)",
	{0.40, 0.15, 0.25, 0.10, 0, 0.095, 0.005}, YCSB_SCAN_LENGTH_DEFAULT},
};

const size_t ycsb_nmixes = sizeof(ycsb_mixes) / sizeof(ycsb_mixes[0]);

const struct ycsb_mix *
ycsb_mix_find(const char *name)
{
	if (name == NULL || name[0] == '\0' || name[1] != '\0')
		return NULL;
	for (size_t i = 0; i < ycsb_nmixes; i++)
		if (ycsb_mixes[i].name[0] == toupper((unsigned char)name[0]))
			return &ycsb_mixes[i];
	return NULL;
}

enum ycsb_op
ycsb_next_op(const struct ycsb_mix *mix, struct ycsb_rng *r)
{
	double v = ycsb_rng_double(r);
	int last = YCSB_OP_READ;

	for (int op = 0; op < YCSB_NOPS; op++) {
		if (mix->p[op] <= 0)
			continue;
		if (v < mix->p[op])
			return (enum ycsb_op)op;
		v -= mix->p[op];
		last = op;
	}
	/* Rounding left v just past the sum: the last operation. */
	return (enum ycsb_op)last;
}

uint32_t
ycsb_scan_len(const struct ycsb_mix *mix, struct ycsb_rng *r)
{
	uint32_t max = mix->scan_max > 0 ? mix->scan_max : 1;

	return 1 + (uint32_t)ycsb_rng_below(r, max);
}

const char *
ycsb_op_name(enum ycsb_op op)
{
	static const char *const names[YCSB_NOPS] = {
	    "read", "update", "insert", "scan", "rmw", "delete", "delrange"};

	return (unsigned)op < YCSB_NOPS ? names[op] : "?";
}
