/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_buffer.c - buffers: every disposition of hl_get_buffer() and of
 * the release, checked by their exact outcome: the refs word
 * (hl_buffer_lock()), the mount statistics, and the calls seen by a
 * counting fault backend under the mount.
 *
 *   0->1 with no memory        one read, buffer_loads +1
 *   1->0                       memory kept (word 0, resident, no unload)
 *   0->1 with memory           no I/O, buffer_hits +1
 *   N->N+1, CHECK clear        word N+1, nothing else
 *   isnew                      zero fill, no read
 *   bad requests               EINVAL / ERANGE / ENOENT, nothing cached
 *   pool over budget           CLOCK reclaim of unreferenced memory; a
 *                              structure with neither refs nor memory is
 *                              destroyed; ENOMEM when all is pinned;
 *                              a modified buffer is written before
 *                              it is reclaimed, never while referenced
 *   hl_del_buffers             drops an unreferenced modified buffer,
 *                              EAGAIN on a referenced one
 *   late collision             two threads creating the same buffer: one
 *                              read per load, one structure
 *   read error                 EIO, no reference, structure destroyed,
 *                              the next get reads again
 *   write-back                 sync writes and cleans; a failed write pins
 *                              the buffer with the error's reference and
 *                              the next sync retries
 *   unmount                    a leaked reference gives EBUSY and names it
 *
 * Geometry: one (or two) 1 MiB volumes, 16 KiB buffers, 4 KiB nodes, so
 * data buffers are at byte offsets 16 KiB .. 1 MiB - 16 KiB.
 *
 * Options: --seed N (or HL_SEED), unused except for the printed seed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#define VOL_SIZE (1u << 20)
#define BUFSZ	 16384u
#define NBUFS	 (VOL_SIZE / BUFSZ) /* including the header buffer */

/* Byte offset of data buffer i (i >= 1) of volume vol. */
#define BOFF(vol, i) HL_OFF_MAKE((vol), (uint64_t)(i)*BUFSZ)

static char dir[64];
static char p0[96], p1[96];
static const char *paths[2] = {p0, p1};
static int npassed;

static void
passed(const char *what)
{
	printf("  ok: %s\n", what);
	fflush(stdout);
	npassed++;
}

/* A fresh mount's files: nvol volumes of VOL_SIZE bytes. */
static void
make_fs(int nvol)
{
	struct hl_newfs_opts o = {.vol_size = VOL_SIZE};
	char why[256];

	HT_CHECK(
	    hl_newfs(paths, nvol, &o, why, sizeof(why)) == 0, "newfs: %s", why);
}

static struct hl_mount *
mount_with(int nvol, struct hl_io *io, uint64_t pool_bytes, bool readonly)
{
	struct hl_mount_opts mo = {
	    .io = io, .pool_bytes = pool_bytes, .readonly = readonly};
	struct hl_mount *m;
	char why[256];
	int error;

	error = hl_mount_open(paths, nvol, &mo, &m, why, sizeof(why));
	HT_CHECK(error == 0, "mount: %s", why);
	HT_CHECK(hl_mount_buffer_size(m) == BUFSZ, "buffer size %u",
	    hl_mount_buffer_size(m));
	return m;
}

static void
unmount_clean(struct hl_mount *m)
{
	char why[1024];
	int error = hl_mount_close(m, why, sizeof(why));

	HT_CHECK(error == 0, "unmount: %d: %s", error, why);
}

static struct hl_io *
counting_io(void)
{
	struct hl_io *io;

	HT_CHECK(hl_io_fault_create(NULL, NULL, &io) == 0, "fault io");
	return io;
}

static struct hl_io_fault_stats
iost(struct hl_io *io)
{
	struct hl_io_fault_stats st;

	HT_CHECK(hl_io_fault_stats(io, &st) == 0, "fault stats");
	return st;
}

static struct hl_mount_stats
mst(struct hl_mount *m)
{
	struct hl_mount_stats st;

	hl_mount_stats(m, &st);
	return st;
}

#define U(x) ((unsigned long long)(x))

/* At rest: memory accounting is consistent. */
static void
check_at_rest(struct hl_mount *m)
{
	struct hl_mount_stats st = mst(m);

	HT_CHECK(st.buffer_loads - st.buffer_unloads == st.buffers_resident,
	    "loads %llu - unloads %llu != resident %llu", U(st.buffer_loads),
	    U(st.buffer_unloads), U(st.buffers_resident));
	HT_CHECK(st.pool_bytes == st.buffers_resident * BUFSZ,
	    "pool_bytes %llu for %llu resident buffers", U(st.pool_bytes),
	    U(st.buffers_resident));
	HT_CHECK(st.pool_bytes <= st.pool_limit, "pool %llu over limit %llu",
	    U(st.pool_bytes), U(st.pool_limit));
}

/* Write len bytes of `byte' into volume file path at byte offset off. */
static void
poke_file(const char *path, uint64_t off, int byte, size_t len)
{
	char *buf = malloc(len);
	int fd;

	HT_CHECK(buf != NULL, "malloc");
	memset(buf, byte, len);
	HT_CHECK((fd = open(path, O_RDWR)) >= 0, "open %s", path);
	HT_CHECK(pwrite(fd, buf, len, (off_t)off) == (ssize_t)len, "pwrite");
	HT_CHECK(fsync(fd) == 0, "fsync");
	close(fd);
	free(buf);
}

static bool
all_bytes(const void *p, int byte, size_t len)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		if (c[i] != (unsigned char)byte)
			return false;
	return true;
}

static struct hl_buffer *
get_ok(struct hl_mount *m, uint64_t off, bool isnew)
{
	struct hl_buffer *b;
	int error = -1;

	b = hl_get_buffer(m, off, 0, isnew, &error);
	HT_CHECK(
	    b != NULL && error == 0, "get buffer %#llx: %d", U(off), error);
	HT_CHECK(hl_buffer_data(b) != NULL, "referenced buffer without memory");
	return b;
}

static void
get_fails(struct hl_mount *m, uint64_t off, uint32_t bytes, int want)
{
	struct hl_buffer *b;
	int error = -1;

	b = hl_get_buffer(m, off, bytes, false, &error);
	HT_CHECK(b == NULL && error == want,
	    "get %#llx bytes %u: expected error %d, got %p/%d", U(off), bytes,
	    want, (void *)b, error);
}

/*
 * The basic dispositions: 0->1 with no memory reads once; 1->0 keeps the
 * memory; 0->1 with memory is a hit; N->N+1 with CHECK clear only counts.
 */
