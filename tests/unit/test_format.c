/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_format.c - the on-disk format: CRC32C vectors and implementations,
 * offset macros, volume header encode/decode and every validation error
 * with its message, node seal/check, offset checks, the node walk, and
 * newfs + probe on files in a temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static int npassed;
static char tmpdir[64];

#define PASS() npassed++

/* A valid header with a fixed mount id. */
static void
good_header(struct hl_volume_header *vh)
{
	hl_volhdr_init(vh);
	for (int i = 0; i < HL_MOUNT_ID_SIZE; i++)
		vh->mount_id[i] = (uint8_t)(0xA0 + i);
	vh->vol_count = 3;
	vh->vol_no = 1;
	vh->vol_size = 1 << 20;
	vh->create_time = 1700000000;
	hl_volhdr_set_freemap(vh);
}

static void
reseal_header(uint8_t *b)
{
	hl_le32_put(b + HL_VOLHDR_OFF_CRC, hl_volhdr_crc(b));
}

/* Decode b; expect `err' and a message containing `substr'. */
static void
expect_decode(const uint8_t *b, size_t len, int err, const char *substr)
{
	struct hl_volume_header out;
	char why[256] = "";
	int e = hl_volhdr_decode(b, len, &out, why, sizeof(why));

	HT_CHECK(
	    e == err, "decode: got %d (%s), want %d (%s)", e, why, err, substr);
	if (substr != NULL)
		HT_CHECK(strstr(why, substr) != NULL,
		    "decode message '%s' lacks '%s'", why, substr);
}

/* Patch a header field: 4- or 8-byte little-endian, then reseal. */
static void
patch32(const struct hl_volume_header *vh, int off, uint32_t v, int err,
    const char *substr)
{
	uint8_t b[HL_VOLHDR_SIZE];

	HT_CHECK(hl_volhdr_encode(vh, b, sizeof(b), NULL, 0) == 0, "encode");
	hl_le32_put(b + off, v);
	reseal_header(b);
	expect_decode(b, sizeof(b), err, substr);
}

static void
patch64(const struct hl_volume_header *vh, int off, uint64_t v, int err,
    const char *substr)
{
	uint8_t b[HL_VOLHDR_SIZE];

	HT_CHECK(hl_volhdr_encode(vh, b, sizeof(b), NULL, 0) == 0, "encode");
	hl_le64_put(b + off, v);
	reseal_header(b);
	expect_decode(b, sizeof(b), err, substr);
}

static void
test_crc_vectors(void)
{
	uint8_t buf[32];
	const char *s = "123456789";

	HT_CHECK(hl_crc32c(0, s, 9) == 0xE3069283u, "check value %08x",
	    hl_crc32c(0, s, 9));
	HT_CHECK(hl_crc32c_sw(0, s, 9) == 0xE3069283u, "sw check value");
	HT_CHECK(hl_crc32c_hw(0, s, 9) == 0xE3069283u, "hw check value");
	HT_CHECK(hl_crc32c(0, s, 0) == 0, "empty");
	HT_CHECK(hl_crc32c(0x1234, NULL, 5) == 0x1234, "NULL buffer");
	/* RFC 3720 (iSCSI) B.4 vectors. */
	memset(buf, 0, sizeof(buf));
	HT_CHECK(hl_crc32c(0, buf, 32) == 0x8A9136AAu, "32 zeros");
	memset(buf, 0xff, sizeof(buf));
	HT_CHECK(hl_crc32c(0, buf, 32) == 0x62A8AB43u, "32 0xff");
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	HT_CHECK(hl_crc32c(0, buf, 32) == 0x46DD794Eu, "incrementing");
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	HT_CHECK(hl_crc32c(0, buf, 32) == 0x113FDB5Cu, "decrementing");
	/* Chaining. */
	HT_CHECK(
	    hl_crc32c(hl_crc32c(0, s, 4), s + 4, 5) == 0xE3069283u, "chained");
	printf("crc32c implementation: %s\n", hl_crc32c_impl());
	PASS();
}

static void *
crc_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		if (hl_crc32c(0, "123456789", 9) != 0xE3069283u ||
		    hl_crc32c_sw(0, "123456789", 9) != 0xE3069283u)
			return (void *)1;
	return NULL;
}

/* First use from several threads at once: the tables are built once. */
static void
test_crc_threads(void)
{
	pthread_t t[4];
	void *r;

	for (int i = 0; i < 4; i++)
		HT_CHECK(pthread_create(&t[i], NULL, crc_thread, NULL) == 0,
		    "pthread_create");
	for (int i = 0; i < 4; i++) {
		HT_CHECK(pthread_join(t[i], &r) == 0, "join");
		HT_CHECK(r == NULL, "thread %d saw a wrong CRC", i);
	}
	PASS();
}

