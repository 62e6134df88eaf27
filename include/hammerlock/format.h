/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hammerlock/format.h - the on-disk format of a mount's volume files
 * (format version 1): offsets, the volume header, nodes, CRC32C, and the
 * helpers that create, read and verify volume files.  doc/format.md is the
 * full description; this comment is the summary.  Every integer on disk
 * is little-endian.
 *
 * Offsets
 * -------
 *
 * A 64-bit offset names a byte of the mount:
 *
 *    63    60 59        52 51                                          0
 *   +--------+------------+---------------------------------------------+
 *   |  zone  |  volume    |        byte offset inside the volume        |
 *   +--------+------------+---------------------------------------------+
 *
 *   zone    HL_ZONE_RAW (2) only; every other zone is reserved and
 *           refused.  HL_OFF_MAKE() builds a zone-2 offset.
 *   volume  0..255 (the volume's vol_no); volume 0 is the root volume.
 *   short   byte offset in the volume file (HL_OFF_SHORT()), < 2^52.
 *
 * The offset 0 means "none" (it would be zone 0).
 *
 * A volume file
 * -------------
 *
 *   byte 0            buffer_size                            vol_size
 *   +-----------------+-----------+-----------+-- ... --+-----------+
 *   | header buffer   | buffer 1  | buffer 2  |         | buffer k  |
 *   | (512-byte header|  nodes    |  nodes    |         |  nodes    |
 *   |  + zero fill)   |           |           |         |           |
 *   +-----------------+-----------+-----------+-- ... --+-----------+
 *
 * The volume is cut into buffers of buffer_size bytes (16 KiB by
 * default).  Buffer 0 holds the volume header and nothing else; data
 * buffers are cut into nodes of node_size bytes (4 KiB by default),
 * aligned to node_size.
 *
 * The volume header (HL_VOLHDR_SIZE = 512 bytes at byte 0)
 * --------------------------------------------------------
 *
 *   off size field           meaning
 *     0   8  magic           HL_VOLHDR_MAGIC, the bytes "HAMMERLK"
 *     8   4  version         HL_FORMAT_VERSION (3)
 *    12   4  header_size     512
 *    16   4  vol_no          this volume's number, < vol_count
 *    20   4  vol_count       number of volumes in the mount, 1..256
 *    24  16  mount_id        random, the same in every volume, not all 0
 *    40   4  buffer_size     power of two, node_size..1 MiB
 *    44   4  node_size       power of two, 128..buffer_size
 *    48   8  vol_size        bytes; a multiple of buffer_size, >= 2 buffers
 *    56   8  root_node       offset of the B-tree root, or 0 (read from
 *                            volume 0; newfs writes 0)
 *    64   8  create_time     seconds since the Epoch (informative)
 *    72   8  freemap_offset  the free map's first node: HL_OFF_MAKE(vol_no,
 *                            buffer_size), the first data node
 *    80   8  freemap_size    its bytes: hl_freemap_nodes() * node_size
 *    88 420  reserved        zero
 *   508   4  crc             CRC32C of bytes [0, 508)
 *
 * The magic and version fields keep their place in every later version,
 * so that any version can be recognized and refused with a clear message.
 *
 * A node (node_size bytes, HL_NODE_HDR_SIZE = 24-byte header)
 * -----------------------------------------------------------
 *
 *   off size field       meaning
 *     0   4  crc         CRC32C of bytes [4, node_size)
 *     4   2  type        HL_NODE_FREE/INTERNAL/LEAF/DELETED/RAW
 *     6   2  count       elements in the payload (bytes, for RAW)
 *     8   8  parent      offset of the parent node, or 0
 *    16   8  generation  bumped at each write-back (informative)
 *    24 ...  payload
 *
 * A node whose every byte is zero has never been written and is valid
 * (newfs leaves the volume sparse).
 *
 * Errors
 * ------
 *
 * Functions return 0 or a positive errno value and never crash on bad
 * input.  Those taking `why'/`whylen' write a one-line message naming the
 * field and its values there when they fail (why may be NULL); on success
 * they leave it alone.  EINVAL: a malformed or inconsistent field;
 * ENOTSUP: a format version this build does not read; EBADMSG: a CRC that
 * does not match; ERANGE: an offset past the end of its volume.
 */
#ifndef HAMMERLOCK_FORMAT_H
#define HAMMERLOCK_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hammerlock/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Offsets. */
#define HL_OFF_ZONE_SHIFT 60
#define HL_OFF_ZONE_MASK  0xF000000000000000ULL
#define HL_OFF_VOL_SHIFT  52
#define HL_OFF_VOL_MASK	  0x0FF0000000000000ULL
#define HL_OFF_SHORT_MASK 0x000FFFFFFFFFFFFFULL
#define HL_ZONE_RAW	  2u

