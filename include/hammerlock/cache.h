/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hammerlock/cache.h - the referenced object cache: a mount of volume
 * files, and its volumes.  (Buffers, the pool and B-tree nodes come next;
 * see README "Status".)
 *
 * Every cached object carries a struct hl_lock and follows the protocol
 * of hammerlock/refs.h: it is loaded by the thread whose reference takes
 * the count 0->1 (or that finds CHECK set), under the interlock, never
 * under the object's shared/exclusive lock.
 *
 * A mount opens 1 to HL_MAX_VOLUMES volume files, reads every header
 * through the I/O backend and cross-checks them (one mount id, one volume
 * per number, same buffer and node sizes).  A volume's header is loaded
 * again, and validated against what the mount saw, on the volume's first
 * reference; it then stays loaded until unmount, as in HAMMER.
 *
 * Functions return 0 or a positive errno (or NULL with *errorp set); the
 * `why' buffers, when not NULL, receive a one-line explanation.
 */
#ifndef HAMMERLOCK_CACHE_H
#define HAMMERLOCK_CACHE_H

#include <stddef.h>
#include <hammerlock/format.h>
#include <hammerlock/io.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hl_mount;
struct hl_volume;

struct hl_mount_opts {
	struct hl_io *io; /* I/O backend; NULL: hl_io_posix() */
	bool readonly;	  /* open the volumes read-only */
};

struct hl_mount_stats {
	uint32_t volumes;	     /* volumes in the mount */
	uint32_t volumes_loaded;     /* volumes whose header is loaded */
	uint64_t volume_loads;	     /* header loads (0->1 with no header) */
	uint64_t volume_load_errors; /* loads that failed */
	uint64_t read_errors;	     /* failed reads, any object */
};

/*
 * Open the n volume files of one mount.  Every header is read and
 * validated, and the set cross-checked, before anything is cached.
 * Errors: those of the backend's open/read, EINVAL/ENOTSUP/EBADMSG from
 * the header checks (see hl_volhdr_decode()), ENOMEM.
 */
HL_EXPORT int hl_mount_open(const char *const *paths, int n,
    const struct hl_mount_opts *opts, struct hl_mount **mp, char *why,
    size_t whylen);

/*
 * Unmount: unload everything and close the files.  Writes nothing.  An
 * object still referenced is a leak: each is reported in `why' (and on
 * stderr) with its name, offset and refs word, and EBUSY is returned; the
 * mount is torn down all the same and the caller's pointers die with it.
 */
HL_EXPORT int hl_mount_close(struct hl_mount *m, char *why, size_t whylen);

HL_EXPORT int hl_mount_nvolumes(const struct hl_mount *m);
HL_EXPORT void hl_mount_stats(struct hl_mount *m, struct hl_mount_stats *st);

/*
 * Reference volume vol_no, loading its header on the first reference.
 * NULL with *errorp = ENOENT for a volume the mount does not have, or the
 * load's error (EIO, EBADMSG, EINVAL...: the reference is not kept).
 */
HL_EXPORT struct hl_volume *hl_get_volume(
    struct hl_mount *m, int vol_no, int *errorp);
HL_EXPORT struct hl_volume *hl_get_root_volume(struct hl_mount *m, int *errorp);

/* Another reference on a volume (loads it if needed); 0 or an errno. */
HL_EXPORT int hl_ref_volume(struct hl_volume *v);

/* Drop a reference.  The header stays loaded until unmount. */
HL_EXPORT void hl_rel_volume(struct hl_volume *v);

/* The loaded header; valid while the caller holds a reference. */
HL_EXPORT const struct hl_volume_header *hl_volume_header(
    const struct hl_volume *v);
HL_EXPORT const char *hl_volume_path(const struct hl_volume *v);

/* The volume's lock word (for diagnostics and tests). */
HL_EXPORT struct hl_lock *hl_volume_lock(struct hl_volume *v);

#ifdef __cplusplus
}
#endif

#endif /* HAMMERLOCK_CACHE_H */