static void
test_crc_agree(uint64_t *rs)
{
	enum { MAX = 9000 };
	uint8_t *buf = malloc(MAX + 16);

	HT_CHECK(buf != NULL, "malloc");
	for (int i = 0; i < MAX + 16; i++)
		buf[i] = (uint8_t)ht_rand(rs);
	for (int it = 0; it < 3000; it++) {
		size_t align = ht_rand(rs) % 16;
		size_t len = ht_rand(rs) % (it < 1000 ? 64 : MAX);
		uint32_t seed = (uint32_t)ht_rand(rs);
		uint32_t a = hl_crc32c_sw(seed, buf + align, len);
		uint32_t b = hl_crc32c_hw(seed, buf + align, len);
		uint32_t c = hl_crc32c(seed, buf + align, len);
		size_t cut = len ? ht_rand(rs) % len : 0;
		uint32_t d = hl_crc32c(hl_crc32c_sw(seed, buf + align, cut),
		    buf + align + cut, len - cut);

		HT_CHECK(a == b && b == c && c == d,
		    "len %zu align %zu: sw %08x hw %08x auto %08x split %08x",
		    len, align, a, b, c, d);
	}
	free(buf);
	PASS();
}

static void
test_offsets(void)
{
	uint64_t off = HL_OFF_MAKE(3, 0x12345);

	HT_CHECK(HL_OFF_ZONE(off) == HL_ZONE_RAW, "zone %u", HL_OFF_ZONE(off));
	HT_CHECK(HL_OFF_VOL(off) == 3, "vol");
	HT_CHECK(HL_OFF_SHORT(off) == 0x12345, "short");
	HT_CHECK(off == 0x2030000000012345ULL, "value %llx",
	    (unsigned long long)off);
	off = HL_OFF_MAKE(255, HL_OFF_SHORT_MASK);
	HT_CHECK(
	    off == 0x2FFFFFFFFFFFFFFFULL, "max %llx", (unsigned long long)off);
	HT_CHECK(HL_OFF_VOL(off) == 255, "vol 255");
	/* Out-of-field arguments are cut to their field. */
	HT_CHECK(HL_OFF_MAKE(256, 0) == HL_OFF_MAKE(0, 0), "vol masked");
	HT_CHECK(
	    HL_OFF_MAKE(1, 1ULL << 52) == HL_OFF_MAKE(1, 0), "short masked");
	HT_CHECK(
	    (HL_OFF_ZONE_MASK ^ HL_OFF_VOL_MASK ^ HL_OFF_SHORT_MASK) == ~0ULL &&
		(HL_OFF_ZONE_MASK & HL_OFF_VOL_MASK) == 0 &&
		(HL_OFF_VOL_MASK & HL_OFF_SHORT_MASK) == 0,
	    "masks partition the word");
	PASS();
}

static void
test_header_roundtrip(void)
{
	struct hl_volume_header vh, out;
	uint8_t b[HL_VOLHDR_SIZE + 8];
	char why[256];

	good_header(&vh);
	vh.root_node = HL_OFF_MAKE(0, 5 * 16384 + 4096);
	memset(b, 0xEE, sizeof(b));
	HT_CHECK(hl_volhdr_encode(&vh, b, sizeof(b), why, sizeof(why)) == 0,
	    "%s", why);
	HT_CHECK(b[HL_VOLHDR_SIZE] == 0xEE, "wrote past 512 bytes");
	/* The documented layout, byte for byte. */
	HT_CHECK(memcmp(b, "HAMMERLK", 8) == 0, "magic bytes");
	HT_CHECK(hl_le32_get(b + 8) == HL_FORMAT_VERSION &&
		     hl_le32_get(b + 12) == 512,
	    "version/size");
	HT_CHECK(hl_le32_get(b + 16) == 1 && hl_le32_get(b + 20) == 3,
	    "vol_no/count");
	HT_CHECK(b[24] == 0xA0 && b[39] == 0xAF, "mount id");
	HT_CHECK(hl_le32_get(b + 40) == 16384 && hl_le32_get(b + 44) == 4096,
	    "sizes");
	HT_CHECK(hl_le64_get(b + 48) == 1 << 20, "vol_size");
	HT_CHECK(hl_le64_get(b + 56) == vh.root_node, "root");
	HT_CHECK(hl_le64_get(b + 64) == 1700000000, "ctime");
	/* Free map: the first data node; 255 slots fit one map node. */
	HT_CHECK(hl_le64_get(b + 72) == HL_OFF_MAKE(1, 16384) &&
		     hl_le64_get(b + 80) == 4096,
	    "free map fields");
	for (int i = 88; i < 508; i++)
		HT_CHECK(b[i] == 0, "byte %d not zero", i);
	HT_CHECK(hl_le32_get(b + 508) == hl_crc32c(0, b, 508), "crc");
	HT_CHECK(
	    hl_volhdr_decode(b, HL_VOLHDR_SIZE, &out, why, sizeof(why)) == 0,
	    "%s", why);
	vh.crc = out.crc;
	HT_CHECK(memcmp(&vh, &out, sizeof(vh)) == 0, "round trip");
	HT_CHECK(out.crc == hl_le32_get(b + 508), "crc member");
	/* Decode accepts a longer buffer and NULL why/out. */
	HT_CHECK(hl_volhdr_decode(b, sizeof(b), NULL, NULL, 0) == 0, "long");
	/* Encode refuses what decode would refuse. */
	vh.vol_no = 3;
	HT_CHECK(
	    hl_volhdr_encode(&vh, b, sizeof(b), why, sizeof(why)) == EINVAL,
	    "encode bad vol_no");
	HT_CHECK(
	    strstr(why, "volume number 3 out of range") != NULL, "%s", why);
	vh.vol_no = 0;
	HT_CHECK(hl_volhdr_encode(&vh, b, 511, why, sizeof(why)) == EINVAL,
	    "encode short buffer");
	HT_CHECK(hl_volhdr_encode(NULL, b, 512, why, sizeof(why)) == EINVAL,
	    "encode NULL");
	hl_volhdr_init(&vh);
	HT_CHECK(hl_volhdr_encode(&vh, b, 512, why, sizeof(why)) == EINVAL &&
		     strstr(why, "mount id is all zero") != NULL,
	    "init needs a mount id: %s", why);
	PASS();
}