static void
test_load_keep_hit(void)
{
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_mount_stats st;
	struct hl_buffer *b, *b2;
	uint64_t r0, w0;

	make_fs(1);
	/* Something recognizable on disk in data buffer 3. */
	poke_file(p0, 3 * BUFSZ, 0xA5, BUFSZ);
	m = mount_with(1, io, 0, false);
	r0 = iost(io).reads;
	w0 = iost(io).writes;
	st = mst(m);
	HT_CHECK(st.buffers == 0 && st.buffer_loads == 0 && st.pool_bytes == 0,
	    "fresh mount: buffers %llu loads %llu pool %llu", U(st.buffers),
	    U(st.buffer_loads), U(st.pool_bytes));

	/* 0->1, no memory: one read. */
	b = get_ok(m, BOFF(0, 3), false);
	HT_UNIT_REFS(hl_buffer_lock(b), 1);
	HT_CHECK(iost(io).reads == r0 + 1, "one read, got %llu",
	    U(iost(io).reads - r0));
	HT_CHECK(hl_buffer_offset(b) == BOFF(0, 3), "offset %#llx",
	    U(hl_buffer_offset(b)));
	HT_CHECK(hl_buffer_bytes(b) == BUFSZ, "bytes %u", hl_buffer_bytes(b));
	HT_CHECK(all_bytes(hl_buffer_data(b), 0xA5, BUFSZ),
	    "buffer content is not what is on disk");
	st = mst(m);
	HT_CHECK(st.buffer_loads == 1 && st.buffer_hits == 0 &&
		     st.buffers == 1 && st.buffers_referenced == 1 &&
		     st.buffers_resident == 1 && st.pool_bytes == BUFSZ &&
		     st.reads == 2 /* header at mount + this one */,
	    "after 0->1: loads %llu hits %llu buffers %llu ref %llu res %llu "
	    "pool %llu reads %llu",
	    U(st.buffer_loads), U(st.buffer_hits), U(st.buffers),
	    U(st.buffers_referenced), U(st.buffers_resident), U(st.pool_bytes),
	    U(st.reads));

	/* 1->0 keeps the memory. */
	hl_rel_buffer(b);
	HT_UNIT_REFS(hl_buffer_lock(b), 0);
	st = mst(m);
	HT_CHECK(st.buffers == 1 && st.buffers_referenced == 0 &&
		     st.buffers_resident == 1 && st.buffer_unloads == 0 &&
		     st.buffer_destroys == 0 && st.pool_bytes == BUFSZ,
	    "after 1->0: buffers %llu ref %llu res %llu unloads %llu "
	    "destroys %llu pool %llu",
	    U(st.buffers), U(st.buffers_referenced), U(st.buffers_resident),
	    U(st.buffer_unloads), U(st.buffer_destroys), U(st.pool_bytes));

	/* 0->1 with the memory still associated: no I/O. */
	b2 = get_ok(m, BOFF(0, 3), false);
	HT_CHECK(b2 == b, "the same structure must be found again");
	HT_UNIT_REFS(hl_buffer_lock(b), 1);
	HT_CHECK(iost(io).reads == r0 + 1, "a hit must not read (%llu reads)",
	    U(iost(io).reads - r0));
	HT_CHECK(all_bytes(hl_buffer_data(b), 0xA5, BUFSZ), "content lost");
	st = mst(m);
	HT_CHECK(st.buffer_hits == 1 && st.buffer_loads == 1,
	    "hits %llu loads %llu", U(st.buffer_hits), U(st.buffer_loads));

	/* N->N+1 with CHECK clear: the count only. */
	b2 = get_ok(m, BOFF(0, 3), false);
	HT_CHECK(b2 == b, "same pointer");
	HT_UNIT_REFS(hl_buffer_lock(b), 2);
	HT_CHECK(hl_ref_buffer(b) == 0, "hl_ref_buffer");
	HT_UNIT_REFS(hl_buffer_lock(b), 3);
	st = mst(m);
	HT_CHECK(st.buffer_hits == 1 && st.buffer_loads == 1 &&
		     iost(io).reads == r0 + 1,
	    "N->N+1 must do nothing: hits %llu loads %llu", U(st.buffer_hits),
	    U(st.buffer_loads));
	hl_rel_buffer(b);
	HT_UNIT_REFS(hl_buffer_lock(b), 2);
	hl_rel_buffer(b);
	hl_rel_buffer(b);
	HT_UNIT_REFS(hl_buffer_lock(b), 0);

	/* hl_ref_buffer on an unreferenced, resident buffer: a hit too. */
	HT_CHECK(hl_ref_buffer(b) == 0, "hl_ref_buffer 0->1");
	HT_UNIT_REFS(hl_buffer_lock(b), 1);
	HT_CHECK(mst(m).buffer_hits == 2 && iost(io).reads == r0 + 1,
	    "hl_ref_buffer 0->1 with memory: hits %llu", U(mst(m).buffer_hits));
	hl_rel_buffer(b);

	check_at_rest(m);
	HT_CHECK(iost(io).writes == w0, "nothing may be written");
	unmount_clean(m);
	HT_CHECK(iost(io).writes == w0, "unmount writes nothing");
	hl_io_destroy(io);
	passed("0->1 reads once; 1->0 keeps memory; 0->1 hit; N->N+1; ref");
}

/* isnew zero-fills without reading; offsets are rounded down. */
static void
test_isnew_and_rounding(void)
{
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_buffer *b, *b2;
	uint64_t r0;

	make_fs(1);
	poke_file(p0, 5 * BUFSZ, 0x5A, BUFSZ);
	m = mount_with(1, io, 0, false);
	r0 = iost(io).reads;

	b = get_ok(m, BOFF(0, 5), true);
	HT_UNIT_REFS(hl_buffer_lock(b), 1);
	HT_CHECK(iost(io).reads == r0, "isnew must not read");
	HT_CHECK(all_bytes(hl_buffer_data(b), 0, BUFSZ),
	    "isnew must zero-fill (disk holds 0x5a)");
	HT_CHECK(mst(m).buffer_loads == 1 && mst(m).reads == 1,
	    "isnew is a load without a read: loads %llu reads %llu",
	    U(mst(m).buffer_loads), U(mst(m).reads));

	/* Offsets inside the buffer find the same one. */
	b2 = get_ok(m, BOFF(0, 5) + 1, false);
	HT_CHECK(b2 == b, "offset +1 -> same buffer");
	b2 = get_ok(m, BOFF(0, 5) + BUFSZ - 1, false);
	HT_CHECK(b2 == b, "offset +BUFSZ-1 -> same buffer");
	b2 = hl_get_buffer(m, BOFF(0, 5) + 4096, BUFSZ, false, &(int){0});
	HT_CHECK(b2 == b, "bytes == buffer_size is accepted");
	HT_UNIT_REFS(hl_buffer_lock(b), 4);
	HT_CHECK(hl_buffer_offset(b) == BOFF(0, 5), "rounded offset %#llx",
	    U(hl_buffer_offset(b)));
	HT_CHECK(iost(io).reads == r0, "no read for any of them");
	for (int i = 0; i < 4; i++)
		hl_rel_buffer(b);
	HT_UNIT_REFS(hl_buffer_lock(b), 0);

	/* A rounded offset past the first byte of the next buffer is not
	 * this one. */
	b2 = get_ok(m, BOFF(0, 6) - 1, false);
	HT_CHECK(b2 == b, "last byte of buffer 5");
	hl_rel_buffer(b2);
	b2 = get_ok(m, BOFF(0, 6), false);
	HT_CHECK(b2 != b && hl_buffer_offset(b2) == BOFF(0, 6),
	    "buffer 6 is another one");
	HT_CHECK(iost(io).reads == r0 + 1, "buffer 6 is read");
	hl_rel_buffer(b2);
	check_at_rest(m);
	unmount_clean(m);
	hl_io_destroy(io);
	passed("isnew zero-fills without I/O; offsets round down");
}

