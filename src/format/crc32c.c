/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crc32c.c - CRC32C (Castagnoli), the checksum of headers and nodes.
 *
 * Two implementations compute the same function:
 *
 *   slice-by-8  eight 256-entry tables (8 KiB, built once on first use):
 *               table[0] is the classic byte-at-a-time table and
 *               table[k][b] is the CRC contribution of byte b followed by
 *               k zero bytes, so eight input bytes fold in with eight
 *               lookups and no loop-carried byte shifts;
 *   sse4.2      the x86 `crc32' instruction, eight bytes at a time (three
 *               interleaved chains over long inputs), in a function
 *               compiled for SSE4.2 and called only when the CPU reports
 *               it at run time.
 *
 * Both work on the reflected polynomial 0x82F63B78 with the usual
 * pre- and post-inversion, so the public value chains: the result for
 * "ab" is the result for "b" started from the result for "a".
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <hammerlock/format.h>

#if defined(__x86_64__) || defined(__i386__)
#define HL_CRC_X86 1
#include <nmmintrin.h>
#endif

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static uint32_t (*crc_best)(uint32_t, const uint8_t *, size_t);

static uint32_t crc_sw(uint32_t crc, const uint8_t *p, size_t len);

#ifdef __x86_64__
/*
 * Polynomial arithmetic for joining CRCs computed over separate pieces.
 * In the reflected representation bit 31 is x^0.  The raw register (no
 * inversions) is linear: the register after A then B is the register
 * after A multiplied by x^(8|B|) mod P, xor the register of B from 0.
 */
static uint32_t
crc_mulmod(uint32_t a, uint32_t b)
{
	uint32_t prod = 0;

	for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
		if (a & bit)
			prod ^= b;
		b = (b & 1) ? (b >> 1) ^ CRC32C_POLY : b >> 1;
	}
	return prod;
}

/* x^(8n) mod P: n zero bytes' worth of shift. */
static uint32_t
crc_xpow8n(size_t n)
{
	uint32_t r = 1u << 31, sq = 1u << 30; /* x^0, x^1 */

	for (n *= 8; n != 0; n >>= 1) {
		if (n & 1)
			r = crc_mulmod(r, sq);
		sq = crc_mulmod(sq, sq);
	}
	return r;
}
#endif

#ifdef HL_CRC_X86
/*
 * The crc32 instruction has a latency of three cycles and a throughput
 * of one: a single chain over a 4 KiB node waits on itself.  Long inputs
 * run three independent chains over three lanes of CRC_LANE bytes, then
 * join them (two multiplications mod P); a node's CRC takes about half
 * the time.
 */
#ifdef __x86_64__
#define CRC_LANE 1360u /* 3 lanes: 4080 bytes, a 4 KiB node's payload */
static uint32_t crc_lane_shift; /* x^(8 * CRC_LANE) mod P */
#endif

__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	/* Byte steps up to an 8-byte boundary keep the wide loads aligned. */
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		crc = _mm_crc32_u8(crc, *p++);
		len--;
	}
#ifdef __x86_64__
	uint64_t c64 = crc;

	while (len >= 3 * CRC_LANE) {
		uint64_t c1 = 0, c2 = 0, w0, w1, w2;

		for (size_t i = 0; i < CRC_LANE; i += 8) {
			memcpy(&w0, p + i, 8);
			memcpy(&w1, p + CRC_LANE + i, 8);
			memcpy(&w2, p + 2 * CRC_LANE + i, 8);
			c64 = _mm_crc32_u64(c64, w0);
			c1 = _mm_crc32_u64(c1, w1);
			c2 = _mm_crc32_u64(c2, w2);
		}
		c64 = crc_mulmod((uint32_t)c64, crc_lane_shift) ^ (uint32_t)c1;
		c64 = crc_mulmod((uint32_t)c64, crc_lane_shift) ^ (uint32_t)c2;
		p += 3 * CRC_LANE;
		len -= 3 * CRC_LANE;
	}
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c64 = _mm_crc32_u64(c64, w);
		p += 8;
		len -= 8;
	}
	crc = (uint32_t)c64;
#endif
	while (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		crc = _mm_crc32_u32(crc, w);
		p += 4;
		len -= 4;
	}
	while (len > 0) {
		crc = _mm_crc32_u8(crc, *p++);
		len--;
	}
	return crc;
}
#endif

static void
crc_init(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
		crc_tab[0][b] = c;
	}
	for (uint32_t b = 0; b < 256; b++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][b] = (crc_tab[t - 1][b] >> 8) ^
					crc_tab[0][crc_tab[t - 1][b] & 0xff];
	crc_best = crc_sw;
#ifdef HL_CRC_X86
	__builtin_cpu_init();
#ifdef __x86_64__
	crc_lane_shift = crc_xpow8n(CRC_LANE);
#endif
	if (__builtin_cpu_supports("sse4.2"))
		crc_best = crc_hw;
#endif
}

static uint32_t
crc_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
		len--;
	}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (len >= 8) {
		uint32_t lo, hi;

		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= crc;
		crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		      crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
		      crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
		      crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
		p += 8;
		len -= 8;
	}
#endif
	while (len > 0) {
		crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
		len--;
	}
	return crc;
}

uint32_t
hl_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	if (buf == NULL)
		return crc;
	return ~crc_sw(~crc, (const uint8_t *)buf, len);
}

uint32_t
hl_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	if (buf == NULL)
		return crc;
#ifdef HL_CRC_X86
	if (crc_best == crc_hw)
		return ~crc_hw(~crc, (const uint8_t *)buf, len);
#endif
	return ~crc_sw(~crc, (const uint8_t *)buf, len);
}

uint32_t
hl_crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	if (buf == NULL)
		return crc;
	return ~crc_best(~crc, (const uint8_t *)buf, len);
}

const char *
hl_crc32c_impl(void)
{
	pthread_once(&crc_once, crc_init);
#ifdef HL_CRC_X86
	if (crc_best == crc_hw)
		return "sse4.2";
#endif
	return "slice-by-8";
}
