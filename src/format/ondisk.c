/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ondisk.c - encode, decode and validate volume headers, nodes and
 * offsets, and walk the nodes of a mount (format version 1; the layouts
 * are drawn in hammerlock/format.h and described in doc/format.md).
 *
 * Nothing here does I/O or keeps state: every function works on the bytes
 * or the host structure it is given, checks lengths before it reads, and
 * answers with 0 or an errno plus a message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format_internal.h"

void
hl__why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static bool
all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t acc = 0;

	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		acc |= w;
		if (acc != 0)
			return false;
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		acc |= *p++;
	return acc == 0;
}

/*
 * Volume headers.
 */

void
hl_volhdr_init(struct hl_volume_header *vh)
{
	if (vh == NULL)
		return;
	memset(vh, 0, sizeof(*vh));
	vh->magic = HL_VOLHDR_MAGIC;
	vh->version = HL_FORMAT_VERSION;
	vh->header_size = HL_VOLHDR_SIZE;
	vh->vol_no = 0;
	vh->vol_count = 1;
	vh->buffer_size = HL_BUFFER_SIZE_DEFAULT;
	vh->node_size = HL_NODE_SIZE_DEFAULT;
	vh->vol_size = HL_VOL_SIZE_DEFAULT;
	hl_volhdr_set_freemap(vh);
}

uint32_t
hl_freemap_nodes(const struct hl_volume_header *vh)
{
	uint64_t slots, bits;

	if (vh == NULL || !hl_node_size_valid(vh->node_size) ||
	    vh->buffer_size < vh->node_size || vh->vol_size <= vh->buffer_size)
		return 0;
	slots = (vh->vol_size - vh->buffer_size) / vh->node_size;
	bits = (uint64_t)(vh->node_size - HL_NODE_HDR_SIZE) * 8;
	return (uint32_t)((slots + bits - 1) / bits);
}

void
hl_volhdr_set_freemap(struct hl_volume_header *vh)
{
	if (vh == NULL)
		return;
	vh->freemap_offset = HL_OFF_MAKE(vh->vol_no, vh->buffer_size);
	vh->freemap_size = (uint64_t)hl_freemap_nodes(vh) * vh->node_size;
}

void
hl_mount_id_str(const uint8_t *id, char *buf, size_t len)
{
	char s[HL_MOUNT_ID_STRLEN];
	char *p = s;

	if (buf == NULL || len == 0)
		return;
	if (id == NULL) {
		snprintf(buf, len, "(none)");
		return;
	}
	for (int i = 0; i < HL_MOUNT_ID_SIZE; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		p += sprintf(p, "%02x", id[i]);
	}
	snprintf(buf, len, "%s", s);
}

/*
 * Where a node offset stored in a header may point, knowing only this
 * volume's header (the sizes are the same in every volume of a mount).
 */
static int
node_off_shape(const struct hl_volume_header *vh, uint64_t off,
    const char *what, char *why, size_t whylen)
{
	uint64_t sh = HL_OFF_SHORT(off);
	unsigned vol = HL_OFF_VOL(off);

	if (HL_OFF_ZONE(off) != HL_ZONE_RAW) {
		hl__why(why, whylen,
		    "%s 0x%016" PRIx64 ": zone %u is not the raw zone (%u)",
		    what, off, HL_OFF_ZONE(off), HL_ZONE_RAW);
		return EINVAL;
	}
	if (vol >= vh->vol_count) {
		hl__why(why, whylen,
		    "%s 0x%016" PRIx64
		    ": volume %u out of range (volume count %" PRIu32 ")",
		    what, off, vol, vh->vol_count);
		return EINVAL;
	}
	if (sh % vh->node_size != 0) {
		hl__why(why, whylen,
		    "%s 0x%016" PRIx64
		    ": not aligned to the node size (%" PRIu32 ")",
		    what, off, vh->node_size);
		return EINVAL;
	}
	if (sh < vh->buffer_size) {
		hl__why(why, whylen,
		    "%s 0x%016" PRIx64
		    ": inside the volume header buffer (first %" PRIu32
		    " bytes)",
		    what, off, vh->buffer_size);
		return EINVAL;
	}
	if (vol == vh->vol_no && sh + vh->node_size > vh->vol_size) {
		hl__why(why, whylen,
		    "%s 0x%016" PRIx64 ": past the end of volume %u (%" PRIu64
		    " bytes)",
		    what, off, vol, vh->vol_size);
		return ERANGE;
	}
	return 0;
}