/* Bad requests: exact errors, nothing cached, no I/O. */
static void
test_bad_requests(void)
{
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_mount_stats st;
	uint64_t r0;

	make_fs(1);
	m = mount_with(1, io, 0, false); /* volume 0 only */
	r0 = iost(io).reads;

	get_fails(m, BOFF(0, 1), 512, EINVAL);	      /* bytes */
	get_fails(m, BOFF(0, 1), BUFSZ / 2, EINVAL);  /* bytes */
	get_fails(m, BOFF(0, 1), 2 * BUFSZ, EINVAL);  /* bytes */
	get_fails(m, HL_OFF_MAKE(0, 0), 0, EINVAL);   /* header buffer */
	get_fails(m, HL_OFF_MAKE(0, 100), 0, EINVAL); /* inside it */
	get_fails(m, HL_OFF_MAKE(0, BUFSZ - 1), 0, EINVAL);
	get_fails(m, HL_OFF_MAKE(0, VOL_SIZE), 0, ERANGE); /* past the end */
	get_fails(m, HL_OFF_MAKE(0, VOL_SIZE + 5 * BUFSZ + 7), 0, ERANGE);
	get_fails(m, HL_OFF_MAKE(0, HL_OFF_SHORT_MASK), 0, ERANGE);
	get_fails(m, BOFF(0, 1) & ~HL_OFF_ZONE_MASK, 0, EINVAL); /* zone 0 */
	get_fails(m, (BOFF(0, 1) & ~HL_OFF_ZONE_MASK) | (1ULL << 60), 0,
	    EINVAL); /* zone 1 */
	get_fails(m, (BOFF(0, 1) & ~HL_OFF_ZONE_MASK) | (3ULL << 60), 0,
	    EINVAL);			     /* zone 3 */
	get_fails(m, 0, 0, EINVAL);	     /* "none" */
	get_fails(m, BOFF(1, 1), 0, ENOENT); /* volume not mounted */
	get_fails(m, BOFF(255, 1), 0, ENOENT);
	/* The checks run before anything else: bad bytes beat bad zone. */
	get_fails(m, 0, 512, EINVAL);

	st = mst(m);
	HT_CHECK(st.buffers == 0 && st.buffer_loads == 0 &&
		     st.pool_bytes == 0 && st.buffer_destroys == 0,
	    "a refused request must cache nothing: buffers %llu loads %llu",
	    U(st.buffers), U(st.buffer_loads));
	HT_CHECK(iost(io).reads == r0, "a refused request must not read");
	unmount_clean(m);
	hl_io_destroy(io);
	passed(
	    "EINVAL (bytes, zone, header) / ERANGE / ENOENT, nothing cached");
}

/*
 * The pool reclaims unreferenced memory when over budget; a structure
 * left with neither references nor memory is destroyed.
 */
static void
test_pool_reclaim(void)
{
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_mount_stats st;
	struct hl_buffer *b;
	uint64_t r0;

	make_fs(1);
	for (int i = 1; i <= 10; i++)
		poke_file(p0, (uint64_t)i * BUFSZ, i, BUFSZ);
	m = mount_with(1, io, 4 * BUFSZ, false);
	r0 = iost(io).reads;
	HT_CHECK(mst(m).pool_limit == 4 * BUFSZ, "pool limit %llu",
	    U(mst(m).pool_limit));

	for (int i = 1; i <= 10; i++) {
		b = get_ok(m, BOFF(0, i), false);
		HT_CHECK(all_bytes(hl_buffer_data(b), i, BUFSZ),
		    "buffer %d content", i);
		HT_UNIT_REFS(hl_buffer_lock(b), 1);
		hl_rel_buffer(b);
		st = mst(m);
		HT_CHECK(st.pool_bytes <= 4 * BUFSZ, "pool %llu over budget",
		    U(st.pool_bytes));
		HT_CHECK(st.buffers == st.buffers_resident,
		    "at rest every structure has memory: %llu vs %llu",
		    U(st.buffers), U(st.buffers_resident));
		check_at_rest(m);
	}
	st = mst(m);
	HT_CHECK(iost(io).reads - r0 == 10, "10 reads, got %llu",
	    U(iost(io).reads - r0));
	HT_CHECK(st.buffer_loads == 10 && st.buffer_unloads == 6 &&
		     st.reclaims == 6 && st.buffer_destroys == 6 &&
		     st.buffers == 4 && st.buffers_resident == 4 &&
		     st.pool_bytes == 4 * BUFSZ && st.reclaim_failures == 0 &&
		     st.reclaim_deferred == 0,
	    "loads %llu unloads %llu reclaims %llu destroys %llu buffers %llu "
	    "resident %llu pool %llu failures %llu deferred %llu",
	    U(st.buffer_loads), U(st.buffer_unloads), U(st.reclaims),
	    U(st.buffer_destroys), U(st.buffers), U(st.buffers_resident),
	    U(st.pool_bytes), U(st.reclaim_failures), U(st.reclaim_deferred));

	/* CLOCK: the 4 most recent (7..10) are the ones kept. */
	for (int i = 7; i <= 10; i++) {
		b = get_ok(m, BOFF(0, i), false);
		hl_rel_buffer(b);
	}
	HT_CHECK(iost(io).reads - r0 == 10,
	    "buffers 7..10 must still be resident (%llu reads)",
	    U(iost(io).reads - r0));
	/* A reclaimed one is read again, with its content. */
	b = get_ok(m, BOFF(0, 1), false);
	HT_CHECK(iost(io).reads - r0 == 11, "buffer 1 is read again");
	HT_CHECK(all_bytes(hl_buffer_data(b), 1, BUFSZ), "buffer 1 content");
	hl_rel_buffer(b);
	check_at_rest(m);
	HT_CHECK(mst(m).buffers == mst(m).buffers_resident, "at rest");
	unmount_clean(m);
	hl_io_destroy(io);
	passed("reclaim within budget; memoryless structures destroyed");
}

/* Everything pinned: ENOMEM, no reference kept, and it recovers. */
static void
test_all_pinned(void)
{
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_mount_stats st;
	struct hl_buffer *held[4], *b;
	uint64_t r0;
	int error;

	make_fs(1);
	m = mount_with(1, io, 4 * BUFSZ, false);
	r0 = iost(io).reads;
	for (int i = 0; i < 4; i++)
		held[i] = get_ok(m, BOFF(0, i + 1), false);
	HT_CHECK(mst(m).pool_bytes == 4 * BUFSZ, "pool full");

	b = hl_get_buffer(m, BOFF(0, 5), 0, false, &error);
	HT_CHECK(
	    b == NULL && error == ENOMEM, "5th get: %p %d", (void *)b, error);
	st = mst(m);
	HT_CHECK(st.reclaim_failures == 1 && st.buffers == 4 &&
		     st.buffers_referenced == 4 && st.buffers_resident == 4 &&
		     st.pool_bytes == 4 * BUFSZ && st.buffer_destroys == 1 &&
		     st.reclaims == 0 && st.buffer_loads == 4,
	    "after ENOMEM: failures %llu buffers %llu referenced %llu "
	    "resident %llu pool %llu destroys %llu reclaims %llu loads %llu",
	    U(st.reclaim_failures), U(st.buffers), U(st.buffers_referenced),
	    U(st.buffers_resident), U(st.pool_bytes), U(st.buffer_destroys),
	    U(st.reclaims), U(st.buffer_loads));
	/* Each of the 4 was skipped (referenced) on the second and third
	 * sweeps (the first clears their second-chance bits). */
	HT_CHECK(
	    st.reclaim_deferred == 8, "deferred %llu", U(st.reclaim_deferred));
	HT_CHECK(iost(io).reads - r0 == 4, "the refused get must not read");
	for (int i = 0; i < 4; i++)
		HT_UNIT_REFS(hl_buffer_lock(held[i]), 1);

	/* Isnew is refused the same way. */
	b = hl_get_buffer(m, BOFF(0, 6), 0, true, &error);
	HT_CHECK(b == NULL && error == ENOMEM, "isnew 5th get: %d", error);
	HT_CHECK(mst(m).reclaim_failures == 2 && mst(m).buffers == 4,
	    "failures %llu buffers %llu", U(mst(m).reclaim_failures),
	    U(mst(m).buffers));

	/* Release one: the next get reclaims it and works. */
	hl_rel_buffer(held[0]);
	b = get_ok(m, BOFF(0, 5), false);
	HT_UNIT_REFS(hl_buffer_lock(b), 1);
	st = mst(m);
	HT_CHECK(st.reclaims == 1 && st.buffers == 4 &&
		     st.buffers_referenced == 4 && st.reclaim_failures == 2 &&
		     iost(io).reads - r0 == 5,
	    "after release: reclaims %llu buffers %llu referenced %llu",
	    U(st.reclaims), U(st.buffers), U(st.buffers_referenced));
	hl_rel_buffer(b);
	for (int i = 1; i < 4; i++)
		hl_rel_buffer(held[i]);
	check_at_rest(m);
	unmount_clean(m);
	hl_io_destroy(io);
	passed("all pinned: ENOMEM, no reference leaked; recovers");
}

