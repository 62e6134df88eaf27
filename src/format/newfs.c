/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * newfs.c - create the volume files of a new mount, and read, write and
 * cross-check the headers of an existing one.
 *
 * Every message names the file it is about.  Reads and writes go through
 * pread/pwrite loops that retry EINTR and partial transfers.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "format_internal.h"

/* Read len bytes at off; returns the count read (short at EOF) or -errno. */
static ssize_t
pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(
		    fd, (char *)buf + done, len - done, off + (off_t)done);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int
pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pwrite(fd, (const char *)buf + done, len - done,
		    off + (off_t)done);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (r == 0)
			return EIO;
		done += (size_t)r;
	}
	return 0;
}

static const char *
name_of(const char *const *names, int i, char *tmp, size_t tmplen)
{
	if (names != NULL && names[i] != NULL)
		return names[i];
	snprintf(tmp, tmplen, "volume file #%d", i);
	return tmp;
}

/* A mount id from the kernel's random source; never all zero. */
static void
make_mount_id(uint8_t *id)
{
	size_t got = 0;

	while (got < HL_MOUNT_ID_SIZE) {
		ssize_t r = getrandom(id + got, HL_MOUNT_ID_SIZE - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < HL_MOUNT_ID_SIZE) {
		/* No getrandom: a clock/pid/address mix, still unique enough
		 * to tell mounts apart. */
		struct timespec ts;
		uint64_t x;

		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
		    (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)id;
		for (int i = 0; i < HL_MOUNT_ID_SIZE; i++) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			id[i] = (uint8_t)((x * 0x2545F4914F6CDD1DULL) >> 56);
		}
	}
	id[0] |= 1; /* never all zero */
}

/* fsync the directory that holds path, so a new file's entry is durable. */
static void
sync_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)fsync(fd); /* best effort: not every file system allows it */
	close(fd);
}

/*
 * Write the free map of a new volume: its own nodes, and the bits past
 * the last slot, are marked used; every other slot is free.
 */
static int
write_freemap(int fd, const struct hl_volume_header *vh)
{
	uint32_t ns = vh->node_size, nfm = hl_freemap_nodes(vh);
	uint64_t slots = (vh->vol_size - vh->buffer_size) / ns;
	uint64_t bits = (uint64_t)(ns - HL_NODE_HDR_SIZE) * 8;
	struct hl_node_header h = {.type = HL_NODE_RAW};
	uint8_t *node = malloc(ns);
	int error = 0;

	if (node == NULL)
		return ENOMEM;
	h.count = (uint16_t)(ns - HL_NODE_HDR_SIZE);
	for (uint32_t k = 0; k < nfm && error == 0; k++) {
		uint8_t *map = (uint8_t *)HL_NODE_PAYLOAD(node);

		memset(node, 0, ns);
		hl_node_hdr_encode(node, &h);
		for (uint64_t b = 0; b < bits; b++) {
			uint64_t s = k * bits + b;

			if (s < nfm || s >= slots)
				map[b / 8] |= (uint8_t)(1u << (b % 8));
		}
		hl_node_seal(node, ns);
		error = pwrite_full(
		    fd, node, ns, (off_t)(vh->buffer_size + (uint64_t)k * ns));
	}
	free(node);
	return error;
}