bool
hl_node_size_valid(size_t node_size)
{
	return hl__pow2(node_size) && node_size >= HL_NODE_SIZE_MIN &&
	       node_size <= HL_BUFFER_SIZE_MAX;
}

int
hl_volhdr_validate(const struct hl_volume_header *vh, char *why, size_t whylen)
{
	int error;

	if (vh == NULL) {
		hl__why(why, whylen, "no volume header");
		return EINVAL;
	}
	if (vh->magic != HL_VOLHDR_MAGIC) {
		hl__why(why, whylen,
		    "bad magic 0x%016" PRIx64 " (expected 0x%016" PRIx64
		    ", \"HAMMERLK\"): not a hammerlock volume",
		    vh->magic, (uint64_t)HL_VOLHDR_MAGIC);
		return EINVAL;
	}
	if (vh->version != HL_FORMAT_VERSION) {
		hl__why(why, whylen,
		    "format version %" PRIu32
		    " is not supported (this build reads version %u)",
		    vh->version, HL_FORMAT_VERSION);
		return ENOTSUP;
	}
	if (vh->header_size != HL_VOLHDR_SIZE) {
		hl__why(why, whylen, "header size %" PRIu32 " is not %u",
		    vh->header_size, HL_VOLHDR_SIZE);
		return EINVAL;
	}
	if (vh->vol_count == 0 || vh->vol_count > HL_MAX_VOLUMES) {
		hl__why(why, whylen,
		    "volume count %" PRIu32 " out of range (1..%d)",
		    vh->vol_count, HL_MAX_VOLUMES);
		return EINVAL;
	}
	if (vh->vol_no >= vh->vol_count) {
		hl__why(why, whylen,
		    "volume number %" PRIu32
		    " out of range (volume count %" PRIu32 ")",
		    vh->vol_no, vh->vol_count);
		return EINVAL;
	}
	if (all_zero(vh->mount_id, sizeof(vh->mount_id))) {
		hl__why(why, whylen, "mount id is all zero");
		return EINVAL;
	}
	if (!hl_node_size_valid(vh->node_size)) {
		hl__why(why, whylen,
		    "node size %" PRIu32
		    " is not a power of two between %u and %u",
		    vh->node_size, HL_NODE_SIZE_MIN, HL_BUFFER_SIZE_MAX);
		return EINVAL;
	}
	if (!hl__pow2(vh->buffer_size) ||
	    vh->buffer_size > HL_BUFFER_SIZE_MAX) {
		hl__why(why, whylen,
		    "buffer size %" PRIu32
		    " is not a power of two between %u and %u",
		    vh->buffer_size, HL_NODE_SIZE_MIN, HL_BUFFER_SIZE_MAX);
		return EINVAL;
	}
	if (vh->buffer_size < vh->node_size) {
		hl__why(why, whylen,
		    "buffer size %" PRIu32
		    " is smaller than the node size %" PRIu32,
		    vh->buffer_size, vh->node_size);
		return EINVAL;
	}
	if (vh->vol_size % vh->buffer_size != 0) {
		hl__why(why, whylen,
		    "volume size %" PRIu64
		    " is not a multiple of the buffer size %" PRIu32,
		    vh->vol_size, vh->buffer_size);
		return EINVAL;
	}
	if (vh->vol_size < 2 * (uint64_t)vh->buffer_size) {
		hl__why(why, whylen,
		    "volume size %" PRIu64 " is less than 2 buffers (%" PRIu64
		    " bytes)",
		    vh->vol_size, 2 * (uint64_t)vh->buffer_size);
		return EINVAL;
	}
	if (vh->vol_size > HL_VOL_SIZE_MAX) {
		hl__why(why, whylen,
		    "volume size %" PRIu64
		    " exceeds the 52-bit offset space (%" PRIu64 " bytes)",
		    vh->vol_size, (uint64_t)HL_VOL_SIZE_MAX);
		return EINVAL;
	}
	if (vh->root_node != 0) {
		error =
		    node_off_shape(vh, vh->root_node, "root node", why, whylen);
		if (error != 0)
			return EINVAL;
	}
	{
		struct hl_volume_header fm = *vh;
		uint32_t nfm = hl_freemap_nodes(vh);

		hl_volhdr_set_freemap(&fm);
		if (vh->freemap_offset != fm.freemap_offset ||
		    vh->freemap_size != fm.freemap_size) {
			hl__why(why, whylen,
			    "free map at 0x%016" PRIx64 ", %" PRIu64
			    " bytes; this geometry puts it at 0x%016" PRIx64
			    ", %" PRIu64 " bytes",
			    vh->freemap_offset, vh->freemap_size,
			    fm.freemap_offset, fm.freemap_size);
			return EINVAL;
		}
		if ((uint64_t)nfm + 1 >
		    (vh->vol_size - vh->buffer_size) / vh->node_size) {
			hl__why(why, whylen,
			    "volume size %" PRIu64
			    " leaves no node beside its %" PRIu32
			    " free-map nodes",
			    vh->vol_size, nfm);
			return EINVAL;
		}
	}
	return 0;
}