static void
test_header_errors(void)
{
	struct hl_volume_header vh;
	uint8_t b[HL_VOLHDR_SIZE];
	char why[256], small[8];

	good_header(&vh);
	HT_CHECK(hl_volhdr_encode(&vh, b, sizeof(b), NULL, 0) == 0, "encode");

	expect_decode(b, 511, EINVAL, "needs 512 bytes, got 511");
	expect_decode(NULL, 512, EINVAL, "needs 512 bytes");
	/* Bad magic: checked before the CRC, even with a valid CRC. */
	patch64(&vh, HL_VOLHDR_OFF_MAGIC, 0x1122334455667788ULL, EINVAL,
	    "bad magic 0x1122334455667788");
	{
		uint8_t z[HL_VOLHDR_SIZE] = {0};

		expect_decode(z, sizeof(z), EINVAL, "not a hammerlock volume");
	}
	patch32(&vh, HL_VOLHDR_OFF_VERSION, 1, ENOTSUP,
	    "format version 1 is not supported (this build reads version 3)");
	patch32(&vh, HL_VOLHDR_OFF_VERSION, 2, ENOTSUP,
	    "format version 2 is not supported (this build reads version 3)");
	patch32(&vh, HL_VOLHDR_OFF_VERSION, 0, ENOTSUP, "format version 0");
	/* The version is reported even when the rest is another layout. */
	{
		uint8_t c[HL_VOLHDR_SIZE];

		memcpy(c, b, sizeof(c));
		hl_le32_put(c + HL_VOLHDR_OFF_VERSION, 7);
		memset(c + 200, 0x5A, 100);
		expect_decode(c, sizeof(c), ENOTSUP, "format version 7");
	}
	patch32(&vh, HL_VOLHDR_OFF_HDRSIZE, 1024, EINVAL,
	    "header size 1024 is not 512");
	/* Bad CRC: any byte in [0, 508) or the CRC itself. */
	{
		uint8_t c[HL_VOLHDR_SIZE];
		uint32_t good = hl_le32_get(b + HL_VOLHDR_OFF_CRC);

		memcpy(c, b, sizeof(c));
		c[300] ^= 1;
		expect_decode(c, sizeof(c), EBADMSG, "header CRC mismatch");
		snprintf(why, sizeof(why), "stored 0x%08x", good);
		expect_decode(c, sizeof(c), EBADMSG, why);
		memcpy(c, b, sizeof(c));
		c[HL_VOLHDR_OFF_CRC + 3] ^= 0x80;
		expect_decode(c, sizeof(c), EBADMSG, "computed");
	}
	patch32(&vh, HL_VOLHDR_OFF_VOL_COUNT, 0, EINVAL,
	    "volume count 0 out of range (1..256)");
	patch32(&vh, HL_VOLHDR_OFF_VOL_COUNT, 257, EINVAL,
	    "volume count 257 out of range");
	patch32(&vh, HL_VOLHDR_OFF_VOL_NO, 3, EINVAL,
	    "volume number 3 out of range (volume count 3)");
	patch32(&vh, HL_VOLHDR_OFF_VOL_NO, 0xFFFFFFFFu, EINVAL,
	    "volume number 4294967295 out of range");
	{
		uint8_t c[HL_VOLHDR_SIZE];

		memcpy(c, b, sizeof(c));
		memset(c + HL_VOLHDR_OFF_MOUNT_ID, 0, HL_MOUNT_ID_SIZE);
		reseal_header(c);
		expect_decode(c, sizeof(c), EINVAL, "mount id is all zero");
	}
	patch32(&vh, HL_VOLHDR_OFF_NODESIZE, 4000, EINVAL,
	    "node size 4000 is not a power of two between 128 and 1048576");
	patch32(&vh, HL_VOLHDR_OFF_NODESIZE, 64, EINVAL, "node size 64");
	patch32(&vh, HL_VOLHDR_OFF_NODESIZE, 0, EINVAL, "node size 0");
	patch32(&vh, HL_VOLHDR_OFF_NODESIZE, 32768, EINVAL,
	    "buffer size 16384 is smaller than the node size 32768");
	patch32(&vh, HL_VOLHDR_OFF_BUFSIZE, 20000, EINVAL,
	    "buffer size 20000 is not a power of two");
	patch32(&vh, HL_VOLHDR_OFF_BUFSIZE, 1u << 21, EINVAL,
	    "buffer size 2097152 is not a power of two between 128 and "
	    "1048576");
	patch32(&vh, HL_VOLHDR_OFF_BUFSIZE, 0, EINVAL, "buffer size 0");
	patch64(&vh, HL_VOLHDR_OFF_VOL_SIZE, (1 << 20) + 4096, EINVAL,
	    "volume size 1052672 is not a multiple of the buffer size 16384");
	patch64(&vh, HL_VOLHDR_OFF_VOL_SIZE, 16384, EINVAL,
	    "volume size 16384 is less than 2 buffers (32768 bytes)");
	patch64(&vh, HL_VOLHDR_OFF_VOL_SIZE, 0, EINVAL, "volume size 0");
	patch64(&vh, HL_VOLHDR_OFF_VOL_SIZE, (1ULL << 52) + 16384, EINVAL,
	    "exceeds the 52-bit offset space");
	/* Root node offsets. */
	patch64(&vh, HL_VOLHDR_OFF_ROOT, HL_OFF_MAKE(0, 16384) ^ (1ULL << 60),
	    EINVAL, "root node 0x3000000000004000: zone 3 is not the raw zone");
	patch64(&vh, HL_VOLHDR_OFF_ROOT, HL_OFF_MAKE(3, 16384), EINVAL,
	    "root node 0x2030000000004000: volume 3 out of range (volume "
	    "count 3)");
	patch64(&vh, HL_VOLHDR_OFF_ROOT, HL_OFF_MAKE(0, 16384 + 100), EINVAL,
	    "not aligned to the node size (4096)");
	patch64(&vh, HL_VOLHDR_OFF_ROOT, HL_OFF_MAKE(0, 4096), EINVAL,
	    "inside the volume header buffer");
	patch64(&vh, HL_VOLHDR_OFF_ROOT, HL_OFF_MAKE(1, 1 << 20), EINVAL,
	    "past the end of volume 1");
	/* Another volume's end is not known here: accepted. */
	patch64(&vh, HL_VOLHDR_OFF_ROOT, HL_OFF_MAKE(2, 1 << 20), 0, NULL);
	patch64(&vh, HL_VOLHDR_OFF_FM_OFF, 16384, EINVAL,
	    "free map at 0x0000000000004000, 4096 bytes; this geometry puts "
	    "it at 0x2010000000004000, 4096 bytes");
	patch64(&vh, HL_VOLHDR_OFF_FM_SIZE, 1, EINVAL, "free map at");
	{
		uint8_t c[HL_VOLHDR_SIZE];

		memcpy(c, b, sizeof(c));
		c[400] = 0x42;
		reseal_header(c);
		expect_decode(
		    c, sizeof(c), EINVAL, "reserved byte 400 is 0x42, not 0");
		c[400] = 0;
		c[507] = 1;
		reseal_header(c);
		expect_decode(c, sizeof(c), EINVAL, "reserved byte 507");
	}
	/* create_time is informative: any value. */
	patch64(&vh, HL_VOLHDR_OFF_CTIME, ~0ULL, 0, NULL);

	/* A tiny or absent message buffer is never overrun. */
	memset(small, 'x', sizeof(small));
	HT_CHECK(hl_volhdr_decode(b, 100, NULL, small, 4) == EINVAL, "small");
	HT_CHECK(small[3] == '\0' && small[4] == 'x', "why truncated safely");
	HT_CHECK(hl_volhdr_decode(b, 100, NULL, NULL, 100) == EINVAL, "null");
	HT_CHECK(hl_volhdr_validate(NULL, why, sizeof(why)) == EINVAL, "NULL");
	PASS();
}

