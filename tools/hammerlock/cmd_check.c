/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_check.c - `hammerlock check FILE...': verify a mount's volume
 * headers, then every node's CRC and header fields.
 *
 * The walk itself is hl_format_scan(), which asks a "read node" callback
 * for each node.  The callback here reads the volume files buffer by
 * buffer with pread (one buffer kept, so each buffer is read once); a
 * callback that goes through the object cache can replace it without
 * touching the walk.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hammerlock.h>

#include "cli.h"

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

/* The pread "read node" callback's state: one cached buffer. */
struct check_io {
	const int *fds;
	const struct hl_volume_header *vh;
	uint8_t *buf;	/* buffer_size bytes */
	int cur;	/* volume index of the cached buffer, or -1 */
	uint64_t start; /* its byte offset in that volume */
};

static int
check_read(void *arg, int idx, uint64_t off, void *dst, size_t len)
{
	struct check_io *io = arg;
	uint32_t bsize = io->vh[idx].buffer_size;
	uint64_t sh = HL_OFF_SHORT(off);
	uint64_t start = sh & ~(uint64_t)(bsize - 1);
	size_t done = 0;

	if (io->cur != idx || io->start != start) {
		io->cur = -1;
		while (done < bsize) {
			ssize_t r = pread(io->fds[idx], io->buf + done,
			    bsize - done, (off_t)(start + done));

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return errno;
			if (r == 0)
				return EIO; /* the file shrank under us */
			done += (size_t)r;
		}
		io->cur = idx;
		io->start = start;
	}
	memcpy(dst, io->buf + (sh - start), len);
	return 0;
}

static void
check_damage(void *arg, int idx, uint64_t off, int error, const char *why)
{
	struct check_io *io = arg;

	(void)error;
	printf("volume %" PRIu32 " node at offset 0x%016" PRIx64 ": %s\n",
	    io->vh[idx].vol_no, off, why);
}

int
hl_cli_check(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct hl_volume_header *vh = NULL;
	struct hl_scan_stats st;
	struct check_io io = {0};
	const char *const *files;
	char why[512], id[HL_MOUNT_ID_STRLEN];
	int *fds = NULL;
	int c, nfiles, nopen = 0, error, rc = HL_EXIT_UNUSABLE;
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
	fds = calloc((size_t)nfiles, sizeof(*fds));
	vh = calloc((size_t)nfiles, sizeof(*vh));
	if (fds == NULL || vh == NULL) {
		hl_cli_err("check", "out of memory");
		goto out;
	}
	for (; nopen < nfiles; nopen++) {
		fds[nopen] = open(files[nopen], O_RDONLY | O_CLOEXEC);
		if (fds[nopen] < 0) {
			hl_cli_err("check", "%s: open: %s", files[nopen],
			    strerror(errno));
			goto out;
		}
	}
	error = hl_format_probe_fds(fds, files, nfiles, vh, why, sizeof(why));
	if (error != 0) {
		hl_cli_err("check", "%s", why);
		goto out;
	}
	if (!quiet) {
		hl_mount_id_str(vh[0].mount_id, id, sizeof(id));
		printf("mount %s: %d volume%s, buffer size %" PRIu32
		       ", node size %" PRIu32 ", headers ok\n",
		    id, nfiles, nfiles == 1 ? "" : "s", vh[0].buffer_size,
		    vh[0].node_size);
	}
	io.fds = fds;
	io.vh = vh;
	io.cur = -1;
	io.buf = malloc(vh[0].buffer_size);
	if (io.buf == NULL) {
		hl_cli_err("check", "out of memory");
		goto out;
	}
	error = hl_format_scan(vh, nfiles, check_read, check_damage, &io, &st);
	if (error != 0) {
		hl_cli_err("check", "node scan failed: %s", strerror(error));
		goto out;
	}
	if (!quiet || st.damaged != 0)
		printf("%" PRIu64 " nodes checked (%" PRIu64
		       " never written), %" PRIu64 " damaged (%" PRIu64
		       " read errors)\n",
		    st.nodes, st.unused, st.damaged, st.read_errors);
	rc = st.damaged != 0 ? HL_EXIT_DAMAGED : HL_EXIT_OK;
out:
	fflush(stdout);
	free(io.buf);
	for (int i = 0; i < nopen; i++)
		close(fds[i]);
	free(fds);
	free(vh);
	return rc;
}