uint32_t
hl_volhdr_crc(const void *buf)
{
	if (buf == NULL)
		return 0;
	return hl_crc32c(0, buf, HL_VOLHDR_OFF_CRC);
}

int
hl_volhdr_encode(const struct hl_volume_header *vh, void *buf, size_t len,
    char *why, size_t whylen)
{
	uint8_t *b = buf;
	int error;

	if (buf == NULL || len < HL_VOLHDR_SIZE) {
		hl__why(why, whylen,
		    "volume header needs %u bytes, the buffer has %zu",
		    HL_VOLHDR_SIZE, buf == NULL ? (size_t)0 : len);
		return EINVAL;
	}
	error = hl_volhdr_validate(vh, why, whylen);
	if (error != 0)
		return EINVAL;
	memset(b, 0, HL_VOLHDR_SIZE);
	hl_le64_put(b + HL_VOLHDR_OFF_MAGIC, vh->magic);
	hl_le32_put(b + HL_VOLHDR_OFF_VERSION, vh->version);
	hl_le32_put(b + HL_VOLHDR_OFF_HDRSIZE, vh->header_size);
	hl_le32_put(b + HL_VOLHDR_OFF_VOL_NO, vh->vol_no);
	hl_le32_put(b + HL_VOLHDR_OFF_VOL_COUNT, vh->vol_count);
	memcpy(b + HL_VOLHDR_OFF_MOUNT_ID, vh->mount_id, HL_MOUNT_ID_SIZE);
	hl_le32_put(b + HL_VOLHDR_OFF_BUFSIZE, vh->buffer_size);
	hl_le32_put(b + HL_VOLHDR_OFF_NODESIZE, vh->node_size);
	hl_le64_put(b + HL_VOLHDR_OFF_VOL_SIZE, vh->vol_size);
	hl_le64_put(b + HL_VOLHDR_OFF_ROOT, vh->root_node);
	hl_le64_put(b + HL_VOLHDR_OFF_CTIME, vh->create_time);
	hl_le64_put(b + HL_VOLHDR_OFF_FM_OFF, vh->freemap_offset);
	hl_le64_put(b + HL_VOLHDR_OFF_FM_SIZE, vh->freemap_size);
	hl_le32_put(b + HL_VOLHDR_OFF_CRC, hl_volhdr_crc(b));
	return 0;
}