int
hl_newfs(const char *const *paths, int npaths, const struct hl_newfs_opts *o,
    char *why, size_t whylen)
{
	struct hl_volume_header vh;
	uint8_t hdr[HL_VOLHDR_SIZE];
	int fds[HL_MAX_VOLUMES];
	struct stat sts[HL_MAX_VOLUMES];
	char sub[256];
	int error = 0, nopen = 0;

	if (paths == NULL || npaths < 1 || npaths > HL_MAX_VOLUMES) {
		hl__why(why, whylen, "%d volume files given (1..%d)",
		    paths == NULL ? 0 : npaths, HL_MAX_VOLUMES);
		return EINVAL;
	}
	for (int i = 0; i < npaths; i++) {
		if (paths[i] == NULL || paths[i][0] == '\0') {
			hl__why(why, whylen, "volume file #%d has no name", i);
			return EINVAL;
		}
	}
	hl_volhdr_init(&vh);
	if (o != NULL && o->vol_size != 0)
		vh.vol_size = o->vol_size;
	if (o != NULL && o->buffer_size != 0)
		vh.buffer_size = o->buffer_size;
	if (o != NULL && o->node_size != 0)
		vh.node_size = o->node_size;
	vh.vol_count = (uint32_t)npaths;
	vh.create_time = (uint64_t)time(NULL);
	make_mount_id(vh.mount_id);
	hl_volhdr_set_freemap(&vh);
	error = hl_volhdr_validate(&vh, why, whylen);
	if (error != 0)
		return error;
	if (vh.vol_size > (uint64_t)INT64_MAX) {
		hl__why(why, whylen, "volume size %" PRIu64 " is too large",
		    vh.vol_size);
		return EINVAL;
	}

	/* Open and check every file before changing any of them. */
	for (int i = 0; i < npaths; i++) {
		fds[i] = open(paths[i], O_RDWR | O_CREAT | O_CLOEXEC, 0666);
		if (fds[i] < 0) {
			error = errno;
			hl__why(why, whylen, "%s: open: %s", paths[i],
			    strerror(error));
			goto out;
		}
		nopen++;
		if (fstat(fds[i], &sts[i]) != 0) {
			error = errno;
			hl__why(why, whylen, "%s: stat: %s", paths[i],
			    strerror(error));
			goto out;
		}
		if (!S_ISREG(sts[i].st_mode)) {
			error = EINVAL;
			hl__why(
			    why, whylen, "%s: not a regular file", paths[i]);
			goto out;
		}
		for (int j = 0; j < i; j++) {
			if (sts[j].st_dev == sts[i].st_dev &&
			    sts[j].st_ino == sts[i].st_ino) {
				error = EINVAL;
				hl__why(why, whylen,
				    "%s and %s are the same file", paths[j],
				    paths[i]);
				goto out;
			}
		}
	}

	for (int i = 0; i < npaths; i++) {
		vh.vol_no = (uint32_t)i;
		hl_volhdr_set_freemap(&vh);
		error =
		    hl_volhdr_encode(&vh, hdr, sizeof(hdr), sub, sizeof(sub));
		if (error != 0) {
			hl__why(why, whylen, "%s: %s", paths[i], sub);
			goto out;
		}
		/* Drop old contents, then extend sparse: unwritten = zero. */
		if (ftruncate(fds[i], 0) != 0 ||
		    ftruncate(fds[i], (off_t)vh.vol_size) != 0) {
			error = errno;
			hl__why(why, whylen, "%s: truncate to %" PRIu64 ": %s",
			    paths[i], vh.vol_size, strerror(error));
			goto out;
		}
		error = pwrite_full(fds[i], hdr, sizeof(hdr), 0);
		if (error != 0) {
			hl__why(why, whylen, "%s: write header: %s", paths[i],
			    strerror(error));
			goto out;
		}
		error = write_freemap(fds[i], &vh);
		if (error != 0) {
			hl__why(why, whylen, "%s: write free map: %s", paths[i],
			    strerror(error));
			goto out;
		}
		if (fsync(fds[i]) != 0) {
			error = errno;
			hl__why(why, whylen, "%s: fsync: %s", paths[i],
			    strerror(error));
			goto out;
		}
		sync_parent_dir(paths[i]);
	}
out:
	for (int i = 0; i < nopen; i++)
		close(fds[i]);
	return error;
}