/* Modify buffer b: fill it with `byte'. */
static void
modify_fill(struct hl_buffer *b, int byte)
{
	HT_CHECK(hl_modify_buffer(b) == 0, "modify");
	HT_UNIT_LOCKVAL(hl_buffer_lock(b), 1); /* shared, once */
	memset(hl_buffer_data(b), byte, BUFSZ);
	hl_modify_buffer_done(b);
	HT_UNIT_LOCKVAL(hl_buffer_lock(b), 0);
}

/* Get and release buffers first..last (a churn through the pool). */
static void
churn(struct hl_mount *m, int first, int last)
{
	for (int i = first; i <= last; i++)
		hl_rel_buffer(get_ok(m, BOFF(0, i), false));
}

/*
 * A modified buffer is never dropped before it is written.  While it is
 * referenced it is neither written nor reclaimed.  Once it is cold: on a
 * mount with writeback_nosync the pool writes it back and then reclaims
 * it, and its contents come back from disk; with the default (an
 * fdatasync per write-back) the pool keeps it while anything else can
 * go, and sync writes it.
 */
static void
test_modified_written_before_reclaim(void)
{
	for (int nosync = 0; nosync <= 1; nosync++) {
		struct hl_io *io = counting_io();
		struct hl_mount_opts mo = {.io = io,
		    .pool_bytes = 3 * BUFSZ,
		    .writeback_nosync = nosync};
		struct hl_mount *m;
		struct hl_mount_stats st;
		struct hl_io_fault_stats fs;
		struct hl_buffer *a, *b;
		uint64_t r0, d0;
		char why[256];

		make_fs(1);
		HT_CHECK(
		    hl_mount_open(paths, 1, &mo, &m, why, sizeof(why)) == 0,
		    "mount: %s", why);

		/* Referenced and modified: pinned, never written. */
		b = get_ok(m, BOFF(0, 1), false);
		modify_fill(b, 0x55);
		churn(m, 2, 12);
		st = mst(m);
		d0 = st.reclaim_deferred;
		HT_CHECK(st.buffers_modified == 1 && d0 > 0 &&
			     st.reclaims == 9 && st.pool_bytes <= 3 * BUFSZ &&
			     iost(io).writes == 0,
		    "held: modified %llu deferred %llu reclaims %llu pool "
		    "%llu writes %llu",
		    U(st.buffers_modified), U(d0), U(st.reclaims),
		    U(st.pool_bytes), U(iost(io).writes));
		HT_CHECK(all_bytes(hl_buffer_data(b), 0x55, BUFSZ),
		    "held modified content lost");
		hl_rel_buffer(b);

		/* Released and cold (a third buffer stays clean, so this
		 * is not the write-back of a pool that is all pinned). */
		a = get_ok(m, BOFF(0, 2), false);
		modify_fill(a, 0x77);
		hl_rel_buffer(a);
		HT_UNIT_REFS(hl_buffer_lock(a), 0);
		churn(m, 3, 12);
		st = mst(m);
		fs = iost(io);
		/* nosync: written and dropped, so not counted deferred. */
		if (nosync)
			HT_CHECK(st.buffers_modified == 0 && fs.writes == 2 &&
				     st.writebacks == 2 && fs.syncs == 0 &&
				     st.pool_bytes <= 3 * BUFSZ &&
				     st.reclaim_deferred == d0,
			    "nosync, cold: modified %llu writes %llu "
			    "writebacks %llu syncs %llu pool %llu deferred "
			    "%llu (was %llu)",
			    U(st.buffers_modified), U(fs.writes),
			    U(st.writebacks), U(fs.syncs), U(st.pool_bytes),
			    U(st.reclaim_deferred), U(d0));
		else
			HT_CHECK(st.buffers_modified == 2 && fs.writes == 0 &&
				     st.reclaim_deferred > d0,
			    "sync, cold: modified %llu writes %llu",
			    U(st.buffers_modified), U(fs.writes));
		if (!nosync) {
			HT_CHECK(hl_mount_sync(m, why, sizeof(why)) == 0,
			    "sync: %s", why);
			churn(m, 3, 12);
		}

		/* Both come back from disk with their contents. */
		r0 = iost(io).reads;
		a = get_ok(m, BOFF(0, 1), false);
		HT_CHECK(all_bytes(hl_buffer_data(a), 0x55, BUFSZ),
		    "written content must come back from disk");
		hl_rel_buffer(a);
		a = get_ok(m, BOFF(0, 2), false);
		HT_CHECK(all_bytes(hl_buffer_data(a), 0x77, BUFSZ),
		    "written content must come back from disk");
		hl_rel_buffer(a);
		HT_CHECK(iost(io).reads - r0 == 2,
		    "written buffers must have been reclaimed (reads %llu)",
		    U(iost(io).reads - r0));
		check_at_rest(m);
		unmount_clean(m);
		hl_io_destroy(io);
	}
	passed("a modified buffer: pinned while held; when cold, written "
	       "back and reclaimed (writeback_nosync) or kept until sync");
}

/* hl_del_buffers drops an unreferenced modified buffer; EAGAIN if held. */
static void
test_del_buffers(void)
{
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_mount_stats st;
	struct hl_buffer *a, *b;
	uint64_t r0;
	char why[512];

	make_fs(1);
	poke_file(p0, 2 * BUFSZ, 0x11, BUFSZ);
	poke_file(p0, 3 * BUFSZ, 0x22, BUFSZ);
	m = mount_with(1, io, 0, false);
	r0 = iost(io).reads;

	a = get_ok(m, BOFF(0, 2), false);
	modify_fill(a, 0x99);
	hl_rel_buffer(a);
	st = mst(m);
	HT_CHECK(st.buffers == 1 && st.buffers_modified == 1, "modified");

	/* Nothing cached in the range: 0, nothing happens. */
	HT_CHECK(hl_del_buffers(m, BOFF(0, 10), 4 * BUFSZ) == 0, "empty range");
	HT_CHECK(hl_del_buffers(m, BOFF(0, 2), 0) == 0, "zero bytes");
	HT_CHECK(mst(m).buffers == 1, "nothing deleted");

	HT_CHECK(hl_del_buffers(m, BOFF(0, 2), BUFSZ) == 0, "del");
	st = mst(m);
	HT_CHECK(st.buffers == 0 && st.buffers_modified == 0 &&
		     st.buffers_resident == 0 && st.buffer_destroys == 1 &&
		     st.buffer_unloads == 1 && st.pool_bytes == 0,
	    "after del: buffers %llu modified %llu resident %llu destroys "
	    "%llu unloads %llu pool %llu",
	    U(st.buffers), U(st.buffers_modified), U(st.buffers_resident),
	    U(st.buffer_destroys), U(st.buffer_unloads), U(st.pool_bytes));
	HT_CHECK(iost(io).writes == 0, "del must not write");

	/* The modification is gone: the old contents are read back. */
	a = get_ok(m, BOFF(0, 2), false);
	HT_CHECK(iost(io).reads - r0 == 2, "re-read after del");
	HT_CHECK(all_bytes(hl_buffer_data(a), 0x11, BUFSZ),
	    "the deleted modification must be discarded");
	hl_rel_buffer(a);
	/* A sync has nothing to write. */
	HT_CHECK(hl_mount_sync(m, why, sizeof(why)) == 0, "sync: %s", why);
	HT_CHECK(iost(io).writes == 0, "nothing to write");

	/* Referenced by someone else: EAGAIN, left alone (and modified). */
	b = get_ok(m, BOFF(0, 3), false);
	modify_fill(b, 0x33);
	HT_CHECK(hl_del_buffers(m, BOFF(0, 2), 2 * BUFSZ) == EAGAIN,
	    "del of a referenced buffer must give EAGAIN");
	HT_UNIT_REFS(hl_buffer_lock(b), 1);
	st = mst(m);
	/* Buffer 2 (unreferenced) in the same range went; 3 stays. */
	HT_CHECK(st.buffers == 1 && st.buffers_modified == 1 &&
		     st.buffers_referenced == 1,
	    "after EAGAIN: buffers %llu modified %llu referenced %llu",
	    U(st.buffers), U(st.buffers_modified), U(st.buffers_referenced));
	HT_CHECK(all_bytes(hl_buffer_data(b), 0x33, BUFSZ),
	    "a referenced buffer's contents must stay");
	hl_rel_buffer(b);
	HT_CHECK(mst(m).buffers_modified == 1, "still modified");
	check_at_rest(m);

	/* Range checks. */
	HT_CHECK(
	    hl_del_buffers(m, BOFF(0, 1) & ~HL_OFF_ZONE_MASK, BUFSZ) == EINVAL,
	    "zone 0");
	HT_CHECK(hl_del_buffers(m, HL_OFF_MAKE(0, VOL_SIZE - BUFSZ),
		     HL_OFF_SHORT_MASK) == EINVAL,
	    "a range crossing volumes");
	unmount_clean(m);

	/* Remount: buffer 2 holds its old contents, 3 was never written. */
	m = mount_with(1, io, 0, false);
	a = get_ok(m, BOFF(0, 2), false);
	HT_CHECK(all_bytes(hl_buffer_data(a), 0x11, BUFSZ), "disk: buffer 2");
	hl_rel_buffer(a);
	a = get_ok(m, BOFF(0, 3), false);
	HT_CHECK(all_bytes(hl_buffer_data(a), 0x22, BUFSZ), "disk: buffer 3");
	hl_rel_buffer(a);
	unmount_clean(m);
	hl_io_destroy(io);
	passed("hl_del_buffers drops unreferenced buffers, EAGAIN if held");
}