static void
expect_off(int line, const struct hl_volume_header *vh, uint64_t off,
    size_t bytes, int err, const char *sub)
{
	char why[256] = "";
	int e = hl_off_check(vh, off, bytes, why, sizeof(why));

	HT_CHECK(e == err, "line %d: off_check(%llx, %zu) = %d: %s", line,
	    (unsigned long long)off, bytes, e, why);
	if (sub != NULL)
		HT_CHECK(strstr(why, sub) != NULL, "line %d: '%s' lacks '%s'",
		    line, why, sub);
}

static void
test_off_check(void)
{
	struct hl_volume_header vh;
	char why[256];
	const uint64_t V = 1 << 20;

#define OFFCHK(off, bytes, err, sub)                                           \
	expect_off(__LINE__, &vh, (off), (bytes), (err), (sub))

	good_header(&vh);
	OFFCHK(HL_OFF_MAKE(1, 16384), 4096, 0, NULL);
	OFFCHK(HL_OFF_MAKE(1, V - 4096), 4096, 0, NULL);
	OFFCHK(HL_OFF_MAKE(1, V - 16384), 16384, 0, NULL);
	OFFCHK(HL_OFF_MAKE(1, 16384 + 24), 100, 0, NULL);
	OFFCHK(HL_OFF_MAKE(1, 16384 + 1), 1, 0, NULL);
	OFFCHK(HL_OFF_MAKE(1, 16384) & ~HL_OFF_ZONE_MASK, 4096, EINVAL,
	    "zone 0 is not the raw zone (2)");
	OFFCHK(
	    HL_OFF_MAKE(1, 16384) | HL_OFF_ZONE_MASK, 4096, EINVAL, "zone 15");
	OFFCHK(HL_OFF_MAKE(2, 16384), 4096, EINVAL,
	    "names volume 2, not volume 1");
	OFFCHK(HL_OFF_MAKE(1, 16384), 0, EINVAL, "size 0 out of range");
	OFFCHK(HL_OFF_MAKE(1, 16384), 16385, EINVAL,
	    "size 16385 out of range (1..16384)");
	OFFCHK(HL_OFF_MAKE(1, V), 4096, ERANGE,
	    "past the end of volume 1 (1048576 bytes)");
	OFFCHK(HL_OFF_MAKE(1, V - 2048), 4096, ERANGE, "past the end");
	OFFCHK(HL_OFF_MAKE(1, HL_OFF_SHORT_MASK), 1, ERANGE, "past the end");
	OFFCHK(
	    HL_OFF_MAKE(1, 0), 4096, EINVAL, "inside the volume header buffer");
	OFFCHK(HL_OFF_MAKE(1, 8192), 4096, EINVAL, "header buffer");
	OFFCHK(HL_OFF_MAKE(1, 16384 + 512), 4096, EINVAL,
	    "not aligned to 4096 bytes");
	OFFCHK(HL_OFF_MAKE(1, 16384 + 4), 100, EINVAL, "not aligned to 8");
	OFFCHK(
	    HL_OFF_MAKE(1, 32768 - 96), 200, EINVAL, "cross a buffer boundary");
	HT_CHECK(hl_off_check(NULL, HL_OFF_MAKE(0, 16384), 4096, why,
		     sizeof(why)) == EINVAL,
	    "NULL header");
#undef OFFCHK
	PASS();
}

