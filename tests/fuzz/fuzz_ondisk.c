/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_ondisk.c - libFuzzer target for the on-disk format parsers.
 *
 * Input: one control byte, then an image (the start of a volume file).
 *
 *   control bit 0   recompute the header CRC first, so that the fuzzer
 *                   gets past the CRC into the field checks
 *   control bit 1   seal every node of the image first (same, for nodes)
 *   control bits 2-3 node size for the direct node check: 512 << n
 *   control bit 4   also write the image to a memfd (extended, sparse, to
 *                   the header's volume size when that is small) and run
 *                   hl_format_probe and hl_format_scan over it
 *
 * Besides "no crash, no sanitizer report", it checks invariants: every
 * error comes with a message; a header that decodes re-encodes to the
 * same bytes and validates; a sealed node never fails its CRC; a node
 * that checks re-seals to the same CRC; a probe of a decodable header
 * either succeeds or explains why; a scan of a probed volume finishes.
 */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hammerlock/format.h>

#define FUZZ_ASSERT(c)                                                         \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "fuzz_ondisk: %s:%d: %s\n", __FILE__,  \
			    __LINE__, #c);                                     \
			abort();                                               \
		}                                                              \
	} while (0)

#define MAX_SCAN_VOL (256u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void
check_node(uint8_t *node, size_t ns, bool sealed)
{
	char why[256];
	int e;

	why[0] = '\0';
	e = hl_node_check(node, ns, why, sizeof(why));
	FUZZ_ASSERT(e == 0 || e == EBADMSG || e == EINVAL);
	FUZZ_ASSERT(e == 0 || why[0] != '\0');
	if (sealed)
		FUZZ_ASSERT(e != EBADMSG);
	if (e == 0 && !is_zero(node, ns)) {
		uint32_t crc = hl_le32_get(node);

		FUZZ_ASSERT(hl_node_seal(node, ns) == crc);
		FUZZ_ASSERT(hl_le32_get(node) == crc);
	}
}

struct scan_ctx {
	int fd;
	uint64_t reports;
};

static int
scan_read(void *arg, int idx, uint64_t off, void *buf, size_t len)
{
	struct scan_ctx *c = arg;
	ssize_t r;

	FUZZ_ASSERT(idx == 0);
	r = pread(c->fd, buf, len, (off_t)HL_OFF_SHORT(off));
	return r == (ssize_t)len ? 0 : EIO;
}

static void
scan_report(void *arg, int idx, uint64_t off, int error, const char *why)
{
	struct scan_ctx *c = arg;

	(void)off;
	FUZZ_ASSERT(idx == 0 && error != 0 && why != NULL && why[0] != '\0');
	c->reports++;
}