/*
 * Late collision: two threads create the same buffer at the same time.
 * Each round uses a fresh structure (hl_del_buffers destroys it between
 * rounds).
 */
#define RACE_ROUNDS 4000

struct race {
	struct hl_mount *m;
	pthread_barrier_t bar;
	_Atomic unsigned spin[2]; /* round each racer has reached */
	struct hl_buffer *got[2];
	uint64_t off;
};

/*
 * Start both racers of round i within a few nanoseconds of each other (a
 * pthread barrier wakes them microseconds apart, which hides the race):
 * each announces the round and spins until the other has too, with a
 * yield now and then in case the two share a CPU.
 */
static void
spin_start(struct race *r, int id, unsigned round)
{
	unsigned n = 0;

	atomic_store(&r->spin[id], round);
	while (atomic_load(&r->spin[!id]) < round)
		if (++n % 1024 == 0)
			sched_yield();
}

struct racer {
	struct race *r;
	int id;
	uint64_t rng;
};

static void *
race_main(void *arg)
{
	struct racer *me = arg;
	struct race *r = me->r;
	int error;

	for (int i = 0; i < RACE_ROUNDS; i++) {
		struct hl_buffer *b;
		uint64_t off;

		pthread_barrier_wait(&r->bar);
		off = r->off;
		spin_start(r, me->id, (unsigned)i + 1);
		/* A random skew, so that some rounds line the two up. */
		ht_spin_pause(&me->rng, 256, 0);
		b = hl_get_buffer(r->m, off, 0, false, &error);
		HT_CHECK(b != NULL && error == 0, "racer %d round %d: %d",
		    me->id, i, error);
		HT_CHECK(hl_buffer_offset(b) == off, "wrong buffer");
		HT_CHECK(all_bytes(hl_buffer_data(b), 0x3C, BUFSZ),
		    "racer %d round %d sees unloaded contents", me->id, i);
		r->got[me->id] = b;
		pthread_barrier_wait(&r->bar);
		HT_CHECK(r->got[0] == r->got[1],
		    "round %d: two structures for one buffer: %p %p", i,
		    (void *)r->got[0], (void *)r->got[1]);
		pthread_barrier_wait(&r->bar);
		hl_rel_buffer(b);
		pthread_barrier_wait(&r->bar);
		if (me->id == 0) {
			/* Both released: destroy it for the next round. */
			HT_CHECK(hl_del_buffers(r->m, off, BUFSZ) == 0,
			    "del between rounds");
			r->off = BOFF(0, 1 + (i % 8));
		}
	}
	return NULL;
}

static void
test_late_collision(uint64_t seed)
{
	struct hl_io *io = counting_io();
	struct race r;
	struct racer rr[2];
	pthread_t t[2];
	struct hl_mount_stats st;
	uint64_t r0;

	make_fs(1);
	for (int i = 1; i <= 8; i++)
		poke_file(p0, (uint64_t)i * BUFSZ, 0x3C, BUFSZ);
	memset(&r, 0, sizeof(r));
	r.m = mount_with(1, io, 0, false);
	r.off = BOFF(0, 1);
	r0 = iost(io).reads;
	HT_CHECK(pthread_barrier_init(&r.bar, NULL, 2) == 0, "barrier");
	for (int i = 0; i < 2; i++) {
		rr[i].r = &r;
		rr[i].id = i;
		rr[i].rng = ht_rng_stream(seed, (uint64_t)i);
		t[i] = ht_unit_spawn(race_main, &rr[i]);
	}
	for (int i = 0; i < 2; i++)
		ht_unit_join(t[i]);
	pthread_barrier_destroy(&r.bar);
	st = mst(r.m);
	HT_CHECK(iost(io).reads - r0 == RACE_ROUNDS,
	    "exactly one read per round: %llu reads for %d rounds",
	    U(iost(io).reads - r0), RACE_ROUNDS);
	HT_CHECK(st.buffer_loads == RACE_ROUNDS && st.read_errors == 0,
	    "loads %llu", U(st.buffer_loads));
	HT_CHECK(st.buffers == 0 && st.buffers_resident == 0 &&
		     st.buffer_unloads == RACE_ROUNDS && st.pool_bytes == 0,
	    "after the rounds: buffers %llu resident %llu unloads %llu",
	    U(st.buffers), U(st.buffers_resident), U(st.buffer_unloads));
	/* Each round destroys its published structure through del; a
	 * discarded loser is freed without counting, or (if a stale lookup
	 * held it) by that lookup's release, which counts. */
	HT_CHECK(st.buffer_destroys >= RACE_ROUNDS &&
		     st.buffer_destroys <= RACE_ROUNDS + st.collisions,
	    "destroys %llu collisions %llu", U(st.buffer_destroys),
	    U(st.collisions));
	printf("    %d rounds: %llu late collisions, %llu hits\n", RACE_ROUNDS,
	    U(st.collisions), U(st.buffer_hits));
	unmount_clean(r.m);
	hl_io_destroy(io);
	passed("racing creators: one structure, one read per load");
}

