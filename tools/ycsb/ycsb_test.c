/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ycsb_test.c - checks of the workload generator: keys are a bijection,
 * draws are reproducible and in range, the choosers have the shape
 * YCSB's have, and the mixes their proportions.  Exit 0 on success.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ycsb.h"

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);            \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
			failures++;                                            \
		}                                                              \
	} while (0)

static void
test_keys(void)
{
	static const uint64_t edge[] = {0, 1, 2, UINT64_MAX, UINT64_MAX - 1,
	    1ULL << 63, 0x123456789abcdefULL};
	struct ycsb_rng r;

	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		CHECK(ycsb_key_item(ycsb_key(edge[i])) == edge[i],
		    "item %#" PRIx64 " does not come back", edge[i]);
	ycsb_rng_init(&r, 1, 2);
	for (int i = 0; i < 100000; i++) {
		uint64_t x = ycsb_rng_next(&r);

		CHECK(ycsb_key_item(ycsb_key(x)) == x, "item %#" PRIx64, x);
		CHECK(ycsb_key(ycsb_key_item(x)) == x, "key %#" PRIx64, x);
	}
	/* Consecutive items do not give ordered keys. */
	{
		int up = 0;

		for (uint64_t i = 0; i < 1000; i++)
			up += ycsb_key(i + 1) > ycsb_key(i);
		CHECK(up > 400 && up < 600, "%d of 1000 keys ascend", up);
	}
}

static void
test_fnv(void)
{
	/* FNV-1a 64 of the 8 zero bytes, the value YCSB hashes for item 0. */
	uint64_t h = 0xCBF29CE484222325ULL;

	for (int i = 0; i < 8; i++)
		h *= 1099511628211ULL;
	if ((int64_t)h < 0)
		h = 0 - h;
	CHECK(ycsb_fnvhash64(0) == h, "fnvhash64(0) = %#" PRIx64,
	    ycsb_fnvhash64(0));
	CHECK((int64_t)ycsb_fnvhash64(12345) >= 0, "fnvhash64 is negative");
}

static void
test_rng(void)
{
	struct ycsb_rng a, b;
	int same = 1;
	double sum = 0;

	ycsb_rng_init(&a, 42, 7);
	ycsb_rng_init(&b, 42, 7);
	for (int i = 0; i < 1000; i++)
		same &= ycsb_rng_next(&a) == ycsb_rng_next(&b);
	CHECK(same, "same seed, different sequences");
	ycsb_rng_init(&b, 42, 8);
	CHECK(ycsb_rng_next(&a) != ycsb_rng_next(&b), "streams collide");
	for (int i = 0; i < 100000; i++) {
		double d = ycsb_rng_double(&a);

		CHECK(d >= 0 && d < 1, "double %g", d);
		sum += d;
	}
	CHECK(fabs(sum / 100000 - 0.5) < 0.01, "mean %g", sum / 100000);
	for (int i = 0; i < 10000; i++)
		CHECK(ycsb_rng_below(&a, 7) < 7, "below 7");
	CHECK(ycsb_rng_below(&a, 0) == 0, "below 0");
}

/* Frequencies of the draws of a chooser over n items. */
static uint64_t *
histogram(enum ycsb_dist dist, uint64_t n, int draws, struct ycsb_gen *g)
{
	uint64_t *h = calloc(n, sizeof(*h));

	if (h == NULL || ycsb_init(g, n, dist, 99) != 0) {
		printf("FAIL: setup\n");
		exit(1);
	}
	for (int i = 0; i < draws; i++) {
		uint64_t it = ycsb_next_item(g);

		if (it >= n) {
			CHECK(0, "item %" PRIu64 " out of [0, %" PRIu64 ")", it,
			    n);
			continue;
		}
		h[it]++;
	}
	return h;
}

static int
cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