static void
make_node(uint8_t *n, size_t ns, uint16_t type, uint16_t count, uint64_t parent)
{
	struct hl_node_header h = {0, type, count, parent, 7};

	memset(n, 0, ns);
	for (size_t i = HL_NODE_HDR_SIZE; i < ns; i++)
		n[i] = (uint8_t)(i * 31);
	hl_node_hdr_encode(n, &h);
	hl_node_seal(n, ns);
}

static void
expect_node(const uint8_t *n, size_t ns, int err, const char *substr)
{
	char why[256] = "";
	int e = hl_node_check(n, ns, why, sizeof(why));

	HT_CHECK(e == err, "node check %d (%s), want %d", e, why, err);
	if (substr != NULL)
		HT_CHECK(strstr(why, substr) != NULL, "'%s' lacks '%s'", why,
		    substr);
}

static void
test_nodes(void)
{
	enum { NS = 4096 };
	static uint8_t n[NS];
	struct hl_node_header h;
	uint32_t crc;
	char want[128];

	/* Never written: all zero is valid, though its CRC is not 0. */
	memset(n, 0, NS);
	expect_node(n, NS, 0, NULL);
	HT_CHECK(hl_node_crc(n, NS) != 0, "zero node crc");

	make_node(n, NS, HL_NODE_LEAF, 254, HL_OFF_MAKE(0, 16384));
	expect_node(n, NS, 0, NULL);
	hl_node_hdr_decode(n, &h);
	HT_CHECK(h.type == HL_NODE_LEAF && h.count == 254 &&
		     h.parent == HL_OFF_MAKE(0, 16384) && h.generation == 7 &&
		     h.crc == hl_node_crc(n, NS),
	    "header round trip");
	HT_CHECK(hl_le16_get(n + 4) == 2 && hl_le16_get(n + 6) == 254 &&
		     hl_le64_get(n + 8) == HL_OFF_MAKE(0, 16384) &&
		     hl_le64_get(n + 16) == 7,
	    "node layout");
	HT_CHECK((uint8_t *)HL_NODE_PAYLOAD(n) == n + 24, "payload");
	/* The CRC covers [4, node_size) and not itself. */
	crc = hl_node_crc(n, NS);
	n[0] ^= 0xff;
	HT_CHECK(hl_node_crc(n, NS) == crc, "crc covers itself");
	n[0] ^= 0xff;
	HT_CHECK(crc == hl_crc32c(0, n + 4, NS - 4), "crc range");

	n[NS - 1] ^= 0x10;
	snprintf(want, sizeof(want), "bad CRC (stored 0x%08x, computed 0x%08x)",
	    crc, hl_node_crc(n, NS));
	expect_node(n, NS, EBADMSG, want);
	n[NS - 1] ^= 0x10;
	n[2] ^= 1;
	expect_node(n, NS, EBADMSG, "bad CRC");
	n[2] ^= 1;
	n[5] = 1; /* type 0x102 */
	expect_node(n, NS, EBADMSG, NULL);
	HT_CHECK(hl_node_seal(n, NS) == hl_node_crc(n, NS), "seal");
	expect_node(n, NS, EINVAL, "bad node type 258");

	make_node(n, NS, 5, 0, 0);
	expect_node(n, NS, EINVAL, "bad node type 5");
	make_node(n, NS, HL_NODE_LEAF, 255, 0);
	expect_node(n, NS, EINVAL,
	    "bad element count 255 for a leaf node (at most 254)");
	make_node(n, NS, HL_NODE_INTERNAL, 254, 0);
	expect_node(n, NS, 0, NULL);
	make_node(n, NS, HL_NODE_DELETED, 255, 0);
	expect_node(n, NS, EINVAL, "deleted node");
	make_node(n, NS, HL_NODE_FREE, 0, 0);
	expect_node(n, NS, 0, NULL);
	make_node(n, NS, HL_NODE_FREE, 1, 0);
	expect_node(n, NS, EINVAL, "bad element count 1 for a free node");
	make_node(n, NS, HL_NODE_RAW, NS - 24, 0);
	expect_node(n, NS, 0, NULL);
	make_node(n, NS, HL_NODE_RAW, NS - 23, 0);
	expect_node(n, NS, EINVAL, "raw node (at most 4072)");
	make_node(n, NS, HL_NODE_LEAF, 1, HL_OFF_MAKE(0, 16384 + 8));
	expect_node(n, NS, EINVAL, "bad parent offset 0x2000000000004008");
	make_node(n, NS, HL_NODE_LEAF, 1, 16384);
	expect_node(n, NS, EINVAL, "not a zone-2 offset");
	/* Smaller nodes. */
	make_node(n, 512, HL_NODE_LEAF, 30, 0);
	expect_node(n, 512, 0, NULL);
	make_node(n, 512, HL_NODE_LEAF, 31, 0);
	expect_node(n, 512, EINVAL, "at most 30");
	make_node(n, 128, HL_NODE_LEAF, 6, 0);
	expect_node(n, 128, 0, NULL);
	make_node(n, 128, HL_NODE_LEAF, 7, 0);
	expect_node(n, 128, EINVAL, "at most 6");
	/* Bad sizes and pointers. */
	expect_node(n, 4000, EINVAL, "node size 4000 is not a power of two");
	expect_node(n, 64, EINVAL, "node size 64");
	expect_node(NULL, 4096, EINVAL, "node size");
	HT_CHECK(hl_node_seal(n, 100) == 0 && hl_node_seal(NULL, 4096) == 0,
	    "seal refuses bad input");
	HT_CHECK(hl_node_crc(n, 3) == 0 && hl_node_crc(NULL, 4096) == 0,
	    "crc of nothing");
	HT_CHECK(hl_node_size_valid(512) && hl_node_size_valid(1 << 20) &&
		     !hl_node_size_valid(0) && !hl_node_size_valid(2 << 20) &&
		     !hl_node_size_valid(3000),
	    "node_size_valid");
	PASS();
}