/* A failed read: EIO, no reference, structure destroyed; next get reads. */
static void
test_read_error(void)
{
	struct hl_io_fault_cfg cfg = {.fail_read_nth = 1};
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_mount_stats st;
	struct hl_buffer *b;
	uint64_t r0;
	int error;

	make_fs(1);
	poke_file(p0, 4 * BUFSZ, 0x44, BUFSZ);
	m = mount_with(1, io, 0, false);
	r0 = iost(io).reads;
	HT_CHECK(hl_io_fault_set(io, &cfg) == 0, "arm");
	b = hl_get_buffer(m, BOFF(0, 4), 0, false, &error);
	HT_CHECK(
	    b == NULL && error == EIO, "read error: %p %d", (void *)b, error);
	st = mst(m);
	HT_CHECK(st.buffers == 0 && st.buffers_referenced == 0 &&
		     st.buffers_resident == 0 && st.pool_bytes == 0 &&
		     st.buffer_destroys == 1 && st.read_errors == 1 &&
		     st.buffer_loads == 0,
	    "after EIO: buffers %llu referenced %llu resident %llu pool %llu "
	    "destroys %llu read_errors %llu loads %llu",
	    U(st.buffers), U(st.buffers_referenced), U(st.buffers_resident),
	    U(st.pool_bytes), U(st.buffer_destroys), U(st.read_errors),
	    U(st.buffer_loads));
	HT_CHECK(iost(io).reads - r0 == 1 && iost(io).injected_errors == 1,
	    "one failed read");

	b = get_ok(m, BOFF(0, 4), false);
	HT_UNIT_REFS(hl_buffer_lock(b), 1);
	HT_CHECK(iost(io).reads - r0 == 2, "the next get reads");
	HT_CHECK(all_bytes(hl_buffer_data(b), 0x44, BUFSZ), "content");
	st = mst(m);
	HT_CHECK(st.buffers == 1 && st.buffer_loads == 1, "loaded once");
	hl_rel_buffer(b);

	/* The same through hl_ref_buffer() on a structure without memory is
	 * not reachable (1->0 keeps memory); the error code of the backend
	 * is passed through. */
	{
		struct hl_io_fault_cfg c2 = {
		    .fail_read_nth = 1, .read_errno = ENXIO};

		HT_CHECK(hl_io_fault_set(io, &c2) == 0, "arm ENXIO");
		b = hl_get_buffer(m, BOFF(0, 9), 0, false, &error);
		HT_CHECK(
		    b == NULL && error == ENXIO, "backend errno: %d", error);
		HT_CHECK(mst(m).buffers == 1 && mst(m).read_errors == 2,
		    "buffers %llu", U(mst(m).buffers));
	}
	check_at_rest(m);
	unmount_clean(m);
	hl_io_destroy(io);
	passed("read error: EIO, no reference, destroyed; the next get reads");
}

/* hl_modify_buffer on a read-only mount. */
static void
test_readonly(void)
{
	struct hl_mount *m;
	struct hl_buffer *b;
	char why[256];

	make_fs(1);
	m = mount_with(1, NULL, 0, true);
	b = get_ok(m, BOFF(0, 1), false);
	HT_CHECK(hl_modify_buffer(b) == EROFS, "modify on read-only");
	HT_UNIT_LOCKVAL(hl_buffer_lock(b), 0);
	HT_CHECK(mst(m).buffers_modified == 0, "not modified");
	HT_CHECK(hl_mount_sync(m, why, sizeof(why)) == 0, "sync ro");
	hl_rel_buffer(b);
	unmount_clean(m);
	passed("modify on a read-only mount: EROFS");
}

/* Write-back, a failed write and its retry. */
static void
test_sync_and_write_error(void)
{
	struct hl_io_fault_cfg cfg = {.fail_write_nth = 1};
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_mount_stats st;
	struct hl_buffer *a, *b;
	char why[512];
	int error, fd;
	unsigned char *chk;

	make_fs(1);
	m = mount_with(1, io, 0, false);

	/* A plain sync. */
	a = get_ok(m, BOFF(0, 1), false);
	modify_fill(a, 0xC1);
	hl_rel_buffer(a);
	HT_CHECK(mst(m).buffers_modified == 1, "modified");
	HT_CHECK(hl_mount_sync(m, why, sizeof(why)) == 0, "sync: %s", why);
	st = mst(m);
	HT_CHECK(st.buffers_modified == 0 && st.writes == 1 && st.syncs == 1 &&
		     iost(io).writes == 1 && iost(io).syncs == 1,
	    "after sync: modified %llu writes %llu syncs %llu",
	    U(st.buffers_modified), U(st.writes), U(st.syncs));
	HT_UNIT_REFS(hl_buffer_lock(a), 0);
	HT_CHECK(hl_mount_sync(m, why, sizeof(why)) == 0 &&
		     iost(io).writes == 1 && iost(io).syncs == 1,
	    "a clean mount's sync writes nothing");

	/* A failed write. */
	b = get_ok(m, BOFF(0, 2), false);
	modify_fill(b, 0xC2);
	hl_rel_buffer(b);
	HT_CHECK(hl_io_fault_set(io, &cfg) == 0, "arm");
	why[0] = '\0';
	error = hl_mount_sync(m, why, sizeof(why));
	HT_CHECK(error == EIO, "sync must return the write error: %d", error);
	HT_CHECK(strstr(why, "write failed") != NULL &&
		     strstr(why, "0x2000000000008000") != NULL,
	    "why names the buffer: %s", why);
	st = mst(m);
	HT_CHECK(st.buffers_modified == 1 && st.buffers_ioerror == 1 &&
		     st.buffers_resident == 2 && st.buffers_referenced == 1 &&
		     st.write_errors == 1 && st.syncs == 1,
	    "after the failed write: modified %llu ioerror %llu resident %llu "
	    "referenced %llu write_errors %llu syncs %llu",
	    U(st.buffers_modified), U(st.buffers_ioerror),
	    U(st.buffers_resident), U(st.buffers_referenced),
	    U(st.write_errors), U(st.syncs));
	/* At rest, the error's reference. */
	HT_UNIT_REFS(hl_buffer_lock(b), 1);

	/* Still loaded: getting it is N->N+1 on the error's reference. */
	b = get_ok(m, BOFF(0, 2), false);
	HT_UNIT_REFS(hl_buffer_lock(b), 2);
	HT_CHECK(all_bytes(hl_buffer_data(b), 0xC2, BUFSZ), "contents kept");
	hl_rel_buffer(b);

	/* The retry succeeds and drops the error's reference. */
	HT_CHECK(hl_io_fault_set(io, NULL) == 0, "disarm");
	HT_CHECK(hl_mount_sync(m, why, sizeof(why)) == 0, "retry: %s", why);
	st = mst(m);
	HT_CHECK(st.buffers_modified == 0 && st.buffers_ioerror == 0 &&
		     st.buffers_referenced == 0 && st.syncs == 2,
	    "after the retry: modified %llu ioerror %llu referenced %llu "
	    "syncs %llu",
	    U(st.buffers_modified), U(st.buffers_ioerror),
	    U(st.buffers_referenced), U(st.syncs));
	HT_UNIT_REFS(hl_buffer_lock(b), 0);
	check_at_rest(m);
	unmount_clean(m);

	/* On disk. */
	chk = malloc(BUFSZ);
	HT_CHECK(chk != NULL, "malloc");
	HT_CHECK((fd = open(p0, O_RDONLY)) >= 0, "open");
	HT_CHECK(pread(fd, chk, BUFSZ, BUFSZ) == BUFSZ, "pread");
	HT_CHECK(all_bytes(chk, 0xC1, BUFSZ), "buffer 1 on disk");
	HT_CHECK(pread(fd, chk, BUFSZ, 2 * BUFSZ) == BUFSZ, "pread");
	HT_CHECK(all_bytes(chk, 0xC2, BUFSZ), "buffer 2 on disk");
	close(fd);
	free(chk);
	hl_io_destroy(io);
	passed("sync writes; a failed write pins the buffer; the retry works");
}

/* A failed write that is never retried is not a leak at unmount. */
static void
test_ioerror_at_unmount(void)
{
	struct hl_io_fault_cfg cfg = {.fail_write_nth = 1};
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_buffer *b;
	char why[512];

	make_fs(1);
	m = mount_with(1, io, 0, false);
	b = get_ok(m, BOFF(0, 7), false);
	modify_fill(b, 0xE7);
	hl_rel_buffer(b);
	HT_CHECK(hl_io_fault_set(io, &cfg) == 0, "arm");
	HT_CHECK(hl_mount_sync(m, why, sizeof(why)) == EIO, "failed sync");
	HT_UNIT_REFS(hl_buffer_lock(b), 1);
	unmount_clean(m); /* the error's reference is not a leak */
	hl_io_destroy(io);
	passed("the error's reference is not reported as a leak");
}