int
hl_volhdr_decode(const void *buf, size_t len, struct hl_volume_header *out,
    char *why, size_t whylen)
{
	const uint8_t *b = buf;
	struct hl_volume_header vh;
	uint32_t stored, computed;
	int error;

	if (buf == NULL || len < HL_VOLHDR_SIZE) {
		hl__why(why, whylen, "volume header needs %u bytes, got %zu",
		    HL_VOLHDR_SIZE, buf == NULL ? (size_t)0 : len);
		return EINVAL;
	}
	memset(&vh, 0, sizeof(vh));
	vh.magic = hl_le64_get(b + HL_VOLHDR_OFF_MAGIC);
	vh.version = hl_le32_get(b + HL_VOLHDR_OFF_VERSION);
	vh.header_size = hl_le32_get(b + HL_VOLHDR_OFF_HDRSIZE);
	/* Magic and version first: they keep their place in every version. */
	if (vh.magic != HL_VOLHDR_MAGIC || vh.version != HL_FORMAT_VERSION ||
	    vh.header_size != HL_VOLHDR_SIZE)
		return hl_volhdr_validate(&vh, why, whylen);
	stored = hl_le32_get(b + HL_VOLHDR_OFF_CRC);
	computed = hl_volhdr_crc(b);
	if (stored != computed) {
		hl__why(why, whylen,
		    "header CRC mismatch: stored 0x%08" PRIx32
		    ", computed 0x%08" PRIx32,
		    stored, computed);
		return EBADMSG;
	}
	vh.vol_no = hl_le32_get(b + HL_VOLHDR_OFF_VOL_NO);
	vh.vol_count = hl_le32_get(b + HL_VOLHDR_OFF_VOL_COUNT);
	memcpy(vh.mount_id, b + HL_VOLHDR_OFF_MOUNT_ID, HL_MOUNT_ID_SIZE);
	vh.buffer_size = hl_le32_get(b + HL_VOLHDR_OFF_BUFSIZE);
	vh.node_size = hl_le32_get(b + HL_VOLHDR_OFF_NODESIZE);
	vh.vol_size = hl_le64_get(b + HL_VOLHDR_OFF_VOL_SIZE);
	vh.root_node = hl_le64_get(b + HL_VOLHDR_OFF_ROOT);
	vh.create_time = hl_le64_get(b + HL_VOLHDR_OFF_CTIME);
	vh.freemap_offset = hl_le64_get(b + HL_VOLHDR_OFF_FM_OFF);
	vh.freemap_size = hl_le64_get(b + HL_VOLHDR_OFF_FM_SIZE);
	vh.crc = stored;
	error = hl_volhdr_validate(&vh, why, whylen);
	if (error != 0)
		return error;
	for (size_t i = HL_VOLHDR_OFF_RESERVED; i < HL_VOLHDR_OFF_CRC; i++) {
		if (b[i] != 0) {
			hl__why(why, whylen,
			    "reserved byte %zu is 0x%02x, not 0 (a newer "
			    "format, or damage)",
			    i, b[i]);
			return EINVAL;
		}
	}
	if (out != NULL)
		*out = vh;
	return 0;
}

/*
 * Offsets.
 */

int
hl_off_check(const struct hl_volume_header *vh, uint64_t off, size_t bytes,
    char *why, size_t whylen)
{
	uint64_t sh = HL_OFF_SHORT(off);
	uint64_t align;

	if (vh == NULL || vh->buffer_size == 0 || vh->vol_size == 0) {
		hl__why(why, whylen, "offset 0x%016" PRIx64 ": no volume", off);
		return EINVAL;
	}
	if (HL_OFF_ZONE(off) != HL_ZONE_RAW) {
		hl__why(why, whylen,
		    "offset 0x%016" PRIx64 ": zone %u is not the raw zone (%u)",
		    off, HL_OFF_ZONE(off), HL_ZONE_RAW);
		return EINVAL;
	}
	if (HL_OFF_VOL(off) != vh->vol_no) {
		hl__why(why, whylen,
		    "offset 0x%016" PRIx64
		    ": names volume %u, not volume %" PRIu32,
		    off, HL_OFF_VOL(off), vh->vol_no);
		return EINVAL;
	}
	if (bytes == 0 || bytes > vh->buffer_size) {
		hl__why(why, whylen,
		    "offset 0x%016" PRIx64
		    ": size %zu out of range (1..%" PRIu32 ")",
		    off, bytes, vh->buffer_size);
		return EINVAL;
	}
	if (sh >= vh->vol_size || bytes > vh->vol_size - sh) {
		hl__why(why, whylen,
		    "offset 0x%016" PRIx64 ": %zu bytes at byte %" PRIu64
		    " are past the end of volume %" PRIu32 " (%" PRIu64
		    " bytes)",
		    off, bytes, sh, vh->vol_no, vh->vol_size);
		return ERANGE;
	}
	if (sh < vh->buffer_size) {
		hl__why(why, whylen,
		    "offset 0x%016" PRIx64
		    ": inside the volume header buffer (first %" PRIu32
		    " bytes)",
		    off, vh->buffer_size);
		return EINVAL;
	}
	align = hl__pow2(bytes) ? bytes : HL_OFF_ALIGN;
	if (sh % align != 0) {
		hl__why(why, whylen,
		    "offset 0x%016" PRIx64 ": not aligned to %" PRIu64
		    " bytes for a %zu-byte object",
		    off, align, bytes);
		return EINVAL;
	}
	if (sh / vh->buffer_size != (sh + bytes - 1) / vh->buffer_size) {
		hl__why(why, whylen,
		    "offset 0x%016" PRIx64
		    ": %zu bytes cross a buffer boundary (buffer size %" PRIu32
		    ")",
		    off, bytes, vh->buffer_size);
		return EINVAL;
	}
	return 0;
}