static void
fuzz_files(const uint8_t *img, size_t n, const struct hl_volume_header *vh)
{
	static int fd = -1;
	struct hl_volume_header out;
	struct hl_scan_stats st;
	struct scan_ctx ctx;
	char path[64], why[512];
	const char *paths[1] = {path};
	int e;

	if (fd < 0) {
		fd = memfd_create("fuzz_ondisk", MFD_CLOEXEC);
		if (fd < 0)
			return;
	}
	if (ftruncate(fd, 0) != 0 ||
	    (n > 0 && pwrite(fd, img, n, 0) != (ssize_t)n))
		return;
	if (vh != NULL && vh->vol_size <= MAX_SCAN_VOL && vh->vol_size > n &&
	    ftruncate(fd, (off_t)vh->vol_size) != 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	why[0] = '\0';
	e = hl_format_probe(paths, 1, &out, why, sizeof(why));
	FUZZ_ASSERT(e == 0 || why[0] != '\0');
	if (e != 0)
		return;
	FUZZ_ASSERT(vh != NULL && out.vol_count == 1 &&
		    (out.vol_size <= MAX_SCAN_VOL || out.vol_size <= n));
	ctx.fd = fd;
	ctx.reports = 0;
	e = hl_format_scan(&out, 1, scan_read, scan_report, &ctx, &st);
	FUZZ_ASSERT(e == 0);
	FUZZ_ASSERT(
	    st.damaged == ctx.reports && st.unused <= st.nodes &&
	    st.nodes == (out.vol_size - out.buffer_size) / out.node_size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hl_volume_header vh, vh2;
	uint8_t enc[HL_VOLHDR_SIZE];
	char why[512];
	uint8_t *img;
	size_t n, ns;
	uint8_t ctl;
	int e;

	if (size < 1)
		return 0;
	ctl = data[0];
	n = size - 1;
	/* An exact-size copy: reading past n is an ASan report. */
	img = malloc(n ? n : 1);
	if (img == NULL)
		return 0;
	memcpy(img, data + 1, n);

	if ((ctl & 1) && n >= HL_VOLHDR_SIZE)
		hl_le32_put(img + HL_VOLHDR_OFF_CRC, hl_volhdr_crc(img));

	why[0] = '\0';
	e = hl_volhdr_decode(img, n, &vh, why, sizeof(why));
	FUZZ_ASSERT(e == 0 || e == EINVAL || e == ENOTSUP || e == EBADMSG);
	FUZZ_ASSERT(e == 0 || why[0] != '\0');
	if (e == 0) {
		FUZZ_ASSERT(hl_volhdr_validate(&vh, why, sizeof(why)) == 0);
		FUZZ_ASSERT(hl_volhdr_encode(
				&vh, enc, sizeof(enc), why, sizeof(why)) == 0);
		FUZZ_ASSERT(memcmp(enc, img, HL_VOLHDR_SIZE) == 0);
		FUZZ_ASSERT(
		    hl_volhdr_decode(enc, sizeof(enc), &vh2, NULL, 0) == 0);
		FUZZ_ASSERT(memcmp(&vh, &vh2, sizeof(vh)) == 0);
		/* Offsets taken from the image, checked against it. */
		for (size_t i = 0; i + 8 <= n && i < 64; i += 8) {
			uint64_t off = hl_le64_get(img + i);
			size_t bytes = (size_t)(off >> 40) & 0x1FFFFF;

			e = hl_off_check(&vh, off, bytes, why, sizeof(why));
			FUZZ_ASSERT(e == 0 || e == EINVAL || e == ERANGE);
			if (e == 0)
				FUZZ_ASSERT(
				    HL_OFF_SHORT(off) + bytes <= vh.vol_size);
		}
		/* Seal the nodes of the image if asked. */
		if (ctl & 2)
			for (size_t o = vh.buffer_size; o + vh.node_size <= n;
			     o += vh.node_size)
				if (!is_zero(img + o, vh.node_size))
					hl_node_seal(img + o, vh.node_size);
		for (size_t o = vh.buffer_size; o + vh.node_size <= n;
		     o += vh.node_size)
			check_node(img + o, vh.node_size, (ctl & 2) != 0);
	}

	if (ctl & 0x10) {
		bool ok = hl_volhdr_decode(img, n, &vh, NULL, 0) == 0;

		fuzz_files(img, n, ok ? &vh : NULL);
	}

	/* The image as one node (a copy: sealing writes its first bytes). */
	ns = (size_t)HL_NODE_SIZE_MIN << ((ctl >> 2) & 3);
	if (n >= ns) {
		uint8_t *node = malloc(ns);

		if (node != NULL) {
			memcpy(node, img, ns);
			if (ctl & 2)
				hl_node_seal(node, ns);
			check_node(node, ns, (ctl & 2) != 0);
			free(node);
		}
	}
	/* Any length: only valid node sizes may be accepted. */
	e = hl_node_check(img, n, NULL, 0);
	FUZZ_ASSERT(e == EINVAL || hl_node_size_valid(n));
	free(img);
	return 0;
}