static void
test_mount_id_str(void)
{
	uint8_t id[16];
	char s[HL_MOUNT_ID_STRLEN], tiny[5];

	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)(i * 17);
	hl_mount_id_str(id, s, sizeof(s));
	HT_CHECK(
	    strcmp(s, "00112233-4455-6677-8899-aabbccddeeff") == 0, "%s", s);
	hl_mount_id_str(id, tiny, sizeof(tiny));
	HT_CHECK(strcmp(tiny, "0011") == 0, "%s", tiny);
	PASS();
}

/* Scan over in-memory volumes. */
struct memvol {
	uint8_t *data[2];
	uint64_t fail_off; /* read of this offset fails with EIO */
	uint64_t cancel_off;
	int reports;
	uint64_t last_off;
	int last_err;
	char last_why[256];
};

static int
mem_read(void *arg, int idx, uint64_t off, void *buf, size_t len)
{
	struct memvol *m = arg;

	if (off == m->fail_off)
		return EIO;
	if (off == m->cancel_off)
		return ECANCELED;
	memcpy(buf, m->data[idx] + HL_OFF_SHORT(off), len);
	return 0;
}

static void
mem_report(void *arg, int idx, uint64_t off, int error, const char *why)
{
	struct memvol *m = arg;

	(void)idx;
	m->reports++;
	m->last_off = off;
	m->last_err = error;
	snprintf(m->last_why, sizeof(m->last_why), "%s", why);
}