/*
 * Nodes.
 */

uint32_t
hl_node_crc(const void *node, size_t node_size)
{
	if (node == NULL || node_size < 4)
		return 0;
	return hl_crc32c(0, (const uint8_t *)node + 4, node_size - 4);
}

void
hl_node_hdr_decode(const void *node, struct hl_node_header *h)
{
	const uint8_t *b = node;

	if (node == NULL || h == NULL)
		return;
	h->crc = hl_le32_get(b + HL_NODE_OFF_CRC);
	h->type = hl_le16_get(b + HL_NODE_OFF_TYPE);
	h->count = hl_le16_get(b + HL_NODE_OFF_COUNT);
	h->parent = hl_le64_get(b + HL_NODE_OFF_PARENT);
	h->generation = hl_le64_get(b + HL_NODE_OFF_GEN);
}

void
hl_node_hdr_encode(void *node, const struct hl_node_header *h)
{
	uint8_t *b = node;

	if (node == NULL || h == NULL)
		return;
	hl_le32_put(b + HL_NODE_OFF_CRC, h->crc);
	hl_le16_put(b + HL_NODE_OFF_TYPE, h->type);
	hl_le16_put(b + HL_NODE_OFF_COUNT, h->count);
	hl_le64_put(b + HL_NODE_OFF_PARENT, h->parent);
	hl_le64_put(b + HL_NODE_OFF_GEN, h->generation);
}

static const char *const node_type_names[] = {
    "free", "internal", "leaf", "deleted", "raw"};

int
hl_node_check(const void *node, size_t node_size, char *why, size_t whylen)
{
	struct hl_node_header h;
	uint32_t computed;
	size_t max;

	if (node == NULL || !hl_node_size_valid(node_size)) {
		hl__why(why, whylen,
		    "node size %zu is not a power of two between %u and %u",
		    node_size, HL_NODE_SIZE_MIN, HL_BUFFER_SIZE_MAX);
		return EINVAL;
	}
	if (all_zero(node, node_size))
		return 0;
	hl_node_hdr_decode(node, &h);
	computed = hl_node_crc(node, node_size);
	if (h.crc != computed) {
		hl__why(why, whylen,
		    "bad CRC (stored 0x%08" PRIx32 ", computed 0x%08" PRIx32
		    ")",
		    h.crc, computed);
		return EBADMSG;
	}
	switch (h.type) {
	case HL_NODE_FREE:
		max = 0;
		break;
	case HL_NODE_INTERNAL:
	case HL_NODE_LEAF:
	case HL_NODE_DELETED:
		max = HL_NODE_MAX_ELMS(node_size);
		break;
	case HL_NODE_RAW:
		max = node_size - HL_NODE_HDR_SIZE;
		break;
	default:
		hl__why(why, whylen, "bad node type %u (known: 0..%u)",
		    (unsigned)h.type, HL_NODE_TYPE_MAX);
		return EINVAL;
	}
	if (h.count > max) {
		hl__why(why, whylen,
		    "bad element count %u for a %s node (at most %zu)",
		    (unsigned)h.count, node_type_names[h.type], max);
		return EINVAL;
	}
	if (h.parent != 0 && (HL_OFF_ZONE(h.parent) != HL_ZONE_RAW ||
				 HL_OFF_SHORT(h.parent) % node_size != 0)) {
		hl__why(why, whylen,
		    "bad parent offset 0x%016" PRIx64
		    " (not a zone-%u offset aligned to %zu bytes)",
		    h.parent, HL_ZONE_RAW, node_size);
		return EINVAL;
	}
	return 0;
}

