/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hammerlock/io.h - the I/O backend under the cache: one small table of
 * operations (open, close, size, read, write, sync, buffer memory), a POSIX
 * implementation, helpers that complete whole transfers, and a backend
 * that wraps another one to inject faults for tests.
 *
 * Backends
 * --------
 *
 * A backend is a struct hl_io whose first (and, to its users, only)
 * member is a pointer to its operations.  A backend with state embeds
 * struct hl_io as its first member and finds itself again by casting.
 * The cache never looks past `ops'.
 *
 *   open(io, path, flags, &fd)   open a volume file; flags is exactly one
 *                                of HL_IO_RDONLY and HL_IO_RDWR.  Returns
 *                                0 and a descriptor in *fdp, or an errno
 *                                (EINVAL for bad flags).  Never creates.
 *   close(io, fd)                returns 0 or an errno; the descriptor is
 *                                gone either way.
 *   size(io, fd, &size)          bytes in the file (regular file or block
 *                                device); 0 or an errno.
 *   read(io, fd, buf, len, off)  one attempt, as pread(2): the count of
 *                                bytes read, which may be short (0 at end
 *                                of file), or a negative errno (-EINTR
 *                                included: nothing was read, try again).
 *   write(io, fd, buf, len, off) one attempt, as pwrite(2): the count of
 *                                bytes written, possibly short, or a
 *                                negative errno.
 *   sync(io, fd)                 make the file's written data durable
 *                                (fdatasync(2)); 0 or an errno.
 *   alloc(io, len)               buffer memory of at least len bytes,
 *                                aligned to HL_IO_ALIGN, contents
 *                                undefined; NULL means ENOMEM.
 *   free(io, p, len)             give back memory from alloc (p may be
 *                                NULL; len is the length asked for).
 *   destroy(io)                  release the backend itself.
 *
 * Offsets are byte offsets in the file; an offset or an end of transfer
 * past INT64_MAX gives EINVAL.
 *
 * Threads: every operation of every backend here may be called at the
 * same time from any number of threads, on the same instance and on the
 * same descriptors, except destroy, which must come after every other
 * call on the instance has returned.
 *
 * Full transfers
 * --------------
 *
 * hl_io_read_full() and hl_io_write_full() move exactly len bytes: they
 * call the backend again after a short transfer and after -EINTR.  A read
 * that meets the end of the file first fails with EIO, as does a backend
 * that reports more bytes than asked.  Calls that make no progress (EINTR,
 * or a write of 0 bytes) are retried at most HL_IO_RETRIES times in a row;
 * after that the last error (EINTR, or EIO for a 0-byte write) is
 * returned.  Both return 0 or a positive errno; on error some bytes may
 * have been transferred.
 *
 * The POSIX backend
 * -----------------
 *
 * hl_io_posix() returns one shared instance with no mutable state: open
 * with O_CLOEXEC, pread, pwrite, fdatasync, fstat (and BLKGETSIZE64 for
 * block devices), aligned_alloc with the length rounded up to
 * HL_IO_ALIGN.  Its destroy does nothing, so hl_io_destroy() on it is
 * harmless.
 *
 * The fault-injecting backend
 * ---------------------------
 *
 * hl_io_fault_create() wraps `lower' (NULL: the POSIX backend; it is not
 * destroyed with the wrapper) and passes every call down, except that,
 * as struct hl_io_fault_cfg says, some calls fail, stop short, return
 * -EINTR or sleep first.  open, close, size and free are never touched.
 *
 * Calls are numbered per kind (read, write, sync, alloc) from 1, over all
 * threads, in two ways: n counts from the creation of the backend, and
 * m from the last hl_io_fault_create() or hl_io_fault_set().  A call's
 * numbers are those its atomic increments returned.  fail_*_nth compares
 * with m, so after a set "the Nth call" means the Nth from then on; the
 * every-Kth faults and the random choices (which calls fail at
 * fail_rate_ppm, how short a short transfer is: a hash of the seed, the
 * kind and n) use n, so frequent changes do not restart their rhythm and
 * a single-threaded run repeats exactly.
 *
 * For a read or write, in this order:
 *
 *   1. sleep delay_us microseconds, if set;
 *   2. fail with the kind's errno if m is the kind's fail_*_nth (or later,
 *      with fail_sticky);
 *   3. return -EINTR, doing nothing, if eintr_every divides n;
 *   4. fail with the kind's errno with probability fail_rate_ppm / 10^6;
 *   5. pass down only 1..len-1 bytes (chosen at random) if short_every
 *      divides n and len > 1; otherwise pass the call down whole.
 *
 * A sync fails as in step 2 with sync_errno; an alloc returns NULL when m
 * is fail_alloc_nth (or later, with fail_sticky).  An errno field of 0
 * means EIO.
 *
 * hl_io_fault_set() replaces the whole configuration and restarts m (not
 * n, nor the statistics); each field is stored atomically, so a call that
 * runs during the change sees, field by field, the old or the new value.
 * hl_io_fault_stats() reads the counters, atomics counting since
 * creation: calls of each kind (failed ones included), frees, and the
 * faults injected.  Both may be called at any time from any thread.
 */
