/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_check.c - `hammerlock check FILE...': verify a mount's volume
 * headers, then every node's CRC and header fields, through the object
 * cache.
 *
 * The volumes are mounted read-only with a modest pool: hl_mount_open()
 * reads and cross-checks every header, and referencing each volume loads
 * its header again and compares it with what the mount saw.  Then every
 * data buffer is referenced in turn, and every node slot in it is
 * referenced with a transaction flagged HL_TRANSF_CRCDOM, so that the
 * cache's own load path does the checking: EDOM is a damaged node (the
 * buffer's bytes are checked again here only to say what is wrong), any
 * other error of the buffer read is a read error.  The cache checks what
 * a node says about itself; that its parent is a place in the mount is
 * checked here.
 *
 * When the mount is refused, hl_format_probe() looks at the files again,
 * only to explain the refusal as precisely as it can.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <hammerlock.h>
#include <hammerlock/btree.h>

#include "cli.h"

#define CHECK_POOL_BYTES (16u << 20) /* buffer pool of the check's mount */

void
hl_cli_check_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: hammerlock check FILE... [--quiet]\n"
	    "\n"
	    "Verify the volumes of one mount: every volume header (magic,\n"
	    "version, CRC, sizes, one mount id, one file per volume number, "
	    "no\n"
	    "truncated file), then every node of every data buffer (CRC, "
	    "type,\n"
	    "element count, parent offset).  Give all the volume files of the\n"
	    "mount, in any order.  Damaged nodes are listed on stdout as\n"
	    "\n"
	    "  volume V node at offset 0x...: bad CRC (stored 0x..., computed "
	    "0x...)\n"
	    "\n"
	    "  -q, --quiet   print only the damaged nodes and errors\n"
	    "  -h, --help    show this help\n"
	    "\n"
	    "exit status: 0 clean, 1 damaged nodes found, 2 unusable input "
	    "(bad\n"
	    "or truncated header, mismatched mount id, missing volume...) or "
	    "a\n"
	    "usage error.\n");
}

/* One check run: the mount, its volumes and the counts. */
struct check {
	struct hl_mount *m;
	struct hl_trans t;
	int nvol;
	struct hl_volume *vols[HL_MAX_VOLUMES]; /* referenced, by number */
	const struct hl_volume_header *vh[HL_MAX_VOLUMES];
	uint64_t nodes;	      /* node slots visited */
	uint64_t unused;      /* never written (all zero) */
	uint64_t damaged;     /* listed, read errors included */
	uint64_t read_errors; /* node slots whose buffer could not be read */
};

static void
check_report(uint64_t off, const char *why)
{
	printf("volume %u node at offset 0x%016" PRIx64 ": %s\n",
	    HL_OFF_VOL(off), off, why);
}

static bool
all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/*
 * A node the cache accepted: is its parent, if any, a node-sized place in
 * one of the mount's volumes (and not the node itself)?  The messages are
 * those hl_format_scan() gives.
 */
static int
check_parent(const struct check *ck, uint64_t off, const void *node, char *msg,
    size_t msglen)
{
	uint32_t ns = hl_mount_node_size(ck->m);
	struct hl_node_header h;
	unsigned vol;
	char sub[192];

	hl_node_hdr_decode(node, &h);
	if (h.parent == 0)
		return 0;
	if (h.parent == off) {
		snprintf(msg, msglen, "node is its own parent");
		return EINVAL;
	}
	vol = HL_OFF_VOL(h.parent);
	if (vol >= (unsigned)ck->nvol) {
		snprintf(msg, msglen,
		    "bad parent offset 0x%016" PRIx64
		    ": volume %u out of range (volume count %d)",
		    h.parent, vol, ck->nvol);
		return EINVAL;
	}
	if (hl_off_check(ck->vh[vol], h.parent, ns, sub, sizeof(sub)) != 0) {
		snprintf(msg, msglen, "bad parent: %s", sub);
		return EINVAL;
	}
	return 0;
}

/*
 * Check the nodes of the referenced buffer b (at boff).  Returns 0, or an
 * errno when the cache itself failed and the check cannot go on.
 */
static int
check_nodes(struct check *ck, struct hl_buffer *b, uint64_t boff)
{
	uint32_t bs = hl_mount_buffer_size(ck->m);
	uint32_t ns = hl_mount_node_size(ck->m);
	const uint8_t *bdata = hl_buffer_data(b);
	char msg[256];
	int error;

	for (uint32_t o = 0; o < bs; o += ns) {
		uint64_t off = boff + o;
		struct hl_node *n;

		ck->nodes++;
		n = hl_get_node(&ck->t, off, false, &error);
		if (n != NULL) {
			const uint8_t *p = hl_node_data(n);

			if (all_zero(p, ns))
				ck->unused++;
			else if (check_parent(ck, off, p, msg, sizeof(msg))) {
				ck->damaged++;
				check_report(off, msg);
			}
			hl_rel_node(n);
			continue;
		}
		if (error != EDOM) {
			/* We hold the buffer: nothing is left to read. */
			fprintf(stderr,
			    "hammerlock check: node at offset 0x%016" PRIx64
			    ": %s\n",
			    off, strerror(error));
			return error;
		}
		/* Refused by the cache: say why from the buffer's bytes. */
		ck->damaged++;
		if (hl_node_check(bdata + o, ns, msg, sizeof(msg)) == 0)
			snprintf(msg, sizeof(msg), "refused by the cache (%s)",
			    strerror(error));
		check_report(off, msg);
	}
	return 0;
}

/* Walk every data buffer of every volume, in volume number order. */
static int
check_walk(struct check *ck)
{
	uint32_t bs = hl_mount_buffer_size(ck->m);
	uint32_t ns = hl_mount_node_size(ck->m);
	char msg[256];
	int error;

	hl_trans_init(&ck->t, ck->m);
	ck->t.flags |= HL_TRANSF_CRCDOM;
	for (int v = 0; v < ck->nvol; v++) {
		for (uint64_t sh = bs; sh < ck->vh[v]->vol_size; sh += bs) {
			uint64_t boff = HL_OFF_MAKE(v, sh);
			struct hl_buffer *b;

			b = hl_get_buffer(ck->m, boff, 0, false, &error);
			if (b != NULL) {
				error = check_nodes(ck, b, boff);
				hl_rel_buffer(b);
				if (error != 0)
					return error;
				continue;
			}
			if (error == ENOMEM || error == EINVAL ||
			    error == ERANGE || error == ENOENT) {
				fprintf(stderr,
				    "hammerlock check: buffer at offset "
				    "0x%016" PRIx64 ": %s\n",
				    boff, strerror(error));
				return error;
			}
			/* A read error: every node in it is unreadable. */
			snprintf(msg, sizeof(msg), "read error (errno %d: %s)",
			    error, strerror(error));
			for (uint32_t o = 0; o < bs; o += ns) {
				ck->nodes++;
				ck->damaged++;
				ck->read_errors++;
				check_report(boff + o, msg);
			}
		}
	}
	return 0;
}

/* The mount was refused: explain it as precisely as possible. */
static void
check_explain(const char *const *files, int nfiles, const char *mountwhy)
{
	struct hl_volume_header *vh = calloc((size_t)nfiles, sizeof(*vh));
	char why[512];

	if (vh != NULL &&
	    hl_format_probe(files, nfiles, vh, why, sizeof(why)) != 0)
		hl_cli_err("check", "%s", why);
	else
		hl_cli_err("check", "cannot mount: %s", mountwhy);
	free(vh);
}

static void
check_tree_report(void *arg, uint64_t off, const char *what)
{
	(void)arg;
	printf("tree: node at offset %#" PRIx64 ": %s\n", off, what);
}

/*
 * The B-tree's structure and the free map (hl_btree_check): key order,
 * bounds, parent pointers, counts, no node reachable twice, and the map
 * marking exactly the reachable nodes.  Exit status as for nodes.
 */
static int
check_tree(struct check *ck, bool quiet)
{
	struct hl_btree_shape sh;
	struct hl_btree *bt;
	uint64_t nproblems = 0;
	int error;

	error = hl_btree_open(ck->m, &bt);
	if (error != 0) {
		hl_cli_err("check", "tree: cannot open: %s", strerror(error));
		return HL_EXIT_DAMAGED;
	}
	error = hl_btree_check(bt, &sh, check_tree_report, NULL, &nproblems);
	hl_btree_close(bt);
	if (error != 0) {
		hl_cli_err("check", "tree: walk failed: %s", strerror(error));
		return HL_EXIT_UNUSABLE;
	}
	if (!quiet || nproblems != 0)
		printf("tree: depth %" PRIu32 ", %" PRIu64
		       " internal + %" PRIu64 " leaf nodes, %" PRIu64
		       " keys; free map %" PRIu64 " used, %" PRIu64
		       " free; %" PRIu64 " problems\n",
		    sh.depth, sh.internal, sh.leaves, sh.keys, sh.used_nodes,
		    sh.free_nodes, nproblems);
	return nproblems != 0 ? HL_EXIT_DAMAGED : HL_EXIT_OK;
}

int
hl_cli_check(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct hl_mount_opts mo = {
	    .readonly = true, .pool_bytes = CHECK_POOL_BYTES};
	struct hl_mount_stats ms;
	struct check *ck = NULL;
	const char *const *files;
	char why[1024], id[HL_MOUNT_ID_STRLEN];
	int c, nfiles, error, rc = HL_EXIT_UNUSABLE;
	bool quiet = false;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'h':
			hl_cli_check_usage(stdout);
			return HL_EXIT_OK;
		default:
			if (optopt != 0)
				hl_cli_err("check",
				    "unknown option '-%c' (try 'hammerlock "
				    "check --help')",
				    optopt);
			else
				hl_cli_err("check",
				    "unknown option '%s' (try 'hammerlock "
				    "check --help')",
				    argv[optind - 1]);
			return HL_EXIT_UNUSABLE;
		}
	}
	nfiles = argc - optind;
	files = (const char *const *)(argv + optind);
	if (nfiles < 1 || nfiles > HL_MAX_VOLUMES) {
		hl_cli_err("check", "%s (try 'hammerlock check --help')",
		    nfiles < 1 ? "no volume files given" : "too many files");
		return HL_EXIT_UNUSABLE;
	}
	if ((ck = calloc(1, sizeof(*ck))) == NULL) {
		hl_cli_err("check", "out of memory");
		return HL_EXIT_UNUSABLE;
	}
	error = hl_mount_open(files, nfiles, &mo, &ck->m, why, sizeof(why));
	if (error != 0) {
		check_explain(files, nfiles, why);
		goto out;
	}
	ck->nvol = hl_mount_nvolumes(ck->m);
	for (int v = 0; v < ck->nvol; v++) {
		ck->vols[v] = hl_get_volume(ck->m, v, &error);
		if (ck->vols[v] == NULL) {
			hl_cli_err("check",
			    "volume %d: cannot load its header: "
			    "%s",
			    v, strerror(error));
			goto out;
		}
		ck->vh[v] = hl_volume_header(ck->vols[v]);
	}
	if (!quiet) {
		hl_mount_id_str(ck->vh[0]->mount_id, id, sizeof(id));
		printf("mount %s: %d volume%s, buffer size %" PRIu32
		       ", node size %" PRIu32 ", headers ok\n",
		    id, nfiles, nfiles == 1 ? "" : "s",
		    hl_mount_buffer_size(ck->m), hl_mount_node_size(ck->m));
	}
	error = check_walk(ck);
	if (error != 0) {
		hl_cli_err("check", "node scan failed: %s", strerror(error));
		goto out;
	}
	hl_mount_stats(ck->m, &ms);
	if (!quiet || ck->damaged != 0)
		printf("%" PRIu64 " nodes checked (%" PRIu64
		       " never written), %" PRIu64 " damaged (%" PRIu64
		       " read errors); %" PRIu64 " reads\n",
		    ck->nodes, ck->unused, ck->damaged, ck->read_errors,
		    ms.reads);
	rc = ck->damaged != 0 ? HL_EXIT_DAMAGED : HL_EXIT_OK;
	if (rc == HL_EXIT_OK)
		rc = check_tree(ck, quiet);
out:
	fflush(stdout);
	if (ck->m != NULL) {
		for (int v = 0; v < ck->nvol; v++)
			if (ck->vols[v] != NULL)
				hl_rel_volume(ck->vols[v]);
		if (hl_mount_close(ck->m, why, sizeof(why)) != 0) {
			hl_cli_err("check", "unmount: %s", why);
			rc = HL_EXIT_UNUSABLE;
		}
	}
	free(ck);
	return rc;
}