#define HL_OFF_ZONE(off) ((unsigned)((uint64_t)(off) >> HL_OFF_ZONE_SHIFT))
#define HL_OFF_VOL(off)                                                        \
	((unsigned)(((uint64_t)(off)&HL_OFF_VOL_MASK) >> HL_OFF_VOL_SHIFT))
#define HL_OFF_SHORT(off) ((uint64_t)(off)&HL_OFF_SHORT_MASK)
#define HL_OFF_MAKE(vol, byteoff)                                              \
	(((uint64_t)HL_ZONE_RAW << HL_OFF_ZONE_SHIFT) |                        \
	    (((uint64_t)(vol) << HL_OFF_VOL_SHIFT) & HL_OFF_VOL_MASK) |        \
	    ((uint64_t)(byteoff)&HL_OFF_SHORT_MASK))

/* Limits and defaults. */
#define HL_FORMAT_VERSION      3u
#define HL_MAX_VOLUMES	       256
#define HL_NODE_SIZE_MIN       128u
#define HL_BUFFER_SIZE_MAX     (1u << 20)
#define HL_NODE_SIZE_DEFAULT   4096u
#define HL_BUFFER_SIZE_DEFAULT 16384u
#define HL_VOL_SIZE_DEFAULT    (64ULL << 20)
#define HL_VOL_SIZE_MAX	       (1ULL << 52)
#define HL_OFF_ALIGN	       8u /* alignment of an odd-sized object */
#define HL_MOUNT_ID_SIZE       16
#define HL_MOUNT_ID_STRLEN     37 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */

/* The volume header: 512 bytes at byte 0 of each volume. */
#define HL_VOLHDR_MAGIC		0x4B4C52454D4D4148ULL /* "HAMMERLK" */
#define HL_VOLHDR_SIZE		512u
#define HL_VOLHDR_OFF_MAGIC	0
#define HL_VOLHDR_OFF_VERSION	8
#define HL_VOLHDR_OFF_HDRSIZE	12
#define HL_VOLHDR_OFF_VOL_NO	16
#define HL_VOLHDR_OFF_VOL_COUNT 20
#define HL_VOLHDR_OFF_MOUNT_ID	24
#define HL_VOLHDR_OFF_BUFSIZE	40
#define HL_VOLHDR_OFF_NODESIZE	44
#define HL_VOLHDR_OFF_VOL_SIZE	48
#define HL_VOLHDR_OFF_ROOT	56
#define HL_VOLHDR_OFF_CTIME	64
#define HL_VOLHDR_OFF_FM_OFF	72
#define HL_VOLHDR_OFF_FM_SIZE	80
#define HL_VOLHDR_OFF_RESERVED	88
#define HL_VOLHDR_OFF_CRC	508

struct hl_volume_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;
	uint32_t vol_no;
	uint32_t vol_count;
	uint8_t mount_id[HL_MOUNT_ID_SIZE];
	uint32_t buffer_size;
	uint32_t node_size;
	uint64_t vol_size;
	uint64_t root_node;
	uint64_t create_time;
	uint64_t freemap_offset;
	uint64_t freemap_size;
	uint32_t crc; /* as stored (decode) or computed (encode) */
};

/* Nodes. */
#define HL_NODE_HDR_SIZE   24u
#define HL_NODE_OFF_CRC	   0
#define HL_NODE_OFF_TYPE   4
#define HL_NODE_OFF_COUNT  6
#define HL_NODE_OFF_PARENT 8
#define HL_NODE_OFF_GEN	   16
#define HL_NODE_FREE	   0u
#define HL_NODE_INTERNAL   1u
#define HL_NODE_LEAF	   2u
#define HL_NODE_DELETED	   3u
#define HL_NODE_RAW	   4u
#define HL_NODE_TYPE_MAX   HL_NODE_RAW
#define HL_BTREE_ELM_SIZE  16u
/* Element capacity of an internal or leaf node: 254 for 4 KiB. */
#define HL_NODE_MAX_ELMS(ns)  (((ns)-HL_NODE_HDR_SIZE) / HL_BTREE_ELM_SIZE)
#define HL_NODE_PAYLOAD(node) ((void *)((uint8_t *)(node) + HL_NODE_HDR_SIZE))

struct hl_node_header {
	uint32_t crc;
	uint16_t type;
	uint16_t count;
	uint64_t parent;
	uint64_t generation;
};