static void
test_scan(void)
{
	enum { VS = 1 << 17 };
	struct hl_volume_header vh[2];
	struct hl_scan_stats st;
	struct memvol m = {{NULL, NULL}, 1, 1, 0, 0, 0, ""};
	uint8_t *n;

	for (int i = 0; i < 2; i++) {
		good_header(&vh[i]);
		vh[i].vol_count = 2;
		vh[i].vol_size = VS;
		m.data[i] = calloc(1, VS);
		HT_CHECK(m.data[i] != NULL, "calloc");
	}
	/* Given in reverse order: vh[0] is volume 1. */
	vh[0].vol_no = 1;
	vh[1].vol_no = 0;
	hl_volhdr_set_freemap(&vh[0]);
	hl_volhdr_set_freemap(&vh[1]);
	HT_CHECK(
	    hl_format_scan(vh, 2, mem_read, mem_report, &m, &st) == 0, "scan");
	HT_CHECK(st.nodes == 2 * (VS - 16384) / 4096 && st.unused == st.nodes &&
		     st.damaged == 0 && m.reports == 0,
	    "clean scan: %llu nodes", (unsigned long long)st.nodes);

	/* A good node with a parent in the other volume, one bad CRC, one
	 * bad parent, one read error. */
	n = m.data[0] + 16384;
	make_node(n, 4096, HL_NODE_LEAF, 3, HL_OFF_MAKE(0, 65536));
	n = m.data[1] + 65536;
	make_node(n, 4096, HL_NODE_INTERNAL, 2, 0);
	n[100] ^= 4;
	HT_CHECK(
	    hl_format_scan(vh, 2, mem_read, mem_report, &m, &st) == 0, "scan");
	HT_CHECK(st.damaged == 1 && m.reports == 1 &&
		     m.last_off == HL_OFF_MAKE(0, 65536) &&
		     m.last_err == EBADMSG && strstr(m.last_why, "bad CRC"),
	    "bad CRC reported: %d %s", m.reports, m.last_why);
	HT_CHECK(st.unused == st.nodes - 2, "unused");
	n[100] ^= 4;
	n = m.data[0] + 20480;
	make_node(n, 4096, HL_NODE_LEAF, 3, HL_OFF_MAKE(0, VS));
	m.reports = 0;
	HT_CHECK(
	    hl_format_scan(vh, 2, mem_read, mem_report, &m, &st) == 0, "scan");
	HT_CHECK(st.damaged == 1 && m.last_err == EINVAL &&
		     m.last_off == HL_OFF_MAKE(1, 20480) &&
		     strstr(m.last_why, "bad parent") &&
		     strstr(m.last_why, "past the end"),
	    "bad parent: %s", m.last_why);
	make_node(n, 4096, HL_NODE_LEAF, 3, HL_OFF_MAKE(5, 16384));
	HT_CHECK(hl_format_scan(vh, 2, mem_read, mem_report, &m, &st) == 0 &&
		     strstr(m.last_why, "volume 5 out of range"),
	    "parent volume: %s", m.last_why);
	make_node(n, 4096, HL_NODE_LEAF, 3, HL_OFF_MAKE(1, 20480));
	HT_CHECK(hl_format_scan(vh, 2, mem_read, mem_report, &m, &st) == 0 &&
		     strstr(m.last_why, "own parent"),
	    "own parent: %s", m.last_why);
	memset(n, 0, 4096);
	m.fail_off = HL_OFF_MAKE(1, 16384 * 3);
	HT_CHECK(
	    hl_format_scan(vh, 2, mem_read, mem_report, &m, &st) == 0, "scan");
	HT_CHECK(st.damaged == 1 && st.read_errors == 1 && m.last_err == EIO &&
		     strstr(m.last_why, "read error"),
	    "read error: %s", m.last_why);
	m.cancel_off = HL_OFF_MAKE(0, 16384 * 2);
	HT_CHECK(hl_format_scan(vh, 2, mem_read, NULL, &m, &st) == ECANCELED &&
		     st.nodes == 5,
	    "cancel after %llu", (unsigned long long)st.nodes);
	/* Inconsistent headers are refused. */
	vh[1].vol_no = 1;
	HT_CHECK(hl_format_scan(vh, 2, mem_read, NULL, &m, &st) == EINVAL,
	    "duplicate volume");
	HT_CHECK(
	    hl_format_scan(NULL, 2, mem_read, NULL, &m, NULL) == EINVAL &&
		hl_format_scan(vh, 0, mem_read, NULL, &m, NULL) == EINVAL &&
		hl_format_scan(vh, 2, NULL, NULL, &m, NULL) == EINVAL,
	    "bad arguments");
	free(m.data[0]);
	free(m.data[1]);
	PASS();
}