/* The backend's alloc fails: ENOMEM, the pool reservation given back. */
static void
test_alloc_failure(void)
{
	struct hl_io_fault_cfg cfg = {.fail_alloc_nth = 1};
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_mount_stats st;
	struct hl_buffer *b;
	uint64_t r0;
	int error;

	make_fs(1);
	m = mount_with(1, io, 0, false);
	r0 = iost(io).reads;
	HT_CHECK(hl_io_fault_set(io, &cfg) == 0, "arm");
	b = hl_get_buffer(m, BOFF(0, 1), 0, false, &error);
	HT_CHECK(b == NULL && error == ENOMEM, "alloc failure: %d", error);
	st = mst(m);
	HT_CHECK(st.buffers == 0 && st.pool_bytes == 0 &&
		     st.buffer_destroys == 1 && st.buffer_loads == 0 &&
		     st.reclaim_failures == 0 && iost(io).reads == r0,
	    "after the alloc failure: buffers %llu pool %llu destroys %llu",
	    U(st.buffers), U(st.pool_bytes), U(st.buffer_destroys));
	b = get_ok(m, BOFF(0, 1), false);
	HT_CHECK(iost(io).reads == r0 + 1 && mst(m).pool_bytes == BUFSZ,
	    "the next get works");
	hl_rel_buffer(b);
	check_at_rest(m);
	unmount_clean(m);
	hl_io_destroy(io);
	passed("alloc failure: ENOMEM, reservation returned, destroyed");
}

/*
 * A load fails while another thread waits for it: the waiter keeps its
 * reference, takes the interlock over with CHECK still set and loads
 * (the structure is not destroyed in between).
 */
struct waiter {
	struct hl_mount *m;
	uint64_t off;
	struct hl_buffer *b;
	int error;
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->b = hl_get_buffer(w->m, w->off, 0, false, &w->error);
	return NULL;
}

static void
test_failed_load_waiter_retries(void)
{
	struct hl_io_fault_cfg cfg = {.fail_read_nth = 1, .delay_us = 300000};
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_mount_stats st;
	struct waiter wa, wb;
	pthread_t ta, tb;
	struct hl_buffer *b;
	uint64_t r0;
	int error;

	make_fs(1);
	poke_file(p0, 6 * BUFSZ, 0x66, BUFSZ);
	m = mount_with(1, io, 0, false);
	r0 = iost(io).reads;
	HT_CHECK(hl_io_fault_set(io, &cfg) == 0, "arm");

	wa = (struct waiter){.m = m, .off = BOFF(0, 6), .error = -1};
	wb = wa;
	ta = ht_unit_spawn(waiter_main, &wa);
	/* A is loading (its read sleeps): find the structure's word. */
	HT_UNIT_WAIT(mst(m).buffers == 1, "A never created the buffer");
	/* B references it and sleeps on the interlock. */
	tb = ht_unit_spawn(waiter_main, &wb);
	ht_unit_wait_sleepers(1);
	ht_unit_join(ta);
	ht_unit_join(tb);
	HT_CHECK(wa.b == NULL && wa.error == EIO, "A: %p %d", (void *)wa.b,
	    wa.error);
	HT_CHECK(wb.b != NULL && wb.error == 0, "B must retry and load: %d",
	    wb.error);
	b = wb.b;
	HT_UNIT_REFS(hl_buffer_lock(b), 1);
	HT_CHECK(all_bytes(hl_buffer_data(b), 0x66, BUFSZ), "B's content");
	st = mst(m);
	HT_CHECK(iost(io).reads - r0 == 2 && st.buffer_loads == 1 &&
		     st.read_errors == 1 && st.buffer_destroys == 0 &&
		     st.buffers == 1 && st.buffers_referenced == 1,
	    "reads %llu loads %llu read_errors %llu destroys %llu buffers %llu",
	    U(iost(io).reads - r0), U(st.buffer_loads), U(st.read_errors),
	    U(st.buffer_destroys), U(st.buffers));
	hl_rel_buffer(b);
	HT_CHECK(hl_io_fault_set(io, NULL) == 0, "disarm");
	b = hl_get_buffer(m, BOFF(0, 6), 0, false, &error);
	HT_CHECK(b != NULL && iost(io).reads - r0 == 2, "then a hit");
	hl_rel_buffer(b);
	check_at_rest(m);
	unmount_clean(m);
	hl_io_destroy(io);
	passed("a failed load hands the interlock to the waiter, which loads");
}

/* fdatasync fails: the written buffer stays modified and pinned. */
static void
test_fdatasync_error(void)
{
	struct hl_io_fault_cfg cfg = {.fail_sync_nth = 1};
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_mount_stats st;
	struct hl_buffer *b;
	char why[512];
	int error;

	make_fs(1);
	m = mount_with(1, io, 0, false);
	b = get_ok(m, BOFF(0, 8), false);
	modify_fill(b, 0x88);
	hl_rel_buffer(b);
	HT_CHECK(hl_io_fault_set(io, &cfg) == 0, "arm");
	error = hl_mount_sync(m, why, sizeof(why));
	HT_CHECK(error == EIO && strstr(why, "fdatasync failed"),
	    "sync error: %d %s", error, why);
	st = mst(m);
	HT_CHECK(st.buffers_modified == 1 && st.buffers_ioerror == 1 &&
		     st.writes == 1 && st.syncs == 1 && st.write_errors == 1,
	    "after the failed fdatasync: modified %llu ioerror %llu writes "
	    "%llu syncs %llu write_errors %llu",
	    U(st.buffers_modified), U(st.buffers_ioerror), U(st.writes),
	    U(st.syncs), U(st.write_errors));
	HT_UNIT_REFS(hl_buffer_lock(b), 1);
	/* Retry: the buffer again, and volume 0's header (its sync failed,
	 * so the header is rewritten too), then one fdatasync. */
	error = hl_mount_sync(m, why, sizeof(why));
	HT_CHECK(error == 0, "retry: %s", why);
	st = mst(m);
	HT_CHECK(st.buffers_modified == 0 && st.buffers_ioerror == 0 &&
		     st.writes == 3 && st.syncs == 2 && iost(io).writes == 3,
	    "after the retry: modified %llu ioerror %llu writes %llu syncs "
	    "%llu",
	    U(st.buffers_modified), U(st.buffers_ioerror), U(st.writes),
	    U(st.syncs));
	HT_UNIT_REFS(hl_buffer_lock(b), 0);
	unmount_clean(m);
	hl_io_destroy(io);
	passed("fdatasync error: stays modified and pinned; retried");
}

/* A buffer modified while it is being written stays modified. */
struct modifier {
	struct hl_buffer *b;
	int done;
};

static void *
modifier_main(void *arg)
{
	struct modifier *w = arg;

	HT_CHECK(hl_modify_buffer(w->b) == 0, "modify");
	memset(hl_buffer_data(w->b), 0x9A, BUFSZ);
	hl_modify_buffer_done(w->b);
	return NULL;
}

struct syncer {
	struct hl_mount *m;
	int error;
};

static void *
syncer_main(void *arg)
{
	struct syncer *s = arg;

	s->error = hl_mount_sync(s->m, NULL, 0);
	return NULL;
}

