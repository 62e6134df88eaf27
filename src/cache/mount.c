/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mount.c - opening and closing a mount of volume files.
 *
 * hl_mount_open() reads every header through the I/O backend (so that the
 * fault injector sees those reads too), validates each one and the set,
 * and only then builds the volumes, unloaded.  hl_mount_close() reports
 * every object still referenced before tearing everything down.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"

int
hl__cache_why(char *why, size_t whylen, int err, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/*
 * Read and decode the header of volume file fd (named path in messages)
 * through the mount's I/O backend, so that injected faults reach it.
 */
int
hl__read_header(struct hl_mount *m, int fd, const char *path,
    struct hl_volume_header *vh, char *why, size_t whylen)
{
	char msg[256];
	void *buf;
	int error;

	if ((buf = m->io->ops->alloc(m->io, HL_VOLHDR_SIZE)) == NULL)
		return hl__cache_why(
		    why, whylen, ENOMEM, "%s: no memory for the header", path);
	error = hl_io_read_full(m->io, fd, buf, HL_VOLHDR_SIZE, 0);
	if (error) {
		hl__stat_add(&m->st.read_errors, 1);
		hl__cache_why(why, whylen, error, "%s: reading the header: %s",
		    path, strerror(error));
	} else {
		error =
		    hl_volhdr_decode(buf, HL_VOLHDR_SIZE, vh, msg, sizeof(msg));
		if (error)
			hl__cache_why(why, whylen, error, "%s: %s", path, msg);
	}
	m->io->ops->free(m->io, buf, HL_VOLHDR_SIZE);
	return error;
}

/* Open one file and read its header; *fdp is set even on error. */
static int
probe_one(struct hl_mount *m, const char *path, int *fdp,
    struct hl_volume_header *vh, char *why, size_t whylen)
{
	uint64_t size;
	int error;

	*fdp = -1;
	error = m->io->ops->open(
	    m->io, path, m->readonly ? HL_IO_RDONLY : HL_IO_RDWR, fdp);
	if (error)
		return hl__cache_why(why, whylen, error, "%s: cannot open: %s",
		    path, strerror(error));
	error = m->io->ops->size(m->io, *fdp, &size);
	if (error)
		return hl__cache_why(why, whylen, error, "%s: cannot size: %s",
		    path, strerror(error));
	if (size < HL_VOLHDR_SIZE)
		return hl__cache_why(why, whylen, EINVAL,
		    "%s: truncated: %llu bytes, a header needs %u", path,
		    (unsigned long long)size, HL_VOLHDR_SIZE);
	error = hl__read_header(m, *fdp, path, vh, why, whylen);
	if (error == 0 && size < vh->vol_size)
		error = hl__cache_why(why, whylen, EINVAL,
		    "%s: truncated: %llu bytes, header says %llu", path,
		    (unsigned long long)size, (unsigned long long)vh->vol_size);
	return error;
}

int
hl_mount_open(const char *const *paths, int n, const struct hl_mount_opts *opts,
    struct hl_mount **mp, char *why, size_t whylen)
{
	struct hl_volume_header *vh = NULL;
	struct hl_mount *m;
	int *fds = NULL;
	int error = 0, i;

	*mp = NULL;
	if (n < 1 || n > HL_MAX_VOLUMES)
		return hl__cache_why(why, whylen, EINVAL,
		    "a mount has 1 to %d volumes, not %d", HL_MAX_VOLUMES, n);
	m = calloc(1, sizeof(*m));
	vh = calloc((size_t)n, sizeof(*vh));
	fds = malloc((size_t)n * sizeof(*fds));
	if (m == NULL || vh == NULL || fds == NULL) {
		error = hl__cache_why(why, whylen, ENOMEM, "no memory");
		goto out;
	}
	m->io = opts && opts->io ? opts->io : hl_io_posix();
	m->readonly = opts ? opts->readonly : false;
	m->nvol = n;
	for (i = 0; i < n; i++)
		fds[i] = -1;
	for (i = 0; i < n && error == 0; i++)
		error = probe_one(m, paths[i], &fds[i], &vh[i], why, whylen);
	if (error == 0)
		error = hl_format_check_set(vh, paths, n, why, whylen);
	for (i = 0; i < n && error == 0; i++) {
		struct hl_volume *v = calloc(1, sizeof(*v));

		if (v == NULL || (v->path = strdup(paths[i])) == NULL) {
			free(v);
			error = hl__cache_why(why, whylen, ENOMEM, "no memory");
			break;
		}
		hl_lock_init(&v->lock);
		v->mount = m;
		v->vol_no = (int)vh[i].vol_no;
		v->fd = fds[i];
		v->probe = vh[i];
		fds[i] = -1; /* the volume owns it now */
		m->vols[v->vol_no] = v;
	}
out:
	if (fds != NULL)
		for (i = 0; i < n; i++)
			if (fds[i] >= 0)
				m->io->ops->close(m->io, fds[i]);
	free(fds);
	free(vh);
	if (error) {
		if (m != NULL)
			for (i = 0; i < HL_MAX_VOLUMES; i++)
				if (m->vols[i] != NULL)
					hl__volume_destroy(m->vols[i]);
		free(m);
		return error;
	}
	*mp = m;
	return 0;
}

/* Append one leak report to why and print it. */
static void
report_leak(char *why, size_t whylen, size_t *used, const char *what,
    const char *path, uint64_t off, uint32_t refs)
{
	char line[320];

	snprintf(line, sizeof(line),
	    "leak: %s (%s) at offset %#llx still referenced: refs=0x%08x", what,
	    path, (unsigned long long)off, refs);
	fprintf(stderr, "hammerlock: %s\n", line);
	if (why != NULL && *used + 2 < whylen) {
		snprintf(why + *used, whylen - *used, "%s%s", *used ? "; " : "",
		    line);
		*used += strlen(why + *used);
	}
}

int
hl_mount_close(struct hl_mount *m, char *why, size_t whylen)
{
	size_t used = 0;
	int error = 0;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	for (int i = 0; i < HL_MAX_VOLUMES; i++) {
		struct hl_volume *v = m->vols[i];
		char name[32];

		if (v == NULL)
			continue;
		if (hl_refsorlock(&v->lock)) {
			snprintf(name, sizeof(name), "volume %d", i);
			report_leak(why, whylen, &used, name, v->path,
			    HL_OFF_MAKE((uint64_t)i, 0),
			    atomic_load(&v->lock.refs));
			error = EBUSY;
		}
		hl__volume_destroy(v);
	}
	free(m);
	return error;
}

int
hl_mount_nvolumes(const struct hl_mount *m)
{
	return m->nvol;
}

void
hl_mount_stats(struct hl_mount *m, struct hl_mount_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->volumes = (uint32_t)m->nvol;
	st->volumes_loaded =
	    atomic_load_explicit(&m->st.volumes_loaded, memory_order_relaxed);
	st->volume_loads =
	    atomic_load_explicit(&m->st.volume_loads, memory_order_relaxed);
	st->volume_load_errors = atomic_load_explicit(
	    &m->st.volume_load_errors, memory_order_relaxed);
	st->read_errors =
	    atomic_load_explicit(&m->st.read_errors, memory_order_relaxed);
}