uint32_t
hl_node_seal(void *node, size_t node_size)
{
	uint32_t crc;

	if (node == NULL || !hl_node_size_valid(node_size))
		return 0;
	crc = hl_node_crc(node, node_size);
	hl_le32_put(node, crc);
	return crc;
}

/*
 * Walking a mount's nodes.
 */

static void
scan_damage(struct hl_scan_stats *st, hl_scan_report_fn report, void *arg,
    int idx, uint64_t off, int error, const char *msg)
{
	st->damaged++;
	if (report != NULL)
		report(arg, idx, off, error, msg);
}

/* The parent pointer of a node that passed hl_node_check(). */
static int
scan_parent(const struct hl_volume_header *vh, const int *byvol, int n,
    uint64_t off, uint64_t parent, char *msg, size_t msglen)
{
	unsigned vol = HL_OFF_VOL(parent);
	char sub[192];
	int error;

	if (parent == off) {
		hl__why(msg, msglen, "node is its own parent");
		return EINVAL;
	}
	if (vol >= (unsigned)n) {
		hl__why(msg, msglen,
		    "bad parent offset 0x%016" PRIx64
		    ": volume %u out of range (volume count %d)",
		    parent, vol, n);
		return EINVAL;
	}
	error = hl_off_check(
	    &vh[byvol[vol]], parent, vh[0].node_size, sub, sizeof(sub));
	if (error != 0) {
		hl__why(msg, msglen, "bad parent: %s", sub);
		return EINVAL;
	}
	return 0;
}

int
hl_format_scan(const struct hl_volume_header *vh, int n, hl_scan_read_fn read,
    hl_scan_report_fn report, void *arg, struct hl_scan_stats *st)
{
	struct hl_scan_stats local;
	int byvol[HL_MAX_VOLUMES];
	uint8_t *node;
	char msg[256];
	size_t ns;
	int error;

	if (st == NULL)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (vh == NULL || read == NULL || n < 1 || n > HL_MAX_VOLUMES)
		return EINVAL;
	if (hl_format_check_set(vh, NULL, n, NULL, 0) != 0)
		return EINVAL;
	for (int i = 0; i < n; i++)
		byvol[vh[i].vol_no] = i;
	ns = vh[0].node_size;
	node = malloc(ns);
	if (node == NULL)
		return ENOMEM;
	error = 0;
	for (int v = 0; v < n && error == 0; v++) {
		const struct hl_volume_header *h = &vh[byvol[v]];
		int idx = byvol[v];

		for (uint64_t sh = h->buffer_size; sh + ns <= h->vol_size;
		     sh += ns) {
			uint64_t off = HL_OFF_MAKE(h->vol_no, sh);
			struct hl_node_header nh;
			int e;

			st->nodes++;
			e = read(arg, idx, off, node, ns);
			if (e == ECANCELED) {
				error = ECANCELED;
				break;
			}
			if (e != 0) {
				st->read_errors++;
				hl__why(msg, sizeof(msg),
				    "read error (errno %d: %s)", e,
				    strerror(e));
				scan_damage(st, report, arg, idx, off, e, msg);
				continue;
			}
			if (all_zero(node, ns)) {
				st->unused++;
				continue;
			}
			e = hl_node_check(node, ns, msg, sizeof(msg));
			if (e == 0) {
				hl_node_hdr_decode(node, &nh);
				if (nh.parent != 0)
					e = scan_parent(vh, byvol, n, off,
					    nh.parent, msg, sizeof(msg));
			}
			if (e != 0)
				scan_damage(st, report, arg, idx, off, e, msg);
		}
	}
	free(node);
	return error;
}
