/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * buffer.c - buffers: found in the object table, loaded on 0->1 (from
 * the pool's memory when it is still associated, else by a read), kept
 * in the pool on 1->0, destroyed when they have neither references nor
 * memory.
 *
 * Dispositions, all decided by the thread holding the refs interlock:
 *
 *   0->1, memory associated    no I/O (a pool hit); done.
 *   0->1, no memory            reserve pool room, read (or zero if new).
 *   load failed                drop the reference under the interlock;
 *                              the last one destroys the structure,
 *                              otherwise the next waiter retries.
 *   1->0                       keep the memory (the pool may reclaim it
 *                              later); destroy only when it has none, or
 *                              when the space was deleted.
 *
 * Late collisions (two threads creating the same buffer) are resolved by
 * the table: each constructs and interlocks its own structure before
 * publishing it, and the loser discards its unpublished one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"

static inline void
buf_flag_set(struct hl_buffer *b, uint32_t f)
{
	atomic_fetch_or_explicit(&b->flags, f, memory_order_relaxed);
}

static inline void
buf_flag_clear(struct hl_buffer *b, uint32_t f)
{
	atomic_fetch_and_explicit(&b->flags, ~f, memory_order_relaxed);
}

static inline uint32_t
buf_flags(const struct hl_buffer *b)
{
	return atomic_load_explicit(&b->flags, memory_order_relaxed);
}

static inline void *
buf_data(const struct hl_buffer *b)
{
	return atomic_load_explicit(&b->data, memory_order_relaxed);
}

/*
 * Free the buffer's memory (interlock held, no references, or unmount).
 */
void
hl__buffer_drop_data(struct hl_buffer *b)
{
	struct hl_mount *m = b->mount;
	void *data = buf_data(b);

	if (data == NULL)
		return;
	atomic_store_explicit(&b->data, NULL, memory_order_relaxed);
	atomic_store_explicit(&b->needcrc, 0, memory_order_relaxed);
	hl__pool_mem_put(m, data);
	hl__pool_unreserve(m);
	hl__stat_add(&HL_ST(m)->buffer_unloads, 1);
}

/*
 * The caller holds the interlock and has dropped its own reference (or
 * took the interlock on 1->0).  Destroy the structure if nothing is left
 * to keep, else end the interlock.
 */
static void
buf_dispose(struct hl_buffer *b, bool locked)
{
	struct hl_mount *m = b->mount;
	uint32_t f = buf_flags(b);

	hl__race_window(); /* a lookup may reference it now */
	if (!hl_norefs(&b->obj.lock)) {
		hl_rel_interlock_done(&b->obj.lock, locked);
		return;
	}
	if ((f & HL_BUF_DELETE) && buf_data(b) != NULL) {
		buf_flag_clear(b, HL_BUF_MODIFIED);
		hl__buffer_drop_data(b);
	}
	if (buf_data(b) != NULL) {
		/* 1->0 keeps the memory in the pool. */
		hl_rel_interlock_done(&b->obj.lock, locked);
		return;
	}
	/* No references, no memory: the structure goes. */
	if (hl__tbl_kill(&m->buffers, &b->obj)) {
		hl__stat_add(&HL_ST(m)->buffer_destroys, 1);
		return;
	}
	/* A lookup referenced it meanwhile: it loads it again. */
	hl_put_interlock(&b->obj.lock, ENODATA);
}

bool
hl__buffer_clear_ioerror(struct hl_buffer *b)
{
	uint32_t old = atomic_fetch_and_explicit(
	    &b->flags, ~HL_BUF_IOERROR, memory_order_relaxed);

	if ((old & HL_BUF_IOERROR) == 0)
		return false;
	hl_rel_buffer(b); /* the caller holds another: never 1->0 */
	return true;
}

void
hl_rel_buffer(struct hl_buffer *b)
{
	if (hl_debug && atomic_load_explicit(&b->obj.lock.refs,
			    memory_order_relaxed) == HL_REFS_DEAD)
		hl__obj_fatal("hl_rel_buffer", &b->obj,
		    "release of buffer %#llx, which is destroyed",
		    (unsigned long long)hl__obj_key(&b->obj));
	if (hl_rel_interlock(&b->obj.lock, false))
		buf_dispose(b, false);
}

void
hl__buffer_release_obj(struct hl_obj *o)
{
	hl_rel_buffer(hl__obj_buffer(o));
}

/* Failure path: drop the reference, keep and then end the interlock. */
static void
buf_rel_locked(struct hl_buffer *b)
{
	if (hl_rel_interlock(&b->obj.lock, true))
		buf_dispose(b, true);
}

/*
 * Load or validate a referenced, interlocked buffer.  Disposes of the
 * interlock, and on error of the reference too (the pointer is then
 * stale).  Idempotent: a stale CHECK may hand us a loaded buffer.
 */
static int
buf_load(struct hl_buffer *b, bool isnew)
{
	struct hl_mount *m = b->mount;
	uint64_t off = hl__obj_key(&b->obj);
	void *data;
	int error;

	if (buf_data(b) != NULL) {
		hl__stat_add(&HL_ST(m)->buffer_hits, 1);
		hl_ref_interlock_done(&b->obj.lock);
		return 0;
	}
	buf_flag_clear(b, HL_BUF_DELETE); /* a new life for this space */
	error = hl__pool_reserve(m);
	if (error)
		goto fail;
	data = hl__pool_mem_get(m);
	if (data == NULL) {
		hl__pool_unreserve(m);
		error = ENOMEM;
		goto fail;
	}
	if (isnew) {
		memset(data, 0, m->buffer_size);
	} else {
		hl__stat_add(&HL_ST(m)->reads, 1);
		error = hl_io_read_full(
		    m->io, b->vol->fd, data, m->buffer_size, HL_OFF_SHORT(off));
		if (error) {
			hl__stat_add(&HL_ST(m)->read_errors, 1);
			fprintf(stderr,
			    "hammerlock: buffer %#llx (%s): read failed: %s\n",
			    (unsigned long long)off, b->vol->path,
			    strerror(error));
			hl__pool_mem_put(m, data);
			hl__pool_unreserve(m);
			goto fail;
		}
	}
	atomic_store_explicit(&b->gen,
	    atomic_fetch_add_explicit(&m->gen_next, 1, memory_order_relaxed),
	    memory_order_relaxed);
	atomic_store_explicit(&b->data, data, memory_order_relaxed);
	hl__stat_add(&HL_ST(m)->buffer_loads, 1);
	hl_ref_interlock_done(&b->obj.lock);
	return 0;
fail:
	buf_rel_locked(b);
	return error;
}

int
hl_ref_buffer(struct hl_buffer *b)
{
	if (hl_ref_interlock(&b->obj.lock))
		return buf_load(b, false);
	return 0;
}

/* Check a buffer request; on success *boffp is the buffer's offset. */
static int
buf_check(struct hl_mount *m, uint64_t offset, uint32_t bytes,
    struct hl_volume **vp, uint64_t *boffp)
{
	struct hl_volume *v;
	uint64_t boff;

	if (bytes != 0 && bytes != m->buffer_size)
		return EINVAL;
	if (HL_OFF_ZONE(offset) != HL_ZONE_RAW)
		return EINVAL;
	v = m->vols[HL_OFF_VOL(offset)];
	if (v == NULL)
		return ENOENT;
	boff = offset & ~(uint64_t)(m->buffer_size - 1);
	if (hl_off_check(&v->probe, boff, m->buffer_size, NULL, 0) != 0)
		return HL_OFF_SHORT(boff) >= v->probe.vol_size ? ERANGE
							       : EINVAL;
	*vp = v;
	*boffp = boff;
	return 0;
}

struct hl_buffer *
hl_get_buffer(struct hl_mount *m, uint64_t offset, uint32_t bytes, bool isnew,
    int *errorp)
{
	struct hl_volume *v;
	struct hl_obj *o, *fresh;
	struct hl_buffer *b;
	uint64_t boff;
	int error;

	error = buf_check(m, offset, bytes, &v, &boff);
	if (error) {
		*errorp = error;
		return NULL;
	}
	o = hl__tbl_find(&m->buffers, boff, false, hl__buffer_release_obj);
	if (o == NULL) {
		/* Construct and interlock before publishing. */
		fresh = hl__tbl_alloc(&m->buffers, boff);
		if (fresh == NULL) {
			*errorp = ENOMEM;
			return NULL;
		}
		hl__race_window(); /* stale lookups may read it (DEAD) */
		b = hl__obj_buffer(fresh);
		b->mount = m;
		b->vol = v;
		atomic_store_explicit(&b->data, NULL, memory_order_relaxed);
		atomic_store_explicit(&b->flags, 0, memory_order_relaxed);
		atomic_store_explicit(&b->needcrc, 0, memory_order_relaxed);
		hl_revive_interlock(&fresh->lock);
		o = hl__tbl_insert(&m->buffers, fresh, hl__buffer_release_obj);
		if (o == fresh) {
			error = buf_load(b, isnew);
			goto out;
		}
		/* Late collision: someone published it first. */
		hl__stat_add(&HL_ST(m)->collisions, 1);
		hl__tbl_discard(&m->buffers, fresh);
	}
	b = hl__obj_buffer(o);
	error = hl_check_interlock(&o->lock) ? buf_load(b, isnew) : 0;
out:
	if (error) {
		*errorp = error;
		return NULL;
	}
	if ((buf_flags(b) & HL_BUF_CLOCK) == 0)
		buf_flag_set(b, HL_BUF_CLOCK);
	*errorp = 0;
	return b;
}

void *
hl_buffer_data(struct hl_buffer *b)
{
	return buf_data(b);
}

uint64_t
hl_buffer_offset(const struct hl_buffer *b)
{
	return hl__obj_key(&b->obj);
}

uint32_t
hl_buffer_bytes(const struct hl_buffer *b)
{
	return b->mount->buffer_size;
}

struct hl_lock *
hl_buffer_lock(struct hl_buffer *b)
{
	return &b->obj.lock;
}

int
hl_modify_buffer(struct hl_buffer *b)
{
	if (b->mount->readonly)
		return EROFS;
	/* Shared: modifiers run together; write-back takes it exclusive. */
	hl_lock_sh(&b->obj.lock);
	atomic_fetch_add_explicit(&b->modseq, 1, memory_order_relaxed);
	if ((buf_flags(b) & HL_BUF_MODIFIED) == 0)
		buf_flag_set(b, HL_BUF_MODIFIED);
	return 0;
}

void
hl_modify_buffer_done(struct hl_buffer *b)
{
	hl_unlock(&b->obj.lock);
}

int
hl_del_buffers(struct hl_mount *m, uint64_t base, uint64_t bytes)
{
	uint64_t bs = m->buffer_size, off, end;
	struct hl_obj *o;
	int ret = 0;

	if (bytes == 0)
		return 0;
	end = base + bytes;
	if (end < base || HL_OFF_ZONE(base) != HL_ZONE_RAW ||
	    HL_OFF_VOL(end - 1) != HL_OFF_VOL(base))
		return EINVAL;
	/* Only buffers wholly inside the range: the rest of a partly
	 * freed buffer is still somebody's data. */
	for (off = (base + bs - 1) & ~(bs - 1); off + bs <= end; off += bs) {
		/* Resident nodes hold the buffer: evict the idle ones. */
		hl__flush_buffer_nodes(m, off, HL_FLUSH_TEARDOWN);
		o = hl__tbl_find(
		    &m->buffers, off, true, hl__buffer_release_obj);
		if (o == NULL)
			continue;
		/* The space is freed: a failed write of it no longer
		 * matters, and its reference goes with it. */
		hl__buffer_clear_ioerror(hl__obj_buffer(o));
		if (!hl_oneref(&o->lock)) {
			hl_rel_buffer(hl__obj_buffer(o));
			ret = EAGAIN;
			continue;
		}
		buf_flag_set(hl__obj_buffer(o), HL_BUF_DELETE);
		buf_flag_clear(hl__obj_buffer(o), HL_BUF_MODIFIED);
		hl_rel_buffer(hl__obj_buffer(o));
	}
	/* Idle nodes wholly inside the range, in partly freed buffers too:
	 * a passive cache must not find whatever is allocated there next. */
	for (off = (base + m->node_size - 1) & ~(uint64_t)(m->node_size - 1);
	     off + m->node_size <= end; off += m->node_size)
		hl__flush_node_at(m, off, HL_FLUSH_TEARDOWN);
	return ret;
}