int
hl_volume_read_header(int fd, const char *name, struct hl_volume_header *out,
    char *why, size_t whylen)
{
	struct hl_volume_header vh;
	uint8_t hdr[HL_VOLHDR_SIZE];
	char sub[256];
	struct stat st;
	uint64_t size;
	ssize_t r;
	int error;

	if (name == NULL)
		name = "volume";
	if (fd < 0 || out == NULL) {
		hl__why(why, whylen, "%s: not open", name);
		return EINVAL;
	}
	if (fstat(fd, &st) != 0) {
		error = errno;
		hl__why(why, whylen, "%s: stat: %s", name, strerror(error));
		return error;
	}
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);

		if (end < 0) {
			error = errno;
			hl__why(
			    why, whylen, "%s: size: %s", name, strerror(error));
			return error;
		}
		size = (uint64_t)end;
	} else {
		hl__why(why, whylen, "%s: not a regular file or block device",
		    name);
		return EINVAL;
	}
	if (size < HL_VOLHDR_SIZE) {
		hl__why(why, whylen,
		    "%s: truncated: %" PRIu64
		    " bytes, too short for a volume header (%u bytes)",
		    name, size, HL_VOLHDR_SIZE);
		return EINVAL;
	}
	r = pread_full(fd, hdr, sizeof(hdr), 0);
	if (r < 0) {
		hl__why(why, whylen, "%s: read header: %s", name,
		    strerror((int)-r));
		return (int)-r;
	}
	if ((size_t)r < sizeof(hdr)) {
		hl__why(why, whylen,
		    "%s: truncated: %zd bytes, too short for a volume header "
		    "(%u bytes)",
		    name, r, HL_VOLHDR_SIZE);
		return EINVAL;
	}
	error = hl_volhdr_decode(hdr, sizeof(hdr), &vh, sub, sizeof(sub));
	if (error != 0) {
		hl__why(why, whylen, "%s: %s", name, sub);
		return error;
	}
	if (size < vh.vol_size) {
		hl__why(why, whylen,
		    "%s: truncated: %" PRIu64 " bytes, header says %" PRIu64,
		    name, size, vh.vol_size);
		return EINVAL;
	}
	*out = vh;
	return 0;
}

int
hl_volume_write_header(int fd, const char *name,
    const struct hl_volume_header *vh, bool sync, char *why, size_t whylen)
{
	uint8_t hdr[HL_VOLHDR_SIZE];
	char sub[256];
	int error;

	if (name == NULL)
		name = "volume";
	error = hl_volhdr_encode(vh, hdr, sizeof(hdr), sub, sizeof(sub));
	if (error != 0) {
		hl__why(why, whylen, "%s: %s", name, sub);
		return error;
	}
	error = pwrite_full(fd, hdr, sizeof(hdr), 0);
	if (error != 0) {
		hl__why(
		    why, whylen, "%s: write header: %s", name, strerror(error));
		return error;
	}
	if (sync && fdatasync(fd) != 0) {
		error = errno;
		hl__why(
		    why, whylen, "%s: fdatasync: %s", name, strerror(error));
		return error;
	}
	return 0;
}

