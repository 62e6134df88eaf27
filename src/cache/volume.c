/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * volume.c - volumes: loaded on their first reference, kept until unmount.
 *
 * A volume's header is read and validated by the thread whose
 * hl_ref_interlock() returns true; the loader is idempotent (a stale
 * CHECK can hand it a volume that is loaded) and leaves through exactly
 * one of hl_ref_interlock_done() (success) or hl_rel_interlock(l, true) +
 * hl_rel_interlock_done() (failure, which also drops the reference).  The
 * 1->0 release keeps the header: volumes are not unloaded before unmount.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"

/* Read the header again and check it against the mount's view of it. */
static int
volume_read_header(struct hl_volume *v, struct hl_volume_header **out)
{
	struct hl_volume_header *vh;
	char why[320];
	int error;

	if ((vh = malloc(sizeof(*vh))) == NULL)
		return ENOMEM;
	error = hl__read_header(v->mount, v->fd, v->path, vh, why, sizeof(why));
	if (error == 0 && (vh->vol_no != v->probe.vol_no ||
			      memcmp(vh->mount_id, v->probe.mount_id,
				  HL_MOUNT_ID_SIZE) != 0 ||
			      vh->vol_size != v->probe.vol_size ||
			      vh->buffer_size != v->probe.buffer_size ||
			      vh->node_size != v->probe.node_size))
		error = hl__cache_why(why, sizeof(why), EINVAL,
		    "%s: header changed since mount (volume %d)", v->path,
		    v->vol_no);
	if (error) {
		fprintf(stderr, "hammerlock: volume %d: %s\n", v->vol_no, why);
		free(vh);
		return error;
	}
	*out = vh;
	return 0;
}

/*
 * Called with a reference and the interlock held (hl_ref_interlock()
 * returned true).  Disposes of the interlock; on error also of the
 * reference.
 */
static int
volume_load(struct hl_volume *v)
{
	struct hl_mount *m = v->mount;
	struct hl_volume_header *vh;
	int error = 0;

	if (v->ondisk == NULL) {
		error = volume_read_header(v, &vh);
		if (error == 0) {
			v->ondisk = vh;
			hl__stat_add(&HL_ST(m)->volume_loads, 1);
			atomic_fetch_add_explicit(
			    &HL_ST(m)->volumes_loaded, 1, memory_order_relaxed);
		}
	}
	if (error == 0) {
		hl_ref_interlock_done(&v->lock);
		return 0;
	}
	hl__stat_add(&HL_ST(m)->volume_load_errors, 1);
	if (hl_rel_interlock(&v->lock, true))
		hl_rel_interlock_done(&v->lock, true);
	return error;
}

int
hl_ref_volume(struct hl_volume *v)
{
	if (hl_ref_interlock(&v->lock))
		return volume_load(v);
	return 0;
}

struct hl_volume *
hl_get_volume(struct hl_mount *m, int vol_no, int *errorp)
{
	struct hl_volume *v;

	if (vol_no < 0 || vol_no >= HL_MAX_VOLUMES ||
	    (v = m->vols[vol_no]) == NULL) {
		*errorp = ENOENT;
		return NULL;
	}
	*errorp = hl_ref_volume(v);
	return *errorp ? NULL : v;
}

struct hl_volume *
hl_get_root_volume(struct hl_mount *m, int *errorp)
{
	return hl_get_volume(m, 0, errorp);
}

void
hl_rel_volume(struct hl_volume *v)
{
	/* 1->0: nothing to unload; the header stays until unmount. */
	if (hl_rel_interlock(&v->lock, false))
		hl_rel_interlock_done(&v->lock, false);
}

const struct hl_volume_header *
hl_volume_header(const struct hl_volume *v)
{
	return v->ondisk;
}

const char *
hl_volume_path(const struct hl_volume *v)
{
	return v->path;
}

struct hl_lock *
hl_volume_lock(struct hl_volume *v)
{
	return &v->lock;
}

/* Unmount: the caller has checked for leaks; free everything. */
void
hl__volume_destroy(struct hl_volume *v)
{
	struct hl_mount *m = v->mount;

	if (v->ondisk != NULL) {
		free(v->ondisk);
		v->ondisk = NULL;
		atomic_fetch_sub_explicit(
		    &HL_ST(m)->volumes_loaded, 1, memory_order_relaxed);
	}
	if (v->fd >= 0)
		m->io->ops->close(m->io, v->fd);
	free(v->path);
	free(v);
}