#ifndef HAMMERLOCK_IO_H
#define HAMMERLOCK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <hammerlock/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HL_IO_RDONLY  0x1   /* open for reading only */
#define HL_IO_RDWR    0x2   /* open for reading and writing */
#define HL_IO_ALIGN   4096u /* alignment of alloc'ed buffer memory */
#define HL_IO_RETRIES 64    /* full transfers: no-progress calls in a row */

struct hl_io;

struct hl_io_ops {
	int (*open)(struct hl_io *io, const char *path, int flags, int *fdp);
	int (*close)(struct hl_io *io, int fd);
	int (*size)(struct hl_io *io, int fd, uint64_t *sizep);
	ssize_t (*read)(
	    struct hl_io *io, int fd, void *buf, size_t len, uint64_t off);
	ssize_t (*write)(struct hl_io *io, int fd, const void *buf, size_t len,
	    uint64_t off);
	int (*sync)(struct hl_io *io, int fd);
	void *(*alloc)(struct hl_io *io, size_t len);
	void (*free)(struct hl_io *io, void *p, size_t len);
	void (*destroy)(struct hl_io *io);
};

struct hl_io {
	const struct hl_io_ops *ops;
};

/* The shared POSIX backend (never NULL). */
HL_EXPORT struct hl_io *hl_io_posix(void);

/* io->ops->destroy(io); NULL is ignored. */
HL_EXPORT void hl_io_destroy(struct hl_io *io);

/* Transfer exactly len bytes at off; 0 or an errno (see above). */
HL_EXPORT int hl_io_read_full(
    struct hl_io *io, int fd, void *buf, size_t len, uint64_t off);
HL_EXPORT int hl_io_write_full(
    struct hl_io *io, int fd, const void *buf, size_t len, uint64_t off);

/* What the fault backend does; all zero passes everything through. */
struct hl_io_fault_cfg {
	uint64_t fail_read_nth;	 /* the Nth read (m) fails; 0: off */
	uint64_t fail_write_nth; /* the Nth write (m) fails; 0: off */
	uint64_t fail_sync_nth;	 /* the Nth sync (m) fails; 0: off */
	uint64_t fail_alloc_nth; /* the Nth alloc (m) gives NULL */
	int read_errno;		 /* errno of failed reads; 0: EIO */
	int write_errno;	 /* errno of failed writes; 0: EIO */
	int sync_errno;		 /* errno of failed syncs; 0: EIO */
	bool fail_sticky;	 /* ...and every later one too */
	uint32_t short_every;	 /* every Kth read/write is short; 0: none */
	uint32_t eintr_every;	 /* every Kth read/write gives -EINTR */
	uint32_t delay_us;	 /* sleep before each read/write */
	uint32_t fail_rate_ppm;	 /* random read/write failures, 0..10^6 */
	uint64_t seed;		 /* of the random choices */
};

struct hl_io_fault_stats {
	uint64_t reads, writes, syncs, allocs; /* calls, failed ones too */
	uint64_t frees;			       /* free calls */
	uint64_t injected_errors; /* failures injected (alloc NULL too) */
	uint64_t short_transfers; /* read/write calls cut short */
	uint64_t eintrs;	  /* -EINTR returned */
};

/*
 * Wrap lower (NULL: hl_io_posix()) in a new fault backend; cfg may be NULL
 * (no faults).  Returns 0, EINVAL (bad cfg: a negative errno field, or
 * fail_rate_ppm over 10^6) or ENOMEM.  Free it with hl_io_destroy().
 */
HL_EXPORT int hl_io_fault_create(
    struct hl_io *lower, const struct hl_io_fault_cfg *cfg, struct hl_io **iop);

/* Replace the configuration (NULL: no faults); 0, or EINVAL for a bad
 * cfg or an io that is not a fault backend. */
HL_EXPORT int hl_io_fault_set(
    struct hl_io *io, const struct hl_io_fault_cfg *cfg);

/* Read the counters; 0, or EINVAL (*st zeroed) if io is not a fault
 * backend. */
HL_EXPORT int hl_io_fault_stats(struct hl_io *io, struct hl_io_fault_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* HAMMERLOCK_IO_H */