/* Little-endian field access (any alignment). */
static inline uint16_t
hl_le16_get(const void *p)
{
	const uint8_t *b = (const uint8_t *)p;

	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t
hl_le32_get(const void *p)
{
	const uint8_t *b = (const uint8_t *)p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static inline uint64_t
hl_le64_get(const void *p)
{
	const uint8_t *b = (const uint8_t *)p;

	return (uint64_t)hl_le32_get(b) | (uint64_t)hl_le32_get(b + 4) << 32;
}

static inline void
hl_le16_put(void *p, uint16_t v)
{
	uint8_t *b = (uint8_t *)p;

	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static inline void
hl_le32_put(void *p, uint32_t v)
{
	uint8_t *b = (uint8_t *)p;

	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

static inline void
hl_le64_put(void *p, uint64_t v)
{
	hl_le32_put(p, (uint32_t)v);
	hl_le32_put((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78).  Pass 0 to start;
 * feeding the result back continues the CRC over more bytes, so
 * hl_crc32c(hl_crc32c(0, a, n), b, m) is the CRC of a followed by b.
 * hl_crc32c("123456789") is 0xE3069283.  hl_crc32c() uses the SSE4.2
 * instruction when the CPU has it and slicing-by-8 tables otherwise;
 * hl_crc32c_sw() is always the table version, hl_crc32c_hw() the
 * instruction when available (else the table version), for tests.
 */
HL_EXPORT uint32_t hl_crc32c(uint32_t crc, const void *buf, size_t len);
HL_EXPORT uint32_t hl_crc32c_sw(uint32_t crc, const void *buf, size_t len);
HL_EXPORT uint32_t hl_crc32c_hw(uint32_t crc, const void *buf, size_t len);
/* "sse4.2" or "slice-by-8": what hl_crc32c() uses on this machine. */
HL_EXPORT const char *hl_crc32c_impl(void);

/*
 * Fill *vh with a valid single-volume header: constants, default sizes,
 * vol_no 0, vol_count 1, root_node 0, and a zero mount id (which the
 * caller must set: an all-zero mount id is refused).
 */
HL_EXPORT void hl_volhdr_init(struct hl_volume_header *vh);

/* Check every field of a host-side header (not the crc member). */
HL_EXPORT int hl_volhdr_validate(
    const struct hl_volume_header *vh, char *why, size_t whylen);

/*
 * Validate *vh and write its 512 on-disk bytes, CRC included, to buf
 * (len >= HL_VOLHDR_SIZE; only the first 512 bytes are written).
 * Returns 0 or EINVAL.
 */
HL_EXPORT int hl_volhdr_encode(const struct hl_volume_header *vh, void *buf,
    size_t len, char *why, size_t whylen);

/*
 * Decode and validate the header at the start of buf (len bytes).  The
 * checks run in this order: length (EINVAL), magic (EINVAL), version
 * (ENOTSUP: "format version N is not supported (this build reads version
 * 1)"), header size (EINVAL), CRC (EBADMSG), then every field (EINVAL).
 * *out is written only on success.
 */
HL_EXPORT int hl_volhdr_decode(const void *buf, size_t len,
    struct hl_volume_header *out, char *why, size_t whylen);

/* The CRC the header bytes [0, 508) of buf should carry. */
HL_EXPORT uint32_t hl_volhdr_crc(const void *buf);

/* Format a mount id as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
HL_EXPORT void hl_mount_id_str(const uint8_t *id, char *buf, size_t len);

/*
 * Check that [off, off + bytes) is a valid place for an object in the
 * volume whose header is *vh: zone 2, volume vh->vol_no, 1 <= bytes <=
 * buffer_size, inside the volume (ERANGE otherwise), not in the header
 * buffer, aligned to bytes when bytes is a power of two (nodes, buffers)
 * and to HL_OFF_ALIGN otherwise, and not crossing a buffer boundary.
 */
HL_EXPORT int hl_off_check(const struct hl_volume_header *vh, uint64_t off,
    size_t bytes, char *why, size_t whylen);

/*
 * The free map (version 2): a bitmap of the volume's node slots (slot s
 * is the node at byte buffer_size + s * node_size; bit set = in use), in
 * HL_NODE_RAW nodes whose whole payload is bitmap, placed at the first
 * slots of the data area and marking themselves used.  Bits past the
 * last slot are set.  hl_freemap_nodes() is how many nodes it takes (0
 * if the header's sizes are unusable).
 */
HL_EXPORT uint32_t hl_freemap_nodes(const struct hl_volume_header *vh);

/* Set vh's freemap fields from its vol_no and sizes. */
HL_EXPORT void hl_volhdr_set_freemap(struct hl_volume_header *vh);

/* A node size this format accepts: a power of two, 128..1 MiB. */
HL_EXPORT bool hl_node_size_valid(size_t node_size);

/* CRC32C of bytes [4, node_size) of a node; 0 if node_size < 4. */
HL_EXPORT uint32_t hl_node_crc(const void *node, size_t node_size);

/*
 * Verify a node: valid if all zero; otherwise the CRC must match
 * (EBADMSG, "bad CRC (stored 0x..., computed 0x...)"), then the type must
 * be known, the count fit the type (FREE: 0; INTERNAL, LEAF, DELETED:
 * HL_NODE_MAX_ELMS; RAW: payload bytes), and the parent be 0 or a zone-2
 * offset aligned to node_size (EINVAL).
 */
HL_EXPORT int hl_node_check(
    const void *node, size_t node_size, char *why, size_t whylen);

/* Recompute and store a node's CRC; returns it (0, storing nothing, if
 * node_size is not valid). */
HL_EXPORT uint32_t hl_node_seal(void *node, size_t node_size);

/* Read or write the 24-byte node header (encode stores h->crc as is). */
HL_EXPORT void hl_node_hdr_decode(const void *node, struct hl_node_header *h);
HL_EXPORT void hl_node_hdr_encode(void *node, const struct hl_node_header *h);

/*
 * Volume files.
 */
struct hl_newfs_opts {
	uint64_t vol_size;    /* bytes per volume; 0: HL_VOL_SIZE_DEFAULT */
	uint32_t buffer_size; /* 0: HL_BUFFER_SIZE_DEFAULT */
	uint32_t node_size;   /* 0: HL_NODE_SIZE_DEFAULT */
};

/*
 * Create (or truncate) npaths volume files of one new mount: each file is
 * set to vol_size bytes (sparse), gets a header (vol_no i, vol_count
 * npaths, one random mount id) and is fsync'ed.  o may be NULL for the
 * defaults.  The same file given twice is refused.
 */
HL_EXPORT int hl_newfs(const char *const *paths, int npaths,
    const struct hl_newfs_opts *o, char *why, size_t whylen);

/*
 * Read and validate the header of the open volume `fd' (name is used in
 * messages), including that the file holds vol_size bytes ("NAME:
 * truncated: N bytes, header says M").  Regular files and block devices.
 */
HL_EXPORT int hl_volume_read_header(int fd, const char *name,
    struct hl_volume_header *out, char *why, size_t whylen);

/* Encode *vh and write it at byte 0 of fd; fdatasync it if sync. */
HL_EXPORT int hl_volume_write_header(int fd, const char *name,
    const struct hl_volume_header *vh, bool sync, char *why, size_t whylen);

/*
 * Cross-check the headers of the n volumes of one mount (names[i] is the
 * file of vh[i], any order): vol_count == n, one volume per number, one
 * mount id, one buffer and node size, and the root node (volume 0's
 * root_node) valid in the volume it names.
 */
HL_EXPORT int hl_format_check_set(const struct hl_volume_header *vh,
    const char *const *names, int n, char *why, size_t whylen);

/* hl_volume_read_header() on each fd, then hl_format_check_set(). */
HL_EXPORT int hl_format_probe_fds(const int *fds, const char *const *names,
    int n, struct hl_volume_header *out, char *why, size_t whylen);

/* The same on paths (opened read-only and closed again). */
HL_EXPORT int hl_format_probe(const char *const *paths, int npaths,
    struct hl_volume_header *out, char *why, size_t whylen);

/*
 * Walk every node slot of every data buffer of a mount whose headers
 * passed hl_format_check_set(), volume by volume in vol_no order.
 *
 *   read(arg, idx, off, buf, len)   fill buf with the len bytes of the node
 *                                   at off, in the volume of vh[idx];
 *                                   return 0 or an errno.  ECANCELED stops
 *                                   the walk (hl_format_scan returns it);
 *                                   another errno is reported as damage.
 *   report(arg, idx, off, err, why) called for each damaged node: err is
 *                                   EBADMSG (bad CRC), EINVAL (bad field)
 *                                   or the read's errno; may be NULL.
 *
 * Returns 0 when the walk finished (damage is counted in *st), else an
 * errno (EINVAL for bad arguments, ENOMEM, ECANCELED).
 */
struct hl_scan_stats {
	uint64_t nodes;	      /* node slots visited */
	uint64_t unused;      /* all-zero (never written) among them */
	uint64_t damaged;     /* reported, read errors included */
	uint64_t read_errors; /* reads that failed */
};

typedef int (*hl_scan_read_fn)(
    void *arg, int idx, uint64_t off, void *buf, size_t len);
typedef void (*hl_scan_report_fn)(
    void *arg, int idx, uint64_t off, int error, const char *why);

HL_EXPORT int hl_format_scan(const struct hl_volume_header *vh, int n,
    hl_scan_read_fn read, hl_scan_report_fn report, void *arg,
    struct hl_scan_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* HAMMERLOCK_FORMAT_H */
