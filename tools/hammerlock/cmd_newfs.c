/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_newfs.c - `hammerlock newfs FILE...': create the volume files of a
 * new mount.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hammerlock.h>

#include "cli.h"

void
hl_cli_newfs_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: hammerlock newfs FILE... [--size BYTES] [--buffer-size "
	    "BYTES]\n"
	    "                        [--node-size BYTES] [--force] [--quiet]\n"
	    "\n"
	    "Create (or truncate) one volume file per FILE, all belonging to "
	    "one\n"
	    "new mount: FILE number i becomes volume i (the first is the root\n"
	    "volume).  The files are sparse; only the headers are written.\n"
	    "\n"
	    "  -s, --size BYTES         size of each volume (default 64M); a\n"
	    "                           multiple of the buffer size\n"
	    "  -b, --buffer-size BYTES  I/O buffer size, a power of two from "
	    "the\n"
	    "                           node size to 1M (default 16384)\n"
	    "  -n, --node-size BYTES    node size, a power of two from 512 to "
	    "the\n"
	    "                           buffer size (default 4096)\n"
	    "  -f, --force              overwrite files that hold something "
	    "other\n"
	    "                           than a hammerlock volume\n"
	    "  -q, --quiet              print nothing on success\n"
	    "  -h, --help               show this help\n"
	    "\n"
	    "BYTES accepts K, M, G and T suffixes (powers of 1024).  At most "
	    "%d\n"
	    "files.  Exit status 0 on success, 2 on any error.\n",
	    HL_MAX_VOLUMES);
}

/*
 * Refuse to clobber a non-empty file that is not already a volume, unless
 * --force: a mistyped path should not destroy data.
 */
static int
check_clobber(const char *path)
{
	uint8_t magic[8];
	struct stat st;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* absent, or hl_newfs will report why */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return 0;
	}
	r = pread(fd, magic, sizeof(magic), 0);
	close(fd);
	if (r == (ssize_t)sizeof(magic) &&
	    hl_le64_get(magic) == HL_VOLHDR_MAGIC)
		return 0;
	hl_cli_err("newfs",
	    "%s exists and is not a hammerlock volume (use --force to "
	    "overwrite it)",
	    path);
	return EEXIST;
}

static int
size_arg(const char *opt, const char *arg, uint64_t max, uint64_t *out)
{
	int error = hl_cli_parse_size(arg, out);

	if (error == 0 && (*out == 0 || *out > max))
		error = ERANGE;
	if (error != 0)
		hl_cli_err("newfs", "bad %s '%s': %s", opt, arg,
		    error == ERANGE ? "out of range" : "not a size");
	return error;
}

int
hl_cli_newfs(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"size", required_argument, NULL, 's'},
	    {"buffer-size", required_argument, NULL, 'b'},
	    {"node-size", required_argument, NULL, 'n'},
	    {"force", no_argument, NULL, 'f'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct hl_newfs_opts o = {0};
	struct hl_volume_header *vh;
	const char *const *files;
	char why[512], id[HL_MOUNT_ID_STRLEN];
	bool force = false, quiet = false;
	uint64_t v;
	int c, nfiles, error;

	opterr = 0;
	optind = 1;
	while (
	    (c = getopt_long(argc, argv, ":s:b:n:fqh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (size_arg("--size", optarg, HL_VOL_SIZE_MAX, &v))
				return HL_EXIT_UNUSABLE;
			o.vol_size = v;
			break;
		case 'b':
			if (size_arg("--buffer-size", optarg,
				HL_BUFFER_SIZE_MAX, &v))
				return HL_EXIT_UNUSABLE;
			o.buffer_size = (uint32_t)v;
			break;
		case 'n':
			if (size_arg(
				"--node-size", optarg, HL_BUFFER_SIZE_MAX, &v))
				return HL_EXIT_UNUSABLE;
			o.node_size = (uint32_t)v;
			break;
		case 'f':
			force = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			hl_cli_newfs_usage(stdout);
			return HL_EXIT_OK;
		case ':':
			hl_cli_err("newfs", "option %s needs a value",
			    argv[optind - 1]);
			return HL_EXIT_UNUSABLE;
		default:
			if (optopt != 0)
				hl_cli_err("newfs",
				    "unknown option '-%c' (try 'hammerlock "
				    "newfs --help')",
				    optopt);
			else
				hl_cli_err("newfs",
				    "unknown option '%s' (try 'hammerlock "
				    "newfs --help')",
				    argv[optind - 1]);
			return HL_EXIT_UNUSABLE;
		}
	}
	nfiles = argc - optind;
	files = (const char *const *)(argv + optind);
	if (nfiles < 1 || nfiles > HL_MAX_VOLUMES) {
		hl_cli_err("newfs", "%s (try 'hammerlock newfs --help')",
		    nfiles < 1 ? "no volume files given" : "too many files");
		return HL_EXIT_UNUSABLE;
	}
	for (int i = 0; i < nfiles && !force; i++)
		if (check_clobber(files[i]) != 0)
			return HL_EXIT_UNUSABLE;
	error = hl_newfs(files, nfiles, &o, why, sizeof(why));
	if (error != 0) {
		hl_cli_err("newfs", "%s", why);
		return HL_EXIT_UNUSABLE;
	}
	if (quiet)
		return HL_EXIT_OK;
	/* Read back what was written: the summary comes from the disk. */
	vh = calloc((size_t)nfiles, sizeof(*vh));
	if (vh == NULL) {
		hl_cli_err("newfs", "out of memory");
		return HL_EXIT_UNUSABLE;
	}
	error = hl_format_probe(files, nfiles, vh, why, sizeof(why));
	if (error != 0) {
		hl_cli_err(
		    "newfs", "written volumes do not read back: %s", why);
		free(vh);
		return HL_EXIT_UNUSABLE;
	}
	hl_mount_id_str(vh[0].mount_id, id, sizeof(id));
	printf("mount %s: %d volume%s, format version %u, buffer size %" PRIu32
	       ", node size %" PRIu32 "\n",
	    id, nfiles, nfiles == 1 ? "" : "s", HL_FORMAT_VERSION,
	    vh[0].buffer_size, vh[0].node_size);
	for (int i = 0; i < nfiles; i++)
		printf("  volume %" PRIu32 ": %s, %" PRIu64 " bytes, %" PRIu64
		       " nodes\n",
		    vh[i].vol_no, files[i], vh[i].vol_size,
		    (vh[i].vol_size - vh[i].buffer_size) / vh[i].node_size);
	free(vh);
	return HL_EXIT_OK;
}
