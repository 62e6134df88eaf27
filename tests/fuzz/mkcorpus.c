/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mkcorpus.c - write fuzz_ondisk's seed corpus: a few valid and nearly
 * valid inputs (control byte + image) that reach every parser.
 *
 *   mkcorpus DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hammerlock/format.h>

static int
put(const char *dir, const char *name, uint8_t ctl, const void *img, size_t n)
{
	char path[4096];
	FILE *fp;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (fp == NULL) {
		perror(path);
		return 1;
	}
	ok = fputc(ctl, fp) != EOF && fwrite(img, 1, n, fp) == n;
	ok = fclose(fp) == 0 && ok;
	if (!ok)
		perror(path);
	return !ok;
}

static void
node(uint8_t *p, size_t ns, uint16_t type, uint16_t count, uint64_t parent)
{
	struct hl_node_header h = {0, type, count, parent, 3};

	memset(p, 0, ns);
	for (size_t i = HL_NODE_HDR_SIZE; i < ns; i++)
		p[i] = (uint8_t)(i * 7);
	hl_node_hdr_encode(p, &h);
	hl_node_seal(p, ns);
}

int
main(int argc, char **argv)
{
	/* A small whole volume: 1 KiB buffers, 512-byte nodes, 8 KiB. */
	enum { BS = 1024, NS = 512, VS = 8192 };
	static uint8_t img[VS], one[4096];
	struct hl_volume_header vh;
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus DIR\n");
		return 2;
	}
	hl_volhdr_init(&vh);
	for (int i = 0; i < HL_MOUNT_ID_SIZE; i++)
		vh.mount_id[i] = (uint8_t)(0x11 * (i + 1));
	vh.buffer_size = BS;
	vh.node_size = NS;
	vh.vol_size = VS;
	vh.root_node = HL_OFF_MAKE(0, BS);
	vh.create_time = 1700000000;
	hl_volhdr_set_freemap(&vh);
	if (hl_volhdr_encode(&vh, img, sizeof(img), NULL, 0) != 0)
		return 1;
	node(img + BS, NS, HL_NODE_INTERNAL, 2, 0);
	node(img + BS + NS, NS, HL_NODE_LEAF, 5, HL_OFF_MAKE(0, BS));
	node(img + 2 * BS, NS, HL_NODE_RAW, 100, 0);
	node(img + 3 * BS, NS, HL_NODE_DELETED, 0, HL_OFF_MAKE(0, BS));
	bad |= put(argv[1], "volume-small", 0x10, img, sizeof(img));
	bad |= put(argv[1], "volume-small-fix", 0x13, img, sizeof(img));
	bad |= put(argv[1], "header-only", 0x00, img, HL_VOLHDR_SIZE);

	/* Default sizes, header only. */
	hl_volhdr_init(&vh);
	memset(vh.mount_id, 0xA5, HL_MOUNT_ID_SIZE);
	vh.vol_count = 2;
	vh.vol_no = 1;
	hl_volhdr_set_freemap(&vh);
	if (hl_volhdr_encode(&vh, img, sizeof(img), NULL, 0) != 0)
		return 1;
	bad |= put(argv[1], "header-default", 0x11, img, HL_VOLHDR_SIZE);
	/* The next version: refused by name. */
	hl_le32_put(img + HL_VOLHDR_OFF_VERSION, HL_FORMAT_VERSION + 1);
	bad |= put(argv[1], "header-v3", 0x01, img, HL_VOLHDR_SIZE);

	/* Single nodes of each size. */
	node(one, 512, HL_NODE_LEAF, 7, HL_OFF_MAKE(1, 8192));
	bad |= put(argv[1], "node-512", 0x00, one, 512);
	node(one, 4096, HL_NODE_INTERNAL, 254, 0);
	bad |= put(argv[1], "node-4096", 0x0C, one, 4096);
	memset(one, 0, sizeof(one));
	bad |= put(argv[1], "node-zero", 0x04, one, 1024);
	return bad;
}
