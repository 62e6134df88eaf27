/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sync.c - write-back: every modified buffer is written (its modified
 * nodes sealed first), then each volume written is fdatasync'ed.
 *
 * A buffer is written under its exclusive content lock, so no modifier
 * (they hold it shared from hl_modify_buffer() to _done()) changes it
 * while it is written.  A failed write leaves the buffer modified and in
 * memory, and makes the error hold a reference on it (HAMMER's ioerror)
 * so that the pool cannot reclaim it; the next successful write drops
 * that reference.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"

/*
 * Reference buffer b found by scanning the table (not by key): false if
 * it is dead, not published, or has no memory (then it is not modified).
 */
static bool
sync_ref(struct hl_mount *m, struct hl_buffer *b)
{
	if (!hl_ref_live(&b->obj.lock))
		return false;
	hl__race_window(); /* it may have changed identity */
	if (!atomic_load_explicit(&b->obj.linked, memory_order_relaxed)) {
		hl_rel_buffer(b);
		return false;
	}
	if (hl_check_interlock(&b->obj.lock)) {
		/* We are the loader: a buffer with memory needs nothing;
		 * one without is not modified, so do not read it. */
		if (atomic_load_explicit(&b->data, memory_order_relaxed) !=
		    NULL) {
			hl_ref_interlock_done(&b->obj.lock);
			return true;
		}
		if (hl_rel_interlock(&b->obj.lock, true)) {
			/* Undo as a failed load would. */
			if (hl_norefs(&b->obj.lock) &&
			    hl__tbl_kill(&m->buffers, &b->obj))
				hl__stat_add(&HL_ST(m)->buffer_destroys, 1);
			else
				hl_put_interlock(&b->obj.lock, ENODATA);
		}
		return false;
	}
	return true;
}

/* Seal the CRC of every node of b that was modified (exclusive held). */
static void
sync_seal(struct hl_mount *m, struct hl_buffer *b)
{
	uint64_t mask =
	    atomic_exchange_explicit(&b->needcrc, 0, memory_order_relaxed);
	uint8_t *data = atomic_load_explicit(&b->data, memory_order_relaxed);

	while (mask != 0) {
		unsigned slot = (unsigned)__builtin_ctzll(mask);
		uint8_t *node = data + (size_t)slot * m->node_size;

		mask &= mask - 1;
		/* Only the generation and the CRC change: readers of the
		 * node (under its own lock) may be reading the rest. */
		hl_le64_put(node + HL_NODE_OFF_GEN,
		    hl_le64_get(node + HL_NODE_OFF_GEN) + 1);
		hl_node_seal(node, m->node_size);
	}
}

/* A failed write or sync: keep b modified and pinned by the error. */
static void
sync_failed(struct hl_buffer *b)
{
	if ((atomic_fetch_or_explicit(
		 &b->flags, HL_BUF_IOERROR, memory_order_relaxed) &
		HL_BUF_IOERROR) == 0)
		hl_ref(&b->obj.lock); /* the error's reference */
}

int
hl__buffer_write(
    struct hl_mount *m, struct hl_buffer *b, char *why, size_t whylen)
{
	uint64_t off = hl__obj_key(&b->obj);
	int error;

	sync_seal(m, b);
	hl__stat_add(&HL_ST(m)->writes, 1);
	error = hl_io_write_full(m->io, b->vol->fd,
	    atomic_load_explicit(&b->data, memory_order_relaxed),
	    m->buffer_size, HL_OFF_SHORT(off));
	if (error == 0) {
		atomic_store_explicit(
		    &b->vol->written, true, memory_order_relaxed);
		return 0;
	}
	hl__stat_add(&HL_ST(m)->write_errors, 1);
	hl__cache_why(why, whylen, error, "buffer %#llx (%s): write failed: %s",
	    (unsigned long long)off, b->vol->path, strerror(error));
	fprintf(stderr, "hammerlock: buffer %#llx (%s): write failed: %s\n",
	    (unsigned long long)off, b->vol->path, strerror(error));
	return error;
}

/*
 * Write one referenced buffer if it is modified: 0 and *wrote set (with
 * the modification count written in *seqp), or the errno.  The buffer
 * stays marked modified until its volume is synced.
 */
static int
sync_write(struct hl_mount *m, struct hl_buffer *b, bool *wrote, uint64_t *seqp,
    char *why, size_t whylen)
{
	int error = 0;

	*wrote = false;
	hl_lock_ex(&b->obj.lock);
	if (atomic_load_explicit(&b->flags, memory_order_relaxed) &
	    HL_BUF_MODIFIED) {
		*seqp = atomic_load_explicit(&b->modseq, memory_order_relaxed);
		error = hl__buffer_write(m, b, why, whylen);
		*wrote = error == 0;
	}
	hl_unlock(&b->obj.lock);
	if (error)
		sync_failed(b);
	return error;
}

/*
 * b's write reached stable storage (synced): clean it unless it was
 * modified again since the write.
 */
static void
sync_clean(struct hl_buffer *b, uint64_t seq)
{
	hl_lock_ex(&b->obj.lock);
	if (atomic_load_explicit(&b->modseq, memory_order_relaxed) == seq)
		atomic_fetch_and_explicit(
		    &b->flags, ~HL_BUF_MODIFIED, memory_order_relaxed);
	hl_unlock(&b->obj.lock);
	hl__buffer_clear_ioerror(b);
}

/* Write volume 0's header with the current root. */
static int
sync_root(struct hl_mount *m, char *why, size_t whylen)
{
	struct hl_volume *v = m->vols[0];
	struct hl_volume_header vh = v->probe;
	void *buf;
	int error;

	vh.root_node = atomic_load_explicit(&m->root, memory_order_relaxed);
	if ((buf = m->io->ops->alloc(m->io, HL_VOLHDR_SIZE)) == NULL)
		return hl__cache_why(why, whylen, ENOMEM, "no memory");
	memset(buf, 0, HL_VOLHDR_SIZE);
	error = hl_volhdr_encode(&vh, buf, HL_VOLHDR_SIZE, why, whylen);
	if (error == 0) {
		hl__stat_add(&HL_ST(m)->writes, 1);
		error = hl_io_write_full(m->io, v->fd, buf, HL_VOLHDR_SIZE, 0);
	}
	m->io->ops->free(m->io, buf, HL_VOLHDR_SIZE);
	if (error) {
		hl__stat_add(&HL_ST(m)->write_errors, 1);
		return hl__cache_why(why, whylen, error,
		    "%s: writing the header: %s", v->path, strerror(error));
	}
	v->probe.root_node = vh.root_node;
	atomic_store_explicit(&v->written, true, memory_order_relaxed);
	return 0;
}

struct sync_rec {
	struct hl_buffer *b;
	uint64_t seq;
};

/* fdatasync every volume written; a failed volume is marked in bad[]. */
static int
sync_volumes(struct hl_mount *m, bool *bad, char *why, size_t whylen)
{
	int error = 0, e, i;

	for (i = 0; i < HL_MAX_VOLUMES; i++) {
		struct hl_volume *v = m->vols[i];
		bool dropped;

		if (v == NULL || !atomic_exchange_explicit(
				     &v->written, false, memory_order_relaxed))
			continue;
		dropped = atomic_exchange_explicit(
		    &v->dropped, false, memory_order_relaxed);
		hl__stat_add(&HL_ST(m)->syncs, 1);
		e = m->io->ops->sync(m->io, v->fd);
		if (e == 0)
			continue;
		bad[i] = true;
		atomic_store_explicit(&v->written, true, memory_order_relaxed);
		if (dropped)
			atomic_store_explicit(
			    &v->dropped, true, memory_order_relaxed);
		hl__stat_add(&HL_ST(m)->write_errors, 1);
		fprintf(stderr, "hammerlock: %s: fdatasync failed: %s%s\n",
		    v->path, strerror(e),
		    dropped ? " (buffers written back without a sync since "
			      "the last one may be lost)"
			    : "");
		if (error == 0)
			error = hl__cache_why(why, whylen, e,
			    "%s: fdatasync failed: %s%s", v->path, strerror(e),
			    dropped ? " (unsynced write-backs may be lost)"
				    : "");
	}
	return error;
}

int
hl_mount_sync(struct hl_mount *m, char *why, size_t whylen)
{
	bool bad[HL_MAX_VOLUMES] = {false};
	struct sync_rec *recs = NULL;
	size_t nrec = 0, cap = 0, k;
	uint32_t i, n;
	int error = 0, e;

	if (m->readonly)
		return 0;
	pthread_mutex_lock(&m->sync_mtx);
	n = hl__tbl_nobjs(&m->buffers);
	for (i = 0; i < n; i++) {
		struct hl_buffer *b =
		    hl__obj_buffer(hl__tbl_obj(&m->buffers, i));
		uint64_t seq = 0;
		bool wrote;

		if ((atomic_load_explicit(&b->flags, memory_order_relaxed) &
			HL_BUF_MODIFIED) == 0 ||
		    !sync_ref(m, b))
			continue;
		if (nrec == cap) {
			size_t ncap = cap ? 2 * cap : 256;
			struct sync_rec *r = realloc(recs, ncap * sizeof(*r));

			if (r == NULL) {
				hl_rel_buffer(b);
				if (error == 0)
					error = hl__cache_why(why, whylen,
					    ENOMEM, "sync: no memory");
				break;
			}
			recs = r;
			cap = ncap;
		}
		e = sync_write(m, b, &wrote, &seq, error ? NULL : why, whylen);
		if (e != 0 && error == 0)
			error = e;
		if (wrote) {
			recs[nrec].b = b; /* keep the reference until synced */
			recs[nrec++].seq = seq;
		} else {
			hl_rel_buffer(b);
		}
	}
	if (atomic_exchange_explicit(
		&m->root_dirty, false, memory_order_relaxed)) {
		e = sync_root(m, error ? NULL : why, whylen);
		if (e != 0) {
			atomic_store_explicit(
			    &m->root_dirty, true, memory_order_relaxed);
			if (error == 0)
				error = e;
		}
	}
	e = sync_volumes(m, bad, error ? NULL : why, whylen);
	if (e != 0 && error == 0)
		error = e;
	if (bad[0])
		atomic_store_explicit(
		    &m->root_dirty, true, memory_order_relaxed);
	for (k = 0; k < nrec; k++) {
		struct hl_buffer *b = recs[k].b;

		hl__race_window(); /* modifiers may have come back */

		if (bad[b->vol->vol_no])
			sync_failed(b); /* stays modified: written again */
		else
			sync_clean(b, recs[k].seq);
		hl_rel_buffer(b);
	}
	free(recs);
	pthread_mutex_unlock(&m->sync_mtx);
	return error;
}

uint64_t
hl_mount_root(struct hl_mount *m)
{
	return atomic_load_explicit(&m->root, memory_order_relaxed);
}

void
hl_mount_set_root(struct hl_mount *m, uint64_t off)
{
	atomic_store_explicit(&m->root, off, memory_order_relaxed);
	atomic_store_explicit(&m->root_dirty, true, memory_order_relaxed);
}