static void
path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void
test_newfs_probe(void)
{
	char p0[128], p1[128], p2[128], why[512];
	const char *paths[3] = {p0, p1, p2};
	struct hl_newfs_opts o = {1 << 20, 0, 0};
	struct hl_volume_header vh[3];
	uint8_t hdr[HL_VOLHDR_SIZE];
	struct stat st;
	int fd;

	path_in(p0, sizeof(p0), "v0");
	path_in(p1, sizeof(p1), "v1");
	path_in(p2, sizeof(p2), "v2");
	HT_CHECK(hl_newfs(paths, 3, &o, why, sizeof(why)) == 0, "%s", why);
	HT_CHECK(
	    hl_format_probe(paths, 3, vh, why, sizeof(why)) == 0, "%s", why);
	for (int i = 0; i < 3; i++) {
		HT_CHECK(vh[i].vol_no == (uint32_t)i && vh[i].vol_count == 3 &&
			     vh[i].vol_size == 1 << 20 &&
			     vh[i].buffer_size == 16384 &&
			     vh[i].node_size == 4096 && vh[i].root_node == 0 &&
			     vh[i].create_time != 0,
		    "volume %d header", i);
		HT_CHECK(memcmp(vh[i].mount_id, vh[0].mount_id, 16) == 0,
		    "mount id");
		HT_CHECK(
		    stat(paths[i], &st) == 0 && st.st_size == 1 << 20, "size");
		HT_CHECK(st.st_blocks * 512 < 1 << 19,
		    "not sparse: %lld blocks", (long long)st.st_blocks);
	}
	/* Order does not matter. */
	{
		const char *rev[3] = {p2, p0, p1};

		HT_CHECK(hl_format_probe(rev, 3, vh, why, sizeof(why)) == 0,
		    "%s", why);
		HT_CHECK(vh[0].vol_no == 2, "reverse order");
	}
	/* A second newfs gives another mount id. */
	{
		struct hl_volume_header again;
		uint8_t id0[16];

		memcpy(id0, vh[1].mount_id, 16);
		HT_CHECK(
		    hl_newfs(paths, 1, NULL, why, sizeof(why)) == 0, "%s", why);
		HT_CHECK(
		    hl_format_probe(paths, 1, &again, why, sizeof(why)) == 0,
		    "%s", why);
		HT_CHECK(memcmp(again.mount_id, id0, 16) != 0, "fresh id");
		HT_CHECK(again.vol_size == HL_VOL_SIZE_DEFAULT, "default size");
	}
	/* Write a root node pointer through the header writer. */
	fd = open(p0, O_RDWR);
	HT_CHECK(fd >= 0, "open");
	HT_CHECK(hl_volume_read_header(fd, p0, &vh[0], why, sizeof(why)) == 0,
	    "%s", why);
	vh[0].root_node = HL_OFF_MAKE(0, 32768);
	HT_CHECK(
	    hl_volume_write_header(fd, p0, &vh[0], true, why, sizeof(why)) == 0,
	    "%s", why);
	HT_CHECK(pread(fd, hdr, sizeof(hdr), 0) == sizeof(hdr), "pread");
	HT_CHECK(hl_le64_get(hdr + HL_VOLHDR_OFF_ROOT) == vh[0].root_node,
	    "root written");
	vh[0].root_node = HL_OFF_MAKE(0, 1);
	HT_CHECK(hl_volume_write_header(
		     fd, p0, &vh[0], false, why, sizeof(why)) == EINVAL &&
		     strstr(why, "not aligned"),
	    "bad header not written: %s", why);
	close(fd);
	HT_CHECK(
	    hl_format_probe(paths, 1, vh, why, sizeof(why)) == 0, "%s", why);
	HT_CHECK(vh[0].root_node == HL_OFF_MAKE(0, 32768), "root read back");

	/* Option and argument errors. */
	o.vol_size = 1000;
	HT_CHECK(hl_newfs(paths, 1, &o, why, sizeof(why)) == EINVAL &&
		     strstr(why, "volume size 1000 is not a multiple"),
	    "%s", why);
	o.vol_size = 1 << 20;
	o.buffer_size = 3000;
	HT_CHECK(hl_newfs(paths, 1, &o, why, sizeof(why)) == EINVAL &&
		     strstr(why, "buffer size 3000"),
	    "%s", why);
	o.buffer_size = 2048;
	HT_CHECK(hl_newfs(paths, 1, &o, why, sizeof(why)) == EINVAL &&
		     strstr(why, "smaller than the node size"),
	    "%s", why);
	o.buffer_size = 4096;
	o.node_size = 1024;
	HT_CHECK(hl_newfs(paths, 1, &o, why, sizeof(why)) == 0, "%s", why);
	HT_CHECK(hl_format_probe(paths, 1, vh, why, sizeof(why)) == 0 &&
		     vh[0].buffer_size == 4096 && vh[0].node_size == 1024,
	    "small sizes: %s", why);
	HT_CHECK(hl_newfs(paths, 0, NULL, why, sizeof(why)) == EINVAL &&
		     strstr(why, "0 volume files given"),
	    "%s", why);
	HT_CHECK(hl_newfs(paths, 257, NULL, why, sizeof(why)) == EINVAL, "257");
	HT_CHECK(hl_newfs(NULL, 1, NULL, why, sizeof(why)) == EINVAL, "NULL");
	{
		const char *dup[2] = {p0, p0};

		HT_CHECK(hl_newfs(dup, 2, NULL, why, sizeof(why)) == EINVAL &&
			     strstr(why, "are the same file"),
		    "%s", why);
	}
	{
		const char *bad[1] = {"/nonexistent-dir/x"};

		HT_CHECK(hl_newfs(bad, 1, NULL, why, sizeof(why)) == ENOENT &&
			     strstr(why, "/nonexistent-dir/x: open"),
		    "%s", why);
		HT_CHECK(
		    hl_format_probe(bad, 1, vh, why, sizeof(why)) == ENOENT,
		    "%s", why);
	}
	{
		const char *dir[1] = {tmpdir};

		HT_CHECK(hl_newfs(dir, 1, NULL, why, sizeof(why)) != 0, "dir");
		HT_CHECK(
		    hl_format_probe(dir, 1, vh, why, sizeof(why)) == EINVAL &&
			strstr(why, "not a regular file or block device"),
		    "%s", why);
	}
	HT_CHECK(hl_format_probe(paths, 0, vh, why, sizeof(why)) == EINVAL,
	    "probe 0");
	HT_CHECK(hl_volume_read_header(-1, "x", vh, why, sizeof(why)) == EINVAL,
	    "bad fd");
	for (int i = 0; i < 3; i++)
		unlink(paths[i]);
	PASS();
}

int
main(int argc, char **argv)
{
	uint64_t rs = ht_seed(argc, argv);

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hl_format.XXXXXX");
	HT_CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp");
	test_crc_threads(); /* first: races the one-time setup */
	test_crc_vectors();
	test_crc_agree(&rs);
	test_offsets();
	test_header_roundtrip();
	test_header_errors();
	test_off_check();
	test_nodes();
	test_mount_id_str();
	test_scan();
	test_newfs_probe();
	rmdir(tmpdir);
	ht_pass("unit_format", npassed);
	return 0;
}