static void
test_choosers(void)
{
	const uint64_t n = 10000;
	const int draws = 1000000;
	struct ycsb_gen g, f;
	uint64_t *h;
	double p0, p1;

	/* Zipfian over n: P(i) = 1 / ((i + 1)^theta * zeta(n)). */
	h = histogram(YCSB_DIST_ZIPFIAN, n, draws, &g);
	p0 = 1 / ycsb_zeta(n, YCSB_ZIPFIAN_CONSTANT);
	p1 = p0 / pow(2, YCSB_ZIPFIAN_CONSTANT);
	CHECK(fabs((double)h[0] / draws - p0) < 0.01 * p0 + 0.002,
	    "zipfian P(0) %g, expected %g", (double)h[0] / draws, p0);
	CHECK(fabs((double)h[1] / draws - p1) < 0.01 * p1 + 0.002,
	    "zipfian P(1) %g, expected %g", (double)h[1] / draws, p1);
	CHECK(h[0] > h[10] && h[10] > h[1000], "zipfian not decreasing");
	free(h);

	/* Scrambled: the hottest item has YCSB's 1 / ZETAN, elsewhere. */
	h = histogram(YCSB_DIST_SCRAMBLED, n, draws, &g);
	p0 = 1 / YCSB_SCRAMBLED_ZETAN;
	CHECK(h[ycsb_fnvhash64(0) % n] >= h[0],
	    "scrambled: the hot item is not fnvhash64(0) %% n");
	qsort(h, n, sizeof(*h), cmp_desc);
	CHECK(fabs((double)h[0] / draws - p0) < 0.1 * p0,
	    "scrambled top share %g, expected about %g", (double)h[0] / draws,
	    p0);
	free(h);

	/* Uniform: every item near draws / n. */
	h = histogram(YCSB_DIST_UNIFORM, n, draws, &g);
	qsort(h, n, sizeof(*h), cmp_desc);
	CHECK(h[0] < 3 * draws / n && h[n - 1] > draws / n / 3,
	    "uniform spread %" PRIu64 "..%" PRIu64, h[n - 1], h[0]);
	free(h);

	/* Forks draw other sequences with the same parameters. */
	ycsb_init(&g, n, YCSB_DIST_SCRAMBLED, 5);
	ycsb_fork(&f, &g, 5, 1);
	CHECK(f.zetan == g.zetan && f.items == g.items, "fork parameters");
	{
		int same = 0;

		for (int i = 0; i < 100; i++)
			same += ycsb_next_item(&f) == ycsb_next_item(&g);
		CHECK(same < 50, "fork draws %d of 100 the same", same);
	}
	for (int i = 0; i < 10000; i++)
		CHECK(ycsb_next_item_below(&g, 17) < 17, "below 17");
	CHECK(ycsb_init(&g, 0, YCSB_DIST_UNIFORM, 1) == -1, "0 items");
}

static void
test_mixes(void)
{
	const int draws = 1000000;
	struct ycsb_rng r;

	ycsb_rng_init(&r, 3, 0);
	CHECK(ycsb_mix_find("a") == ycsb_mix_find("A") &&
		  ycsb_mix_find("A") != NULL,
	    "mix A");
	CHECK(ycsb_mix_find("D") == NULL && ycsb_mix_find("AB") == NULL,
	    "mix D or AB exists");
	for (size_t m = 0; m < ycsb_nmixes; m++) {
		const struct ycsb_mix *mix = &ycsb_mixes[m];
		uint64_t cnt[YCSB_NOPS] = {0};
		double sum = 0;

		for (int i = 0; i < draws; i++)
			cnt[ycsb_next_op(mix, &r)]++;
		for (int op = 0; op < YCSB_NOPS; op++) {
			double got = (double)cnt[op] / draws;

			sum += mix->p[op];
			CHECK(fabs(got - mix->p[op]) < 0.005,
			    "mix %s %s: %g, expected %g", mix->name,
			    ycsb_op_name((enum ycsb_op)op), got, mix->p[op]);
		}
		CHECK(
		    fabs(sum - 1) < 1e-9, "mix %s sums to %g", mix->name, sum);
	}
	for (int i = 0; i < 10000; i++) {
		uint32_t l = ycsb_scan_len(ycsb_mix_find("E"), &r);

		CHECK(l >= 1 && l <= 100, "scan length %u", l);
	}
}

int
main(void)
{
	test_keys();
	test_fnv();
	test_rng();
	test_choosers();
	test_mixes();
	printf("ycsb_test: %s (%d failures)\n", failures ? "FAIL" : "ok",
	    failures);
	return failures ? 1 : 0;
}