int
hl_format_check_set(const struct hl_volume_header *vh, const char *const *names,
    int n, char *why, size_t whylen)
{
	int byvol[HL_MAX_VOLUMES];
	char t1[32], t2[32], sub[256];
	char id1[HL_MOUNT_ID_STRLEN], id2[HL_MOUNT_ID_STRLEN];
	const struct hl_volume_header *r, *root;
	const char *rname;
	int ref = 0, error;

	if (vh == NULL || n < 1 || n > HL_MAX_VOLUMES) {
		hl__why(why, whylen, "%d volume files given (1..%d)",
		    vh == NULL ? 0 : n, HL_MAX_VOLUMES);
		return EINVAL;
	}
	for (int i = 0; i < n; i++) {
		error = hl_volhdr_validate(&vh[i], sub, sizeof(sub));
		if (error != 0) {
			hl__why(why, whylen, "%s: %s",
			    name_of(names, i, t1, sizeof(t1)), sub);
			return error;
		}
		if (vh[i].vol_no == 0 && vh[ref].vol_no != 0)
			ref = i;
	}
	/* Compare everything with the root volume (or the first file). */
	r = &vh[ref];
	rname = name_of(names, ref, t2, sizeof(t2));
	for (int i = 0; i < n; i++) {
		const char *nm = name_of(names, i, t1, sizeof(t1));

		if (memcmp(vh[i].mount_id, r->mount_id, HL_MOUNT_ID_SIZE)) {
			hl_mount_id_str(vh[i].mount_id, id1, sizeof(id1));
			hl_mount_id_str(r->mount_id, id2, sizeof(id2));
			hl__why(why, whylen,
			    "mismatched mount id: volume %" PRIu32
			    " (%s) belongs to mount %s, volume %" PRIu32
			    " (%s) to %s",
			    vh[i].vol_no, nm, id1, r->vol_no, rname, id2);
			return EINVAL;
		}
		if (vh[i].vol_count != (uint32_t)n) {
			hl__why(why, whylen,
			    "%s: volume %" PRIu32 " of a %" PRIu32
			    "-volume mount, but %d volume file%s given",
			    nm, vh[i].vol_no, vh[i].vol_count, n,
			    n == 1 ? " was" : "s were");
			return EINVAL;
		}
		if (vh[i].buffer_size != r->buffer_size ||
		    vh[i].node_size != r->node_size) {
			hl__why(why, whylen,
			    "%s: buffer/node size %" PRIu32 "/%" PRIu32
			    " differs from %" PRIu32 "/%" PRIu32 " in %s",
			    nm, vh[i].buffer_size, vh[i].node_size,
			    r->buffer_size, r->node_size, rname);
			return EINVAL;
		}
	}
	for (int v = 0; v < n; v++)
		byvol[v] = -1;
	for (int i = 0; i < n; i++) {
		int *slot = &byvol[vh[i].vol_no]; /* vol_no < vol_count == n */

		if (*slot >= 0) {
			hl__why(why, whylen,
			    "volume %" PRIu32 " is claimed by both %s and %s",
			    vh[i].vol_no, name_of(names, *slot, t2, sizeof(t2)),
			    name_of(names, i, t1, sizeof(t1)));
			return EINVAL;
		}
		*slot = i;
	}
	/* n distinct numbers below n: every volume is present. */
	root = &vh[byvol[0]];
	if (root->root_node != 0) {
		int target = byvol[HL_OFF_VOL(root->root_node)];

		error = hl_off_check(&vh[target], root->root_node,
		    root->node_size, sub, sizeof(sub));
		if (error != 0) {
			hl__why(why, whylen, "%s: root node: %s",
			    name_of(names, byvol[0], t1, sizeof(t1)), sub);
			return error;
		}
	}
	return 0;
}

int
hl_format_probe_fds(const int *fds, const char *const *names, int n,
    struct hl_volume_header *out, char *why, size_t whylen)
{
	char t[32];
	int error;

	if (fds == NULL || out == NULL || n < 1 || n > HL_MAX_VOLUMES) {
		hl__why(why, whylen, "%d volume files given (1..%d)",
		    fds == NULL ? 0 : n, HL_MAX_VOLUMES);
		return EINVAL;
	}
	for (int i = 0; i < n; i++) {
		error = hl_volume_read_header(fds[i],
		    name_of(names, i, t, sizeof(t)), &out[i], why, whylen);
		if (error != 0)
			return error;
	}
	return hl_format_check_set(out, names, n, why, whylen);
}

int
hl_format_probe(const char *const *paths, int npaths,
    struct hl_volume_header *out, char *why, size_t whylen)
{
	int fds[HL_MAX_VOLUMES];
	int error = 0, nopen = 0;

	if (paths == NULL || out == NULL || npaths < 1 ||
	    npaths > HL_MAX_VOLUMES) {
		hl__why(why, whylen, "%d volume files given (1..%d)",
		    paths == NULL ? 0 : npaths, HL_MAX_VOLUMES);
		return EINVAL;
	}
	for (int i = 0; i < npaths; i++) {
		if (paths[i] == NULL) {
			error = EINVAL;
			hl__why(why, whylen, "volume file #%d has no name", i);
			goto out;
		}
		fds[i] = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			error = errno;
			hl__why(why, whylen, "%s: open: %s", paths[i],
			    strerror(error));
			goto out;
		}
		nopen++;
	}
	error = hl_format_probe_fds(fds, paths, npaths, out, why, whylen);
out:
	for (int i = 0; i < nopen; i++)
		close(fds[i]);
	return error;
}
