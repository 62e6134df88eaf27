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
	hl__stat_add(&HL_ST(m)->reads, 1);
	error = hl_io_read_full(m->io, fd, buf, HL_VOLHDR_SIZE, 0);
	if (error) {
		hl__stat_add(&HL_ST(m)->read_errors, 1);
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

/*
 * Size the tables from the mount (at most what the pool can hold plus
 * slack for referenced objects) and set up the locks.
 */
static int
mount_init_cache(struct hl_mount *m, const struct hl_volume_header *vh, int n,
    char *why, size_t whylen)
{
	uint64_t nbufs = 0, pooled;
	size_t bbuckets;
	int i;

	m->buffer_size = vh[0].buffer_size;
	m->node_size = vh[0].node_size;
	if (m->buffer_size / m->node_size > 64)
		return hl__cache_why(why, whylen, ENOTSUP,
		    "buffer_size/node_size = %u: at most 64 nodes a buffer",
		    m->buffer_size / m->node_size);
	if (m->pool_limit < m->buffer_size)
		return hl__cache_why(why, whylen, EINVAL,
		    "pool of %llu bytes cannot hold one %u-byte buffer",
		    (unsigned long long)m->pool_limit, m->buffer_size);
	for (i = 0; i < n; i++)
		if (vh[i].vol_no == 0)
			atomic_store_explicit(
			    &m->root, vh[i].root_node, memory_order_relaxed);
	for (i = 0; i < n; i++)
		nbufs += vh[i].vol_size / m->buffer_size;
	pooled = m->pool_limit / m->buffer_size + 1024;
	bbuckets = (size_t)(nbufs < pooled ? nbufs : pooled);
	if (bbuckets > (1u << 22))
		bbuckets = 1u << 22;
	/* Home slots for the nodes, whose hits are the callers' hot path. */
	if (hl__tbl_init(&m->buffers, "buffer", sizeof(struct hl_buffer), 0,
		bbuckets, false) != 0 ||
	    hl__tbl_init(&m->nodes, "node", sizeof(struct hl_node),
		sizeof(struct hl_node_x),
		bbuckets * (m->buffer_size / m->node_size), true) != 0)
		return hl__cache_why(why, whylen, ENOMEM, "no memory");
	pthread_mutex_init(&m->pool_mtx, NULL);
	hl__fl_init(&m->mem_free, 0);
	pthread_mutex_init(&m->sync_mtx, NULL);
	for (i = 0; i < (int)HL_CACHE_LOCKS; i++)
		pthread_mutex_init(&m->cache_mtx[i], NULL);
	atomic_store_explicit(&m->gen_next, 1, memory_order_relaxed);
	m->cache_ready = true;
	return 0;
}

static void
mount_fini_cache(struct hl_mount *m)
{
	int i;

	if (!m->cache_ready)
		return;
	hl__pool_mem_drain(m);
	hl__tbl_destroy(&m->buffers);
	hl__tbl_destroy(&m->nodes);
	pthread_mutex_destroy(&m->pool_mtx);
	hl__fl_destroy(&m->mem_free);
	pthread_mutex_destroy(&m->sync_mtx);
	for (i = 0; i < (int)HL_CACHE_LOCKS; i++)
		pthread_mutex_destroy(&m->cache_mtx[i]);
	m->cache_ready = false;
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
	m->sync_on_close = opts ? opts->sync_on_close : false;
	m->wb_nosync = opts ? opts->writeback_nosync : false;
	m->pool_limit =
	    opts && opts->pool_bytes ? opts->pool_bytes : HL_POOL_BYTES_DEFAULT;
	m->nvol = n;
	for (i = 0; i < n; i++)
		fds[i] = -1;
	for (i = 0; i < n && error == 0; i++)
		error = probe_one(m, paths[i], &fds[i], &vh[i], why, whylen);
	if (error == 0)
		error = hl_format_check_set(vh, paths, n, why, whylen);
	if (error == 0)
		error = mount_init_cache(m, vh, n, why, whylen);
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
		if (m != NULL)
			mount_fini_cache(m);
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

/*
 * Unmount's sweep of one table: report each referenced object (a
 * buffer's failed write holds one reference that is not a leak).
 */
static int
close_table(struct hl_mount *m, struct hl_table *t, bool buffers, char *why,
    size_t whylen, size_t *used, uint64_t *discarded)
{
	uint32_t i, n = hl__tbl_nobjs(t);
	int error = 0;

	for (i = 0; i < n; i++) {
		struct hl_obj *o = hl__tbl_obj(t, i);
		uint32_t refs = atomic_load(&o->lock.refs);
		uint32_t count = refs & HL_REFS_COUNT_MASK;
		uint64_t off = hl__obj_key(o);
		const char *path = "?";

		if (hl__tbl_unused(o))
			continue;
		if (buffers) {
			struct hl_buffer *b = hl__obj_buffer(o);
			uint32_t f = atomic_load(&b->flags);

			path = b->vol->path;
			if (f & HL_BUF_IOERROR)
				count--;
			/* Held by leaked nodes, already reported. */
			count -= count < b->close_noderefs ? count
							   : b->close_noderefs;
			if (f & HL_BUF_MODIFIED)
				(*discarded)++;
			hl__buffer_drop_data(b);
		} else {
			struct hl_node *nd = hl__obj_node(o);
			struct hl_buffer *nb = hl_node_buffer(nd);

			if (nb != NULL && count != 0)
				nb->close_noderefs++;
			/* The cache's own reference is not a leak. */
			if (count != 0 &&
			    (atomic_load(&nd->obj.flags) & HL_NODE_F_RESIDENT))
				count--;
			if (m->vols[HL_OFF_VOL(off)] != NULL)
				path = m->vols[HL_OFF_VOL(off)]->path;
		}
		if (count != 0 || (refs & HL_REFS_LOCKED)) {
			report_leak(
			    why, whylen, used, t->name, path, off, refs);
			error = EBUSY;
		}
	}
	return error;
}

int
hl_mount_close(struct hl_mount *m, char *why, size_t whylen)
{
	uint64_t discarded = 0;
	size_t used = 0;
	int error = 0, e;
	char msg[256];

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (m->sync_on_close && !m->readonly) {
		e = hl_mount_sync(m, msg, sizeof(msg));
		if (e != 0) {
			fprintf(stderr, "hammerlock: unmount: sync: %s\n", msg);
			error = e;
		}
	}
	/* Nodes first: a loaded node's buffer reference is not a leak of
	 * its own, but the node's is. */
	if (close_table(m, &m->nodes, false, why, whylen, &used, &discarded))
		error = EBUSY;
	if (close_table(m, &m->buffers, true, why, whylen, &used, &discarded))
		error = EBUSY;
	if (discarded != 0 && !m->sync_on_close)
		fprintf(stderr,
		    "hammerlock: unmount: %llu modified buffers not synced, "
		    "discarded\n",
		    (unsigned long long)discarded);
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
	mount_fini_cache(m);
	free(m);
	return error;
}

int
hl_mount_nvolumes(const struct hl_mount *m)
{
	return m->nvol;
}

/* A counter summed over its stripes. */
#define ST(f) HL_STRIPE_SUM(m->st, HL_STAT_STRIPES, f)

void
hl_mount_stats(struct hl_mount *m, struct hl_mount_stats *st)
{
	struct hl_lock_stats ls;
	uint32_t i, n;

	memset(st, 0, sizeof(*st));
	st->volumes = (uint32_t)m->nvol;
	st->volumes_loaded = (uint32_t)ST(volumes_loaded);
	st->volume_loads = ST(volume_loads);
	st->volume_load_errors = ST(volume_load_errors);

	n = hl__tbl_nobjs(&m->buffers);
	for (i = 0; i < n; i++) {
		struct hl_buffer *b =
		    hl__obj_buffer(hl__tbl_obj(&m->buffers, i));
		uint32_t refs = atomic_load_explicit(
		    &b->obj.lock.refs, memory_order_relaxed);
		uint32_t f =
		    atomic_load_explicit(&b->flags, memory_order_relaxed);

		if (refs == HL_REFS_DEAD)
			continue;
		st->buffers++;
		/* Not counting the resident nodes' references. */
		if ((refs & HL_REFS_COUNT_MASK) >
		    atomic_load_explicit(&b->noderefs, memory_order_relaxed))
			st->buffers_referenced++;
		if (atomic_load_explicit(&b->data, memory_order_relaxed))
			st->buffers_resident++;
		if (f & HL_BUF_MODIFIED)
			st->buffers_modified++;
		if (f & HL_BUF_IOERROR)
			st->buffers_ioerror++;
	}
	n = hl__tbl_nobjs(&m->nodes);
	for (i = 0; i < n; i++) {
		struct hl_node *nd = hl__obj_node(hl__tbl_obj(&m->nodes, i));
		uint32_t refs = atomic_load_explicit(
		    &nd->obj.lock.refs, memory_order_relaxed);
		uint32_t res = (atomic_load_explicit(
				    &nd->obj.flags, memory_order_relaxed) &
				   HL_NODE_F_RESIDENT)
				   ? 1
				   : 0;

		if (hl__tbl_unused(&nd->obj))
			continue;
		st->nodes++;
		st->nodes_resident += res;
		if ((refs & HL_REFS_COUNT_MASK) > res)
			st->nodes_referenced++;
	}
	st->pool_bytes =
	    atomic_load_explicit(&m->pool_used, memory_order_relaxed);
	st->pool_limit = m->pool_limit;
	st->buffer_loads = ST(buffer_loads);
	st->buffer_hits = ST(buffer_hits);
	st->buffer_unloads = ST(buffer_unloads);
	st->buffer_destroys = ST(buffer_destroys);
	st->reclaims = ST(reclaims);
	st->reclaim_deferred = ST(reclaim_deferred);
	st->reclaim_failures = ST(reclaim_failures);
	st->writebacks = ST(writebacks);
	st->collisions = ST(collisions);
	st->node_loads = ST(node_loads);
	st->node_destroys = ST(node_destroys);
	st->crc_errors = ST(crc_errors);
	st->reads = ST(reads);
	st->writes = ST(writes);
	st->syncs = ST(syncs);
	st->read_errors = ST(read_errors);
	st->write_errors = ST(write_errors);
	hl_lock_stats_get(&ls);
	st->interlock_sleeps = ls.refs_sleeps;
	st->lock_contended = ls.lock_contended;
	st->index_misses =
	    hl__tbl_index_misses(&m->buffers) + hl__tbl_index_misses(&m->nodes);
}

uint32_t
hl_mount_buffer_size(const struct hl_mount *m)
{
	return m->buffer_size;
}

uint32_t
hl_mount_node_size(const struct hl_mount *m)
{
	return m->node_size;
}