static void
test_modified_during_writeback(void)
{
	struct hl_io_fault_cfg cfg = {.delay_us = 200000};
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_buffer *b;
	struct modifier w;
	struct syncer s;
	pthread_t ts, tw;
	char why[256];
	int fd;
	unsigned char *chk;

	make_fs(1);
	m = mount_with(1, io, 0, false);
	b = get_ok(m, BOFF(0, 9), false);
	modify_fill(b, 0x99);
	HT_CHECK(hl_io_fault_set(io, &cfg) == 0, "slow writes");
	s = (struct syncer){.m = m, .error = -1};
	ts = ht_unit_spawn(syncer_main, &s);
	/* The write-back holds the buffer exclusive while it writes. */
	HT_UNIT_WAIT(
	    atomic_load(&hl_buffer_lock(b)->lockval) & HL_LOCKF_EXCLUSIVE,
	    "the sync never locked the buffer");
	w = (struct modifier){.b = b};
	tw = ht_unit_spawn(modifier_main, &w);
	ht_unit_join(tw);
	ht_unit_join(ts);
	HT_CHECK(s.error == 0, "sync: %d", s.error);
	HT_CHECK(mst(m).buffers_modified == 1,
	    "modified during the write: must stay modified");
	HT_CHECK(hl_io_fault_set(io, NULL) == 0, "disarm");
	HT_CHECK(hl_mount_sync(m, why, sizeof(why)) == 0, "sync 2: %s", why);
	HT_CHECK(mst(m).buffers_modified == 0 && iost(io).writes == 2,
	    "second sync writes it again");
	hl_rel_buffer(b);
	unmount_clean(m);
	chk = malloc(BUFSZ);
	HT_CHECK(chk != NULL && (fd = open(p0, O_RDONLY)) >= 0, "open");
	HT_CHECK(pread(fd, chk, BUFSZ, 9 * BUFSZ) == BUFSZ, "pread");
	HT_CHECK(
	    all_bytes(chk, 0x9A, BUFSZ), "the later modification is on disk");
	close(fd);
	free(chk);
	hl_io_destroy(io);
	passed("modified during write-back: stays modified, written next");
}

/* hl_del_buffers on a buffer whose write failed drops the error's ref. */
static void
test_del_ioerror(void)
{
	struct hl_io_fault_cfg cfg = {.fail_write_nth = 1};
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_mount_stats st;
	struct hl_buffer *b;
	char why[256];

	make_fs(1);
	m = mount_with(1, io, 0, false);
	b = get_ok(m, BOFF(0, 10), false);
	modify_fill(b, 0xAA);
	hl_rel_buffer(b);
	HT_CHECK(hl_io_fault_set(io, &cfg) == 0, "arm");
	HT_CHECK(hl_mount_sync(m, NULL, 0) == EIO, "failed write");
	HT_CHECK(hl_io_fault_set(io, NULL) == 0, "disarm");
	HT_UNIT_REFS(hl_buffer_lock(b), 1);
	HT_CHECK(hl_del_buffers(m, BOFF(0, 10), BUFSZ) == 0, "del");
	st = mst(m);
	HT_CHECK(st.buffers == 0 && st.buffers_ioerror == 0 &&
		     st.buffers_modified == 0 && st.pool_bytes == 0,
	    "after del: buffers %llu ioerror %llu modified %llu", U(st.buffers),
	    U(st.buffers_ioerror), U(st.buffers_modified));
	HT_CHECK(
	    hl_mount_sync(m, why, sizeof(why)) == 0 && iost(io).writes == 1,
	    "nothing left to write");
	unmount_clean(m);
	hl_io_destroy(io);
	passed("del of a failed-write buffer drops it and the error's ref");
}

/* sync_on_close writes modified buffers at unmount. */
static void
test_sync_on_close(void)
{
	struct hl_mount_opts mo = {.sync_on_close = true};
	struct hl_mount *m;
	struct hl_buffer *b;
	char why[256];

	make_fs(1);
	HT_CHECK(hl_mount_open(paths, 1, &mo, &m, why, sizeof(why)) == 0,
	    "mount: %s", why);
	b = get_ok(m, BOFF(0, 11), false);
	modify_fill(b, 0xBB);
	hl_rel_buffer(b);
	unmount_clean(m);
	m = mount_with(1, NULL, 0, false);
	b = get_ok(m, BOFF(0, 11), false);
	HT_CHECK(all_bytes(hl_buffer_data(b), 0xBB, BUFSZ),
	    "sync_on_close must write");
	hl_rel_buffer(b);
	unmount_clean(m);
	passed("sync_on_close writes at unmount");
}

/*
 * Regression (a bug this test found, since fixed in src/cache/buffer.c):
 * hl_del_buffers() rounded `base' down to its buffer and looped while
 * off < base + bytes, so a range covering only part of a buffer (freeing
 * one node, say) destroyed the whole buffer and dropped the modifications
 * of the rest of it.  cache.h: it destroys the cached buffers "inside"
 * [base, base + bytes); a buffer only partly inside must be left alone.
 */
static void
test_del_partial_range(void)
{
	struct hl_io *io = counting_io();
	struct hl_mount *m;
	struct hl_mount_stats st;
	struct hl_buffer *b;
	int error;

	make_fs(1);
	m = mount_with(1, io, 0, false);
	b = get_ok(m, BOFF(0, 12), false);
	modify_fill(b, 0xCC);
	hl_rel_buffer(b);
	/* Free the second 4 KiB of buffer 12 only. */
	error = hl_del_buffers(m, BOFF(0, 12) + 4096, 4096);
	st = mst(m);
	HT_CHECK(st.buffers == 1 && st.buffers_modified == 1 &&
		     st.buffers_resident == 1,
	    "a del of 4 KiB inside buffer 12 (returned %d) destroyed "
	    "the whole buffer: buffers %llu modified %llu resident %llu "
	    "(the modified bytes outside the freed range are lost)",
	    error, U(st.buffers), U(st.buffers_modified),
	    U(st.buffers_resident));
	unmount_clean(m);
	hl_io_destroy(io);
	passed("a partial del leaves the buffer alone");
}

/* Unmount with a leaked reference. */
static void
test_leak(void)
{
	struct hl_mount *m;
	struct hl_buffer *b;
	char why[512];
	int error;

	make_fs(1);
	m = mount_with(1, NULL, 0, false);
	b = get_ok(m, BOFF(0, 1), false);
	(void)b;
	error = hl_mount_close(m, why, sizeof(why));
	HT_CHECK(error == EBUSY, "leak must give EBUSY: %d", error);
	HT_CHECK(strstr(why, "buffer") && strstr(why, "0x2000000000004000") &&
		     strstr(why, "refs=0x00000001"),
	    "the report names the buffer, its offset and word: %s", why);
	passed("unmount reports a leaked buffer reference");
}

/* Remove the temporary files, also when a check fails (exit(1)). */
static void
cleanup(void)
{
	unlink(p0);
	unlink(p1);
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	uint64_t seed = ht_seed(argc, argv);

	strcpy(dir, "/tmp/hl-buffer-XXXXXX");
	HT_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	atexit(cleanup);
	snprintf(p0, sizeof(p0), "%s/v0", dir);
	snprintf(p1, sizeof(p1), "%s/v1", dir);
	ht_watchdog_start(60, NULL);

	test_load_keep_hit();
	test_isnew_and_rounding();
	test_bad_requests();
	test_pool_reclaim();
	test_all_pinned();
	test_modified_written_before_reclaim();
	test_del_buffers();
	test_late_collision(seed);
	test_read_error();
	test_readonly();
	test_sync_and_write_error();
	test_ioerror_at_unmount();
	test_alloc_failure();
	test_failed_load_waiter_retries();
	test_fdatasync_error();
	test_modified_during_writeback();
	test_del_ioerror();
	test_sync_on_close();
	test_leak();
	test_del_partial_range();

	ht_watchdog_stop();
	ht_pass("unit_buffer", npassed);
	return 0;
}
